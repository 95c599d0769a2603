//! Jepsen-style fault test with process faults: 3 real `raft-cli node`
//! processes on loopback, 8 concurrent clients doing put / linearizable get /
//! compare-and-swap on 12 keys, and a seeded nemesis that kill -9s and restarts
//! random nodes and the leader, and SIGSTOPs/SIGCONTs the leader (a paused
//! leader that wakes must neither serve a stale read nor commit an old-term
//! write — the checker would see either).
//!
//! The schedule also kills one node and pauses another at once (no quorum on 3
//! nodes until healed). 2 more clients append unique elements to 2 set keys by
//! read + compare-and-swap.
//!
//! The run fails unless (see `raft_tests::jepsen`): every scheduled fault was
//! applied (a leader fault retries finding the leader, else fails the run);
//! every paused node showed state T in /proc; no node exited on its own or
//! logged a panic; the clients completed at least 2,000 operations, 300 of them
//! while a fault was in force; an acknowledged write came within 20 s of the
//! last heal; every node caught up and holds the same value per key as a final
//! linearizable read; every acknowledged append is in the final list of its
//! key; and the whole history (final reads included) is proven linearizable —
//! an exhausted checker budget fails the test too.
//!
//! Needs the node binary, built from the current sources (the run refuses a
//! stale one): `cargo build -p raft-cli` (same profile), or point
//! `RAFT_CLI_BIN` at it.
//!
//! - The seed is fixed (printed); `JEPSEN_SEED=<n>` runs another one.
//! - `JEPSEN_SOAK_SECS=<s>` soaks: fresh clusters with seeds n, n+1, ... until
//!   `s` seconds have passed (the CI default is one run of 8 faults, ~30 s).
//! - `RAFT_TEST_KEEP_RUNS=1` keeps the run folder (logs, `histories/clients.json`,
//!   `nemesis.json`, `nemesis.log`, `check.txt`) even on success; it is always
//!   kept on failure.

use raft_tests::jepsen::{run_suite, JepsenConfig, SEED_ENV};
use raft_tests::{FaultKind, Network};

/// The seed CI runs.
const CI_SEED: u64 = 20_261_204;

#[test]
fn jepsen_kill_restart() {
    let seed = raft_tests::rng::seed_from_env_or(SEED_ENV, CI_SEED);
    let config = JepsenConfig::new("jepsen_kill_restart", 3, Network::Loopback, FaultKind::PROCESS, seed);
    // The floors (ops, faults applied, recovery bound) are checked inside the run.
    if let Err((seed, e)) = run_suite(&config) {
        panic!("jepsen_kill_restart failed with {SEED_ENV}={seed}: {e}");
    }
}
