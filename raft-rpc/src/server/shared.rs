//! State shared by the service handlers, and the channel types that connect
//! them to the runtime.

use std::time::Duration;

use raft_core::{Message, NodeId};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tonic::Status;

use crate::api::{ReadRequest, ReadResult, ServiceError, WriteRequest, WriteResult};
use crate::event::NodeEvent;
use crate::limits::Limits;
use crate::status::NodeStatus;

/// Everything the server hands to the runtime. The runtime must answer every
/// `reply` (dropping it is reported to the caller as an unknown outcome for
/// writes and as UNAVAILABLE otherwise).
#[derive(Debug)]
pub enum Inbound {
    /// A Raft message from a peer, already validated and addressed to this
    /// node; includes InstallSnapshot messages reassembled from their stream.
    Peer(Message),
    /// A client write to propose.
    Write {
        /// The request.
        req: WriteRequest,
        /// Where the result goes once applied (or refused).
        reply: oneshot::Sender<Result<WriteResult, ServiceError>>,
    },
    /// A client read.
    Read {
        /// The request.
        req: ReadRequest,
        /// Where the result goes.
        reply: oneshot::Sender<Result<ReadResult, ServiceError>>,
    },
    /// An Admin status request.
    Status {
        /// Where the status goes.
        reply: oneshot::Sender<NodeStatus>,
    },
    /// An Admin leader-transfer request (thesis §3.10).
    TransferLeader {
        /// The transferee.
        to: NodeId,
        /// `Ok` once the transfer has started.
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    /// Fault injection (Admin `SetPartition`, a testing tool): from now on
    /// drop Raft traffic to and from `blocked`, replacing any earlier set.
    /// Empty heals. Cutting both directions at one node lets a test or the
    /// demo partition real processes without root.
    SetPartition {
        /// The peers to cut off (validated: no id 0, no duplicates).
        blocked: Vec<NodeId>,
        /// `Ok` once the new set is in force.
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
}

/// The runtime's ends of the server's channels.
#[derive(Clone, Debug)]
pub struct ServerHandles {
    /// Where handlers send [`Inbound`] work.
    pub inbound: mpsc::Sender<Inbound>,
    /// Node events; every Admin `Watch` subscribes here. The runtime keeps a
    /// clone and publishes with `send` (an error only means nobody watches).
    pub events: broadcast::Sender<NodeEvent>,
}

/// Creates the server's channels: the handles for [`crate::serve`] and the
/// receiver the runtime drains. `inbound_capacity` bounds queued work
/// (handlers wait up to the request timeout for room, then answer
/// RESOURCE_EXHAUSTED); `event_capacity` bounds how far a watcher may lag.
pub fn channels(inbound_capacity: usize, event_capacity: usize) -> (ServerHandles, mpsc::Receiver<Inbound>) {
    let (tx, rx) = mpsc::channel(inbound_capacity.max(1));
    let (events, _) = broadcast::channel(event_capacity.max(1));
    (ServerHandles { inbound: tx, events }, rx)
}

/// Identity and limits of the serving node.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Requests naming another cluster are refused with FAILED_PRECONDITION.
    pub cluster_id: String,
    /// This node; peer messages addressed elsewhere are refused.
    pub node_id: NodeId,
    /// Size and time limits.
    pub limits: Limits,
}

/// What every handler holds.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) handles: ServerHandles,
    /// Becomes true when shutdown begins; endless streams (Watch) end then,
    /// so that graceful shutdown does not wait for them forever.
    stopping: watch::Receiver<bool>,
}

impl Shared {
    pub(crate) fn new(config: ServerConfig, handles: ServerHandles, stopping: watch::Receiver<bool>) -> Self {
        Shared { config, handles, stopping }
    }

    /// Resolves once shutdown has begun.
    pub(crate) fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stopping.clone();
        async move {
            // An error means the server is gone, which is a stop too.
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// Refuses traffic from another cluster, naming both ids.
    pub(crate) fn check_cluster(&self, got: &str) -> Result<(), Status> {
        let ours = &self.config.cluster_id;
        if got == ours {
            return Ok(());
        }
        Err(Status::failed_precondition(format!(
            "cluster id mismatch: request is for cluster `{got}` but this node belongs to cluster `{ours}`"
        )))
    }

    /// Queues work for the runtime, waiting at most the request timeout for
    /// room.
    pub(crate) async fn submit(&self, work: Inbound) -> Result<(), Status> {
        self.submit_within(work, self.limits().request_timeout).await
    }

    /// Queues work for the runtime, waiting at most `timeout` for room.
    pub(crate) async fn submit_within(&self, work: Inbound, timeout: Duration) -> Result<(), Status> {
        match self.handles.inbound.send_timeout(work, timeout).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                Err(Status::resource_exhausted(format!("runtime queue full for {timeout:?}; retry later")))
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Err(Status::unavailable("node runtime has stopped")),
        }
    }

    /// Queues work and waits for its reply within the request timeout.
    /// `None` means the deadline passed or the runtime dropped the reply;
    /// the caller decides what that means for its request.
    pub(crate) async fn call<T>(&self, work: Inbound, rx: oneshot::Receiver<T>) -> Result<Result<T, Waited>, Status> {
        self.submit(work).await?;
        let timeout: Duration = self.limits().request_timeout;
        Ok(match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(Waited::Dropped),
            Err(_) => Err(Waited::TimedOut(timeout)),
        })
    }
}

/// Why no reply came from the runtime.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Waited {
    /// The runtime dropped the reply sender.
    Dropped,
    /// The request timeout passed.
    TimedOut(Duration),
}

/// Maps a runtime error (other than not-leader, which travels as a typed
/// reply) to a gRPC status.
pub(crate) fn service_status(e: ServiceError) -> Status {
    match e {
        ServiceError::NotLeader { .. } => Status::unavailable(e.to_string()),
        ServiceError::Unknown(m) => Status::aborted(format!("outcome unknown: {m}")),
        ServiceError::Busy(m) => Status::resource_exhausted(m),
        ServiceError::Invalid(m) => Status::invalid_argument(m),
        ServiceError::Unavailable(m) => Status::unavailable(m),
        ServiceError::Internal(m) => Status::internal(m),
    }
}
