//! [`RpcServer`]: raft-rpc's gRPC services in front of a running KV node.
//!
//! Peer and client traffic travel on separate bounded queues. Peer messages
//! go from PeerService straight into the node's own peer inbox through a
//! [`NodeInbox`] (its [`MessageSink`], `limits.max_queued_messages`), and a
//! batch is acknowledged only once every message is in it: a full inbox or
//! a stopped node is an error status to the sender, never an OK followed by
//! a drop. Client and admin requests come as [`Inbound`] values on another
//! channel; a bridge task runs each client request on its own task, into
//! the node's request queue (`limits.max_queued_requests`). So a flood of
//! client requests can never refuse a peer message.
//!
//! The bridge also serves the `SetPartition` fault injection (only when
//! `enable_fault_injection` is set: raft-rpc refuses it otherwise): it
//! replaces the node's blocked set in the [`LinkFilter`] its transport sends
//! through (so outgoing messages to those peers are dropped), and the
//! [`NodeInbox`] refuses incoming peer messages from them, so the cut is
//! symmetric at this node.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use raft_core::{Message, NodeId};
use raft_rpc::{
    Inbound, PeerInbox, PeerRefusal, ReadRequest, ServerConfig, ServerHandles, ServiceError, StagedSnapshot, WriteOp,
};
use raft_statemachine::{KvLimits, KvStore};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, trace, warn};

use super::{convert, members};
use crate::client::NodeClient;
use crate::config::NodeConfig;
use crate::error::ClusterError;
use crate::event::NodeEvent;
use crate::node::Node;
use crate::transport::{DeliverError, LinkFilter, MessageSink};

/// The client and admin queue between the gRPC handlers and the bridge
/// (peer messages never enter it).
const INBOUND_CAPACITY: usize = 4096;

/// A running gRPC server for one node.
pub struct RpcServer {
    shutdown: Option<oneshot::Sender<()>>,
    serve: JoinHandle<Result<(), raft_rpc::RpcError>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RpcServer {
    /// Serves `node` on `listener` (already bound, so a test cluster can
    /// reserve its ports up front). `filter` must be the one the node's
    /// transport sends through: `SetPartition` edits this node's blocked set
    /// in it.
    pub fn start(
        node: &Node<KvStore>,
        config: &NodeConfig,
        listener: TcpListener,
        kv_limits: KvLimits,
        filter: LinkFilter,
    ) -> Result<Self, ClusterError> {
        let inbox = NodeInbox { sink: node.sink(), filter: filter.clone(), me: config.id() };
        let (handles, inbound) = raft_rpc::channels(INBOUND_CAPACITY, crate::node::EVENT_CAPACITY, Arc::new(inbox));
        let rpc_events = handles.events.clone();
        let server_config = ServerConfig {
            cluster_id: config.cluster_id.clone(),
            node_id: config.id(),
            limits: rpc_limits(config, &kv_limits),
            fault_injection: config.enable_fault_injection,
            snapshot_staging: node.staging_dir(),
        };
        let tls = config.tls()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let serve = tokio::spawn(serve(listener, server_config, tls, handles, stop_rx));
        let bridge =
            Bridge { client: node.client(), config: Arc::new(config.clone()), kv_limits, filter, me: config.id() };
        let tasks = vec![tokio::spawn(bridge.run(inbound)), tokio::spawn(forward_events(node.subscribe(), rpc_events))];
        Ok(RpcServer { shutdown: Some(stop_tx), serve, tasks })
    }

    /// Stops serving and waits for the server to close its listener.
    pub async fn stop(mut self) -> Result<(), ClusterError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for t in &self.tasks {
            t.abort();
        }
        match (&mut self.serve).await {
            Ok(r) => r.map_err(|e| ClusterError::Transport(e.to_string())),
            Err(e) if e.is_cancelled() => Ok(()),
            Err(e) => Err(ClusterError::TaskFailed(e.to_string())),
        }
    }

    /// Stops abruptly (a crash): every task is aborted.
    pub fn abort(self) {
        self.serve.abort();
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    tls: Option<raft_rpc::TlsConfig>,
    handles: ServerHandles,
    stop: oneshot::Receiver<()>,
) -> Result<(), raft_rpc::RpcError> {
    raft_rpc::serve_with_tls(listener, config, tls, handles, async move {
        let _ = stop.await;
    })
    .await
}

fn rpc_limits(config: &NodeConfig, kv: &KvLimits) -> raft_rpc::Limits {
    let mut l = raft_rpc::Limits::default();
    l.max_key_bytes = kv.max_key_bytes as usize;
    l.max_value_bytes = kv.max_value_bytes as usize;
    l.max_scan_limit = kv.max_scan_limit;
    l.request_timeout = config.request_timeout();
    l.max_inflight_write_bytes = config.limits.max_inflight_write_bytes;
    l
}

/// Copies node events to the Watch stream, converted to raft-rpc's type.
async fn forward_events(mut rx: broadcast::Receiver<NodeEvent>, tx: broadcast::Sender<raft_rpc::NodeEvent>) {
    loop {
        match rx.recv().await {
            Ok(ev) => {
                if let Some(e) = convert::event(&ev) {
                    let _ = tx.send(e);
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                warn!(missed = n, "event forwarder lagged");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The node's peer inbox as raft-rpc sees it: the node's [`MessageSink`],
/// behind this node's side of a fault-injection partition.
#[derive(Debug)]
struct NodeInbox {
    sink: MessageSink,
    /// Shared with the node's transport; holds this node's blocked set.
    filter: LinkFilter,
    me: NodeId,
}

impl PeerInbox for NodeInbox {
    fn deliver(&self, msg: Message, incarnation: u64, wait: Duration) -> BoxFuture<'_, Result<(), PeerRefusal>> {
        Box::pin(async move {
            if self.filter.is_blocked(self.me, msg.from) {
                trace!(from = %msg.from, "partition: inbound peer message refused");
                return Err(PeerRefusal::Blocked);
            }
            self.sink.deliver_within(msg, incarnation, wait).await.map_err(|e| {
                debug!(error = %e, "inbound peer message not delivered; the sender is told");
                match e {
                    DeliverError::Full => PeerRefusal::Full,
                    // raft-rpc checked the recipient; a mismatch cannot reach here.
                    DeliverError::Stopped | DeliverError::WrongNode { .. } => PeerRefusal::Stopped,
                }
            })
        })
    }

    fn deliver_staged(
        &self,
        msg: Message,
        staged: StagedSnapshot,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(), PeerRefusal>> {
        Box::pin(async move {
            if self.filter.is_blocked(self.me, msg.from) {
                trace!(from = %msg.from, "partition: inbound snapshot refused");
                return Err(PeerRefusal::Blocked);
            }
            self.sink.deliver_staged_within(msg, staged, wait).await.map_err(|e| {
                debug!(error = %e, "staged snapshot not delivered; the sender is told");
                match e {
                    DeliverError::Full => PeerRefusal::Full,
                    DeliverError::Stopped | DeliverError::WrongNode { .. } => PeerRefusal::Stopped,
                }
            })
        })
    }
}

struct Bridge {
    client: NodeClient<KvStore>,
    config: Arc<NodeConfig>,
    kv_limits: KvLimits,
    /// Shared with the node's transport; holds this node's blocked set.
    filter: LinkFilter,
    me: NodeId,
}

impl Bridge {
    async fn run(self, mut inbound: mpsc::Receiver<Inbound>) {
        while let Some(work) = inbound.recv().await {
            match work {
                Inbound::Write { req, reply } => {
                    let (client, limits) = (self.client.clone(), self.kv_limits.clone());
                    tokio::spawn(async move {
                        let kind = write_kind(&req.op);
                        let result = convert::write(&client, req, &limits).await;
                        client.metrics().client_request(kind, outcome(result.as_ref().err()));
                        let _ = reply.send(result);
                    });
                }
                Inbound::Read { req, reply } => {
                    let (client, limits) = (self.client.clone(), self.kv_limits.clone());
                    tokio::spawn(async move {
                        let kind = match &req {
                            ReadRequest::Get { .. } => "get",
                            ReadRequest::Scan { .. } => "scan",
                        };
                        let result = convert::read(&client, req, &limits).await;
                        client.metrics().client_request(kind, outcome(result.as_ref().err()));
                        let _ = reply.send(result);
                    });
                }
                Inbound::Status { reply } => {
                    let _ = reply.send(convert::status(&self.client.status(), &self.config));
                }
                Inbound::TransferLeader { to, reply } => {
                    let (client, config) = (self.client.clone(), Arc::clone(&self.config));
                    tokio::spawn(async move {
                        let r = client.transfer_leader(to).await.map_err(|e| convert::service_error(e, &config));
                        let _ = reply.send(r);
                    });
                }
                Inbound::Members { reply } => {
                    let _ = reply.send(members::view(&self.client.status(), &self.config));
                }
                Inbound::ChangeMembership { change, reply } => {
                    let (client, config) = (self.client.clone(), Arc::clone(&self.config));
                    tokio::spawn(async move {
                        let r = client.change_membership(change).await.map_err(|e| members::change_error(e, &config));
                        let _ = reply.send(r);
                    });
                }
                Inbound::SetPartition { blocked, reply } => {
                    let _ = reply.send(self.set_partition(&blocked));
                }
            }
        }
    }

    /// Replaces this node's blocked set (fault injection).
    fn set_partition(&self, blocked: &[NodeId]) -> Result<(), raft_rpc::ServiceError> {
        if blocked.contains(&self.me) {
            return Err(raft_rpc::ServiceError::Invalid(format!("node {} cannot partition itself", self.me)));
        }
        let previous = self.filter.set_blocked(self.me, blocked);
        if blocked.is_empty() {
            if !previous.is_empty() {
                info!("partition healed: peer traffic to/from {} flows again", id_list(&previous));
            }
        } else {
            warn!("partition: dropping traffic to/from peers {} (fault injection)", id_list(blocked));
        }
        Ok(())
    }
}

/// The `type` label of a write in `raft_client_requests_total`.
fn write_kind(op: &WriteOp) -> &'static str {
    match op {
        WriteOp::Put { .. } => "put",
        WriteOp::Delete { .. } => "delete",
        WriteOp::CompareAndSwap { .. } => "cas",
    }
}

/// The `outcome` label of a request in `raft_client_requests_total`: the
/// outcome-contract class the client is told (see `raft_rpc::api`).
fn outcome(err: Option<&ServiceError>) -> &'static str {
    match err {
        None => "ok",
        Some(ServiceError::NotLeader { .. }) => "not_leader",
        Some(ServiceError::Unknown(_)) => "unknown",
        Some(ServiceError::Busy(_)) => "busy",
        Some(ServiceError::Invalid(_)) => "invalid",
        Some(ServiceError::Unavailable(_)) => "unavailable",
        Some(ServiceError::Internal(_)) => "internal",
    }
}

/// `[1, 3]`: node ids as an operator reads them.
fn id_list(ids: &[NodeId]) -> String {
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    format!("[{}]", ids.join(", "))
}
