//! Starting a node: the one call into raft-cluster, which owns all the
//! wiring (RocksDB or memory store, KV state machine, gRPC server and peer
//! pool).

use raft_cluster::{start_grpc_node, ClusterError, GrpcNode, NodeConfig, ShutdownHandle};

use crate::exit::{CliError, CliResult};

/// A running node and the means to stop it.
pub struct Handle {
    node: GrpcNode,
}

/// Opens the store, starts the node and its gRPC services. A refusal to
/// bootstrap an empty data directory of an existing cluster exits with
/// code 4 (`Exit::RejoinRequired`).
pub async fn start(config: NodeConfig, in_memory: bool) -> CliResult<Handle> {
    let (id, dir) = (config.node_id, config.data_dir.clone());
    match start_grpc_node(config, in_memory).await {
        Ok(node) => Ok(Handle { node }),
        Err(e @ (ClusterError::RejoinRefused { .. } | ClusterError::JoinRequired { .. })) => {
            Err(CliError::rejoin_required(anyhow::Error::from(e).context(format!("node {id} refused to start"))))
        }
        Err(e) => Err(CliError::from(
            anyhow::Error::from(e).context(format!("node {id} could not start (data dir {})", dir.display())),
        )),
    }
}

impl Handle {
    /// Asks the node to stop gracefully; [`Handle::wait`] then returns.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.node.shutdown_handle()
    }

    /// The node's metrics.
    pub fn metrics(&self) -> std::sync::Arc<raft_cluster::NodeMetrics> {
        self.node.metrics()
    }

    /// Runs until the node stops (a shutdown request or a fatal error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.node.wait().await.map_err(anyhow::Error::from)
    }
}
