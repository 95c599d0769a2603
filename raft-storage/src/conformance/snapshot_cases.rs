//! Conformance cases for snapshots: local creation with compaction, and
//! installation from a leader (Figure 13).

use raft_core::{LogId, LogIndex, Snapshot, SnapshotMeta, Storage, Term};

use super::{
    append, assert_compacted, assert_log, assert_unavailable, entries, entry, save_hard_state, voters, Harness,
};
use crate::{RaftStore, StoreError, WriteBatch};

fn snapshot(term: u64, index: u64, data: &[u8]) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta { last_log_id: LogId::new(Term(term), LogIndex(index)), membership: voters(&[1, 2, 3]) },
        data: data.to_vec(),
    }
}

/// Reads at or below the snapshot are `Compacted`, past the end
/// `Unavailable`; the snapshot's own index still answers `term`.
pub fn reads_outside_the_log_are_compacted_or_unavailable<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 3));
    append(&s, entries(2, 4, 10));
    save_hard_state(&s, 2, None, 6);
    s.create_snapshot(LogIndex(5), voters(&[1]), b"state".to_vec()).expect("create snapshot");
    assert_compacted(s.entries(LogIndex(5), LogIndex(7), None), 5, 6);
    assert_compacted(s.term(LogIndex(4)), 4, 6);
    assert_eq!(s.term(LogIndex(5)), Ok(Term(2)), "the snapshot index keeps its term");
    assert_unavailable(s.term(LogIndex(11)), 11, 10);
    assert_unavailable(s.entries(LogIndex(6), LogIndex(12), None), 11, 10);
    assert_eq!(s.entries(LogIndex(6), LogIndex(6), None), Ok(vec![]));
}

/// A local snapshot records its meta and data and drops the log up to its
/// index, leaving the rest untouched (§7).
pub fn create_snapshot_compacts_the_prefix_and_records_meta<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 3));
    append(&s, entries(2, 4, 10));
    save_hard_state(&s, 2, None, 8);
    s.create_snapshot(LogIndex(5), voters(&[1, 2]), b"five".to_vec()).expect("create snapshot");
    let snap = s.snapshot().expect("read snapshot");
    assert_eq!(snap.meta.last_log_id, LogId::new(Term(2), LogIndex(5)));
    assert_eq!(snap.meta.membership, voters(&[1, 2]));
    assert_eq!(snap.data, b"five");
    assert_log(&s, 6, &entries(2, 6, 10));
    assert_eq!(s.initial_state().expect("initial state").membership, voters(&[1, 2]));
    s.create_snapshot(LogIndex(8), voters(&[1, 2, 3]), vec![7; 4096]).expect("second snapshot");
    assert_eq!(s.snapshot().expect("read snapshot").data, vec![7; 4096]);
    assert_log(&s, 9, &entries(2, 9, 10));
    append(&s, entries(3, 11, 12));
    assert_eq!(s.last_index(), Ok(LogIndex(12)));
}

/// Snapshots cover committed entries still in the log, nothing else.
pub fn create_snapshot_refuses_uncommitted_or_missing_indices<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 6));
    save_hard_state(&s, 1, None, 3);
    match s.create_snapshot(LogIndex(5), voters(&[1]), vec![]) {
        Err(StoreError::SnapshotNotCommitted { index, commit }) => {
            assert_eq!((index, commit), (LogIndex(5), LogIndex(3)))
        }
        other => panic!("expected SnapshotNotCommitted, got {other:?}"),
    }
    assert!(matches!(s.create_snapshot(LogIndex(7), voters(&[1]), vec![]), Err(StoreError::Unavailable { .. })));
    s.create_snapshot(LogIndex(3), voters(&[1]), vec![]).expect("snapshot at the commit index");
    assert!(matches!(s.create_snapshot(LogIndex(3), voters(&[1]), vec![]), Err(StoreError::Compacted { .. })));
    assert!(matches!(s.create_snapshot(LogIndex(2), voters(&[1]), vec![]), Err(StoreError::Compacted { .. })));
    assert_log(&s, 4, &entries(1, 4, 6));
}

/// Figure 13 rule 6: the log holds the snapshot's last entry, so the entries
/// after it stay; a commit index already past the snapshot stays.
pub fn install_snapshot_keeps_a_matching_suffix<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 10));
    save_hard_state(&s, 1, None, 7);
    s.install_snapshot(&snapshot(1, 5, b"leader state")).expect("install");
    assert_log(&s, 6, &entries(1, 6, 10));
    assert_eq!(s.term(LogIndex(5)), Ok(Term(1)));
    assert_eq!(s.snapshot(), Ok(snapshot(1, 5, b"leader state")));
    let state = s.initial_state().expect("initial state");
    assert_eq!(state.hard_state.commit, LogIndex(7), "commit never decreases");
    assert_eq!(state.membership, voters(&[1, 2, 3]));
}

/// Figure 13 rule 7: the entry at the snapshot index has another term, so
/// the whole log goes; the commit index rises to the snapshot index.
pub fn install_snapshot_discards_a_conflicting_log<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 10));
    save_hard_state(&s, 2, None, 2);
    s.install_snapshot(&snapshot(2, 5, b"x")).expect("install");
    assert_log(&s, 6, &[]);
    assert_eq!(s.term(LogIndex(5)), Ok(Term(2)));
    assert_eq!(s.initial_state().expect("initial state").hard_state.commit, LogIndex(5), "commit >= snapshot index");
    append(&s, vec![entry(2, 6)]);
    assert_log(&s, 6, &[entry(2, 6)]);
}

/// A snapshot beyond the end of the log replaces all of it.
pub fn install_snapshot_past_the_log_discards_it<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 3));
    s.install_snapshot(&snapshot(1, 8, b"")).expect("install");
    assert_log(&s, 9, &[]);
    assert_eq!(s.term(LogIndex(8)), Ok(Term(1)));
    assert_eq!(s.initial_state().expect("initial state").hard_state.commit, LogIndex(8));
}

/// A snapshot no newer than the stored one is refused and changes nothing.
pub fn stale_snapshot_is_refused<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 10));
    s.install_snapshot(&snapshot(1, 5, b"five")).expect("install");
    for (term, index) in [(1, 5), (1, 3), (2, 5)] {
        match s.install_snapshot(&snapshot(term, index, b"old")) {
            Err(StoreError::StaleSnapshot { requested, current }) => {
                assert_eq!(requested, LogId::new(Term(term), LogIndex(index)));
                assert_eq!(current, LogId::new(Term(1), LogIndex(5)));
            }
            other => panic!("expected StaleSnapshot for {term}-{index}, got {other:?}"),
        }
    }
    assert_eq!(s.snapshot(), Ok(snapshot(1, 5, b"five")));
    assert_log(&s, 6, &entries(1, 6, 10));
}

/// After a snapshot, entries it covers are skipped on append and the
/// covered prefix cannot be truncated.
pub fn appends_after_a_snapshot_skip_covered_entries<H: Harness>(h: &mut H) {
    let s = h.fresh();
    s.install_snapshot(&snapshot(1, 5, b"")).expect("install");
    append(&s, entries(1, 4, 7));
    assert_log(&s, 6, &entries(1, 6, 7));
    let cut = WriteBatch { truncate_from: Some(LogIndex(5)), sync: true, ..Default::default() };
    assert!(matches!(s.write(cut), Err(StoreError::Compacted { .. })), "truncating into the snapshot");
    append(&s, entries(2, 5, 5));
    assert_log(&s, 6, &entries(1, 6, 7));
}
