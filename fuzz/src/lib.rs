//! # raft-fuzz: every decoder of untrusted bytes, as a fuzz target
//!
//! A node reads bytes from three places it does not control: peers
//! (`RaftBatch`, InstallSnapshot streams), clients (KV requests) and its own
//! disk (bincode-encoded log entries and hard state, KV snapshots, committed
//! entries it applies). Each function here takes arbitrary bytes, pushes them
//! through the same code the node runs, and must return — never panic, never
//! allocate without bound. It returns `true` when the input was accepted as
//! valid, so the seed corpus can also assert that good inputs still pass.
//!
//! `cargo fuzz` (see `scripts/fuzz.sh`) calls these through the thin binaries
//! in `fuzz_targets/`; `tests/corpus.rs` runs every file of `corpus/` through
//! them as a plain test on the stable toolchain, which is how CI replays the
//! corpus and every crash found so far (`corpus/<target>/crash-*`).

mod kv;
mod node;
mod peer;
pub mod seeds;
mod storage;

pub use kv::{client_request, kv_entry, kv_snapshot};
pub use peer::{peer_message, snapshot_stream};
pub use storage::storage_codec;

/// Every target by name, as `cargo fuzz` and `corpus/` name them.
pub const TARGETS: [(&str, fn(&[u8]) -> bool); 6] = [
    ("peer_message", peer_message),
    ("snapshot_stream", snapshot_stream),
    ("storage_codec", storage_codec),
    ("kv_snapshot", kv_snapshot),
    ("kv_entry", kv_entry),
    ("client_request", client_request),
];
