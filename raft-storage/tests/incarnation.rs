//! A data directory's incarnation (see `raft_storage::fresh_incarnation`):
//! created once with the directory, kept across restarts, new for a wiped
//! directory; and the incarnations remembered for peers survive a restart.
//!
//! Why it matters (Raft paper §5.1, "updated on stable storage before
//! responding"): a node whose directory was wiped has forgotten its votes
//! and acknowledged entries; the incarnation is how its peers tell it from
//! the life that made those promises.

use raft_core::{Entry, EntryPayload, LogIndex, NodeId, Term};
use raft_storage::layout::{self, CF_LOG, CF_META, DB_DIR, INCARNATION_KEY};
use raft_storage::{MemStore, RaftStore, RocksStore, StoreError, WriteBatch};

#[test]
fn a_new_directory_gets_a_non_zero_incarnation_that_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let first = RocksStore::open(dir.path()).expect("open").incarnation();
    assert_ne!(first, 0);
    for _ in 0..3 {
        let store = RocksStore::open(dir.path()).expect("reopen");
        store.write(WriteBatch::append(vec![Entry::new(Term(1), store_next(&store), EntryPayload::Noop)])).unwrap();
        assert_eq!(store.incarnation(), first, "a restart must keep the incarnation");
    }
    assert_eq!(RocksStore::open_existing(dir.path()).expect("open existing").incarnation(), first);
}

fn store_next(store: &RocksStore) -> LogIndex {
    raft_core::Storage::last_index(store).unwrap().next()
}

#[test]
fn a_wiped_directory_gets_a_new_incarnation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node");
    let before = RocksStore::open(&path).expect("open").incarnation();
    std::fs::remove_dir_all(&path).unwrap();
    let after = RocksStore::open(&path).expect("recreate").incarnation();
    assert_ne!(after, 0);
    assert_ne!(before, after, "a recreated directory is a new incarnation of the node");
}

#[test]
fn the_incarnation_is_durable_as_soon_as_the_store_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let inc = RocksStore::open(dir.path()).expect("open").incarnation();
    // Read it back from RocksDB directly, not through the store's cache.
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path().join(DB_DIR), [CF_META, CF_LOG]).unwrap();
    let raw = db.get_cf(db.cf_handle(CF_META).unwrap(), INCARNATION_KEY).unwrap().expect("incarnation record");
    let stored: u64 = layout::unseal(INCARNATION_KEY, &raw, || "incarnation".into()).unwrap();
    assert_eq!(stored, inc);
}

#[test]
fn a_damaged_incarnation_record_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    drop(RocksStore::open(dir.path()).expect("open"));
    {
        let db =
            rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path().join(DB_DIR), [CF_META, CF_LOG]).unwrap();
        db.put_cf(db.cf_handle(CF_META).unwrap(), INCARNATION_KEY, b"garbage-garbage").unwrap();
    }
    match RocksStore::open(dir.path()) {
        Err(StoreError::Corrupted { what, .. }) => assert_eq!(what, "incarnation record"),
        Err(other) => panic!("expected corruption of the incarnation record, got {other:?}"),
        Ok(_) => panic!("a damaged incarnation must not be silently replaced by a new one"),
    }
}

#[test]
fn peer_incarnations_are_remembered_across_restarts_and_forgotten_on_request() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RocksStore::open(dir.path()).expect("open");
        store.set_peer_incarnation(NodeId(2), Some(22)).unwrap();
        store.set_peer_incarnation(NodeId(3), Some(33)).unwrap();
        store.set_peer_incarnation(NodeId(3), Some(34)).unwrap();
        assert!(store.set_peer_incarnation(NodeId(4), Some(0)).is_err(), "0 means unstamped");
    }
    let store = RocksStore::open(dir.path()).expect("reopen");
    let remembered: Vec<_> = store.peer_incarnations().into_iter().collect();
    assert_eq!(remembered, vec![(NodeId(2), 22), (NodeId(3), 34)]);
    store.set_peer_incarnation(NodeId(2), None).unwrap();
    drop(store);
    let store = RocksStore::open(dir.path()).expect("reopen again");
    assert_eq!(store.peer_incarnations().into_iter().collect::<Vec<_>>(), vec![(NodeId(3), 34)]);
}

#[test]
fn memory_stores_have_distinct_incarnations_and_a_deep_clone_keeps_its_own() {
    let a = MemStore::new();
    let b = MemStore::new();
    assert_ne!(a.incarnation(), 0);
    assert_ne!(a.incarnation(), b.incarnation());
    a.set_peer_incarnation(NodeId(7), Some(70)).unwrap();
    let survived = a.deep_clone();
    assert_eq!(survived.incarnation(), a.incarnation(), "a simulated crash keeps the directory");
    assert_eq!(survived.peer_incarnations().get(&NodeId(7)), Some(&70));
}
