//! Exit codes and messages of the real binary for bad input and an
//! unreachable cluster (no cluster needed).

mod common;

use std::net::TcpListener;
use std::process::Output;

/// Runs the real binary with no `RAFT_*` variables leaking in.
fn raft_cli(args: &[&str]) -> Output {
    common::run(args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    let cases: [&[&str]; 9] = [
        &["put", "k"],
        &["frobnicate"],
        &["demo", "--duration", "soon"],
        &["cas", "k", "new"],
        &["bench", "--read-ratio", "2"],
        &["demo", "--nodes", "0"],
        &["bench", "--target", "zookeeper"],
        &["bench", "--target", "etcd", "--local", "3"],
        &["bench", "--target", "etcd", "--stale-reads", "--endpoints", "127.0.0.1:1"],
    ];
    for args in cases {
        let out = raft_cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error"), "{args:?} explains itself: {}", stderr(&out));
    }
}

#[test]
fn invalid_node_configuration_exits_2_naming_the_problem() {
    let out = raft_cli(&["node", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1", "--in-memory"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--id"), "{}", stderr(&out));
}

/// Issue #14: an empty data directory of an existing cluster is never
/// bootstrapped; the node exits 4 and says how to rejoin.
#[test]
fn an_empty_data_dir_with_initial_cluster_state_existing_exits_4_pointing_to_join() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", closed_port());
    let data = dir.path().join("node-1");
    let peers = format!("1={addr}");
    let args = ["node", "--id", "1", "--listen", &addr, "--peers", &peers, "--initial-cluster-state", "existing"];
    let out = raft_cli(&[&args[..], &["--data-dir", data.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("--join") && text.contains("raft-cli members add-learner 1"), "{text}");
}

#[test]
fn help_lists_the_exit_codes_and_succeeds() {
    let out = raft_cli(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit codes:") && text.contains("demo"), "{text}");
    let out = raft_cli(&["demo", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("cuts the leader off from the others"));
}

#[test]
fn unreachable_endpoints_exit_3_with_the_documented_message() {
    let endpoint = format!("127.0.0.1:{}", closed_port());
    let etcd_bench = vec!["bench", "--target", "etcd", "--duration", "1s"];
    for args in [vec!["get", "k"], vec!["put", "k", "v"], vec!["status"], etcd_bench] {
        let mut full = args.clone();
        full.extend(["--endpoints", &endpoint, "--timeout", "1s"]);
        let out = raft_cli(&full);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{full:?}: {err}");
        assert!(err.contains(&endpoint), "{full:?} names the endpoints: {err}");
        assert!(err.contains("is a majority of nodes running?"), "{full:?} says what to do: {err}");
    }
}

#[test]
fn unreachable_endpoints_with_json_output_print_a_json_error() {
    let endpoint = format!("127.0.0.1:{}", closed_port());
    let out = raft_cli(&["get", "k", "--endpoints", &endpoint, "--timeout", "1s", "--output", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], 3);
    assert!(v["error"].as_str().unwrap().contains(&endpoint));
}
