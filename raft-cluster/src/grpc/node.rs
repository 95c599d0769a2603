//! [`GrpcNode`]: the single entry point for running a KV node on the
//! network: a [`Node`] with the KV store, a [`GrpcTransport`] to its peers
//! and an [`RpcServer`] on its listen address.
//!
//! The transport always goes through a [`FilteredTransport`] whose
//! [`LinkFilter`] the server shares, so the Admin `SetPartition` fault
//! injection works on every node, including separate `raft-cli node`
//! processes that no test harness can reach into.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use raft_core::NodeId;
use raft_statemachine::{KvLimits, KvStore};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use super::{GrpcTransport, RpcServer};
use crate::client::NodeClient;
use crate::config::NodeConfig;
use crate::error::ClusterError;
use crate::event::NodeEvent;
use crate::node::{Node, NodeParts, ShutdownHandle};
use crate::probe::{probe_peers, PROBE_WAIT};
use crate::start_mode::needs_probe;
use crate::store::NodeStore;
use crate::transport::{FilteredTransport, LinkFilter, Transport};

/// A KV node serving gRPC.
pub struct GrpcNode {
    node: Node<KvStore>,
    server: RpcServer,
    local_addr: SocketAddr,
    /// The rules the transport and the server share (`SetPartition`).
    filter: LinkFilter,
}

impl GrpcNode {
    /// Binds `config.listen_addr` and starts the node on `store`.
    pub async fn start(config: NodeConfig, store: Arc<dyn NodeStore>) -> Result<Self, ClusterError> {
        config.validate()?;
        let listener = TcpListener::bind(&config.listen_addr)
            .await
            .map_err(|e| ClusterError::Transport(format!("bind {}: {e}", config.listen_addr)))?;
        Self::start_with_listener(config, store, listener, None).await
    }

    /// Starts the node on an already bound listener. An empty data
    /// directory is bootstrapped only after probing the configured peers
    /// (see [`crate::start_mode`]); a refusal is returned as
    /// [`ClusterError::RejoinRefused`] or [`ClusterError::JoinRequired`]. Outgoing messages pass
    /// through `filter` when given (a test cluster's shared rules), else
    /// through a filter of the node's own; either way `SetPartition` edits
    /// this node's blocked set in it.
    pub async fn start_with_listener(
        config: NodeConfig,
        store: Arc<dyn NodeStore>,
        listener: TcpListener,
        filter: Option<LinkFilter>,
    ) -> Result<Self, ClusterError> {
        let local_addr = listener.local_addr().map_err(|e| ClusterError::Transport(e.to_string()))?;
        let filter = filter.unwrap_or_default();
        let grpc = GrpcTransport::new(&config, store.incarnation())?;
        let transport: Arc<dyn Transport> = Arc::new(FilteredTransport::new(grpc, filter.clone()));
        let kv_limits = KvLimits::default();
        let used_before = store.identity().map_err(|e| ClusterError::Storage(e.to_string()))?.is_some();
        let probe = if needs_probe(used_before, config.join, config.initial_cluster_state) {
            Some(probe_peers(&config, PROBE_WAIT).await)
        } else {
            None
        };
        let parts = NodeParts { store, state_machine: KvStore::default(), transport };
        let node = Node::start_probed(config.clone(), parts, probe.as_ref()).await?;
        let server = RpcServer::start(&node, &config, listener, kv_limits, filter.clone())?;
        Ok(GrpcNode { node, server, local_addr, filter })
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The link rules this node's traffic passes through.
    pub fn filter(&self) -> &LinkFilter {
        &self.filter
    }

    /// An in-process client of the node.
    pub fn client(&self) -> NodeClient<KvStore> {
        self.node.client()
    }

    /// The node's metrics (served by `raft-cli node --metrics-listen`).
    pub fn metrics(&self) -> Arc<crate::metrics::NodeMetrics> {
        Arc::clone(self.node.client().metrics())
    }

    /// The node's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.node.subscribe()
    }

    /// A handle that asks the node to shut down (for signal handlers);
    /// [`Self::wait`] then returns.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.node.shutdown_handle()
    }

    /// Shuts down: stops serving, fails in-flight requests, closes the
    /// store.
    pub async fn shutdown(self) -> Result<(), ClusterError> {
        let served = self.server.stop().await;
        let stopped = self.node.shutdown().await;
        stopped.and(served)
    }

    /// Waits until the node stops (through a [`ShutdownHandle`] or a fatal
    /// error), then stops the server.
    pub async fn wait(self) -> Result<(), ClusterError> {
        let stopped = self.node.wait().await;
        let served = self.server.stop().await;
        stopped.and(served)
    }

    /// Stops abruptly, like a crash, and waits until the store is released.
    pub async fn kill(self, deadline: Duration) -> Result<(), ClusterError> {
        self.server.abort();
        self.node.kill(deadline).await.map_err(|e| ClusterError::TaskFailed(e.to_string()))
    }
}

/// Starts a KV node serving gRPC on `config.listen_addr`, with an in-memory
/// store (`in_memory`) or the on-disk store in `config.data_dir`.
pub async fn start_grpc_node(config: NodeConfig, in_memory: bool) -> Result<GrpcNode, ClusterError> {
    let store: Arc<dyn NodeStore> =
        if in_memory { Arc::new(crate::mem_store::MemNodeStore::new()) } else { crate::open_disk_store(&config)? };
    GrpcNode::start(config, store).await
}
