//! PeerService: Raft messages in batches, and InstallSnapshot streams.

use std::sync::Arc;

use raft_core::Message;
use tonic::{Request, Response, Status, Streaming};

use super::shared::Shared;
use super::snapshot::SnapshotAssembler;
use crate::pb;
use crate::pb::peer_service_server::PeerService;

/// Serves PeerService.
#[derive(Debug)]
pub(crate) struct PeerHandler {
    shared: Arc<Shared>,
}

impl PeerHandler {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        PeerHandler { shared }
    }

    /// Refuses a message meant for another node (a stale address book).
    fn check_recipient(&self, msg: &Message) -> Result<(), Status> {
        let me = self.shared.config.node_id;
        if msg.to != me {
            return Err(Status::invalid_argument(format!(
                "message from {} addressed to {} was delivered to {me}",
                msg.from, msg.to
            )));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl PeerService for PeerHandler {
    async fn send(&self, request: Request<pb::RaftBatch>) -> Result<Response<pb::Ack>, Status> {
        let batch = request.into_inner();
        self.shared.check_cluster(&batch.cluster_id)?;
        let max = self.shared.limits().max_batch_messages;
        if batch.messages.len() > max {
            return Err(Status::invalid_argument(format!(
                "batch of {} messages exceeds the limit of {max}",
                batch.messages.len()
            )));
        }
        // Convert the whole batch first: a malformed message rejects the
        // batch before any of it reaches the node.
        let mut messages = Vec::with_capacity(batch.messages.len());
        for (i, m) in batch.messages.into_iter().enumerate() {
            let msg = Message::try_from(m).map_err(|e| Status::invalid_argument(format!("message {i}: {e}")))?;
            self.check_recipient(&msg)?;
            messages.push(msg);
        }
        // Acknowledged only once every message is in the node's inbox. A
        // full inbox refuses the rest quickly (RESOURCE_EXHAUSTED) instead
        // of holding the sender past its deadline; the sender backs off and
        // Raft retransmits (§5.3). A prefix may have been delivered, which
        // is harmless: Raft messages are idempotent.
        let wait = self.shared.limits().peer_enqueue_timeout;
        for msg in messages {
            self.shared.deliver_peer(msg, batch.incarnation, wait).await?;
        }
        Ok(Response::new(pb::Ack {}))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::Ack>, Status> {
        let mut stream = request.into_inner();
        let mut assembler = SnapshotAssembler::new(self.shared.limits());
        let idle = self.shared.limits().snapshot_idle_timeout;
        loop {
            let next = tokio::time::timeout(idle, stream.message())
                .await
                .map_err(|_| Status::deadline_exceeded(format!("snapshot stream idle for {idle:?}")))??;
            let Some(chunk) = next else { break };
            self.shared.check_cluster(&chunk.cluster_id)?;
            assembler.push(chunk.kind)?;
        }
        let msg = assembler.finish()?;
        self.check_recipient(&msg)?;
        tracing::debug!(from = %msg.from, bytes = msg.size_bytes(), "snapshot received");
        // Unstamped: only a leader sends snapshots, and a fenced node's
        // votes never count, so it cannot become one.
        self.shared.deliver_peer(msg, 0, self.shared.limits().request_timeout).await?;
        Ok(Response::new(pb::Ack {}))
    }
}
