//! Snapshots from the leader are checked before the core sees them, and
//! installed from the file they were received into.
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
//! A snapshot the gRPC server staged to a file (a RocksDB node) arrives with
//! that [`StagedSnapshot`] and an empty message body: the check reads the
//! file, and the file waits here, keyed by the snapshot's id, for the Ready
//! that installs it, which renames it into the store
//! ([`NodeStore::install_staged`](crate::store::NodeStore::install_staged)).
//! The follower never holds the snapshot in memory. A staged file the core
//! did not take in that Ready (stale, or deferred by the core) is dropped,
//! which deletes it.
//!
//! One check runs at a time (a leader sends one snapshot at a time to a
//! peer); another snapshot arriving meanwhile is dropped, and the leader
//! retries.

use std::io::BufReader;

use raft_core::{LogId, Message, MessageBody, NodeId};
use raft_rpc::StagedSnapshot;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::task::NodeTask;
use crate::error::ClusterError;
use crate::event::EventKind;
use crate::fsm::{NodeStateMachine, SnapshotCheck};
use crate::snapshot_read::{VerifiedReader, RESTORE_BUFFER_BYTES};

/// A snapshot message, its staged data if any, and the outcome of its check.
pub(crate) struct Checked {
    msg: Message,
    staged: Option<StagedSnapshot>,
    verdict: Result<(), String>,
}

/// The node task's side of the checks.
pub(crate) struct InboundSnapshots {
    check: SnapshotCheck,
    /// Where finished checks go (the node loop reads the other end).
    done: mpsc::Sender<Checked>,
    /// A check is running. Invariant: at most one `Checked` is in flight.
    busy: bool,
    /// The staged data of the snapshot last stepped into the core, until
    /// the Ready that follows installs it (or shows the core ignored it).
    staged: Option<(LogId, StagedSnapshot)>,
}

impl InboundSnapshots {
    /// Checks run with `check` and report on `done`.
    pub(crate) fn new(check: SnapshotCheck, done: mpsc::Sender<Checked>) -> Self {
        InboundSnapshots { check, done, busy: false, staged: None }
    }

    /// The staged data of the snapshot `id`, if the core's Ready installs
    /// the one that was staged. Any other staged file is dropped (deleted).
    pub(crate) fn take_staged(&mut self, id: LogId) -> Option<StagedSnapshot> {
        match self.staged.take() {
            Some((staged_id, staged)) if staged_id == id => Some(staged),
            _ => None,
        }
    }

    /// Drops a staged file the core did not install in the Readies that
    /// followed its step.
    pub(crate) fn discard_unused(&mut self) {
        if let Some((id, _)) = self.staged.take() {
            debug!(%id, "staged snapshot not taken by the core; deleted");
        }
    }
}

/// Capacity of the channel of finished checks (one runs at a time).
pub(crate) const CHECKED_CAPACITY: usize = 1;

impl<M: NodeStateMachine> NodeTask<M> {
    /// Starts checking an InstallSnapshot message (its data in the message
    /// or in `staged`) off the node task; the result comes back through
    /// [`Self::on_snapshot_checked`].
    pub(crate) fn check_snapshot(&mut self, msg: Message, staged: Option<StagedSnapshot>) -> Result<(), ClusterError> {
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
            let verdict = run_check(&check, &msg, staged.as_ref());
            // Fails only if the node has stopped.
            let _ = done.blocking_send(Checked { msg, staged, verdict });
        });
        Ok(())
    }

    /// A check finished: a snapshot that passed goes to the core (its
    /// staged file kept for the install), one that failed is dropped with a
    /// `SnapshotRejected` event.
    pub(crate) fn on_snapshot_checked(&mut self, checked: Checked) -> Result<(), ClusterError> {
        self.inbound_snapshots.busy = false;
        let Checked { msg, staged, verdict } = checked;
        let (from, last_log_id) = snapshot_origin(&msg);
        match verdict {
            Ok(()) => {
                self.inbound_snapshots.staged = staged.map(|s| (last_log_id, s));
                self.raft.step(msg).map_err(|e| ClusterError::Core(e.to_string()))
            }
            Err(reason) => {
                warn!(parent: &self.span, %from, %last_log_id, %reason, "snapshot refused; keeping the log");
                self.emit(EventKind::SnapshotRejected { from, last_log_id, reason });
                Ok(())
            }
        }
    }
}

/// Runs `check` on `msg`'s snapshot, read from `staged` if given (its
/// length and CRC-32 verified again on the way, against a file changed on
/// disk since it was received); a check that panics refuses it (the node
/// must still hear back, or it would never check another snapshot).
fn run_check(check: &SnapshotCheck, msg: &Message, staged: Option<&StagedSnapshot>) -> Result<(), String> {
    let MessageBody::InstallSnapshot(is) = &msg.body else {
        return Err("not an InstallSnapshot message".to_string());
    };
    let meta = &is.snapshot.meta;
    let run = || match staged {
        Some(s) => {
            let file = s.open().map_err(|e| format!("cannot open the staged snapshot {}: {e}", s.path().display()))?;
            let buffered = BufReader::with_capacity(RESTORE_BUFFER_BYTES, file);
            let mut data = VerifiedReader::new(buffered, s.len(), s.crc32());
            check(meta, &mut data)?;
            data.finish().map_err(|e| e.to_string())
        }
        None => {
            let mut data: &[u8] = &is.snapshot.data;
            check(meta, &mut data)
        }
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err("the snapshot check panicked".to_string()))
}

fn snapshot_origin(msg: &Message) -> (NodeId, LogId) {
    match &msg.body {
        MessageBody::InstallSnapshot(is) => (msg.from, is.snapshot.meta.last_log_id),
        _ => (msg.from, LogId::default()),
    }
}
