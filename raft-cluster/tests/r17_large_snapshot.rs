//! Issue #17, point 4: snapshotting and sending a large state does not stall
//! the node loop long enough to cost an election.
//!
//! A 3-node cluster (gRPC, RocksDB) loads `SNAPSHOT_TEST_MB` of values
//! (default 200 MB in release, 24 MB in debug builds so CI stays fast; set
//! the variable to override) with one follower down, so that the leader
//! snapshots its whole state, compacts its log and then has to send the
//! snapshot to the restarted follower. From just before the snapshot until
//! the follower has caught up, no node may start an election, change term
//! or lose its leader, while heartbeats keep the followers quiet. The
//! longest node-loop turn of each node is printed (`--nocapture`).

use std::time::Duration;

use raft_cluster::{ClusterOptions, EventKind, KvSession, LocalCluster, NodeEvent, StoreKind, TransportKind};
use raft_core::{LogIndex, NodeId};
use raft_statemachine::KvStore;
use tokio::sync::broadcast;

const VALUE_BYTES: usize = 256 << 10;
const DEADLINE: Duration = Duration::from_secs(60);

fn megabytes() -> usize {
    let default = if cfg!(debug_assertions) { 48 } else { 200 };
    std::env::var("SNAPSHOT_TEST_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn put(c: &LocalCluster<KvStore>, s: &KvSession, i: usize) -> LogIndex {
    let value = vec![(i % 251) as u8; VALUE_BYTES];
    let data = s.put(format!("key{i:06}").into_bytes(), value).encode().unwrap();
    match c.propose_indexed(data, DEADLINE).await {
        Ok((_, index, _)) => index,
        Err(e) => {
            let stalls: Vec<_> = c.running().iter().map(|id| (*id, c.status(*id).unwrap().longest_stall)).collect();
            panic!("write {i} failed: {e}; longest loop turns {stalls:?}; {}", c.describe())
        }
    }
}

/// Events that mean an election happened or leadership was in doubt. For
/// the restarted node (`restarted`), catching up with the current term and
/// pre-votes (it may time out before the leader's link to it has
/// reconnected, and a pre-vote changes no term) are expected; its final
/// term and leader are checked instead.
fn elections(rx: &mut broadcast::Receiver<NodeEvent>, restarted: bool) -> Vec<NodeEvent> {
    std::iter::from_fn(|| loop {
        match rx.try_recv() {
            Ok(ev) => return Some(ev),
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return None,
        }
    })
    .filter(|ev| match ev.kind {
        EventKind::ElectionStarted { pre_vote, .. } => !(restarted && pre_vote),
        EventKind::TermChanged { .. } => !restarted,
        EventKind::LeaderElected { .. } | EventKind::LostQuorum => true,
        _ => false,
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r17_a_large_state_snapshots_and_ships_without_an_election() {
    let entries = megabytes() * (1 << 20) / VALUE_BYTES;
    let opts = ClusterOptions {
        nodes: 3,
        transport: TransportKind::Grpc,
        store: StoreKind::Disk,
        snapshot_threshold: entries as u64,
        // 300-600 ms: a loaded 2-core CI machine misses the default 150 ms
        // now and then on its own; a snapshot taken on the node loop (about
        // 0.6 s for 48 MB in debug) still costs an election.
        election_ticks: 30,
        heartbeat_ticks: 5,
        ..ClusterOptions::default()
    };
    let mut c = LocalCluster::start_kv(opts).await.expect("cluster starts");
    let s = KvSession::new(4);
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let ids = c.ids();
    let lagging = ids.iter().copied().find(|id| *id != leader).unwrap();
    c.kill(lagging).await.unwrap();
    for i in 0..entries.saturating_sub(4) {
        put(&c, &s, i).await;
    }
    // Elections while loading are not what this test is about.
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let other = ids.iter().copied().find(|id| *id != leader && *id != lagging).unwrap();
    let term = c.status(leader).unwrap().term;
    assert_eq!(c.status(leader).unwrap().snapshot_index, LogIndex(0), "no snapshot before the window");
    let mut watch: Vec<(NodeId, broadcast::Receiver<NodeEvent>)> =
        [leader, other].iter().map(|id| (*id, c.subscribe(*id).unwrap())).collect();

    let started = std::time::Instant::now();
    let mut last = LogIndex(0);
    for i in entries.saturating_sub(4)..entries + 4 {
        last = put(&c, &s, i).await;
    }
    let leader_client = c.client(leader).unwrap();
    leader_client.wait_for("the leader's snapshot", DEADLINE, |st| st.snapshot_index.0 > 0).await.unwrap();
    let snapshotted = started.elapsed();
    c.restart(lagging).await.unwrap();
    watch.push((lagging, c.subscribe(lagging).unwrap()));
    c.wait_for_applied_on(&[lagging], last, DEADLINE).await.unwrap();
    let caught_up = started.elapsed();
    let after = put(&c, &s, entries + 10).await;
    c.wait_for_applied(after, DEADLINE).await.unwrap();

    let lagging_status = c.status(lagging).unwrap();
    assert!(lagging_status.snapshot_index.0 > 0, "caught up through the snapshot: {lagging_status:?}");
    for (id, rx) in &mut watch {
        let seen = elections(rx, *id == lagging);
        assert!(seen.is_empty(), "node {id} saw an election during the snapshot: {seen:?}");
        let st = c.status(*id).unwrap();
        assert_eq!((st.term, st.leader), (term, Some(leader)), "node {id}");
    }
    for id in &ids {
        let st = c.status(*id).unwrap();
        eprintln!("r17: {} MB: node {id} ({}) longest loop turn {:?}", megabytes(), st.role, st.longest_stall);
    }
    eprintln!("r17: snapshot taken after {snapshotted:?}, follower caught up after {caught_up:?}");
    c.shutdown().await.unwrap();
}
