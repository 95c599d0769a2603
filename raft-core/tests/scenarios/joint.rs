//! Joint consensus (thesis §4.3), learners and promotion (§4.2.1), and
//! removing servers including the leader (§4.2.2, §4.2.3), on the
//! deterministic simulator with every invariant checked after every step
//! (the Commit Quorum checker counts both majorities while joint).

use raft_core::{NodeId, ProposeError, Role};

use crate::harness::{Cluster, SimConfig};
use crate::membership::{leader_among, members, membership_of, propose_membership, settle, with_learners};
use crate::{cluster_with, cmd, ELECTION_TIMEOUT};

/// Three voters 1..3 and two spares 4, 5 that start empty (join mode).
fn three_and_two_spares(seed: u64, name: &str) -> Cluster {
    let mut cfg = SimConfig::new(3, seed);
    cfg.spares = 2;
    cluster_with(cfg, name)
}

fn wait_caught_up(c: &mut Cluster, leader: NodeId, ids: &[NodeId]) {
    c.wait_until(4 * ELECTION_TIMEOUT, "learners catch up", |c| {
        let st = c.hosts[&leader].node.as_ref().expect("up").status();
        ids.iter().all(|id| st.progress.get(id).is_some_and(|p| p.matched == st.last_index))
    });
}

/// Adds 4 and 5 as learners at the leader, waits for them to catch up.
fn add_learners(c: &mut Cluster) -> NodeId {
    let l = c.check_one_leader();
    c.one(&cmd(1), 3, false);
    propose_membership(c, l, with_learners(&[1, 2, 3], &[4, 5])).expect("learners accepted");
    settle(c, l);
    wait_caught_up(c, l, &[NodeId(4), NodeId(5)]);
    l
}

fn role(c: &Cluster, id: NodeId) -> Option<Role> {
    c.hosts[&id].node.as_ref().map(|n| n.role())
}

/// thesis §4.3: {1,2,3} -> {L,4,5} (two voters replaced at once) goes
/// through C_old,new and ends in C_new on every member, which then commits.
#[test]
fn two_voters_are_replaced_at_once_through_the_joint_configuration() {
    let mut c = three_and_two_spares(701, "two_voters_are_replaced_at_once_through_the_joint_configuration");
    let l = add_learners(&mut c);
    let target = members(&[l.0, 4, 5]);
    let joint = propose_membership(&mut c, l, target.clone()).expect("joint change accepted");
    assert!(membership_of(&c, l).is_joint(), "C_old,new takes effect when appended");
    c.wait_until(2 * ELECTION_TIMEOUT, "C_old,new commits", |c| c.n_committed(joint).0 >= 3);
    settle(&mut c, l);
    for id in [l, NodeId(4), NodeId(5)] {
        c.wait_until(ELECTION_TIMEOUT, "C_new reaches every new voter", |c| membership_of(c, id) == target);
    }
    assert!(c.inv.joint_commits >= 1);
    c.one(&cmd(2), 3, false);
}

/// thesis §4.3: while joint, one side's majority alone cannot commit;
/// once both are reachable the change completes. `old_side` picks which
/// majority the leader reaches during the partition.
fn joint_needs_both_majorities(seed: u64, name: &str, old_side: bool) {
    let mut cfg = SimConfig::new(3, seed);
    cfg.spares = 2;
    // The leader stays leader through the partition (CheckQuorum would
    // depose it), so what is tested is the commit rule, not elections.
    cfg.raft.check_quorum = false;
    let mut c = cluster_with(cfg, name);
    let l = add_learners(&mut c);
    let others: Vec<NodeId> = (1..=3).map(NodeId).filter(|id| *id != l).collect();
    let (mut with_leader, cut) = if old_side {
        (others.clone(), vec![NodeId(4), NodeId(5)])
    } else {
        (vec![NodeId(4), NodeId(5)], others.clone())
    };
    with_leader.push(l);
    c.partition(&[with_leader, cut]);
    let term = c.hosts[&l].term().expect("up");
    let joint = propose_membership(&mut c, l, members(&[l.0, 4, 5])).expect("joint change accepted");
    // Half an election timeout: acknowledgements take a tick or two, and
    // the cut-off side cannot elect anyone before its timeout.
    c.run_ticks(ELECTION_TIMEOUT / 2);
    let side = if old_side { "old" } else { "new" };
    assert!(!c.inv.applied().contains_key(&joint), "the {side} majority alone committed C_old,new");
    assert_eq!(c.connected_leader(), Some(l), "the leader stayed through the partition");
    assert!(membership_of(&c, l).is_joint());
    c.heal();
    c.wait_until(6 * ELECTION_TIMEOUT, "C_old,new commits once both majorities are reachable", |c| {
        c.inv.applied().get(&joint).is_some_and(|r| r.term == term)
    });
    let leader = c.check_one_leader();
    settle(&mut c, leader);
    assert_eq!(membership_of(&c, leader), members(&[l.0, 4, 5]));
}

#[test]
fn the_old_majority_alone_does_not_commit_a_joint_configuration() {
    joint_needs_both_majorities(702, "the_old_majority_alone_does_not_commit_a_joint_configuration", true);
}

#[test]
fn the_new_majority_alone_does_not_commit_a_joint_configuration() {
    joint_needs_both_majorities(706, "the_new_majority_alone_does_not_commit_a_joint_configuration", false);
}

/// thesis §4.2.2: a leader that is not in C_new keeps leading until C_new
/// commits, then steps down and, as a non-voter, never campaigns; the rest
/// elect a leader among themselves and keep their term afterwards.
#[test]
fn a_removed_leader_steps_down_and_stays_quiet() {
    let mut c = three_and_two_spares(703, "a_removed_leader_steps_down_and_stays_quiet");
    let l = c.check_one_leader();
    c.one(&cmd(1), 3, false);
    let rest: Vec<NodeId> = (1..=3).map(NodeId).filter(|id| *id != l).collect();
    let target = raft_core::Membership::new(rest.clone());
    propose_membership(&mut c, l, target.clone()).expect("removal accepted");
    c.wait_until(2 * ELECTION_TIMEOUT, "the removed leader steps down", |c| role(c, l) == Some(Role::Follower));
    assert_eq!(membership_of(&c, l), target, "it stepped down on committing C_new");
    c.wait_until(4 * ELECTION_TIMEOUT, "the rest elect a leader", |c| leader_among(c, &rest).is_some());
    let term = c.hosts[&rest[0]].term();
    c.run_ticks(10 * ELECTION_TIMEOUT);
    assert!(leader_among(&c, &rest).is_some());
    assert_eq!(role(&c, l), Some(Role::Follower), "a non-voter never campaigns");
    for id in &rest {
        assert_eq!(c.hosts[id].term(), term, "{id} changed term after the removal");
    }
}

/// thesis §4.2.3 with pre-vote (§9.6): a follower removed while cut off
/// never learns its removal and keeps campaigning; once back, it never makes
/// the remaining cluster change term, and it learns its removal.
#[test]
fn a_removed_follower_that_keeps_ticking_does_not_disrupt() {
    let mut c = three_and_two_spares(704, "a_removed_follower_that_keeps_ticking_does_not_disrupt");
    let l = c.check_one_leader();
    c.one(&cmd(1), 3, false);
    let gone = (1..=3).map(NodeId).find(|id| *id != l).expect("a follower");
    c.disconnect(gone);
    let rest: Vec<u64> = (1..=3).filter(|&i| i != gone.0).collect();
    let target = members(&rest);
    propose_membership(&mut c, l, target.clone()).expect("removal accepted");
    settle(&mut c, l);
    let term = c.hosts[&l].term();
    c.run_ticks(5 * ELECTION_TIMEOUT);
    c.connect(gone);
    for _ in 0..10 * ELECTION_TIMEOUT {
        c.tick();
        assert_eq!(c.connected_leader(), Some(l), "the leader changed");
        assert_eq!(c.hosts[&l].term(), term, "the removed node raised the cluster's term");
    }
    assert_eq!(membership_of(&c, gone), target, "it received the entry removing it");
}

/// thesis §4.2.1: a learner is promoted only once caught up; the refusal
/// is typed and says to wait.
#[test]
fn promotion_is_refused_while_the_learner_lags() {
    let mut c = three_and_two_spares(705, "promotion_is_refused_while_the_learner_lags");
    let l = c.check_one_leader();
    let four = NodeId(4);
    c.disconnect(four);
    propose_membership(&mut c, l, with_learners(&[1, 2, 3], &[4])).expect("learner accepted");
    settle(&mut c, l);
    c.one(&cmd(1), 3, false);
    let r = propose_membership(&mut c, l, members(&[1, 2, 3, 4]));
    assert!(matches!(r, Err(ProposeError::NotCaughtUp { id, .. }) if id == four), "{r:?}");
    c.connect(four);
    wait_caught_up(&mut c, l, &[four]);
    propose_membership(&mut c, l, members(&[1, 2, 3, 4])).expect("a caught-up learner is promoted");
    settle(&mut c, l);
    assert!(membership_of(&c, four).voters.contains(&four));
}
