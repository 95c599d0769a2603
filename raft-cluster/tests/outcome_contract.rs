//! Issue #17 point 2: a write the leader had already appended and sent when
//! it stopped is answered "outcome unknown", never "nothing was done".
//!
//! The leader is cut off from its followers (its appends are sent into the
//! partition and never acknowledged), a write reaches it, and the leader is
//! then stopped the way SIGTERM stops `raft-cli node`: the node task first,
//! its gRPC server still answering. Before the fix the in-flight write failed
//! with `ShuttingDown`, which the server sent as UNAVAILABLE, documented as
//! "nothing was done".

use std::time::Duration;

use raft_cluster::{ClusterOptions, LocalCluster, StoreKind, TransportKind};
use raft_core::NodeId;
use raft_rpc::pb::kv_service_client::KvServiceClient;
use raft_rpc::{pb, ClientConfig, ClientError, KvClient, WriteResult};
use raft_statemachine::KvStore;
use tokio::time::timeout;

const DEADLINE: Duration = Duration::from_secs(20);

/// Three gRPC nodes whose election timeout (1-2 s) is long enough that an
/// isolated leader does not step down (CheckQuorum) before the test stops it.
async fn cluster() -> LocalCluster<KvStore> {
    let opts = ClusterOptions {
        nodes: 3,
        transport: TransportKind::Grpc,
        store: StoreKind::Memory,
        election_ticks: 100,
        heartbeat_ticks: 5,
        ..ClusterOptions::default()
    };
    LocalCluster::start_kv(opts).await.expect("cluster starts")
}

/// One Put straight through the generated client: the raw gRPC status.
async fn raw_put(addr: String, client_id: u64) -> Result<pb::WriteResponse, tonic::Status> {
    let mut client = KvServiceClient::connect(format!("http://{addr}"))
        .await
        .map_err(|e| tonic::Status::unavailable(format!("test could not connect: {e}")))?;
    let (key, value) = (b"raw".to_vec(), b"1".to_vec());
    let req = pb::PutRequest { cluster_id: "local".into(), client_id, seq: 1, key, value, retry: false };
    client.put(req).await.map(|r| r.into_inner())
}

/// The KV client library, talking to `addr` only.
async fn client_put(addr: String) -> Result<WriteResult, ClientError> {
    let mut config = ClientConfig::new("local");
    config.operation_timeout = Duration::from_secs(3);
    let mut kv = KvClient::with_client_id(&[addr], config, 4242)?;
    kv.put("lib", "1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_mid_replication_answers_outcome_unknown() {
    let c = cluster().await;
    let leader: NodeId = c.wait_for_leader(DEADLINE).await.unwrap();
    let addr = c.config(leader).unwrap().listen_addr.clone();
    c.isolate(leader);
    let before = c.status(leader).unwrap().last_index;
    let raw = tokio::spawn(raw_put(addr.clone(), 4141));
    let lib = tokio::spawn(client_put(addr));

    // Both writes are appended (and sent into the partition), none commits.
    let client = c.client(leader).unwrap();
    let st = client.wait_for("both writes appended", DEADLINE, |s| s.last_index.0 >= before.0 + 2).await.unwrap();
    assert!(st.commit < st.last_index, "nothing can commit without a majority: {st:?}");
    assert!(st.is_leader(), "still leading when stopped: {st:?}");
    c.shutdown_handle(leader).unwrap().shutdown();

    let status = timeout(DEADLINE, raw).await.expect("answered").unwrap().expect_err("cannot succeed");
    assert_eq!(status.code(), tonic::Code::Aborted, "a proposed write is not 'nothing was done': {status:?}");
    assert!(status.message().contains("outcome unknown"), "{status:?}");
    let err = timeout(DEADLINE, lib).await.expect("answered").unwrap().expect_err("cannot succeed");
    assert!(matches!(err, ClientError::Unknown(_)), "KvClient reports the write as unknown: {err:?}");

    c.heal();
    c.shutdown().await.unwrap();
}
