//! Issue #14, the fence's blind spot: a node that never heard from a peer
//! before that peer was wiped must fence it all the same.
//!
//! The incarnation fence (`runtime/fence.rs`) first learned a peer's
//! incarnation from contact only. Followers rarely talk to each other (only
//! when one campaigns, §5.2), so follower C could have no memory of
//! follower B when B is wiped; C would then take B's new incarnation as the
//! first one, B's empty log would grant C its vote, and a lagging C could be
//! elected over committed entries (§5.4.1, the failure `rejoin.rs` shows).
//! Now the leader stamps every member's incarnation into the configuration
//! it replicates, and each node adopts the stamps of its committed
//! configuration, so C knows B's incarnation without ever hearing from B.
//!
//! Here B and C are cut from each other before any election can start (the
//! election timeout is at least one second and the cut comes a few
//! milliseconds after the nodes start), and stay cut until B is wiped.

mod common;

use std::time::{Duration, Instant};

use raft_cluster::{wait_until, ClusterOptions, KvSession, LocalCluster, ReadMode};
use raft_core::{NodeId, Role};
use raft_statemachine::{KvLimits, KvStore};

const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);
const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);
const C: NodeId = NodeId(3);
/// Ticks of 10 ms: no node campaigns within the first second.
const ELECTION_TICKS: u64 = 100;

async fn lead(c: &LocalCluster<KvStore>, target: NodeId) {
    common::lead(c, target, DEADLINE, POLL).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_never_heard_from_a_wiped_peer_fences_it_from_the_configuration() {
    let opts = ClusterOptions { nodes: 3, election_ticks: ELECTION_TICKS, heartbeat_ticks: 5, ..Default::default() };
    let started = Instant::now();
    let mut c = LocalCluster::start_kv(opts).await.expect("cluster starts");
    c.partition(&[B], &[C]);
    let cut_after = started.elapsed();
    assert!(
        cut_after < Duration::from_millis(10 * ELECTION_TICKS),
        "B and C were cut {cut_after:?} after the start, not before the first possible campaign"
    );
    assert!(!c.status(C).unwrap().peer_incarnations.contains_key(&B), "C has not heard from B");
    c.wait_for_leader(DEADLINE).await.unwrap();
    lead(&c, A).await;

    // C learns B's incarnation from the committed configuration alone.
    let b_old = c.status(B).unwrap().incarnation;
    let adopted = || c.status(C).and_then(|s| (s.peer_incarnations.get(&B) == Some(&b_old)).then_some(()));
    wait_until(
        "C to adopt B's incarnation from the log",
        DEADLINE,
        adopted,
        || tokio::time::sleep(POLL),
        || c.describe(),
    )
    .await
    .unwrap();
    println!("C knows B's incarnation {b_old:016x} without any contact with B");

    // C lags: acknowledged writes commit on A and B only.
    c.isolate(C);
    let s = KvSession::new(41);
    let acked: Vec<(String, String)> = (0..20).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    for (k, v) in &acked {
        let resp = c.client(A).unwrap().kv_write(&s.put(k.as_bytes(), v.as_bytes()), &KvLimits::default()).await;
        assert!(resp.is_ok(), "write {k} acknowledged: {resp:?}");
    }
    let a_commit = c.status(A).unwrap().commit;
    assert!(c.status(C).unwrap().last_index < a_commit, "C must lag");

    // A goes down, B is wiped and restarts (bootstrapping, as if the
    // start-up probe had reached nobody); B and C can talk at last.
    c.stop(A).await.unwrap();
    c.stop(B).await.unwrap();
    c.wipe(B).unwrap();
    c.heal();
    c.restart(B).await.unwrap();
    assert_ne!(c.status(B).unwrap().incarnation, b_old, "a wiped store is a new incarnation");
    let fenced = || {
        let st = c.status(C)?;
        assert_ne!(st.role, Role::Leader, "C must not be elected with the wiped B's vote: {}", c.describe());
        (st.fenced_messages >= 3).then_some(st.fenced_messages)
    };
    let dropped =
        wait_until("C to drop the wiped B's messages", DEADLINE, fenced, || tokio::time::sleep(POLL), || c.describe())
            .await
            .unwrap();
    println!("C dropped {dropped} messages of B's new incarnation and was never elected");

    // A comes back and leads; every acknowledged write is there, on C too.
    c.restart(A).await.unwrap();
    assert_eq!(c.wait_for_leader_among(&[A, C], DEADLINE).await.unwrap(), A, "only A holds the writes (§5.4.1)");
    c.wait_for_applied_on(&[C], a_commit, DEADLINE).await.unwrap();
    for (k, v) in &acked {
        let on_c = c.client(C).unwrap().kv_get(k.as_bytes(), ReadMode::Stale).await.unwrap();
        assert_eq!(on_c, Some(v.as_bytes().to_vec()), "{k} on C");
    }
    c.shutdown().await.unwrap();
}
