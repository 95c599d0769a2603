//! Log replication rules (§5.3, §5.4.2) and flow control.

use crate::message::{AppendEntriesResponse, AppendResult, ConflictHint, MessageBody};
use crate::node::RaftNode;
use crate::progress::ProgressState;
use crate::test_util::*;
use crate::types::{Entry, EntryPayload, LogIndex, NodeId, Term};

fn conflict(from: u64, to: u64, term: u64, rejected: u64, conflict_term: Option<u64>, first: u64) -> crate::Message {
    msg(
        from,
        to,
        term,
        MessageBody::AppendEntriesResponse(AppendEntriesResponse {
            result: AppendResult::Conflict(ConflictHint {
                rejected_index: LogIndex(rejected),
                conflict_term: conflict_term.map(Term),
                first_index: LogIndex(first),
            }),
            read_round: 0,
        }),
    )
}

/// A two-voter leader (node 1, peer 2) whose follower is in Replicate at
/// the noop, with the given limits.
fn replicating_leader(max_msgs: usize, max_inflight_bytes: u64, max_msg_bytes: u64) -> Node {
    let mut cfg = config(1);
    cfg.max_inflight_msgs = max_msgs;
    cfg.max_inflight_bytes = max_inflight_bytes;
    cfg.max_msg_bytes = max_msg_bytes;
    let mut n = node_with(cfg, &[1, 2]);
    elect_manually(&mut n, &[2]);
    let t = n.term().0;
    n.step(ack(2, 1, t, 1)).unwrap();
    assert_eq!(n.status().progress[&NodeId(2)].state, ProgressState::Replicate);
    handle_ready(&mut n);
    n
}

#[test]
fn commit_requires_an_entry_of_the_current_term() {
    // §5.4.2 / Figure 8: replicas of an older-term entry are not counted.
    let store = store_with_log(&[1, 2, 3], 2, &[noop(1, 1), noop(2, 2)]);
    let mut n = RaftNode::new(config(1), store).unwrap();
    elect_manually(&mut n, &[2]);
    assert_eq!(n.term(), Term(3));
    n.step(ack(2, 1, 3, 2)).unwrap();
    let rd = handle_ready(&mut n);
    assert!(rd.committed_entries.is_empty(), "index 2 (term 2) is on a majority but not of term 3");
    assert_eq!(n.status().commit, LogIndex(0));
    n.step(ack(2, 1, 3, 3)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(rd.committed_entries, vec![noop(1, 1), noop(2, 2), noop(3, 3)]);
}

#[test]
fn leader_counts_its_own_entry_only_after_it_is_persisted() {
    // thesis §10.2.1: the leader may send before its write is durable, but
    // it only counts itself once the write is done.
    let mut n = node(1, &[1, 2, 3]);
    n.campaign().unwrap();
    n.step(msg(
        2,
        1,
        1,
        MessageBody::RequestVoteResponse(crate::RequestVoteResponse {
            pre_vote: true,
            granted: true,
            retry_next_term: false,
        }),
    ))
    .unwrap();
    n.step(msg(
        2,
        1,
        1,
        MessageBody::RequestVoteResponse(crate::RequestVoteResponse {
            pre_vote: false,
            granted: true,
            retry_next_term: false,
        }),
    ))
    .unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(rd.entries, vec![noop(1, 1)]);
    n.step(ack(2, 1, 1, 1)).unwrap();
    assert_eq!(n.status().commit, LogIndex(0), "1 of 3 holds it durably; the leader's copy is not yet durable");
    persist(&n.storage().clone(), &rd);
    n.advance(rd).unwrap();
    assert_eq!(n.status().commit, LogIndex(1), "leader + follower 2 now form a majority");
}

#[test]
fn follower_truncates_a_conflicting_suffix() {
    // §5.3: delete the existing entry and all that follow it.
    let store = store_with_log(&[1, 2, 3], 1, &[noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b")]);
    let mut n = RaftNode::new(config(2), store).unwrap();
    n.step(append(1, 2, 2, (1, 1), vec![normal(2, 2, b"x")], 1)).unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(rd.truncate_from, Some(LogIndex(2)));
    assert_eq!(rd.entries, vec![normal(2, 2, b"x")]);
    assert!(rd.must_sync);
    assert!(rd.messages.is_empty(), "the ack waits for persistence");
    assert_eq!(rd.persisted_messages, vec![ack(2, 1, 2, 2)]);
    assert_eq!(rd.committed_entries, vec![noop(1, 1)]);
}

#[test]
fn follower_keeps_matching_entries_and_appends_only_new_ones() {
    let store = store_with_log(&[1, 2, 3], 1, &[noop(1, 1), normal(1, 2, b"a")]);
    let mut n = RaftNode::new(config(2), store).unwrap();
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 1), normal(1, 2, b"a"), normal(1, 3, b"b")], 0)).unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(rd.truncate_from, None);
    assert_eq!(rd.entries, vec![normal(1, 3, b"b")]);
    assert_eq!(rd.persisted_messages, vec![ack(2, 1, 1, 3)]);
}

#[test]
fn follower_rejects_with_term_hint_or_length_hint() {
    // §5.3 (end): the hint lets the leader skip a whole term.
    let store = store_with_log(&[1, 2, 3], 2, &[noop(1, 1), noop(2, 2), normal(2, 3, b"a"), normal(2, 4, b"b")]);
    let mut n = RaftNode::new(config(2), store).unwrap();
    n.step(append(1, 2, 3, (3, 4), vec![], 0)).unwrap();
    n.step(append(1, 2, 3, (3, 7), vec![], 0)).unwrap();
    let rd = n.ready().unwrap();
    let all: Vec<_> = rd.messages.iter().chain(&rd.persisted_messages).cloned().collect();
    assert_eq!(all, vec![conflict(2, 1, 3, 4, Some(2), 2), conflict(2, 1, 3, 7, None, 5)]);
}

#[test]
fn leader_backs_up_a_whole_term_per_round_trip() {
    // §5.3: one rejection per conflicting term, not per entry.
    let leader_log = [noop(1, 1), noop(1, 2), noop(1, 3), noop(4, 4), noop(4, 5)];
    let mut l = RaftNode::new(config(1), store_with_log(&[1, 2, 3], 4, &leader_log)).unwrap();
    elect_manually(&mut l, &[3]);
    assert_eq!(l.term(), Term(5));
    let rd = handle_ready(&mut l);
    assert_eq!(appends_to(&rd.messages, 2).len(), 0, "already sent with the election Ready");
    let follower_log = [noop(1, 1), noop(1, 2), noop(1, 3), noop(2, 4), noop(2, 5), noop(2, 6), noop(2, 7)];
    let mut f = RaftNode::new(config(2), store_with_log(&[1, 2, 3], 2, &follower_log)).unwrap();
    // Round trip 1: the probe at prev 4-5 is refused with term 2 starting at 4.
    f.step(append(1, 2, 5, (4, 5), vec![noop(5, 6)], 0)).unwrap();
    let frd = handle_ready(&mut f);
    assert_eq!(frd.persisted_messages, vec![conflict(2, 1, 5, 5, Some(2), 4)]);
    l.step(frd.persisted_messages[0].clone()).unwrap();
    let rd = handle_ready(&mut l);
    let to2 = appends_to(&rd.messages, 2);
    assert_eq!(to2.len(), 1);
    assert_eq!(to2[0].prev_log_id, crate::LogId::new(Term(1), LogIndex(3)), "skips all of term 2 at once");
    // Round trip 2 succeeds.
    f.step(crate::Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(5),
        body: MessageBody::AppendEntries(to2[0].clone()),
    })
    .unwrap();
    let frd = handle_ready(&mut f);
    assert_eq!(frd.truncate_from, Some(LogIndex(4)));
    assert_eq!(frd.persisted_messages, vec![ack(2, 1, 5, 6)]);
}

#[test]
fn inflight_window_blocks_by_message_count() {
    let size = normal(1, 1, b"x").size_bytes();
    let mut n = replicating_leader(2, 1 << 20, size);
    for _ in 0..5 {
        n.propose(b"x".to_vec()).unwrap();
    }
    let rd = handle_ready(&mut n);
    let sent = appends_to(&rd.messages, 2);
    assert_eq!(sent.len(), 2, "window of 2 messages");
    assert_eq!(sent.iter().map(|a| a.entries.len()).collect::<Vec<_>>(), vec![1, 1]);
    assert!(!n.has_ready());
    let t = n.term().0;
    n.step(ack(2, 1, t, 2)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(appends_to(&rd.messages, 2).len(), 1, "one slot freed");
}

#[test]
fn inflight_window_blocks_by_bytes() {
    let size = normal(1, 1, b"x").size_bytes();
    let mut n = replicating_leader(256, 3 * size, size);
    for _ in 0..5 {
        n.propose(b"x".to_vec()).unwrap();
    }
    let rd = handle_ready(&mut n);
    assert_eq!(appends_to(&rd.messages, 2).len(), 3, "3 entries' worth of bytes");
    let t = n.term().0;
    n.step(ack(2, 1, t, 3)).unwrap();
    let rd = handle_ready(&mut n);
    let sent = appends_to(&rd.messages, 2);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].entries, vec![normal(t, 6, b"x")]);
}

#[test]
fn max_msg_bytes_splits_appends() {
    let size = normal(1, 1, b"x").size_bytes();
    let mut n = replicating_leader(256, 1 << 20, 2 * size);
    for _ in 0..5 {
        n.propose(b"x".to_vec()).unwrap();
    }
    let rd = handle_ready(&mut n);
    let sent = appends_to(&rd.messages, 2);
    assert_eq!(sent.iter().map(|a| a.entries.len()).collect::<Vec<_>>(), vec![2, 2, 1]);
    assert_eq!(sent[1].prev_log_id.index, LogIndex(3), "pipelined: each continues the previous");
}

#[test]
fn probe_sends_one_append_at_a_time() {
    let mut n = node(1, &[1, 2]);
    elect_manually(&mut n, &[2]);
    n.propose(b"a".to_vec()).unwrap();
    n.propose(b"b".to_vec()).unwrap();
    let rd = handle_ready(&mut n);
    assert!(appends_to(&rd.messages, 2).is_empty(), "probe outstanding since the election Ready");
}

#[test]
fn proposals_between_readies_go_out_as_one_append() {
    let mut n = replicating_leader(256, 1 << 20, 1 << 20);
    for i in 0..10u8 {
        n.propose(vec![i]).unwrap();
    }
    let rd = handle_ready(&mut n);
    let sent = appends_to(&rd.messages, 2);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].entries.len(), 10);
    assert_eq!(rd.entries.len(), 10);
}

#[test]
fn idle_heartbeats_cost_two_messages_per_follower_per_interval() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.tick_all();
    let before = c.delivered;
    for _ in 0..10 {
        c.tick_all();
    }
    assert_eq!(c.delivered - before, 40, "heartbeat + ack, 2 followers, 10 ticks");
}

#[test]
fn heartbeat_commit_is_capped_at_the_follower_match() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(3));
    c.node(1).propose(b"a".to_vec()).unwrap();
    c.stabilize();
    assert_eq!(c.node(1).status().commit, LogIndex(2));
    c.node(1).tick();
    let rd = c.node(1).ready().unwrap();
    let to3 = appends_to(&rd.messages, 3);
    let to2 = appends_to(&rd.messages, 2);
    assert_eq!(to2[0].leader_commit, LogIndex(2));
    assert!(to3.iter().all(|a| a.leader_commit <= LogIndex(1)), "node 3 only holds index 1: {to3:?}");
}

#[test]
fn followers_apply_after_heartbeat_propagates_commit() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).propose(b"v".to_vec()).unwrap();
    c.stabilize();
    assert!(c.applied_data(2).is_empty(), "commit not yet known to followers");
    c.tick_all();
    assert_eq!(c.applied_data(2), vec![b"v".to_vec()]);
    assert_eq!(c.applied_data(3), vec![b"v".to_vec()]);
}

#[test]
fn stale_leader_learns_the_new_term_from_a_rejection() {
    // thesis §9.6: with pre-vote, nodes tell a stale leader its term is old.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(1));
    for _ in 0..40 {
        for id in [2, 3] {
            c.node(id).tick();
        }
        c.stabilize();
    }
    let new_leader = [2, 3]
        .into_iter()
        .map(NodeId)
        .find(|&id| c.nodes[&id].role() == crate::types::Role::Leader)
        .expect("2 or 3 leads");
    let t = c.node(new_leader.0).term().0;
    c.node(new_leader.0).step(append(1, new_leader.0, 1, (1, 1), vec![], 1)).unwrap();
    let rd = c.node(new_leader.0).ready().unwrap();
    assert_eq!(rd.messages.iter().filter(|m| m.to == NodeId(1) && m.term == Term(t)).count(), 1);
}

#[test]
fn entry_too_large_and_backpressure_are_refused() {
    let mut cfg = config(1);
    cfg.max_entry_bytes = 10;
    cfg.max_uncommitted_bytes = 100;
    let mut n = node_with(cfg, &[1, 2]);
    elect_manually(&mut n, &[2]);
    assert_eq!(n.propose(vec![0; 11]), Err(crate::ProposeError::EntryTooLarge { size: 11, limit: 10 }));
    let mut refused = None;
    for _ in 0..10 {
        if let Err(e) = n.propose(vec![0; 10]) {
            refused = Some(e);
            break;
        }
    }
    assert!(matches!(refused, Some(crate::ProposeError::Backpressure { .. })), "{refused:?}");
}

#[test]
fn entry_payload_kinds_round_trip_through_replication() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).propose(b"x".to_vec()).unwrap();
    c.stabilize();
    c.tick_all();
    let applied: Vec<Entry> = c.applied[&NodeId(2)].clone();
    assert!(matches!(applied[0].payload, EntryPayload::Noop));
    assert_eq!(applied[1], normal(1, 2, b"x"));
}

#[test]
fn unreachable_peer_falls_back_to_probing_from_its_match() {
    let size = normal(1, 1, b"x").size_bytes();
    let mut n = replicating_leader(256, 1 << 20, size);
    for _ in 0..3 {
        n.propose(b"x".to_vec()).unwrap();
    }
    handle_ready(&mut n);
    assert_eq!(n.status().progress[&NodeId(2)].next, LogIndex(5), "pipelined optimistically");
    n.report_unreachable(NodeId(2));
    let pr = &n.status().progress[&NodeId(2)];
    assert_eq!((pr.state, pr.next), (ProgressState::Probe, LogIndex(2)));
    let rd = handle_ready(&mut n);
    let sent = appends_to(&rd.messages, 2);
    assert_eq!(sent.len(), 1, "one probe");
    assert_eq!(sent[0].prev_log_id.index, LogIndex(1));
}

#[test]
fn heartbeat_overtaking_an_inflight_append_keeps_the_pipeline() {
    // A heartbeat to a pipelined follower asserts everything sent so far.
    // If it overtakes the append it covers, the follower's "log too short"
    // rejection proves no loss: the pipeline must not fall back to probing
    // and re-send what is still in flight.
    let mut n = replicating_leader(256, 1 << 20, 1 << 20);
    n.propose(b"x".to_vec()).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(appends_to(&rd.messages, 2).iter().map(|a| a.entries.len()).collect::<Vec<_>>(), vec![1]);
    n.tick();
    let rd = handle_ready(&mut n);
    let hb = appends_to(&rd.messages, 2);
    assert_eq!(hb.len(), 1);
    assert_eq!((hb[0].prev_log_id.index, hb[0].entries.len()), (LogIndex(2), 0));
    n.step(conflict(2, 1, 1, 2, None, 2)).unwrap();
    let pr = n.status().progress[&NodeId(2)].clone();
    assert_eq!((pr.state, pr.next, pr.matched), (ProgressState::Replicate, LogIndex(3), LogIndex(1)));
    let rd = handle_ready(&mut n);
    assert_eq!(appends_to(&rd.messages, 2), vec![], "nothing in flight is re-sent");
    n.step(ack(2, 1, 1, 2)).unwrap();
    let pr = n.status().progress[&NodeId(2)].clone();
    assert_eq!((pr.state, pr.next, pr.matched), (ProgressState::Replicate, LogIndex(3), LogIndex(2)));
}

/// §5.3: a follower drops an append whose `prev` it lacks, e.g. one that
/// overtook the append before it. A second "log too short" rejection while
/// appends are in flight means data was dropped: the leader re-sends
/// everything after the follower's last entry at once, still pipelined,
/// rather than probing a round trip at a time (sim seed 9029620, 7 nodes:
/// a far-behind follower on a reordering network, one entry per message,
/// fell back to probing so often it missed the liveness bound).
#[test]
fn appends_dropped_out_of_order_are_resent_pipelined() {
    let size = normal(1, 1, b"x").size_bytes();
    let mut n = replicating_leader(256, 1 << 20, size);
    for _ in 0..3 {
        n.propose(b"x".to_vec()).unwrap();
    }
    let prevs =
        |rd: &crate::Ready| -> Vec<u64> { appends_to(&rd.messages, 2).iter().map(|a| a.prev_log_id.index.0).collect() };
    let rd = handle_ready(&mut n);
    assert_eq!(prevs(&rd), vec![1, 2, 3]);
    let t = n.term().0;
    // The appends at prev 2 and 3 overtook the one at prev 1: both refused.
    n.step(conflict(2, 1, t, 2, None, 2)).unwrap();
    n.step(conflict(2, 1, t, 3, None, 2)).unwrap();
    let pr = n.status().progress[&NodeId(2)].clone();
    assert_eq!((pr.state, pr.next), (ProgressState::Replicate, LogIndex(2)));
    let rd = handle_ready(&mut n);
    assert_eq!(prevs(&rd), vec![1, 2, 3], "everything after the follower's log, at once");
}

#[test]
fn lost_append_is_detected_by_the_next_heartbeat() {
    // The heartbeat asserts the pipelined prefix; the follower lacks it and
    // rejects, so the leader re-sends without waiting for a timeout.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).propose(b"lost".to_vec()).unwrap();
    let rd = handle_ready(c.node(1));
    c.queue.extend(rd.messages.into_iter().filter(|m| m.to != NodeId(3)));
    c.stabilize();
    assert_eq!(c.node(3).status().last_index, LogIndex(1));
    c.tick_all();
    c.tick_all();
    assert_eq!(c.node(3).status().last_index, LogIndex(2));
    assert_eq!(c.node(3).status().commit, LogIndex(2));
}

#[test]
fn status_reports_progress_only_on_the_leader() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    let st = c.node(1).status();
    assert_eq!(st.progress.keys().copied().collect::<Vec<_>>(), ids(&[1, 2, 3]));
    assert!(st.progress.values().all(|p| p.matched == LogIndex(1)));
    assert!(c.node(2).status().progress.is_empty());
}

#[test]
fn backpressure_lifts_once_entries_commit() {
    let mut c = Cluster::with_config(&[1, 2, 3], |id| {
        let mut cfg = config(id);
        cfg.max_uncommitted_bytes = 3 * normal(1, 1, b"x").size_bytes();
        cfg
    });
    c.elect(1);
    c.isolated.extend([NodeId(2), NodeId(3)]);
    let accepted = (0..10).filter(|_| c.node(1).propose(b"x".to_vec()).is_ok()).count();
    assert_eq!(accepted, 3, "limit reached while nothing commits");
    c.isolated.clear();
    c.tick_all();
    c.tick_all();
    assert!(c.node(1).propose(b"x".to_vec()).is_ok(), "committed bytes no longer count");
}
