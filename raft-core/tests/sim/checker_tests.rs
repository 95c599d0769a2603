//! The checkers must be able to fail, and fail for the right reason. One
//! hand-made history of a 3-node cluster (node 1 leads term 1 and commits
//! two entries with node 2; node 2 leads term 2 and appends) passes every
//! checker; each test applies exactly one mutation to it and asserts that
//! the violation is of exactly the invariant the mutation breaks (a typed
//! [`Inv`], not a message substring). Further tests pin the Leader
//! Completeness blind spots this checker used to have, and run the whole
//! simulator with a broken runtime.

use std::panic::{catch_unwind, AssertUnwindSafe};

use raft_core::{
    Entry, EntryPayload, HardState, LogId, LogIndex, MemStorage, Membership, Message, MessageBody, NodeId, Ready, Role,
    Snapshot, SnapshotMeta, Term,
};

use crate::invariants::{take_failure, Check, Inv, Invariants, NodeView};

fn members() -> Membership {
    Membership::new([NodeId(1), NodeId(2), NodeId(3)])
}

fn store() -> MemStorage {
    MemStorage::new_with_membership(members())
}

fn entry(term: u64, index: u64, data: &[u8]) -> Entry {
    Entry::new(Term(term), LogIndex(index), EntryPayload::Normal(data.to_vec().into()))
}

fn view(id: u64, role: Role, term: u64, commit: u64, storage: &MemStorage) -> NodeView<'_> {
    NodeView { id: NodeId(id), role, term: Term(term), commit: LogIndex(commit), storage }
}

fn hs(term: u64, vote: u64, commit: u64) -> HardState {
    HardState { term: Term(term), vote: Some(NodeId(vote)), commit: LogIndex(commit) }
}

/// Three registered stores and the checkers.
fn cluster() -> (Invariants, [MemStorage; 3]) {
    let s = [store(), store(), store()];
    let mut inv = Invariants::default();
    for (k, st) in s.iter().enumerate() {
        inv.register(NodeId(k as u64 + 1), st);
    }
    (inv, s)
}

/// Writes `ready` as the runtime would and reports it to the checkers.
fn persist(inv: &mut Invariants, id: u64, s: &MemStorage, ready: &Ready) -> Check {
    let before = s.rl().hard_state();
    s.wl().append(&ready.entries);
    if let Some(h) = ready.hard_state {
        s.wl().set_hard_state(h);
    }
    inv.on_persisted(NodeId(id), before, ready, s)
}

fn ready(entries: Vec<Entry>, hard_state: Option<HardState>) -> Ready {
    Ready { entries, hard_state, ..Default::default() }
}

/// The reference history with at most one mutation (`None`: unmutated).
fn history(m: Option<Inv>) -> Check {
    let (mut inv, s) = cluster();
    let mutated = |i: Inv| m == Some(i);
    // Term 1: node 1 leads (a second leader is the Election Safety mutation).
    let role2 = if mutated(Inv::ElectionSafety) { Role::Leader } else { Role::Follower };
    inv.after_step(&[
        view(1, Role::Leader, 1, 0, &s[0]),
        view(2, role2, 1, 0, &s[1]),
        view(3, Role::Follower, 1, 0, &s[2]),
    ])?;
    let log = vec![entry(1, 1, b"x"), entry(1, 2, b"y")];
    persist(&mut inv, 1, &s[0], &ready(log.clone(), Some(hs(1, 1, 0))))?;
    // Node 2 acknowledges the append; acknowledging before the write is the
    // Durability mutation, a different payload the Log Matching one, and
    // not writing at all leaves the commit without a quorum.
    let mut r2 = ready(log.clone(), Some(hs(1, 1, 0)));
    let ack = Message { from: NodeId(2), to: NodeId(1), term: Term(1), body: MessageBody::TimeoutNow };
    r2.persisted_messages = vec![ack];
    if mutated(Inv::LogMatching) {
        r2.entries[1] = entry(1, 2, b"other");
    }
    if mutated(Inv::Durability) {
        inv.on_acknowledged(NodeId(2), &r2, &s[1])?;
    }
    if !mutated(Inv::CommitQuorum) {
        persist(&mut inv, 2, &s[1], &r2)?;
        inv.on_acknowledged(NodeId(2), &r2, &s[1])?;
    }
    // Node 1 commits and applies both entries; node 2 applies the first.
    let commit2 = if mutated(Inv::MonotonicState) { 0 } else { 2 };
    inv.after_step(&[view(1, Role::Leader, 1, 2, &s[0]), view(2, Role::Follower, 1, 2, &s[1])])?;
    inv.on_apply(NodeId(1), Term(1), &log[0], 11, &members())?;
    inv.on_apply(NodeId(1), Term(1), &log[1], 12, &members())?;
    inv.after_step(&[view(1, Role::Leader, 1, 2, &s[0]), view(2, Role::Follower, 1, commit2, &s[1])])?;
    let applied2 = if mutated(Inv::StateMachineSafety) { entry(1, 1, b"z") } else { log[0].clone() };
    inv.on_apply(NodeId(2), Term(1), &applied2, 11, &members())?;
    // Term 2: node 2 leads (node 3, whose log is empty, is the Leader
    // Completeness mutation) and appends; truncating is the Append-Only one.
    let leader = if mutated(Inv::LeaderCompleteness) { 3 } else { 2 };
    let ls = &s[leader as usize - 1];
    inv.after_step(&[view(1, Role::Follower, 2, 2, &s[0]), view(leader, Role::Leader, 2, 2, ls)])?;
    let mut next = ready(vec![entry(2, 3, b"w")], Some(hs(2, leader, 2)));
    if mutated(Inv::LeaderAppendOnly) {
        next = Ready { truncate_from: Some(LogIndex(2)), entries: vec![entry(2, 2, b"w")], ..Default::default() };
    }
    inv.on_ready(NodeId(leader), Role::Leader, Term(2), &next, ls)?;
    persist(&mut inv, leader, ls, &next)?;
    inv.after_step(&[view(1, Role::Follower, 2, 2, &s[0]), view(leader, Role::Leader, 2, 2, ls)])
}

fn expect(kind: Inv) {
    let err = history(Some(kind)).expect_err("mutation went unnoticed");
    assert_eq!(err.kind, kind, "the {kind:?} mutation tripped another invariant: {err}");
}

#[test]
fn the_unmutated_history_passes_every_checker() {
    history(None).unwrap();
}

#[test]
fn two_leaders_in_one_term_trip_election_safety() {
    expect(Inv::ElectionSafety);
}

#[test]
fn a_different_payload_at_the_same_index_and_term_trips_log_matching() {
    expect(Inv::LogMatching);
}

#[test]
fn acknowledging_before_writing_trips_durability() {
    expect(Inv::Durability);
}

#[test]
fn committing_without_a_durable_majority_trips_commit_quorum() {
    expect(Inv::CommitQuorum);
}

#[test]
fn a_commit_index_going_back_trips_monotonic_state() {
    expect(Inv::MonotonicState);
}

#[test]
fn applying_another_entry_at_an_index_trips_state_machine_safety() {
    expect(Inv::StateMachineSafety);
}

#[test]
fn a_leader_without_a_committed_entry_trips_leader_completeness() {
    expect(Inv::LeaderCompleteness);
}

#[test]
fn a_leader_truncating_its_log_trips_leader_append_only() {
    expect(Inv::LeaderAppendOnly);
}

#[test]
fn a_changed_vote_trips_election_safety() {
    let s = store();
    let mut inv = Invariants::default();
    s.wl().set_hard_state(hs(2, 1, 0));
    let before = s.rl().hard_state();
    s.wl().set_hard_state(hs(2, 3, 0));
    let err = inv.on_persisted(NodeId(2), before, &Ready::default(), &s).unwrap_err();
    assert_eq!(err.kind, Inv::ElectionSafety);
}

/// Regression (seed 3300415): an entry of term 1 committed by the leader of
/// term 3 need not be in the log of a stale, isolated leader of term 2...
/// until a node still in term 1 applies it, which proves it was committed
/// in term 1: the leader of term 2, already checked and skipped, must be
/// checked again (the old checker never came back to it).
#[test]
fn leader_completeness_rechecks_a_skipped_entry_when_its_bound_drops() {
    let (mut inv, [a, b, c]) = cluster();
    persist(&mut inv, 1, &a, &ready(vec![entry(1, 1, b"x")], None)).unwrap();
    persist(&mut inv, 3, &c, &ready(vec![entry(1, 1, b"x")], None)).unwrap();
    inv.on_apply(NodeId(1), Term(3), &entry(1, 1, b"x"), 7, &members()).unwrap();
    inv.after_step(&[view(2, Role::Leader, 2, 0, &b)]).unwrap();
    inv.on_apply(NodeId(3), Term(1), &entry(1, 1, b"x"), 7, &members()).unwrap();
    let err = inv.after_step(&[view(2, Role::Leader, 2, 0, &b)]).unwrap_err();
    assert_eq!(err.kind, Inv::LeaderCompleteness);
}

/// A node restoring a snapshot at 5 records index 5 only; a leader checked
/// past 5 must still be checked against index 3 when another node applies
/// it from its log later (the old checker had moved past it).
#[test]
fn leader_completeness_checks_entries_recorded_after_a_snapshot_jump() {
    let (mut inv, [a, b, c]) = cluster();
    for (id, s) in [(1, &a), (2, &b), (3, &c)] {
        persist(&mut inv, id, s, &ready((1..=5).map(|i| entry(1, i, b"x")).collect(), None)).unwrap();
    }
    inv.on_restore(NodeId(3), Term(1), LogIndex(5), Term(1), 9).unwrap();
    inv.after_step(&[view(2, Role::Leader, 2, 0, &b)]).unwrap();
    // Node 2's log loses index 3 (a leader rewriting its log: the mutation).
    b.wl().apply_snapshot(Snapshot {
        meta: SnapshotMeta { last_log_id: LogId::new(Term(1), LogIndex(2)), membership: members() },
        data: Vec::new(),
    });
    b.wl().append(&[entry(2, 3, b"q"), entry(1, 4, b"x"), entry(1, 5, b"x")]);
    inv.on_apply(NodeId(1), Term(1), &entry(1, 3, b"x"), 3, &members()).unwrap();
    let err = inv.after_step(&[view(2, Role::Leader, 2, 0, &b)]).unwrap_err();
    assert_eq!(err.kind, Inv::LeaderCompleteness);
}

/// Entries covered by the leader's snapshot are checked through it: a
/// snapshot whose last entry is not the committed one is a violation.
#[test]
fn leader_completeness_checks_entries_under_the_leaders_snapshot() {
    let b = store();
    let mut inv = Invariants::default();
    inv.on_restore(NodeId(1), Term(1), LogIndex(4), Term(1), 9).unwrap();
    b.wl().apply_snapshot(Snapshot {
        meta: SnapshotMeta { last_log_id: LogId::new(Term(2), LogIndex(4)), membership: members() },
        data: Vec::new(),
    });
    let err = inv.after_step(&[view(2, Role::Leader, 3, 0, &b)]).unwrap_err();
    assert_eq!(err.kind, Inv::LeaderCompleteness);
}

/// End to end: a runtime that sends acknowledgements before its write is
/// durable is caught by the Durability check at once (seed 0).
#[test]
fn simulator_names_durability_for_a_runtime_that_acks_before_persisting() {
    let r = catch_unwind(AssertUnwindSafe(|| crate::fuzz::run_broken(0, 3, true)));
    assert!(r.is_err(), "a runtime acking before persisting went unnoticed");
    assert_eq!(take_failure().map(|v| v.kind), Some(Inv::Durability));
}

/// End to end, with the Durability check off: the lost promises must still
/// surface as a violation of a Raft safety property (thesis §3.8 is what
/// the properties rest on), within 400 seeds of frequent crashes.
#[test]
fn simulator_catches_the_consequences_of_acking_before_persisting() {
    let safety =
        [Inv::ElectionSafety, Inv::LogMatching, Inv::LeaderCompleteness, Inv::StateMachineSafety, Inv::CommitQuorum];
    for seed in 0..400u64 {
        if catch_unwind(AssertUnwindSafe(|| crate::fuzz::run_broken(seed, 3, false))).is_err() {
            let v = take_failure().expect("every simulator failure records its violation");
            assert!(safety.contains(&v.kind), "seed {seed}: expected a safety property, got {v}");
            println!("broken runtime caught at seed {seed}: {v}");
            return;
        }
    }
    panic!("400 seeds of a runtime that acks before persisting produced no safety violation");
}

/// Commit Quorum counts the voters of the configuration in force at the
/// entry's position: after {1,2,3} became {1,2,3,4} at index 2, an entry at
/// 3 held by nodes 1 and 2 only is not committed (2 of 4), though it would
/// have been under the old configuration; held by 1, 2 and 4 it is.
#[test]
fn commit_quorum_uses_the_configuration_at_the_entrys_position() {
    let s = [store(), store(), store(), store()];
    let mut inv = Invariants::default();
    for (k, st) in s.iter().enumerate() {
        inv.register(NodeId(k as u64 + 1), st);
    }
    let four = Membership::new([NodeId(1), NodeId(2), NodeId(3), NodeId(4)]);
    let change = Entry::new(Term(1), LogIndex(2), EntryPayload::Membership(four.clone()));
    let log = vec![entry(1, 1, b"x"), change.clone(), entry(1, 3, b"y")];
    // The change itself needs a majority of the new configuration (thesis
    // §4.1: it takes effect as soon as it is appended).
    for st in [&s[0], &s[1], &s[3]] {
        st.wl().append(&log[..2]);
    }
    s[0].wl().append(&log[2..]);
    s[1].wl().append(&log[2..]);
    inv.on_apply(NodeId(1), Term(1), &log[0], 1, &members()).unwrap();
    inv.on_apply(NodeId(1), Term(1), &change, 2, &four).unwrap();
    let err = inv.on_apply(NodeId(1), Term(1), &log[2], 3, &four).unwrap_err();
    assert_eq!(err.kind, Inv::CommitQuorum);
    s[3].wl().append(&log[2..]);
    let mut inv2 = Invariants::default();
    for (k, st) in s.iter().enumerate() {
        inv2.register(NodeId(k as u64 + 1), st);
    }
    inv2.on_apply(NodeId(1), Term(1), &log[2], 3, &four).unwrap();
}
