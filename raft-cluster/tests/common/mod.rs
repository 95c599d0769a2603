//! Helpers shared by raft-cluster's integration tests.

use std::time::Duration;

use raft_cluster::{wait_until, LocalCluster};
use raft_core::NodeId;
use raft_statemachine::KvStore;

/// Makes `target` the leader by leader transfer (thesis §3.10) from
/// whichever node leads, asking again every `poll` until `deadline`.
pub async fn lead(c: &LocalCluster<KvStore>, target: NodeId, deadline: Duration, poll: Duration) {
    let check = || c.status(target).filter(|s| s.is_leader()).map(|_| ());
    let transfer = || async {
        if let Some(leader) = c.running().into_iter().find(|id| c.status(*id).is_some_and(|s| s.is_leader())) {
            let _ = c.client(leader).unwrap().transfer_leader(target).await;
        }
        tokio::time::sleep(poll).await;
    };
    wait_until(&format!("{target} to lead"), deadline, check, transfer, || c.describe()).await.unwrap();
}
