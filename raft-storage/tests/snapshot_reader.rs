//! Streaming the current snapshot (issue #17, point 4): the reader yields
//! exactly the stored bytes with the recorded CRC-32, and a transfer already
//! reading a snapshot is not torn when a newer snapshot replaces it.

use std::io::Read;

use raft_core::{Entry, EntryPayload, HardState, LogIndex, Membership, NodeId, Storage, Term};
use raft_storage::{RaftStore, RocksStore, WriteBatch};

fn store_with_commit(dir: &std::path::Path, last: u64) -> RocksStore {
    let store = RocksStore::open(dir).unwrap();
    let entries = (1..=last).map(|i| Entry::new(Term(1), LogIndex(i), EntryPayload::Normal(vec![i as u8; 8].into())));
    store.write(WriteBatch::append(entries.collect())).unwrap();
    store.write(WriteBatch::hard_state(HardState { term: Term(1), vote: None, commit: LogIndex(last) })).unwrap();
    store
}

#[test]
fn the_reader_streams_the_stored_snapshot_and_survives_its_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_commit(dir.path(), 10);
    let members = Membership::new([NodeId(1)]);
    let first: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    store.create_snapshot(LogIndex(5), members.clone(), first.clone()).unwrap();

    let mut reader = store.open_snapshot().unwrap();
    assert_eq!(reader.meta(), &store.snapshot().unwrap().meta);
    assert_eq!(store.snapshot_meta(), store.snapshot().unwrap().meta);
    assert_eq!((reader.len(), reader.crc32()), (first.len() as u64, crc32fast::hash(&first)));
    let mut head = vec![0u8; 1000];
    reader.read_exact(&mut head).unwrap();

    // A newer snapshot replaces the file the reader has open.
    store.create_snapshot(LogIndex(8), members, vec![7u8; 10]).unwrap();
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    head.extend(rest);
    assert_eq!(head, first, "the transfer in progress reads the snapshot it started with");
    let newer = store.open_snapshot().unwrap();
    assert_eq!(newer.meta().last_log_id.index, LogIndex(8));
}

#[test]
fn the_bootstrap_snapshot_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStore::open(dir.path()).unwrap();
    store.bootstrap(Membership::new([NodeId(1)])).unwrap();
    let mut reader = store.open_snapshot().unwrap();
    let mut data = Vec::new();
    reader.read_to_end(&mut data).unwrap();
    assert!(data.is_empty() && reader.is_empty());
}
