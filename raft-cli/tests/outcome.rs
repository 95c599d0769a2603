//! Issue #17 point 2 end to end: a `raft-cli put` whose leader is stopped
//! (SIGTERM) after appending and sending the write, but before a majority
//! has it, exits 3 and says the write may or may not have been applied.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bin, run, text, wait_for, Nodes};
use raft_core::NodeId;
use raft_rpc::{AdminClient, ClientConfig};
use serde_json::Value;

/// `(id, endpoint, commit, last_index)` of every node that answers.
fn statuses(endpoints: &str) -> Vec<(u64, String, u64, u64, String)> {
    let out = run(&["status", "--endpoints", endpoints, "--output", "json", "--timeout", "2s"]);
    let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) else { return Vec::new() };
    let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
    nodes
        .iter()
        .filter_map(|n| {
            let role = n["role"].as_str()?.to_string();
            Some((
                n["id"].as_u64()?,
                n["endpoint"].as_str()?.to_string(),
                n["commit"].as_u64()?,
                n["last_index"].as_u64()?,
                role,
            ))
        })
        .collect()
}

/// Cuts `leader` off from the others, both ways, through Admin SetPartition.
fn isolate(all: &[(u64, String)], leader: u64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        for (id, endpoint) in all {
            let blocked: Vec<NodeId> = if *id == leader {
                all.iter().filter(|(o, _)| *o != leader).map(|(o, _)| NodeId(*o)).collect()
            } else {
                vec![NodeId(leader)]
            };
            let admin = AdminClient::connect(endpoint, ClientConfig::new("default")).await.unwrap();
            admin.set_partition(&blocked).await.unwrap();
        }
    });
}

#[test]
fn a_put_whose_leader_stops_mid_replication_exits_3_saying_the_outcome_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Nodes::start_with(3, 17171, dir.path(), &["--enable-fault-injection"]);
    let ep = nodes.endpoints.clone();
    let (leader, leader_ep) = wait_for("a leader", Duration::from_secs(60), || {
        statuses(&ep).into_iter().find(|s| s.4 == "leader").map(|s| (s.0, s.1))
    });
    let all: Vec<(u64, String)> = statuses(&ep).into_iter().map(|s| (s.0, s.1)).collect();
    assert_eq!(all.len(), 3);
    let before = statuses(&leader_ep)[0].3;
    isolate(&all, leader);

    let put = Command::new(bin())
        .args(["put", "cut", "off", "--endpoints", &leader_ep, "--timeout", "4s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the write appended on the leader", Duration::from_secs(20), || {
        statuses(&leader_ep).first().and_then(|s| (s.3 > before && s.2 < s.3).then_some(()))
    });
    let child = &mut nodes.children[(leader - 1) as usize];
    // SAFETY: signalling a child process we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);

    let out = put.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("may or may not have been applied"), "{stderr}");
}
