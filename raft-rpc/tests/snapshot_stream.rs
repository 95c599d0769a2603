//! Issue #17, point 4: a snapshot streamed from a reader (the leader's
//! snapshot file) arrives exactly, chunk by chunk, and a source whose bytes
//! do not match its recorded CRC-32 is refused by the receiver.

mod common;

use std::io::Cursor;

use common::{start_with_limits, Mode, CLUSTER, DEADLINE};
use raft_core::{
    InstallSnapshot, LogId, LogIndex, Membership, Message, MessageBody, NodeId, Snapshot, SnapshotMeta, Term,
};
use raft_rpc::{Limits, PeerConfig, PeerPool, SnapshotSource};
use tokio::time::timeout;

/// An InstallSnapshot carrying no data: the data comes from the source.
fn header_only(to: u64) -> Message {
    let meta =
        SnapshotMeta { last_log_id: LogId::new(Term(1), LogIndex(40)), membership: Membership::new([NodeId(1)]) };
    Message {
        from: NodeId(1),
        to: NodeId(to),
        term: Term(1),
        body: MessageBody::InstallSnapshot(InstallSnapshot { snapshot: Snapshot { meta, data: Vec::new() } }),
    }
}

fn source(data: &[u8], crc32: u32) -> SnapshotSource {
    SnapshotSource { len: data.len() as u64, crc32, reader: Box::new(Cursor::new(data.to_vec())) }
}

#[tokio::test]
async fn a_streamed_snapshot_arrives_exactly_and_a_mismatched_one_is_refused() {
    let limits = Limits { max_snapshot_chunk_bytes: 4096, ..Limits::default() };
    let mut node = start_with_limits(2, Mode::Leader, limits).await;
    let mut config = PeerConfig::new(CLUSTER);
    config.snapshot_chunk_bytes = 4096;
    let (pool, _reports) = PeerPool::new(config, 16);
    pool.set_peer(NodeId(2), &node.endpoint()).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();

    let ok = timeout(DEADLINE, pool.stream_snapshot(header_only(2), source(&data, crc32fast::hash(&data))));
    assert!(ok.await.expect("deadline"), "the peer acknowledged the snapshot");
    let got = timeout(DEADLINE, node.peer_rx.recv()).await.expect("deadline").unwrap();
    let MessageBody::InstallSnapshot(is) = got.body else { panic!("{got:?}") };
    assert_eq!(is.snapshot.data, data, "reassembled exactly");
    assert_eq!(is.snapshot.meta.last_log_id.index, LogIndex(40));

    let ok = timeout(DEADLINE, pool.stream_snapshot(header_only(2), source(&data, 0xdead_beef)));
    assert!(!ok.await.expect("deadline"), "a CRC-32 mismatch fails the transfer");
    let stats = pool.stats(NodeId(2)).unwrap();
    assert_eq!((stats.snapshots_sent, stats.snapshots_failed), (1, 1));
    assert!(node.peer_rx.try_recv().is_err(), "the refused snapshot was not delivered");
}
