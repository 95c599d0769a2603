//! Deterministic simulation of a Raft cluster built from `raft-core`.
//!
//! Why: Raft's safety arguments (Figure 3) are about every possible
//! interleaving of messages, crashes and timeouts; example-based tests reach
//! a handful of them. This crate drives 3-, 5- and 7-node clusters through
//! seeded random schedules (delays, loss, duplication, reordering, every
//! shape of partition, crashes at Ready boundaries, restarts from storage)
//! and checks the five safety properties plus monotonic terms and commit
//! indices after every single step (`invariants/`, one file per property).
//! Membership operations run under the same faults: learners added,
//! promoted once caught up, voters and learners removed, several voters
//! replaced at once through a joint configuration (thesis §4.3), and
//! servers wiped and restarted empty to rejoin (join mode).
//! Each run ends with a liveness check: healed network, majority up, a
//! leader and a new commit within a bound.
//!
//! A seed is a full reproduction. On failure the panic message prints
//! `SIM_SEED=<seed> SIM_NODES=<n> cargo test -p raft-core --test sim -- replay --nocapture`.
//! Add `SIM_TRACE=1` to a replay to print every event as it happens.
//! CI runs a fixed seed set; `SIM_RUNS=<n>` runs `n` seeds per cluster size
//! instead (long soaks), starting at `SIM_SEED_BASE` (default fixed).

mod checker_tests;
mod fuzz;
#[allow(dead_code)]
mod harness;
mod harness_tests;
#[allow(dead_code)]
mod invariants;
mod summary;

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use summary::{RunSummary, Totals};

/// Seeds per cluster size in CI (3 sizes, so three times this many runs).
const CI_RUNS_PER_SIZE: u64 = 100;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.trim().parse().unwrap_or_else(|_| panic!("{name} must be an unsigned integer, got {v:?}")))
}

/// Runs one seed; a panic anywhere (an invariant, or inside the node) is
/// re-raised after printing the replay command.
fn run_reporting(seed: u64, nodes: usize) -> RunSummary {
    match catch_unwind(AssertUnwindSafe(|| fuzz::run(seed, nodes))) {
        Ok(s) => s,
        Err(panic) => {
            eprintln!(
                "sim run failed: seed {seed}, {nodes} nodes\nreplay with: SIM_SEED={seed} SIM_NODES={nodes} cargo test -p raft-core --test sim -- replay --nocapture"
            );
            resume_unwind(panic)
        }
    }
}

fn run_size(nodes: usize, default_base: u64) -> Totals {
    let runs = env_u64("SIM_RUNS").unwrap_or(CI_RUNS_PER_SIZE);
    let base = env_u64("SIM_SEED_BASE").map(|b| b + nodes as u64 * 1_000_000).unwrap_or(default_base);
    let mut totals = Totals::default();
    for seed in base..base + runs {
        let s = run_reporting(seed, nodes);
        if s.liveness_ticks > fuzz::LIVENESS_TICKS / 2 {
            println!("slow recovery: seed {seed}, {nodes} nodes: {} ticks", s.liveness_ticks);
        }
        totals.add(&s);
        if runs > CI_RUNS_PER_SIZE && (seed + 1 - base) % 1000 == 0 {
            // Soaks: an exact count of clean runs survives an interrupted soak.
            println!("progress: {nodes} nodes: {} runs clean (seeds {base}..={seed})", seed + 1 - base);
        }
    }
    let (t, n) = (&totals.sum, totals.runs);
    println!(
        "sim {nodes} nodes: seeds {base}..{}: {runs} runs, {} ticks, {} checked steps, {} messages, {} faults, \
         {} crashes ({} inside a Ready, {} torn writes), {} InstallSnapshots sent, {} installed, {} reads served, \
         {} membership changes proposed, {} committed, {} joint configurations committed, {} wipe-and-rejoins, {} batched Readies, {} byte-window stalls, slowest recovery {} ticks; \
         runs with: leader change {}/{n}, reads {}/{n}, membership change {}/{n}, joint {}/{n}, wipe {}/{n}, snapshot install {}/{n}, \
         byte window binding {}/{n}, batching {}/{n}, torn write {}/{n}",
        base + runs,
        t.ticks,
        t.steps,
        t.messages,
        t.faults,
        t.crashes.0,
        t.crashes.1,
        t.torn_writes,
        t.installs,
        t.snapshots_installed,
        t.reads,
        t.membership.0,
        t.membership.1,
        t.joint_and_wipes.0,
        t.joint_and_wipes.1,
        t.batched_readies,
        t.bytes_capped,
        t.liveness_ticks,
        totals.with_leader_change,
        totals.with_reads,
        totals.with_membership,
        totals.with_joint,
        totals.with_wipe,
        totals.with_install,
        totals.with_bytes_capped,
        totals.with_batching,
        totals.with_torn_write,
    );
    totals.assert_floors(&format!("sim {nodes} nodes, seeds {base}..{}", base + runs));
    totals
}

#[test]
fn random_schedules_keep_safety_and_recover_3_nodes() {
    run_size(3, 3_000);
}

#[test]
fn random_schedules_keep_safety_and_recover_5_nodes() {
    run_size(5, 5_000);
}

#[test]
fn random_schedules_keep_safety_and_recover_7_nodes() {
    run_size(7, 7_000);
}

/// Seeds (and cluster sizes) that once failed a soak, each fixed in
/// raft-core; they run on every `cargo test` so the bugs stay fixed. A change
/// to the schedule generator turns them into ordinary seeds: keep them anyway.
const REGRESSION_SEEDS: [(u64, usize); 15] = [
    (4_000_053, 3),  // README: heartbeat/short-reject fix of 025de7e
    (6_010_612, 3),  // README: checker false positive fixed in cb7c099
    (7_001_869, 5),  // a stored suffix kept after a snapshot, overwritten without truncate_from
    (9_029_620, 7),  // out-of-order appends dropped by the follower, probed one at a time
    (8_012_549, 5),  // a removed server deposing every leader without CheckQuorum/PreVote
    (13_011_075, 3), // soak: leader asked to truncate after a snapshot (fix of 7001869 overreached)
    (15_005_202, 5), // same
    (5_028_283, 3),  // a far-behind voter with a stale configuration campaigning first each term
    (13_028_606, 3), // not electable without the old leader; a probe refused at the match re-sent forever
    (25_028_528, 5), // the sole voter of a committed configuration wiped (a stale leader did not list it)
    (25_001_858, 5), // liveness checker: a crashed server's in-flight append changed the electable state
    (25_019_434, 5), // liveness checker: a live leader replicated C_old,new whose C_new needs two down servers
    (27_024_179, 7), // the only electable node trailed stale-configuration candidates' terms (retry hint)
    (27_043_061, 7), // same, one stale candidate starting each term a few ticks first
    (23_016_167, 3), // without PreVote, a server that cannot win (C_new needs a crashed one) disrupts the one that can
];

#[test]
fn regression_seeds_keep_safety_and_recover() {
    for (seed, nodes) in REGRESSION_SEEDS {
        let s = run_reporting(seed, nodes);
        assert!(
            s.leader_terms >= 1 && s.applied.0 >= 1,
            "seed {seed} ({nodes} nodes) elected no leader or committed nothing"
        );
    }
}

/// Replays one seed: `SIM_SEED=<seed> [SIM_NODES=<n>] cargo test -p raft-core --test sim -- replay --nocapture`.
/// Without `SIM_SEED` it replays seed 1 so the entry point itself stays
/// tested. It runs the seed twice and requires the same summary and final
/// state hash both times (a replay that differs reproduces nothing), with
/// every invariant checked along the way and a leader elected.
#[test]
fn replay() {
    let seed = env_u64("SIM_SEED").unwrap_or(1);
    let nodes = env_u64("SIM_NODES").map(|n| n as usize).unwrap_or_else(|| fuzz::nodes_for(seed));
    let first = run_reporting(seed, nodes);
    let second = run_reporting(seed, nodes);
    println!("replayed {first:?}");
    assert_eq!(first, second, "seed {seed} ({nodes} nodes) did not replay identically");
    assert!(first.leader_terms >= 1 && first.applied.0 >= 1, "the replayed run elected no leader or committed nothing");
    assert!(first.liveness_ticks <= fuzz::LIVENESS_TICKS, "liveness bound is enforced inside the run");
}

/// Determinism, and that the hash is sensitive: two seeds give the same
/// summary twice each, and different final states from each other.
#[test]
fn same_seed_gives_the_same_run() {
    let mut hashes = Vec::new();
    for seed in [11, 12] {
        let a = fuzz::run(seed, 5);
        let b = fuzz::run(seed, 5);
        assert_eq!(a, b, "seed {seed} is not deterministic");
        hashes.push(a.state_hash);
    }
    assert_ne!(hashes[0], hashes[1], "two different schedules ended in the same state hash");
}
