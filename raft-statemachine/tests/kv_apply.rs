//! Applying commands: responses, non-command entries, ordering, malformed data.

mod common;

use common::*;
use raft_core::{Entry, EntryPayload, LogIndex, Membership, NodeId, Term};
use raft_statemachine::{KvError, KvQuery, KvQueryResult, KvResponse, KvStore, StateMachine, StateMachineError};

#[test]
fn put_get_delete_cas_sequence_yields_expected_responses() {
    let mut s = KvStore::default();
    let steps: Vec<(_, KvResponse)> = vec![
        (put("a", "1"), KvResponse::Put { prev: None }),
        (put("a", "2"), KvResponse::Put { prev: some("1") }),
        (cas("a", Some("1"), Some("3")), KvResponse::Cas { swapped: false, current: some("2") }),
        (cas("a", Some("2"), Some("3")), KvResponse::Cas { swapped: true, current: some("3") }),
        (cas("b", None, Some("x")), KvResponse::Cas { swapped: true, current: some("x") }),
        (cas("b", None, Some("y")), KvResponse::Cas { swapped: false, current: some("x") }),
        (cas("b", Some("x"), None), KvResponse::Cas { swapped: true, current: None }),
        (delete("a"), KvResponse::Delete { prev: some("3") }),
        (delete("a"), KvResponse::Delete { prev: None }),
        (put("c", "9"), KvResponse::Put { prev: None }),
    ];
    for (seq, (op, expected)) in steps.into_iter().enumerate() {
        assert_eq!(apply(&mut s, &req(1, seq as u64 + 1, op)), expected, "step {seq}");
    }
    assert_eq!(s.applied_index(), LogIndex(10));
    assert_eq!(s.query(&KvQuery::Get { key: b"a".to_vec() }), Ok(KvQueryResult::Get { value: None }));
    assert_eq!(s.query(&KvQuery::Get { key: b"b".to_vec() }), Ok(KvQueryResult::Get { value: None }));
    assert_eq!(s.query(&KvQuery::Get { key: b"c".to_vec() }), Ok(KvQueryResult::Get { value: some("9") }));
    assert_eq!(s.len(), 1);
}

#[test]
fn noop_and_membership_entries_advance_applied_index_without_response() {
    let mut s = KvStore::default();
    let m = Membership::new([NodeId(1), NodeId(2), NodeId(3)]);
    assert_eq!(s.apply(&Entry::new(Term(1), LogIndex(1), EntryPayload::Noop)).unwrap(), None);
    assert_eq!(s.apply(&Entry::new(Term(1), LogIndex(2), EntryPayload::Membership(m.clone()))).unwrap(), None);
    assert_eq!(s.applied_index(), LogIndex(2));
    let (meta, _) = s.snapshot_to_vec().unwrap();
    assert_eq!(meta.last_log_id.index, LogIndex(2));
    assert_eq!(meta.membership, m, "snapshot meta carries the last applied membership");
}

#[test]
fn out_of_order_index_is_rejected_and_state_unchanged() {
    let mut s = KvStore::default();
    apply(&mut s, &req(1, 1, put("k", "v")));
    let before = s.clone();
    for bad in [1, 3, 100] {
        let err = s.apply(&entry(bad, &req(1, 2, put("k", "w")))).unwrap_err();
        assert!(
            matches!(err, StateMachineError::OutOfOrder { expected: LogIndex(2), got } if got == LogIndex(bad)),
            "index {bad}: {err}"
        );
        assert_eq!(s, before, "a rejected apply changes nothing");
    }
    assert_eq!(apply(&mut s, &req(1, 2, put("k", "w"))), KvResponse::Put { prev: some("v") });
}

#[test]
fn malformed_command_is_rejected_deterministically_without_panicking() {
    let mut a = KvStore::default();
    let mut b = KvStore::default();
    for (i, garbage) in [vec![], vec![0xff; 3], vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 7, 0xff]]
        .into_iter()
        .enumerate()
    {
        let e = Entry::new(Term(2), LogIndex(i as u64 + 1), EntryPayload::Normal(garbage.into()));
        let ra = a.apply(&e).unwrap().unwrap();
        let rb = b.apply(&e).unwrap().unwrap();
        assert!(matches!(&ra, KvResponse::Rejected(KvError::Malformed { .. })), "{ra:?}");
        assert_eq!(ra, rb, "every replica rejects the same way");
    }
    assert_eq!(a, b);
    assert!(a.is_empty());
    assert_eq!(a.applied_index(), LogIndex(3), "a rejected command still occupies its index");
}

#[test]
fn trailing_bytes_after_a_valid_command_are_malformed() {
    let mut s = KvStore::default();
    let mut bytes = req(1, 1, put("k", "v")).encode().unwrap();
    bytes.push(0);
    let r = s.apply(&Entry::new(Term(1), LogIndex(1), EntryPayload::Normal(bytes.into()))).unwrap().unwrap();
    assert!(matches!(r, KvResponse::Rejected(KvError::Malformed { .. })), "{r:?}");
    assert!(s.get(b"k").is_none());
}
