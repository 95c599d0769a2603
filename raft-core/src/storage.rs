//! The read-only view of durable state that the core consults, and an
//! in-memory implementation for tests and simulation.
//!
//! As in etcd/raft, the core never writes to storage. It tells the runtime
//! what to write through [`crate::Ready`]; the runtime writes it (to
//! RocksDB, to memory, anywhere) and only then calls
//! [`crate::RaftNode::advance`]. The core reads back through this trait.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::types::{Entry, HardState, LogId, LogIndex, Membership, Snapshot, SnapshotMeta, Term};

/// Errors a storage read can return. `Compacted` and `Unavailable` are part
/// of normal operation (the core reacts to them); `Backend` and `Corrupted`
/// mean the node cannot go on safely and must stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The requested index is at or below the last snapshot and its entry
    /// was discarded.
    #[error("log index {requested} is compacted (first available index is {first_index})")]
    Compacted {
        /// The index asked for.
        requested: LogIndex,
        /// The first index still present.
        first_index: LogIndex,
    },
    /// The requested index is past the end of the log.
    #[error("log index {requested} is unavailable (last index is {last_index})")]
    Unavailable {
        /// The index asked for.
        requested: LogIndex,
        /// The last index present.
        last_index: LogIndex,
    },
    /// Stored data failed a checksum or could not be decoded.
    #[error("corrupted storage at {what}: {detail}")]
    Corrupted {
        /// Which record (for example "log entry 42").
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The backend (disk, database) failed.
    #[error("storage backend error: {0}")]
    Backend(String),
}

/// Result alias for storage reads.
pub type StorageResult<T> = Result<T, StorageError>;

/// What a node starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitialState {
    /// The persisted hard state.
    pub hard_state: HardState,
    /// The membership as of the latest snapshot (for a new cluster: the
    /// bootstrap membership). The core scans the log after the snapshot for
    /// newer membership entries itself.
    pub membership: Membership,
}

/// Read-only access to a node's durable log, hard state and snapshot.
///
/// Contract (every implementation must keep it; the conformance suite in
/// `raft-storage` checks it):
/// - entries are contiguous from `first_index()` to `last_index()`;
/// - `term(i)` answers for `first_index() - 1 ..= last_index()` (the entry
///   just before the first is the snapshot's last entry);
/// - `first_index() == snapshot().meta.last_log_id.index + 1`;
/// - an empty log has `last_index() == first_index() - 1`.
pub trait Storage {
    /// The hard state and membership to start from.
    fn initial_state(&self) -> StorageResult<InitialState>;
    /// The first index still present in the log.
    fn first_index(&self) -> StorageResult<LogIndex>;
    /// The last index in the log (or the snapshot's index if the log is empty).
    fn last_index(&self) -> StorageResult<LogIndex>;
    /// The term of the entry at `index`.
    fn term(&self, index: LogIndex) -> StorageResult<Term>;
    /// Entries in `[lo, hi)`. With `max_bytes`, stops before the total
    /// [`Entry::size_bytes`] would exceed it, but always returns at least one
    /// entry when `lo < hi`.
    fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> StorageResult<Vec<Entry>>;
    /// The latest snapshot.
    fn snapshot(&self) -> StorageResult<Snapshot>;
}

/// Takes entries from `entries` in order while their total size stays within
/// `max_bytes`, always keeping the first. Shared by every [`Storage`]
/// implementation so they agree on the byte-cap rule.
pub fn limit_size(entries: &mut Vec<Entry>, max_bytes: Option<u64>) {
    let Some(max) = max_bytes else { return };
    let mut total = 0u64;
    let keep = entries
        .iter()
        .position(|e| {
            total += e.size_bytes();
            total > max
        })
        .unwrap_or(entries.len())
        .max(1);
    entries.truncate(keep);
}

/// The data behind [`MemStorage`].
#[derive(Clone, Debug, Default)]
pub struct MemStorageCore {
    hard_state: HardState,
    snapshot: Snapshot,
    /// Invariant: `entries[i].index == snapshot.meta.last_log_id.index + 1 + i`.
    entries: Vec<Entry>,
}

impl MemStorageCore {
    fn first_index(&self) -> LogIndex {
        self.snapshot.meta.last_log_id.index.next()
    }

    fn last_index(&self) -> LogIndex {
        LogIndex(self.snapshot.meta.last_log_id.index.0 + self.entries.len() as u64)
    }

    fn offset(&self, index: LogIndex) -> usize {
        (index.0 - self.first_index().0) as usize
    }

    /// The hard state.
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// Replaces the hard state.
    pub fn set_hard_state(&mut self, hs: HardState) {
        self.hard_state = hs;
    }

    /// Appends `entries`, first discarding any stored entries at or after
    /// `entries[0].index` (a conflicting suffix). Entries at or below the
    /// snapshot are skipped. Panics if the append would leave a gap: the
    /// caller (the core's Ready) never produces one.
    pub fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else { return };
        let snap_index = self.snapshot.meta.last_log_id.index;
        let entries: Vec<Entry> = entries.iter().filter(|e| e.index > snap_index).cloned().collect();
        let Some(first_new) = entries.first().map(|e| e.index) else { return };
        assert!(
            first_new <= self.last_index().next(),
            "log append must be contiguous: last index {}, append starts at {} (requested {})",
            self.last_index(),
            first_new,
            first.index
        );
        let keep = self.offset(first_new);
        self.entries.truncate(keep);
        self.entries.extend(entries);
    }

    /// Installs a snapshot received from the leader: entries it covers are
    /// dropped; a suffix whose entry at the snapshot index matches the
    /// snapshot's term is kept (Figure 13, rule 6), otherwise the whole log
    /// is discarded (rule 7).
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let last = snapshot.meta.last_log_id;
        let keep_suffix = last.index >= self.first_index()
            && last.index <= self.last_index()
            && self.entries[self.offset(last.index)].term == last.term;
        if keep_suffix {
            let cut = self.offset(last.index) + 1;
            self.entries.drain(..cut);
        } else {
            self.entries.clear();
        }
        if self.hard_state.commit < last.index {
            self.hard_state.commit = last.index;
        }
        self.snapshot = snapshot;
    }

    /// Records a snapshot taken locally at `index` (which must be in the log)
    /// and discards the log up to and including it.
    pub fn create_snapshot(&mut self, index: LogIndex, membership: Membership, data: Vec<u8>) -> StorageResult<()> {
        if index <= self.snapshot.meta.last_log_id.index {
            return Err(StorageError::Compacted { requested: index, first_index: self.first_index() });
        }
        if index > self.last_index() {
            return Err(StorageError::Unavailable { requested: index, last_index: self.last_index() });
        }
        let term = self.entries[self.offset(index)].term;
        let cut = self.offset(index) + 1;
        self.entries.drain(..cut);
        self.snapshot = Snapshot { meta: SnapshotMeta { last_log_id: LogId::new(term, index), membership }, data };
        Ok(())
    }
}

/// An in-memory [`Storage`]. Cloning shares the same data, so a test (or the
/// simulator) can keep one handle to write with while the node reads through
/// another, and can keep the data alive across a simulated crash.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    core: Arc<RwLock<MemStorageCore>>,
}

impl MemStorage {
    /// An empty store whose bootstrap membership is `membership`.
    pub fn new_with_membership(membership: Membership) -> Self {
        let store = MemStorage::default();
        store.wl().snapshot.meta.membership = membership;
        store
    }

    /// Read access to the data.
    pub fn rl(&self) -> RwLockReadGuard<'_, MemStorageCore> {
        self.core.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the data.
    pub fn wl(&self) -> RwLockWriteGuard<'_, MemStorageCore> {
        self.core.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A deep copy that no longer shares data with `self` (what survives a
    /// crash is exactly what was written).
    pub fn deep_clone(&self) -> MemStorage {
        MemStorage { core: Arc::new(RwLock::new(self.rl().clone())) }
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> StorageResult<InitialState> {
        let core = self.rl();
        Ok(InitialState { hard_state: core.hard_state, membership: core.snapshot.meta.membership.clone() })
    }

    fn first_index(&self) -> StorageResult<LogIndex> {
        Ok(self.rl().first_index())
    }

    fn last_index(&self) -> StorageResult<LogIndex> {
        Ok(self.rl().last_index())
    }

    fn term(&self, index: LogIndex) -> StorageResult<Term> {
        let core = self.rl();
        let snap = core.snapshot.meta.last_log_id;
        if index == snap.index {
            return Ok(snap.term);
        }
        if index < snap.index {
            return Err(StorageError::Compacted { requested: index, first_index: core.first_index() });
        }
        if index > core.last_index() {
            return Err(StorageError::Unavailable { requested: index, last_index: core.last_index() });
        }
        Ok(core.entries[core.offset(index)].term)
    }

    fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> StorageResult<Vec<Entry>> {
        let core = self.rl();
        if lo < core.first_index() {
            return Err(StorageError::Compacted { requested: lo, first_index: core.first_index() });
        }
        if hi > core.last_index().next() {
            return Err(StorageError::Unavailable { requested: hi.prev(), last_index: core.last_index() });
        }
        if lo >= hi {
            return Ok(Vec::new());
        }
        let mut out = core.entries[core.offset(lo)..core.offset(hi)].to_vec();
        limit_size(&mut out, max_bytes);
        Ok(out)
    }

    fn snapshot(&self) -> StorageResult<Snapshot> {
        Ok(self.rl().snapshot.clone())
    }
}
