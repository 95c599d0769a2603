//! Sending snapshots without stalling the node (issue #17, point 4).
//!
//! The core addresses an InstallSnapshot with the snapshot's meta only (the
//! runtime's [`crate::store::SharedStore`] never reads snapshot data for
//! it). The node task hands the message to a task of its own, which opens
//! the store's current snapshot on a blocking thread and gives the open
//! data to the transport: the gRPC transport streams it from disk in chunks
//! (bounded memory), an in-process transport reads it into the message.
//!
//! At most [`MAX_CONCURRENT_SNAPSHOT_SENDS`] transfers run at once. A
//! transfer refused for lack of a slot is reported as failed at once: the
//! core probes the follower again and resends on a later heartbeat.

use std::sync::Arc;

use raft_core::{Message, MessageBody};
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use super::task::NodeTask;
use crate::fsm::NodeStateMachine;
use crate::store::SnapshotData;

/// Most snapshot transfers a node runs at once. Each holds an open snapshot
/// file, a blocking thread reading it and, over gRPC, at most
/// `raft_rpc::READ_AHEAD_CHUNKS + 1` chunks in memory; the limit keeps a
/// leader with many lagging followers from saturating its disk and network
/// (and its blocking threads) at the expense of heartbeats.
pub const MAX_CONCURRENT_SNAPSHOT_SENDS: usize = 2;

/// The slots of running transfers.
pub(crate) fn snapshot_send_slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_CONCURRENT_SNAPSHOT_SENDS))
}

impl<M: NodeStateMachine> NodeTask<M> {
    /// Sends `msg`; an InstallSnapshot goes off the node task.
    pub(crate) fn send_message(&self, msg: Message) {
        if matches!(msg.body, MessageBody::InstallSnapshot(_)) {
            self.send_snapshot(msg);
        } else {
            self.transport.send(msg, &self.reporter);
        }
    }

    fn send_snapshot(&self, msg: Message) {
        let to = msg.to;
        let Ok(slot) = Arc::clone(&self.snapshot_sends).try_acquire_owned() else {
            debug!(parent: &self.span, %to, "snapshot transfer deferred: {MAX_CONCURRENT_SNAPSHOT_SENDS} already running");
            self.reporter.snapshot_status(to, false);
            return;
        };
        let (store, transport, reporter) =
            (Arc::clone(&self.store), Arc::clone(&self.transport), self.reporter.clone());
        let metrics = Arc::clone(&self.metrics);
        let span = self.span.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::task::spawn_blocking(move || store.open_snapshot()).await {
                Ok(Ok(data)) => {
                    let msg = with_meta_of(msg, &data);
                    metrics.snapshot_sent(data.len);
                    transport.send_snapshot(msg, data, &reporter).await;
                }
                Ok(Err(e)) => {
                    warn!(parent: &span, %to, error = %e, "cannot open the snapshot to send");
                    reporter.snapshot_status(to, false);
                }
                Err(e) => {
                    warn!(parent: &span, %to, error = %e, "opening the snapshot to send failed");
                    reporter.snapshot_status(to, false);
                }
            }
        });
    }
}

/// The message describes the snapshot actually opened: a newer one may have
/// replaced the one the core addressed, and the receiver checks data
/// against meta. (The core accepts an answer for a newer snapshot.)
fn with_meta_of(mut msg: Message, data: &SnapshotData) -> Message {
    if let MessageBody::InstallSnapshot(is) = &mut msg.body {
        is.snapshot.meta = data.meta.clone();
        is.snapshot.data = Vec::new();
    }
    msg
}
