//! Exactly-once sessions: dedup of retries, stale and expired sequences,
//! deterministic expiry and bounded memory.

mod common;

use common::*;
use raft_statemachine::{KvConfig, KvError, KvResponse, KvStore, SessionConfig};

fn store(sessions: SessionConfig) -> KvStore {
    KvStore::new(KvConfig { sessions, ..KvConfig::default() })
}

#[test]
fn retried_put_returns_original_response_and_applies_once() {
    let mut s = KvStore::default();
    apply(&mut s, &req(9, 1, put("k", "a")));
    let first = apply(&mut s, &req(1, 1, put("k", "b")));
    assert_eq!(first, KvResponse::Put { prev: some("a") });
    apply(&mut s, &req(9, 2, put("k", "c")));
    let retry = apply(&mut s, &req(1, 1, put("k", "b")));
    assert_eq!(retry, first, "the retry gets the original response");
    assert_eq!(s.get(b"k"), Some(&b"c"[..]), "the retry was not applied again");
}

#[test]
fn cas_retried_after_success_returns_success_though_value_changed() {
    let mut s = KvStore::default();
    let first = apply(&mut s, &req(1, 1, cas("k", None, Some("mine"))));
    assert_eq!(first, KvResponse::Cas { swapped: true, current: some("mine") });
    apply(&mut s, &req(2, 1, put("k", "theirs")));
    let retry = apply(&mut s, &req(1, 1, cas("k", None, Some("mine"))));
    assert_eq!(retry, first, "a re-evaluated CAS would fail; the session answers with the original success");
    assert_eq!(s.get(b"k"), Some(&b"theirs"[..]));
}

#[test]
fn pipelined_sequences_may_commit_out_of_order_above_the_floor() {
    let mut s = KvStore::default();
    assert_eq!(apply(&mut s, &req(1, 1, put("a", "1"))), KvResponse::Put { prev: None });
    assert_eq!(apply(&mut s, &req(1, 3, put("c", "3"))), KvResponse::Put { prev: None });
    assert_eq!(apply(&mut s, &req(1, 2, put("b", "2"))), KvResponse::Put { prev: None });
    assert_eq!(apply(&mut s, &retry(1, 3, put("c", "X"))), KvResponse::Put { prev: None }, "dup of seq 3");
    assert_eq!(s.get(b"b"), Some(&b"2"[..]));
    assert_eq!(s.get(b"c"), Some(&b"3"[..]));
}

#[test]
fn sequence_older_than_the_window_is_stale_and_not_applied() {
    let mut s = store(SessionConfig { window: 2, ..SessionConfig::default() });
    for seq in 1..=3 {
        apply(&mut s, &req(1, seq, put("k", &seq.to_string())));
    }
    // Seq 1 has been forgotten (window 2 keeps 2 and 3).
    let r = apply(&mut s, &req(1, 1, put("k", "again")));
    assert_eq!(r, KvResponse::Rejected(KvError::StaleSequence { client_id: 1, seq: 1, oldest_retained: 2 }));
    assert_eq!(s.get(b"k"), Some(&b"3"[..]));
    assert_eq!(apply(&mut s, &req(1, 2, put("k", "x"))), KvResponse::Put { prev: some("1") }, "seq 2 still cached");
}

#[test]
fn a_first_attempt_opens_a_session_at_any_seq_but_a_retry_without_one_is_refused() {
    let mut s = store(SessionConfig { window: 4, ..SessionConfig::default() });
    let r = apply(&mut s, &retry(5, 5, put("k", "v")));
    assert_eq!(r, KvResponse::Rejected(KvError::SessionExpired { client_id: 5, seq: 5 }));
    assert!(s.get(b"k").is_none());
    assert_eq!(s.session_count(), 0, "a refused request opens no session");
    assert_eq!(apply(&mut s, &req(5, 40, put("k", "v"))), KvResponse::Put { prev: None }, "first attempt opens");
    let r = apply(&mut s, &req(5, 39, put("k", "old")));
    assert!(matches!(r, KvResponse::Rejected(KvError::StaleSequence { .. })), "below the new floor: {r:?}");
}

#[test]
fn session_unused_for_more_than_ttl_entries_expires_by_log_index() {
    let cfg = SessionConfig { ttl_entries: 10, window: 2, ..SessionConfig::default() };
    let mut s = store(cfg);
    for seq in 1..=3 {
        apply(&mut s, &req(1, seq, put("k", "v"))); // last used at index 3
    }
    noops(&mut s, 9); // the next entry is 13: 13 - 3 = 10, not more than the TTL
    assert_eq!(s.session_count(), 1);
    assert_eq!(apply(&mut s, &retry(1, 3, put("k", "w"))), KvResponse::Put { prev: some("v") }, "still deduped");
    noops(&mut s, 10); // last used at 13; the next entry is 24: 24 - 13 = 11 > 10
    let r = apply(&mut s, &retry(1, 3, put("k", "z")));
    assert_eq!(r, KvResponse::Rejected(KvError::SessionExpired { client_id: 1, seq: 3 }), "never a second apply");
    assert_eq!(s.session_count(), 0);
    assert_eq!(apply(&mut s, &req(1, 4, put("k", "z"))), KvResponse::Put { prev: some("v") }, "next seq reopens");
}

#[test]
fn max_sessions_evicts_the_least_recently_used_by_log_index() {
    let mut s = store(SessionConfig { max_sessions: 3, window: 1, ..SessionConfig::default() });
    for client in 1..=3 {
        apply(&mut s, &req(client, 1, put("k", "v")));
    }
    apply(&mut s, &retry(1, 1, put("k", "v"))); // touch client 1: client 2 is now the LRU
    apply(&mut s, &req(4, 1, put("k", "v")));
    assert_eq!(s.session_count(), 3);
    assert_eq!(
        apply(&mut s, &retry(2, 1, put("k", "v"))),
        KvResponse::Rejected(KvError::SessionExpired { client_id: 2, seq: 1 })
    );
    assert_eq!(apply(&mut s, &retry(1, 1, put("k", "other"))), KvResponse::Put { prev: None }, "client 1 kept");
}

/// Issue #17 point 3: far more active clients than the table holds, each
/// retrying every command after other clients may have evicted its session.
/// No retry is ever applied a second time, and no client is locked out:
/// every first attempt applies. (Before the fix a retry of a seq within the
/// first window re-opened an evicted session and applied again, and a first
/// attempt past it was refused with SessionExpired.)
#[test]
fn more_clients_than_the_table_holds_never_apply_a_retry_twice() {
    let cfg = SessionConfig { max_sessions: 8, window: 4, ..SessionConfig::default() };
    let mut s = store(cfg);
    let clients = 40u64;
    let op = |client: u64, seq: u64| {
        let prev = (seq > 1).then(|| (seq - 1).to_string());
        cas(&format!("c{client}"), prev.as_deref(), Some(&seq.to_string()))
    };
    let (mut deduped, mut refused) = (0, 0);
    for seq in 1..=6u64 {
        let mut firsts = Vec::new();
        for client in 1..=clients {
            let first = apply(&mut s, &req(client, seq, op(client, seq)));
            assert_eq!(first, KvResponse::Cas { swapped: true, current: some(&seq.to_string()) }, "c{client}#{seq}");
            firsts.push(first);
        }
        // Every client retries after the others' first attempts evicted most sessions.
        for (client, first) in (1..=clients).zip(firsts) {
            let again = apply(&mut s, &retry(client, seq, op(client, seq)));
            if again == first {
                deduped += 1;
            } else {
                let expired = KvResponse::Rejected(KvError::SessionExpired { client_id: client, seq });
                assert_eq!(again, expired, "c{client}#{seq} must not apply twice");
                refused += 1;
            }
        }
        assert!(s.session_count() <= 8);
    }
    assert!(deduped > 0 && refused > 0, "both paths ran: {deduped} deduped, {refused} refused");
    for client in 1..=clients {
        assert_eq!(s.get(format!("c{client}").as_bytes()), Some(&b"6"[..]), "each CAS applied exactly once");
    }
}

#[test]
fn memory_stays_bounded_under_many_clients_and_large_responses() {
    let cfg = SessionConfig { max_sessions: 50, window: 4, max_cached_bytes: 64 << 10, ttl_entries: 1_000_000 };
    let mut s = store(cfg.clone());
    let big = "x".repeat(4 << 10);
    for client in 0..500u64 {
        for seq in 1..=6 {
            apply(&mut s, &req(client, seq, put(&format!("k{client}"), &big)));
            assert!(s.session_count() <= cfg.max_sessions);
            assert!(s.cached_response_bytes() <= cfg.max_cached_bytes, "{} bytes", s.cached_response_bytes());
        }
    }
    assert!(s.session_count() >= 1);
}

#[test]
fn oversize_command_rejection_is_remembered_for_its_seq() {
    let mut s = KvStore::default();
    let huge = "v".repeat((1 << 20) + 1);
    let r = apply(&mut s, &req(1, 1, put("k", &huge)));
    assert!(matches!(r, KvResponse::Rejected(KvError::ValueTooLarge { .. })), "{r:?}");
    assert_eq!(apply(&mut s, &req(1, 1, put("k", "small"))), r, "same seq, same answer");
    assert!(s.get(b"k").is_none());
}
