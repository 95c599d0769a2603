//! Scenario tests for `raft-core`, as demanding as the MIT 6.824 Raft lab
//! suite (2A election, 2B agreement, 2C persistence, 2D snapshots) plus
//! leader transfer and ReadIndex, all on the deterministic simulator of
//! `tests/sim` (shared through `#[path]` modules).
//!
//! Why a separate crate from `sim`: the simulator explores random schedules;
//! these tests pin down named behaviours with scripted schedules, each
//! citing the paper section it exercises. Every test uses a fixed seed,
//! prints it, and every invariant of `tests/sim/invariants` is checked after
//! every step here too.
//!
//! Timing model (documented once for every count below): one tick stands for
//! 100 ms; election timeout 10 ticks (1 s, randomized in [10, 20)),
//! heartbeat every tick (10 per second per follower).

#[allow(dead_code, unused_imports)]
#[path = "../sim/harness/mod.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../sim/invariants/mod.rs"]
mod invariants;

mod agreement;
mod election;
mod joint;
mod leadership;
mod membership;
mod persistence;
mod snapshots;

use harness::{Cluster, SimConfig};
use raft_core::NodeId;

/// One election timeout in ticks (the 6.824 `RaftElectionTimeout`).
pub const ELECTION_TIMEOUT: u64 = 10;

/// A cluster of `n` on a reliable network; prints the seed and how to rerun.
pub fn cluster(n: usize, seed: u64, name: &str) -> Cluster {
    cluster_with(SimConfig::new(n, seed), name)
}

/// A cluster from an explicit config.
pub fn cluster_with(mut cfg: SimConfig, name: &str) -> Cluster {
    cfg.replay =
        format!("cargo test -p raft-core --test scenarios {name} -- --exact --nocapture   (seed {})", cfg.seed);
    println!("{name}: seed {}, {} nodes", cfg.seed, cfg.nodes);
    Cluster::new(cfg)
}

/// The node `k` places after `id`, wrapping (6.824's `(leader + k) % n`).
pub fn after(c: &Cluster, id: NodeId, k: u64) -> NodeId {
    let n = c.ids().len() as u64;
    NodeId((id.0 - 1 + k) % n + 1)
}

/// A distinct payload for command number `x`.
pub fn cmd(x: u64) -> Vec<u8> {
    format!("cmd-{x}").into_bytes()
}
