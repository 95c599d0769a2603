//! Conformance cases for appending, truncating and reading the log.

use raft_core::storage::limit_size;
use raft_core::{Entry, EntryPayload, HardState, InitialState, LogIndex, NodeId, Storage, Term};

use super::{append, assert_log, assert_unavailable, entries, entry, save_hard_state, Harness};
use crate::{RaftStore, StoreError, WriteBatch};

/// A new store has no log, no hard state and no membership.
pub fn empty_store_reports_an_empty_log<H: Harness>(h: &mut H) {
    let s = h.fresh();
    assert!(s.is_empty(), "a new store is empty");
    assert_log(&s, 1, &[]);
    assert_eq!(s.term(LogIndex(0)), Ok(Term(0)), "the empty prefix has term 0");
    assert_eq!(s.initial_state(), Ok(InitialState::default()));
    assert_eq!(s.entries(LogIndex(1), LogIndex(1), None), Ok(vec![]));
    assert_unavailable(s.entries(LogIndex(1), LogIndex(2), None), 1, 0);
    assert_unavailable(s.term(LogIndex(1)), 1, 0);
}

/// Entries come back in index order, across batches, with their payloads.
pub fn appended_entries_read_back_in_order<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 3));
    append(&s, entries(2, 4, 5));
    let mut all = entries(1, 1, 3);
    all.extend(entries(2, 4, 5));
    assert_log(&s, 1, &all);
    assert_eq!(s.entries(LogIndex(2), LogIndex(5), None), Ok(all[1..4].to_vec()));
    assert!(!s.is_empty());
}

/// Entries and hard state written in one batch are both visible after it.
pub fn hard_state_is_saved_with_the_entries<H: Harness>(h: &mut H) {
    let s = h.fresh();
    let hs = HardState { term: Term(2), vote: Some(NodeId(3)), commit: LogIndex(1) };
    let batch = WriteBatch { hard_state: Some(hs), entries: entries(2, 1, 2), sync: true, ..Default::default() };
    s.write(batch).expect("write");
    assert_eq!(s.initial_state().expect("initial state").hard_state, hs);
    assert_log(&s, 1, &entries(2, 1, 2));
    let unsynced = HardState { commit: LogIndex(2), ..hs };
    s.write(WriteBatch { hard_state: Some(unsynced), ..Default::default() }).expect("unsynced write");
    assert_eq!(s.initial_state().expect("initial state").hard_state, unsynced, "unsynced writes are visible");
}

/// An append that overlaps the log replaces the overlapped suffix (§5.3),
/// whether or not `truncate_from` says so.
pub fn conflicting_suffix_is_overwritten<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 5));
    append(&s, entries(2, 4, 4));
    let mut expect = entries(1, 1, 3);
    expect.push(entry(2, 4));
    assert_log(&s, 1, &expect);
    let batch =
        WriteBatch { truncate_from: Some(LogIndex(3)), entries: entries(3, 3, 6), sync: true, ..Default::default() };
    s.write(batch).expect("truncate and append");
    let mut expect = entries(1, 1, 2);
    expect.extend(entries(3, 3, 6));
    assert_log(&s, 1, &expect);
}

/// `truncate_from` alone removes the suffix; down to an empty log.
pub fn truncation_without_entries_shortens_the_log<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 5));
    s.write(WriteBatch { truncate_from: Some(LogIndex(4)), sync: true, ..Default::default() }).expect("truncate");
    assert_log(&s, 1, &entries(1, 1, 3));
    assert_unavailable(s.entries(LogIndex(1), LogIndex(5), None), 4, 3);
    s.write(WriteBatch { truncate_from: Some(LogIndex(4)), sync: true, ..Default::default() })
        .expect("truncating at last + 1 is a no-op");
    assert_log(&s, 1, &entries(1, 1, 3));
    s.write(WriteBatch { truncate_from: Some(LogIndex(1)), sync: true, ..Default::default() }).expect("truncate all");
    assert_log(&s, 1, &[]);
    append(&s, entries(2, 1, 2));
    assert_log(&s, 1, &entries(2, 1, 2));
}

/// A gap, non-consecutive batch entries or a truncation past the end are
/// refused with a typed error, and the store is unchanged.
pub fn append_with_a_gap_is_refused_and_changes_nothing<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 3));
    let hs = HardState { term: Term(1), vote: None, commit: LogIndex(1) };
    let gap = WriteBatch { hard_state: Some(hs), entries: entries(1, 5, 6), sync: true, ..Default::default() };
    match s.write(gap) {
        Err(StoreError::Gap { expected, got }) => assert_eq!((expected, got), (LogIndex(4), LogIndex(5))),
        other => panic!("expected a gap error, got {other:?}"),
    }
    let holey = vec![entry(1, 4), entry(1, 6)];
    match s.write(WriteBatch::append(holey)) {
        Err(StoreError::BatchNotContiguous { previous, next }) => {
            assert_eq!((previous, next), (LogIndex(4), LogIndex(6)))
        }
        other => panic!("expected a non-contiguous batch error, got {other:?}"),
    }
    let past_end = WriteBatch { truncate_from: Some(LogIndex(5)), sync: true, ..Default::default() };
    assert!(matches!(s.write(past_end), Err(StoreError::Unavailable { .. })), "truncating past last + 1");
    let cut_then_gap =
        WriteBatch { truncate_from: Some(LogIndex(2)), entries: entries(2, 3, 3), sync: true, ..Default::default() };
    assert!(matches!(s.write(cut_then_gap), Err(StoreError::Gap { .. })), "gap after the truncation point");
    assert_log(&s, 1, &entries(1, 1, 3));
    assert_eq!(s.initial_state().expect("initial state").hard_state, HardState::default(), "hard state unchanged");
}

/// Term and commit never decrease and a vote is final within its term.
pub fn hard_state_going_backwards_is_refused<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 5));
    save_hard_state(&s, 3, Some(2), 4);
    let try_save = |term, vote: Option<u64>, commit| {
        let hs = HardState { term: Term(term), vote: vote.map(NodeId), commit: LogIndex(commit) };
        s.write(WriteBatch { hard_state: Some(hs), entries: entries(1, 6, 6), sync: true, ..Default::default() })
    };
    match try_save(3, Some(2), 3) {
        Err(StoreError::CommitRegressed { stored, requested }) => {
            assert_eq!((stored, requested), (LogIndex(4), LogIndex(3)))
        }
        other => panic!("expected CommitRegressed, got {other:?}"),
    }
    assert!(matches!(try_save(2, None, 4), Err(StoreError::TermRegressed { .. })), "term going backwards");
    assert!(matches!(try_save(3, Some(1), 4), Err(StoreError::VoteChanged { .. })), "second vote in a term");
    assert!(matches!(try_save(3, None, 4), Err(StoreError::VoteChanged { .. })), "forgetting a vote");
    assert_log(&s, 1, &entries(1, 1, 5));
    save_hard_state(&s, 4, None, 5);
    assert_eq!(s.initial_state().expect("initial state").hard_state.commit, LogIndex(5));
}

/// A byte cap keeps the longest prefix within the cap, at least one entry:
/// the same rule as `raft_core::storage::limit_size`.
pub fn byte_cap_limits_entries_like_limit_size<H: Harness>(h: &mut H) {
    let s = h.fresh();
    let sized: Vec<Entry> = (1..=8u64)
        .map(|i| Entry::new(Term(1), LogIndex(i), EntryPayload::Normal(vec![i as u8; (i * 10) as usize].into())))
        .collect();
    append(&s, sized.clone());
    for (lo, hi) in [(1u64, 9u64), (3, 7), (8, 9)] {
        let all = sized[(lo - 1) as usize..(hi - 1) as usize].to_vec();
        for cap in [0u64, 1, 34, 35, 60, 100, 200, 10_000] {
            let mut want = all.clone();
            limit_size(&mut want, Some(cap));
            let got = s.entries(LogIndex(lo), LogIndex(hi), Some(cap)).expect("capped read");
            assert_eq!(got, want, "entries [{lo}, {hi}) with cap {cap}");
            assert!(!got.is_empty(), "a capped read returns at least one entry");
        }
        assert_eq!(s.entries(LogIndex(lo), LogIndex(hi), None), Ok(all));
    }
}
