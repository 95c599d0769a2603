//! The sender task of one peer: drains its queue in order into one
//! long-lived `PeerService.Stream`, keeps at most
//! [`PeerConfig::max_inflight_batches`] batches unacknowledged, and backs
//! off after failures. Messages of a failed stream are not retried here:
//! Raft's own retransmission (§5.3) resends what still matters.
//!
//! Why a stream and not one unary `Send` per batch (issue #13): a unary
//! call costs a new HTTP/2 stream, request and response headers, trailers
//! and, on the receiver, a task per call; and the sender waited for each
//! answer before sending the next batch. On the stream a batch is one DATA
//! frame each way, and up to the window of batches travel back to back.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Request, Status};

use super::{snapshot, PeerConfig, PeerLink, PeerReport};
use crate::backoff::Backoff;
use crate::convert::MessageRoute;
use crate::pb;
use crate::pb::peer_service_client::PeerServiceClient;

/// How one stream ended.
enum Ended {
    /// The link was closed: the task stops.
    Closed,
    /// The queue held only snapshots, now handed to their own task.
    NothingToSend,
    /// The stream failed; `lost` messages were sent and not acknowledged.
    Failed { lost: u64, why: Failure },
}

/// Why a stream failed, for the log.
enum Failure {
    Status(Status),
    TimedOut,
    EndedByPeer,
    UnexpectedAck,
}

/// Runs until the link's queue is closed.
pub(crate) async fn run(link: Arc<PeerLink>, config: Arc<PeerConfig>, reports: mpsc::Sender<PeerReport>) {
    let client = PeerServiceClient::new(link.channel.clone())
        .max_encoding_message_size(config.max_message_bytes)
        .max_decoding_message_size(config.max_message_bytes);
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_max);
    let mut failing = false;
    loop {
        link.queue.wait().await;
        if link.queue.is_closed() {
            return;
        }
        let mut session =
            Session { link: &link, config: &config, reports: &reports, backoff: &mut backoff, failing: &mut failing };
        match session.run(client.clone()).await {
            Ended::Closed => return,
            Ended::NothingToSend => {}
            Ended::Failed { lost, why } => {
                log_failure(&link, &why, failing);
                fail(&link, &reports, lost, &mut failing);
                // The queue keeps accepting (and dropping the oldest) meanwhile.
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// One stream's life: open it with the first batch, then send and collect
/// acknowledgements until it fails or the link closes.
struct Session<'a> {
    link: &'a Arc<PeerLink>,
    config: &'a Arc<PeerConfig>,
    reports: &'a mpsc::Sender<PeerReport>,
    backoff: &'a mut Backoff,
    failing: &'a mut bool,
}

impl Session<'_> {
    async fn run(&mut self, mut client: PeerServiceClient<Channel>) -> Ended {
        let window = self.config.max_inflight_batches.max(1);
        let Some(first) = self.take_batch() else { return Ended::NothingToSend };
        // The channel holds what the window allows, so `send` never waits.
        let (tx, rx) = mpsc::channel::<pb::RaftBatch>(window);
        let mut inflight: VecDeque<(u64, Instant)> = VecDeque::with_capacity(window);
        inflight.push_back((first.messages.len() as u64, Instant::now()));
        let _ = tx.try_send(first);
        // The first batch travels with the request: opening costs no extra
        // round trip. No grpc-timeout on the request: the stream is
        // long-lived; each batch has its own deadline below.
        let opened =
            tokio::time::timeout(self.config.rpc_timeout, client.stream(Request::new(ReceiverStream::new(rx))));
        let mut acks = match opened.await {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) => return failed(&inflight, Failure::Status(status)),
            Err(_) => return failed(&inflight, Failure::TimedOut),
        };
        loop {
            let deadline = inflight.front().map(|(_, sent)| *sent + self.config.rpc_timeout);
            let room = inflight.len() < window;
            tokio::select! {
                biased;
                ack = acks.message() => match ack {
                    Ok(Some(pb::Ack {})) => {
                        let Some((n, _)) = inflight.pop_front() else {
                            return failed(&inflight, Failure::UnexpectedAck);
                        };
                        self.delivered(n);
                    }
                    Ok(None) => return failed(&inflight, Failure::EndedByPeer),
                    Err(status) => return failed(&inflight, Failure::Status(status)),
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return failed(&inflight, Failure::TimedOut);
                }
                _ = self.link.queue.wait(), if room => {
                    if self.link.queue.is_closed() {
                        return Ended::Closed;
                    }
                    if let Some(batch) = self.take_batch() {
                        let n = batch.messages.len() as u64;
                        inflight.push_back((n, Instant::now()));
                        if tx.try_send(batch).is_err() {
                            // The request body was dropped: the stream is gone.
                            return failed(&inflight, Failure::EndedByPeer);
                        }
                    }
                }
            }
        }
    }

    /// The next batch of queued messages, or `None` if the queue held only
    /// InstallSnapshot messages (each handed to its own streaming task).
    fn take_batch(&self) -> Option<pb::RaftBatch> {
        let batch = self.link.queue.take_batch(self.config.max_batch_messages, self.config.max_batch_bytes);
        let mut messages = Vec::with_capacity(batch.len());
        for msg in batch {
            match MessageRoute::from(msg) {
                MessageRoute::Batch(m) => messages.push(m),
                MessageRoute::Snapshot(m) => snapshot::start(self.link, self.config, self.reports, *m),
            }
        }
        if messages.is_empty() {
            return None;
        }
        Some(pb::RaftBatch {
            cluster_id: self.config.cluster_id.clone(),
            messages,
            incarnation: self.config.incarnation,
        })
    }

    /// The peer acknowledged a batch of `n` messages: all are in its inbox.
    fn delivered(&mut self, n: u64) {
        self.link.counters.sent.fetch_add(n, Ordering::Relaxed);
        self.backoff.reset();
        if *self.failing {
            *self.failing = false;
            let _ = self.reports.try_send(PeerReport::Reachable { peer: self.link.id });
        }
    }
}

fn failed(inflight: &VecDeque<(u64, Instant)>, why: Failure) -> Ended {
    Ended::Failed { lost: inflight.iter().map(|(n, _)| n).sum(), why }
}

fn log_failure(link: &PeerLink, why: &Failure, already_failing: bool) {
    match why {
        Failure::Status(status) => {
            tracing::debug!(peer = %link.id, code = ?status.code(), msg = status.message(), "peer stream failed");
            // A certificate problem does not heal by retrying: say so once
            // per outage, loudly.
            if let Some(why) = std::error::Error::source(status).and_then(crate::tls::failure) {
                if !already_failing {
                    tracing::warn!(peer = %link.id, address = %link.address, "TLS refused on the link to the peer: {why}");
                }
            }
        }
        Failure::TimedOut => tracing::debug!(peer = %link.id, "peer stream: no acknowledgement in time"),
        Failure::EndedByPeer => tracing::debug!(peer = %link.id, "peer stream ended by the peer"),
        Failure::UnexpectedAck => {
            tracing::warn!(peer = %link.id, "peer stream: acknowledgement with nothing in flight")
        }
    }
}

fn fail(link: &PeerLink, reports: &mpsc::Sender<PeerReport>, n: u64, failing: &mut bool) {
    link.counters.failed.fetch_add(n, Ordering::Relaxed);
    *failing = true;
    // Droppable: the runtime learns the same from the next failure.
    let _ = reports.try_send(PeerReport::Unreachable { peer: link.id });
}
