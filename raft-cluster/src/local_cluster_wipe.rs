//! Wiping a stopped node's data and restarting it with the start-up probe:
//! how tests reproduce an operator who deleted a node's data directory and
//! ran the same command again (issue #14).

use std::sync::Arc;

use raft_core::NodeId;

use super::{invalid, unknown, LocalCluster};
use crate::error::ClusterError;
use crate::fsm::NodeStateMachine;
use crate::mem_store::MemNodeStore;
use crate::store::NodeStore;

impl<M: NodeStateMachine> LocalCluster<M> {
    /// Deletes everything stopped node `id` stored: a memory store is
    /// replaced by a new one, a disk store's directory is removed. Its next
    /// start is a new incarnation with an empty log.
    pub fn wipe(&mut self, id: NodeId) -> Result<(), ClusterError> {
        let slot = self.slots.get_mut(&id).ok_or_else(|| unknown(id))?;
        if slot.node.is_some() {
            return Err(invalid(&format!("node {id} is running: stop it before wiping it")));
        }
        match &mut slot.store {
            Some(store) => *store = Arc::new(MemNodeStore::new()) as Arc<dyn NodeStore>,
            None => match std::fs::remove_dir_all(&slot.config.data_dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ClusterError::Storage(format!("wipe {}: {e}", slot.config.data_dir.display()))),
            },
        }
        Ok(())
    }

    /// Restarts stopped node `id` as `raft-cli node` would: on a gRPC
    /// cluster an empty data directory is bootstrapped only if no reachable
    /// peer reports an existing cluster (`crate::start_mode`); otherwise
    /// the refusal is returned and the node stays down.
    pub async fn restart_probed(&mut self, id: NodeId) -> Result<(), ClusterError> {
        let slot = self.slots.get(&id).ok_or_else(|| unknown(id))?;
        if slot.node.is_some() {
            return Err(invalid(&format!("node {id} is already running")));
        }
        self.launch_with(id, true).await
    }
}
