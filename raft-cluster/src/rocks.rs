//! raft-storage's stores behind [`NodeStore`]: [`RocksStore`] for real
//! nodes, [`MemStore`] for in-memory ones.

use std::sync::Arc;

use raft_core::{LogIndex, Membership, Snapshot};
use raft_storage::{Identity, MemStore, RaftStore, RocksStore, WriteBatch};

use crate::config::NodeConfig;
use crate::error::ClusterError;
use crate::store::{NodeStore, PersistBatch, StoreFailure, StoreIdentity};

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

            fn identity(&self) -> Result<Option<StoreIdentity>, StoreFailure> {
                Ok(RaftStore::identity(self).map(|i| StoreIdentity { cluster_id: i.cluster_id, node_id: i.node_id }))
            }

            fn bootstrap(&self, identity: &StoreIdentity, membership: Membership) -> Result<(), StoreFailure> {
                let id = Identity::new(identity.cluster_id.clone(), identity.node_id);
                RaftStore::ensure_identity(self, &id).map_err(fail)?;
                if RaftStore::is_empty(self) {
                    RaftStore::bootstrap(self, membership).map_err(fail)?;
                }
                Ok(())
            }
        }
    };
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
