//! [`NodeStateMachine`]: what the runtime needs from the application state
//! machine. The KV store from `raft-statemachine` implements it through a
//! thin adapter; tests can plug in anything smaller.

use std::io::Read;
use std::sync::Arc;

use raft_core::{Entry, LogIndex, SnapshotMeta};

/// Checks a snapshot's data, read from the reader (a staged file or the
/// received bytes), against its meta the way [`NodeStateMachine::restore`]
/// would read it, without any state machine (so it can run off the node
/// task). `Err` says why it was refused.
pub type SnapshotCheck = Arc<dyn Fn(&SnapshotMeta, &mut dyn Read) -> Result<(), String> + Send + Sync>;

/// Serializes a frozen copy of the state (see
/// [`NodeStateMachine::snapshot_job`]); runs on a blocking thread.
pub type SnapshotJob = Box<dyn FnOnce() -> Result<Vec<u8>, String> + Send>;

/// Builds a machine holding a snapshot's state, read from the reader (see
/// [`NodeStateMachine::restore_job`]); runs on a blocking thread.
pub type RestoreJob<M> = Box<dyn FnOnce(&SnapshotMeta, &mut dyn Read) -> Result<M, String> + Send>;

/// The application the log drives. Entries arrive in index order, exactly
/// once per node lifetime (entries at or below [`Self::applied_index`] are
/// skipped by the runtime, so a restore followed by a replay is safe).
pub trait NodeStateMachine: Send + 'static {
    /// The answer to one applied write.
    type Response: Clone + Send + 'static;
    /// A read.
    type Query: Send + 'static;
    /// The answer to a read.
    type QueryResult: Send + 'static;

    /// Applies a committed entry; `None` for entries without a client answer
    /// (no-ops, membership changes). Must advance [`Self::applied_index`] to
    /// `entry.index`. An error is fatal: the node stops rather than skip
    /// the entry (a replica that skipped one would diverge). Outcomes every
    /// replica computes the same way (a malformed command) are responses.
    fn apply(&mut self, entry: &Entry) -> Result<Option<Self::Response>, String>;
    /// The last applied index (0 for a fresh machine).
    fn applied_index(&self) -> LogIndex;
    /// Answers a read from local state (the runtime decides when that is
    /// linearizable, §6.4).
    fn query(&self, query: &Self::Query) -> Self::QueryResult;
    /// Freezes the state as of [`Self::applied_index`] and returns the job
    /// that serializes it. Called on the node task, so the freeze must be
    /// cheap next to serializing (a copy of the state, or a
    /// copy-on-write handle); the job runs on a blocking thread while the
    /// node keeps applying entries.
    fn snapshot_job(&self) -> Result<SnapshotJob, String>;
    /// Replaces the whole state with a snapshot's, read from `data` (the
    /// store's snapshot file, through a buffer: a follower never holds a
    /// received snapshot in memory as a whole).
    fn restore(&mut self, meta: &SnapshotMeta, data: &mut dyn Read) -> Result<(), String>;
    /// The job that builds a machine holding a snapshot's state, as
    /// [`Self::restore`] would make this one. The runtime runs it on a
    /// blocking thread when a snapshot arrives from the leader and swaps the
    /// result in, so reading a large state ties up no async worker thread
    /// (issue #17). Called on the node task, so it must be cheap (capture
    /// the configuration, or a cheap clone).
    fn restore_job(&self) -> RestoreJob<Self>
    where
        Self: Sized;
    /// The check a snapshot from the leader must pass before the runtime
    /// hands it to the core, which would make it durable and drop the log:
    /// a snapshot `restore` cannot read must be refused here, or the node
    /// could never restart.
    fn snapshot_check(&self) -> SnapshotCheck;
}
