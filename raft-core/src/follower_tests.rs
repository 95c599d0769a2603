//! Follower-side rules: snapshot install (Figure 13), snapshot transfer from
//! the leader, and robustness against garbage input.

use crate::message::{InstallSnapshot, InstallSnapshotResponse, MessageBody};
use crate::node::RaftNode;
use crate::progress::ProgressState;
use crate::ready::Event;
use crate::storage::Storage;
use crate::test_util::*;
use crate::types::{Entry, EntryPayload, LogId, LogIndex, NodeId, Role, Snapshot, SnapshotMeta, Term};

fn snapshot(term: u64, index: u64, voters: &[u64]) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta { last_log_id: LogId::new(Term(term), LogIndex(index)), membership: membership(voters) },
        data: b"state".to_vec(),
    }
}

fn install(from: u64, to: u64, term: u64, snap: Snapshot) -> crate::Message {
    msg(from, to, term, MessageBody::InstallSnapshot(InstallSnapshot { snapshot: snap }))
}

fn snap_resp(from: u64, to: u64, term: u64, last: u64) -> crate::Message {
    msg(from, to, term, MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { last_index: LogIndex(last) }))
}

#[test]
fn snapshot_with_matching_entry_keeps_the_suffix() {
    // Figure 13 rule 6.
    let store = store_with_log(&[1, 2, 3], 1, &[noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b")]);
    let mut n = RaftNode::new(config(2), store).unwrap();
    n.step(install(1, 2, 1, snapshot(1, 2, &[1, 2, 3]))).unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(rd.snapshot, Some(snapshot(1, 2, &[1, 2, 3])));
    assert_eq!(rd.entries, vec![normal(1, 3, b"b")], "the suffix after the snapshot is kept");
    assert!(rd.must_sync);
    assert!(rd.committed_entries.is_empty(), "the state machine restores from the snapshot instead");
    assert_eq!(rd.persisted_messages, vec![snap_resp(2, 1, 1, 2)]);
    assert!(rd.events.contains(&Event::Committed { index: LogIndex(2), term: Term(1) }));
    let store = n.storage().clone();
    persist(&store, &rd);
    n.advance(rd).unwrap();
    let st = n.status();
    assert_eq!(
        (st.first_index, st.last_index, st.commit, st.applied),
        (LogIndex(3), LogIndex(3), LogIndex(2), LogIndex(2))
    );
    assert_eq!(store.last_index().unwrap(), LogIndex(3));
}

#[test]
fn snapshot_with_conflicting_entry_discards_the_log() {
    // Figure 13 rule 7.
    let store = store_with_log(&[1, 2, 3], 1, &[noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b")]);
    let mut n = RaftNode::new(config(2), store).unwrap();
    n.step(install(1, 2, 2, snapshot(2, 2, &[1, 2, 3]))).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(rd.snapshot, Some(snapshot(2, 2, &[1, 2, 3])));
    assert!(rd.entries.is_empty());
    let st = n.status();
    assert_eq!((st.last_index, st.commit), (LogIndex(2), LogIndex(2)));
    assert_eq!(n.storage().last_index().unwrap(), LogIndex(2));
}

/// The store applies Figure 13 rule 6 to what it holds. When the core keeps
/// a suffix after a matching snapshot and a conflicting append then replaces
/// it, the stored copy of that suffix must be truncated too (sim seed
/// 7001869, 5 nodes: entry 4-37 came without `truncate_from` over a stored 7-37).
#[test]
fn conflict_in_a_suffix_kept_after_a_snapshot_truncates_the_store() {
    let log = [noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b"), normal(1, 4, b"c")];
    let mut n = RaftNode::new(config(2), store_with_log(&[1, 2, 3], 1, &log)).unwrap();
    n.step(install(1, 2, 2, snapshot(1, 2, &[1, 2, 3]))).unwrap();
    n.step(append(1, 2, 2, (1, 2), vec![normal(2, 3, b"new")], 0)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(rd.snapshot, Some(snapshot(1, 2, &[1, 2, 3])));
    assert_eq!(rd.truncate_from, Some(LogIndex(3)), "the store kept 1-3 and 1-4 after the snapshot (rule 6)");
    assert_eq!(rd.entries, vec![normal(2, 3, b"new")]);
    let stored = n.storage().entries(LogIndex(3), n.storage().last_index().unwrap().next(), None).unwrap();
    assert_eq!(stored, vec![normal(2, 3, b"new")]);
}

/// The core replaced stored entries at or below a snapshot's index and has
/// not yet told the runtime: the store may still hold an entry matching the
/// snapshot and would keep its old suffix (rule 6) where the core's log
/// ends. So the snapshot waits until the truncation went out; the leader
/// re-sends it.
#[test]
fn snapshot_waits_for_a_pending_truncation_below_its_index() {
    let log = [noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b"), normal(1, 4, b"c")];
    let mut n = RaftNode::new(config(2), store_with_log(&[1, 2, 3], 1, &log)).unwrap();
    n.step(append(3, 2, 2, (1, 1), vec![normal(2, 2, b"x")], 0)).unwrap();
    n.step(install(1, 2, 3, snapshot(1, 3, &[1, 2, 3]))).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!((rd.snapshot.is_some(), rd.truncate_from), (false, Some(LogIndex(2))));
    assert!(rd.persisted_messages.iter().all(|m| !matches!(m.body, MessageBody::InstallSnapshotResponse(_))));
    n.step(install(1, 2, 3, snapshot(1, 3, &[1, 2, 3]))).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!((rd.snapshot, rd.truncate_from), (Some(snapshot(1, 3, &[1, 2, 3])), None));
    assert_eq!(n.storage().last_index().unwrap(), LogIndex(3), "nothing stale survives in the store");
}

#[test]
fn snapshot_resets_membership_to_the_snapshots() {
    let mut n = node(4, &[]);
    n.step(install(1, 4, 3, snapshot(2, 10, &[1, 2, 3, 4]))).unwrap();
    assert_eq!(n.status().membership, membership(&[1, 2, 3, 4]));
    assert_eq!(n.leader(), Some(NodeId(1)));
}

#[test]
fn snapshot_at_or_below_commit_is_ignored() {
    let mut n = node(2, &[1, 2, 3]);
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 1), normal(1, 2, b"a")], 2)).unwrap();
    handle_ready(&mut n);
    n.step(install(1, 2, 1, snapshot(1, 1, &[1, 2, 3]))).unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(rd.snapshot, None);
    assert_eq!(rd.messages, vec![snap_resp(2, 1, 1, 2)], "answers with its commit index");
}

#[test]
fn leader_sends_its_snapshot_when_the_next_entry_is_compacted() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(3));
    for i in 0..5u8 {
        c.node(1).propose(vec![i]).unwrap();
    }
    c.stabilize();
    let commit = c.node(1).status().commit;
    assert_eq!(commit, LogIndex(6));
    c.node(1).storage().wl().create_snapshot(commit, membership(&[1, 2, 3]), b"snap".to_vec()).unwrap();
    c.isolated.clear();
    for _ in 0..15 {
        c.tick_all();
        if c.node(3).status().commit == commit {
            break;
        }
    }
    // Only an InstallSnapshot can have put a snapshot into node 3's store.
    assert_eq!(c.node(3).storage().snapshot().unwrap().meta.last_log_id, LogId::new(Term(1), commit));
    assert_eq!(c.node(3).status().commit, commit);
    let pr = &c.node(1).status().progress[&NodeId(3)];
    assert_eq!((pr.matched, pr.state), (commit, ProgressState::Replicate), "back to replicating after install");
}

#[test]
fn snapshot_is_sent_to_a_silent_peer_and_report_snapshot_resumes_probing() {
    let mut n = node(1, &[1, 2, 3]);
    elect_manually(&mut n, &[2]);
    n.step(ack(2, 1, 1, 1)).unwrap();
    n.propose(b"a".to_vec()).unwrap();
    handle_ready(&mut n);
    n.step(ack(2, 1, 1, 2)).unwrap();
    handle_ready(&mut n);
    assert_eq!(n.status().commit, LogIndex(2));
    n.storage().wl().create_snapshot(LogIndex(2), membership(&[1, 2, 3]), b"s".to_vec()).unwrap();
    // Node 3 never answered its probe: it only gets heartbeats...
    n.tick();
    let rd = handle_ready(&mut n);
    let kinds: Vec<&str> = rd.messages.iter().filter(|m| m.to == NodeId(3)).map(|m| m.kind()).collect();
    assert_eq!(kinds, vec!["Heartbeat"]);
    // ...until it answers one; the re-probe from index 1 finds it compacted.
    n.step(ack(3, 1, 1, 0)).unwrap();
    let rd = handle_ready(&mut n);
    let snap = n.storage().snapshot().unwrap();
    let to3: Vec<_> = rd.messages.iter().filter(|m| m.to == NodeId(3)).cloned().collect();
    assert_eq!(to3, vec![install(1, 3, 1, snap)]);
    assert_eq!(n.status().progress[&NodeId(3)].state, ProgressState::Snapshot);
    n.tick();
    let rd = handle_ready(&mut n);
    assert!(
        rd.messages.iter().all(|m| m.to != NodeId(3) || m.kind() == "Heartbeat"),
        "only heartbeats while the snapshot is in flight: {:?}",
        rd.messages
    );
    n.report_snapshot(NodeId(3), true);
    let pr = &n.status().progress[&NodeId(3)];
    assert_eq!((pr.state, pr.next), (ProgressState::Probe, LogIndex(3)));
}

#[test]
fn snapshot_hint_fires_at_the_threshold() {
    let mut cfg = config(1);
    cfg.snapshot_threshold = 3;
    let mut n = node_with(cfg, &[1]);
    n.campaign().unwrap();
    handle_ready(&mut n);
    handle_ready(&mut n);
    for i in 0..2u8 {
        n.propose(vec![i]).unwrap();
    }
    handle_ready(&mut n);
    handle_ready(&mut n);
    let rd = n.ready().unwrap();
    assert_eq!(rd.snapshot_hint, Some(LogIndex(3)));
    n.advance(rd).unwrap();
    assert!(!n.has_ready(), "the hint is not repeated");
}

// ---- garbage input ---------------------------------------------------------

fn quiet(n: &mut Node) {
    let rd = n.ready().unwrap();
    assert!(rd.messages.is_empty() && rd.persisted_messages.is_empty(), "{rd:?}");
    assert!(rd.entries.is_empty());
}

#[test]
fn message_for_another_node_is_ignored() {
    let mut n = node(2, &[1, 2, 3]);
    n.step(append(1, 3, 1, (0, 0), vec![noop(1, 1)], 0)).unwrap();
    quiet(&mut n);
    assert_eq!(n.term(), Term(0));
}

#[test]
fn vote_request_from_outside_the_configuration_is_answered() {
    // thesis §4.1: the candidate may have been added by an entry we lack.
    let mut n = node(2, &[1, 2, 3]);
    let body = MessageBody::RequestVote(crate::RequestVote {
        pre_vote: false,
        last_log_id: LogId::new(Term(9), LogIndex(9)),
        leader_transfer: false,
    });
    n.step(msg(7, 2, 5, body)).unwrap();
    assert_eq!((n.term(), n.status().vote), (Term(5), Some(NodeId(7))));
    let rd = n.ready().unwrap();
    let grant = crate::RequestVoteResponse { pre_vote: false, granted: true, retry_next_term: false };
    assert_eq!(rd.persisted_messages, vec![msg(2, 7, 5, MessageBody::RequestVoteResponse(grant))]);
}

#[test]
fn vote_response_from_unknown_sender_is_ignored() {
    let mut n = node(2, &[1, 2, 3]);
    let grant = crate::RequestVoteResponse { pre_vote: false, granted: true, retry_next_term: false };
    n.step(msg(7, 2, 5, MessageBody::RequestVoteResponse(grant))).unwrap();
    quiet(&mut n);
    assert_eq!(n.term(), Term(0));
}

#[test]
fn response_from_unknown_or_stale_sender_is_ignored() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).step(ack(9, 1, 1, 1)).unwrap();
    c.node(1).step(ack(2, 1, 0, 1)).unwrap();
    quiet(c.node(1));
    assert_eq!(c.node(1).role(), Role::Leader);
}

#[test]
fn ack_past_the_leaders_log_is_ignored() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).step(ack(2, 1, 1, 500)).unwrap();
    assert_eq!(c.node(1).status().progress[&NodeId(2)].matched, LogIndex(1));
    assert_eq!(c.node(1).status().commit, LogIndex(1));
}

#[test]
fn non_consecutive_or_misplaced_entries_are_ignored() {
    let mut n = node(2, &[1, 2, 3]);
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 1), noop(1, 3)], 0)).unwrap();
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 2)], 0)).unwrap();
    n.step(append(1, 2, 1, (0, 0), vec![noop(5, 1)], 0)).unwrap();
    n.step(append(1, 2, 1, (2, 0), vec![noop(1, 1)], 0)).unwrap();
    assert_eq!(n.status().last_index, LogIndex(0));
    let rd = n.ready().unwrap();
    assert!(rd.entries.is_empty() && rd.persisted_messages.is_empty() && rd.messages.is_empty());
}

#[test]
fn commit_index_beyond_the_entries_is_capped() {
    // Figure 2: commitIndex = min(leaderCommit, index of last new entry).
    let mut n = node(2, &[1, 2, 3]);
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 1)], 99)).unwrap();
    assert_eq!(n.status().commit, LogIndex(1));
}

#[test]
fn stale_term_append_is_rejected_with_the_current_term() {
    let mut n = node(2, &[1, 2, 3]);
    n.step(append(1, 2, 3, (0, 0), vec![], 0)).unwrap();
    handle_ready(&mut n);
    n.step(append(3, 2, 2, (0, 0), vec![noop(2, 1)], 0)).unwrap();
    let rd = n.ready().unwrap();
    assert!(rd.entries.is_empty());
    assert_eq!(rd.messages.len(), 1);
    assert_eq!((rd.messages[0].to, rd.messages[0].term), (NodeId(3), Term(3)));
}

#[test]
fn append_trying_to_rewrite_committed_entries_is_ignored() {
    let mut n = node(2, &[1, 2, 3]);
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 1), normal(1, 2, b"a")], 2)).unwrap();
    handle_ready(&mut n);
    // A (buggy or byzantine) leader claims a different entry at index 1.
    n.step(append(3, 2, 2, (0, 0), vec![noop(2, 1)], 0)).unwrap();
    assert_eq!(n.status().last_index, LogIndex(2));
    let e: Vec<Entry> = n.storage().entries(LogIndex(1), LogIndex(3), None).unwrap();
    assert!(matches!(e[1].payload, EntryPayload::Normal(_)));
}

#[test]
fn term_zero_messages_are_ignored() {
    let mut n = node(2, &[1, 2, 3]);
    n.step(append(1, 2, 0, (0, 0), vec![noop(0, 1)], 0)).unwrap();
    assert_eq!(n.status().last_index, LogIndex(0));
    assert_eq!(n.leader(), None);
    quiet(&mut n);
}

#[test]
fn stale_append_from_a_leader_outside_our_configuration_is_answered_with_our_term() {
    // Node 3's log still holds configuration {2, 3}; node 1 leads term 2
    // of {1, 2, 3}. Node 3 is at term 5 (it campaigned while cut off). If it
    // dropped node 1's stale appends as coming from a stranger, node 1 would
    // never learn term 5 and node 3 would never rejoin (sim seeds 3202831
    // and 5204145 of core-sim): it must answer with its term like any
    // stale append (thesis §9.6).
    let mut n = node(3, &[2, 3]);
    n.step(append(2, 3, 5, (0, 0), vec![], 0)).unwrap();
    handle_ready(&mut n);
    n.step(append(1, 3, 2, (0, 0), vec![noop(2, 1)], 0)).unwrap();
    let rd = n.ready().unwrap();
    assert!(rd.entries.is_empty());
    assert_eq!(rd.messages.len(), 1);
    assert_eq!((rd.messages[0].to, rd.messages[0].term), (NodeId(1), Term(5)));
}

#[test]
fn a_node_that_cannot_campaign_answers_stale_appends_even_without_pre_vote_or_check_quorum() {
    // Node 4 is not a voter in its own configuration, so it will never
    // campaign and disrupt the stale leader itself; it must tell it about
    // its higher term, or it never rejoins (sim seed 7301408 of core-sim).
    let mut cfg = config(4);
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.step(append(2, 4, 5, (0, 0), vec![], 0)).unwrap();
    handle_ready(&mut n);
    n.step(append(1, 4, 2, (0, 0), vec![noop(2, 1)], 0)).unwrap();
    let rd = n.ready().unwrap();
    assert!(rd.entries.is_empty());
    assert_eq!(rd.messages.len(), 1);
    assert_eq!((rd.messages[0].to, rd.messages[0].term), (NodeId(1), Term(5)));
}

#[test]
fn a_voter_answers_stale_appends_even_without_pre_vote_or_check_quorum() {
    // Node 1's configuration {1, 2, 3} does not list leader 4, so its vote
    // requests never reach it: only this reply can tell the leader of the
    // higher term (sim seed 4000053 of core-sim, 3 nodes).
    let mut cfg = config(1);
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.step(append(2, 1, 5, (0, 0), vec![], 0)).unwrap();
    handle_ready(&mut n);
    n.step(append(4, 1, 2, (0, 0), vec![noop(2, 1)], 0)).unwrap();
    let rd = n.ready().unwrap();
    assert!(rd.entries.is_empty());
    assert_eq!(rd.messages.len(), 1);
    assert_eq!((rd.messages[0].to, rd.messages[0].term), (NodeId(4), Term(5)));
}
