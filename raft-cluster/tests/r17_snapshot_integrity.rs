//! Issue #17, point 1: a snapshot is checked before it is made durable.
//!
//! A follower of a real cluster (gRPC, RocksDB) is sent a snapshot far ahead
//! of its log whose data was damaged after the sender computed its CRC-32:
//! once over the real InstallSnapshot RPC, once straight into the node's
//! inbound queue (no transport checksum at all, so only the state machine's
//! check stands between it and the disk). Before the fix the follower made
//! it durable, dropped its log, failed to restore it and stopped, and failed
//! again on every restart. Now it refuses both, keeps its log and hard state
//! in RocksDB, restarts cleanly, and catches up from a good snapshot.

use std::time::Duration;

use raft_cluster::{ClusterOptions, EventKind, KvSession, LocalCluster, StoreKind, TransportKind};
use raft_core::{
    Entry, EntryPayload, InstallSnapshot, LogIndex, Membership, Message, MessageBody, NodeId, Snapshot, SnapshotMeta,
    Storage, Term,
};
use raft_rpc::pb::peer_service_client::PeerServiceClient;
use raft_rpc::pb::snapshot_chunk::Kind;
use raft_statemachine::{KvResponse, KvStore, StateMachine};
use raft_storage::RocksStore;

const DEADLINE: Duration = Duration::from_secs(20);

async fn grpc_cluster() -> LocalCluster<KvStore> {
    let opts = ClusterOptions {
        nodes: 3,
        transport: TransportKind::Grpc,
        store: StoreKind::Disk,
        snapshot_threshold: 20,
        ..ClusterOptions::default()
    };
    LocalCluster::start_kv(opts).await.expect("cluster starts")
}

async fn put(c: &LocalCluster<KvStore>, s: &KvSession, k: &str, v: &str) -> LogIndex {
    let data = s.put(k.as_bytes(), v.as_bytes()).encode().unwrap();
    let (_, index, resp) = c.propose_indexed(data, DEADLINE).await.expect("write succeeds");
    assert!(matches!(resp, KvResponse::Put { .. }), "{resp:?}");
    index
}

/// A well-formed KV snapshot at `(term, index)`, as a leader would send it.
fn snapshot_message(from: NodeId, to: NodeId, term: Term, index: LogIndex) -> Message {
    let mut kv = KvStore::default();
    for i in 1..=index.0 {
        kv.apply(&Entry::new(term, LogIndex(i), EntryPayload::Noop)).unwrap();
    }
    let (meta, data) = kv.snapshot_to_vec().unwrap();
    let meta = SnapshotMeta { membership: Membership::new([NodeId(1), NodeId(2), NodeId(3)]), ..meta };
    Message {
        from,
        to,
        term,
        body: MessageBody::InstallSnapshot(InstallSnapshot { snapshot: Snapshot { meta, data } }),
    }
}

fn damaged(mut msg: Message) -> Message {
    if let MessageBody::InstallSnapshot(is) = &mut msg.body {
        let mid = is.snapshot.data.len() / 2;
        is.snapshot.data[mid] ^= 0x20;
    }
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r17_a_damaged_snapshot_is_refused_and_the_follower_keeps_its_log() {
    let mut c = grpc_cluster().await;
    let s = KvSession::new(17);
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    let mut last = LogIndex(0);
    for i in 0..5 {
        last = put(&c, &s, &format!("k{i}"), "v").await;
    }
    c.wait_for_applied(last, DEADLINE).await.unwrap();
    let before = c.status(follower).unwrap();
    let mut events = c.subscribe(follower).unwrap();
    let good = snapshot_message(leader, follower, before.term, LogIndex(last.0 + 1000));

    // 1. Over the real RPC, damaged after the header's CRC-32 was computed.
    let addr = c.config(follower).unwrap().listen_addr.clone();
    let mut raw = PeerServiceClient::connect(format!("http://{addr}")).await.unwrap();
    let mut chunks: Vec<_> = raft_rpc::snapshot_chunks("local", good.clone(), 8).unwrap().collect();
    let Some(Kind::Data(d)) = &mut chunks[2].kind else { panic!("data chunk expected") };
    d[5] ^= 0x20;
    let err = raw.install_snapshot(futures::stream::iter(chunks)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "the sender is told: {err:?}");

    // 2. Straight into the node's inbound queue, past any transport check.
    c.sink(follower).unwrap().deliver(damaged(good)).unwrap();
    let rejected = tokio::time::timeout(DEADLINE, async {
        loop {
            let ev = match events.recv().await {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("node event stream ended: {e}"),
            };
            assert!(!matches!(ev.kind, EventKind::SnapshotInstalled { .. } | EventKind::Stopped { .. }), "{ev:?}");
            if let EventKind::SnapshotRejected { reason, .. } = ev.kind {
                return reason;
            }
        }
    })
    .await
    .expect("the damaged snapshot is rejected");
    assert!(!rejected.is_empty());

    // Still a healthy follower holding its own log.
    let more = put(&c, &s, "after", "1").await;
    c.wait_for_applied_on(&[follower], more, DEADLINE).await.unwrap();
    let now = c.status(follower).unwrap();
    assert!(now.running && now.snapshot_index == before.snapshot_index, "{now:?}");

    // RocksDB has the log and hard state; a restart does not fail.
    c.kill(follower).await.unwrap();
    let dir = c.config(follower).unwrap().data_dir.clone();
    let store = RocksStore::open(&dir).unwrap();
    assert!(store.last_index().unwrap() >= more, "log kept");
    assert_eq!(store.first_index().unwrap(), before.snapshot_index.next(), "no snapshot installed");
    assert!(store.initial_state().unwrap().hard_state.commit >= more, "hard state kept");
    drop(store);

    // Behind the compaction point now, it catches up from a good snapshot.
    for i in 0..60 {
        last = put(&c, &s, &format!("later{i}"), &i.to_string()).await;
    }
    c.client(leader).unwrap().wait_for("compaction", DEADLINE, |st| st.snapshot_index > more).await.unwrap();
    c.restart(follower).await.unwrap();
    c.wait_for_applied_on(&[follower], last, DEADLINE).await.unwrap();
    let st = c.status(follower).unwrap();
    assert!(st.snapshot_index > more, "caught up through a snapshot: {st:?}");
    let got = c.client(follower).unwrap().kv_get(b"later59", raft_cluster::ReadMode::Stale).await.unwrap();
    assert_eq!(got, Some(b"59".to_vec()));
    c.shutdown().await.unwrap();
}
