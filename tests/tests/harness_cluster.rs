//! ProcessCluster on loopback with the `fake-node` stand-in binary.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use common::{is_dead, wait_until};
use raft_tests::process::ProcessState;
use raft_tests::{ClusterConfig, HarnessError, ProcessCluster, RunDir};

fn config(nodes: usize) -> ClusterConfig {
    let mut c = ClusterConfig::new(nodes);
    c.binary = Some(PathBuf::from(env!("CARGO_BIN_EXE_fake-node")));
    c.ready_timeout = Duration::from_secs(10);
    c
}

#[test]
fn cluster_starts_every_node_with_its_id_peers_and_data_dir() {
    let run = RunDir::create("cluster_starts").unwrap();
    let mut cluster = ProcessCluster::start(&config(3), &run).unwrap();
    assert_eq!(cluster.node_ids(), vec![1, 2, 3]);
    assert_eq!(cluster.endpoints().len(), 3);
    let peers = (1..=3).map(|id| format!("{id}={}", cluster.addr(id).unwrap())).collect::<Vec<_>>().join(",");
    for id in 1..=3 {
        assert!(cluster.probe(cluster.addr(id).unwrap()).unwrap());
        let log = cluster.process(id).unwrap().log_tail(5);
        assert!(log.contains(&format!("--id\", \"{id}\"")), "{log}");
        assert!(wait_until(Duration::from_secs(5), || cluster.process(id).unwrap().log_tail(5).contains(&peers)));
        assert!(run.node_data(id).is_dir());
    }
}

#[test]
fn killed_node_stops_answering_and_comes_back_on_start() {
    let run = RunDir::create("cluster_kill").unwrap();
    let mut cluster = ProcessCluster::start(&config(3), &run).unwrap();
    let addr = cluster.addr(2).unwrap();
    cluster.kill(2).unwrap();
    assert_eq!(cluster.state(2).unwrap(), ProcessState::Stopped);
    assert!(!cluster.probe(addr).unwrap());
    cluster.start_node(2).unwrap();
    assert!(cluster.probe(addr).unwrap());
    cluster.restart(2).unwrap();
    assert_eq!(cluster.process(2).unwrap().starts(), 3);
    cluster.check_no_crashes().unwrap();
}

#[test]
fn pause_and_resume_change_the_node_state() {
    let run = RunDir::create("cluster_pause").unwrap();
    let mut cluster = ProcessCluster::start(&config(1), &run).unwrap();
    cluster.pause(1).unwrap();
    assert_eq!(cluster.state(1).unwrap(), ProcessState::Paused);
    cluster.resume(1).unwrap();
    assert_eq!(cluster.state(1).unwrap(), ProcessState::Running);
}

#[test]
fn node_that_exits_at_start_fails_with_its_log_tail() {
    let run = RunDir::create("cluster_fail").unwrap();
    let mut cfg = config(2);
    cfg.extra_args = vec!["--fail".into()];
    let err = ProcessCluster::start(&cfg, &run).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, HarnessError::NodeExited { id: 1, .. }), "{msg}");
    assert!(msg.contains("boom"), "{msg}");
}

#[test]
fn dropping_the_cluster_kills_every_node() {
    let run = RunDir::create("cluster_drop").unwrap();
    let mut cluster = ProcessCluster::start(&config(3), &run).unwrap();
    let pids: Vec<u32> = (1..=3).map(|id| cluster.process(id).unwrap().pid().unwrap()).collect();
    drop(cluster);
    assert!(pids.iter().all(|&p| is_dead(p)));
}

#[test]
fn cluster_size_is_bounded() {
    let run = RunDir::create("cluster_size").unwrap();
    assert!(matches!(ProcessCluster::start(&config(0), &run), Err(HarnessError::ClusterSize(0))));
    assert!(matches!(ProcessCluster::start(&config(10), &run), Err(HarnessError::ClusterSize(10))));
}

#[test]
fn network_faults_on_a_loopback_cluster_are_a_clear_error() {
    let run = RunDir::create("cluster_nonet").unwrap();
    let mut cluster = ProcessCluster::start(&config(1), &run).unwrap();
    assert!(matches!(cluster.netns_mut(), Err(HarnessError::NoNamespaces)));
}

#[test]
fn a_panic_in_a_node_log_fails_the_crash_check() {
    let run = RunDir::create("harness_panic_log").unwrap();
    let mut cluster = ProcessCluster::start(&config(2), &run).unwrap();
    cluster.check_no_crashes().unwrap();
    let log = cluster.log_path(2).unwrap().to_path_buf();
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(f, "thread 'tokio-runtime-worker' panicked at raft-core/src/log.rs:10:5:").unwrap();
    let err = cluster.check_no_crashes().unwrap_err().to_string();
    assert!(err.contains("node 2 failed on its own") && err.contains("panicked at"), "{err}");
}
