//! Issue #14, "done when": a running 3-node cluster of real `raft-cli node`
//! processes is replaced node by node under continuous client load, the
//! leader first, with every acknowledged write readable at the end and the
//! history linearizable.
//!
//! Each replacement is the operator's procedure (README, "Replacing or
//! rejoining a node"): start the new node empty with `--join`, add it as a
//! learner, wait until it has caught up, promote it (thesis §4.2.1: a new
//! server joins without a vote until its log is close to the leader's),
//! remove the old one (the leader hands leadership over first, §3.10; every
//! voter change goes through the joint configuration, §4.3) and stop it.
//! After the three steps only nodes 4, 5, 6 are left, and they must hold
//! everything.
//!
//! Checked (see `raft_tests::jepsen::membership`): every step completed, no
//! node crashed, clients completed operations while the changes were in
//! progress, the final voters are exactly the running nodes, every node
//! holds the same values as a final linearizable read, no acknowledged
//! append is lost, and the whole history is linearizable. Needs the node
//! binary built from the current sources (`cargo build -p raft-cli`).

use raft_tests::jepsen::membership::{run_membership, MemberStep, MembershipConfig};
use raft_tests::jepsen::SEED_ENV;

#[test]
fn replacing_every_node_under_load_loses_no_acknowledged_write() {
    let seed = raft_tests::rng::seed_from_env_or(SEED_ENV, 14);
    eprintln!("membership_replace: seed {seed} ({SEED_ENV}={seed})");
    // The first step replaces the leader (one of 1, 2, 3 leads at the
    // start); the next two replace the rest, whoever leads then.
    let plan = (4..=6).map(|new| MemberStep::ReplaceOneOf { among: vec![1, 2, 3], new }).collect();
    let config = MembershipConfig::new("membership_replace", 3, plan, seed);
    let report =
        run_membership(&config).unwrap_or_else(|e| panic!("membership_replace failed with {SEED_ENV}={seed}: {e}"));
    eprintln!("membership_replace: {report}");
    assert!(report.leader_removals >= 1, "the leader was replaced: {report}");
    assert_eq!(report.final_voters, vec![4, 5, 6], "{report}");
}
