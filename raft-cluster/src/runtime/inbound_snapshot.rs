//! Snapshots from the leader are checked before the core sees them.
//!
//! Once the core accepts an InstallSnapshot, the next Ready makes it durable
//! and drops the log (Figure 13, rules 6–7); only then would the state
//! machine read it. A snapshot it cannot read would then be a node that
//! fails on every restart, with no log to fall back on (issue #17). So the
//! runtime first runs the state machine's [`SnapshotCheck`] (a dry-run
//! decode) on a blocking thread, leaving the node loop free to tick and
//! answer heartbeats, and steps the message into the core only if it passes.
//! A refused snapshot is dropped: the node keeps its log, and the leader,
//! whose follow-up probe fails, sends a snapshot again.
//!
//! One check runs at a time (a leader sends one snapshot at a time to a
//! peer); another snapshot arriving meanwhile is dropped, and the leader
//! retries.

use raft_core::{Message, MessageBody, NodeId};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::task::NodeTask;
use crate::error::ClusterError;
use crate::event::EventKind;
use crate::fsm::{NodeStateMachine, SnapshotCheck};

/// A snapshot message and the outcome of its check.
pub(crate) struct Checked {
    msg: Message,
    verdict: Result<(), String>,
}

/// The node task's side of the checks.
pub(crate) struct InboundSnapshots {
    check: SnapshotCheck,
    /// Where finished checks go (the node loop reads the other end).
    done: mpsc::Sender<Checked>,
    /// A check is running. Invariant: at most one `Checked` is in flight.
    busy: bool,
}

impl InboundSnapshots {
    /// Checks run with `check` and report on `done`.
    pub(crate) fn new(check: SnapshotCheck, done: mpsc::Sender<Checked>) -> Self {
        InboundSnapshots { check, done, busy: false }
    }
}

/// Capacity of the channel of finished checks (one runs at a time).
pub(crate) const CHECKED_CAPACITY: usize = 1;

impl<M: NodeStateMachine> NodeTask<M> {
    /// Starts checking an InstallSnapshot message off the node task; the
    /// result comes back through [`Self::on_snapshot_checked`].
    pub(crate) fn check_snapshot(&mut self, msg: Message) -> Result<(), ClusterError> {
        let (_, last_log_id) = snapshot_origin(&msg);
        if last_log_id.index <= self.raft.status().commit {
            // Stale: the core ignores its data and tells the leader how far
            // this node has committed.
            return self.raft.step(msg).map_err(|e| ClusterError::Core(e.to_string()));
        }
        if self.inbound_snapshots.busy {
            debug!(parent: &self.span, from = %msg.from, "snapshot dropped: another one is being checked");
            return Ok(());
        }
        self.inbound_snapshots.busy = true;
        let check = self.inbound_snapshots.check.clone();
        let done = self.inbound_snapshots.done.clone();
        tokio::task::spawn_blocking(move || {
            let verdict = run_check(&check, &msg);
            // Fails only if the node has stopped.
            let _ = done.blocking_send(Checked { msg, verdict });
        });
        Ok(())
    }

    /// A check finished: a snapshot that passed goes to the core, one that
    /// failed is dropped with a `SnapshotRejected` event.
    pub(crate) fn on_snapshot_checked(&mut self, checked: Checked) -> Result<(), ClusterError> {
        self.inbound_snapshots.busy = false;
        let Checked { msg, verdict } = checked;
        match verdict {
            Ok(()) => self.raft.step(msg).map_err(|e| ClusterError::Core(e.to_string())),
            Err(reason) => {
                let (from, last_log_id) = snapshot_origin(&msg);
                warn!(parent: &self.span, %from, %last_log_id, %reason, "snapshot refused; keeping the log");
                self.emit(EventKind::SnapshotRejected { from, last_log_id, reason });
                Ok(())
            }
        }
    }
}

/// Runs `check` on `msg`'s snapshot; a check that panics refuses it (the
/// node must still hear back, or it would never check another snapshot).
fn run_check(check: &SnapshotCheck, msg: &Message) -> Result<(), String> {
    let MessageBody::InstallSnapshot(is) = &msg.body else {
        return Err("not an InstallSnapshot message".to_string());
    };
    let run = || check(&is.snapshot.meta, &is.snapshot.data);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err("the snapshot check panicked".to_string()))
}

fn snapshot_origin(msg: &Message) -> (NodeId, raft_core::LogId) {
    match &msg.body {
        MessageBody::InstallSnapshot(is) => (msg.from, is.snapshot.meta.last_log_id),
        _ => (msg.from, raft_core::LogId::default()),
    }
}
