//! The deterministic cluster simulator shared by the `sim` and `scenarios`
//! test crates: a seeded network, crashable nodes over `MemStorage`, a
//! digest state machine, and client helpers in the style of the 6.824 Raft
//! test harness.

pub mod client;
pub mod cluster;
pub mod coverage;
pub mod electability;
pub mod membership;
pub mod network;
pub mod node_host;
pub mod state_machine;

pub use cluster::{derive_seed, Cluster, SimConfig};
pub use network::NetConfig;
pub use node_host::CrashPoint;

use raft_core::{LogIndex, MemStorage, Storage};

/// The index covered by `storage`'s latest snapshot.
pub fn snapshot_index(storage: &MemStorage) -> LogIndex {
    storage.first_index().expect("MemStorage reads cannot fail").prev()
}
