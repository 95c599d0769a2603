//! Size limits: checked before proposing, and again (defensively) at apply.

mod common;

use common::*;
use raft_statemachine::{KvError, KvLimits, KvQuery, KvResponse, KvStore, StateMachine};

#[test]
fn default_limits_are_4kib_keys_and_1mib_values() {
    let l = KvLimits::default();
    assert_eq!((l.max_key_bytes, l.max_value_bytes), (4096, 1 << 20));
    assert!(l.max_scan_limit > 0);
}

#[test]
fn validate_rejects_oversize_keys_and_values_before_proposing() {
    let l = KvLimits::default();
    let key_max = "k".repeat(4096);
    let key_over = "k".repeat(4097);
    let val_over = "v".repeat((1 << 20) + 1);
    assert_eq!(l.validate(&req(1, 1, put(&key_max, "v"))), Ok(()));
    assert_eq!(l.validate(&req(1, 1, put(&key_over, "v"))), Err(KvError::KeyTooLarge { len: 4097, max: 4096 }));
    assert_eq!(l.validate(&req(1, 1, delete(&key_over))), Err(KvError::KeyTooLarge { len: 4097, max: 4096 }));
    let too_big = Err(KvError::ValueTooLarge { len: (1 << 20) + 1, max: 1 << 20 });
    assert_eq!(l.validate(&req(1, 1, put("k", &val_over))), too_big);
    assert_eq!(l.validate(&req(1, 1, cas("k", Some(&val_over), None))), too_big);
    assert_eq!(l.validate(&req(1, 1, cas("k", None, Some(&val_over)))), too_big);
    assert_eq!(
        l.validate_query(&KvQuery::Get { key: key_over.into_bytes() }),
        Err(KvError::KeyTooLarge { len: 4097, max: 4096 })
    );
}

#[test]
fn oversize_command_in_the_log_is_rejected_at_apply_without_change() {
    let limits = KvLimits { max_key_bytes: 3, max_value_bytes: 5, ..KvLimits::default() };
    let mut s = KvStore::new(raft_statemachine::KvConfig { limits, ..Default::default() });
    apply(&mut s, &req(1, 1, put("k", "ok")));
    assert_eq!(
        apply(&mut s, &req(1, 2, put("long", "v"))),
        KvResponse::Rejected(KvError::KeyTooLarge { len: 4, max: 3 })
    );
    assert_eq!(
        apply(&mut s, &req(1, 3, put("k", "123456"))),
        KvResponse::Rejected(KvError::ValueTooLarge { len: 6, max: 5 })
    );
    assert_eq!(s.get(b"k"), Some(&b"ok"[..]));
    assert_eq!(s.len(), 1);
    assert_eq!(s.applied_index().get(), 3);
}
