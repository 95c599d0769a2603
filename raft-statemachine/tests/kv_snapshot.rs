//! Snapshots: round trips, idempotent restore, and rejection of corrupt or
//! truncated data with the state unchanged.

mod common;

use common::*;
use raft_core::{LogId, LogIndex, Membership, NodeId, SnapshotMeta, Term};
use raft_statemachine::{KvConfig, KvResponse, KvStore, SessionConfig, SnapshotError, StateMachine, StateMachineError};

fn populated() -> KvStore {
    let mut s =
        KvStore::new(KvConfig { sessions: SessionConfig { window: 3, ..Default::default() }, ..Default::default() });
    for i in 0..20u64 {
        apply(&mut s, &req(i % 4, i / 4 + 1, put(&format!("key{i:02}"), &format!("value{i}"))));
    }
    apply(&mut s, &req(7, 1, cas("key00", Some("value0"), None)));
    s
}

/// A store in a different state, to prove failed restores leave it alone.
fn other() -> KvStore {
    let mut s = KvStore::new(populated().config().clone());
    apply(&mut s, &req(99, 1, put("unrelated", "state")));
    s
}

fn restore(target: &mut KvStore, meta: &SnapshotMeta, bytes: &[u8]) -> Result<(), StateMachineError> {
    target.restore(meta, &mut &bytes[..])
}

#[test]
fn snapshot_restore_round_trip_gives_identical_state() {
    let s = populated();
    let (meta, bytes) = s.snapshot_to_vec().unwrap();
    assert_eq!(meta.last_log_id, s.applied_log_id());
    let mut r = other();
    restore(&mut r, &meta, &bytes).unwrap();
    assert_eq!(r, s);
    assert_eq!(r.snapshot_to_vec().unwrap().1, bytes, "encoding is deterministic");
}

#[test]
fn restore_is_idempotent() {
    let s = populated();
    let (meta, bytes) = s.snapshot_to_vec().unwrap();
    let mut r = KvStore::new(s.config().clone());
    restore(&mut r, &meta, &bytes).unwrap();
    restore(&mut r, &meta, &bytes).unwrap();
    assert_eq!(r, s);
}

#[test]
fn dedup_survives_snapshot_install() {
    let mut s = KvStore::default();
    let first = apply(&mut s, &req(1, 1, cas("k", None, Some("mine"))));
    apply(&mut s, &req(2, 1, put("k", "theirs")));
    let (meta, bytes) = s.snapshot_to_vec().unwrap();
    let mut r = KvStore::default();
    restore(&mut r, &meta, &bytes).unwrap();
    assert_eq!(apply(&mut r, &req(1, 1, cas("k", None, Some("mine")))), first);
    assert_eq!(r.get(b"k"), Some(&b"theirs"[..]));
}

#[test]
fn restore_takes_membership_and_applied_id_from_meta() {
    let s = populated();
    let (mut meta, bytes) = s.snapshot_to_vec().unwrap();
    meta.membership = Membership::new([NodeId(4), NodeId(5)]);
    let mut r = KvStore::default();
    restore(&mut r, &meta, &bytes).unwrap();
    assert_eq!(r.applied_index(), s.applied_index());
    assert_eq!(r.snapshot_to_vec().unwrap().0, meta);
    // The next entry must follow the snapshot: no gap, no repeat.
    let next = s.applied_index().get() + 1;
    assert!(r.apply(&entry(next - 1, &req(1, 50, put("x", "y")))).is_err());
    assert!(r.apply(&entry(next, &req(1, 50, put("x", "y")))).is_ok());
}

#[test]
fn bootstrap_snapshot_with_empty_data_restores_an_empty_store() {
    let mut r = other();
    let meta = SnapshotMeta { last_log_id: LogId::default(), membership: Membership::new([NodeId(1)]) };
    restore(&mut r, &meta, &[]).unwrap();
    assert!(r.is_empty());
    assert_eq!(r.applied_index(), LogIndex(0));
    assert_eq!(r.session_count(), 0);
}

#[test]
fn every_truncation_is_rejected_with_state_unchanged() {
    let (meta, bytes) = populated().snapshot_to_vec().unwrap();
    let mut r = other();
    let before = r.clone();
    for len in 0..bytes.len() {
        let err = restore(&mut r, &meta, &bytes[..len]).unwrap_err();
        assert!(matches!(err, StateMachineError::Snapshot(SnapshotError::Truncated { .. })), "len {len}: {err}");
        assert_eq!(r, before, "len {len}");
    }
}

#[test]
fn every_single_byte_corruption_is_rejected_with_state_unchanged() {
    let (meta, bytes) = populated().snapshot_to_vec().unwrap();
    let mut r = other();
    let before = r.clone();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x5a;
        let err = restore(&mut r, &meta, &bad).expect_err("corruption must be detected");
        assert!(matches!(err, StateMachineError::Snapshot(_)), "byte {i}: {err}");
        assert_eq!(r, before, "byte {i}");
    }
}

#[test]
fn checksum_mismatch_is_reported_as_such() {
    let (meta, mut bytes) = populated().snapshot_to_vec().unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let err = restore(&mut other(), &meta, &bytes).unwrap_err();
    assert!(matches!(err, StateMachineError::Snapshot(SnapshotError::ChecksumMismatch { .. })), "{err}");
}

#[test]
fn bad_magic_version_trailing_bytes_and_meta_mismatch_are_rejected() {
    let s = populated();
    let (meta, bytes) = s.snapshot_to_vec().unwrap();
    let mut r = other();
    let before = r.clone();

    let err = restore(&mut r, &meta, b"NOTASNAPSHOT-at-all-really").unwrap_err();
    assert!(matches!(err, StateMachineError::Snapshot(SnapshotError::BadMagic { .. })), "{err}");

    let mut v2 = bytes.clone();
    v2[8] = 2;
    let err = restore(&mut r, &meta, &v2).unwrap_err();
    assert!(matches!(err, StateMachineError::Snapshot(SnapshotError::UnsupportedVersion { found: 2, .. })), "{err}");

    let mut trailing = bytes.clone();
    trailing.push(0);
    let err = restore(&mut r, &meta, &trailing).unwrap_err();
    assert!(matches!(err, StateMachineError::Snapshot(SnapshotError::Malformed(_))), "{err}");

    let wrong = SnapshotMeta { last_log_id: LogId::new(Term(1), LogIndex(3)), ..meta.clone() };
    let err = restore(&mut r, &wrong, &bytes).unwrap_err();
    assert!(matches!(err, StateMachineError::Snapshot(SnapshotError::MetaMismatch { .. })), "{err}");

    assert_eq!(r, before);
}

#[test]
fn snapshot_carries_no_state_from_after_it() {
    let mut s = populated();
    let (meta, bytes) = s.snapshot_to_vec().unwrap();
    assert_eq!(apply(&mut s, &req(50, 1, put("later", "x"))), KvResponse::Put { prev: None });
    let mut r = KvStore::new(s.config().clone());
    restore(&mut r, &meta, &bytes).unwrap();
    assert!(r.get(b"later").is_none());
}

/// Issue #17: the validator accepts exactly what `restore` accepts, so the
/// runtime can refuse a bad snapshot before making it durable.
#[test]
fn the_validator_accepts_a_good_snapshot_and_refuses_damaged_or_mismatched_ones() {
    let s = populated();
    let (meta, bytes) = s.snapshot_to_vec().unwrap();
    let v = s.snapshot_validator();
    v.validate(&meta, &mut &bytes[..]).unwrap();
    for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x08;
        assert!(v.validate(&meta, &mut &bad[..]).is_err(), "flipped byte {at} accepted");
        assert!(restore(&mut other(), &meta, &bad).is_err(), "restore must agree at {at}");
    }
    assert!(v.validate(&meta, &mut &bytes[..bytes.len() - 3]).is_err(), "truncated");
    let elsewhere = SnapshotMeta { last_log_id: LogId::new(Term(9), LogIndex(999)), ..meta.clone() };
    assert!(v.validate(&elsewhere, &mut &bytes[..]).is_err(), "data for another index");
}
