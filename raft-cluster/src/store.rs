//! [`NodeStore`]: the small storage interface the runtime needs, so the node
//! task is written once for RocksDB and for memory.
//!
//! The runtime holds the store as `Arc<dyn NodeStore>`: the core reads
//! through it (via [`SharedStore`]), and writes run on a blocking thread with
//! another clone of the same `Arc`. Dynamic dispatch costs nothing next to an
//! fsync and keeps the runtime from being generic over the store.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use raft_core::{
    Entry, HardState, InitialState, LogIndex, Membership, NodeId, Snapshot, SnapshotMeta, Storage, StorageError,
    StorageResult, Term,
};

use crate::log_cache::LogCache;

/// One durable write: everything a `Ready` asks to persist (§5.1: term,
/// vote and log before answering). Applied atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersistBatch {
    /// New hard state, if it changed.
    pub hard_state: Option<HardState>,
    /// Delete stored entries at or after this index first (§5.3 conflict).
    pub truncate_from: Option<LogIndex>,
    /// Entries to append.
    pub entries: Vec<Entry>,
    /// fsync before returning.
    pub sync: bool,
}

impl PersistBatch {
    /// True if there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none() && self.truncate_from.is_none() && self.entries.is_empty()
    }
}

/// Who a data dir belongs to. Recorded at bootstrap; a node refuses to start
/// on a store recorded for another cluster or node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreIdentity {
    /// The cluster name from the config.
    pub cluster_id: String,
    /// The node id from the config.
    pub node_id: NodeId,
}

/// A storage failure, as text (the backend's own error type stays in the
/// backend's crate).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailure(pub String);

/// A snapshot's data opened for streaming (see [`NodeStore::open_snapshot`]).
pub struct SnapshotData {
    /// Where the snapshot sits in the log.
    pub meta: SnapshotMeta,
    /// Exact number of bytes `reader` yields.
    pub len: u64,
    /// CRC-32 of those bytes.
    pub crc32: u32,
    /// The data; read it on a blocking thread.
    pub reader: Box<dyn Read + Send>,
}

impl SnapshotData {
    /// Data already in memory.
    pub fn in_memory(snapshot: Snapshot) -> Self {
        let (len, crc32) = (snapshot.data.len() as u64, crc32fast::hash(&snapshot.data));
        SnapshotData { meta: snapshot.meta, len, crc32, reader: Box::new(Cursor::new(snapshot.data)) }
    }
}

impl std::fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotData").field("meta", &self.meta).field("len", &self.len).finish_non_exhaustive()
    }
}

/// What the runtime needs from durable storage beyond the core's read-only
/// [`Storage`] view.
pub trait NodeStore: Storage + Send + Sync + 'static {
    /// Persists `batch` atomically; durable before returning if `batch.sync`.
    fn write(&self, batch: &PersistBatch) -> Result<(), StoreFailure>;
    /// Whether [`NodeStore::write`] never waits on a device, so the runtime
    /// may call it on the node task instead of a blocking thread (a memory
    /// store; the default, `false`, is right for anything on disk).
    fn writes_in_memory(&self) -> bool {
        false
    }
    /// Installs a snapshot from the leader (Figure 13, rules 6–7); the commit
    /// index becomes at least the snapshot's index.
    fn install_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreFailure>;
    /// Where the gRPC server stages InstallSnapshot streams for
    /// [`NodeStore::install_staged`]: a directory on the store's own
    /// filesystem, so that installing is a rename. `None` (the default):
    /// the store keeps snapshots in memory and streams are assembled there.
    fn staging_dir(&self) -> Option<PathBuf> {
        None
    }
    /// Installs a snapshot from the leader like
    /// [`NodeStore::install_snapshot`], its data being the staged file
    /// `staged` (`len` bytes, CRC-32 `crc32`, both checked by the receiver).
    /// A disk store moves the file into place; on success the file is gone
    /// from `staged`. The default reads it into memory, for stores without
    /// files of their own.
    fn install_staged(&self, meta: &SnapshotMeta, staged: &Path, len: u64, crc32: u32) -> Result<(), StoreFailure> {
        let data = read_staged(staged, len, crc32)?;
        self.install_snapshot(&Snapshot { meta: meta.clone(), data })
    }
    /// Stores a snapshot of the local state machine at `index` (which is in
    /// the log and applied) and compacts the log up to it.
    fn create_snapshot(&self, index: LogIndex, membership: Membership, data: Vec<u8>) -> Result<(), StoreFailure>;
    /// The recorded identity, or `None` for a store never bootstrapped.
    fn identity(&self) -> Result<Option<StoreIdentity>, StoreFailure>;
    /// Idempotent start-up step: records `identity` if none is recorded
    /// (fails if another one is), and gives a store that holds no log, hard
    /// state or membership the initial voters `membership`. A store that is
    /// already initialized keeps its state.
    fn bootstrap(&self, identity: &StoreIdentity, membership: Membership) -> Result<(), StoreFailure>;
    /// Records `identity` (like [`NodeStore::bootstrap`]) but gives the
    /// store no membership: a node joining an existing cluster learns its
    /// configuration from the leader and never votes before that.
    fn record_identity(&self, identity: &StoreIdentity) -> Result<(), StoreFailure>;
    /// This data directory's incarnation: random, non-zero, created with
    /// the directory, new after a wipe (see `raft_storage::fresh_incarnation`).
    fn incarnation(&self) -> u64;
    /// The incarnation remembered for each peer (first seen).
    fn peer_incarnations(&self) -> Result<BTreeMap<NodeId, u64>, StoreFailure>;
    /// Durably remembers `incarnation` for `peer`, or forgets it (`None`).
    fn set_peer_incarnation(&self, peer: NodeId, incarnation: Option<u64>) -> Result<(), StoreFailure>;
    /// The current snapshot's meta, without its data. The default reads
    /// the data; stores that keep it on disk should not.
    fn snapshot_meta(&self) -> Result<SnapshotMeta, StoreFailure> {
        self.snapshot().map(|s| s.meta).map_err(|e| StoreFailure(e.to_string()))
    }
    /// Opens the current snapshot for streaming. The default reads it into
    /// memory (fine for a memory store); a disk store should hand out the
    /// open file.
    fn open_snapshot(&self) -> Result<SnapshotData, StoreFailure> {
        self.snapshot().map(SnapshotData::in_memory).map_err(|e| StoreFailure(e.to_string()))
    }
    /// Flushes and releases resources before a clean shutdown.
    fn close(&self) -> Result<(), StoreFailure> {
        Ok(())
    }
}

/// A staged snapshot's data, read into memory and checked against what the
/// receiver announced (for stores that keep snapshots in memory).
pub(crate) fn read_staged(staged: &Path, len: u64, crc32: u32) -> Result<Vec<u8>, StoreFailure> {
    let data = std::fs::read(staged).map_err(|e| StoreFailure(format!("read {}: {e}", staged.display())))?;
    if data.len() as u64 != len || crc32fast::hash(&data) != crc32 {
        return Err(StoreFailure(format!("{} is not the {len} bytes the receiver checked", staged.display())));
    }
    Ok(data)
}

/// The core's handle on the store: an `Arc` clone implementing [`Storage`]
/// by delegation, reading the newest durable entries from a [`LogCache`]
/// the node task keeps up to date (see `crate::log_cache`).
#[derive(Clone)]
pub struct SharedStore {
    store: Arc<dyn NodeStore>,
    cache: Arc<Mutex<LogCache>>,
}

impl SharedStore {
    /// A handle without a cache (every read goes to the store).
    pub fn new(store: Arc<dyn NodeStore>) -> Self {
        Self::with_cache(store, Arc::new(Mutex::new(LogCache::new(0))))
    }

    /// A handle that reads through `cache` first.
    pub(crate) fn with_cache(store: Arc<dyn NodeStore>, cache: Arc<Mutex<LogCache>>) -> Self {
        SharedStore { store, cache }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LogCache> {
        // The cache holds no invariant a panic elsewhere could break halfway.
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Storage for SharedStore {
    fn initial_state(&self) -> StorageResult<InitialState> {
        self.store.initial_state()
    }
    fn first_index(&self) -> StorageResult<LogIndex> {
        self.store.first_index()
    }
    fn last_index(&self) -> StorageResult<LogIndex> {
        self.store.last_index()
    }
    fn term(&self, index: LogIndex) -> StorageResult<Term> {
        if index >= self.store.first_index()? {
            if let Some(term) = self.cache().term(index) {
                return Ok(term);
            }
        }
        self.store.term(index)
    }
    fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> StorageResult<Vec<Entry>> {
        if lo >= self.store.first_index()? {
            if let Some(entries) = self.cache().entries(lo, hi, max_bytes) {
                return Ok(entries);
            }
        }
        self.store.entries(lo, hi, max_bytes)
    }
    /// The meta only: the core needs it to address an InstallSnapshot, and
    /// the runtime streams the data from the store off the node task
    /// (`runtime/outbound_snapshot.rs`), so the node never reads a whole
    /// snapshot while it should be sending heartbeats.
    fn snapshot(&self) -> StorageResult<Snapshot> {
        let meta = self
            .store
            .snapshot_meta()
            .map_err(|e| StorageError::Corrupted { what: "snapshot record".into(), detail: e.to_string() })?;
        Ok(Snapshot { meta, data: Vec::new() })
    }
}
