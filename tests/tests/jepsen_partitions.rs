//! Jepsen-style fault test with network faults: 5 real `raft-cli node`
//! processes, each in its own network namespace, 8 concurrent clients in the
//! client namespace, and a seeded nemesis drawing from majority/minority
//! partitions, an isolated leader, a bridge (two halves joined only through one
//! node), one-way faults (one node cannot send requests to another, whose own
//! requests still get answers — see `raft_tests::netns::LinkFault::no_requests`),
//! lossy links (10–50 % drop), quorum loss (groups of at most 2 nodes), and
//! combined faults (one node cut off and paused while another is killed). 2
//! more clients append unique elements to 2 set keys.
//!
//! The run fails unless (see `raft_tests::jepsen`): every scheduled fault was
//! applied; paused nodes showed state T; no node exited on its own or logged a
//! panic; the clients completed at least 2,000 operations, 300 under a fault; no
//! write invoked during a quorum loss was acknowledged before it healed, and a
//! write was acknowledged within 20 s after each such heal; a write was
//! acknowledged within 20 s of the last heal; every node caught up and agrees
//! with a final linearizable read; every acknowledged append survived; and the
//! history is proven linearizable.
//!
//! Needs root, `ip` and `iptables`; otherwise it prints `skipped: <why>`,
//! records the skip for `scripts/test.sh`'s summary and passes. Needs the node
//! binary: `cargo build -p raft-cli` (same profile).
//!
//! - The seed is fixed (printed); `JEPSEN_SEED=<n>` runs another one.
//! - `JEPSEN_SOAK_SECS=<s>` soaks: fresh clusters with seeds n, n+1, ... until
//!   `s` seconds have passed (the CI default is one run of 10 faults, ~40 s).
//! - `RAFT_TEST_KEEP_RUNS=1` keeps the run folder even on success; it is always
//!   kept on failure.

use raft_tests::jepsen::{run_suite, JepsenConfig, SEED_ENV};
use raft_tests::{FaultKind, Network};

/// The link faults (process faults are `jepsen_kill_restart`'s job).
const NETWORK_FAULTS: &[FaultKind] = &[
    FaultKind::MajorityMinority,
    FaultKind::IsolateLeader,
    FaultKind::Bridge,
    FaultKind::OneWay,
    FaultKind::Lossy,
    FaultKind::QuorumLoss,
    FaultKind::Combined,
];

/// The seed CI runs.
const CI_SEED: u64 = 20_261_204;

#[test]
fn jepsen_partitions() {
    if let Err(e) = raft_tests::netns::availability() {
        let why = e.skip_reason().map(str::to_string).unwrap_or_else(|| e.to_string());
        raft_tests::skip::record(Some("jepsen_partitions"), &why);
        return;
    }
    let seed = raft_tests::rng::seed_from_env_or(SEED_ENV, CI_SEED);
    let mut config = JepsenConfig::new("jepsen_partitions", 5, Network::Namespaces, NETWORK_FAULTS, seed);
    config.steps = 10;
    // The floors (ops, faults applied, quorum loss, recovery bound) are checked inside the run.
    if let Err((seed, e)) = run_suite(&config) {
        panic!("jepsen_partitions failed with {SEED_ENV}={seed}: {e}");
    }
}
