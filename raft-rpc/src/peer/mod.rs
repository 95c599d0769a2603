//! Outgoing peer traffic: [`PeerPool`] keeps one lazily connected channel,
//! one bounded queue and one sender task per peer, so messages to a peer go
//! out in order and a dead peer costs a fixed amount of memory.

mod queue;
mod sender;
mod snapshot;

pub use snapshot::{chunks as snapshot_chunks, SnapshotSource, READ_AHEAD_CHUNKS};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft_core::{Message, NodeId};
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use crate::error::RpcError;
use queue::PeerQueue;

/// Tuning of [`PeerPool`].
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Stamped on every batch and snapshot chunk.
    pub cluster_id: String,
    /// The sending node's incarnation, stamped on every batch (0: none).
    pub incarnation: u64,
    /// Messages queued per peer before the oldest is dropped. Default 1024.
    pub queue_capacity: usize,
    /// Messages per batch. Default 256.
    pub max_batch_messages: usize,
    /// Approximate bytes per batch ([`Message::size_bytes`]). Default 4 MiB.
    pub max_batch_bytes: u64,
    /// Batches sent on the peer's stream and not yet acknowledged; the
    /// sender waits for an acknowledgement beyond this. With
    /// `max_batch_bytes` it bounds the bytes in flight to one peer.
    /// Default 4.
    pub max_inflight_batches: usize,
    /// TCP connect timeout. Default 1 s.
    pub connect_timeout: Duration,
    /// Deadline of opening the peer's stream, and of each batch's
    /// acknowledgement on it. Default 2 s.
    pub rpc_timeout: Duration,
    /// Data bytes per snapshot chunk. Default 512 KiB; must not exceed the
    /// receiver's `Limits::max_snapshot_chunk_bytes`.
    pub snapshot_chunk_bytes: usize,
    /// Deadline of a whole snapshot transfer. Default 120 s.
    pub snapshot_timeout: Duration,
    /// First reconnect delay after a failure. Default 50 ms.
    pub backoff_base: Duration,
    /// Largest reconnect delay. Default 2 s.
    pub backoff_max: Duration,
    /// Largest encoded message sent. Default 16 MiB.
    pub max_message_bytes: usize,
    /// Mutual TLS towards peers (`https`, verify them against the CA,
    /// present our certificate). Default none: plaintext.
    pub tls: Option<crate::tls::TlsConfig>,
}

impl PeerConfig {
    /// Defaults for `cluster_id`.
    pub fn new(cluster_id: impl Into<String>) -> Self {
        PeerConfig {
            cluster_id: cluster_id.into(),
            incarnation: 0,
            queue_capacity: 1024,
            max_batch_messages: 256,
            max_batch_bytes: 4 << 20,
            max_inflight_batches: 4,
            connect_timeout: Duration::from_secs(1),
            rpc_timeout: Duration::from_secs(2),
            snapshot_chunk_bytes: 512 << 10,
            snapshot_timeout: Duration::from_secs(120),
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            max_message_bytes: 16 << 20,
            tls: None,
        }
    }
}

/// What the pool tells the runtime; it feeds these to the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerReport {
    /// A send to `peer` failed: call `RaftNode::report_unreachable(peer)`.
    /// May be dropped if the runtime does not drain reports.
    Unreachable {
        /// The peer.
        peer: NodeId,
    },
    /// The first successful send after failures (for a `PeerUp` event).
    Reachable {
        /// The peer.
        peer: NodeId,
    },
    /// A snapshot transfer finished: call
    /// `RaftNode::report_snapshot(peer, success)`. Never dropped.
    SnapshotDone {
        /// The peer.
        peer: NodeId,
        /// Whether the peer acknowledged the whole snapshot.
        success: bool,
    },
}

/// Counters of one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Messages waiting in the queue.
    pub queued: usize,
    /// Messages delivered (acknowledged by the peer's server).
    pub sent: u64,
    /// Messages dropped because the queue was full, or a snapshot because
    /// another was in flight.
    pub dropped: u64,
    /// Messages sent and lost when their stream failed (no acknowledgement).
    pub failed: u64,
    /// Snapshot transfers that succeeded.
    pub snapshots_sent: u64,
    /// Snapshot transfers that failed.
    pub snapshots_failed: u64,
}

/// Counters updated by a peer's tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) snapshots_sent: AtomicU64,
    pub(crate) snapshots_failed: AtomicU64,
}

/// One peer's connection state, shared with its tasks.
#[derive(Debug)]
pub(crate) struct PeerLink {
    pub(crate) id: NodeId,
    pub(crate) address: String,
    pub(crate) channel: Channel,
    pub(crate) queue: PeerQueue,
    pub(crate) counters: Counters,
    /// True while a snapshot transfer runs (at most one per peer).
    pub(crate) snapshot_busy: std::sync::atomic::AtomicBool,
}

/// Outgoing connections to every peer. Cheap to clone. Must be created
/// inside a tokio runtime (it spawns one task per peer).
#[derive(Clone, Debug)]
pub struct PeerPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    config: Arc<PeerConfig>,
    peers: Mutex<HashMap<NodeId, Arc<PeerLink>>>,
    reports: mpsc::Sender<PeerReport>,
}

impl Drop for PoolInner {
    /// The last pool handle is gone: stop every sender task.
    fn drop(&mut self) {
        let peers = self.peers.get_mut().unwrap_or_else(|p| p.into_inner());
        for link in peers.values() {
            link.queue.close();
        }
    }
}

impl PeerPool {
    /// A pool with no peers, and the receiver of its reports (bounded by
    /// `report_capacity`).
    pub fn new(config: PeerConfig, report_capacity: usize) -> (PeerPool, mpsc::Receiver<PeerReport>) {
        let (tx, rx) = mpsc::channel(report_capacity.max(1));
        let inner = PoolInner { config: Arc::new(config), peers: Mutex::default(), reports: tx };
        let pool = PeerPool { inner: Arc::new(inner) };
        (pool, rx)
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Arc<PeerLink>>> {
        // The map stays valid even if a holder panicked.
        self.inner.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `id` at `address` (`host:port`), or moves it to a new address
    /// (its queue is then discarded). No connection is made until the first
    /// message.
    pub fn set_peer(&self, id: NodeId, address: &str) -> Result<(), RpcError> {
        if self.peers().get(&id).is_some_and(|l| l.address == address) {
            return Ok(());
        }
        let channel = lazy_channel(address, &self.inner.config)?;
        let link = Arc::new(PeerLink {
            id,
            address: address.to_owned(),
            channel,
            queue: PeerQueue::new(self.inner.config.queue_capacity),
            counters: Counters::default(),
            snapshot_busy: Default::default(),
        });
        tokio::spawn(sender::run(link.clone(), self.inner.config.clone(), self.inner.reports.clone()));
        if let Some(old) = self.peers().insert(id, link) {
            old.queue.close();
        }
        Ok(())
    }

    /// Forgets `id` and stops its sender task.
    pub fn remove_peer(&self, id: NodeId) {
        if let Some(old) = self.peers().remove(&id) {
            old.queue.close();
        }
    }

    /// The peers currently known.
    pub fn peer_ids(&self) -> Vec<NodeId> {
        let mut ids: Vec<_> = self.peers().keys().copied().collect();
        ids.sort();
        ids
    }

    /// Queues `msg` for `msg.to` without waiting. InstallSnapshot messages
    /// are streamed in chunks by a separate task and end in a
    /// [`PeerReport::SnapshotDone`]. Fails only for an unknown peer (the
    /// runtime should then report it unreachable).
    pub fn send(&self, msg: Message) -> Result<(), crate::error::PeerError> {
        let link = self.peers().get(&msg.to).cloned().ok_or(crate::error::PeerError::UnknownPeer(msg.to))?;
        if link.queue.push(msg) {
            tracing::debug!(peer = %link.id, "peer queue full; dropped the oldest message");
        }
        Ok(())
    }

    /// Streams the InstallSnapshot `msg` to `msg.to` with its data read
    /// from `source` chunk by chunk (bounded memory whatever the snapshot's
    /// size; `msg`'s own data is ignored), and resolves once the peer
    /// acknowledged it (true) or the transfer failed. Unlike [`Self::send`]
    /// it reports nothing: the caller reports the outcome to its core. At
    /// most one transfer per peer: a second one fails at once.
    pub async fn stream_snapshot(&self, msg: Message, source: SnapshotSource) -> bool {
        let Some(link) = self.peers().get(&msg.to).cloned() else { return false };
        if link.snapshot_busy.swap(true, Ordering::AcqRel) {
            link.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        // Cleared even if the caller drops this future mid-transfer.
        let _busy = ClearOnDrop(&link.snapshot_busy);
        let success = snapshot::stream_from(&link, &self.inner.config, msg, source).await;
        let counter = if success { &link.counters.snapshots_sent } else { &link.counters.snapshots_failed };
        counter.fetch_add(1, Ordering::Relaxed);
        success
    }

    /// Counters of `id`, if known.
    pub fn stats(&self, id: NodeId) -> Option<PeerStats> {
        let link = self.peers().get(&id).cloned()?;
        let c = &link.counters;
        Some(PeerStats {
            queued: link.queue.len(),
            sent: c.sent.load(Ordering::Relaxed),
            dropped: link.queue.dropped() + c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            snapshots_sent: c.snapshots_sent.load(Ordering::Relaxed),
            snapshots_failed: c.snapshots_failed.load(Ordering::Relaxed),
        })
    }
}

/// Clears a busy flag when dropped.
struct ClearOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Interval of HTTP/2 pings on idle and busy connections.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// A connection whose ping is not answered within this is considered dead.
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel that connects on first use and reconnects after failures.
pub(crate) fn lazy_channel(address: &str, config: &PeerConfig) -> Result<Channel, RpcError> {
    Ok(endpoint(address, config.connect_timeout, config.tls.as_ref())?.connect_lazy())
}

/// Parses `host:port` (or a full `http://` or `https://` URI) into an
/// endpoint. The scheme follows `tls`, not the text: with TLS the
/// connection is `https` with mutual authentication, without it plaintext.
pub(crate) fn endpoint(
    address: &str,
    connect_timeout: Duration,
    tls: Option<&crate::tls::TlsConfig>,
) -> Result<Endpoint, RpcError> {
    let bare = address.strip_prefix("http://").or_else(|| address.strip_prefix("https://")).unwrap_or(address);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let invalid = |reason: String| RpcError::InvalidEndpoint { endpoint: address.to_owned(), reason };
    let mut ep = Endpoint::from_shared(format!("{scheme}://{bare}")).map_err(|e| invalid(e.to_string()))?;
    if let Some(tls) = tls {
        ep = ep.tls_config(tls.client()).map_err(|e| invalid(format!("TLS setup: {e}")))?;
    }
    // HTTP/2 keep-alive notices a silently dead connection (peer host gone)
    // well before TCP would.
    Ok(ep
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}
