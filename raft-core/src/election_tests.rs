//! Election rules (§5.2, §5.4.1, thesis §9.6 pre-vote, §6.2 check-quorum).

use std::collections::BTreeSet;

use crate::message::{Message, MessageBody, RequestVote, RequestVoteResponse};
use crate::ready::{Event, SoftState};
use crate::test_util::*;
use crate::types::{HardState, LogId, LogIndex, NodeId, Role, Term};

fn rv(pre_vote: bool, last: (u64, u64), leader_transfer: bool) -> MessageBody {
    MessageBody::RequestVote(RequestVote {
        pre_vote,
        last_log_id: LogId::new(Term(last.0), LogIndex(last.1)),
        leader_transfer,
    })
}

fn rvr(pre_vote: bool, granted: bool) -> MessageBody {
    MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote, granted, retry_next_term: false })
}

#[test]
fn election_timeout_is_drawn_from_t_to_2t() {
    // §5.2: randomized timeouts, here in [T, 2T) ticks from the seeded RNG.
    let mut seen = BTreeSet::new();
    for seed in 0..64 {
        let mut cfg = config(1);
        cfg.seed = seed;
        let mut n = node_with(cfg, &[1, 2, 3]);
        let mut ticks = 0;
        while n.role() == Role::Follower {
            n.tick();
            ticks += 1;
            assert!(ticks < 20, "seed {seed}: no election within 2T");
        }
        assert!(ticks >= 10, "seed {seed}: election after {ticks} ticks, before T");
        seen.insert(ticks);
    }
    assert!(seen.len() > 3, "timeouts should vary across seeds: {seen:?}");
}

#[test]
fn pre_vote_round_probes_without_raising_the_term() {
    // thesis §9.6: the pre-vote carries term+1 but changes no state.
    let mut n = node(1, &[1, 2, 3]);
    n.campaign().unwrap();
    assert_eq!((n.role(), n.term()), (Role::PreCandidate, Term(0)));
    let rd = n.ready().unwrap();
    assert_eq!(rd.hard_state, None, "nothing to persist for a pre-vote");
    assert_eq!(rd.soft_state, Some(SoftState { role: Role::PreCandidate, leader: None, term: Term(0) }));
    assert_eq!(rd.messages, vec![msg(1, 2, 1, rv(true, (0, 0), false)), msg(1, 3, 1, rv(true, (0, 0), false))]);
    assert!(rd.persisted_messages.is_empty());
    assert_eq!(rd.events, vec![Event::ElectionStarted { term: Term(1), pre_vote: true }]);
}

#[test]
fn won_pre_vote_starts_election_with_vote_persisted_before_requests() {
    // §5.2 + §5.1: the candidate's term and self-vote are durable before it
    // asks for votes.
    let mut n = node(1, &[1, 2, 3]);
    n.campaign().unwrap();
    n.ready().unwrap();
    n.step(msg(2, 1, 1, rvr(true, true))).unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(1)));
    let rd = n.ready().unwrap();
    assert_eq!(rd.hard_state, Some(HardState { term: Term(1), vote: Some(NodeId(1)), commit: LogIndex(0) }));
    assert!(rd.must_sync);
    assert!(rd.messages.is_empty());
    assert_eq!(
        rd.persisted_messages,
        vec![msg(1, 2, 1, rv(false, (0, 0), false)), msg(1, 3, 1, rv(false, (0, 0), false))]
    );
}

#[test]
fn granted_vote_is_persisted_before_the_response() {
    // §5.1/Figure 2: votedFor is persisted before responding.
    let mut n = node(2, &[1, 2, 3]);
    n.step(msg(1, 2, 1, rv(false, (0, 0), false))).unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(rd.hard_state, Some(HardState { term: Term(1), vote: Some(NodeId(1)), commit: LogIndex(0) }));
    assert!(rd.must_sync);
    assert!(rd.messages.is_empty());
    assert_eq!(rd.persisted_messages, vec![msg(2, 1, 1, rvr(false, true))]);
}

#[test]
fn vote_is_granted_at_most_once_per_term() {
    // §5.2: each server votes for at most one candidate per term.
    let mut n = node(2, &[1, 2, 3]);
    n.step(msg(1, 2, 1, rv(false, (0, 0), false))).unwrap();
    n.step(msg(3, 2, 1, rv(false, (0, 0), false))).unwrap();
    n.step(msg(1, 2, 1, rv(false, (0, 0), false))).unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(
        rd.persisted_messages,
        vec![msg(2, 1, 1, rvr(false, true)), msg(2, 3, 1, rvr(false, false)), msg(2, 1, 1, rvr(false, true))],
        "the second candidate is refused; a retry from the first is granted again"
    );
}

#[test]
fn vote_is_refused_to_a_less_up_to_date_log() {
    // §5.4.1: higher last term wins; equal terms compare length.
    let store = store_with_log(&[1, 2, 3], 2, &[noop(1, 1), noop(2, 2)]);
    let mut n = crate::node::RaftNode::new(config(2), store).unwrap();
    n.step(msg(1, 2, 3, rv(false, (1, 5), false))).unwrap(); // older last term
    n.step(msg(3, 2, 3, rv(false, (2, 1), false))).unwrap(); // same term, shorter
    n.step(msg(3, 2, 3, rv(false, (2, 2), false))).unwrap(); // as up-to-date
    let rd = n.ready().unwrap();
    assert_eq!(
        rd.persisted_messages,
        vec![msg(2, 1, 3, rvr(false, false)), msg(2, 3, 3, rvr(false, false)), msg(2, 3, 3, rvr(false, true))]
    );
    assert_eq!(rd.hard_state.unwrap().vote, Some(NodeId(3)));
}

#[test]
fn new_leader_appends_and_sends_a_noop() {
    // §5.4.2 / §8: a leader commits an entry of its own term first.
    let mut n = node(1, &[1, 2, 3]);
    n.campaign().unwrap();
    n.step(msg(2, 1, 1, rvr(true, true))).unwrap();
    handle_ready(&mut n);
    n.step(msg(2, 1, 1, rvr(false, true))).unwrap();
    assert_eq!(n.role(), Role::Leader);
    let rd = n.ready().unwrap();
    assert_eq!(rd.entries, vec![noop(1, 1)]);
    assert_eq!(
        rd.messages,
        vec![append(1, 2, 1, (0, 0), vec![noop(1, 1)], 0), append(1, 3, 1, (0, 0), vec![noop(1, 1)], 0)]
    );
    assert!(rd.events.contains(&Event::BecameLeader { term: Term(1), votes: ids(&[1, 2]) }));
}

#[test]
fn partitioned_node_cannot_raise_the_term_of_a_healthy_cluster() {
    // thesis §9.6: pre-vote keeps a returning node from disrupting.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(3));
    for _ in 0..100 {
        c.tick_all();
    }
    assert_eq!(c.node(3).term(), Term(1), "pre-vote never succeeds alone, so the term stays");
    c.isolated.clear();
    for _ in 0..30 {
        c.tick_all();
    }
    assert_eq!(c.leader(), Some(NodeId(1)));
    for id in [1, 2, 3] {
        assert_eq!(c.node(id).term(), Term(1), "node {id}");
    }
    assert_eq!(c.node(3).leader(), Some(NodeId(1)));
}

#[test]
fn leader_without_quorum_steps_down() {
    // thesis §6.2 CheckQuorum.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(1));
    for _ in 0..20 {
        c.node(1).tick();
    }
    assert_eq!(c.node(1).role(), Role::Follower);
    let rd = c.node(1).ready().unwrap();
    assert!(rd.events.contains(&Event::LostQuorum { term: Term(1) }), "{:?}", rd.events);
}

#[test]
fn leader_with_quorum_stays() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(3));
    for _ in 0..50 {
        c.tick_all();
    }
    assert_eq!(c.leader(), Some(NodeId(1)));
}

#[test]
fn follower_with_live_leader_ignores_vote_requests() {
    // thesis §9.6 leader stickiness (with CheckQuorum).
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    let last = c.node(2).status().last_index.0;
    c.node(2).step(msg(3, 2, 2, rv(false, (1, last), false))).unwrap();
    c.node(2).step(msg(3, 2, 2, rv(true, (1, last), false))).unwrap();
    assert_eq!(c.node(2).term(), Term(1));
    let rd = c.node(2).ready().unwrap();
    assert!(rd.messages.is_empty() && rd.persisted_messages.is_empty(), "ignored, not even rejected");
}

#[test]
fn pre_vote_is_refused_while_a_leader_is_live_even_without_check_quorum() {
    // thesis §9.6: a server that heard from a leader within the election
    // timeout does not grant a pre-vote, so a node back from a partition
    // cannot raise the term. This must not depend on CheckQuorum.
    let mut c = Cluster::with_config(&[1, 2, 3], |id| {
        let mut cfg = config(id);
        cfg.check_quorum = false;
        cfg
    });
    c.elect(1);
    c.isolated.insert(NodeId(3));
    for _ in 0..100 {
        if c.node(3).role() == Role::PreCandidate {
            break;
        }
        c.node(3).tick();
    }
    assert_eq!((c.node(3).role(), c.node(3).term()), (Role::PreCandidate, Term(1)));
    let last = c.node(3).status().last_index.0;
    let rd = c.node(3).ready().unwrap();
    assert_eq!(rd.messages, vec![msg(3, 1, 2, rv(true, (1, last), false)), msg(3, 2, 2, rv(true, (1, last), false))]);
    c.isolated.clear();
    for m in rd.messages {
        let to = m.to.0;
        c.node(to).step(m).unwrap();
    }
    for id in [1, 2] {
        let rd = c.node(id).ready().unwrap();
        assert!(rd.messages.is_empty() && rd.persisted_messages.is_empty(), "node {id} answered: {rd:?}");
    }
    for _ in 0..30 {
        c.tick_all();
    }
    assert_eq!(c.leader(), Some(NodeId(1)));
    for id in [1, 2, 3] {
        assert_eq!(c.node(id).term(), Term(1), "node {id}");
    }
}

#[test]
fn pre_vote_is_granted_once_the_leader_is_silent_for_an_election_timeout() {
    let mut cfg = config(2);
    cfg.check_quorum = false;
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 1)], 0)).unwrap();
    handle_ready(&mut n);
    for _ in 0..10 {
        n.tick();
    }
    n.step(msg(3, 2, 2, rv(true, (1, 1), false))).unwrap();
    assert_eq!(n.ready().unwrap().messages, vec![msg(2, 3, 2, rvr(true, true))]);
}

#[test]
fn leader_transfer_vote_request_bypasses_stickiness() {
    // thesis §3.10: a TimeoutNow-triggered election must not be blocked.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    let last = c.node(2).status().last_index.0;
    c.node(2).step(msg(3, 2, 2, rv(false, (1, last), true))).unwrap();
    assert_eq!(c.node(2).term(), Term(2));
    let rd = c.node(2).ready().unwrap();
    assert_eq!(rd.persisted_messages, vec![msg(2, 3, 2, rvr(false, true))]);
}

#[test]
fn candidate_steps_down_on_append_from_leader_of_its_term() {
    // §5.2: a candidate that hears from a legitimate leader returns to follower.
    let mut cfg = config(2);
    cfg.pre_vote = false;
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.campaign().unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(1)));
    n.step(append(1, 2, 1, (0, 0), vec![], 0)).unwrap();
    assert_eq!((n.role(), n.leader()), (Role::Follower, Some(NodeId(1))));
}

#[test]
fn split_votes_lose_and_return_to_follower() {
    let mut cfg = config(1);
    cfg.pre_vote = false;
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.campaign().unwrap();
    n.step(msg(2, 1, 1, rvr(false, false))).unwrap();
    assert_eq!(n.role(), Role::Candidate);
    n.step(msg(3, 1, 1, rvr(false, false))).unwrap();
    assert_eq!((n.role(), n.term()), (Role::Follower, Term(1)));
}

#[test]
fn non_voters_never_campaign_or_vote() {
    let mut n = node(4, &[1, 2, 3]);
    for _ in 0..100 {
        n.tick();
    }
    assert_eq!(n.role(), Role::Follower);
    n.campaign().unwrap();
    assert_eq!(n.role(), Role::Follower);
    assert!(n.ready().unwrap().messages.is_empty());
}

#[test]
fn stale_pre_vote_is_answered_with_our_term() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(2).step(msg(3, 2, 1, rv(true, (0, 0), false))).unwrap();
    let rd = c.node(2).ready().unwrap();
    let expected: Vec<Message> = vec![msg(2, 3, 1, rvr(true, false))];
    assert_eq!(rd.messages, expected);
}

#[test]
fn learning_a_higher_term_does_not_restart_the_election_timer() {
    // Figure 2: only AppendEntries from the leader or a granted vote do; a
    // stale candidate must not keep up-to-date nodes from timing out.
    let store = store_with_log(&[1, 2, 3], 1, &[noop(1, 1)]);
    let mut n = crate::node::RaftNode::new(config(2), store).unwrap();
    for _ in 0..9 {
        n.tick();
    }
    n.step(msg(3, 2, 2, rv(false, (0, 0), false))).unwrap();
    assert_eq!(n.term(), Term(2));
    assert_eq!(n.election_elapsed, 9, "vote refused, timer keeps running");
    n.step(msg(3, 2, 2, rv(false, (1, 1), false))).unwrap();
    assert_eq!(n.election_elapsed, 0, "granting a vote restarts the timer");
}

#[test]
fn without_pre_vote_campaign_raises_the_term_at_once() {
    let mut cfg = config(1);
    cfg.pre_vote = false;
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.campaign().unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(1)));
    let rd = n.ready().unwrap();
    assert_eq!(rd.events, vec![Event::ElectionStarted { term: Term(1), pre_vote: false }]);
    assert_eq!(
        rd.persisted_messages,
        vec![msg(1, 2, 1, rv(false, (0, 0), false)), msg(1, 3, 1, rv(false, (0, 0), false))]
    );
}

#[test]
fn timeout_now_makes_the_follower_campaign_with_the_transfer_flag() {
    // thesis §3.10: skip pre-vote, mark the request so stickiness is bypassed.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    let last = c.node(2).status().last_index.0;
    c.node(2).step(msg(1, 2, 1, MessageBody::TimeoutNow)).unwrap();
    assert_eq!((c.node(2).role(), c.node(2).term()), (Role::Candidate, Term(2)));
    let rd = c.node(2).ready().unwrap();
    assert_eq!(
        rd.persisted_messages,
        vec![msg(2, 1, 2, rv(false, (1, last), true)), msg(2, 3, 2, rv(false, (1, last), true))]
    );
}

#[test]
fn timeout_now_from_a_non_leader_is_ignored() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(2).step(msg(3, 2, 1, MessageBody::TimeoutNow)).unwrap();
    assert_eq!(c.node(2).role(), Role::Follower);
}

#[test]
fn a_voter_not_yet_in_its_own_configuration_grants_votes() {
    // thesis §4.1 (etcd's TestLearnerCanVote): node 4 was added as a voter
    // but the entry adding it has not reached its log; the candidate counts
    // it, so refusing would leave {1,2,3,4} without a quorum when one of
    // the old voters is down. Found by the simulator, seed 3010 (3 nodes).
    let mut n = node(4, &[1, 2, 3]);
    n.step(msg(1, 4, 1, rv(false, (0, 0), false))).unwrap();
    let rd = n.ready().unwrap();
    assert_eq!(rd.persisted_messages, vec![msg(4, 1, 1, rvr(false, true))]);
}

#[test]
fn readded_node_with_a_high_term_does_not_depose_the_leader() {
    // thesis §4.2.3: a server removed while partitioned (here without
    // pre-vote) raises its term by campaigning. Neither its term in answers
    // to the appends that tell it of its removal, nor re-adding it, may cost
    // the cluster its leader: node 1 stays leader throughout, re-elected by
    // itself within the same round trip above the returning node's term once
    // that node is a voter again.
    let mut c = Cluster::with_config(&[1, 2, 3], |id| {
        let mut cfg = config(id);
        cfg.pre_vote = false;
        cfg
    });
    c.elect(1);
    c.isolated.insert(NodeId(3));
    c.node(1).propose_membership(membership(&[1, 2])).unwrap();
    for _ in 0..60 {
        c.tick_all();
    }
    let high = c.node(3).term();
    assert!(high > Term(3), "the isolated node campaigned up to {high}");
    c.isolated.clear();
    c.events.clear();
    for _ in 0..30 {
        c.tick_all();
        assert_eq!((c.leader(), c.node(1).term()), (Some(NodeId(1)), Term(1)), "a departing node's term is ignored");
    }
    // Re-added as a learner first, then promoted (thesis §4.2.1).
    let mut learner = membership(&[1, 2]);
    learner.learners.insert(NodeId(3));
    c.node(1).propose_membership(learner).unwrap();
    for _ in 0..30 {
        c.tick_all();
        assert_eq!(c.leader(), Some(NodeId(1)), "node 1 leads after every tick");
    }
    c.node(1).propose_membership(membership(&[1, 2, 3])).unwrap();
    for _ in 0..30 {
        c.tick_all();
        assert_eq!(c.leader(), Some(NodeId(1)), "node 1 leads after every tick");
    }
    let leaders: BTreeSet<NodeId> = c
        .events
        .iter()
        .flat_map(|(id, evs)| evs.iter().filter(|e| matches!(e, Event::BecameLeader { .. })).map(move |_| *id))
        .collect();
    assert_eq!(leaders, BTreeSet::from([NodeId(1)]), "only node 1 ever led");
    assert_eq!(c.leader(), Some(NodeId(1)));
    assert!(c.node(1).term() > high);
    let last = c.node(1).status().last_index;
    for id in [2, 3] {
        assert_eq!(c.node(id).status().last_index, last, "node {id} caught up");
        assert_eq!(c.node(id).status().membership, membership(&[1, 2, 3]));
    }
}

#[test]
fn a_learner_with_a_higher_term_is_not_ignored_by_the_leader() {
    // A learner that campaigned while it was still a voter in its stale
    // log rejects the leader's lower-term appends; if the leader ignored
    // its term, the learner would never catch up (sim seed 3500439 of
    // core-sim, SIM_REMOVE_LEADER=1 soak).
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    let t = c.node(1).term();
    let mut learners = membership(&[1, 2, 3]);
    learners.learners.insert(NodeId(4));
    c.node(1).propose_membership(learners).unwrap();
    c.stabilize();
    c.node(1)
        .step(msg(
            4,
            1,
            t.0 + 5,
            MessageBody::AppendEntriesResponse(crate::message::AppendEntriesResponse {
                result: crate::message::AppendResult::Conflict(crate::message::ConflictHint {
                    rejected_index: LogIndex(0),
                    conflict_term: None,
                    first_index: LogIndex(1),
                }),
                read_round: 0,
            }),
        ))
        .unwrap();
    assert!(c.node(1).term() > Term(t.0 + 5), "the leader moved above the learner's term");
}

#[test]
fn a_stale_vote_request_is_refused_with_our_term() {
    // Figure 2: "reply false if term < currentTerm"; the candidate learns
    // the newer term from the reply (sim seed 3502487 of core-sim: a
    // candidate that nobody else contacted never left its stale term).
    let mut n = node(2, &[1, 2, 3]);
    n.step(msg(3, 2, 5, rv(false, (0, 0), false))).unwrap();
    handle_ready(&mut n);
    n.step(msg(1, 2, 3, rv(false, (9, 9), false))).unwrap();
    let rd = n.ready().unwrap();
    let all: Vec<_> = rd.messages.iter().chain(rd.persisted_messages.iter()).cloned().collect();
    // Our vote in term 5 went to an empty log, so we would grant this one
    // in term 6: the refusal says so (vote_retry.rs).
    let refusal = RequestVoteResponse { pre_vote: false, granted: false, retry_next_term: true };
    assert_eq!(all, vec![msg(2, 1, 5, MessageBody::RequestVoteResponse(refusal))]);
}

#[test]
fn a_stale_vote_request_from_outside_our_configuration_is_refused_with_our_term() {
    // Node 2's log lists {1, 2}; candidate 3 (of a newer configuration
    // {2, 3} that node 2 has not seen) campaigns below node 2's term.
    let mut n = node(2, &[1, 2]);
    n.step(msg(1, 2, 5, rv(false, (0, 0), false))).unwrap();
    handle_ready(&mut n);
    n.step(msg(3, 2, 3, rv(false, (0, 0), false))).unwrap();
    let rd = n.ready().unwrap();
    let all: Vec<_> = rd.messages.iter().chain(rd.persisted_messages.iter()).cloned().collect();
    // Its log is no better than the one we voted for in term 5: no hint.
    assert_eq!(all, vec![msg(2, 3, 5, rvr(false, false))]);
}
