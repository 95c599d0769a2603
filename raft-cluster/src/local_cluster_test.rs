//! The runtime end to end over the in-process transport and memory stores.
//! (The same scenarios over gRPC and RocksDB live in `tests/`.)

use std::sync::Arc;
use std::time::Duration;

use raft_core::{LogIndex, NodeId};

use super::*;
use crate::event::EventKind;
use crate::runtime::ReadMode;
use crate::test_support::TestKv;

const DEADLINE: Duration = Duration::from_secs(10);

async fn cluster(nodes: usize, tweak: impl FnOnce(&mut ClusterOptions)) -> LocalCluster<TestKv> {
    let mut opts = ClusterOptions { nodes, ..ClusterOptions::default() };
    tweak(&mut opts);
    LocalCluster::start(opts, Arc::new(|_| TestKv::default())).await.expect("cluster starts")
}

async fn put(c: &LocalCluster<TestKv>, k: &str, v: &str) -> u64 {
    c.propose(format!("{k}={v}").into_bytes(), DEADLINE).await.expect("write succeeds").1
}

async fn stale_get(c: &LocalCluster<TestKv>, id: NodeId, k: &str) -> Option<String> {
    c.client(id).unwrap().read(k.to_string(), ReadMode::Stale).await.unwrap()
}

async fn replicates_on(nodes: usize) {
    let c = cluster(nodes, |_| {}).await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let mut last = 0;
    for i in 0..20 {
        last = put(&c, &format!("k{i}"), &format!("v{i}")).await;
    }
    c.wait_for_applied(LogIndex(last), DEADLINE).await.unwrap();
    for id in c.ids() {
        assert_eq!(stale_get(&c, id, "k19").await.as_deref(), Some("v19"), "node {id}");
    }
    let read = c.client(leader).unwrap().read("k7".into(), ReadMode::Linearizable).await.unwrap();
    assert_eq!(read.as_deref(), Some("v7"));
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn three_nodes_elect_a_leader_and_replicate() {
    replicates_on(3).await;
}

#[tokio::test]
async fn five_nodes_elect_a_leader_and_replicate() {
    replicates_on(5).await;
}

#[tokio::test]
async fn a_follower_answers_not_leader_with_the_leaders_address() {
    let c = cluster(3, |_| {}).await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    put(&c, "a", "1").await; // every follower has now heard from the leader
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    c.client(follower).unwrap().wait_for("leader known", DEADLINE, |s| s.leader == Some(leader)).await.unwrap();
    let err = c.client(follower).unwrap().propose(b"x=1".to_vec()).await.unwrap_err();
    let addr = c.config(leader).unwrap().listen_addr.clone();
    assert_eq!(err, ClientError::NotLeader { leader: Some(leader), leader_addr: Some(addr) });
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn leader_election_is_reported_on_the_event_stream() {
    let c = cluster(3, |_| {}).await;
    let mut streams: Vec<_> = c.ids().into_iter().map(|id| c.subscribe(id).unwrap()).collect();
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let term = c.status(leader).unwrap().term;
    let stream = &mut streams[(leader.0 - 1) as usize];
    let elected = tokio::time::timeout(DEADLINE, async {
        loop {
            let ev = stream.recv().await.unwrap();
            if let EventKind::LeaderElected { votes } = ev.kind {
                return (ev.term, votes);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(elected.0, term);
    assert!(elected.1.len() >= 2 && elected.1.contains(&leader), "votes {:?}", elected.1);
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_killed_leader_is_replaced_and_writes_continue() {
    let mut c = cluster(3, |_| {}).await;
    let old = c.wait_for_leader(DEADLINE).await.unwrap();
    put(&c, "before", "1").await;
    c.kill(old).await.unwrap();
    let new = c.wait_for_leader(DEADLINE).await.unwrap();
    assert_ne!(new, old);
    let index = put(&c, "after", "2").await;
    c.wait_for_applied(LogIndex(index), DEADLINE).await.unwrap();
    for id in c.running() {
        assert_eq!(stale_get(&c, id, "before").await.as_deref(), Some("1"));
        assert_eq!(stale_get(&c, id, "after").await.as_deref(), Some("2"));
    }
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restarted_follower_catches_up() {
    let mut c = cluster(3, |_| {}).await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    put(&c, "a", "1").await;
    c.stop(follower).await.unwrap();
    let mut last = 0;
    for i in 0..30 {
        last = put(&c, &format!("k{i}"), "x").await;
    }
    c.restart(follower).await.unwrap();
    c.wait_for_applied_on(&[follower], LogIndex(last), DEADLINE).await.unwrap();
    assert_eq!(stale_get(&c, follower, "k29").await.as_deref(), Some("x"));
    assert_eq!(stale_get(&c, follower, "a").await.as_deref(), Some("1"));
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_follower_behind_the_compaction_point_catches_up_by_snapshot() {
    let mut c = cluster(3, |o| o.snapshot_threshold = 10).await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    put(&c, "first", "1").await;
    c.kill(follower).await.unwrap();
    let mut last = 0;
    for i in 0..60 {
        last = put(&c, &format!("k{i}"), &i.to_string()).await;
    }
    let leader_client = c.client(leader).unwrap();
    leader_client.wait_for("log compacted", DEADLINE, |s| s.snapshot_index.0 > 2).await.unwrap();
    c.restart(follower).await.unwrap();
    let mut events = c.subscribe(follower).unwrap();
    c.wait_for_applied_on(&[follower], LogIndex(last), DEADLINE).await.unwrap();
    let installed =
        std::iter::from_fn(|| events.try_recv().ok()).any(|e| matches!(e.kind, EventKind::SnapshotInstalled { .. }));
    assert!(installed, "follower must have caught up through InstallSnapshot");
    assert_eq!(stale_get(&c, follower, "first").await.as_deref(), Some("1"));
    assert_eq!(stale_get(&c, follower, "k59").await.as_deref(), Some("59"));
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_partitioned_minority_leader_cannot_commit() {
    let c = cluster(3, |o| o.limits.request_timeout_ms = 2_000).await;
    let old = c.wait_for_leader(DEADLINE).await.unwrap();
    put(&c, "k", "before").await;
    c.isolate(old);
    let write = c.client(old).unwrap().propose(b"k=minority".to_vec()).await;
    assert!(write.is_err(), "a minority leader must not acknowledge a write: {write:?}");
    let majority: Vec<NodeId> = c.ids().into_iter().filter(|id| *id != old).collect();
    let new = c.wait_for_leader_among(&majority, DEADLINE).await.unwrap();
    let index = c.client(new).unwrap().propose(b"k=majority".to_vec()).await.unwrap();
    c.heal();
    c.wait_for_applied(LogIndex(index), DEADLINE).await.unwrap();
    for id in c.ids() {
        assert_eq!(stale_get(&c, id, "k").await.as_deref(), Some("majority"), "node {id}");
    }
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn linearizable_reads_are_never_stale_across_a_leader_change() {
    let c = cluster(3, |o| o.limits.request_timeout_ms = 2_000).await;
    let old = c.wait_for_leader(DEADLINE).await.unwrap();
    put(&c, "k", "v1").await;
    c.isolate(old);
    let majority: Vec<NodeId> = c.ids().into_iter().filter(|id| *id != old).collect();
    let new = c.wait_for_leader_among(&majority, DEADLINE).await.unwrap();
    c.client(new).unwrap().propose(b"k=v2".to_vec()).await.unwrap();
    // The deposed leader may still believe it leads; its ReadIndex round
    // cannot reach a quorum, so it must fail rather than answer v1.
    let stale = c.client(old).unwrap().read("k".into(), ReadMode::Linearizable).await;
    assert!(stale.is_err(), "deposed leader answered a linearizable read: {stale:?}");
    let fresh = c.client(new).unwrap().read("k".into(), ReadMode::Linearizable).await.unwrap();
    assert_eq!(fresh.as_deref(), Some("v2"));
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_acknowledged_write_survives_a_full_cluster_restart() {
    let mut c = cluster(3, |o| o.snapshot_threshold = 25).await;
    c.wait_for_leader(DEADLINE).await.unwrap();
    let mut acked = Vec::new();
    for i in 0..60 {
        put(&c, &format!("k{i}"), &i.to_string()).await;
        acked.push(i);
    }
    for id in c.ids() {
        c.kill(id).await.unwrap();
    }
    for id in c.ids() {
        c.restart(id).await.unwrap();
    }
    c.wait_for_leader(DEADLINE).await.unwrap();
    let last = put(&c, "after-restart", "1").await;
    c.wait_for_applied(LogIndex(last), DEADLINE).await.unwrap();
    for id in c.ids() {
        for i in &acked {
            assert_eq!(stale_get(&c, id, &format!("k{i}")).await, Some(i.to_string()), "node {id} key k{i}");
        }
    }
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_writes_share_appends() {
    let c = cluster(3, |_| {}).await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let client = c.client(leader).unwrap();
    let before = c.status(leader).unwrap().last_index;
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.propose(format!("c{i}=v").into_bytes()).await })
        })
        .collect();
    let mut indexes = Vec::new();
    for w in writes {
        indexes.push(w.await.unwrap().unwrap());
    }
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 200, "each write gets its own entry");
    assert_eq!(LogIndex(*indexes.last().unwrap()), LogIndex(before.0 + 200));
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_fails_requests_clearly_and_stops_the_node() {
    let mut c = cluster(1, |_| {}).await;
    let id = c.wait_for_leader(DEADLINE).await.unwrap();
    let client = c.client(id).unwrap();
    put(&c, "a", "1").await;
    c.stop(id).await.unwrap();
    assert_eq!(client.propose(b"b=2".to_vec()).await, Err(ClientError::ShuttingDown));
    assert!(!client.status().running);
}
