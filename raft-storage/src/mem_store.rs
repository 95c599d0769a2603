//! [`MemStore`]: the write API over the core's in-memory [`MemStorage`], for
//! tests, simulation and the demo's `--in-memory` mode.

use std::sync::{Arc, Mutex, MutexGuard};

use raft_core::{
    Entry, HardState, InitialState, LogId, LogIndex, MemStorage, Membership, NodeId, Snapshot, SnapshotMeta, Storage,
    StorageResult, Term,
};

use crate::batch::{LogBounds, WriteBatch};
use crate::error::StoreError;
use crate::identity::Identity;
use crate::incarnation::{fresh_incarnation, PeerIncarnations};
use crate::store::RaftStore;

/// An in-memory [`RaftStore`] that validates writes exactly as
/// [`crate::RocksStore`] does (the conformance suite runs on both) but keeps
/// nothing across a process restart. Cloning shares the data, like
/// [`MemStorage`]; [`MemStore::deep_clone`] copies it (what survives a
/// simulated crash).
#[derive(Clone, Debug)]
pub struct MemStore {
    storage: MemStorage,
    /// Serializes writers, so validation and application see the same state.
    writer: Arc<Mutex<()>>,
    identity: Arc<Mutex<Option<Identity>>>,
    /// Chosen when the store is created; a deep clone (what survives a
    /// simulated crash) keeps it, a new store is a new incarnation.
    incarnation: u64,
    peer_incarnations: Arc<Mutex<PeerIncarnations>>,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore {
            storage: MemStorage::default(),
            writer: Arc::default(),
            identity: Arc::default(),
            incarnation: memory_incarnation(),
            peer_incarnations: Arc::default(),
        }
    }
}

/// A fresh incarnation for a memory store, which cannot report an error at
/// creation: without OS randomness, the time mixed with a per-process
/// counter still differs between the stores of a process.
fn memory_incarnation() -> u64 {
    static CREATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    fresh_incarnation().unwrap_or_else(|_| {
        let n = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        (nanos as u64).rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
    })
}

impl MemStore {
    /// An empty store with a fresh incarnation.
    pub fn new() -> Self {
        MemStore::default()
    }

    /// The underlying core storage (shares data with `self`).
    pub fn storage(&self) -> &MemStorage {
        &self.storage
    }

    /// A copy that no longer shares data with `self`.
    pub fn deep_clone(&self) -> MemStore {
        MemStore {
            storage: self.storage.deep_clone(),
            writer: Arc::default(),
            identity: Arc::new(Mutex::new(self.identity.lock().unwrap_or_else(|e| e.into_inner()).clone())),
            incarnation: self.incarnation,
            peer_incarnations: Arc::new(Mutex::new(self.peer_incarnations())),
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot_id(&self) -> LogId {
        let first = self.storage.first_index().unwrap_or(LogIndex(1));
        let term = self.storage.term(first.prev()).unwrap_or(Term(0));
        LogId::new(term, first.prev())
    }

    fn bounds(&self) -> LogBounds {
        let last_index = self.storage.last_index().unwrap_or_default();
        LogBounds { snapshot: self.snapshot_id(), last_index, hard_state: self.storage.rl().hard_state() }
    }

    /// Removes every entry at or after `from` (which is in the log).
    fn truncate(&self, from: LogIndex, snapshot: LogId) -> Result<(), StoreError> {
        if from.prev() == snapshot.index {
            // Re-installing the current snapshot clears the whole log (Figure 13 rule 7).
            let current = self.storage.snapshot()?;
            self.storage.wl().apply_snapshot(current);
        } else {
            // Re-appending the entry before the cut drops everything after it.
            let keep = self.storage.entries(from.prev(), from, None)?;
            self.storage.wl().append(&keep);
        }
        Ok(())
    }
}

impl Storage for MemStore {
    fn initial_state(&self) -> StorageResult<InitialState> {
        self.storage.initial_state()
    }

    fn first_index(&self) -> StorageResult<LogIndex> {
        self.storage.first_index()
    }

    fn last_index(&self) -> StorageResult<LogIndex> {
        self.storage.last_index()
    }

    fn term(&self, index: LogIndex) -> StorageResult<Term> {
        self.storage.term(index)
    }

    fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> StorageResult<Vec<Entry>> {
        self.storage.entries(lo, hi, max_bytes)
    }

    fn snapshot(&self) -> StorageResult<Snapshot> {
        self.storage.snapshot()
    }
}

impl RaftStore for MemStore {
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        let bounds = self.bounds();
        let plan = batch.plan(&bounds)?;
        if let Some(from) = plan.delete_from {
            // An append starting at `from` truncates by itself.
            if plan.entries.first().map(|e| e.index) != Some(from) {
                self.truncate(from, bounds.snapshot)?;
            }
        }
        let mut core = self.storage.wl();
        core.append(plan.entries);
        if let Some(hs) = plan.hard_state {
            core.set_hard_state(hs);
        }
        Ok(())
    }

    fn install_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        let current = self.snapshot_id();
        let requested = snapshot.meta.last_log_id;
        if requested.index <= current.index {
            return Err(StoreError::StaleSnapshot { requested, current });
        }
        self.storage.wl().apply_snapshot(snapshot.clone());
        Ok(())
    }

    fn create_snapshot(&self, index: LogIndex, membership: Membership, data: Vec<u8>) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        let first_index = self.storage.first_index()?;
        if index < first_index {
            return Err(StoreError::Compacted { requested: index, first_index });
        }
        self.storage.term(index)?;
        let commit = self.storage.rl().hard_state().commit;
        if index > commit {
            return Err(StoreError::SnapshotNotCommitted { index, commit });
        }
        Ok(self.storage.wl().create_snapshot(index, membership, data)?)
    }

    fn bootstrap(&self, membership: Membership) -> Result<(), StoreError> {
        if membership.voters.is_empty() {
            return Err(StoreError::EmptyMembership);
        }
        let _writer = self.lock_writer();
        if !self.is_empty() {
            return Err(StoreError::NotEmpty);
        }
        let meta = SnapshotMeta { last_log_id: LogId::default(), membership };
        self.storage.wl().apply_snapshot(Snapshot { meta, data: Vec::new() });
        Ok(())
    }

    fn is_empty(&self) -> bool {
        let hard_state = self.storage.rl().hard_state();
        hard_state == HardState::default()
            && self.storage.last_index().ok() == Some(LogIndex(0))
            && self.storage.initial_state().is_ok_and(|s| s.membership == Membership::default())
    }

    fn identity(&self) -> Option<Identity> {
        self.identity.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn ensure_identity(&self, identity: &Identity) -> Result<(), StoreError> {
        let mut stored = self.identity.lock().unwrap_or_else(|e| e.into_inner());
        if identity.check_against(stored.as_ref())? {
            *stored = Some(identity.clone());
        }
        Ok(())
    }

    fn incarnation(&self) -> u64 {
        self.incarnation
    }

    fn peer_incarnations(&self) -> PeerIncarnations {
        self.peer_incarnations.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_peer_incarnation(&self, peer: NodeId, incarnation: Option<u64>) -> Result<(), StoreError> {
        let mut peers = self.peer_incarnations.lock().unwrap_or_else(|e| e.into_inner());
        match incarnation {
            Some(0) => return Err(StoreError::Backend("incarnation 0 cannot be remembered".into())),
            Some(inc) => peers.insert(peer, inc),
            None => peers.remove(&peer),
        };
        Ok(())
    }
}
