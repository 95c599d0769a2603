//! RaftLog: stable view + unstable tail.

use super::*;
use crate::storage::MemStorage;
use crate::test_util::{membership, noop, normal};

fn log_with(entries: &[Entry]) -> RaftLog<MemStorage> {
    let s = MemStorage::new_with_membership(membership(&[1]));
    s.wl().append(entries);
    RaftLog::new(s, LogIndex(0)).unwrap()
}

#[test]
fn appended_entries_are_handed_out_once_and_stable_after_advance() {
    let mut log = log_with(&[noop(1, 1)]);
    log.append(vec![normal(2, 2, b"a"), normal(2, 3, b"b")]);
    assert_eq!(log.last_index(), LogIndex(3));
    let (t, e) = log.take_ready_entries();
    assert_eq!((t, e.len()), (None, 2));
    assert!(!log.has_ready_entries());
    assert_eq!(log.persisted(), LogIndex(1));
    log.storage().wl().append(&e);
    log.stable_to(LogId::new(Term(2), LogIndex(3)));
    assert_eq!(log.persisted(), LogIndex(3));
    assert!(!log.has_unpersisted());
}

#[test]
fn truncating_into_storage_sets_truncate_from() {
    // §5.3: a conflicting suffix is deleted before the new entries.
    let mut log = log_with(&[noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b")]);
    log.truncate_and_append(vec![normal(2, 2, b"x")]);
    assert_eq!(log.last_index(), LogIndex(2));
    assert_eq!(log.term(LogIndex(2)).unwrap(), Term(2));
    assert_eq!(log.persisted(), LogIndex(1));
    let (t, e) = log.take_ready_entries();
    assert_eq!(t, Some(LogIndex(2)));
    assert_eq!(e, vec![normal(2, 2, b"x")]);
}

#[test]
fn truncating_unhanded_unstable_needs_no_truncate_from() {
    let mut log = log_with(&[noop(1, 1)]);
    log.append(vec![normal(1, 2, b"a"), normal(1, 3, b"b")]);
    log.truncate_and_append(vec![normal(2, 3, b"x")]);
    let (t, e) = log.take_ready_entries();
    assert_eq!(t, None);
    assert_eq!(e, vec![normal(1, 2, b"a"), normal(2, 3, b"x")]);
}

#[test]
fn truncating_handed_out_unstable_entries_sets_truncate_from() {
    let mut log = log_with(&[noop(1, 1)]);
    log.append(vec![normal(1, 2, b"a"), normal(1, 3, b"b")]);
    let _ = log.take_ready_entries();
    log.truncate_and_append(vec![normal(2, 3, b"x")]);
    let (t, e) = log.take_ready_entries();
    assert_eq!(t, Some(LogIndex(3)));
    assert_eq!(e, vec![normal(2, 3, b"x")]);
    // The stale write (term 1 at index 3) must not count as durable.
    log.stable_to(LogId::new(Term(1), LogIndex(3)));
    assert_eq!(log.persisted(), LogIndex(1));
}

#[test]
fn entries_span_storage_and_unstable_within_byte_limit() {
    let mut log = log_with(&[noop(1, 1), normal(1, 2, b"aaaa")]);
    log.append(vec![normal(1, 3, b"bbbb")]);
    let all = log.entries(LogIndex(1), LogIndex(4), None).unwrap();
    assert_eq!(all.len(), 3);
    let two = noop(1, 1).size_bytes() + normal(1, 2, b"aaaa").size_bytes();
    assert_eq!(log.entries(LogIndex(1), LogIndex(4), Some(two)).unwrap().len(), 2);
    assert_eq!(log.entries(LogIndex(1), LogIndex(4), Some(1)).unwrap().len(), 1, "always at least one");
    assert!(matches!(log.entries(LogIndex(1), LogIndex(5), None), Err(StorageError::Unavailable { .. })));
}

#[test]
fn restore_keeps_matching_suffix_or_discards_log() {
    // Figure 13 rules 6 and 7.
    let snap = |term, index| Snapshot {
        meta: crate::types::SnapshotMeta {
            last_log_id: LogId::new(Term(term), LogIndex(index)),
            membership: membership(&[1]),
        },
        data: vec![],
    };
    let mut log = log_with(&[noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b")]);
    log.restore(snap(1, 2)).unwrap();
    assert_eq!(
        (log.first_index().unwrap(), log.last_index(), log.committed()),
        (LogIndex(3), LogIndex(3), LogIndex(2))
    );
    assert_eq!(log.term(LogIndex(2)).unwrap(), Term(1));
    assert!(matches!(log.term(LogIndex(1)), Err(StorageError::Compacted { .. })));

    let mut log = log_with(&[noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b")]);
    log.restore(snap(3, 2)).unwrap();
    assert_eq!(log.last_index(), LogIndex(2));
    assert_eq!(log.applied(), LogIndex(2));
}

#[test]
fn commit_past_last_index_in_storage_is_corruption() {
    let s = MemStorage::new_with_membership(membership(&[1]));
    assert!(matches!(RaftLog::new(s, LogIndex(3)), Err(StorageError::Corrupted { .. })));
}

mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Append(u8),
        Truncate(u8, u8),
        Ready,
        Advance,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u8..4).prop_map(Op::Append),
            (0u8..6, 1u8..4).prop_map(|(back, n)| Op::Truncate(back, n)),
            Just(Op::Ready),
            Just(Op::Advance),
        ]
    }

    proptest! {
        /// The log view always equals a plain model log, and what the Readies
        /// tell storage to write (truncate_from + entries) reproduces it:
        /// storage holds the model up to `persisted`.
        #[test]
        fn log_view_and_storage_follow_the_model(ops in proptest::collection::vec(op(), 1..60)) {
            let mut log = log_with(&[]);
            let store = log.storage().clone();
            let mut model: Vec<Entry> = Vec::new();
            let mut term = 1u64;
            let mut handed: Vec<LogId> = Vec::new();
            for op in ops {
                match op {
                    Op::Append(n) => {
                        let start = model.len() as u64 + 1;
                        let new: Vec<Entry> = (0..n as u64).map(|k| noop(term, start + k)).collect();
                        model.extend(new.iter().cloned());
                        log.append(new);
                    }
                    Op::Truncate(back, n) => {
                        let last = model.len() as u64;
                        let at = last.saturating_sub(back as u64).max(1).min(last + 1);
                        term += 1;
                        let new: Vec<Entry> = (0..n as u64).map(|k| noop(term, at + k)).collect();
                        model.truncate(at as usize - 1);
                        model.extend(new.iter().cloned());
                        log.truncate_and_append(new);
                    }
                    Op::Ready => {
                        let (truncate, entries) = log.take_ready_entries();
                        if let Some(t) = truncate {
                            prop_assert_eq!(Some(t), entries.first().map(|e| e.index));
                        }
                        store.wl().append(&entries);
                        if let Some(e) = entries.last() {
                            handed.push(e.log_id());
                        }
                    }
                    Op::Advance => {
                        if !handed.is_empty() {
                            log.stable_to(handed.remove(0));
                        }
                    }
                }
                log.check();
                prop_assert_eq!(log.last_index(), LogIndex(model.len() as u64));
                let view = log.entries(LogIndex(1), log.last_index().next(), None).unwrap();
                prop_assert_eq!(&view, &model);
                let p = log.persisted().0 as usize;
                let stored = store.entries(LogIndex(1), LogIndex(p as u64 + 1), None).unwrap();
                prop_assert_eq!(&stored[..], &model[..p], "storage must hold the model up to persisted");
            }
        }
    }
}
