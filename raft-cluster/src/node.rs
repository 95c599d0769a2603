//! [`Node`]: start a node task from its parts, and stop it (gracefully or
//! by killing it).
//!
//! Start-up is where the data dir's identity is checked: a store
//! bootstrapped for another cluster or node is refused before the core
//! sees it, because joining the wrong cluster with an old log would break
//! every safety property Raft has.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use raft_core::{NodeId, RaftNode, Role};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, info_span, Instrument};

use crate::client::NodeClient;
use crate::config::NodeConfig;
use crate::error::ClusterError;
use crate::event::{EventKind, NodeEvent};
use crate::fsm::NodeStateMachine;
use crate::log_cache::LogCache;
use crate::metrics::NodeMetrics;
use crate::runtime::config_log::ConfigLog;
use crate::runtime::fence::IncarnationFence;
use crate::runtime::inbound_snapshot::{InboundSnapshots, CHECKED_CAPACITY};
use crate::runtime::local_snapshot::{LocalSnapshots, SNAPSHOT_DONE_CAPACITY};
use crate::runtime::member_change::PendingChanges;
use crate::runtime::outbound_snapshot::snapshot_send_slots;
use crate::runtime::peers::PeerDirectory;
use crate::runtime::pending::{PendingReads, PendingWrites};
use crate::runtime::task::{Inputs, NodeTask};
use crate::start_mode::{decide, Probe, StartInputs, StartMode};
use crate::status::NodeStatus;
use crate::store::{NodeStore, SharedStore, StoreIdentity};
use crate::transport::{MessageSink, Reporter, Transport, STAGED_CAPACITY};
use crate::wait::{wait_until, WaitError};

/// Capacity of the event broadcast; slow subscribers miss events (and are
/// told so by `RecvError::Lagged`) rather than slowing the node.
pub const EVENT_CAPACITY: usize = 4096;
/// Capacity of the transport report queue; reports are hints.
const REPORT_CAPACITY: usize = 1024;

/// What a node is made of besides its config.
pub struct NodeParts<M> {
    /// Durable storage (RocksDB or memory).
    pub store: Arc<dyn NodeStore>,
    /// The application state machine (fresh; restored from the store's
    /// snapshot at start).
    pub state_machine: M,
    /// Outgoing messages.
    pub transport: Arc<dyn Transport>,
}

/// Asks a node to shut down; clone it into signal handlers.
#[derive(Clone, Debug)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Signals shutdown: the node stops accepting requests, fails queued
    /// ones with `ShuttingDown` and proposed writes with
    /// `StoppedBeforeCommit` (outcome unknown), and closes its store.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// A running node.
pub struct Node<M: NodeStateMachine> {
    client: NodeClient<M>,
    sink: MessageSink,
    shutdown: ShutdownHandle,
    task: JoinHandle<Result<(), ClusterError>>,
    store: Weak<dyn NodeStore>,
    /// Handles on the store held outside the node when it started (a
    /// cluster keeping an in-memory store across restarts).
    external_store_handles: usize,
}

impl<M: NodeStateMachine> Node<M> {
    /// Validates `config`, checks (or records) the store's identity,
    /// restores the state machine from the store's snapshot and spawns the
    /// node task. A brand-new store is bootstrapped with every configured
    /// peer as a voter unless `config.join` (no membership) or
    /// `initial_cluster_state = existing` (refused); see
    /// [`crate::start_mode`]. No peer is asked: [`Node::start_probed`] is
    /// the variant that acts on a start-up probe.
    pub async fn start(config: NodeConfig, parts: NodeParts<M>) -> Result<Self, ClusterError> {
        Self::start_probed(config, parts, None).await
    }

    /// [`Node::start`], deciding the start mode with what `probe` learned
    /// from the configured peers (a refusal is returned before anything is
    /// recorded in the store).
    pub async fn start_probed(
        config: NodeConfig,
        parts: NodeParts<M>,
        probe: Option<&Probe>,
    ) -> Result<Self, ClusterError> {
        config.validate()?;
        let NodeParts { store, mut state_machine, transport } = parts;
        let external_store_handles = Arc::strong_count(&store) - 1;
        let mode = check_identity(&config, &*store, probe)?;
        let incarnation = store.incarnation();
        let remembered = store.peer_incarnations().map_err(|e| ClusterError::Storage(e.to_string()))?;
        // Streamed from the store, never read into memory as a whole.
        let stored = store.open_snapshot().map_err(|e| ClusterError::Storage(e.to_string()))?;
        let snapshot = raft_core::Snapshot { meta: stored.meta.clone(), data: Vec::new() };
        if snapshot.meta.last_log_id.index > state_machine.applied_index() {
            crate::snapshot_read::restore_from(&mut state_machine, stored)?;
        }
        let state_machine_check = state_machine.snapshot_check();
        let id = config.id();
        // A memory store serves reads from memory already; a disk store's
        // newest entries are cached up to the uncommitted-bytes limit.
        let cache_bytes = if store.writes_in_memory() { 0 } else { config.limits.max_uncommitted_bytes };
        let log_cache = Arc::new(Mutex::new(LogCache::new(cache_bytes)));
        let raft =
            RaftNode::new(config.core_config(), SharedStore::with_cache(Arc::clone(&store), Arc::clone(&log_cache)))
                .map_err(|e| ClusterError::Core(e.to_string()))?;
        let span = info_span!("node", id = id.0, term = raft.term().0);
        let config = Arc::new(config);
        let (peer_tx, peer_rx) = mpsc::channel(config.limits.max_queued_messages);
        let (staged_tx, staged_rx) = mpsc::channel(STAGED_CAPACITY);
        let (req_tx, req_rx) = mpsc::channel(config.limits.max_queued_requests);
        let (report_tx, report_rx) = mpsc::channel(REPORT_CAPACITY);
        let (checked_tx, checked_rx) = mpsc::channel(CHECKED_CAPACITY);
        let (done_tx, done_rx) = mpsc::channel(SNAPSHOT_DONE_CAPACITY);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let (status_tx, status_rx) = watch::channel(NodeStatus::initial(id));
        let last_term = raft.term();
        let metrics = Arc::new(NodeMetrics::new(id));
        let task = NodeTask {
            id,
            config: Arc::clone(&config),
            raft,
            store: Arc::clone(&store),
            sm: state_machine,
            transport,
            reporter: Reporter::new(report_tx),
            events: events.clone(),
            status: status_tx,
            writes: PendingWrites::new(),
            reads: PendingReads::new(),
            applied_membership: snapshot.meta.membership.clone(),
            configs: ConfigLog::load(&SharedStore::new(Arc::clone(&store)), &snapshot.meta)?,
            log_cache,
            peers: PeerDirectory::new(id, config.peer_map()),
            peers_synced: None,
            changes: PendingChanges::new(),
            last_role: Role::Follower,
            last_term,
            down: Default::default(),
            longest_stall: Duration::ZERO,
            inbound_snapshots: InboundSnapshots::new(state_machine_check, checked_tx),
            local_snapshots: LocalSnapshots::new(done_tx, snapshot.meta.last_log_id.index),
            snapshot_sends: snapshot_send_slots(),
            fence: IncarnationFence::new(remembered),
            metrics: Arc::clone(&metrics),
            span: span.clone(),
        };
        let started = EventKind::Started { commit: task.raft.status().commit, applied: task.sm.applied_index() };
        task.emit(started);
        task.publish_status(true);
        info!(parent: &span, snapshot = %snapshot.meta.last_log_id.index, ?mode, incarnation = %format_args!("{incarnation:016x}"), "node starting");
        task.transport.attach(task.reporter.clone());
        let inputs = Inputs {
            peers: peer_rx,
            staged: staged_rx,
            requests: req_rx,
            reports: report_rx,
            checked: checked_rx,
            snapshots_done: done_rx,
            shutdown: shutdown_rx,
        };
        let handle = tokio::spawn(task.run(inputs).instrument(span));
        let client =
            NodeClient { id, requests: req_tx, status: status_rx, events, timeout: config.request_timeout(), metrics };
        Ok(Node {
            client,
            sink: MessageSink::new(id, incarnation, peer_tx, staged_tx),
            shutdown: ShutdownHandle(Arc::new(shutdown_tx)),
            task: handle,
            store: Arc::downgrade(&store),
            external_store_handles,
        })
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.client.id()
    }

    /// A client handle (cheap to clone).
    pub fn client(&self) -> NodeClient<M> {
        self.client.clone()
    }

    /// Where inbound peer messages go (the gRPC server or a local network).
    pub fn sink(&self) -> MessageSink {
        self.sink.clone()
    }

    /// Where a gRPC server should stage incoming snapshots for this node's
    /// store ([`NodeStore::staging_dir`]); `None` for a memory store or a
    /// stopped node.
    pub fn staging_dir(&self) -> Option<std::path::PathBuf> {
        self.store.upgrade().and_then(|s| s.staging_dir())
    }

    /// A handle that triggers [`Node::shutdown`]'s first half from anywhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The node's latest status.
    pub fn status(&self) -> NodeStatus {
        self.client.status()
    }

    /// The node's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.client.subscribe()
    }

    /// Stops the node gracefully: no new requests, in-flight ones fail with
    /// `ShuttingDown` (not proposed) or `StoppedBeforeCommit` (proposed:
    /// outcome unknown), the store is flushed and closed. Returns the task's
    /// result (a fatal error that stopped it earlier is reported here).
    pub async fn shutdown(self) -> Result<(), ClusterError> {
        self.shutdown.shutdown();
        join(self.task).await
    }

    /// Waits for the node task to end on its own (a fatal error, or a
    /// shutdown signalled through a [`ShutdownHandle`]).
    pub async fn wait(self) -> Result<(), ClusterError> {
        join(self.task).await
    }

    /// Stops the node abruptly, like a crash: the task is aborted, nothing
    /// is flushed beyond what was already durable. Waits (up to `deadline`)
    /// until the node's last storage call has finished and its store handles
    /// are released, so the store can be reopened (only handles held
    /// outside the node when it started remain).
    pub async fn kill(self, deadline: Duration) -> Result<(), WaitError> {
        self.task.abort();
        let _ = self.task.await;
        let (store, external) = (self.store, self.external_store_handles);
        wait_until(
            "killed node's store to be released",
            deadline,
            || (store.strong_count() <= external).then_some(()),
            || async {},
            || format!("{} handles still open", store.strong_count()),
        )
        .await
    }
}

async fn join(task: JoinHandle<Result<(), ClusterError>>) -> Result<(), ClusterError> {
    match task.await {
        Ok(result) => result,
        Err(e) => Err(ClusterError::TaskFailed(e.to_string())),
    }
}

/// Refuses a store recorded for another cluster or node; decides the start
/// mode ([`crate::start_mode`]) and prepares the store for it: a bootstrap
/// records the configured voters and their addresses, a join only the identity.
fn check_identity(
    config: &NodeConfig,
    store: &dyn NodeStore,
    probe: Option<&Probe>,
) -> Result<StartMode, ClusterError> {
    let expected = StoreIdentity { cluster_id: config.cluster_id.clone(), node_id: config.id() };
    let found = store.identity().map_err(|e| ClusterError::Storage(e.to_string()))?;
    let inputs = StartInputs {
        me: config.id(),
        used_before: found.is_some(),
        join: config.join,
        initial_cluster_state: config.initial_cluster_state,
        probe,
    };
    let mode = decide(&inputs)?;
    if let Some(found) = found {
        if found != expected {
            return Err(ClusterError::IdentityMismatch {
                path: config.data_dir.display().to_string(),
                found_cluster: found.cluster_id,
                found_node: found.node_id.0,
                expected_cluster: expected.cluster_id,
                expected_node: expected.node_id.0,
            });
        }
    }
    let storage = |e: crate::store::StoreFailure| ClusterError::Storage(format!("bootstrap: {e}"));
    match mode {
        // A restart never bootstraps: a used store without membership is a
        // joining node that has not heard from its leader yet.
        StartMode::Join | StartMode::Restart => store.record_identity(&expected).map_err(storage)?,
        StartMode::Bootstrap => {
            // Every configured peer, with its address (`bootstrap.rs`); a
            // joining node is never in this mode (`start_mode`).
            let initial = crate::bootstrap::initial_membership(config).ok_or_else(|| {
                ClusterError::Config(crate::config::ConfigError::Invalid("a joining node cannot bootstrap".into()))
            })?;
            store.bootstrap(&expected, initial).map_err(storage)?
        }
    }
    Ok(mode)
}

#[cfg(test)]
#[path = "node_test.rs"]
mod tests;
