//! [`LocalCluster`]: N nodes in one process, for tests, the demo and
//! embedding. Each node gets a distinct loopback address (ports reserved by
//! binding `127.0.0.1:0`), its own store, and a transport wrapped in the
//! cluster's shared [`LinkFilter`], so a test can partition nodes, cut one
//! direction of a link, or add delay, then heal.
//!
//! Nodes can be stopped gracefully, killed (aborted, as in a crash: only
//! what was durable survives) and restarted from their store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use raft_core::{NodeId, Role};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::client::NodeClient;
use crate::config::{Limits, NodeConfig, PeerConfig};
use crate::error::{ClientError, ClusterError};
use crate::event::NodeEvent;
use crate::fsm::NodeStateMachine;
use crate::grpc::{GrpcTransport, RpcServer};
use crate::mem_store::MemNodeStore;
use crate::node::{Node, NodeParts, ShutdownHandle};
use crate::status::NodeStatus;
use crate::store::NodeStore;
use crate::transport::{FilteredTransport, LinkFilter, LocalNetwork, MessageSink, Transport};
use crate::wait::{wait_until, WaitError, POLL_INTERVAL};
use raft_statemachine::{KvLimits, KvStore};

/// Where the nodes keep their state.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// In memory; survives kill and restart within the cluster's lifetime.
    #[default]
    Memory,
    /// RocksDB, one directory per node under a temporary directory removed
    /// when the cluster is dropped.
    Disk,
}

/// How the nodes of a [`LocalCluster`] talk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TransportKind {
    /// Direct in-process delivery.
    #[default]
    InProcess,
    /// Real gRPC on loopback (KV clusters only: see
    /// [`LocalCluster::start_kv`]).
    Grpc,
}

/// How a [`LocalCluster`] is built.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of voters (ids 1..=nodes).
    pub nodes: usize,
    /// Store backend.
    pub store: StoreKind,
    /// Transport between the nodes.
    pub transport: TransportKind,
    /// Cluster name recorded in each store.
    pub cluster_id: String,
    /// Milliseconds per tick.
    pub tick_interval_ms: u64,
    /// Election timeout in ticks.
    pub election_ticks: u64,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u64,
    /// Snapshot threshold in applied entries (0 = never).
    pub snapshot_threshold: u64,
    /// Limits for every node.
    pub limits: Limits,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            store: StoreKind::Memory,
            transport: TransportKind::InProcess,
            cluster_id: "local".into(),
            tick_interval_ms: 10,
            election_ticks: 15,
            heartbeat_ticks: 3,
            snapshot_threshold: 0,
            limits: Limits::default(),
        }
    }
}

/// Builds a fresh state machine for a node (at start and at every restart).
pub type StateMachineFactory<M> = Arc<dyn Fn(NodeId) -> M + Send + Sync>;

/// Starts the gRPC server of a node (gRPC clusters only), sharing the
/// cluster's link filter so Admin `SetPartition` works on it too.
type ServeFn<M> =
    Arc<dyn Fn(&Node<M>, &NodeConfig, TcpListener, LinkFilter) -> Result<RpcServer, ClusterError> + Send + Sync>;

struct Slot<M: NodeStateMachine> {
    config: NodeConfig,
    /// In-memory stores live here across restarts; disk stores are
    /// reopened from `config.data_dir` at every start.
    store: Option<Arc<dyn NodeStore>>,
    node: Option<Node<M>>,
    server: Option<RpcServer>,
    /// The port reservation, handed to the server on first start.
    reserved: Option<std::net::TcpListener>,
}

/// A cluster of nodes in this process.
pub struct LocalCluster<M: NodeStateMachine> {
    slots: BTreeMap<NodeId, Slot<M>>,
    filter: LinkFilter,
    network: LocalNetwork,
    make_sm: StateMachineFactory<M>,
    serve: Option<ServeFn<M>>,
    /// Parent of the nodes' data dirs (disk stores only).
    data_root: Option<tempfile::TempDir>,
}

impl<M: NodeStateMachine> LocalCluster<M> {
    /// Starts `opts.nodes` nodes and returns once all are running (not
    /// necessarily with a leader: see [`Self::wait_for_leader`]).
    pub async fn start(opts: ClusterOptions, make_sm: StateMachineFactory<M>) -> Result<Self, ClusterError> {
        if opts.transport == TransportKind::Grpc {
            return Err(invalid("gRPC clusters serve the KV store: use LocalCluster::start_kv"));
        }
        Self::start_with(opts, make_sm, None).await
    }

    async fn start_with(
        opts: ClusterOptions,
        make_sm: StateMachineFactory<M>,
        serve: Option<ServeFn<M>>,
    ) -> Result<Self, ClusterError> {
        if opts.nodes == 0 {
            return Err(invalid("a cluster needs at least one node"));
        }
        let reserved = reserve_loopback(opts.nodes)?;
        let peers: Vec<PeerConfig> =
            reserved.iter().enumerate().map(|(i, (a, _))| PeerConfig { id: i as u64 + 1, addr: a.clone() }).collect();
        let mut cluster = LocalCluster {
            slots: BTreeMap::new(),
            filter: LinkFilter::new(),
            network: LocalNetwork::new(),
            make_sm,
            serve,
            data_root: None,
        };
        for (p, (_, listener)) in peers.iter().zip(reserved) {
            let mut config = NodeConfig::new(p.id, p.addr.clone(), peers.clone(), Default::default());
            config.cluster_id = opts.cluster_id.clone();
            config.tick_interval_ms = opts.tick_interval_ms;
            config.election_ticks = opts.election_ticks;
            config.heartbeat_ticks = opts.heartbeat_ticks;
            config.snapshot_threshold = opts.snapshot_threshold;
            config.limits = opts.limits.clone();
            // A test cluster: its Admin SetPartition is the partition tool.
            config.enable_fault_injection = true;
            if opts.store == StoreKind::Disk {
                config.data_dir = cluster.data_root()?.join(format!("node-{}", p.id));
            }
            let store = match opts.store {
                StoreKind::Memory => Some(Arc::new(MemNodeStore::new()) as Arc<dyn NodeStore>),
                StoreKind::Disk => None,
            };
            let slot = Slot { config, store, node: None, server: None, reserved: Some(listener) };
            cluster.slots.insert(NodeId(p.id), slot);
        }
        for id in cluster.ids() {
            cluster.launch(id).await?;
        }
        Ok(cluster)
    }

    async fn launch(&mut self, id: NodeId) -> Result<(), ClusterError> {
        self.launch_with(id, false).await
    }

    /// Starts node `id`; with `probe` (gRPC clusters), an empty store is
    /// bootstrapped only after the start-up probe of `crate::start_mode`.
    async fn launch_with(&mut self, id: NodeId, probe: bool) -> Result<(), ClusterError> {
        let slot = self.slots.get_mut(&id).ok_or_else(|| unknown(id))?;
        let store = match &slot.store {
            Some(s) => Arc::clone(s),
            None => crate::open_disk_store(&slot.config)?,
        };
        let transport: Arc<dyn Transport> = match &self.serve {
            Some(_) => Arc::new(FilteredTransport::new(
                GrpcTransport::new(&slot.config, store.incarnation())?,
                self.filter.clone(),
            )),
            None => Arc::new(FilteredTransport::new(self.network.transport(), self.filter.clone())),
        };
        let fresh = store.identity().map_err(|e| ClusterError::Storage(e.to_string()))?.is_none();
        let probe = match probe && fresh && self.serve.is_some() {
            true => Some(crate::probe::probe_peers(&slot.config, crate::probe::PROBE_WAIT).await),
            false => None,
        };
        let parts = NodeParts { store, state_machine: (self.make_sm)(id), transport };
        let node = Node::start_probed(slot.config.clone(), parts, probe.as_ref()).await?;
        if let Some(serve) = &self.serve {
            let listener = match slot.reserved.take() {
                Some(l) => to_tokio(l)?,
                None => TcpListener::bind(&slot.config.listen_addr)
                    .await
                    .map_err(|e| ClusterError::Transport(format!("rebind {}: {e}", slot.config.listen_addr)))?,
            };
            slot.server = Some(serve(&node, &slot.config, listener, self.filter.clone())?);
        } else {
            self.network.register(node.sink());
        }
        slot.node = Some(node);
        Ok(())
    }

    fn data_root(&mut self) -> Result<std::path::PathBuf, ClusterError> {
        if self.data_root.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("raft-local-cluster-")
                .tempdir()
                .map_err(|e| ClusterError::Storage(format!("create temp dir: {e}")))?;
            self.data_root = Some(dir);
        }
        Ok(self.data_root.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_default())
    }

    /// Every node id, running or not.
    pub fn ids(&self) -> Vec<NodeId> {
        self.slots.keys().copied().collect()
    }

    /// Ids of the running nodes.
    pub fn running(&self) -> Vec<NodeId> {
        self.slots.iter().filter(|(_, s)| s.node.is_some()).map(|(id, _)| *id).collect()
    }

    /// A client for node `id`, if it is running.
    pub fn client(&self, id: NodeId) -> Option<NodeClient<M>> {
        self.slots.get(&id)?.node.as_ref().map(Node::client)
    }

    /// Node `id`'s config.
    pub fn config(&self, id: NodeId) -> Option<&NodeConfig> {
        self.slots.get(&id).map(|s| &s.config)
    }

    /// Node `id`'s status, if it is running.
    pub fn status(&self, id: NodeId) -> Option<NodeStatus> {
        self.slots.get(&id)?.node.as_ref().map(Node::status)
    }

    /// A handle that asks node `id` to stop the way SIGTERM stops `raft-cli
    /// node`: the node task first (failing what is in flight), its server
    /// still answering. The slot keeps the node; [`Self::stop`] reaps it.
    pub fn shutdown_handle(&self, id: NodeId) -> Option<ShutdownHandle> {
        self.slots.get(&id)?.node.as_ref().map(Node::shutdown_handle)
    }

    /// Node `id`'s events from now on, if it is running.
    pub fn subscribe(&self, id: NodeId) -> Option<broadcast::Receiver<NodeEvent>> {
        self.slots.get(&id)?.node.as_ref().map(Node::subscribe)
    }

    /// Where node `id`'s inbound peer messages go, if it is running (tests
    /// inject hand-made messages here).
    pub fn sink(&self, id: NodeId) -> Option<MessageSink> {
        self.slots.get(&id)?.node.as_ref().map(Node::sink)
    }

    /// The link rules shared by every node's transport.
    pub fn filter(&self) -> &LinkFilter {
        &self.filter
    }

    /// Cuts `node` off from every other node, both ways.
    pub fn isolate(&self, node: NodeId) {
        self.filter.isolate(node, &self.ids());
    }

    /// Drops traffic both ways between the two groups.
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        self.filter.partition(a, b);
    }

    /// Removes every link rule.
    pub fn heal(&self) {
        self.filter.heal();
    }

    /// Stops node `id` gracefully (its server first, then the node).
    pub async fn stop(&mut self, id: NodeId) -> Result<(), ClusterError> {
        let (node, server) = self.take_node(id)?;
        let served = match server {
            Some(s) => s.stop().await,
            None => Ok(()),
        };
        node.shutdown().await.and(served)
    }

    /// Kills node `id`: aborts its task (and server) without any shutdown
    /// step; only what its store had made durable survives.
    pub async fn kill(&mut self, id: NodeId) -> Result<(), ClusterError> {
        let (node, server) = self.take_node(id)?;
        if let Some(s) = server {
            s.abort();
        }
        node.kill(Duration::from_secs(10)).await.map_err(|e| ClusterError::TaskFailed(e.to_string()))
    }

    /// Restarts a stopped or killed node from its store, with a fresh state
    /// machine (restored from the store's snapshot and the log).
    pub async fn restart(&mut self, id: NodeId) -> Result<(), ClusterError> {
        let slot = self.slots.get(&id).ok_or_else(|| unknown(id))?;
        if slot.node.is_some() {
            return Err(invalid(&format!("node {id} is already running")));
        }
        self.launch(id).await
    }

    fn take_node(&mut self, id: NodeId) -> Result<(Node<M>, Option<RpcServer>), ClusterError> {
        let slot = self.slots.get_mut(&id).ok_or_else(|| unknown(id))?;
        let node = slot.node.take().ok_or_else(|| invalid(&format!("node {id} is not running")))?;
        self.network.unregister(id);
        Ok((node, slot.server.take()))
    }

    /// Stops every running node gracefully; returns the first error.
    pub async fn shutdown(mut self) -> Result<(), ClusterError> {
        let mut first = Ok(());
        for id in self.running() {
            let r = self.stop(id).await;
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Waits until one of `among` is leader with a term no lower than any
    /// other running node of `among`, and returns it.
    pub async fn wait_for_leader_among(&self, among: &[NodeId], deadline: Duration) -> Result<NodeId, WaitError> {
        let check = || {
            let st: Vec<NodeStatus> = among.iter().filter_map(|id| self.status(*id)).collect();
            let max_term = st.iter().map(|s| s.term).max()?;
            let leaders: Vec<&NodeStatus> =
                st.iter().filter(|s| s.role == Role::Leader && s.term == max_term).collect();
            (leaders.len() == 1).then(|| leaders[0].id)
        };
        wait_until("a leader", deadline, check, || tokio::time::sleep(POLL_INTERVAL), || self.describe()).await
    }

    /// Waits until the running nodes agree on a leader of the highest term.
    pub async fn wait_for_leader(&self, deadline: Duration) -> Result<NodeId, WaitError> {
        self.wait_for_leader_among(&self.running(), deadline).await
    }

    /// Waits until every node of `ids` has applied `index`.
    pub async fn wait_for_applied_on(
        &self,
        ids: &[NodeId],
        index: raft_core::LogIndex,
        deadline: Duration,
    ) -> Result<(), WaitError> {
        let what = format!("index {index} applied on {ids:?}");
        let check = || ids.iter().all(|id| self.status(*id).is_some_and(|s| s.applied >= index)).then_some(());
        wait_until(&what, deadline, check, || tokio::time::sleep(POLL_INTERVAL), || self.describe()).await
    }

    /// Waits until every running node has applied `index`.
    pub async fn wait_for_applied(&self, index: raft_core::LogIndex, deadline: Duration) -> Result<(), WaitError> {
        self.wait_for_applied_on(&self.running(), index, deadline).await
    }

    /// Proposes `data` through whichever node leads, following NotLeader
    /// hints and retrying until `deadline`. Returns the leader that
    /// answered and its response. Only errors that prove the write did not
    /// happen are retried; an unknown outcome is returned as an error.
    pub async fn propose(&self, data: Vec<u8>, deadline: Duration) -> Result<(NodeId, M::Response), ClientError> {
        self.propose_indexed(data, deadline).await.map(|(id, _, r)| (id, r))
    }

    /// Like [`Self::propose`], also returning the log index the write was
    /// applied at (the node's published status may lag behind the answer).
    pub async fn propose_indexed(
        &self,
        data: Vec<u8>,
        deadline: Duration,
    ) -> Result<(NodeId, raft_core::LogIndex, M::Response), ClientError> {
        let end = tokio::time::Instant::now() + deadline;
        let mut hint: Option<NodeId> = None;
        loop {
            let target = hint.filter(|l| self.client(*l).is_some()).or_else(|| self.any_leader());
            let Some(client) = target.and_then(|id| self.client(id)) else {
                if tokio::time::Instant::now() >= end {
                    return Err(ClientError::NotLeader { leader: None, leader_addr: None });
                }
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            };
            match client.propose_indexed(data.clone()).await {
                Ok((index, r)) => return Ok((client.id(), index, r)),
                Err(ClientError::NotLeader { leader, .. }) if tokio::time::Instant::now() < end => {
                    hint = leader;
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn any_leader(&self) -> Option<NodeId> {
        self.running()
            .into_iter()
            .filter_map(|id| self.status(id))
            .filter(|s| s.is_leader())
            .max_by_key(|s| s.term)
            .map(|s| s.id)
    }

    /// One line per node: role, term, commit, applied.
    pub fn describe(&self) -> String {
        self.slots
            .iter()
            .map(|(id, s)| match &s.node {
                Some(n) => {
                    let st = n.status();
                    format!(
                        "{id}: {} {} commit={} applied={} last={}",
                        st.role, st.term, st.commit.0, st.applied.0, st.last_index.0
                    )
                }
                None => format!("{id}: down"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[path = "local_cluster_wipe.rs"]
mod wipe;

fn unknown(id: NodeId) -> ClusterError {
    invalid(&format!("no node {id} in this cluster"))
}

fn invalid(what: &str) -> ClusterError {
    ClusterError::Config(crate::ConfigError::Invalid(what.to_string()))
}

/// Reserves `n` distinct loopback addresses by binding `127.0.0.1:0`; the
/// listeners are kept so no other process can take the ports meanwhile.
fn reserve_loopback(n: usize) -> Result<Vec<(String, std::net::TcpListener)>, ClusterError> {
    (0..n)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|e| ClusterError::Transport(format!("bind 127.0.0.1:0: {e}")))?;
            let addr = l.local_addr().map_err(|e| ClusterError::Transport(e.to_string()))?;
            Ok((addr.to_string(), l))
        })
        .collect()
}

fn to_tokio(l: std::net::TcpListener) -> Result<TcpListener, ClusterError> {
    l.set_nonblocking(true).map_err(|e| ClusterError::Transport(e.to_string()))?;
    TcpListener::from_std(l).map_err(|e| ClusterError::Transport(e.to_string()))
}

impl LocalCluster<KvStore> {
    /// Starts a cluster of KV nodes; with [`TransportKind::Grpc`] each node
    /// serves raft-rpc's services on its loopback address and talks to its
    /// peers over gRPC.
    pub async fn start_kv(opts: ClusterOptions) -> Result<Self, ClusterError> {
        let serve: Option<ServeFn<KvStore>> = match opts.transport {
            TransportKind::InProcess => None,
            TransportKind::Grpc => Some(Arc::new(
                |node: &Node<KvStore>, config: &NodeConfig, listener: TcpListener, filter: LinkFilter| {
                    RpcServer::start(node, config, listener, KvLimits::default(), filter)
                },
            )),
        };
        Self::start_with(opts, Arc::new(|_| KvStore::default()), serve).await
    }
}

#[cfg(test)]
#[path = "local_cluster_test.rs"]
mod tests;
