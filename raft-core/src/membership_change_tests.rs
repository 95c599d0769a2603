//! Joint consensus (thesis §4.3), learners and promotion (§4.2.1) and
//! leader removal (§4.2.2) on the leader, driven message by message.

use std::collections::BTreeSet;

use crate::error::ProposeError;
use crate::message::{MessageBody, RequestVoteResponse};
use crate::node::RaftNode;
use crate::ready::Event;
use crate::storage::MemStorage;
use crate::test_util::*;
use crate::types::{LogId, LogIndex, Membership, NodeId, Role, Term};

fn set(v: &[u64]) -> BTreeSet<NodeId> {
    ids(v).into_iter().collect()
}

fn joint(voters: &[u64], outgoing: &[u64], learners: &[u64]) -> Membership {
    Membership { outgoing: set(outgoing), ..with_learners(voters, learners) }
}

/// Leader 1 of {1,2,3} with learners 4 and 5 caught up at index 2.
fn leader_with_learners(cfg: crate::Config) -> Node {
    let mut n = node_with(cfg, &[1, 2, 3]);
    elect_manually(&mut n, &[2, 3]);
    n.step(ack(2, 1, 1, 1)).unwrap();
    n.propose_membership(with_learners(&[1, 2, 3], &[4, 5])).unwrap();
    handle_ready(&mut n);
    for peer in [2, 4, 5] {
        n.step(ack(peer, 1, 1, 2)).unwrap();
    }
    assert_eq!(n.status().commit, LogIndex(2));
    n
}

fn vote_grant(from: u64, term: u64, pre_vote: bool) -> crate::message::Message {
    msg(
        from,
        1,
        term,
        MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote, granted: true, retry_next_term: false }),
    )
}

#[test]
fn two_voters_change_at_once_through_the_joint_configuration() {
    // thesis §4.3: {1,2,3} -> {1,4,5} goes through C_old,new, and the
    // leader appends C_new by itself once C_old,new commits.
    let mut n = leader_with_learners(config(1));
    let id = n.propose_membership(membership(&[1, 4, 5])).unwrap();
    assert_eq!(id, LogId::new(Term(1), LogIndex(3)));
    assert_eq!(n.status().membership, joint(&[1, 4, 5], &[1, 2, 3], &[]));
    handle_ready(&mut n);
    // The old majority alone does not commit C_old,new...
    n.step(ack(2, 1, 1, 3)).unwrap();
    n.step(ack(3, 1, 1, 3)).unwrap();
    assert_eq!(n.status().commit, LogIndex(2), "needs a majority of C_new too");
    // ...a majority of both does, and C_new follows at once.
    n.step(ack(4, 1, 1, 3)).unwrap();
    assert_eq!(n.status().commit, LogIndex(3));
    let st = n.status();
    assert_eq!(st.membership, membership(&[1, 4, 5]));
    assert!(!st.membership_committed);
    assert_eq!(st.last_index, LogIndex(4));
    handle_ready(&mut n);
    // C_new needs only its own majority: 2 and 3 no longer count.
    n.step(ack(2, 1, 1, 4)).unwrap();
    n.step(ack(3, 1, 1, 4)).unwrap();
    assert_eq!(n.status().commit, LogIndex(3));
    n.step(ack(5, 1, 1, 4)).unwrap();
    assert_eq!(n.status().commit, LogIndex(4));
    assert!(n.status().membership_committed);
}

#[test]
fn the_new_majority_alone_does_not_commit_the_joint_configuration() {
    // thesis §4.3: agreement needs separate majorities of C_old and C_new.
    let mut n = leader_with_learners(config(1));
    n.propose_membership(membership(&[1, 4, 5])).unwrap();
    handle_ready(&mut n);
    n.step(ack(4, 1, 1, 3)).unwrap();
    n.step(ack(5, 1, 1, 3)).unwrap();
    assert_eq!(n.status().commit, LogIndex(2), "needs a majority of C_old too");
    n.step(ack(3, 1, 1, 3)).unwrap();
    assert_eq!(n.status().commit, LogIndex(3));
}

#[test]
fn only_one_change_in_flight_and_targets_are_not_joint() {
    let mut n = leader_with_learners(config(1));
    let joint_target = joint(&[1, 4, 5], &[1, 2, 3], &[]);
    assert!(matches!(n.propose_membership(joint_target), Err(ProposeError::Invalid(_))));
    n.propose_membership(membership(&[1, 4, 5])).unwrap();
    let pending = Err(ProposeError::MembershipChangePending { pending: LogIndex(3) });
    assert_eq!(n.propose_membership(membership(&[1, 2, 3])), pending);
    handle_ready(&mut n);
    for peer in [2, 4] {
        n.step(ack(peer, 1, 1, 3)).unwrap();
    }
    // Joint committed, C_new appended but not committed: still refused.
    let pending = Err(ProposeError::MembershipChangePending { pending: LogIndex(4) });
    assert_eq!(n.propose_membership(membership(&[1, 4, 5])), pending);
}

#[test]
fn a_learner_change_is_appended_directly() {
    let mut n = leader_with_learners(config(1));
    let target = with_learners(&[1, 2, 3], &[4]);
    n.propose_membership(target.clone()).unwrap();
    assert_eq!(n.status().membership, target, "no joint step when voters do not change");
}

#[test]
fn incarnations_ride_through_the_joint_step_and_a_stamp_alone_is_appended_directly() {
    // The core never reads `incarnations` (issue #14: the runtime's fence
    // does), but must carry them, like addresses, from the proposed target
    // through C_old,new into the C_new it appends itself (thesis §4.3).
    let mut n = leader_with_learners(config(1));
    let mut stamped = with_learners(&[1, 2, 3], &[4, 5]);
    stamped.incarnations = [(NodeId(1), 11), (NodeId(2), 22), (NodeId(4), 44)].into();
    n.propose_membership(stamped.clone()).unwrap();
    assert_eq!(n.status().membership, stamped, "same voters: no joint step");
    handle_ready(&mut n);
    for peer in [2, 3, 4, 5] {
        n.step(ack(peer, 1, 1, 3)).unwrap();
    }
    assert!(n.status().membership_committed);
    let mut target = membership(&[1, 4, 5]);
    target.incarnations = [(NodeId(1), 11), (NodeId(4), 44), (NodeId(5), 55)].into();
    n.propose_membership(target.clone()).unwrap();
    assert_eq!(n.status().membership.incarnations, target.incarnations, "the joint entry carries them");
    handle_ready(&mut n);
    for peer in [2, 4] {
        n.step(ack(peer, 1, 1, 4)).unwrap();
    }
    let st = n.status();
    assert_eq!((st.membership.clone(), st.last_index), (target, LogIndex(5)), "C_new carries them too");
    handle_ready(&mut n);
    n.step(ack(4, 1, 1, 5)).unwrap();
    assert!(n.status().membership_committed);
    let mut zero = membership(&[1, 4, 5]);
    zero.incarnations.insert(NodeId(0), 1);
    assert!(matches!(n.propose_membership(zero), Err(ProposeError::Invalid(_))), "id 0 is refused");
}

#[test]
fn promotion_requires_a_caught_up_learner() {
    // thesis §4.2.1: new servers join as non-voting members until caught up.
    let mut cfg = config(1);
    cfg.max_promote_lag = 2;
    let mut n = leader_with_learners(cfg);
    for i in 0..3 {
        n.propose(vec![i]).unwrap();
    }
    handle_ready(&mut n);
    n.step(ack(2, 1, 1, 5)).unwrap();
    let lagging = ProposeError::NotCaughtUp { id: NodeId(4), matched: LogIndex(2), last: LogIndex(5) };
    assert_eq!(n.propose_membership(membership(&[1, 2, 3, 4])), Err(lagging.clone()));
    assert!(lagging.to_string().contains("wait"), "the message tells the operator to wait: {lagging}");
    assert_eq!(n.propose_membership(membership(&[1, 2, 3, 6])), Err(ProposeError::NotALearner { id: NodeId(6) }));
    n.step(ack(4, 1, 1, 3)).unwrap();
    assert_eq!(n.propose_membership(membership(&[1, 2, 3, 4])), Ok(LogId::new(Term(1), LogIndex(6))));
}

#[test]
fn promotion_requires_the_learner_to_hold_its_configuration() {
    // A learner that has not stored the entry adding it knows no
    // configuration and would refuse to vote as a voter.
    let mut n = node(1, &[1, 2, 3]);
    elect_manually(&mut n, &[2, 3]);
    n.step(ack(2, 1, 1, 1)).unwrap();
    n.propose_membership(with_learners(&[1, 2, 3], &[4])).unwrap();
    handle_ready(&mut n);
    n.step(ack(2, 1, 1, 2)).unwrap();
    n.step(ack(4, 1, 1, 1)).unwrap();
    let lagging = ProposeError::NotCaughtUp { id: NodeId(4), matched: LogIndex(1), last: LogIndex(2) };
    assert_eq!(n.propose_membership(membership(&[1, 2, 3, 4])), Err(lagging));
    n.step(ack(4, 1, 1, 2)).unwrap();
    assert!(n.propose_membership(membership(&[1, 2, 3, 4])).is_ok());
}

#[test]
fn promotion_under_a_snapshot_configuration_requires_the_snapshot() {
    // The configuration listing learner 4 is only in the snapshot at 5.
    let store = MemStorage::new_with_membership(with_learners(&[1, 2, 3], &[4]));
    let meta = crate::SnapshotMeta {
        last_log_id: LogId::new(Term(1), LogIndex(5)),
        membership: with_learners(&[1, 2, 3], &[4]),
    };
    store.wl().apply_snapshot(crate::Snapshot { meta, data: Vec::new() });
    store.wl().set_hard_state(crate::HardState { term: Term(1), vote: None, commit: LogIndex(5) });
    let mut n = RaftNode::new(config(1), store).unwrap();
    elect_manually(&mut n, &[2, 3]);
    n.step(ack(2, 1, 2, 6)).unwrap();
    assert_eq!(n.status().commit, LogIndex(6));
    n.step(ack(4, 1, 2, 0)).unwrap();
    let lagging = ProposeError::NotCaughtUp { id: NodeId(4), matched: LogIndex(0), last: LogIndex(6) };
    assert_eq!(n.propose_membership(membership(&[1, 2, 3, 4])), Err(lagging));
    n.step(ack(4, 1, 2, 6)).unwrap();
    assert!(n.propose_membership(membership(&[1, 2, 3, 4])).is_ok());
}

#[test]
fn a_joint_election_needs_both_majorities() {
    // thesis §4.3: a candidate in C_old,new needs both majorities.
    let store = MemStorage::new_with_membership(joint(&[1, 4, 5], &[1, 2, 3], &[]));
    let mut n = RaftNode::new(config(1), store).unwrap();
    n.campaign().unwrap();
    for peer in [2, 3] {
        n.step(vote_grant(peer, 1, true)).unwrap();
    }
    assert_eq!(n.role(), Role::PreCandidate, "the old majority alone is not enough");
    n.step(vote_grant(4, 1, true)).unwrap();
    assert_eq!(n.role(), Role::Candidate);
    let rd = handle_ready(&mut n);
    let asked: BTreeSet<NodeId> = rd.persisted_messages.iter().map(|m| m.to).collect();
    assert_eq!(asked, set(&[2, 3, 4, 5]), "vote requests go to both halves");
    for peer in [4, 5] {
        n.step(vote_grant(peer, 1, false)).unwrap();
    }
    assert_eq!(n.role(), Role::Candidate, "the new majority alone is not enough");
    n.step(vote_grant(2, 1, false)).unwrap();
    assert_eq!(n.role(), Role::Leader);
}

#[test]
fn learners_never_campaign_nor_count_even_while_joint() {
    // thesis §4.2.1: learners do not vote; they are not in any majority.
    let m = joint(&[1, 2, 5], &[1, 2, 3], &[4]);
    let mut learner = RaftNode::new(config(4), MemStorage::new_with_membership(m.clone())).unwrap();
    learner.campaign().unwrap();
    for _ in 0..60 {
        learner.tick();
    }
    let events = handle_ready(&mut learner).events;
    assert!(!events.iter().any(|e| matches!(e, Event::ElectionStarted { .. })), "{events:?}");
    assert_eq!(learner.role(), Role::Follower);
    let mut leader = RaftNode::new(config(1), MemStorage::new_with_membership(m)).unwrap();
    leader.campaign().unwrap();
    leader.step(vote_grant(4, 1, true)).unwrap();
    assert_eq!(leader.role(), Role::PreCandidate, "a learner's grant is not counted");
}

#[test]
fn a_removed_leader_steps_down_once_c_new_commits() {
    // thesis §4.2.2: the leader manages the cluster while not part of
    // C_new, and steps down once C_new is committed.
    let mut n = node(1, &[1, 2, 3]);
    elect_manually(&mut n, &[2, 3]);
    n.step(ack(2, 1, 1, 1)).unwrap();
    n.propose_membership(membership(&[2, 3])).unwrap();
    handle_ready(&mut n);
    n.step(ack(2, 1, 1, 2)).unwrap();
    assert_eq!(n.status().commit, LogIndex(1), "C_new = {{2,3}} needs both of them");
    n.step(ack(3, 1, 1, 2)).unwrap();
    assert_eq!(n.status().commit, LogIndex(2));
    assert_eq!(n.role(), Role::Leader, "still leads while C_new is uncommitted");
    handle_ready(&mut n);
    n.step(ack(2, 1, 1, 3)).unwrap();
    n.step(ack(3, 1, 1, 3)).unwrap();
    assert_eq!(n.status().commit, LogIndex(3));
    assert_eq!(n.role(), Role::Follower);
    for _ in 0..60 {
        n.tick();
    }
    let events = handle_ready(&mut n).events;
    assert!(!events.iter().any(|e| matches!(e, Event::ElectionStarted { .. })), "{events:?}");
}

#[test]
fn a_new_leader_leaves_an_inherited_committed_joint_configuration() {
    // thesis §4.3: C_new follows C_old,new even across a leader change.
    let store = MemStorage::new_with_membership(joint(&[1, 4, 5], &[1, 2, 3], &[]));
    let mut n = RaftNode::new(config(1), store).unwrap();
    elect_manually(&mut n, &[2, 4]);
    assert_eq!(
        n.propose_membership(membership(&[1, 2, 3])).unwrap_err(),
        ProposeError::NotCommittedInTerm { term: Term(1) }
    );
    n.step(ack(2, 1, 1, 1)).unwrap();
    n.step(ack(4, 1, 1, 1)).unwrap();
    assert_eq!(n.status().commit, LogIndex(1));
    assert_eq!(n.status().membership, membership(&[1, 4, 5]));
    assert_eq!(n.status().last_index, LogIndex(2));
}

/// An acknowledgement of match 2 carrying read round `round`.
fn read_ack(from: u64, round: u64) -> crate::message::Message {
    let result = crate::message::AppendResult::Success { match_index: LogIndex(2) };
    let body = MessageBody::AppendEntriesResponse(crate::message::AppendEntriesResponse { result, read_round: round });
    msg(from, 1, 1, body)
}

#[test]
fn read_index_while_joint_needs_both_majorities() {
    // §6.4 confirmation under C_old,new (thesis §4.3: every decision
    // needs both majorities).
    let mut n = leader_with_learners(config(1));
    n.propose_membership(membership(&[1, 4, 5])).unwrap();
    handle_ready(&mut n);
    n.read_index(7).unwrap();
    handle_ready(&mut n);
    n.step(read_ack(2, 1)).unwrap();
    n.step(read_ack(3, 1)).unwrap();
    assert!(handle_ready(&mut n).read_states.is_empty(), "the old majority alone does not confirm");
    n.step(read_ack(4, 1)).unwrap();
    let states = handle_ready(&mut n).read_states;
    assert_eq!(states.iter().map(|s| s.ctx).collect::<Vec<_>>(), vec![7]);
}

#[test]
fn check_quorum_while_joint_needs_both_majorities() {
    // thesis §6.2 CheckQuorum, counted as in §4.3.
    let mut n = leader_with_learners(config(1));
    n.propose_membership(membership(&[1, 4, 5])).unwrap();
    handle_ready(&mut n);
    let period = n.cfg.election_ticks;
    n.step(read_ack(2, 0)).unwrap();
    n.step(read_ack(4, 0)).unwrap();
    for _ in 0..period {
        n.tick();
    }
    assert_eq!(n.role(), Role::Leader, "1, 2 and 4 form a majority of both halves");
    n.step(read_ack(2, 0)).unwrap();
    n.step(read_ack(3, 0)).unwrap();
    for _ in 0..period {
        n.tick();
    }
    assert_eq!(n.role(), Role::Follower, "1, 2 and 3 are no majority of {{1, 4, 5}}");
    assert!(handle_ready(&mut n).events.contains(&Event::LostQuorum { term: Term(1) }));
}

#[test]
fn an_outgoing_voter_still_campaigns_while_joint() {
    // thesis §4.3: C_old's servers remain voters until C_new; a candidate
    // of C_old,new may come from either half.
    let store = MemStorage::new_with_membership(joint(&[1, 2, 4], &[1, 2, 3], &[]));
    let mut n = RaftNode::new(config(3), store).unwrap();
    n.campaign().unwrap();
    assert_eq!(n.role(), Role::PreCandidate);
    let rd = handle_ready(&mut n);
    let asked: BTreeSet<NodeId> = rd.messages.iter().map(|m| m.to).collect();
    assert_eq!(asked, set(&[1, 2, 4]));
}
