//! A tiny state machine for the runtime's own tests: entries are
//! `key=value` strings, reads return a key's value.

use std::collections::BTreeMap;

use raft_core::{Entry, EntryPayload, LogIndex, SnapshotMeta};

use crate::fsm::{NodeStateMachine, RestoreJob, SnapshotCheck, SnapshotJob};

/// `key=value` writes; answers each write with its log index.
#[derive(Default, Debug)]
pub(crate) struct TestKv {
    data: BTreeMap<String, String>,
    applied: LogIndex,
}

impl NodeStateMachine for TestKv {
    type Response = u64;
    type Query = String;
    type QueryResult = Option<String>;

    fn apply(&mut self, entry: &Entry) -> Result<Option<u64>, String> {
        self.applied = entry.index;
        let EntryPayload::Normal(data) = &entry.payload else { return Ok(None) };
        let text = std::str::from_utf8(data).map_err(|e| format!("not utf-8: {e}"))?;
        let (k, v) = text.split_once('=').ok_or_else(|| format!("{text:?} is not key=value"))?;
        self.data.insert(k.to_string(), v.to_string());
        Ok(Some(entry.index.0))
    }

    fn applied_index(&self) -> LogIndex {
        self.applied
    }

    fn query(&self, key: &String) -> Option<String> {
        self.data.get(key).cloned()
    }

    fn snapshot_job(&self) -> Result<SnapshotJob, String> {
        let frozen = (self.applied.0, self.data.clone());
        Ok(Box::new(move || raft_core::codec::encode(&frozen).map_err(|e| e.to_string())))
    }

    fn restore(&mut self, meta: &SnapshotMeta, data: &mut dyn std::io::Read) -> Result<(), String> {
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        let (applied, map): (u64, BTreeMap<String, String>) =
            raft_core::codec::decode(&bytes).map_err(|e| e.to_string())?;
        if applied != meta.last_log_id.index.0 {
            return Err(format!("snapshot data at {applied} but meta says {}", meta.last_log_id.index));
        }
        self.data = map;
        self.applied = LogIndex(applied);
        Ok(())
    }

    fn restore_job(&self) -> RestoreJob<Self> {
        Box::new(|meta: &SnapshotMeta, data: &mut dyn std::io::Read| {
            let mut fresh = TestKv::default();
            fresh.restore(meta, data)?;
            Ok(fresh)
        })
    }

    fn snapshot_check(&self) -> SnapshotCheck {
        std::sync::Arc::new(|meta: &SnapshotMeta, data: &mut dyn std::io::Read| TestKv::default().restore(meta, data))
    }
}

/// Wraps a store and counts its durable writes, to check batching.
pub(crate) struct CountingStore {
    pub(crate) inner: crate::mem_store::MemNodeStore,
    pub(crate) synced_writes: std::sync::atomic::AtomicU64,
    pub(crate) entries_written: std::sync::atomic::AtomicU64,
    /// When set, every write fails as on a full disk.
    pub(crate) disk_full: std::sync::atomic::AtomicBool,
}

impl CountingStore {
    pub(crate) fn new() -> Self {
        CountingStore {
            inner: crate::mem_store::MemNodeStore::new(),
            synced_writes: Default::default(),
            entries_written: Default::default(),
            disk_full: Default::default(),
        }
    }
}

impl raft_core::Storage for CountingStore {
    fn initial_state(&self) -> raft_core::StorageResult<raft_core::InitialState> {
        self.inner.initial_state()
    }
    fn first_index(&self) -> raft_core::StorageResult<LogIndex> {
        self.inner.first_index()
    }
    fn last_index(&self) -> raft_core::StorageResult<LogIndex> {
        self.inner.last_index()
    }
    fn term(&self, index: LogIndex) -> raft_core::StorageResult<raft_core::Term> {
        self.inner.term(index)
    }
    fn entries(&self, lo: LogIndex, hi: LogIndex, max: Option<u64>) -> raft_core::StorageResult<Vec<Entry>> {
        self.inner.entries(lo, hi, max)
    }
    fn snapshot(&self) -> raft_core::StorageResult<raft_core::Snapshot> {
        self.inner.snapshot()
    }
}

impl crate::store::NodeStore for CountingStore {
    fn write(&self, batch: &crate::store::PersistBatch) -> Result<(), crate::store::StoreFailure> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.disk_full.load(Relaxed) {
            return Err(crate::store::StoreFailure("IO error: No space left on device (os error 28)".into()));
        }
        if batch.sync {
            self.synced_writes.fetch_add(1, Relaxed);
        }
        self.entries_written.fetch_add(batch.entries.len() as u64, Relaxed);
        self.inner.write(batch)
    }
    fn install_snapshot(&self, s: &raft_core::Snapshot) -> Result<(), crate::store::StoreFailure> {
        self.inner.install_snapshot(s)
    }
    fn create_snapshot(
        &self,
        index: LogIndex,
        m: raft_core::Membership,
        data: Vec<u8>,
    ) -> Result<(), crate::store::StoreFailure> {
        self.inner.create_snapshot(index, m, data)
    }
    fn identity(&self) -> Result<Option<crate::store::StoreIdentity>, crate::store::StoreFailure> {
        self.inner.identity()
    }
    fn bootstrap(
        &self,
        id: &crate::store::StoreIdentity,
        m: raft_core::Membership,
    ) -> Result<(), crate::store::StoreFailure> {
        self.inner.bootstrap(id, m)
    }
    fn record_identity(&self, id: &crate::store::StoreIdentity) -> Result<(), crate::store::StoreFailure> {
        self.inner.record_identity(id)
    }
    fn incarnation(&self) -> u64 {
        self.inner.incarnation()
    }
    fn peer_incarnations(
        &self,
    ) -> Result<std::collections::BTreeMap<raft_core::NodeId, u64>, crate::store::StoreFailure> {
        self.inner.peer_incarnations()
    }
    fn set_peer_incarnation(
        &self,
        peer: raft_core::NodeId,
        incarnation: Option<u64>,
    ) -> Result<(), crate::store::StoreFailure> {
        self.inner.set_peer_incarnation(peer, incarnation)
    }
}
