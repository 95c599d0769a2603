//! Issue #17 point 5: peer delivery is acknowledged only after delivery, and
//! client load cannot refuse peer traffic.
//!
//! Before the fix, peer messages and client requests shared one queue to the
//! runtime (so a client flood made PeerService answer RESOURCE_EXHAUSTED),
//! and a batch was acknowledged once queued there, before the runtime tried
//! the node's inbox and dropped it if full (even a whole streamed snapshot).

mod common;

use std::time::Duration;

use common::{start_with, Mode, Opts, CLUSTER, DEADLINE};
use raft_core::{
    InstallSnapshot, LogId, LogIndex, Membership, Message, MessageBody, NodeId, Snapshot, SnapshotMeta, Term,
};
use raft_rpc::convert::MessageRoute;
use raft_rpc::pb;
use raft_rpc::pb::kv_service_client::KvServiceClient;
use raft_rpc::pb::peer_service_client::PeerServiceClient;
use raft_rpc::Limits;
use tokio::time::{timeout, Instant};
use tonic::Code;

fn heartbeat(commit: u64) -> Message {
    common::heartbeat_1_to_2(commit)
}

fn batch(msgs: impl IntoIterator<Item = Message>) -> pb::RaftBatch {
    let messages = msgs
        .into_iter()
        .map(|m| match MessageRoute::from(m) {
            MessageRoute::Batch(p) => p,
            MessageRoute::Snapshot(_) => unreachable!("heartbeats only"),
        })
        .collect();
    pb::RaftBatch { cluster_id: CLUSTER.into(), messages, incarnation: 0 }
}

fn snapshot_to_2() -> Message {
    let meta =
        SnapshotMeta { last_log_id: LogId::new(Term(1), LogIndex(40)), membership: Membership::new([NodeId(1)]) };
    let data = vec![7u8; 5000];
    Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(1),
        body: MessageBody::InstallSnapshot(InstallSnapshot { snapshot: Snapshot { meta, data } }),
    }
}

/// Sixteen clients writing back to back until the set is dropped.
async fn flood_client_writes(addr: std::net::SocketAddr) -> tokio::task::JoinSet<()> {
    let client = KvServiceClient::connect(format!("http://{addr}")).await.expect("connect");
    let mut set = tokio::task::JoinSet::new();
    for client_id in 1..=16 {
        let mut c = client.clone();
        set.spawn(async move {
            for seq in 1.. {
                let (key, value) = (b"k".to_vec(), b"v".to_vec());
                let _ = c
                    .put(pb::PutRequest { cluster_id: CLUSTER.into(), client_id, seq, key, value, retry: false })
                    .await;
            }
        });
    }
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_load_never_refuses_peer_messages() {
    let limits = Limits { request_timeout: Duration::from_millis(300), ..Limits::default() };
    let opts = Opts { limits, inbound_capacity: 4, ..Opts::new(Mode::Stalled) };
    let mut node = start_with(2, opts).await;
    let flood = flood_client_writes(node.addr).await;
    // The client queue is full (the runtime never drains it) ...
    let end = Instant::now() + DEADLINE;
    while node.handles.inbound.capacity() > 0 {
        assert!(Instant::now() < end, "the client flood never filled the queue");
        tokio::task::yield_now().await;
    }
    // ... and peer batches still go through, every one acknowledged and delivered.
    let mut raw = PeerServiceClient::connect(format!("http://{}", node.addr)).await.unwrap();
    for commit in 1..=50 {
        let sent = timeout(DEADLINE, raw.send(batch([heartbeat(commit)]))).await.expect("deadline");
        sent.unwrap_or_else(|s| panic!("peer batch {commit} refused under client load: {s:?}"));
        let got = timeout(DEADLINE, node.peer_rx.recv()).await.expect("deadline").unwrap();
        assert_eq!(got, heartbeat(commit));
    }
    assert_eq!(node.handles.inbound.capacity(), 0, "the client queue stayed full throughout");
    drop(flood);
}

#[tokio::test]
async fn a_full_peer_inbox_is_an_error_to_the_sender_not_an_ok() {
    let limits = Limits {
        peer_enqueue_timeout: Duration::from_millis(50),
        request_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let mut node = start_with(2, Opts { limits, peer_capacity: 2, ..Opts::new(Mode::Leader) }).await;
    let mut raw = PeerServiceClient::connect(format!("http://{}", node.addr)).await.unwrap();
    timeout(DEADLINE, async {
        let err = raw.send(batch((1..=3).map(heartbeat))).await.expect_err("3 messages cannot fit an inbox of 2");
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        assert!(err.message().contains("not delivered"), "{err:?}");
        // A fully streamed snapshot into the full inbox is refused too.
        let chunks: Vec<_> = raft_rpc::snapshot_chunks(CLUSTER, snapshot_to_2(), 1000).unwrap().collect();
        let err = raw.install_snapshot(futures::stream::iter(chunks)).await.expect_err("inbox still full");
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

        // Exactly what fit was delivered; once drained, the retry succeeds.
        assert_eq!(node.peer_rx.recv().await.unwrap(), heartbeat(1));
        assert_eq!(node.peer_rx.recv().await.unwrap(), heartbeat(2));
        assert!(node.peer_rx.try_recv().is_err(), "nothing beyond the inbox was taken");
        raw.send(batch([heartbeat(3)])).await.expect("room again");
        assert_eq!(node.peer_rx.recv().await.unwrap(), heartbeat(3));
    })
    .await
    .expect("deadline");
}
