//! State shared by the service handlers, and the channel types that connect
//! them to the runtime.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use raft_core::{Message, NodeId};
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tonic::Status;

use super::staging::{SnapshotStaging, StagedSnapshot};
use crate::api::{ReadRequest, ReadResult, ServiceError, WriteRequest, WriteResult};
use crate::event::NodeEvent;
use crate::limits::Limits;
use crate::members::{ChangeError, ChangeOutcome, MemberChange, MembersView};
use crate::status::NodeStatus;

/// Why a node's inbox did not take a peer message. The sender is told
/// (an error status, never an OK), so it backs off and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerRefusal {
    /// The inbox stayed full for the whole wait (RESOURCE_EXHAUSTED).
    #[error("inbox full")]
    Full,
    /// The node has stopped (UNAVAILABLE).
    #[error("node stopped")]
    Stopped,
    /// Fault injection drops traffic from this peer (UNAVAILABLE, as a cut
    /// link would be).
    #[error("traffic from this peer is blocked (fault injection)")]
    Blocked,
}

/// The node's inbox for peer messages: a bounded queue of its own, never
/// shared with client requests, so client load cannot crowd out Raft
/// traffic. PeerService acknowledges a batch (or a snapshot stream) only
/// after every message of it was delivered here.
pub trait PeerInbox: Send + Sync + fmt::Debug + 'static {
    /// Puts `msg` (validated, addressed to this node; InstallSnapshot
    /// messages arrive here reassembled in memory only when the server has
    /// no staging directory, see [`PeerInbox::deliver_staged`]) into the
    /// inbox, waiting at most `wait` for room. `Ok` only once the message
    /// is in the inbox. `incarnation` is the sender's, as stamped on its
    /// batch (0: not stamped, and for snapshot streams, which carry none).
    fn deliver(&self, msg: Message, incarnation: u64, wait: Duration) -> BoxFuture<'_, Result<(), PeerRefusal>>;

    /// Puts an InstallSnapshot `msg` whose data is in the staged file
    /// `staged` (the message's own data is empty) into the inbox, waiting
    /// at most `wait` for room; see [`PeerInbox::deliver`]. Only servers
    /// with a staging directory call it. The inbox owns `staged` from now
    /// on: dropping it deletes the file.
    fn deliver_staged(
        &self,
        msg: Message,
        staged: StagedSnapshot,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(), PeerRefusal>>;
}

/// A plain channel is an inbox (tests, simple runtimes); it ignores
/// incarnations, and reads a staged snapshot back into the message (it has
/// no store to rename the file into).
impl PeerInbox for mpsc::Sender<Message> {
    fn deliver(&self, msg: Message, _incarnation: u64, wait: Duration) -> BoxFuture<'_, Result<(), PeerRefusal>> {
        Box::pin(async move {
            self.send_timeout(msg, wait).await.map_err(|e| match e {
                mpsc::error::SendTimeoutError::Timeout(_) => PeerRefusal::Full,
                mpsc::error::SendTimeoutError::Closed(_) => PeerRefusal::Stopped,
            })
        })
    }

    fn deliver_staged(
        &self,
        mut msg: Message,
        staged: StagedSnapshot,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(), PeerRefusal>> {
        Box::pin(async move {
            let path = staged.path().to_path_buf();
            let data = tokio::fs::read(&path).await.map_err(|e| {
                tracing::warn!(path = %path.display(), error = %e, "staged snapshot unreadable; not delivered");
                PeerRefusal::Stopped
            })?;
            if let raft_core::MessageBody::InstallSnapshot(is) = &mut msg.body {
                is.snapshot.data = data;
            }
            drop(staged);
            self.deliver(msg, 0, wait).await
        })
    }
}

/// Client and admin work the server hands to the runtime (peer messages go
/// to the [`PeerInbox`] instead). The runtime must answer every `reply`
/// (dropping it is reported to the caller as an unknown outcome for writes
/// and as UNAVAILABLE otherwise).
#[derive(Debug)]
pub enum Inbound {
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
    /// An Admin `Members` request: the configuration as this node sees it.
    Members {
        /// Where the view goes.
        reply: oneshot::Sender<MembersView>,
    },
    /// An Admin membership change (`AddLearner`, `Promote`,
    /// `RemoveMember`), validated. Answered once the configuration ending
    /// the change is committed, or with why it was not made.
    ChangeMembership {
        /// The change.
        change: MemberChange,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<ChangeOutcome, ChangeError>>,
    },
}

/// The runtime's ends of the server's channels.
#[derive(Clone, Debug)]
pub struct ServerHandles {
    /// Where handlers send [`Inbound`] work (client and admin requests).
    pub inbound: mpsc::Sender<Inbound>,
    /// Where PeerService delivers Raft messages: the node's own peer queue.
    pub peers: Arc<dyn PeerInbox>,
    /// Node events; every Admin `Watch` subscribes here. The runtime keeps a
    /// clone and publishes with `send` (an error only means nobody watches).
    pub events: broadcast::Sender<NodeEvent>,
}

/// Creates the server's channels: the handles for [`crate::serve`] and the
/// receiver the runtime drains. `inbound_capacity` bounds queued client and
/// admin work (handlers wait up to the request timeout for room, then answer
/// RESOURCE_EXHAUSTED); `event_capacity` bounds how far a watcher may lag;
/// peer messages go straight to `peers`, a queue client work never fills.
pub fn channels(
    inbound_capacity: usize,
    event_capacity: usize,
    peers: Arc<dyn PeerInbox>,
) -> (ServerHandles, mpsc::Receiver<Inbound>) {
    let (tx, rx) = mpsc::channel(inbound_capacity.max(1));
    let (events, _) = broadcast::channel(event_capacity.max(1));
    (ServerHandles { inbound: tx, peers, events }, rx)
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
    /// Whether Admin `SetPartition` (fault injection) is served; when false
    /// it is answered with PERMISSION_DENIED and never reaches the runtime.
    pub fault_injection: bool,
    /// Where InstallSnapshot streams are written as they arrive (see
    /// `server/staging.rs`); emptied when the server starts. A RocksDB node
    /// passes `<data-dir>/snapshots/incoming`, on the store's filesystem, so
    /// installing a snapshot is a rename. `None`: snapshots are assembled in
    /// memory (nodes without a data directory).
    pub snapshot_staging: Option<PathBuf>,
}

/// What every handler holds.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) handles: ServerHandles,
    /// Becomes true when shutdown begins; endless streams (Watch) end then,
    /// so that graceful shutdown does not wait for them forever.
    stopping: watch::Receiver<bool>,
    /// One permit per byte of client write payload admitted
    /// (`limits.max_inflight_write_bytes`).
    write_bytes: Arc<Semaphore>,
    /// Opened from `config.snapshot_staging`.
    pub(crate) staging: Option<SnapshotStaging>,
    /// Slots of in-memory snapshot streams (no staging directory);
    /// `limits.max_incoming_snapshot_streams` permits.
    pub(crate) memory_streams: Arc<Semaphore>,
}

impl Shared {
    /// Opens the staging directory, if any (deleting leftovers).
    pub(crate) fn new(
        config: ServerConfig,
        handles: ServerHandles,
        stopping: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let permits =
            usize::try_from(config.limits.max_inflight_write_bytes).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
        let staging = match &config.snapshot_staging {
            Some(dir) => Some(SnapshotStaging::open(dir.clone(), &config.limits)?),
            None => None,
        };
        let memory_streams = Arc::new(Semaphore::new(config.limits.max_incoming_snapshot_streams.max(1)));
        Ok(Shared {
            config,
            handles,
            stopping,
            write_bytes: Arc::new(Semaphore::new(permits)),
            staging,
            memory_streams,
        })
    }

    /// Admits `bytes` of write payload until the returned permit drops, or
    /// refuses with RESOURCE_EXHAUSTED if that would pass the limit.
    pub(crate) fn admit_write(&self, bytes: usize) -> Result<OwnedSemaphorePermit, Status> {
        let limit = self.config.limits.max_inflight_write_bytes;
        let n = u32::try_from(bytes.max(1)).unwrap_or(u32::MAX);
        self.write_bytes.clone().try_acquire_many_owned(n).map_err(|_| {
            Status::resource_exhausted(format!(
                "too many client writes in flight (limits.max_inflight_write_bytes = {limit}); nothing was done, retry with backoff"
            ))
        })
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

    /// Delivers a peer message to the node's inbox, waiting at most `wait`
    /// for room; the error status tells the sender it was not delivered.
    pub(crate) async fn deliver_peer(&self, msg: Message, incarnation: u64, wait: Duration) -> Result<(), Status> {
        let (me, from) = (self.config.node_id, msg.from);
        self.handles.peers.deliver(msg, incarnation, wait).await.map_err(|e| refusal_status(e, me, from, wait))
    }

    /// Delivers a staged InstallSnapshot to the node's inbox, waiting at
    /// most `wait` for room (see [`Self::deliver_peer`]). Unstamped, like
    /// every snapshot stream.
    pub(crate) async fn deliver_staged(
        &self,
        msg: Message,
        staged: StagedSnapshot,
        wait: Duration,
    ) -> Result<(), Status> {
        let (me, from) = (self.config.node_id, msg.from);
        self.handles.peers.deliver_staged(msg, staged, wait).await.map_err(|e| refusal_status(e, me, from, wait))
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

/// The status telling a sender its message was not delivered, and why.
fn refusal_status(refusal: PeerRefusal, me: NodeId, from: NodeId, wait: Duration) -> Status {
    match refusal {
        PeerRefusal::Full => Status::resource_exhausted(format!(
            "node {me}: peer inbox full for {wait:?}; message from {from} not delivered, back off and retry"
        )),
        PeerRefusal::Stopped => {
            Status::unavailable(format!("node {me} has stopped; message from {from} not delivered"))
        }
        PeerRefusal::Blocked => Status::unavailable(format!(
            "node {me} drops traffic from {from} (fault injection partition); not delivered"
        )),
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
