//! Issue #18 (CLI conventions) against three real `raft-cli node`
//! processes: binary-safe values, JSON header, CAS `previous`, scan ranges,
//! status and transfer-leader. See: issue #18.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{run, text, wait_for, Nodes};
use serde_json::Value;

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// `raft-cli args...` with `stdin` piped in.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(common::bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn leader_id(ep: &str) -> u64 {
    wait_for("a leader", Duration::from_secs(60), || {
        let out = run(&["--endpoints", ep, "-w", "json", "status"]);
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["nodes"].as_array()?.iter().find(|n| n["role"] == "leader").and_then(|n| n["id"].as_u64())
    })
}

#[test]
fn r18_client_conventions_against_a_three_node_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = Nodes::start(3, 17161, dir.path());
    let ep = nodes.endpoints.clone();
    let leader = leader_id(&ep);
    // Connection flags before the command.
    let c = |args: &[&str]| {
        let mut full = vec!["--endpoints", &ep, "--timeout", "10s"];
        full.extend(args);
        run(&full)
    };
    let ok = |out: &Output| assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Binary-safe values: hex in, raw bytes / hex / base64 out; stdin.
    ok(&c(&["--hex", "put", "bin", "00ff0a"]));
    assert_eq!(c(&["get", "bin"]).stdout, b"\x00\xff\x0a\n", "raw bytes, then a newline");
    assert_eq!(text(&c(&["get", "bin", "--hex"]).stdout), "00ff0a\n");
    assert_eq!(text(&c(&["get", "bin", "--value-encoding", "base64"]).stdout), "AP8K\n");
    let full = ["--endpoints", &ep, "put", "piped", "-"];
    ok(&run_with_stdin(&full, b"\x01\x02\x03"));
    assert_eq!(text(&c(&["get", "piped", "--value-encoding", "base64"]).stdout), "AQID\n");
    let out = c(&["put", "x", "zz", "--hex"]);
    assert_eq!(out.status.code(), Some(2), "bad hex is invalid input: {}", text(&out.stderr));

    // JSON: ok, header, and CAS previous is the value before the swap.
    let out = c(&["put", "greeting", "hello", "-w", "json"]);
    ok(&out);
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v}");
    let h = &v["header"];
    assert!(ep.split(',').any(|e| h["endpoint"] == e), "the serving node is one of the endpoints: {v}");
    assert_eq!(h["member_id"], leader, "writes are served by the leader: {v}");
    assert!(h["raft_term"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(h["raft_index"], v["index"], "{v}");
    let v = json(&c(&["cas", "greeting", "--expect", "hello", "bye", "-w", "json"]));
    assert_eq!((v["ok"].clone(), v["previous"].clone()), (Value::Bool(true), Value::from("hello")), "{v}");
    let v = json(&c(&["cas", "fresh", "--expect-absent", "1", "-w", "json"]));
    assert_eq!((v["ok"].clone(), v["previous"].clone()), (Value::Bool(true), Value::Null), "{v}");
    let out = c(&["cas", "greeting", "--expect", "hello", "again", "-w", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!((json(&out)["ok"].clone(), json(&out)["previous"].clone()), (Value::Bool(false), "bye".into()));
    let v = json(&c(&["get", "greeting", "-w", "json"]));
    assert_eq!((v["ok"].clone(), v["value"].clone()), (Value::Bool(true), "bye".into()), "{v}");

    // Scan: ranges, --stale, and the "more keys" note on stderr only.
    for k in ["s/a", "s/b", "s/c", "s/d"] {
        ok(&c(&["put", k, "1"]));
    }
    let v = json(&c(&["scan", "--from", "s/b", "--to", "s/d", "-w", "json"]));
    let keys: Vec<&str> = v["pairs"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["s/b", "s/c"], "[from, to): {v}");
    let out = c(&["scan", "s/", "--limit", "2"]);
    ok(&out);
    assert_eq!(text(&out.stdout), "s/a\t1\ns/b\t1\n", "stdout holds only pairs");
    assert!(text(&out.stderr).contains("more keys match"), "{}", text(&out.stderr));
    let out = run(&["scan", "s/", "--stale", "--endpoints", ep.split(',').next().unwrap()]);
    ok(&out);
    assert_eq!(text(&out.stdout).lines().count(), 4);

    // Status: every member from one endpoint; exit 3 if one is unreachable.
    let first = ep.split(',').next().unwrap().to_owned();
    let out = run(&["status", "--cluster", "--endpoints", &first, "-w", "json"]);
    ok(&out);
    assert_eq!(json(&out)["nodes"].as_array().unwrap().len(), 3, "{}", text(&out.stdout));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let out = run(&["status", "--endpoints", &format!("{first},{closed}")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("unreachable"), "the table still shows both: {}", text(&out.stdout));
    assert!(text(&out.stderr).contains(&closed), "{}", text(&out.stderr));

    // transfer-leader waits until the new leader leads.
    let target = leader % 3 + 1;
    let out = c(&["transfer-leader", "--to", &target.to_string(), "-w", "json"]);
    ok(&out);
    let v = json(&out);
    assert_eq!((v["ok"].clone(), v["completed"].clone()), (Value::Bool(true), Value::Bool(true)), "{v}");
    let out = c(&["-w", "json", "status"]);
    let nodes = json(&out)["nodes"].as_array().unwrap().clone();
    let now = nodes.iter().find(|n| n["id"] == target).unwrap();
    assert_eq!(now["role"], "leader", "when transfer-leader returned, node {target} led: {nodes:?}");
}

#[test]
fn r18_transfer_leader_to_a_stopped_node_gives_up_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Nodes::start(3, 17171, dir.path());
    let ep = nodes.endpoints.clone();
    let leader = leader_id(&ep);
    let target = leader % 3 + 1;
    let mut victim = nodes.children.remove(target as usize - 1);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let out = run(&["--endpoints", &ep, "--timeout", "2s", "transfer-leader", "--to", &target.to_string()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("transfer to node {target} did not complete within 2.0s")), "{err}");
}
