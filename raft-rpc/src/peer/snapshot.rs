//! Streams an InstallSnapshot message (Figure 13) as a header chunk followed
//! by data chunks, so a large snapshot never sits in one gRPC message. A
//! failed transfer is reported and the core retries from scratch.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use std::io::Read;

use futures::{stream, Stream, StreamExt};
use raft_core::{Message, MessageBody, NodeId};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;

use super::{PeerConfig, PeerLink, PeerReport};

/// Data chunks a streamed transfer reads ahead of the network: with the
/// chunk being sent, a transfer holds at most `READ_AHEAD_CHUNKS + 1` chunks
/// (`PeerConfig::snapshot_chunk_bytes` each) in memory, whatever the
/// snapshot's size.
pub const READ_AHEAD_CHUNKS: usize = 2;

/// The data of a snapshot to stream from storage rather than from memory.
pub struct SnapshotSource {
    /// Exact number of bytes `reader` yields.
    pub len: u64,
    /// CRC-32 of those bytes (as recorded when the snapshot was stored).
    pub crc32: u32,
    /// The data; read on a blocking thread.
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for SnapshotSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotSource").field("len", &self.len).field("crc32", &self.crc32).finish()
    }
}
use crate::convert::snapshot_header;
use crate::pb;
use crate::pb::peer_service_client::PeerServiceClient;
use crate::pb::snapshot_chunk::Kind;

/// Splits `msg` into the chunks of its transfer: the header, then the data
/// in pieces of at most `chunk_bytes` (at least 1). `None` if `msg` is not
/// an InstallSnapshot.
pub fn chunks(cluster_id: &str, msg: Message, chunk_bytes: usize) -> Option<impl Iterator<Item = pb::SnapshotChunk>> {
    let header = snapshot_header(&msg)?;
    let MessageBody::InstallSnapshot(s) = msg.body else { return None };
    let data = s.snapshot.data;
    let chunk_bytes = chunk_bytes.max(1);
    let cluster = cluster_id.to_owned();
    let first = pb::SnapshotChunk { cluster_id: cluster.clone(), kind: Some(Kind::Header(header)) };
    let count = data.len().div_ceil(chunk_bytes);
    let rest = (0..count).map(move |i| {
        let end = ((i + 1) * chunk_bytes).min(data.len());
        pb::SnapshotChunk { cluster_id: cluster.clone(), kind: Some(Kind::Data(data[i * chunk_bytes..end].to_vec())) }
    });
    Some(std::iter::once(first).chain(rest))
}

/// Starts the transfer of `msg` on its own task unless one is already
/// running for this peer (then `msg` is dropped and counted: the core
/// re-sends after the running transfer reports).
pub(crate) fn start(link: &Arc<PeerLink>, config: &Arc<PeerConfig>, reports: &mpsc::Sender<PeerReport>, msg: Message) {
    if link.snapshot_busy.swap(true, Ordering::AcqRel) {
        link.counters.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(peer = %link.id, "snapshot transfer already running; dropped another");
        return;
    }
    let (link, config, reports) = (link.clone(), config.clone(), reports.clone());
    tokio::spawn(async move {
        let success = transfer(&link, &config, msg).await;
        let counter = if success { &link.counters.snapshots_sent } else { &link.counters.snapshots_failed };
        counter.fetch_add(1, Ordering::Relaxed);
        link.snapshot_busy.store(false, Ordering::Release);
        // Never dropped: the core waits for this report to leave the
        // Snapshot state for the peer. An error only means the runtime is gone.
        let _ = reports.send(PeerReport::SnapshotDone { peer: link.id, success }).await;
    });
}

async fn transfer(link: &PeerLink, config: &PeerConfig, msg: Message) -> bool {
    let Some(chunks) = chunks(&config.cluster_id, msg, config.snapshot_chunk_bytes) else {
        return false;
    };
    send_chunks(link, config, stream::iter(chunks)).await
}

/// Streams the InstallSnapshot `msg` (its own data ignored) with the data
/// read from `source` on a blocking thread, [`READ_AHEAD_CHUNKS`] chunks
/// ahead of the network at most. A read error ends the stream short, which
/// the receiver refuses. True if the peer acknowledged the whole snapshot.
pub(crate) async fn stream_from(link: &PeerLink, config: &PeerConfig, msg: Message, source: SnapshotSource) -> bool {
    let Some(mut header) = snapshot_header(&msg) else { return false };
    header.total_bytes = source.len;
    header.data_crc32 = Some(source.crc32);
    let cluster = config.cluster_id.clone();
    let first = pb::SnapshotChunk { cluster_id: cluster.clone(), kind: Some(Kind::Header(header)) };
    let (tx, rx) = mpsc::channel(READ_AHEAD_CHUNKS);
    let chunk_bytes = config.snapshot_chunk_bytes.max(1);
    let peer = link.id;
    tokio::task::spawn_blocking(move || read_chunks(source, chunk_bytes, &cluster, &tx, peer));
    send_chunks(link, config, stream::once(async { first }).chain(ReceiverStream::new(rx))).await
}

/// Reads `source` into data chunks until its announced length is sent or
/// the receiving end is gone.
fn read_chunks(
    mut source: SnapshotSource,
    chunk_bytes: usize,
    cluster: &str,
    tx: &mpsc::Sender<pb::SnapshotChunk>,
    peer: NodeId,
) {
    let mut left = source.len;
    while left > 0 {
        let n = usize::try_from(left).map_or(chunk_bytes, |l| l.min(chunk_bytes));
        let mut buf = vec![0u8; n];
        if let Err(e) = source.reader.read_exact(&mut buf) {
            tracing::warn!(peer = %peer, error = %e, "reading the snapshot to send failed; transfer abandoned");
            return;
        }
        left -= n as u64;
        let chunk = pb::SnapshotChunk { cluster_id: cluster.to_owned(), kind: Some(Kind::Data(buf)) };
        if tx.blocking_send(chunk).is_err() {
            return;
        }
    }
}

async fn send_chunks(
    link: &PeerLink,
    config: &PeerConfig,
    chunks: impl Stream<Item = pb::SnapshotChunk> + Send + 'static,
) -> bool {
    let mut client = PeerServiceClient::new(link.channel.clone())
        .max_encoding_message_size(config.max_message_bytes)
        .max_decoding_message_size(config.max_message_bytes);
    let mut request = Request::new(chunks);
    request.set_timeout(config.snapshot_timeout);
    match tokio::time::timeout(config.snapshot_timeout, client.install_snapshot(request)).await {
        Ok(Ok(_)) => true,
        Ok(Err(status)) => {
            tracing::warn!(peer = %link.id, code = ?status.code(), msg = status.message(), "snapshot transfer failed");
            false
        }
        Err(_) => {
            tracing::warn!(peer = %link.id, timeout = ?config.snapshot_timeout, "snapshot transfer timed out");
            false
        }
    }
}
