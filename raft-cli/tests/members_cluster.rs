//! `raft-cli members` against three real `raft-cli node` processes:
//! removing the leader moves leadership first (thesis §3.10), the CLI
//! follows it to the new leader, and the cluster keeps taking writes.

mod common;

use std::time::Duration;

use common::{run, text, wait_for, Nodes};
use serde_json::Value;

#[test]
fn removing_the_leader_through_the_cli_moves_leadership_and_writes_continue() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = Nodes::start(3, 17211, dir.path());
    let ep = nodes.endpoints.clone();
    let with = |args: &[&str]| {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--endpoints", &ep, "--timeout", "10s"]);
        run(&full)
    };
    let list = |out: std::process::Output| -> Option<Value> {
        (out.status.code() == Some(0)).then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
    };
    let before = wait_for("a leader's view of the members", Duration::from_secs(60), || {
        let v = list(with(&["members", "list", "-w", "json"]))?;
        (v["leader"] == v["node"] && v["config_committed"] == true).then_some(v)
    });
    assert_eq!(before["members"].as_array().unwrap().len(), 3, "{before}");
    assert!(before["members"].as_array().unwrap().iter().all(|m| m["role"] == "voter" && m["lag"].is_u64()));
    let leader = before["leader"].as_u64().unwrap();
    assert_eq!(with(&["put", "before", "1"]).status.code(), Some(0));

    let out = with(&["members", "remove", &leader.to_string(), "-w", "json"]);
    assert_eq!(out.status.code(), Some(0), "remove the leader: {}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["voters"].as_array().unwrap().len(), 2, "{v}");
    assert!(!v["voters"].as_array().unwrap().contains(&Value::from(leader)), "{v}");

    let after = wait_for("a new leader", Duration::from_secs(30), || {
        let v = list(with(&["members", "list", "-w", "json"]))?;
        (v["leader"] == v["node"] && v["leader"] != leader).then_some(v)
    });
    assert_eq!(after["members"].as_array().unwrap().len(), 2, "{after}");
    let out = with(&["put", "after", "2"]);
    assert_eq!(out.status.code(), Some(0), "writes continue: {}", text(&out.stderr));
    let out = with(&["get", "before"]);
    assert_eq!((out.status.code(), text(&out.stdout).trim()), (Some(0), "1"));
}
