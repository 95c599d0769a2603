//! Installing a leader's snapshot from the file it was streamed into
//! (issue #17, point 4, receive side): the file is renamed into the
//! snapshot directory (never copied nor read into memory), the log follows
//! Figure 13 rules 6–7, the result survives a reopen, and the states a
//! crash can leave between the steps keep the previous snapshot intact.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use raft_core::{Entry, EntryPayload, HardState, LogId, LogIndex, Membership, NodeId, SnapshotMeta, Storage, Term};
use raft_storage::{layout, RaftStore, RocksStore, StagedFile, StoreError, WriteBatch};

fn store_with_commit(dir: &Path, last: u64) -> RocksStore {
    let store = RocksStore::open(dir).unwrap();
    let entries = (1..=last).map(|i| Entry::new(Term(1), LogIndex(i), EntryPayload::Normal(vec![i as u8; 8].into())));
    store.write(WriteBatch::append(entries.collect())).unwrap();
    store.write(WriteBatch::hard_state(HardState { term: Term(1), vote: None, commit: LogIndex(last) })).unwrap();
    store
}

fn meta(term: u64, index: u64) -> SnapshotMeta {
    SnapshotMeta { last_log_id: LogId::new(Term(term), LogIndex(index)), membership: Membership::new([NodeId(1)]) }
}

/// Writes `data` where a receiver would have streamed it.
fn stage(store: &RocksStore, name: &str, data: &[u8]) -> PathBuf {
    let dir = store.staging_dir();
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, data).unwrap();
    path
}

fn snapshot_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(data_dir.join(layout::SNAPSHOT_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("snap-"))
        .collect();
    files.sort();
    files
}

fn current_data(store: &RocksStore) -> Vec<u8> {
    let mut data = Vec::new();
    store.open_snapshot().unwrap().read_to_end(&mut data).unwrap();
    data
}

#[test]
fn a_staged_snapshot_is_installed_by_rename_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_commit(dir.path(), 10);
    store.create_snapshot(LogIndex(5), Membership::new([NodeId(1)]), vec![1u8; 1000]).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let staged = stage(&store, "stream-1.part", &data);
    let inode = fs::metadata(&staged).unwrap().ino();
    assert_eq!(staged.parent().unwrap(), dir.path().join(layout::SNAPSHOT_DIR).join(layout::INCOMING_DIR));

    let file = StagedFile { path: &staged, len: data.len() as u64, crc32: crc32fast::hash(&data) };
    store.install_staged_snapshot(&meta(2, 20), file).unwrap();

    assert!(!staged.exists(), "the staged file was moved, not copied");
    let files = snapshot_files(dir.path());
    assert_eq!(files.len(), 1, "the previous snapshot's file is gone: {files:?}");
    assert_eq!(fs::metadata(&files[0]).unwrap().ino(), inode, "the snapshot file is the staged file, renamed");
    let reader = store.open_snapshot().unwrap();
    assert_eq!((reader.len(), reader.crc32()), (data.len() as u64, crc32fast::hash(&data)));
    assert_eq!(current_data(&store), data);
    // Figure 13 rule 7: the snapshot is past the log, so the log is dropped.
    assert_eq!((store.first_index().unwrap(), store.last_index().unwrap()), (LogIndex(21), LogIndex(20)));
    assert_eq!(store.initial_state().unwrap().hard_state.commit, LogIndex(20));

    drop(store);
    let store = RocksStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot_meta(), meta(2, 20));
    assert_eq!(current_data(&store), data, "the installed snapshot is durable");
}

#[test]
fn a_short_staged_file_or_a_stale_snapshot_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_commit(dir.path(), 10);
    let old = vec![3u8; 500];
    store.create_snapshot(LogIndex(8), Membership::new([NodeId(1)]), old.clone()).unwrap();
    let data = vec![9u8; 4096];
    let staged = stage(&store, "stream-2.part", &data);

    let long = StagedFile { path: &staged, len: 5000, crc32: crc32fast::hash(&data) };
    let err = store.install_staged_snapshot(&meta(2, 20), long).unwrap_err();
    assert!(matches!(err, StoreError::StagedSnapshot { .. }), "{err}");
    assert!(err.to_string().contains("4096 bytes on disk, 5000 announced"), "{err}");

    let file = StagedFile { path: &staged, len: data.len() as u64, crc32: crc32fast::hash(&data) };
    let err = store.install_staged_snapshot(&meta(1, 8), file).unwrap_err();
    assert!(matches!(err, StoreError::StaleSnapshot { .. }), "{err}");

    assert!(staged.exists(), "a refused staged file stays with its owner, who deletes it");
    assert_eq!(store.snapshot_meta().last_log_id, LogId::new(Term(1), LogIndex(8)));
    assert_eq!(current_data(&store), old);
    assert_eq!(snapshot_files(dir.path()).len(), 1);
}

/// The install is crash-safe: a crash before the rename leaves the data in
/// `incoming/` (the receiver's to clear), one between the rename and the
/// record leaves a `snap-` file no record points at. Both are reproduced
/// on disk here; the reopened store keeps its previous snapshot, deletes
/// the orphan, and installs the same snapshot again afterwards.
#[test]
fn a_crash_between_the_steps_keeps_the_previous_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_commit(dir.path(), 10);
    let old = vec![5u8; 2000];
    store.create_snapshot(LogIndex(6), Membership::new([NodeId(1)]), old.clone()).unwrap();
    let data = vec![8u8; 10_000];
    let staged = stage(&store, "stream-3.part", &data);
    drop(store);
    // The state after a rename whose record write never happened.
    let orphan = dir.path().join(layout::SNAPSHOT_DIR).join(format!("snap-{:020}-{:020}-0.bin", 2, 20));
    fs::write(&orphan, &data).unwrap();

    let store = RocksStore::open(dir.path()).unwrap();
    assert!(!orphan.exists(), "a snapshot file no record points at is deleted at open");
    assert_eq!(store.snapshot_meta().last_log_id, LogId::new(Term(1), LogIndex(6)));
    assert_eq!(current_data(&store), old, "the previous snapshot is intact");
    assert_eq!(store.last_index().unwrap(), LogIndex(10), "and so is the log after it");

    let file = StagedFile { path: &staged, len: data.len() as u64, crc32: crc32fast::hash(&data) };
    store.install_staged_snapshot(&meta(2, 20), file).unwrap();
    assert_eq!(current_data(&store), data);
}
