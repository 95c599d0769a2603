//! Jepsen-style fault test with network faults: 5 real `raft-cli node`
//! processes, each in its own network namespace, 8 concurrent clients in the
//! client namespace, and a seeded nemesis drawing from majority/minority
//! partitions, an isolated leader, a bridge (two halves joined only through one
//! node), one-way link cuts and lossy links (10–50 % drop).
//!
//! After the faults heal the run requires: an acknowledged write within 20 s,
//! every node caught up and holding the same value per key as a final
//! linearizable read, and the whole history (final reads included) proven
//! linearizable — an exhausted checker budget fails the test too.
//!
//! Needs root, `ip` and `iptables`; otherwise it prints `skipped: <why>` and
//! passes. Needs the node binary: `cargo build -p raft-cli` (same profile).
//!
//! - `JEPSEN_SEED=<n>` reproduces a run (every run prints its seed).
//! - `JEPSEN_SOAK_SECS=<s>` soaks: fresh clusters with seeds n, n+1, ... until
//!   `s` seconds have passed (the CI default is one run of 10 faults, ~60 s).
//! - `RAFT_TEST_KEEP_RUNS=1` keeps the run folder even on success; it is always
//!   kept on failure.

use raft_tests::jepsen::{run_suite, JepsenConfig, SEED_ENV};
use raft_tests::{FaultKind, Network};

/// The link faults (process faults are `jepsen_kill_restart`'s job).
const NETWORK_FAULTS: &[FaultKind] =
    &[FaultKind::MajorityMinority, FaultKind::IsolateLeader, FaultKind::Bridge, FaultKind::OneWay, FaultKind::Lossy];

#[test]
fn jepsen_partitions() {
    if let Err(e) = raft_tests::netns::availability() {
        eprintln!("skipped: {}", e.skip_reason().map(str::to_string).unwrap_or_else(|| e.to_string()));
        return;
    }
    let seed = raft_tests::rng::seed_from_env(SEED_ENV);
    let mut config = JepsenConfig::new("jepsen_partitions", 5, Network::Namespaces, NETWORK_FAULTS, seed);
    config.steps = 10;
    match run_suite(&config) {
        Ok(reports) => assert!(reports.iter().all(|r| r.stats.completed() > 0), "no client operation completed"),
        Err((seed, e)) => panic!("jepsen_partitions failed with {SEED_ENV}={seed}: {e}"),
    }
}
