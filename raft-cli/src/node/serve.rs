//! Starting a node: the one call into raft-cluster, which owns all the
//! wiring (RocksDB or memory store, KV state machine, gRPC server and peer
//! pool).

use anyhow::Context;
use raft_cluster::{start_grpc_node, GrpcNode, NodeConfig, ShutdownHandle};

/// A running node and the means to stop it.
pub struct Handle {
    node: GrpcNode,
}

/// Opens the store, starts the node and its gRPC services.
pub async fn start(config: NodeConfig, in_memory: bool) -> anyhow::Result<Handle> {
    let (id, dir) = (config.node_id, config.data_dir.clone());
    let node = start_grpc_node(config, in_memory)
        .await
        .with_context(|| format!("node {id} could not start (data dir {})", dir.display()))?;
    Ok(Handle { node })
}

impl Handle {
    /// Asks the node to stop gracefully; [`Handle::wait`] then returns.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.node.shutdown_handle()
    }

    /// Runs until the node stops (a shutdown request or a fatal error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.node.wait().await.map_err(anyhow::Error::from)
    }
}
