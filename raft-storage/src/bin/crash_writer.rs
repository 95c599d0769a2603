//! Test helper for `tests/crash_durability.rs`; not part of the library.
//!
//! Usage: `raft-storage-crash-writer <dir> <seed>`. Opens (or creates) the
//! store in `<dir>` and, until killed, appends synced batches of 1 to 16
//! entries in a new term, each batch committing the previous one, sometimes
//! taking a snapshot. After each write returns it prints
//! `ack <first index> <last index> <term> <commit>`: from then on the test may assume those
//! entries are durable.

use std::io::Write;
use std::process::ExitCode;

use raft_core::{HardState, LogIndex, Membership, NodeId, SeededRng, Storage};
use raft_storage::{RaftStore, RocksStore, WriteBatch};

#[path = "../../tests/support/crash_workload.rs"]
mod crash_workload;

/// Probability that a batch is followed by a snapshot.
const SNAPSHOT_PROBABILITY: f64 = 0.03;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(seed)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: raft-storage-crash-writer <dir> <seed>");
        return ExitCode::from(2);
    };
    match run(dir, seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &str, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let store = RocksStore::open(dir)?;
    let mut rng = SeededRng::new(seed);
    let stored = store.hard_state();
    let term = stored.term.get() + 1;
    let mut commit = stored.commit;
    let mut last = store.last_index()?.get();
    let mut out = std::io::stdout().lock();
    loop {
        let n = rng.gen_range(1, 17);
        let entries = (last + 1..=last + n).map(|i| crash_workload::entry(term, i)).collect();
        let hard_state = HardState { term: raft_core::Term(term), vote: None, commit };
        store.write(WriteBatch { hard_state: Some(hard_state), truncate_from: None, entries, sync: true })?;
        let first_new = last + 1;
        last += n;
        writeln!(out, "ack {first_new} {last} {term} {}", commit.get())?;
        out.flush()?;
        commit = LogIndex(last);
        let (first, committed) = (store.first_index()?.get(), hard_state.commit.get());
        if committed >= first && rng.gen_bool(SNAPSHOT_PROBABILITY) {
            let at = committed.saturating_sub(rng.gen_range(0, 8)).max(first);
            let membership = Membership::new([NodeId(1)]);
            store.create_snapshot(LogIndex(at), membership, crash_workload::snapshot_data(at))?;
        }
    }
}
