//! Client commands against three real `raft-cli node` processes.

mod common;

use std::time::Duration;

use common::{run, text, wait_for, Nodes};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn client_commands_work_against_a_three_node_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = Nodes::start(3, 17111, dir.path());
    let ep = nodes.endpoints.clone();
    let with = |args: &[&str]| {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--endpoints", &ep, "--timeout", "10s"]);
        run(&full)
    };
    wait_for("a leader", Duration::from_secs(60), || {
        let out = with(&["status", "--output", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["nodes"].as_array()?.iter().any(|n| n["role"] == "leader").then_some(())
    });

    let out = with(&["put", "greeting", "hello"]);
    assert_eq!(out.status.code(), Some(0), "put: {}", text(&out.stderr));
    let out = with(&["get", "greeting"]);
    assert_eq!((out.status.code(), text(&out.stdout).trim()), (Some(0), "hello"));
    let v = json(&with(&["get", "greeting", "--output", "json"]));
    assert_eq!((v["found"].clone(), v["value"].clone()), (Value::Bool(true), Value::from("hello")));

    let out = with(&["cas", "greeting", "--expect", "nope", "bye"]);
    assert_eq!(out.status.code(), Some(1), "CAS mismatch is a negative answer: {}", text(&out.stderr));
    let out = with(&["cas", "greeting", "--expect", "hello", "bye", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["succeeded"], true);
    assert_eq!(with(&["cas", "fresh", "--expect-absent", "1"]).status.code(), Some(0));

    for (k, v) in [("scan/a", "1"), ("scan/b", "2"), ("scan/c", "3")] {
        assert_eq!(with(&["put", k, v]).status.code(), Some(0));
    }
    let out = with(&["scan", "scan/", "--limit", "2", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let keys: Vec<&str> = v["pairs"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!((keys, v["more"].clone()), (vec!["scan/a", "scan/b"], Value::Bool(true)));

    assert_eq!(with(&["delete", "greeting"]).status.code(), Some(0));
    let out = with(&["get", "greeting"]);
    assert_eq!(out.status.code(), Some(1), "absent key: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not found"));
    assert_eq!(with(&["delete", "greeting"]).status.code(), Some(1), "deleting an absent key");
    let out = with(&["get", "scan/a", "--stale"]);
    assert_eq!((out.status.code(), text(&out.stdout).trim()), (Some(0), "1"));
}

/// SIGTERM stops a node gracefully (exit 0, the log says so) and a node
/// restarted on the same data dir still has every acknowledged write.
#[test]
fn sigterm_stops_a_node_cleanly_and_a_restart_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Nodes::start(1, 17131, dir.path());
    let ep = nodes.endpoints.clone();
    let put = || run(&["put", "durable", "yes", "--endpoints", &ep, "--timeout", "2s"]);
    wait_for("the write to be acknowledged", Duration::from_secs(60), || put().status.success().then_some(()));

    let mut child = nodes.children.pop().unwrap();
    // SAFETY: signalling a child process we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_for("the node to exit after SIGTERM", Duration::from_secs(30), || child.try_wait().unwrap());
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    let log = std::fs::read_to_string(dir.path().join("node-1.log")).unwrap();
    assert!(log.contains("shutting down gracefully") && log.contains("SIGTERM"), "{log}");

    let _restarted = Nodes::start(1, 17131, dir.path());
    let get = || run(&["get", "durable", "--endpoints", &ep, "--timeout", "2s"]);
    let out = wait_for("a linearizable read after the restart", Duration::from_secs(60), || {
        let out = get();
        out.status.success().then_some(out)
    });
    assert_eq!(text(&out.stdout).trim(), "yes");
}
