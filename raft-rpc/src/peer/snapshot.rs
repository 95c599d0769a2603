//! Streams an InstallSnapshot message (Figure 13) as a header chunk followed
//! by data chunks, so a large snapshot never sits in one gRPC message. A
//! failed transfer is reported and the core retries from scratch.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::stream;
use raft_core::{Message, MessageBody};
use tokio::sync::mpsc;
use tonic::Request;

use super::{PeerConfig, PeerLink, PeerReport};
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
    let mut client = PeerServiceClient::new(link.channel.clone())
        .max_encoding_message_size(config.max_message_bytes)
        .max_decoding_message_size(config.max_message_bytes);
    let mut request = Request::new(stream::iter(chunks));
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
