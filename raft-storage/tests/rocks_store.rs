//! RocksStore behaviour that needs the real disk: corruption, format
//! versions, the directory lock and directory errors.

use std::path::Path;

use raft_core::{Entry, EntryPayload, LogIndex, Storage, StorageError, Term};
use raft_storage::layout::{self, CF_LOG, CF_META, DB_DIR, FORMAT_KEY, HARD_STATE_KEY, SNAPSHOT_DIR};
use raft_storage::{RaftStore, RocksStore, StoreError, WriteBatch};

fn entries(term: u64, lo: u64, hi: u64) -> Vec<Entry> {
    (lo..=hi).map(|i| Entry::new(Term(term), LogIndex(i), EntryPayload::Normal(vec![i as u8; 32].into()))).collect()
}

/// A store in `dir` holding entries 1..=10.
fn store_with_ten_entries(dir: &Path) {
    let store = RocksStore::open(dir).expect("open");
    store.write(WriteBatch::append(entries(1, 1, 10))).expect("append");
}

/// Opens the database underneath a (closed) store, to damage it.
fn raw_db(dir: &Path) -> rocksdb::DB {
    rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.join(DB_DIR), [CF_META, CF_LOG]).expect("open raw db")
}

fn expect_corrupted<T: std::fmt::Debug>(result: Result<T, StorageError>, what: &str) -> String {
    match result {
        Err(StorageError::Corrupted { what: w, detail }) => {
            assert_eq!(w, what);
            detail
        }
        other => panic!("expected corruption of {what}, got {other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_an_entry_is_reported_with_its_index() {
    let dir = tempfile::tempdir().unwrap();
    store_with_ten_entries(dir.path());
    {
        let db = raw_db(dir.path());
        let cf = db.cf_handle(CF_LOG).unwrap();
        let mut value = db.get_cf(cf, layout::log_key(5)).unwrap().expect("entry 5 is stored");
        let last = value.len() - 1;
        value[last] ^= 0x40;
        db.put_cf(cf, layout::log_key(5), value).unwrap();
    }
    let store = RocksStore::open(dir.path()).expect("the damage is not at either end of the log");
    let detail = expect_corrupted(store.entries(LogIndex(1), LogIndex(11), None), "log entry 5");
    assert!(detail.contains("checksum"), "{detail}");
    expect_corrupted(store.term(LogIndex(5)), "log entry 5");
    assert_eq!(store.entries(LogIndex(6), LogIndex(11), None).map(|e| e.len()), Ok(5), "other entries still read");
}

#[test]
fn an_entry_copied_under_another_index_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    store_with_ten_entries(dir.path());
    {
        let db = raw_db(dir.path());
        let cf = db.cf_handle(CF_LOG).unwrap();
        let four = db.get_cf(cf, layout::log_key(4)).unwrap().unwrap();
        db.put_cf(cf, layout::log_key(5), four).unwrap();
    }
    let store = RocksStore::open(dir.path()).unwrap();
    expect_corrupted(store.entries(LogIndex(5), LogIndex(6), None), "log entry 5");
}

#[test]
fn a_missing_entry_inside_the_log_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    store_with_ten_entries(dir.path());
    {
        let db = raw_db(dir.path());
        db.delete_cf(db.cf_handle(CF_LOG).unwrap(), layout::log_key(7)).unwrap();
    }
    let store = RocksStore::open(dir.path()).unwrap();
    let detail = expect_corrupted(store.entries(LogIndex(1), LogIndex(11), None), "log entry 7");
    assert!(detail.contains("missing"), "{detail}");
}

#[test]
fn a_damaged_last_entry_fails_open_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    store_with_ten_entries(dir.path());
    {
        let db = raw_db(dir.path());
        db.put_cf(db.cf_handle(CF_LOG).unwrap(), layout::log_key(10), b"garbage").unwrap();
    }
    match RocksStore::open(dir.path()) {
        Err(StoreError::Corrupted { what, .. }) => assert_eq!(what, "log entry 10"),
        other => panic!("expected corruption of the last entry, got {:?}", other.err()),
    }
}

#[test]
fn a_damaged_hard_state_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RocksStore::open(dir.path()).unwrap();
        store.write(WriteBatch::hard_state(raft_core::HardState { term: Term(3), ..Default::default() })).unwrap();
    }
    {
        let db = raw_db(dir.path());
        let cf = db.cf_handle(CF_META).unwrap();
        let mut value = db.get_cf(cf, HARD_STATE_KEY).unwrap().unwrap();
        value[6] ^= 1;
        db.put_cf(cf, HARD_STATE_KEY, value).unwrap();
    }
    let err = RocksStore::open(dir.path()).err().expect("open must fail");
    assert!(matches!(&err, StoreError::Corrupted { what, .. } if what == "hard state"), "{err}");
}

#[test]
fn another_format_version_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    store_with_ten_entries(dir.path());
    {
        let db = raw_db(dir.path());
        db.put_cf(db.cf_handle(CF_META).unwrap(), FORMAT_KEY, layout::format_record(99)).unwrap();
    }
    let err = RocksStore::open(dir.path()).err().expect("open must fail");
    assert!(matches!(err, StoreError::IncompatibleFormat { found: 99, supported: layout::FORMAT_VERSION }), "{err}");
    assert!(err.to_string().contains("incompatible storage format version 99"), "{err}");
}

#[test]
fn a_database_without_a_format_record_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    store_with_ten_entries(dir.path());
    {
        let db = raw_db(dir.path());
        db.delete_cf(db.cf_handle(CF_META).unwrap(), FORMAT_KEY).unwrap();
    }
    let err = RocksStore::open(dir.path()).err().expect("open must fail");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
}

#[test]
fn a_damaged_snapshot_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RocksStore::open(dir.path()).unwrap();
        store.write(WriteBatch::append(entries(1, 1, 4))).unwrap();
        store
            .write(WriteBatch::hard_state(raft_core::HardState { term: Term(1), vote: None, commit: LogIndex(4) }))
            .unwrap();
        store.create_snapshot(LogIndex(3), raft_core::Membership::default(), b"snapshot data".to_vec()).unwrap();
    }
    let files: Vec<_> = std::fs::read_dir(dir.path().join(SNAPSHOT_DIR)).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "exactly the live snapshot file remains: {files:?}");
    std::fs::write(&files[0], b"snapshot dat4").unwrap();
    let store = RocksStore::open(dir.path()).unwrap();
    match store.snapshot() {
        Err(StorageError::Corrupted { what, detail }) => {
            assert!(what.starts_with("snapshot file"), "{what}");
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("expected a corrupted snapshot, got {other:?}"),
    }
    assert_eq!(store.first_index(), Ok(LogIndex(4)), "the log itself is fine");
}

#[test]
fn opening_a_store_twice_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = RocksStore::open(dir.path()).unwrap();
    match RocksStore::open(dir.path()) {
        Err(StoreError::Locked { path, .. }) => assert_eq!(path, dir.path().join(DB_DIR)),
        other => panic!("expected Locked, got {:?}", other.err()),
    }
    drop(first);
    RocksStore::open(dir.path()).expect("open again after closing");
}

#[test]
fn directory_problems_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert!(matches!(RocksStore::open_existing(&missing), Err(StoreError::Directory { .. })));
    assert!(matches!(RocksStore::open_existing(dir.path()), Err(StoreError::NotFound { .. })));
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    assert!(matches!(RocksStore::open(&file), Err(StoreError::Directory { .. })));
    assert!(matches!(RocksStore::open_existing(&file), Err(StoreError::Directory { .. })));
    assert!(matches!(RocksStore::open(file.join("below")), Err(StoreError::Directory { .. })));
}

#[test]
fn leftover_snapshot_files_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(RocksStore::open(dir.path()).unwrap());
    let stray = dir.path().join(SNAPSHOT_DIR).join("snap-00000000000000000001-00000000000000000009-0.bin.tmp");
    std::fs::write(&stray, b"half written").unwrap();
    drop(RocksStore::open(dir.path()).unwrap());
    assert!(!stray.exists(), "an unreferenced snapshot file survived open");
}

#[test]
fn store_errors_map_onto_the_core_read_errors() {
    let compacted = StoreError::Compacted { requested: LogIndex(1), first_index: LogIndex(5) };
    assert_eq!(
        StorageError::from(compacted),
        StorageError::Compacted { requested: LogIndex(1), first_index: LogIndex(5) }
    );
    let gap = StoreError::Gap { expected: LogIndex(2), got: LogIndex(4) };
    assert!(matches!(StorageError::from(gap), StorageError::Backend(msg) if msg.contains("not contiguous")));
    let corrupted = StorageError::Corrupted { what: "log entry 3".into(), detail: "x".into() };
    assert!(matches!(StoreError::from(corrupted), StoreError::Corrupted { what, .. } if what == "log entry 3"));
}

#[test]
fn readers_racing_truncation_and_compaction_never_see_a_torn_log() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RocksStore::open(dir.path()).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (Arc::clone(&store), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    let (first, last) = (store.first_index().unwrap(), store.last_index().unwrap());
                    match store.entries(first, last.next(), Some(4096)) {
                        Ok(got) => assert!(got.iter().zip(first.get()..).all(|(e, i)| e.index.get() == i)),
                        Err(StorageError::Compacted { .. } | StorageError::Unavailable { .. }) => {}
                        Err(e) => panic!("reader saw {e}"),
                    }
                    match store.term(last) {
                        Ok(_) | Err(StorageError::Compacted { .. } | StorageError::Unavailable { .. }) => {}
                        Err(e) => panic!("term lookup saw {e}"),
                    }
                    reads += 1;
                }
            })
        })
        .collect();
    let mut last = 0u64;
    for round in 1..=200u64 {
        store.write(WriteBatch::append(entries(round, last + 1, last + 20))).unwrap();
        last += 20;
        // Overwrite a conflicting suffix, then commit and compact a prefix.
        let batch = WriteBatch { truncate_from: Some(LogIndex(last - 4)), sync: false, ..Default::default() };
        store.write(batch).unwrap();
        last -= 5;
        let hs = raft_core::HardState { term: Term(round), vote: None, commit: LogIndex(last - 5) };
        store.write(WriteBatch { hard_state: Some(hs), sync: false, ..Default::default() }).unwrap();
        if round % 10 == 0 {
            store.create_snapshot(LogIndex(last - 5), raft_core::Membership::default(), vec![round as u8]).unwrap();
        }
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader panicked");
    }
    assert_eq!(store.last_index(), Ok(LogIndex(last)));
}
