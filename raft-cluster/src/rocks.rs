//! raft-storage's stores behind [`NodeStore`]: [`RocksStore`] for real
//! nodes, [`MemStore`] for in-memory ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use raft_core::{LogIndex, Membership, NodeId, Snapshot, SnapshotMeta, Storage};
use raft_storage::{Identity, MemStore, RaftStore, RocksStore, StagedFile, WriteBatch};

use crate::config::NodeConfig;
use crate::error::ClusterError;
use crate::store::{NodeStore, PersistBatch, SnapshotData, StoreFailure, StoreIdentity};

fn fail(e: impl std::fmt::Display) -> StoreFailure {
    StoreFailure(e.to_string())
}

macro_rules! node_store_for {
    ($store:ty) => {
        impl NodeStore for $store {
            fn write(&self, batch: &PersistBatch) -> Result<(), StoreFailure> {
                let batch = WriteBatch {
                    hard_state: batch.hard_state,
                    truncate_from: batch.truncate_from,
                    entries: batch.entries.clone(),
                    sync: batch.sync,
                };
                RaftStore::write(self, batch).map_err(fail)
            }

            fn install_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreFailure> {
                RaftStore::install_snapshot(self, snapshot).map_err(fail)
            }

            fn create_snapshot(
                &self,
                index: LogIndex,
                membership: Membership,
                data: Vec<u8>,
            ) -> Result<(), StoreFailure> {
                RaftStore::create_snapshot(self, index, membership, data).map_err(fail)
            }

            fn staging_dir(&self) -> Option<PathBuf> {
                SnapshotAccess::staging_dir(self)
            }

            fn install_staged(
                &self,
                meta: &SnapshotMeta,
                staged: &Path,
                len: u64,
                crc32: u32,
            ) -> Result<(), StoreFailure> {
                SnapshotAccess::install_staged(self, meta, staged, len, crc32)
            }

            fn snapshot_meta(&self) -> Result<SnapshotMeta, StoreFailure> {
                SnapshotAccess::meta(self)
            }

            fn open_snapshot(&self) -> Result<SnapshotData, StoreFailure> {
                SnapshotAccess::open(self)
            }

            fn identity(&self) -> Result<Option<StoreIdentity>, StoreFailure> {
                Ok(RaftStore::identity(self).map(|i| StoreIdentity { cluster_id: i.cluster_id, node_id: i.node_id }))
            }

            fn bootstrap(&self, identity: &StoreIdentity, membership: Membership) -> Result<(), StoreFailure> {
                // Membership first, identity last: a crash in between leaves
                // a store without identity, which the next start treats as
                // never used (and bootstraps again, a no-op for the
                // membership). The other order would leave a "used" store
                // without voters, which a restart must not bootstrap (it
                // cannot tell it from a joining node's).
                let id = Identity::new(identity.cluster_id.clone(), identity.node_id);
                id.validate().map_err(fail)?;
                if RaftStore::identity(self).is_none() && RaftStore::is_empty(self) {
                    RaftStore::bootstrap(self, membership).map_err(fail)?;
                }
                RaftStore::ensure_identity(self, &id).map_err(fail)
            }

            fn record_identity(&self, identity: &StoreIdentity) -> Result<(), StoreFailure> {
                let id = Identity::new(identity.cluster_id.clone(), identity.node_id);
                RaftStore::ensure_identity(self, &id).map_err(fail)
            }

            fn incarnation(&self) -> u64 {
                RaftStore::incarnation(self)
            }

            fn peer_incarnations(&self) -> Result<BTreeMap<NodeId, u64>, StoreFailure> {
                Ok(RaftStore::peer_incarnations(self))
            }

            fn set_peer_incarnation(&self, peer: NodeId, incarnation: Option<u64>) -> Result<(), StoreFailure> {
                RaftStore::set_peer_incarnation(self, peer, incarnation).map_err(fail)
            }
        }
    };
}

/// How each store reads its snapshot for the runtime, and takes one from a
/// staged file.
trait SnapshotAccess {
    fn meta(&self) -> Result<SnapshotMeta, StoreFailure>;
    fn open(&self) -> Result<SnapshotData, StoreFailure>;
    fn staging_dir(&self) -> Option<PathBuf>;
    fn install_staged(&self, meta: &SnapshotMeta, staged: &Path, len: u64, crc32: u32) -> Result<(), StoreFailure>;
}

/// RocksDB keeps snapshot data in a file: the meta is cached, and the data
/// is streamed from the open file.
impl SnapshotAccess for RocksStore {
    fn meta(&self) -> Result<SnapshotMeta, StoreFailure> {
        Ok(self.snapshot_meta())
    }
    fn open(&self) -> Result<SnapshotData, StoreFailure> {
        let reader = self.open_snapshot().map_err(fail)?;
        let (meta, len, crc32) = (reader.meta().clone(), reader.len(), reader.crc32());
        Ok(SnapshotData { meta, len, crc32, reader: Box::new(reader) })
    }
    /// `<data-dir>/snapshots/incoming`: installing is a rename.
    fn staging_dir(&self) -> Option<PathBuf> {
        Some(RocksStore::staging_dir(self))
    }
    fn install_staged(&self, meta: &SnapshotMeta, staged: &Path, len: u64, crc32: u32) -> Result<(), StoreFailure> {
        self.install_staged_snapshot(meta, StagedFile { path: staged, len, crc32 }).map_err(fail)
    }
}

/// The memory store holds the data in memory anyway.
impl SnapshotAccess for MemStore {
    fn meta(&self) -> Result<SnapshotMeta, StoreFailure> {
        Storage::snapshot(self).map(|s| s.meta).map_err(fail)
    }
    fn open(&self) -> Result<SnapshotData, StoreFailure> {
        Storage::snapshot(self).map(SnapshotData::in_memory).map_err(fail)
    }
    fn staging_dir(&self) -> Option<PathBuf> {
        None
    }
    fn install_staged(&self, meta: &SnapshotMeta, staged: &Path, len: u64, crc32: u32) -> Result<(), StoreFailure> {
        let data = crate::store::read_staged(staged, len, crc32)?;
        RaftStore::install_snapshot(self, &Snapshot { meta: meta.clone(), data }).map_err(fail)
    }
}

node_store_for!(RocksStore);
node_store_for!(MemStore);

/// Opens (creating if needed) the RocksDB store in `config.data_dir`, after
/// checking the directory is writable.
pub fn open_rocks(config: &NodeConfig) -> Result<Arc<RocksStore>, ClusterError> {
    config.check_data_dir()?;
    RocksStore::open(&config.data_dir)
        .map(Arc::new)
        .map_err(|e| ClusterError::Storage(format!("open {}: {e}", config.data_dir.display())))
}
