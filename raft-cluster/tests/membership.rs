//! Membership changes on a running gRPC cluster, driven through the Admin
//! service as an operator would (issue #14): a fourth node started empty
//! (`NodeConfig::join`) is added as a learner by address, catches up, is
//! promoted; an old voter and then the leader are removed, and the cluster
//! keeps serving writes throughout. The leader's static config never lists
//! node 4: its messages reach node 4 only because the address travels in
//! the configuration entry (thesis §4.1: a configuration is in effect once
//! in the log). Every wait has a deadline.

use std::time::Duration;

use raft_cluster::{
    ClusterOptions, GrpcNode, LocalCluster, MemNodeStore, NodeConfig, PeerConfig, ReadMode, StoreKind, TransportKind,
};
use raft_core::{LogIndex, NodeId};
use raft_rpc::{
    AdminClient, ChangeOutcome, ClientConfig, ClientError, Consistency, KvClient, MemberRole, RefusalReason,
};
use raft_statemachine::KvStore;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(20);

async fn cluster() -> LocalCluster<KvStore> {
    let opts = ClusterOptions {
        nodes: 3,
        transport: TransportKind::Grpc,
        store: StoreKind::Memory,
        ..ClusterOptions::default()
    };
    LocalCluster::start_kv(opts).await.expect("cluster starts")
}

fn addr(c: &LocalCluster<KvStore>, id: NodeId) -> String {
    c.config(id).unwrap().listen_addr.clone()
}

fn config(c: &LocalCluster<KvStore>) -> ClientConfig {
    ClientConfig::new(c.config(NodeId(1)).unwrap().cluster_id.clone())
}

async fn admin(c: &LocalCluster<KvStore>, endpoint: &str) -> AdminClient {
    AdminClient::connect(endpoint, config(c)).await.expect("connect")
}

/// Starts node 4 empty, in join mode: it knows where 1-3 are, they do not
/// know it.
async fn start_joiner(c: &LocalCluster<KvStore>) -> GrpcNode {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let me = listener.local_addr().unwrap().to_string();
    let base = c.config(NodeId(1)).unwrap().clone();
    let mut peers: Vec<PeerConfig> = base.peers.clone();
    peers.push(PeerConfig { id: 4, addr: me.clone() });
    let mut cfg = NodeConfig::new(4, me, peers, Default::default());
    cfg.cluster_id = base.cluster_id.clone();
    cfg.tick_interval_ms = base.tick_interval_ms;
    cfg.election_ticks = base.election_ticks;
    cfg.heartbeat_ticks = base.heartbeat_ticks;
    cfg.join = true;
    GrpcNode::start_with_listener(cfg, std::sync::Arc::new(MemNodeStore::new()), listener, None)
        .await
        .expect("joiner starts")
}

/// Runs `change` against `endpoint`, following not-leader hints (and
/// retrying retryable and Lagging refusals) until it succeeds or the deadline passes.
async fn change_following_leader<F, Fut>(c: &LocalCluster<KvStore>, endpoint: &str, change: F) -> ChangeOutcome
where
    F: Fn(AdminClient) -> Fut,
    Fut: std::future::Future<Output = Result<ChangeOutcome, ClientError>>,
{
    let end = Instant::now() + DEADLINE;
    let mut target = endpoint.to_owned();
    loop {
        let result = change(admin(c, &target).await).await;
        match result {
            Ok(done) => return done,
            Err(ClientError::NotLeader { leader: Some(h) }) if h.address.is_some() => target = h.address.unwrap(),
            // A learner still catching up is refused as Lagging ("wait and
            // retry"): that is the wait this helper exists for.
            Err(ClientError::MembershipRefused(r)) if !r.reason.retryable() && r.reason != RefusalReason::Lagging => {
                panic!("refused: {r:?}")
            }
            Err(e) if Instant::now() >= end => panic!("change still failing after {DEADLINE:?}: {e}"),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn put(kv: &mut KvClient, k: &str, v: &str) -> LogIndex {
    kv.put(k, v).await.expect("write succeeds").index
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_as_learner_is_promoted_and_voters_including_the_leader_are_removed() {
    let c = cluster().await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let all: Vec<String> = c.ids().iter().map(|id| addr(&c, *id)).collect();
    let mut kv = KvClient::new(&all, config(&c)).unwrap();
    put(&mut kv, "before", "1").await;

    let joiner = start_joiner(&c).await;
    let four = joiner.local_addr().to_string();
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    // A follower refuses with the leader hint, like a KV write.
    match admin(&c, &addr(&c, follower)).await.add_learner(NodeId(4), &four).await {
        Err(ClientError::NotLeader { leader: Some(h) }) => {
            assert_eq!((h.id, h.address.as_deref()), (leader, Some(addr(&c, leader).as_str())))
        }
        other => panic!("expected NotLeader from a follower, got {other:?}"),
    }
    let added = change_following_leader(&c, &addr(&c, leader), |a| {
        let four = four.clone();
        async move { a.add_learner(NodeId(4), &four).await }
    })
    .await;
    assert!(added.membership.learners.contains(&NodeId(4)), "{added:?}");
    let links = |id| c.status(id).unwrap().links;
    assert!(links(leader).contains(&NodeId(4)), "the leader links to node 4 from the log: {:?}", links(leader));
    assert_eq!(added.membership.addrs.get(&NodeId(4)), Some(&four));
    assert_eq!(added.membership.addrs.len(), 4, "bootstrap addresses are carried along: {added:?}");

    // The learner catches up through the leader's log-learned link.
    let index = put(&mut kv, "learner-sees", "2").await;
    joiner.client().wait_for("learner caught up", DEADLINE, |s| s.applied >= index).await.unwrap();
    let got = joiner.client().kv_get(b"learner-sees", ReadMode::Stale).await.unwrap();
    assert_eq!(got, Some(b"2".to_vec()));
    let view = admin(&c, &addr(&c, leader)).await.members().await.unwrap();
    let learner = view.members.iter().find(|m| m.id == NodeId(4)).expect("listed");
    assert_eq!((learner.role, learner.address.as_str()), (MemberRole::Learner, four.as_str()));
    assert!(learner.matched.is_some() && learner.lag.is_some(), "the leader reports progress: {learner:?}");
    assert!(view.config_committed && !view.joint && view.config_index >= added.index, "{view:?}");

    let promoted = change_following_leader(&c, &addr(&c, leader), |a| async move { a.promote(NodeId(4)).await }).await;
    assert!(promoted.membership.voters.contains(&NodeId(4)) && promoted.membership.learners.is_empty());

    // Remove an old voter that is not the leader.
    let removed =
        change_following_leader(&c, &addr(&c, leader), move |a| async move { a.remove_member(follower, false).await })
            .await;
    assert!(!removed.membership.contains(follower), "{removed:?}");
    // Its sender goes away once the removal is applied and acknowledged.
    c.client(leader)
        .unwrap()
        .wait_for("the removed voter's link dropped", DEADLINE, |s| !s.links.contains(&follower))
        .await
        .unwrap();
    assert!(joiner.client().status().links.contains(&leader), "node 4 still links to the leader");
    let mut endpoints: Vec<String> = c.ids().iter().filter(|id| **id != follower).map(|id| addr(&c, *id)).collect();
    endpoints.push(four.clone());
    let mut kv = KvClient::new(&endpoints, config(&c)).unwrap();
    put(&mut kv, "after-remove", "3").await;

    // Remove the leader: it hands over to a caught-up voter first.
    match admin(&c, &addr(&c, leader)).await.remove_member(leader, false).await {
        Err(ClientError::NotLeader { leader: Some(h) }) => assert_ne!(h.id, leader, "the hint names the transferee"),
        other => panic!("expected a hand-over, got {other:?}"),
    }
    let gone =
        change_following_leader(&c, &addr(&c, leader), move |a| async move { a.remove_member(leader, false).await })
            .await;
    assert!(!gone.membership.contains(leader) && gone.membership.voters.len() == 2, "{gone:?}");
    let rest: Vec<NodeId> = gone.membership.voters.iter().copied().collect();
    let new_leader = wait_leader_among(&c, &joiner, &rest).await;
    assert_ne!(new_leader, leader);
    let mut endpoints: Vec<String> =
        rest.iter().map(|id| if id.0 == 4 { four.clone() } else { addr(&c, *id) }).collect();
    endpoints.sort();
    let mut kv = KvClient::new(&endpoints, config(&c)).unwrap();
    let index = put(&mut kv, "after-leader-removed", "4").await;
    joiner.client().wait_for("node 4 applied", DEADLINE, |s| s.applied >= index).await.unwrap();
    for key in ["before", "learner-sees", "after-remove"] {
        assert!(kv.get(key, Consistency::Linearizable).await.unwrap().is_some(), "{key} survived");
    }
    joiner.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

/// The leader among `ids` (node 4 is not in the LocalCluster).
async fn wait_leader_among(c: &LocalCluster<KvStore>, joiner: &GrpcNode, ids: &[NodeId]) -> NodeId {
    let end = Instant::now() + DEADLINE;
    loop {
        for id in ids {
            let status = if id.0 == 4 { Some(joiner.client().status()) } else { c.status(*id) };
            if status.is_some_and(|s| s.is_leader()) {
                return *id;
            }
        }
        assert!(Instant::now() < end, "no leader among {ids:?} within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_told_to_step_down_removes_itself_and_the_rest_elect_a_new_one() {
    // Thesis §4.2.2: a leader removed from the configuration steps down
    // once the entry commits.
    let c = cluster().await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let done =
        change_following_leader(&c, &addr(&c, leader), move |a| async move { a.remove_member(leader, true).await })
            .await;
    assert!(!done.membership.contains(leader));
    let rest: Vec<NodeId> = c.ids().into_iter().filter(|id| *id != leader).collect();
    let new = c.wait_for_leader_among(&rest, DEADLINE).await.unwrap();
    assert_ne!(new, leader);
    let endpoints: Vec<String> = rest.iter().map(|id| addr(&c, *id)).collect();
    let mut kv = KvClient::new(&endpoints, config(&c)).unwrap();
    put(&mut kv, "after", "1").await;
    let view = admin(&c, &addr(&c, new)).await.members().await.unwrap();
    assert_eq!(view.members.len(), 2, "{view:?}");
    c.shutdown().await.unwrap();
}

/// Whether `id`'s configuration in effect stamps every voter's incarnation
/// (the entries `runtime/fence.rs` makes the leader append).
fn stamps_every_voter(c: &LocalCluster<KvStore>, id: NodeId) -> bool {
    c.status(id).is_some_and(|s| s.membership.voters.iter().all(|v| s.membership.incarnations.contains_key(v)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsensical_changes_are_refused_with_a_reason_and_nothing_is_proposed() {
    let c = cluster().await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let a = admin(&c, &addr(&c, leader)).await;
    // Wait for the leader's first commit in its term (thesis §4.1 erratum)
    // and for the configuration entry that stamps the voters' incarnations
    // (the leader appends it once it knows them all: `runtime/fence.rs`),
    // so that only the changes below could move the configuration.
    let waiting = Instant::now() + DEADLINE;
    let before = loop {
        assert!(Instant::now() < waiting, "no committed stamped configuration within {DEADLINE:?}: {}", c.describe());
        let v = a.members().await.unwrap();
        match a.promote(NodeId(9)).await {
            Err(ClientError::MembershipRefused(r)) if r.reason == RefusalReason::NotCommittedInTerm => {}
            // The stamp may be in flight: any refusal, nothing proposed.
            Err(ClientError::MembershipRefused(_)) if v.config_index == LogIndex(0) || !v.config_committed => {}
            Err(ClientError::MembershipRefused(r)) => {
                assert_eq!(r.reason, RefusalReason::UnknownMember, "{r:?}");
                // The leader stamps each voter once it has heard from it,
                // possibly in two entries: wait until every voter is.
                // The view is taken again after that: `v` may predate it.
                if stamps_every_voter(&c, leader) {
                    let now = a.members().await.unwrap();
                    if now.config_committed {
                        break now;
                    }
                }
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let other = c.ids().into_iter().find(|id| *id != leader).unwrap();
    let cases = [
        (a.add_learner(other, "127.0.0.1:9999").await, RefusalReason::AlreadyMember),
        (a.promote(other).await, RefusalReason::AlreadyMember),
        (a.remove_member(NodeId(9), false).await, RefusalReason::UnknownMember),
    ];
    for (result, reason) in cases {
        match result {
            Err(ClientError::MembershipRefused(r)) => assert_eq!(r.reason, reason, "{r:?}"),
            other => panic!("expected {reason:?}, got {other:?}"),
        }
    }
    match a.add_learner(NodeId(0), "127.0.0.1:9999").await {
        Err(ClientError::InvalidArgument(_)) => {}
        other => panic!("id 0 must be invalid, got {other:?}"),
    }
    let after = a.members().await.unwrap();
    assert_eq!(after.config_index, before.config_index, "nothing was proposed");
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_grpc_transport_holds_exactly_the_peers_it_is_given() {
    use raft_cluster::Transport;
    let peers = (1..=3).map(|i| PeerConfig { id: i, addr: format!("127.0.0.1:{}", 17000 + i) }).collect();
    let cfg = NodeConfig::new(1, "127.0.0.1:17001", peers, Default::default());
    let transport = raft_cluster::GrpcTransport::new(&cfg, 1).unwrap();
    assert_eq!(transport.pool().peer_ids(), vec![NodeId(2), NodeId(3)], "the static peers at start");
    let next = [(NodeId(2), "127.0.0.1:17002".to_string()), (NodeId(4), "127.0.0.1:17004".to_string())].into();
    transport.set_peers(&next);
    assert_eq!(transport.pool().peer_ids(), vec![NodeId(2), NodeId(4)], "4 added from the log, 3 removed");
}
