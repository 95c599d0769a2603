//! Scans by prefix and range, with limits and paging.

mod common;

use common::*;
use raft_statemachine::{KvError, KvLimits, KvQuery, KvQueryResult, KvStore, ScanRange, StateMachine};

fn store_with(keys: &[&str]) -> KvStore {
    let mut s = KvStore::default();
    for (i, k) in keys.iter().enumerate() {
        apply(&mut s, &req(1, i as u64 + 1, put(k, &format!("v{k}"))));
    }
    s
}

fn keys(result: Result<KvQueryResult, KvError>) -> (Vec<String>, Option<String>) {
    match result.expect("scan succeeds") {
        KvQueryResult::Scan { pairs, next_key } => (
            pairs.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()).collect(),
            next_key.map(|k| String::from_utf8(k).unwrap()),
        ),
        other => panic!("expected a scan result, got {other:?}"),
    }
}

#[test]
fn prefix_scan_returns_matching_keys_in_order() {
    let s = store_with(&["b/2", "a/1", "b/1", "c", "b", "b0"]);
    let q = KvQuery::Scan { range: ScanRange::Prefix(b"b/".to_vec()), limit: 10 };
    assert_eq!(keys(s.query(&q)), (vec!["b/1".into(), "b/2".into()], None));
}

#[test]
fn range_scan_is_half_open_and_pages_with_next_key() {
    let s = store_with(&["a", "b", "c", "d", "e"]);
    let range = ScanRange::Range { start: b"b".to_vec(), end: Some(b"e".to_vec()) };
    let (page, next) = keys(s.query(&KvQuery::Scan { range: range.clone(), limit: 2 }));
    assert_eq!((page, next.clone()), (vec!["b".into(), "c".into()], Some("d".into())));
    let resumed = range.resume_at(next.unwrap().into_bytes());
    assert_eq!(keys(s.query(&KvQuery::Scan { range: resumed, limit: 2 })), (vec!["d".into()], None));
}

#[test]
fn unbounded_range_scan_reaches_the_end() {
    let s = store_with(&["a", "b", "c"]);
    let q = KvQuery::Scan { range: ScanRange::Range { start: b"b".to_vec(), end: None }, limit: 5 };
    assert_eq!(keys(s.query(&q)), (vec!["b".into(), "c".into()], None));
}

#[test]
fn scan_limit_above_cap_or_zero_is_an_error() {
    let s = store_with(&["a"]);
    let cap = KvLimits::default().max_scan_limit;
    let range = ScanRange::Prefix(vec![]);
    assert_eq!(
        s.query(&KvQuery::Scan { range: range.clone(), limit: cap + 1 }),
        Err(KvError::ScanLimitTooLarge { requested: u64::from(cap) + 1, max: u64::from(cap) })
    );
    assert_eq!(s.query(&KvQuery::Scan { range: range.clone(), limit: 0 }), Err(KvError::ScanLimitZero));
    assert!(s.query(&KvQuery::Scan { range, limit: cap }).is_ok());
}

#[test]
fn inverted_range_is_an_error_not_a_panic() {
    let s = store_with(&["a"]);
    let q = KvQuery::Scan { range: ScanRange::Range { start: b"z".to_vec(), end: Some(b"a".to_vec()) }, limit: 1 };
    assert_eq!(s.query(&q), Err(KvError::InvalidRange));
}

#[test]
fn scan_stops_at_the_byte_budget_but_always_returns_one_pair() {
    let limits = KvLimits { max_scan_bytes: 5, ..KvLimits::default() };
    let mut s = KvStore::new(raft_statemachine::KvConfig { limits, ..Default::default() });
    apply(&mut s, &req(1, 1, put("a", "1234567890")));
    apply(&mut s, &req(1, 2, put("b", "1")));
    let q = KvQuery::Scan { range: ScanRange::Prefix(vec![]), limit: 10 };
    assert_eq!(keys(s.query(&q)), (vec!["a".into()], Some("b".into())));
}
