//! The sender task of one peer: drains its queue in order, batches, sends,
//! and backs off after failures. Messages of a failed batch are not retried
//! here: Raft's own retransmission (§5.3) resends what still matters.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;
use tonic::Request;

use super::{snapshot, PeerConfig, PeerLink, PeerReport};
use crate::backoff::Backoff;
use crate::convert::MessageRoute;
use crate::pb;
use crate::pb::peer_service_client::PeerServiceClient;

/// Runs until the link's queue is closed.
pub(crate) async fn run(link: Arc<PeerLink>, config: Arc<PeerConfig>, reports: mpsc::Sender<PeerReport>) {
    let mut client = PeerServiceClient::new(link.channel.clone())
        .max_encoding_message_size(config.max_message_bytes)
        .max_decoding_message_size(config.max_message_bytes);
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_max);
    let mut failing = false;
    loop {
        link.queue.wait().await;
        if link.queue.is_closed() {
            return;
        }
        let batch = link.queue.take_batch(config.max_batch_messages, config.max_batch_bytes);
        let mut messages = Vec::with_capacity(batch.len());
        for msg in batch {
            match MessageRoute::from(msg) {
                MessageRoute::Batch(m) => messages.push(m),
                MessageRoute::Snapshot(m) => snapshot::start(&link, &config, &reports, *m),
            }
        }
        if messages.is_empty() {
            continue;
        }
        let n = messages.len() as u64;
        let mut request = Request::new(pb::RaftBatch {
            cluster_id: config.cluster_id.clone(),
            messages,
            incarnation: config.incarnation,
        });
        request.set_timeout(config.rpc_timeout);
        let result = tokio::time::timeout(config.rpc_timeout, client.send(request)).await;
        match result {
            Ok(Ok(_)) => {
                link.counters.sent.fetch_add(n, Ordering::Relaxed);
                backoff.reset();
                if failing {
                    failing = false;
                    let _ = reports.try_send(PeerReport::Reachable { peer: link.id });
                }
            }
            Ok(Err(status)) => {
                tracing::debug!(peer = %link.id, code = ?status.code(), msg = status.message(), "send failed");
                // A certificate problem does not heal by retrying: say so
                // once per outage, loudly.
                if let Some(why) = std::error::Error::source(&status).and_then(crate::tls::failure) {
                    if !failing {
                        tracing::warn!(peer = %link.id, address = %link.address, "TLS refused on the link to the peer: {why}");
                    }
                }
                fail(&link, &reports, n, &mut failing);
                // The queue keeps accepting (and dropping the oldest) meanwhile.
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(_) => {
                tracing::debug!(peer = %link.id, "send timed out");
                fail(&link, &reports, n, &mut failing);
                // The queue keeps accepting (and dropping the oldest) meanwhile.
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

fn fail(link: &PeerLink, reports: &mpsc::Sender<PeerReport>, n: u64, failing: &mut bool) {
    link.counters.failed.fetch_add(n, Ordering::Relaxed);
    *failing = true;
    // Droppable: the runtime learns the same from the next failure.
    let _ = reports.try_send(PeerReport::Unreachable { peer: link.id });
}
