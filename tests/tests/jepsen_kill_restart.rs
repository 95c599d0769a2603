//! Jepsen-style fault test with process faults: 3 real `raft-cli node`
//! processes on loopback, 8 concurrent clients doing put / linearizable get /
//! compare-and-swap on 12 keys, and a seeded nemesis that kill -9s and restarts
//! random nodes and the leader, and SIGSTOPs/SIGCONTs the leader (a paused
//! leader that wakes must neither serve a stale read nor commit an old-term
//! write — the checker would see either).
//!
//! After the faults heal the run requires: an acknowledged write within 20 s,
//! every node caught up and holding the same value per key as a final
//! linearizable read, and the whole history (final reads included) proven
//! linearizable — an exhausted checker budget fails the test too.
//!
//! Needs the node binary: `cargo build -p raft-cli` (same profile), or point
//! `RAFT_CLI_BIN` at it.
//!
//! - `JEPSEN_SEED=<n>` reproduces a run (every run prints its seed).
//! - `JEPSEN_SOAK_SECS=<s>` soaks: fresh clusters with seeds n, n+1, ... until
//!   `s` seconds have passed (the CI default is one run of ~8 faults, ~45 s).
//! - `RAFT_TEST_KEEP_RUNS=1` keeps the run folder (logs, `histories/clients.json`,
//!   `nemesis.json`, `nemesis.log`, `check.txt`) even on success; it is always
//!   kept on failure.

use raft_tests::jepsen::{run_suite, JepsenConfig, SEED_ENV};
use raft_tests::{FaultKind, Network};

#[test]
fn jepsen_kill_restart() {
    let seed = raft_tests::rng::seed_from_env(SEED_ENV);
    let config = JepsenConfig::new("jepsen_kill_restart", 3, Network::Loopback, FaultKind::PROCESS, seed);
    match run_suite(&config) {
        Ok(reports) => assert!(reports.iter().all(|r| r.stats.completed() > 0), "no client operation completed"),
        Err((seed, e)) => panic!("jepsen_kill_restart failed with {SEED_ENV}={seed}: {e}"),
    }
}
