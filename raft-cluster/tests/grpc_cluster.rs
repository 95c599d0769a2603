//! KV clusters over real gRPC on loopback with real RocksDB stores in temp
//! dirs: the runtime, raft-rpc's server and peer pool, raft-storage and the
//! KV store together. Every wait has a deadline.

use std::time::Duration;

use raft_cluster::{
    start_grpc_node, ClientError, ClusterError, ClusterOptions, KvSession, LocalCluster, NodeConfig, PeerConfig,
    ReadMode, StoreKind, TransportKind,
};
use raft_core::{LogIndex, NodeId};
use raft_rpc::{AdminClient, ClientConfig, Consistency, KvClient};
use raft_statemachine::{KvLimits, KvResponse, KvStore};

const DEADLINE: Duration = Duration::from_secs(20);

async fn grpc_cluster(nodes: usize, tweak: impl FnOnce(&mut ClusterOptions)) -> LocalCluster<KvStore> {
    let mut opts =
        ClusterOptions { nodes, transport: TransportKind::Grpc, store: StoreKind::Disk, ..ClusterOptions::default() };
    tweak(&mut opts);
    LocalCluster::start_kv(opts).await.expect("cluster starts")
}

/// Writes through whichever node leads; returns the index it applied at.
async fn put(c: &LocalCluster<KvStore>, s: &KvSession, k: &str, v: &str) -> LogIndex {
    let req = s.put(k.as_bytes(), v.as_bytes());
    let data = req.encode().unwrap();
    let (_, index, resp) = c.propose_indexed(data, DEADLINE).await.expect("write succeeds");
    assert!(matches!(resp, KvResponse::Put { .. }), "{resp:?}");
    index
}

async fn stale_get(c: &LocalCluster<KvStore>, id: NodeId, k: &str) -> Option<Vec<u8>> {
    c.client(id).unwrap().kv_get(k.as_bytes(), ReadMode::Stale).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_grpc_nodes_elect_a_leader_and_serve_the_kv_client() {
    let c = grpc_cluster(3, |_| {}).await;
    c.wait_for_leader(DEADLINE).await.unwrap();
    let endpoints: Vec<String> = c.ids().iter().map(|id| c.config(*id).unwrap().listen_addr.clone()).collect();
    let mut kv = KvClient::new(&endpoints, ClientConfig::new("local")).unwrap();
    let w = kv.put("hello", "world").await.unwrap();
    assert!(w.succeeded);
    assert_eq!(kv.get("hello", Consistency::Linearizable).await.unwrap(), Some(b"world".to_vec()));
    c.wait_for_applied(w.index, DEADLINE).await.unwrap();
    // `previous` is the value before the write (issue #18): for a swap that
    // happened, what it replaced; for one that failed, what the key holds.
    let swap = kv.compare_and_swap("cas", None, "one").await.unwrap();
    assert!(swap.succeeded && swap.previous.is_none(), "{swap:?}");
    let swap = kv.compare_and_swap("cas", Some(b"one".to_vec()), "two").await.unwrap();
    assert!(swap.succeeded, "{swap:?}");
    assert_eq!(swap.previous, Some(b"one".to_vec()), "a successful CAS reports the replaced value");
    let miss = kv.compare_and_swap("cas", Some(b"one".to_vec()), "three").await.unwrap();
    assert!(!miss.succeeded, "{miss:?}");
    assert_eq!(miss.previous, Some(b"two".to_vec()), "a failed CAS reports the current value");
    for id in c.ids() {
        assert_eq!(stale_get(&c, id, "hello").await, Some(b"world".to_vec()), "node {id}");
    }
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_grpc_nodes_survive_a_killed_leader() {
    let mut c = grpc_cluster(5, |_| {}).await;
    let s = KvSession::new(7);
    let old = c.wait_for_leader(DEADLINE).await.unwrap();
    put(&c, &s, "a", "1").await;
    c.kill(old).await.unwrap();
    let new = c.wait_for_leader(DEADLINE).await.unwrap();
    assert_ne!(new, old);
    let index = put(&c, &s, "b", "2").await;
    c.wait_for_applied(index, DEADLINE).await.unwrap();
    for id in c.running() {
        assert_eq!(stale_get(&c, id, "a").await, Some(b"1".to_vec()));
        assert_eq!(stale_get(&c, id, "b").await, Some(b"2".to_vec()));
    }
    c.restart(old).await.unwrap();
    c.wait_for_applied_on(&[old], index, DEADLINE).await.unwrap();
    assert_eq!(stale_get(&c, old, "b").await, Some(b"2".to_vec()));
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_follower_behind_the_compaction_point_catches_up_by_snapshot() {
    let mut c = grpc_cluster(3, |o| o.snapshot_threshold = 20).await;
    let s = KvSession::new(9);
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    put(&c, &s, "first", "1").await;
    c.kill(follower).await.unwrap();
    let mut last = LogIndex(0);
    for i in 0..80 {
        last = put(&c, &s, &format!("k{i}"), &i.to_string()).await;
    }
    c.client(leader).unwrap().wait_for("compaction", DEADLINE, |st| st.snapshot_index.0 > 2).await.unwrap();
    c.restart(follower).await.unwrap();
    c.wait_for_applied_on(&[follower], last, DEADLINE).await.unwrap();
    let st = c.status(follower).unwrap();
    assert!(st.snapshot_index.0 > 1, "follower must hold a snapshot: {st:?}");
    assert_eq!(stale_get(&c, follower, "first").await, Some(b"1".to_vec()));
    assert_eq!(stale_get(&c, follower, "k79").await, Some(b"79".to_vec()));
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_grpc_minority_leader_fails_writes_and_reads() {
    let c = grpc_cluster(3, |o| o.limits.request_timeout_ms = 2_000).await;
    let s = KvSession::new(11);
    let old = c.wait_for_leader(DEADLINE).await.unwrap();
    put(&c, &s, "k", "v1").await;
    c.isolate(old);
    let limits = KvLimits::default();
    let minority = c.client(old).unwrap().kv_write(&s.put("k", "minority"), &limits).await;
    assert!(minority.is_err(), "isolated leader acknowledged a write: {minority:?}");
    let majority: Vec<NodeId> = c.ids().into_iter().filter(|id| *id != old).collect();
    let new = c.wait_for_leader_among(&majority, DEADLINE).await.unwrap();
    c.client(new).unwrap().kv_write(&s.put("k", "v2"), &limits).await.unwrap();
    let stale = c.client(old).unwrap().kv_get(b"k", ReadMode::Linearizable).await;
    assert!(stale.is_err(), "deposed leader answered a linearizable read: {stale:?}");
    assert_eq!(c.client(new).unwrap().kv_get(b"k", ReadMode::Linearizable).await.unwrap(), Some(b"v2".to_vec()));
    c.heal();
    let last = put(&c, &s, "after-heal", "1").await;
    c.wait_for_applied(last, DEADLINE).await.unwrap();
    assert_eq!(stale_get(&c, old, "k").await, Some(b"v2".to_vec()));
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_grpc_write_survives_a_full_restart() {
    let mut c = grpc_cluster(3, |o| o.snapshot_threshold = 30).await;
    let s = KvSession::new(13);
    c.wait_for_leader(DEADLINE).await.unwrap();
    for i in 0..50 {
        put(&c, &s, &format!("k{i}"), &i.to_string()).await;
    }
    for id in c.ids() {
        c.stop(id).await.unwrap();
    }
    for id in c.ids() {
        c.restart(id).await.unwrap();
    }
    c.wait_for_leader(DEADLINE).await.unwrap();
    let last = put(&c, &s, "after", "1").await;
    c.wait_for_applied(last, DEADLINE).await.unwrap();
    for id in c.ids() {
        for i in 0..50 {
            assert_eq!(stale_get(&c, id, &format!("k{i}")).await, Some(i.to_string().into_bytes()), "node {id} k{i}");
        }
    }
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_refuses_writes_with_a_leader_hint() {
    let c = grpc_cluster(3, |_| {}).await;
    let s = KvSession::new(17);
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    put(&c, &s, "x", "1").await;
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    let client = c.client(follower).unwrap();
    client.wait_for("leader known", DEADLINE, |st| st.leader == Some(leader)).await.unwrap();
    let err = client.kv_write(&s.put("y", "2"), &KvLimits::default()).await.unwrap_err();
    let addr = c.config(leader).unwrap().listen_addr.clone();
    assert_eq!(err, ClientError::NotLeader { leader: Some(leader), leader_addr: Some(addr) });
    c.shutdown().await.unwrap();
}

/// The partition is cut and healed only through the Admin `SetPartition`
/// RPC, as `raft-cli demo --chaos` does between processes: the test never
/// touches the cluster's link filter itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_partition_over_admin_rpc_isolates_the_leader_until_healed() {
    let c = grpc_cluster(3, |_| {}).await;
    let old = c.wait_for_leader(DEADLINE).await.unwrap();
    let followers: Vec<NodeId> = c.ids().into_iter().filter(|id| *id != old).collect();
    let endpoint = |id: NodeId| c.config(id).unwrap().listen_addr.clone();
    let mut admins = std::collections::BTreeMap::new();
    for id in c.ids() {
        admins.insert(id, AdminClient::connect(&endpoint(id), ClientConfig::new("local")).await.unwrap());
    }
    // Symmetric cut: the leader blocks both followers, each follower blocks the leader.
    admins[&old].set_partition(&followers).await.unwrap();
    for f in &followers {
        admins[f].set_partition(&[old]).await.unwrap();
    }
    let new = c.wait_for_leader_among(&followers, DEADLINE).await.unwrap();
    assert_ne!(new, old);
    let majority: Vec<String> = followers.iter().map(|id| endpoint(*id)).collect();
    let mut kv = KvClient::new(&majority, ClientConfig::new("local")).unwrap();
    let w = kv.put("cut", "off").await.unwrap();
    assert!(w.succeeded);
    assert_eq!(stale_get(&c, old, "cut").await, None, "the cut-off leader cannot have the majority's write");

    for id in c.ids() {
        admins[&id].set_partition(&[]).await.unwrap();
    }
    c.wait_for_applied_on(&[old], w.index, DEADLINE).await.unwrap();
    assert_eq!(stale_get(&c, old, "cut").await, Some(b"off".to_vec()));
    let new_term = c.status(new).unwrap().term;
    assert!(c.status(old).unwrap().term >= new_term, "the old leader learned the new term");
    c.shutdown().await.unwrap();
}

/// Issue #17 point 6: `SetPartition` is served only by a node started with
/// fault injection enabled; a production node answers PERMISSION_DENIED and
/// keeps its links (before the fix every node obeyed it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_partition_needs_fault_injection_enabled() {
    for enabled in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = single_node(dir.path(), "local");
        config.enable_fault_injection = enabled;
        let node = start_grpc_node(config, true).await.unwrap();
        let admin = AdminClient::connect(&node.local_addr().to_string(), ClientConfig::new("local")).await.unwrap();
        let got = admin.set_partition(&[NodeId(2)]).await;
        if enabled {
            got.expect("an enabled node takes the partition");
            assert!(node.filter().is_blocked(NodeId(1), NodeId(2)));
        } else {
            let err = got.unwrap_err();
            assert!(
                matches!(&err, raft_rpc::ClientError::Rejected { code: tonic::Code::PermissionDenied, message }
                    if message.contains("--enable-fault-injection")),
                "{err:?}"
            );
            assert!(!node.filter().is_blocked(NodeId(1), NodeId(2)), "a refused partition changes nothing");
        }
        node.shutdown().await.unwrap();
    }
}

/// Issue #17 point 5: a peer batch the node cannot take is an error status
/// to the sender, never an OK followed by a silent drop (before the fix the
/// server acknowledged it and the bridge then dropped it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_batch_for_a_stopped_node_is_refused_not_acknowledged() {
    use raft_core::{AppendEntries, LogId, Message, MessageBody};
    use raft_rpc::convert::MessageRoute;
    use raft_rpc::pb::peer_service_client::PeerServiceClient;

    let c = grpc_cluster(3, |_| {}).await;
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    let client = c.client(follower).unwrap();
    c.shutdown_handle(follower).unwrap().shutdown();
    client.wait_for("node task stopped", DEADLINE, |s| !s.running).await.unwrap();

    let body =
        AppendEntries { prev_log_id: LogId::default(), entries: vec![], leader_commit: LogIndex(0), read_round: 0 };
    let term = c.status(leader).unwrap().term;
    let msg = Message { from: leader, to: follower, term, body: MessageBody::AppendEntries(body) };
    let MessageRoute::Batch(m) = MessageRoute::from(msg) else { panic!("a heartbeat goes in a batch") };
    let addr = c.config(follower).unwrap().listen_addr.clone();
    let mut raw = PeerServiceClient::connect(format!("http://{addr}")).await.unwrap();
    let batch = raft_rpc::pb::RaftBatch { cluster_id: "local".into(), messages: vec![m], incarnation: 0 };
    let err = raw.send(batch).await.expect_err("a stopped node cannot have taken the message");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(err.message().contains("not delivered"), "{err:?}");
    c.shutdown().await.unwrap();
}

/// Retries `op` (a single node needs an election first) until it succeeds
/// or [`DEADLINE`] passes.
async fn retry<T, F: std::future::Future<Output = Result<T, ClientError>>>(mut op: impl FnMut() -> F) -> T {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) if tokio::time::Instant::now() >= end => panic!("still failing after {DEADLINE:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn single_node(dir: &std::path::Path, cluster: &str) -> NodeConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let mut c = NodeConfig::new(1, addr.clone(), vec![PeerConfig { id: 1, addr }], dir.to_path_buf());
    c.cluster_id = cluster.into();
    c.tick_interval_ms = 10;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rocksdb_data_dir_of_another_cluster_is_refused_and_a_restart_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_grpc_node(single_node(dir.path(), "alpha"), false).await.unwrap();
    let s = KvSession::new(21);
    let data = s.put(b"k", b"v").encode().unwrap();
    let client = node.client();
    retry(|| client.propose(data.clone())).await;
    node.shutdown().await.unwrap();

    let err = start_grpc_node(single_node(dir.path(), "beta"), false).await.err().expect("must refuse");
    assert!(
        matches!(err, ClusterError::IdentityMismatch { ref found_cluster, .. } if found_cluster == "alpha"),
        "{err}"
    );

    let node = start_grpc_node(single_node(dir.path(), "alpha"), false).await.unwrap();
    let client = node.client();
    let got = retry(|| client.kv_get(b"k", ReadMode::Linearizable)).await;
    assert_eq!(got, Some(b"v".to_vec()));
    node.shutdown().await.unwrap();
}
