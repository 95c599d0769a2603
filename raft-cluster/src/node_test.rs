use std::path::PathBuf;

use super::*;
use crate::config::PeerConfig;
use crate::mem_store::MemNodeStore;
use crate::test_support::TestKv;
use crate::transport::LocalNetwork;
use crate::ClientError;

fn single_node_config(cluster: &str, id: u64) -> NodeConfig {
    let peers = vec![PeerConfig { id, addr: format!("127.0.0.1:{}", 7100 + id) }];
    let mut c = NodeConfig::new(id, format!("127.0.0.1:{}", 7100 + id), peers, PathBuf::from("/unused"));
    c.cluster_id = cluster.into();
    c.tick_interval_ms = 5;
    c
}

fn parts(store: &Arc<MemNodeStore>) -> NodeParts<TestKv> {
    let store: Arc<dyn NodeStore> = store.clone();
    NodeParts { store, state_machine: TestKv::default(), transport: Arc::new(LocalNetwork::new().transport()) }
}

#[tokio::test]
async fn a_store_from_another_cluster_is_refused() {
    let store = Arc::new(MemNodeStore::new());
    let node = Node::start(single_node_config("alpha", 1), parts(&store)).await.unwrap();
    node.shutdown().await.unwrap();
    let err = Node::start(single_node_config("beta", 1), parts(&store)).await.err().expect("must refuse");
    assert!(
        matches!(err, ClusterError::IdentityMismatch { ref found_cluster, .. } if found_cluster == "alpha"),
        "{err}"
    );
}

#[tokio::test]
async fn a_store_of_another_node_is_refused() {
    let store = Arc::new(MemNodeStore::new());
    let node = Node::start(single_node_config("alpha", 1), parts(&store)).await.unwrap();
    node.shutdown().await.unwrap();
    let err = Node::start(single_node_config("alpha", 2), parts(&store)).await.err().expect("must refuse");
    assert!(matches!(err, ClusterError::IdentityMismatch { found_node: 1, expected_node: 2, .. }), "{err}");
}

#[tokio::test]
async fn an_invalid_config_is_refused_before_touching_the_store() {
    let store = Arc::new(MemNodeStore::new());
    let mut config = single_node_config("alpha", 1);
    config.heartbeat_ticks = config.election_ticks;
    assert!(matches!(Node::start(config, parts(&store)).await, Err(ClusterError::Config(_))));
    assert_eq!(store.identity().unwrap(), None);
}

#[tokio::test]
async fn a_single_node_elects_itself_and_recovers_its_data_after_restart() {
    let store = Arc::new(MemNodeStore::new());
    let node = Node::start(single_node_config("alpha", 1), parts(&store)).await.unwrap();
    let client = node.client();
    client.wait_for("leadership", Duration::from_secs(10), NodeStatus::is_leader).await.unwrap();
    let index = client.propose(b"k=v".to_vec()).await.unwrap();
    node.shutdown().await.unwrap();
    assert_eq!(client.propose(b"k=w".to_vec()).await, Err(ClientError::ShuttingDown));

    let node = Node::start(single_node_config("alpha", 1), parts(&store)).await.unwrap();
    let client = node.client();
    client.wait_for("replay", Duration::from_secs(10), |s| s.applied.0 >= index).await.unwrap();
    assert_eq!(client.read("k".into(), crate::ReadMode::Stale).await.unwrap().as_deref(), Some("v"));
    node.shutdown().await.unwrap();
}

/// A single-node cluster on `store`, once it leads.
async fn leader_on(store: Arc<dyn NodeStore>) -> (Node<TestKv>, crate::NodeClient<TestKv>) {
    let parts =
        NodeParts { store, state_machine: TestKv::default(), transport: Arc::new(LocalNetwork::new().transport()) };
    let node = Node::start(single_node_config("alpha", 1), parts).await.unwrap();
    let client = node.client();
    client.wait_for("leadership", Duration::from_secs(10), NodeStatus::is_leader).await.unwrap();
    (node, client)
}

#[tokio::test]
async fn a_burst_of_writes_is_grouped_into_few_synced_appends() {
    use std::sync::atomic::Ordering::Relaxed;
    let counting = Arc::new(crate::test_support::CountingStore::new());
    let store: Arc<dyn NodeStore> = counting.clone();
    let (node, client) = leader_on(store).await;
    let syncs_before = counting.synced_writes.load(Relaxed);
    let entries_before = counting.entries_written.load(Relaxed);
    let writes: Vec<_> = (0..500)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.propose(format!("k{i}=v").into_bytes()).await })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    let syncs = counting.synced_writes.load(Relaxed) - syncs_before;
    let entries = counting.entries_written.load(Relaxed) - entries_before;
    assert_eq!(entries, 500, "every write is persisted exactly once");
    assert!(syncs <= 50, "500 writes took {syncs} fsyncs: queued writes must share one append and fsync");
    node.shutdown().await.unwrap();
}

/// A write the store cannot persist (a full disk) is never acknowledged: the
/// node stops with the storage error instead of carrying on.
#[tokio::test]
async fn a_failing_disk_stops_the_node_without_acknowledging_the_write() {
    use std::sync::atomic::Ordering::Relaxed;
    let counting = Arc::new(crate::test_support::CountingStore::new());
    let store: Arc<dyn NodeStore> = counting.clone();
    let (node, client) = leader_on(store).await;
    client.propose(b"before=1".to_vec()).await.unwrap();

    counting.disk_full.store(true, Relaxed);
    let outcome = client.propose(b"after=1".to_vec()).await;
    assert!(outcome.is_err(), "a write that could not be persisted was acknowledged: {outcome:?}");
    // It was proposed (and, in a cluster, possibly sent): unknown, not "not done".
    assert!(outcome.as_ref().is_err_and(ClientError::outcome_unknown), "{outcome:?}");
    let stopped = tokio::time::timeout(Duration::from_secs(10), node.wait()).await.expect("the node stops");
    match stopped {
        Err(ClusterError::Storage(msg)) => assert!(msg.contains("No space left"), "{msg}"),
        other => panic!("expected the storage error to stop the node, got {other:?}"),
    }
    assert_eq!(client.propose(b"later=1".to_vec()).await, Err(ClientError::ShuttingDown));

    // Once the disk has room again the node restarts with the acknowledged
    // write and without the one that failed.
    counting.disk_full.store(false, Relaxed);
    let store: Arc<dyn NodeStore> = counting.clone();
    let (node, client) = leader_on(store).await;
    let read = |k: &str| client.read(k.to_string(), crate::ReadMode::Linearizable);
    assert_eq!(read("before").await.unwrap().as_deref(), Some("1"));
    assert_eq!(read("after").await.unwrap(), None);
    node.shutdown().await.unwrap();
}
