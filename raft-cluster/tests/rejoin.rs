//! Issue #14: a node whose data directory was wiped and that restarts with
//! the same id must not vote or count toward a quorum.
//!
//! The failure being prevented (Raft paper §5.4.1 and §5.4.3 assume that a
//! voter never forgets what it acknowledged, §5.1 "stable storage"): nodes
//! A, B, C; values are committed on A and B while C is partitioned (C
//! lags); B's directory is wiped and B restarts with the same command; A is
//! down. Before this change B bootstrapped itself as a voter with an empty
//! log; C (term t, last index < the committed writes) campaigned, B's
//! empty log made C "at least as up-to-date" (§5.4.1) so B granted its
//! vote, C + B formed a majority, C became leader and the writes that A
//! and the old B had acknowledged were gone (C would even overwrite them on
//! A once A came back). Here:
//!   1. B refuses to start on its empty directory because C reports an
//!      existing cluster (the start-up probe, `start_mode.rs`; the decision
//!      table's unit tests show that without the probe the same inputs
//!      bootstrap);
//!   2. if B starts anyway (the probe reached nobody), C drops B's messages
//!      because B's incarnation changed (`runtime/fence.rs`), so B's vote
//!      never counts and C is never elected;
//!   3. once A is back, every acknowledged write is readable.

mod common;

use std::time::Duration;

use raft_cluster::{
    wait_until, ClientError, ClusterError, ClusterOptions, KvSession, LocalCluster, ReadMode, StoreKind, TransportKind,
};
use raft_core::{NodeId, Role};
use raft_statemachine::{KvLimits, KvStore};

const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);
const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);
const C: NodeId = NodeId(3);

async fn lead(c: &LocalCluster<KvStore>, target: NodeId) {
    common::lead(c, target, DEADLINE, POLL).await
}

/// Writes `k` and waits for the acknowledgement. Leadership may move while
/// the cluster recovers (CheckQuorum steps a leader down that lost its
/// quorum), so the same request (same session and sequence number, applied
/// at most once) is sent again to whoever leads until the deadline.
async fn write(c: &LocalCluster<KvStore>, s: &KvSession, k: &str, v: &str) {
    let req = s.put(k.as_bytes(), v.as_bytes());
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let leader = c.wait_for_leader(DEADLINE).await.unwrap();
        let resp = c.client(leader).unwrap().kv_write(&req, &KvLimits::default()).await;
        match resp {
            Ok(_) => return,
            Err(e)
                if tokio::time::Instant::now() < deadline
                    && (matches!(e, ClientError::NotLeader { .. }) || e.outcome_unknown()) =>
            {
                tokio::time::sleep(POLL).await;
            }
            Err(e) => panic!("write {k} acknowledged: {e:?} ({})", c.describe()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_follower_cannot_elect_a_lagging_node_and_no_acknowledged_write_is_lost() {
    let opts = ClusterOptions {
        nodes: 3,
        transport: TransportKind::Grpc,
        store: StoreKind::Disk,
        ..ClusterOptions::default()
    };
    let mut c = LocalCluster::start_kv(opts).await.expect("cluster starts");
    c.wait_for_leader(DEADLINE).await.unwrap();
    // C leads once, so B has voted for and acknowledged C: C remembers B's
    // incarnation. Then A leads.
    lead(&c, C).await;
    let b_old = c.status(B).unwrap().incarnation;
    let remembered = || c.status(C).and_then(|s| (s.peer_incarnations.get(&B) == Some(&b_old)).then_some(()));
    wait_until("C to remember B", DEADLINE, remembered, || tokio::time::sleep(POLL), || c.describe()).await.unwrap();
    lead(&c, A).await;

    // C lags: acknowledged writes commit on A and B only.
    c.isolate(C);
    let s = KvSession::new(14);
    let acked: Vec<(String, String)> = (0..20).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    for (k, v) in &acked {
        write(&c, &s, k, v).await;
    }
    let c_last = c.status(C).unwrap().last_index;
    let a_commit = c.status(A).unwrap().commit;
    assert!(c_last < a_commit, "C must lag: C last {c_last}, A commit {a_commit}");
    println!("C lags: last index {c_last}, the writes are committed up to {a_commit} on A and B");

    // A goes down; B's data directory is wiped.
    c.stop(A).await.unwrap();
    c.stop(B).await.unwrap();
    c.wipe(B).unwrap();
    c.heal();

    // 1. B, restarted with the same command, refuses: C knows the cluster.
    match c.restart_probed(B).await {
        Err(e @ ClusterError::RejoinRefused { .. }) => {
            let text = e.to_string();
            println!("B refused to start: {text}");
            assert!(text.contains("node 3 remembers node 2") || text.contains("node 3 is at term"), "{text}");
            assert!(text.contains("raft-cli members remove 2") && text.contains("--join"), "{text}");
        }
        other => panic!("a wiped node must refuse to bootstrap while a peer knows the cluster: {:?}", other.err()),
    }

    // 2. The probe can miss (no peer reachable at that moment): B starts and
    //    bootstraps as before. C drops everything B sends.
    c.restart(B).await.unwrap();
    let b_new = c.status(B).unwrap().incarnation;
    assert_ne!(b_new, b_old, "a wiped directory is a new incarnation");
    let c_term = c.status(C).unwrap().term;
    let fenced = || {
        let st = c.status(C)?;
        assert_ne!(st.role, Role::Leader, "C must not be elected with the wiped B's vote: {}", c.describe());
        (st.fenced_messages >= 10).then_some(st.fenced_messages)
    };
    let dropped = wait_until("C to drop B's messages", DEADLINE, fenced, || tokio::time::sleep(POLL), || c.describe())
        .await
        .unwrap();
    println!("C dropped {dropped} messages of B's new incarnation {b_new:016x} (old {b_old:016x}); C term {c_term} -> {}, never leader", c.status(C).unwrap().term);

    // 3. A comes back: A (which holds the writes) leads, C catches up, and
    //    every acknowledged write is there. B stays fenced until an operator
    //    removes it and adds it back as a learner.
    c.restart(A).await.unwrap();
    let leader = c.wait_for_leader_among(&[A, C], DEADLINE).await.unwrap();
    assert_eq!(leader, A, "only A holds the committed writes (§5.4.1)");
    let a = c.client(A).unwrap();
    for (k, v) in &acked {
        assert_eq!(a.kv_get(k.as_bytes(), ReadMode::Linearizable).await.unwrap(), Some(v.as_bytes().to_vec()), "{k}");
    }
    c.wait_for_applied_on(&[C], a_commit, DEADLINE).await.unwrap();
    let on_c = c.client(C).unwrap();
    for (k, v) in &acked {
        assert_eq!(on_c.kv_get(k.as_bytes(), ReadMode::Stale).await.unwrap(), Some(v.as_bytes().to_vec()), "{k} on C");
    }
    // A drops B's messages too once B's new incarnation reaches it (B's
    // answers to A's heartbeats, or B's campaigns): wait for the first one.
    let a_fences = || c.status(A).and_then(|s| (s.fenced_messages > 0).then_some(()));
    wait_until("A to fence B too", DEADLINE, a_fences, || tokio::time::sleep(POLL), || c.describe()).await.unwrap();
    c.shutdown().await.unwrap();
}

/// A wiped follower's acknowledgements do not count toward a quorum
/// (§5.3: an entry commits once a majority *that stored it* acknowledged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_followers_acks_do_not_commit_writes() {
    let opts = ClusterOptions { nodes: 3, ..ClusterOptions::default() };
    let mut c = LocalCluster::start_kv(opts).await.expect("cluster starts");
    let s = KvSession::new(15);
    write(&c, &s, "before", "1").await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let followers: Vec<NodeId> = c.ids().into_iter().filter(|id| *id != leader).collect();
    let (wiped, other) = (followers[0], followers[1]);
    c.stop(wiped).await.unwrap();
    c.wipe(wiped).unwrap();
    c.restart(wiped).await.unwrap();
    c.stop(other).await.unwrap();

    // Only the wiped follower is there to acknowledge: nothing commits.
    let req = s.put(&b"during"[..], &b"2"[..]);
    let client = c.client(leader).unwrap();
    let attempt = tokio::time::timeout(Duration::from_secs(2), client.kv_write(&req, &KvLimits::default())).await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "a write acknowledged by a wiped follower only must not commit: {attempt:?}"
    );
    let st = c.status(leader).unwrap();
    assert!(st.fenced_messages > 0, "the leader drops the wiped follower's messages: {}", c.describe());

    // The real follower comes back: writes commit again.
    c.restart(other).await.unwrap();
    write(&c, &s, "after", "3").await;
    c.shutdown().await.unwrap();
}
