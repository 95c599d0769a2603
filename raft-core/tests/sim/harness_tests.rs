//! Scripted checks of the harness features the random schedules rely on:
//! torn writes, batching between Readies, membership changes and the
//! coverage floors. Each would fail if the feature silently stopped
//! working (a torn write that writes everything, a batch knob that never
//! batches, a membership change that never commits, floors that never
//! fire).

use std::panic::{catch_unwind, AssertUnwindSafe};

use raft_core::{LogIndex, Membership, NodeId, Storage};

use crate::harness::membership::stored_membership;
use crate::harness::{Cluster, CrashPoint, SimConfig};
use crate::summary::{RunSummary, Totals};

fn cluster(nodes: usize, spares: usize, seed: u64) -> Cluster {
    let mut cfg = SimConfig::new(nodes, seed);
    cfg.spares = spares;
    Cluster::new(cfg)
}

/// A follower crashing in the middle of writing a 4-entry Ready keeps the
/// first two entries and not the hard state; nothing it acknowledged is
/// lost, it restarts from the torn log and catches up.
#[test]
fn a_torn_write_keeps_a_prefix_and_the_cluster_recovers() {
    let mut c = cluster(3, 0, 41);
    let leader = c.check_one_leader();
    c.one(b"first", 3, false);
    let f = c.ids().into_iter().find(|id| *id != leader).expect("a follower");
    let before = c.hosts[&f].storage.last_index().unwrap();
    let hs_before = c.hosts[&f].storage.rl().hard_state();
    c.crash_at_next_ready(f, CrashPoint::TornWrite { keep_permille: 500, hard_state: true });
    // Four proposals in one leader Ready, hence one 4-entry append.
    c.cfg.batch = 1.0;
    for k in 0..4 {
        c.propose(leader, format!("batch-{k}").into_bytes()).unwrap();
    }
    c.cfg.batch = 0.0;
    c.drain();
    assert!(!c.is_up(f), "the follower crashed in its write");
    assert_eq!(c.coverage.torn_writes, 1);
    assert_eq!(c.hosts[&f].storage.last_index().unwrap(), LogIndex(before.0 + 2), "half of 4 entries survive");
    assert_eq!(c.hosts[&f].storage.rl().hard_state(), hs_before, "an incomplete write leaves the hard state");
    c.restart(f);
    let index = c.one(b"after", 3, true);
    assert!(c.hosts[&f].sm.applied >= index);
}

/// With `batch = 1.0` every input leaves the Ready for later: Readies
/// follow several inputs, and the cluster still elects and commits.
#[test]
fn batching_delivers_several_inputs_per_ready() {
    let mut c = cluster(5, 0, 42);
    c.cfg.batch = 0.8;
    c.check_one_leader();
    for k in 0..5 {
        c.one(format!("cmd-{k}").as_bytes(), 5, true);
    }
    assert!(c.coverage.batched_readies > 10, "only {} batched Readies", c.coverage.batched_readies);
}

/// thesis §4.1 / §4.2.1: a spare is added as a learner, caught up,
/// promoted, and a voter is removed; each change commits, every live member
/// stores the final configuration, and the cluster keeps committing.
#[test]
fn learner_promotion_and_removal_commit() {
    let mut c = cluster(3, 1, 43);
    let leader = c.check_one_leader();
    c.one(b"x", 3, false);
    let (spare, gone) = (NodeId(4), c.ids().into_iter().find(|id| *id != leader && id.0 <= 3).expect("a follower"));
    let mut m = Membership::new([NodeId(1), NodeId(2), NodeId(3)]);
    m.learners.insert(spare);
    let step1 = m.clone();
    m.learners.clear();
    m.voters.insert(spare);
    let step2 = m.clone();
    m.voters.remove(&gone);
    for target in [step1, step2, m.clone()] {
        let id = c.propose_membership(leader, target.clone()).expect("leader accepts the change");
        c.wait_until(50, "the change commits on 3 servers", |c| c.n_committed(id.index).0 >= 3);
        c.one(b"between", 3, true);
    }
    // The learner entry, then C_old,new and C_new for each voter change (thesis §4.3).
    assert_eq!(c.inv.membership_commits, 5);
    assert_eq!(c.inv.joint_commits, 2);
    for id in c.live_members(&m) {
        assert_eq!(stored_membership(&c.hosts[&id].storage), m, "{id} stores the final configuration");
    }
}

/// The floors fire: a seed set that never installed a snapshot fails.
#[test]
fn coverage_floors_reject_a_seed_set_that_misses_something() {
    let mut t = Totals::default();
    let busy = RunSummary {
        leader_terms: 2,
        reads: 1,
        membership: (1, 1),
        joint_and_wipes: (1, 1),
        snapshots_installed: 1,
        bytes_capped: 1,
        batched_readies: 1,
        torn_writes: 1,
        ..Default::default()
    };
    t.add(&busy);
    t.assert_floors("complete");
    let mut t = Totals::default();
    t.add(&RunSummary { snapshots_installed: 0, ..busy });
    let r = catch_unwind(AssertUnwindSafe(|| t.assert_floors("no installs")));
    assert!(r.is_err(), "a seed set without a snapshot install passed the floors");
}

/// A server may be wiped only if no configuration anywhere lists it as a
/// voter (sim seed 25028528, 5 nodes: the wiped server was the only voter
/// of a configuration a stale leader had never heard of). A promotion that
/// reached only the isolated leader's log is enough to forbid it.
#[test]
fn a_voter_in_any_single_log_may_not_be_wiped() {
    let mut c = cluster(3, 1, 44);
    let leader = c.check_one_leader();
    let spare = NodeId(4);
    assert!(!c.listed_as_voter_anywhere(spare), "a spare outside every configuration");
    let mut m = Membership::new([NodeId(1), NodeId(2), NodeId(3)]);
    m.learners.insert(spare);
    let id = c.propose_membership(leader, m.clone()).expect("leader accepts the learner");
    c.wait_until(50, "the learner entry commits on 3 servers", |c| c.n_committed(id.index).0 >= 3);
    c.one(b"caught up", 3, true);
    assert!(!c.listed_as_voter_anywhere(spare), "a learner is no voter");
    let rest: Vec<NodeId> = c.ids().into_iter().filter(|id| *id != leader).collect();
    c.partition(&[vec![leader], rest.clone()]);
    m.learners.clear();
    m.voters.insert(spare);
    c.propose_membership(leader, m).expect("leader accepts the promotion");
    c.run_ticks(3);
    for id in &rest {
        assert!(!stored_membership(&c.hosts[id].storage).is_voter(spare), "{id} never received the promotion");
    }
    assert!(c.listed_as_voter_anywhere(spare), "the isolated leader's log lists it as a voter");
}
