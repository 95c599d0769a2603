//! Conformance cases for bootstrap, identity and durability across reopen.

use raft_core::{HardState, LogId, LogIndex, NodeId, Snapshot, SnapshotMeta, Storage, Term};

use super::{append, assert_log, entries, save_hard_state, voters, Harness};
use crate::{Identity, RaftStore, StoreError, WriteBatch, MAX_CLUSTER_ID_LEN};

/// Bootstrap gives an empty store its membership, once.
pub fn bootstrap_sets_the_membership_once<H: Harness>(h: &mut H) {
    let s = h.fresh();
    assert!(matches!(s.bootstrap(voters(&[])), Err(StoreError::EmptyMembership)));
    s.bootstrap(voters(&[1, 2, 3])).expect("bootstrap");
    assert!(!s.is_empty(), "a bootstrapped store is not empty");
    let state = s.initial_state().expect("initial state");
    assert_eq!(state.membership, voters(&[1, 2, 3]));
    assert_eq!(state.hard_state, HardState::default());
    assert_eq!(s.snapshot().expect("snapshot").meta.last_log_id, LogId::default(), "bootstrap snapshot is at 0");
    assert_log(&s, 1, &[]);
    assert!(matches!(s.bootstrap(voters(&[4])), Err(StoreError::NotEmpty)));
    let used = h.fresh();
    append(&used, entries(1, 1, 1));
    assert!(matches!(used.bootstrap(voters(&[1])), Err(StoreError::NotEmpty)), "a store with a log");
}

/// The identity is recorded once; the same one is accepted again, another
/// one is refused.
pub fn identity_is_recorded_once<H: Harness>(h: &mut H) {
    let s = h.fresh();
    let me = Identity::new("cluster-a", NodeId(2));
    assert_eq!(s.identity(), None);
    s.ensure_identity(&me).expect("record identity");
    assert_eq!(s.identity(), Some(me.clone()));
    s.ensure_identity(&me).expect("same identity again");
    for other in [Identity::new("cluster-b", NodeId(2)), Identity::new("cluster-a", NodeId(3))] {
        match s.ensure_identity(&other) {
            Err(StoreError::IdentityMismatch { stored, expected }) => {
                assert_eq!((stored, expected), (me.clone(), other))
            }
            result => panic!("expected IdentityMismatch, got {result:?}"),
        }
    }
    let long = Identity::new("x".repeat(MAX_CLUSTER_ID_LEN + 1), NodeId(1));
    assert!(matches!(h.fresh().ensure_identity(&long), Err(StoreError::ClusterIdTooLong { .. })));
    assert!(s.is_empty(), "the identity is not log state");
}

/// Log, hard state, snapshot, membership and identity all survive a reopen.
pub fn everything_survives_reopen<H: Harness>(h: &mut H) {
    let s = h.fresh();
    let me = Identity::new("c", NodeId(1));
    s.ensure_identity(&me).expect("identity");
    s.bootstrap(voters(&[1, 2, 3])).expect("bootstrap");
    append(&s, entries(1, 1, 4));
    append(&s, entries(2, 5, 9));
    save_hard_state(&s, 2, Some(1), 6);
    s.create_snapshot(LogIndex(4), voters(&[1, 2]), b"four".to_vec()).expect("create snapshot");
    let Some(s) = h.reopen(s) else { return };
    assert_log(&s, 5, &entries(2, 5, 9));
    assert_eq!(s.term(LogIndex(4)), Ok(Term(1)));
    let state = s.initial_state().expect("initial state");
    assert_eq!(state.hard_state, HardState { term: Term(2), vote: Some(NodeId(1)), commit: LogIndex(6) });
    assert_eq!(state.membership, voters(&[1, 2]));
    let snap = s.snapshot().expect("snapshot");
    assert_eq!((snap.meta.last_log_id, snap.data), (LogId::new(Term(1), LogIndex(4)), b"four".to_vec()));
    assert_eq!(s.identity(), Some(me));
    append(&s, entries(3, 10, 10));
    assert_eq!(s.last_index(), Ok(LogIndex(10)));
}

/// Truncation and an installed snapshot (with its log discard) are durable.
pub fn truncation_and_snapshot_install_survive_reopen<H: Harness>(h: &mut H) {
    let s = h.fresh();
    append(&s, entries(1, 1, 8));
    s.write(WriteBatch { truncate_from: Some(LogIndex(6)), sync: true, ..Default::default() }).expect("truncate");
    let Some(s) = h.reopen(s) else { return };
    assert_log(&s, 1, &entries(1, 1, 5));
    let meta = SnapshotMeta { last_log_id: LogId::new(Term(3), LogIndex(4)), membership: voters(&[1]) };
    s.install_snapshot(&Snapshot { meta, data: b"s".to_vec() }).expect("install");
    let Some(s) = h.reopen(s) else { return };
    assert_log(&s, 5, &[]);
    assert_eq!(s.term(LogIndex(4)), Ok(Term(3)));
    assert_eq!(s.initial_state().expect("initial state").hard_state.commit, LogIndex(4));
    assert_eq!(s.snapshot().expect("snapshot").data, b"s");
}
