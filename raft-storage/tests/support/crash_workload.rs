//! The workload shared by the crash-writer binary and the crash test: both
//! sides must agree on what every entry and snapshot contains, so that the
//! test can tell a surviving entry from a damaged one.

use raft_core::{Entry, EntryPayload, LogIndex, Term};

/// The entry the writer stores at `index` in `term`: its payload is derived
/// from both, with a length that varies with the index.
pub fn entry(term: u64, index: u64) -> Entry {
    let len = 8 + (index.wrapping_mul(7919) % 300) as usize;
    let seed = format!("t{term}i{index};");
    let payload = seed.bytes().cycle().take(len).collect();
    Entry::new(Term(term), LogIndex(index), EntryPayload::Normal(payload))
}

/// The data of a snapshot taken at `index`.
pub fn snapshot_data(index: u64) -> Vec<u8> {
    format!("state machine up to {index}").into_bytes()
}
