//! How a node's messages reach its peers.
//!
//! The node task never waits on the network: [`Transport::send`] only queues
//! a message, and delivery problems come back asynchronously through a
//! [`Reporter`] (the core then falls back to probing, or retries a snapshot).
//! Inbound messages enter a node through its [`MessageSink`].
//!
//! Two implementations: [`LocalNetwork`] delivers in-process (unit tests,
//! in-memory clusters), and the gRPC transport from `raft-rpc`. Either can be
//! wrapped in a [`FilteredTransport`] so tests can cut links.

mod filter;
mod local;

pub use filter::{FilteredTransport, LinkFilter, Verdict};
pub use local::{LocalNetwork, LocalTransport};

use std::collections::BTreeMap;
use std::io::Read;

use futures::future::BoxFuture;
use raft_core::{Message, MessageBody, NodeId};
use raft_rpc::StagedSnapshot;
use tokio::sync::mpsc;

use crate::store::SnapshotData;

/// Sends a node's outgoing messages.
pub trait Transport: Send + Sync + 'static {
    /// Queues `msg` for delivery to `msg.to`. Must not block. Failures are
    /// reported through `report` (`Unreachable`, and for an
    /// `InstallSnapshot` message, `SnapshotStatus` once it was delivered or
    /// given up on).
    fn send(&self, msg: Message, report: &Reporter);

    /// Sends the InstallSnapshot `msg` with its data read from `data` (the
    /// data in `msg` itself is empty), then reports `SnapshotStatus`. Runs on
    /// a task of its own, never on the node task. The default reads the
    /// data into the message on a blocking thread and calls [`Self::send`]:
    /// right for in-process delivery, where the receiver holds the whole
    /// message anyway. A network transport should stream it instead.
    fn send_snapshot<'a>(&'a self, msg: Message, data: SnapshotData, report: &'a Reporter) -> BoxFuture<'a, ()> {
        Box::pin(send_in_memory(self, msg, data, report))
    }

    /// Makes the transport hold links to exactly `peers` (id to
    /// `host:port`), creating senders for new ones and dropping the rest.
    /// The runtime calls it whenever the configuration changes the set
    /// (see `runtime::peers`). The default ignores it: an in-process
    /// transport reaches every node by id.
    fn set_peers(&self, peers: &BTreeMap<NodeId, String>) {
        let _ = peers;
    }

    /// Called once when the node starts, with the reporter for reports the
    /// transport produces on its own (e.g. from background sender tasks).
    fn attach(&self, report: Reporter) {
        let _ = report;
    }
}

/// [`Transport::send_snapshot`]'s default: the data into the message, then
/// [`Transport::send`].
pub async fn send_in_memory<T: Transport + ?Sized>(t: &T, msg: Message, data: SnapshotData, report: &Reporter) {
    let to = msg.to;
    match tokio::task::spawn_blocking(move || fill(msg, data)).await {
        Ok(Ok(full)) => t.send(full, report),
        Ok(Err(e)) => {
            tracing::warn!(peer = %to, error = %e, "snapshot to send could not be read");
            report.snapshot_status(to, false);
        }
        Err(e) => {
            tracing::warn!(peer = %to, error = %e, "reading the snapshot to send failed");
            report.snapshot_status(to, false);
        }
    }
}

/// Reads `data` into `msg`, checking its length and CRC-32.
fn fill(mut msg: Message, data: SnapshotData) -> std::io::Result<Message> {
    let mut buf = Vec::with_capacity(usize::try_from(data.len).unwrap_or(0).min(64 << 20));
    data.reader.take(data.len).read_to_end(&mut buf)?;
    if buf.len() as u64 != data.len || crc32fast::hash(&buf) != data.crc32 {
        let detail = format!("expected {} bytes with CRC-32 {:08x}, read {}", data.len, data.crc32, buf.len());
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, detail));
    }
    if let MessageBody::InstallSnapshot(is) = &mut msg.body {
        is.snapshot.meta = data.meta;
        is.snapshot.data = buf;
    }
    Ok(msg)
}

/// What the transport tells the node about its sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// A message to the peer could not be delivered.
    Unreachable(NodeId),
    /// A send to the peer succeeded after failures.
    Reachable(NodeId),
    /// An `InstallSnapshot` transfer to the peer finished.
    SnapshotStatus {
        /// The peer.
        peer: NodeId,
        /// Delivered (true) or abandoned (false).
        success: bool,
    },
}

/// The sending node's feedback channel. Reports are hints: when the channel
/// is full they are dropped (the core re-probes on its own).
#[derive(Clone, Debug)]
pub struct Reporter {
    tx: mpsc::Sender<Report>,
}

impl Reporter {
    pub(crate) fn new(tx: mpsc::Sender<Report>) -> Self {
        Reporter { tx }
    }

    /// Reports a failed send to `peer`.
    pub fn unreachable(&self, peer: NodeId) {
        let _ = self.tx.try_send(Report::Unreachable(peer));
    }

    /// Reports a working link to `peer`.
    pub fn reachable(&self, peer: NodeId) {
        let _ = self.tx.try_send(Report::Reachable(peer));
    }

    /// Reports the end of a snapshot transfer to `peer`. Never dropped: the
    /// core keeps the peer paused until it hears about the transfer, so a
    /// full queue is waited out on a spawned task.
    pub fn snapshot_status(&self, peer: NodeId, success: bool) {
        let report = Report::SnapshotStatus { peer, success };
        if let Err(mpsc::error::TrySendError::Full(report)) = self.tx.try_send(report) {
            let tx = self.tx.clone();
            tokio::spawn(async move { tx.send(report).await });
        }
    }
}

/// Why an inbound message was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    /// The node's inbound queue is full (`limits.max_queued_messages`).
    #[error("node inbox is full; message dropped")]
    Full,
    /// The node has stopped.
    #[error("node has stopped")]
    Stopped,
    /// The message is addressed to another node.
    #[error("message for {to} delivered to {node}")]
    WrongNode {
        /// Recipient in the message.
        to: NodeId,
        /// The node that got it.
        node: NodeId,
    },
}

/// The entry point for a node's inbound peer messages; the gRPC server and
/// [`LocalNetwork`] hold clones.
///
/// Every message travels with its sender's incarnation (0: not stamped),
/// which the node checks against the one it remembers for the sender
/// (`runtime/fence.rs`).
///
/// Snapshots the gRPC server staged to a file travel on a queue of their
/// own ([`STAGED_CAPACITY`]), with the file that holds their data.
#[derive(Clone, Debug)]
pub struct MessageSink {
    node: NodeId,
    incarnation: u64,
    tx: mpsc::Sender<(Message, u64)>,
    staged: mpsc::Sender<(Message, StagedSnapshot)>,
}

/// Capacity of a node's queue of staged snapshots: the gRPC server stages
/// at most `max_incoming_snapshot_streams` (2) at once anyway.
pub(crate) const STAGED_CAPACITY: usize = 2;

impl MessageSink {
    pub(crate) fn new(
        node: NodeId,
        incarnation: u64,
        tx: mpsc::Sender<(Message, u64)>,
        staged: mpsc::Sender<(Message, StagedSnapshot)>,
    ) -> Self {
        MessageSink { node, incarnation, tx, staged }
    }

    /// Hands an InstallSnapshot `msg` whose data is the staged file
    /// `staged` to the node, waiting at most `wait` for room; `Ok` only
    /// once it is queued. On an error `staged` is dropped (its file deleted).
    pub async fn deliver_staged_within(
        &self,
        msg: Message,
        staged: StagedSnapshot,
        wait: std::time::Duration,
    ) -> Result<(), DeliverError> {
        if msg.to != self.node {
            return Err(DeliverError::WrongNode { to: msg.to, node: self.node });
        }
        self.staged.send_timeout((msg, staged), wait).await.map_err(|e| match e {
            mpsc::error::SendTimeoutError::Timeout(_) => DeliverError::Full,
            mpsc::error::SendTimeoutError::Closed(_) => DeliverError::Stopped,
        })
    }

    /// The node this sink feeds.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The incarnation of the node this sink feeds (what it stamps on the
    /// messages it sends).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Hands `msg` to the node without waiting, unstamped.
    pub fn deliver(&self, msg: Message) -> Result<(), DeliverError> {
        self.deliver_stamped(msg, 0)
    }

    /// Hands `msg`, sent by incarnation `incarnation` of `msg.from`, to the
    /// node without waiting.
    pub fn deliver_stamped(&self, msg: Message, incarnation: u64) -> Result<(), DeliverError> {
        if msg.to != self.node {
            return Err(DeliverError::WrongNode { to: msg.to, node: self.node });
        }
        self.tx.try_send((msg, incarnation)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => DeliverError::Full,
            mpsc::error::TrySendError::Closed(_) => DeliverError::Stopped,
        })
    }

    /// Hands `msg` (sent by incarnation `incarnation` of `msg.from`) to the
    /// node, waiting at most `wait` for room in its inbox; `Ok` only once
    /// the message is in it.
    pub async fn deliver_within(
        &self,
        msg: Message,
        incarnation: u64,
        wait: std::time::Duration,
    ) -> Result<(), DeliverError> {
        if msg.to != self.node {
            return Err(DeliverError::WrongNode { to: msg.to, node: self.node });
        }
        self.tx.send_timeout((msg, incarnation), wait).await.map_err(|e| match e {
            mpsc::error::SendTimeoutError::Timeout(_) => DeliverError::Full,
            mpsc::error::SendTimeoutError::Closed(_) => DeliverError::Stopped,
        })
    }

    /// True once the node has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
