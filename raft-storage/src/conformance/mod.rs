//! A conformance suite for [`RaftStore`] implementations, written once and
//! run against every store (enable the `conformance` feature to use it from
//! another crate).
//!
//! Each case is a function generic over a [`Harness`] that makes stores; the
//! [`conformance_tests!`](crate::conformance_tests) macro turns every case
//! into a `#[test]`. A case panics with a message naming what broke.

use raft_core::{Entry, EntryPayload, HardState, LogIndex, Membership, NodeId, Storage, StorageError, Term};

use crate::{RaftStore, WriteBatch};

mod log_cases;
mod meta_cases;
mod snapshot_cases;

pub use log_cases::*;
pub use meta_cases::*;
pub use snapshot_cases::*;

/// Makes stores for the suite.
pub trait Harness {
    /// The store under test.
    type Store: RaftStore;
    /// A new, empty store.
    fn fresh(&mut self) -> Self::Store;
    /// Closes `store` and opens the same data again, as after a restart;
    /// `None` for a store that keeps nothing across restarts.
    fn reopen(&mut self, store: Self::Store) -> Option<Self::Store>;
}

/// Defines one `#[test]` per conformance case, each building its harness
/// with the given expression.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@cases $harness;
            empty_store_reports_an_empty_log,
            appended_entries_read_back_in_order,
            hard_state_is_saved_with_the_entries,
            conflicting_suffix_is_overwritten,
            truncation_without_entries_shortens_the_log,
            append_with_a_gap_is_refused_and_changes_nothing,
            hard_state_going_backwards_is_refused,
            byte_cap_limits_entries_like_limit_size,
            reads_outside_the_log_are_compacted_or_unavailable,
            create_snapshot_compacts_the_prefix_and_records_meta,
            create_snapshot_refuses_uncommitted_or_missing_indices,
            install_snapshot_keeps_a_matching_suffix,
            install_snapshot_discards_a_conflicting_log,
            install_snapshot_past_the_log_discards_it,
            stale_snapshot_is_refused,
            appends_after_a_snapshot_skip_covered_entries,
            bootstrap_sets_the_membership_once,
            identity_is_recorded_once,
            everything_survives_reopen,
            truncation_and_snapshot_install_survive_reopen,
        );
    };
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let mut harness = $harness;
                $crate::conformance::$case(&mut harness);
            }
        )*
    };
}

/// An entry whose payload names its term and index (so a wrong entry in the
/// right place is noticed).
pub fn entry(term: u64, index: u64) -> Entry {
    Entry::new(Term(term), LogIndex(index), EntryPayload::Normal(format!("t{term}i{index}").into_bytes().into()))
}

/// Entries `lo..=hi`, all in `term`.
pub fn entries(term: u64, lo: u64, hi: u64) -> Vec<Entry> {
    (lo..=hi).map(|i| entry(term, i)).collect()
}

/// Appends entries (synced), panicking on failure.
pub fn append(store: &impl RaftStore, entries: Vec<Entry>) {
    let desc = format!("{:?}", entries.iter().map(|e| e.log_id()).collect::<Vec<_>>());
    store.write(WriteBatch::append(entries)).unwrap_or_else(|e| panic!("append {desc} failed: {e}"));
}

/// Saves a hard state, panicking on failure.
pub fn save_hard_state(store: &impl RaftStore, term: u64, vote: Option<u64>, commit: u64) {
    let hs = HardState { term: Term(term), vote: vote.map(NodeId), commit: LogIndex(commit) };
    store.write(WriteBatch::hard_state(hs)).unwrap_or_else(|e| panic!("saving {hs:?} failed: {e}"));
}

/// A voter set.
pub fn voters(ids: &[u64]) -> Membership {
    Membership::new(ids.iter().map(|&i| NodeId(i)))
}

/// Asserts the log's bounds and that it holds exactly `expected`.
pub fn assert_log(store: &impl Storage, first: u64, expected: &[Entry]) {
    let last = first - 1 + expected.len() as u64;
    assert_eq!(store.first_index(), Ok(LogIndex(first)), "first index");
    assert_eq!(store.last_index(), Ok(LogIndex(last)), "last index");
    let got = store.entries(LogIndex(first), LogIndex(last + 1), None).expect("reading the whole log");
    assert_eq!(got, expected, "log contents");
    for e in expected {
        assert_eq!(store.term(e.index), Ok(e.term), "term at {}", e.index);
    }
}

/// Asserts `result` is the `Unavailable` error for `requested`.
pub fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StorageError>, requested: u64, last: u64) {
    assert_eq!(
        result.map(|_| ()),
        Err(StorageError::Unavailable { requested: LogIndex(requested), last_index: LogIndex(last) })
    );
}

/// Asserts `result` is the `Compacted` error for `requested`.
pub fn assert_compacted<T: std::fmt::Debug>(result: Result<T, StorageError>, requested: u64, first: u64) {
    assert_eq!(
        result.map(|_| ()),
        Err(StorageError::Compacted { requested: LogIndex(requested), first_index: LogIndex(first) })
    );
}
