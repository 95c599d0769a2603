//! Single-server membership changes (thesis §4.1, §4.2.2) under the
//! schedules that break naive implementations (issue #19).

use raft_core::{LogIndex, Membership, NodeId, ProposeError, Role, Storage};

use crate::harness::{Cluster, NetConfig, SimConfig};
use crate::{cluster_with, cmd, ELECTION_TIMEOUT};

pub(crate) fn members(ids: &[u64]) -> Membership {
    Membership::new(ids.iter().map(|&i| NodeId(i)))
}

/// Every message takes exactly one tick, so a leader elected in a tick has
/// not yet heard back about its no-op when the tick ends.
fn one_tick_net() -> NetConfig {
    NetConfig { min_delay: 1, max_delay: 1, ..NetConfig::reliable() }
}

pub(crate) fn propose_membership(c: &mut Cluster, at: NodeId, m: Membership) -> Result<LogIndex, ProposeError> {
    let r = c.hosts.get_mut(&at).expect("known id").node().propose_membership(m.clone());
    c.note(format!("{at} propose_membership({:?}) -> {r:?}", m.voters));
    c.process_ready(at);
    r.map(|id| id.index)
}

/// Waits until `leader`'s configuration is committed and not joint (the
/// leader leaves C_old,new by itself, thesis §4.3), so the next change is
/// accepted.
pub(crate) fn settle(c: &mut Cluster, leader: NodeId) {
    c.wait_until(2 * ELECTION_TIMEOUT, "the configuration change completes", |c| {
        let st = c.hosts[&leader].node.as_ref().expect("up").status();
        st.membership_committed && !st.membership.is_joint()
    });
}

pub(crate) fn with_learners(voters: &[u64], learners: &[u64]) -> Membership {
    Membership { learners: learners.iter().map(|&i| NodeId(i)).collect(), ..members(voters) }
}

pub(crate) fn leader_among(c: &Cluster, ids: &[NodeId]) -> Option<NodeId> {
    ids.iter().copied().find(|id| c.hosts[id].node.as_ref().is_some_and(|n| n.role() == Role::Leader))
}

/// Ongaro's single-server-change bug (raft-dev, 2015; thesis §4.1 erratum):
/// C0 = {1,2,3,4}; the leader A appends C1 = C0 + 5, which reaches only 5,
/// and crashes; the next leader B proposes C2 = C0 - A at once and commits
/// its no-op and C2 with B and Y; A returns and wins under C1 with 5 and Z.
/// Two different entries commit at one index unless B refuses C2 until it
/// has committed an entry of its own term. The simulator's State Machine
/// Safety checker (§5.4.3) fails the run on any such double commit.
#[test]
fn membership_change_waits_for_the_leaders_first_commit() {
    let mut cfg = SimConfig::new(5, 601);
    cfg.net = one_tick_net();
    cfg.raft.check_quorum = false;
    let mut c = cluster_with(cfg, "membership_change_waits_for_the_leaders_first_commit");
    let five = NodeId(5);
    c.disconnect(five);
    let a = c.check_one_leader();
    c.one(&cmd(1), 4, false);
    let c0_index = propose_membership(&mut c, a, with_learners(&[1, 2, 3, 4], &[5])).expect("C0 accepted");
    c.wait_until(2 * ELECTION_TIMEOUT, "C0 applied on 1..4", |c| c.n_committed(c0_index).0 >= 4);
    settle(&mut c, a);

    // A appends C1 = C0 + 5; only 5 receives it; A crashes.
    let others: Vec<NodeId> = (1..=4).map(NodeId).filter(|&id| id != a).collect();
    c.connect(five);
    c.partition(&[vec![a, five], others.clone()]);
    c.wait_until(2 * ELECTION_TIMEOUT, "learner 5 catches up with A", |c| {
        let st = c.hosts[&a].node.as_ref().expect("up").status();
        st.progress.get(&five).is_some_and(|p| p.matched == st.last_index)
    });
    let c1_index = propose_membership(&mut c, a, members(&[1, 2, 3, 4, 5])).expect("C1 accepted");
    c.wait_until(ELECTION_TIMEOUT, "5 stores C1", |c| c.hosts[&five].storage.last_index().ok() >= Some(c1_index));
    c.crash(a);

    // B wins among the other three; before its no-op is acknowledged, Z is
    // cut off and B asks to remove A.
    c.wait_until(4 * ELECTION_TIMEOUT, "a leader among the rest", |c| leader_among(c, &others).is_some());
    let b = leader_among(&c, &others).expect("just waited for it");
    let rest: Vec<NodeId> = others.iter().copied().filter(|&id| id != b).collect();
    let (y, z) = (rest[0], rest[1]);
    c.partition(&[vec![b, y], vec![a, five, z]]);
    let b_term = c.hosts[&b].term().expect("B is up");
    let r = propose_membership(&mut c, b, Membership::new([b, y, z]));

    // A returns next to 5 and Z; whatever happens, no index may commit twice.
    c.restart(a);
    c.run_ticks(6 * ELECTION_TIMEOUT);
    c.heal();
    c.run_ticks(3 * ELECTION_TIMEOUT);
    assert_eq!(r, Err(ProposeError::NotCommittedInTerm { term: b_term }));
}

pub(crate) fn membership_of(c: &Cluster, id: NodeId) -> Membership {
    c.hosts[&id].node.as_ref().expect("up").status().membership
}

/// Thesis §4.1 (liveness): servers vote for candidates outside their own
/// configuration. 4 is removed (and learns it, §4.2.2), then re-added while
/// X is cut off, so X never sees the entry adding 4; the next entry reaches
/// only 4 and the leader crashes. Only 4 can win (its log is the longest),
/// and only with X's vote: a cluster whose members refuse strangers' vote
/// requests would stay leaderless forever.
#[test]
fn candidate_unknown_to_a_voter_still_wins_its_vote() {
    let mut c = cluster_with(SimConfig::new(4, 602), "candidate_unknown_to_a_voter_still_wins_its_vote");
    let four = NodeId(4);
    c.disconnect(four);
    let a = c.check_one_leader();
    c.one(&cmd(1), 3, false);
    propose_membership(&mut c, a, members(&[1, 2, 3])).expect("removal accepted");
    settle(&mut c, a);
    c.connect(four);
    c.wait_until(ELECTION_TIMEOUT, "4 learns it was removed", |c| membership_of(c, four) == members(&[1, 2, 3]));

    let others: Vec<NodeId> = (1..=3).map(NodeId).filter(|&id| id != a).collect();
    let (x, y) = (others[0], others[1]);
    c.partition(&[vec![a, y, four], vec![x]]);
    // Re-added as a learner, then promoted once caught up (thesis §4.2.1).
    propose_membership(&mut c, a, with_learners(&[1, 2, 3], &[4])).expect("learner accepted");
    settle(&mut c, a);
    let add = propose_membership(&mut c, a, members(&[1, 2, 3, 4])).expect("re-add accepted");
    c.wait_until(ELECTION_TIMEOUT, "re-add committed on a, y, 4", |c| c.n_committed(add).0 >= 3);
    settle(&mut c, a);
    c.partition(&[vec![a, four], vec![x], vec![y]]);
    let last = c.propose(a, cmd(2)).expect("a still leads").index;
    c.wait_until(ELECTION_TIMEOUT, "4 stores the last entry", |c| {
        c.hosts[&four].storage.last_index().ok() >= Some(last)
    });
    c.crash(a);
    c.heal();
    assert_eq!(membership_of(&c, x), members(&[1, 2, 3]), "x never saw 4 added");
    c.wait_until(10 * ELECTION_TIMEOUT, "4 is elected", |c| leader_among(c, &[x, y, four]).is_some());
    assert_eq!(leader_among(&c, &[x, y, four]), Some(four));
    c.one(&cmd(3), 3, true);
}
