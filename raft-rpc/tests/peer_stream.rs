//! `PeerService.Stream` (issue #13: one long-lived stream per peer instead
//! of a unary call per batch): pipelined batches are acknowledged one by
//! one, in order, only once delivered; a refusal ends the stream; and an
//! open stream never holds up the server's shutdown.

mod common;

use std::time::Duration;

use common::{start, start_with, Mode, Opts, StoppableServer, CLUSTER, DEADLINE};
use futures::StreamExt;
use raft_core::Message;
use raft_rpc::convert::MessageRoute;
use raft_rpc::pb;
use raft_rpc::pb::peer_service_client::PeerServiceClient;
use raft_rpc::Limits;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

fn heartbeat(commit: u64) -> Message {
    common::heartbeat_1_to_2(commit)
}

fn batch(commits: impl IntoIterator<Item = u64>) -> pb::RaftBatch {
    let messages = commits
        .into_iter()
        .map(|c| match MessageRoute::from(heartbeat(c)) {
            MessageRoute::Batch(p) => p,
            MessageRoute::Snapshot(_) => unreachable!("heartbeats only"),
        })
        .collect();
    pb::RaftBatch { cluster_id: CLUSTER.into(), messages, incarnation: 0 }
}

/// Opens a raw stream to `addr`; batches pushed into the returned sender go
/// out as the stream's requests.
async fn open(addr: std::net::SocketAddr) -> (mpsc::Sender<pb::RaftBatch>, tonic::Streaming<pb::Ack>) {
    let mut raw = PeerServiceClient::connect(format!("http://{addr}")).await.expect("connect");
    let (tx, rx) = mpsc::channel(256);
    let acks = timeout(DEADLINE, raw.stream(ReceiverStream::new(rx))).await.expect("deadline").expect("stream opens");
    (tx, acks.into_inner())
}

#[tokio::test]
async fn pipelined_batches_are_acknowledged_in_order_once_delivered() {
    let mut node = start(2, Mode::Leader).await;
    let (tx, mut acks) = open(node.addr).await;
    // 100 batches of 3 go out without waiting for any answer.
    for b in 0..100u64 {
        tx.send(batch((1..=3).map(|i| b * 3 + i))).await.unwrap();
    }
    timeout(DEADLINE, async {
        for b in 0..100u64 {
            acks.message().await.expect("stream healthy").expect("one ack per batch");
            // Acknowledged only after delivery: batch b is in the inbox.
            for i in 1..=3 {
                assert_eq!(node.peer_rx.try_recv().expect("delivered before its ack"), heartbeat(b * 3 + i));
            }
        }
    })
    .await
    .expect("deadline");
    assert!(node.peer_rx.try_recv().is_err(), "nothing beyond the 300 messages");
    // The sender closes its side: the stream ends cleanly.
    drop(tx);
    let end = timeout(DEADLINE, acks.message()).await.expect("deadline");
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test]
async fn a_refused_batch_ends_the_stream_and_nothing_after_it_is_taken() {
    let limits = Limits {
        peer_enqueue_timeout: Duration::from_millis(50),
        request_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let mut node = start_with(2, Opts { limits, peer_capacity: 2, ..Opts::new(Mode::Leader) }).await;
    let (tx, mut acks) = open(node.addr).await;
    for c in 1..=4 {
        tx.send(batch([c])).await.unwrap();
    }
    timeout(DEADLINE, async {
        // The inbox holds 2 and nobody drains it: two acks, then a refusal.
        acks.message().await.expect("first delivered").expect("ack");
        acks.message().await.expect("second delivered").expect("ack");
        let err = acks.message().await.expect_err("the third cannot fit");
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        assert!(err.message().contains("not delivered"), "{err:?}");
    })
    .await
    .expect("deadline");
    assert_eq!(node.peer_rx.recv().await.unwrap(), heartbeat(1));
    assert_eq!(node.peer_rx.recv().await.unwrap(), heartbeat(2));
    // The fourth batch was behind the refusal on the stream: never read.
    let late = timeout(Duration::from_millis(300), node.peer_rx.recv()).await;
    assert!(late.is_err(), "a batch after the refusal was delivered: {late:?}");
}

#[tokio::test]
async fn a_foreign_cluster_batch_is_refused_on_the_stream() {
    let node = start(2, Mode::Leader).await;
    let (tx, mut acks) = open(node.addr).await;
    let mut foreign = batch([1]);
    foreign.cluster_id = "another-cluster".into();
    tx.send(foreign).await.unwrap();
    let err = timeout(DEADLINE, acks.message()).await.expect("deadline").expect_err("foreign cluster");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

#[tokio::test]
async fn shutdown_completes_while_a_peer_stream_is_open() {
    let mut node = StoppableServer::start(2).await;
    let (tx, mut acks) = open(node.addr).await;
    tx.send(batch([1])).await.unwrap();
    timeout(DEADLINE, acks.message()).await.expect("deadline").expect("healthy").expect("ack");
    assert_eq!(node.peer_rx.recv().await.unwrap(), heartbeat(1));
    node.stop.send(()).unwrap();
    // The sender keeps its side open; only the server's shutdown ends it.
    let end = timeout(DEADLINE, acks.next()).await.expect("the stream ends on shutdown");
    assert!(end.as_ref().is_none_or(|e| e.is_err()), "{end:?}");
    timeout(DEADLINE, node.server).await.expect("server stops").unwrap().expect("clean shutdown");
    drop((tx, node.handles, node.inbound));
}
