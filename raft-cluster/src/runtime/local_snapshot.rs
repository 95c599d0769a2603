//! Taking a snapshot without stalling the node (issue #17, point 4).
//!
//! Serializing the whole state, writing and fsyncing it and compacting the
//! log take time in proportion to the state; on the node task they would
//! hold back ticks and heartbeats, and a large enough state would cost the
//! leader its followers. So the node task only freezes the state (the state
//! machine's [`NodeStateMachine::snapshot_job`]) and hands the job to a
//! blocking thread, which serializes it and lets the store write the
//! snapshot and compact the log. The loop hears back "snapshot done at
//! index X" and reports it.
//!
//! One snapshot is taken at a time; a hint arriving meanwhile is skipped
//! (the core hints again once the log has grown another threshold). A
//! failed snapshot is not fatal: the store keeps the previous snapshot and
//! the whole log, so nothing is lost (a broken disk fails the next write).

use std::sync::Arc;

use raft_core::{LogId, LogIndex, Term};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::task::NodeTask;
use crate::error::ClusterError;
use crate::event::EventKind;
use crate::fsm::NodeStateMachine;

/// A finished snapshot job.
pub(crate) struct SnapshotDone {
    index: LogIndex,
    term: Term,
    /// The snapshot's size in bytes, or why it failed.
    result: Result<u64, String>,
}

/// The node task's side of local snapshots.
pub(crate) struct LocalSnapshots {
    done: mpsc::Sender<SnapshotDone>,
    /// The index of the snapshot being taken. Invariant: at most one job runs.
    in_flight: Option<LogIndex>,
    /// The index of the last snapshot taken or found at start.
    last: LogIndex,
}

/// Capacity of the channel of finished jobs (one runs at a time).
pub(crate) const SNAPSHOT_DONE_CAPACITY: usize = 1;

impl LocalSnapshots {
    /// Jobs report on `done`; `last` is the store's snapshot index at start.
    pub(crate) fn new(done: mpsc::Sender<SnapshotDone>, last: LogIndex) -> Self {
        LocalSnapshots { done, in_flight: None, last }
    }
}

impl<M: NodeStateMachine> NodeTask<M> {
    /// Starts a snapshot of the state machine at its applied index (§7),
    /// unless one is running or nothing new was applied.
    pub(crate) fn start_snapshot(&mut self) -> Result<(), ClusterError> {
        let index = self.sm.applied_index();
        if self.local_snapshots.in_flight.is_some() || index <= self.local_snapshots.last {
            debug!(parent: &self.span, %index, "snapshot hint skipped: one is running or nothing new was applied");
            return Ok(());
        }
        let term = self.store.term(index).map_err(|e| ClusterError::Storage(format!("term of {index}: {e}")))?;
        let job = self.sm.snapshot_job().map_err(ClusterError::StateMachine)?;
        let membership = self.applied_membership.clone();
        let store = Arc::clone(&self.store);
        let done = self.local_snapshots.done.clone();
        self.local_snapshots.in_flight = Some(index);
        tokio::task::spawn_blocking(move || {
            let run = || {
                let data = job()?;
                let bytes = data.len() as u64;
                store.create_snapshot(index, membership, data).map_err(|e| e.to_string())?;
                Ok(bytes)
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|_| Err("the snapshot job panicked".to_string()));
            // Fails only if the node has stopped.
            let _ = done.blocking_send(SnapshotDone { index, term, result });
        });
        Ok(())
    }

    /// A snapshot job finished.
    pub(crate) fn on_snapshot_done(&mut self, done: SnapshotDone) {
        self.local_snapshots.in_flight = None;
        let last_log_id = LogId::new(done.term, done.index);
        match done.result {
            Ok(bytes) => {
                self.local_snapshots.last = self.local_snapshots.last.max(done.index);
                info!(parent: &self.span, %last_log_id, bytes, "snapshot taken, log compacted");
                self.metrics.snapshot_taken(bytes);
                self.emit(EventKind::SnapshotTaken { last_log_id, bytes });
            }
            Err(e) => warn!(parent: &self.span, %last_log_id, error = %e, "snapshot failed; keeping the log"),
        }
    }
}
