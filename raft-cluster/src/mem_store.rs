//! [`MemNodeStore`]: an in-memory [`NodeStore`] for tests and in-memory
//! clusters. A write is "durable" once it returns, so keeping the `Arc` across
//! a simulated crash keeps exactly what was persisted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use raft_core::{
    Entry, InitialState, LogIndex, MemStorage, Membership, NodeId, Snapshot, Storage, StorageResult, Term,
};

use crate::store::{NodeStore, PersistBatch, StoreFailure, StoreIdentity};

/// An in-memory store built on raft-core's [`MemStorage`], with the input
/// checks a real store makes (gaps are errors, not panics).
pub struct MemNodeStore {
    inner: MemStorage,
    identity: Mutex<Option<StoreIdentity>>,
    /// Chosen at creation: keeping the `Arc` across a simulated crash keeps
    /// it, a new store (a wiped directory) is a new incarnation.
    incarnation: u64,
    peer_incarnations: Mutex<BTreeMap<NodeId, u64>>,
}

impl Default for MemNodeStore {
    fn default() -> Self {
        // raft-storage's MemStore chose a fresh incarnation (OS randomness).
        let incarnation = raft_storage::RaftStore::incarnation(&raft_storage::MemStore::new());
        MemNodeStore {
            inner: MemStorage::default(),
            identity: Mutex::default(),
            incarnation,
            peer_incarnations: Mutex::default(),
        }
    }
}

impl MemNodeStore {
    /// An empty, not yet bootstrapped store with a fresh incarnation.
    pub fn new() -> Self {
        Self::default()
    }
}

impl NodeStore for MemNodeStore {
    fn writes_in_memory(&self) -> bool {
        true
    }

    fn write(&self, batch: &PersistBatch) -> Result<(), StoreFailure> {
        // Single writer (the node task): reading the bounds under a read lock
        // and then writing under the write lock cannot race.
        let last = self.inner.last_index().map_err(|e| StoreFailure(e.to_string()))?;
        if let Some(first) = batch.entries.first() {
            let start = batch.truncate_from.unwrap_or(first.index);
            if first.index > last.next() || start != first.index {
                return Err(StoreFailure(format!(
                    "append at {} (truncate from {:?}) would leave a gap after last index {last}",
                    first.index, batch.truncate_from
                )));
            }
        } else if batch.truncate_from.is_some() {
            return Err(StoreFailure("a truncation without entries to append is not a valid batch".into()));
        }
        let mut core = self.inner.wl();
        core.append(&batch.entries);
        if let Some(hs) = batch.hard_state {
            core.set_hard_state(hs);
        }
        Ok(())
    }

    fn install_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreFailure> {
        self.inner.wl().apply_snapshot(snapshot.clone());
        Ok(())
    }

    fn create_snapshot(&self, index: LogIndex, membership: Membership, data: Vec<u8>) -> Result<(), StoreFailure> {
        self.inner.wl().create_snapshot(index, membership, data).map_err(|e| StoreFailure(e.to_string()))
    }

    fn identity(&self) -> Result<Option<StoreIdentity>, StoreFailure> {
        Ok(self.identity.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn record_identity(&self, identity: &StoreIdentity) -> Result<(), StoreFailure> {
        let mut id = self.identity.lock().unwrap_or_else(|e| e.into_inner());
        match &*id {
            Some(found) if found != identity => {
                Err(StoreFailure(format!("store belongs to {found:?}, not {identity:?}")))
            }
            Some(_) => Ok(()),
            None => {
                *id = Some(identity.clone());
                Ok(())
            }
        }
    }

    fn incarnation(&self) -> u64 {
        self.incarnation
    }

    fn peer_incarnations(&self) -> Result<BTreeMap<NodeId, u64>, StoreFailure> {
        Ok(self.peer_incarnations.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn set_peer_incarnation(&self, peer: NodeId, incarnation: Option<u64>) -> Result<(), StoreFailure> {
        let mut peers = self.peer_incarnations.lock().unwrap_or_else(|e| e.into_inner());
        match incarnation {
            Some(0) => return Err(StoreFailure("incarnation 0 cannot be remembered".into())),
            Some(inc) => peers.insert(peer, inc),
            None => peers.remove(&peer),
        };
        Ok(())
    }

    fn bootstrap(&self, identity: &StoreIdentity, membership: Membership) -> Result<(), StoreFailure> {
        self.record_identity(identity)?;
        let snap = self.inner.snapshot().map_err(|e| StoreFailure(e.to_string()))?;
        let last = self.inner.last_index().map_err(|e| StoreFailure(e.to_string()))?;
        if snap.meta.membership.voters.is_empty() && last.0 == 0 {
            let mut snap = snap;
            snap.meta.membership = membership;
            self.inner.wl().apply_snapshot(snap);
        }
        Ok(())
    }
}

impl Storage for MemNodeStore {
    fn initial_state(&self) -> StorageResult<InitialState> {
        self.inner.initial_state()
    }
    fn first_index(&self) -> StorageResult<LogIndex> {
        self.inner.first_index()
    }
    fn last_index(&self) -> StorageResult<LogIndex> {
        self.inner.last_index()
    }
    fn term(&self, index: LogIndex) -> StorageResult<Term> {
        self.inner.term(index)
    }
    fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> StorageResult<Vec<Entry>> {
        self.inner.entries(lo, hi, max_bytes)
    }
    fn snapshot(&self) -> StorageResult<Snapshot> {
        self.inner.snapshot()
    }
}
