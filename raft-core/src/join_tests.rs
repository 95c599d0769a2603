//! A node started to join an existing cluster (empty store, empty
//! membership) must stay passive until the leader's log or snapshot tells
//! it its configuration: it never votes (a candidate with an empty log could
//! otherwise win through it, losing committed entries, §5.4.1) and never
//! campaigns, but it does accept the leader's AppendEntries and
//! InstallSnapshot (thesis §4.1: a server learns its configuration from
//! its log; §4.2.1: new servers join as non-voting catch-up members).

use crate::message::{InstallSnapshot, Message, MessageBody, RequestVote};
use crate::node::RaftNode;
use crate::ready::{Event, Ready};
use crate::storage::MemStorage;
use crate::test_util::*;
use crate::types::{Entry, EntryPayload, LogId, LogIndex, Membership, Role, Snapshot, SnapshotMeta, Term};

fn joiner(id: u64) -> Node {
    RaftNode::new(config(id), MemStorage::new_with_membership(Membership::default())).expect("valid node")
}

fn vote_request(from: u64, to: u64, term: u64, pre_vote: bool, last: (u64, u64), transfer: bool) -> Message {
    let last_log_id = LogId::new(Term(last.0), LogIndex(last.1));
    msg(from, to, term, MessageBody::RequestVote(RequestVote { pre_vote, last_log_id, leader_transfer: transfer }))
}

/// Every vote answer in a Ready: `(pre_vote, granted)`.
fn vote_answers(rd: &Ready) -> Vec<(bool, bool)> {
    rd.messages
        .iter()
        .chain(&rd.persisted_messages)
        .filter_map(|m| match &m.body {
            MessageBody::RequestVoteResponse(r) => Some((r.pre_vote, r.granted)),
            _ => None,
        })
        .collect()
}

fn started_election(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::ElectionStarted { .. }))
}

/// Ticks `n` for three maximal election timeouts, collecting its events.
fn tick_long(n: &mut Node) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..60 {
        n.tick();
        events.extend(handle_ready(n).events);
    }
    events
}

#[test]
fn a_joining_node_refuses_votes_even_to_an_empty_log_and_never_campaigns() {
    let mut n = joiner(4);
    // Both logs are empty, so §5.4.1 alone would grant: only the missing
    // configuration refuses.
    n.step(vote_request(1, 4, 2, true, (0, 0), false)).unwrap();
    n.step(vote_request(1, 4, 2, false, (0, 0), false)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(vote_answers(&rd), vec![(true, false), (false, false)]);
    assert_eq!(n.status().vote, None);
    let events = tick_long(&mut n);
    assert!(!started_election(&events), "a node without configuration never campaigns: {events:?}");
    assert_eq!(n.role(), Role::Follower);
}

#[test]
fn a_joining_node_learns_its_configuration_from_entries_then_behaves_as_a_voter() {
    let mut n = joiner(4);
    let m = membership(&[1, 2, 4]);
    let entries = vec![noop(1, 1), Entry::new(Term(1), LogIndex(2), EntryPayload::Membership(m.clone()))];
    n.step(append(1, 4, 1, (0, 0), entries, 2)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(rd.entries.len(), 2, "the entries are persisted");
    assert_eq!(n.status().membership, m);
    assert_eq!(n.status().commit, LogIndex(2));
    // A transfer election skips the leader lease (thesis §3.10).
    n.step(vote_request(2, 4, 2, false, (1, 2), true)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(vote_answers(&rd), vec![(false, true)]);
    let events = tick_long(&mut n);
    assert!(started_election(&events), "a voter campaigns once its leader is silent: {events:?}");
}

#[test]
fn a_joining_node_learns_its_configuration_from_a_snapshot() {
    let mut n = joiner(4);
    let m = membership(&[1, 2, 4]);
    let meta = SnapshotMeta { last_log_id: LogId::new(Term(1), LogIndex(5)), membership: m.clone() };
    let snapshot = Snapshot { meta, data: b"state".to_vec() };
    n.step(msg(1, 4, 1, MessageBody::InstallSnapshot(InstallSnapshot { snapshot }))).unwrap();
    let rd = handle_ready(&mut n);
    assert!(rd.snapshot.is_some(), "the snapshot is installed");
    assert_eq!(n.status().membership, m);
    let events = tick_long(&mut n);
    assert!(started_election(&events), "a voter campaigns once its leader is silent: {events:?}");
}
