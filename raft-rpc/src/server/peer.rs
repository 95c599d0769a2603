//! PeerService: Raft messages in batches (one call each, or a long-lived
//! stream of them), and InstallSnapshot streams.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use raft_core::Message;
use tonic::{Request, Response, Status, Streaming};

use super::shared::Shared;
use super::snapshot::SnapshotAssembler;
use crate::pb;
use crate::pb::peer_service_server::PeerService;
use crate::pb::snapshot_chunk::Kind;

/// Serves PeerService.
#[derive(Debug)]
pub(crate) struct PeerHandler {
    shared: Arc<Shared>,
}

impl PeerHandler {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        PeerHandler { shared }
    }
}

#[tonic::async_trait]
impl PeerService for PeerHandler {
    async fn send(&self, request: Request<pb::RaftBatch>) -> Result<Response<pb::Ack>, Status> {
        deliver_batch(&self.shared, request.into_inner()).await?;
        Ok(Response::new(pb::Ack {}))
    }

    type StreamStream = Pin<Box<dyn Stream<Item = Result<pb::Ack, Status>> + Send + 'static>>;

    async fn stream(&self, request: Request<Streaming<pb::RaftBatch>>) -> Result<Response<Self::StreamStream>, Status> {
        let incoming = request.into_inner();
        let shared = Arc::clone(&self.shared);
        // One batch at a time, in arrival order: the next batch is read only
        // once the previous one is delivered and its Ack queued, so acks
        // come back in order and a refusal ends the stream right there.
        let acks = futures::stream::unfold(Some((incoming, shared)), |state| async move {
            let (mut incoming, shared) = state?;
            let batch = match incoming.message().await {
                Ok(Some(batch)) => batch,
                Ok(None) => return None,
                Err(status) => return Some((Err(status), None)),
            };
            match deliver_batch(&shared, batch).await {
                Ok(()) => Some((Ok(pb::Ack {}), Some((incoming, shared)))),
                Err(status) => Some((Err(status), None)),
            }
        });
        // Ends with the server, so a long-lived stream never holds up its
        // graceful shutdown; the sender sees the stream end and reconnects.
        let acks = acks.take_until(self.shared.stopped());
        Ok(Response::new(Box::pin(acks)))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::Ack>, Status> {
        let mut stream = request.into_inner();
        match &self.shared.staging {
            Some(staging) => {
                let mut staged = staging.begin(self.shared.limits())?;
                while let Some(kind) = self.next_chunk(&mut stream).await? {
                    staged.push(kind).await?;
                }
                let (msg, staged) = staged.finish()?;
                check_recipient(self.shared.config.node_id, &msg)?;
                tracing::debug!(from = %msg.from, bytes = staged.len(), path = %staged.path().display(), "snapshot staged");
                self.shared.deliver_staged(msg, staged, self.shared.limits().request_timeout).await?;
            }
            None => {
                let _slot = self.shared.memory_streams.clone().try_acquire_owned().map_err(|_| {
                    let limit = self.shared.limits().max_incoming_snapshot_streams;
                    Status::resource_exhausted(format!(
                        "{limit} snapshot streams are already being received \
                         (limits.max_incoming_snapshot_streams = {limit}); retry later"
                    ))
                })?;
                let mut assembler = SnapshotAssembler::new(self.shared.limits());
                while let Some(kind) = self.next_chunk(&mut stream).await? {
                    assembler.push(kind)?;
                }
                let msg = assembler.finish()?;
                check_recipient(self.shared.config.node_id, &msg)?;
                tracing::debug!(from = %msg.from, bytes = msg.size_bytes(), "snapshot received");
                // Unstamped: only a leader sends snapshots, and a fenced node's
                // votes never count, so it cannot become one.
                self.shared.deliver_peer(msg, 0, self.shared.limits().request_timeout).await?;
            }
        }
        Ok(Response::new(pb::Ack {}))
    }
}

/// Checks and converts a whole batch, then delivers it message by message
/// to the node's inbox. Shared by `Send` and `Stream`.
async fn deliver_batch(shared: &Shared, batch: pb::RaftBatch) -> Result<(), Status> {
    shared.check_cluster(&batch.cluster_id)?;
    let max = shared.limits().max_batch_messages;
    if batch.messages.len() > max {
        return Err(Status::invalid_argument(format!(
            "batch of {} messages exceeds the limit of {max}",
            batch.messages.len()
        )));
    }
    // Convert the whole batch first: a malformed message rejects the
    // batch before any of it reaches the node.
    let me = shared.config.node_id;
    let mut messages = Vec::with_capacity(batch.messages.len());
    for (i, m) in batch.messages.into_iter().enumerate() {
        let msg = Message::try_from(m).map_err(|e| Status::invalid_argument(format!("message {i}: {e}")))?;
        check_recipient(me, &msg)?;
        messages.push(msg);
    }
    // Acknowledged only once every message is in the node's inbox. A
    // full inbox refuses the rest quickly (RESOURCE_EXHAUSTED) instead
    // of holding the sender past its deadline; the sender backs off and
    // Raft retransmits (§5.3). A prefix may have been delivered, which
    // is harmless: Raft messages are idempotent.
    let wait = shared.limits().peer_enqueue_timeout;
    for msg in messages {
        shared.deliver_peer(msg, batch.incarnation, wait).await?;
    }
    Ok(())
}

/// Refuses a message meant for another node than `me` (a stale address
/// book).
fn check_recipient(me: raft_core::NodeId, msg: &Message) -> Result<(), Status> {
    if msg.to != me {
        return Err(Status::invalid_argument(format!(
            "message from {} addressed to {} was delivered to {me}",
            msg.from, msg.to
        )));
    }
    Ok(())
}

impl PeerHandler {
    /// The payload of the stream's next chunk (`None` at its end), after
    /// checking its cluster id; a silence longer than
    /// `limits.snapshot_idle_timeout` ends the stream with an error.
    async fn next_chunk(&self, stream: &mut Streaming<pb::SnapshotChunk>) -> Result<Option<Option<Kind>>, Status> {
        let idle = self.shared.limits().snapshot_idle_timeout;
        let next = tokio::time::timeout(idle, stream.message())
            .await
            .map_err(|_| Status::deadline_exceeded(format!("snapshot stream idle for {idle:?}")))??;
        let Some(chunk) = next else { return Ok(None) };
        self.shared.check_cluster(&chunk.cluster_id)?;
        Ok(Some(chunk.kind))
    }
}
