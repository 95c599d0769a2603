//! # raft-storage: where a Raft node's promises live
//!
//! A Raft node may only vote or acknowledge an append once the vote, term and
//! entries are on stable storage (Figure 2, "updated on stable storage before
//! responding to RPCs"). If a node forgets a vote after a crash it can vote
//! twice in one term; if it forgets an acknowledged entry, a "committed" entry
//! can vanish. This crate is the part of the system that keeps those
//! promises, so it is strict about three things:
//!
//! - **Atomic, synced steps.** Everything one `Ready` asks to persist (a
//!   truncated suffix, new entries, the hard state) is one [`WriteBatch`],
//!   applied as one RocksDB write batch with one WAL fsync. A crash leaves the
//!   state before or after it, and many entries cost one fsync.
//! - **Never silently wrong data.** Every stored record carries a CRC32
//!   covering its key, entries are checked to be where their index says, and
//!   a format-version record is checked at open. A bad record is a
//!   [`StoreError::Corrupted`] naming it (e.g. "log entry 42"); the node
//!   stops rather than run on a damaged history.
//! - **Invariants enforced at the door.** Appends that would leave a gap,
//!   a commit index or term going backwards, a second vote in a term, a
//!   snapshot of uncommitted entries: all refused with a typed error before
//!   anything is written.
//!
//! The core (`raft_core`) only *reads* storage, through the
//! [`raft_core::Storage`] trait; the runtime writes through [`RaftStore`].
//! Two implementations share one validation path ([`WriteBatch`] planning)
//! and one conformance suite:
//!
//! - [`RocksStore`]: RocksDB with column families `meta` and `log`
//!   (big-endian u64 keys, so iteration is index order), snapshot data in
//!   files beside it (see [`layout`]). The log's ends and the small records
//!   are cached in memory so the hot reads never touch RocksDB. Compaction
//!   is a range delete: O(1) for the writer, reclaimed by RocksDB later.
//! - [`MemStore`]: the same write API over `raft_core::MemStorage`, for tests
//!   and the demo's `--in-memory` mode.
//!
//! Values are encoded only through `raft_core::codec`.
#![deny(missing_docs)]

mod batch;
mod error;
mod identity;
mod incarnation;
pub mod layout;
mod mem_store;
mod rocks_open;
mod rocks_store;
mod rocks_write;
mod snapshot_files;
mod snapshot_reader;
mod staged_install;
mod store;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(test)]
mod conformance_tests;

pub use batch::WriteBatch;
pub use error::StoreError;
pub use identity::{Identity, MAX_CLUSTER_ID_LEN};
pub use incarnation::{fresh_incarnation, PeerIncarnations};
pub use mem_store::MemStore;
pub use rocks_store::RocksStore;
pub use snapshot_reader::SnapshotReader;
pub use staged_install::StagedFile;
pub use store::RaftStore;
