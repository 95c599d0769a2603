//! The checkers must be able to fail: each test feeds one invariant a
//! hand-made history that breaks it and expects the violation, so a checker
//! that silently accepts everything cannot pass CI.

use raft_core::{Entry, EntryPayload, HardState, LogIndex, MemStorage, Membership, NodeId, Ready, Role, Term};

use crate::invariants::{Invariants, NodeView};

fn store() -> MemStorage {
    MemStorage::new_with_membership(Membership::new([NodeId(1), NodeId(2), NodeId(3)]))
}

fn entry(term: u64, index: u64, data: &[u8]) -> Entry {
    Entry::new(Term(term), LogIndex(index), EntryPayload::Normal(data.to_vec()))
}

fn view<'a>(id: u64, role: Role, term: u64, commit: u64, storage: &'a MemStorage) -> NodeView<'a> {
    NodeView { id: NodeId(id), role, term: Term(term), commit: LogIndex(commit), storage }
}

/// Writes `entries` as a Ready would and reports it to the checkers.
fn persist(inv: &mut Invariants, id: u64, s: &MemStorage, entries: Vec<Entry>) -> Result<(), String> {
    let before = s.rl().hard_state();
    let ready = Ready { entries, ..Default::default() };
    s.wl().append(&ready.entries);
    inv.on_persisted(NodeId(id), before, &ready, s).map_err(|v| v.to_string())
}

#[test]
fn election_safety_rejects_two_leaders_in_one_term() {
    let (a, b) = (store(), store());
    let mut inv = Invariants::default();
    inv.after_step(&[view(1, Role::Leader, 3, 0, &a)]).unwrap();
    let err = inv.after_step(&[view(2, Role::Leader, 3, 0, &b)]).unwrap_err();
    assert_eq!(err.invariant, "Election Safety");
}

#[test]
fn election_safety_rejects_a_changed_vote() {
    let s = store();
    let mut inv = Invariants::default();
    s.wl().set_hard_state(HardState { term: Term(2), vote: Some(NodeId(1)), commit: LogIndex(0) });
    let before = s.rl().hard_state();
    s.wl().set_hard_state(HardState { term: Term(2), vote: Some(NodeId(3)), commit: LogIndex(0) });
    let err = inv.on_persisted(NodeId(2), before, &Ready::default(), &s).unwrap_err();
    assert_eq!(err.invariant, "Election Safety");
}

#[test]
fn log_matching_rejects_same_id_different_payload() {
    let (a, b) = (store(), store());
    let mut inv = Invariants::default();
    persist(&mut inv, 1, &a, vec![entry(1, 1, b"x")]).unwrap();
    let err = persist(&mut inv, 2, &b, vec![entry(1, 1, b"y")]).unwrap_err();
    assert!(err.contains("Log Matching"), "{err}");
}

#[test]
fn log_matching_rejects_same_id_different_predecessor() {
    let (a, b) = (store(), store());
    let mut inv = Invariants::default();
    persist(&mut inv, 1, &a, vec![entry(1, 1, b"p"), entry(2, 2, b"x")]).unwrap();
    let err = persist(&mut inv, 2, &b, vec![entry(2, 1, b"q"), entry(2, 2, b"x")]).unwrap_err();
    assert!(err.contains("Log Matching"), "{err}");
}

#[test]
fn leader_completeness_rejects_a_leader_missing_a_committed_entry() {
    let (a, b) = (store(), store());
    let mut inv = Invariants::default();
    persist(&mut inv, 1, &a, vec![entry(1, 1, b"x")]).unwrap();
    inv.on_apply(NodeId(1), Term(1), &entry(1, 1, b"x"), 7).unwrap();
    let err = inv.after_step(&[view(2, Role::Leader, 2, 0, &b)]).unwrap_err();
    assert_eq!(err.invariant, "Leader Completeness");
}

#[test]
fn state_machine_safety_rejects_different_entries_at_one_index() {
    let mut inv = Invariants::default();
    inv.on_apply(NodeId(1), Term(1), &entry(1, 1, b"x"), 7).unwrap();
    let err = inv.on_apply(NodeId(2), Term(1), &entry(1, 1, b"y"), 8).unwrap_err();
    assert_eq!(err.invariant, "State Machine Safety");
}

#[test]
fn monotonic_state_rejects_a_term_going_back() {
    let s = store();
    let mut inv = Invariants::default();
    inv.after_step(&[view(1, Role::Follower, 5, 0, &s)]).unwrap();
    let err = inv.after_step(&[view(1, Role::Follower, 4, 0, &s)]).unwrap_err();
    assert!(err.invariant.starts_with("Monotonic"));
}

#[test]
fn monotonic_state_rejects_a_restart_below_the_persisted_commit() {
    let s = store();
    let mut inv = Invariants::default();
    s.wl().set_hard_state(HardState { term: Term(3), vote: None, commit: LogIndex(4) });
    let err = inv.on_restart(NodeId(1), Term(3), LogIndex(2), &s).unwrap_err();
    assert!(err.invariant.starts_with("Monotonic"));
}

#[test]
fn leader_append_only_rejects_a_leader_truncating() {
    let s = store();
    s.wl().append(&[entry(1, 1, b"x"), entry(1, 2, b"y")]);
    let mut inv = Invariants::default();
    let ready = Ready { truncate_from: Some(LogIndex(2)), entries: vec![entry(1, 2, b"z")], ..Default::default() };
    let err = inv.on_ready(NodeId(1), Role::Leader, Term(1), &ready, &s).unwrap_err();
    assert_eq!(err.invariant, "Leader Append-Only");
}

/// Regression (seed 3300415): an entry of term 1 committed by the leader of
/// term 3 need not be in the log of a stale, isolated leader of term 2.
#[test]
fn leader_completeness_allows_an_older_leader_to_lack_a_later_commit() {
    let (a, b) = (store(), store());
    let mut inv = Invariants::default();
    persist(&mut inv, 1, &a, vec![entry(1, 1, b"x")]).unwrap();
    inv.on_apply(NodeId(1), Term(3), &entry(1, 1, b"x"), 7).unwrap();
    inv.after_step(&[view(2, Role::Leader, 2, 0, &b)]).unwrap();
    let err = inv.after_step(&[view(3, Role::Leader, 4, 0, &b)]).unwrap_err();
    assert_eq!(err.invariant, "Leader Completeness");
}
