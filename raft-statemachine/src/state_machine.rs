//! The [`StateMachine`] trait: what a Raft node applies committed entries to.

use std::io::{Read, Write};
use std::sync::Arc;

use raft_core::{Entry, LogIndex, SnapshotMeta};

use crate::StateMachineError;

/// A deterministic service replicated by Raft.
///
/// The runtime calls [`apply`](StateMachine::apply) with every committed
/// entry, in log order, exactly once (§5.3, State Machine Safety §5.4.3). See
/// the crate documentation for the full contract; in short:
///
/// * `apply` must be a pure function of the current state and the entry: no
///   clocks, no randomness, no local configuration that differs between
///   replicas. Otherwise replicas diverge.
/// * `apply` must reject an entry whose index is not `applied_index() + 1`
///   with [`StateMachineError::OutOfOrder`] and leave the state unchanged.
/// * An `Err` from `apply` is fatal: the runtime stops the node. It never
///   skips the entry. Outcomes that every replica agrees on (a rejected
///   command) are `Ok(Some(response))` instead.
/// * `Noop` and `Membership` entries advance the applied index and yield
///   `Ok(None)`.
/// * [`restore`](StateMachine::restore) replaces the whole state; restoring
///   the same snapshot twice gives the same state (idempotent), and a failed
///   restore leaves the state unchanged.
pub trait StateMachine: Send + 'static {
    /// The answer to a committed command, handed back to the client that
    /// proposed it.
    type Response: Clone + Send + 'static;
    /// A read request, served locally by [`query`](StateMachine::query).
    type Query: Send + 'static;
    /// The answer to a [`Self::Query`].
    type QueryResult: Send + 'static;

    /// Applies one committed entry. `entry.index` must be
    /// `applied_index() + 1`. Returns `Ok(None)` for `Noop` and `Membership`
    /// entries and `Ok(Some(_))` for every `Normal` entry (including ones the
    /// state machine rejects).
    fn apply(&mut self, entry: &Entry) -> Result<Option<Self::Response>, StateMachineError>;

    /// The index of the last applied entry (0 before anything was applied).
    fn applied_index(&self) -> LogIndex;

    /// Answers a read against the applied state. The runtime calls this only
    /// once the ReadIndex protocol (thesis §6.4) says the applied state is
    /// recent enough; the state machine itself does not check.
    fn query(&self, query: &Self::Query) -> Self::QueryResult;

    /// Streams a point-in-time snapshot of the applied state into `out` and
    /// returns its metadata: the last applied entry's id and the membership
    /// in effect there (from the last applied `Membership` entry or the last
    /// restored snapshot). The runtime hands both to storage, which compacts
    /// the log up to `meta.last_log_id` (§7).
    ///
    /// `out` receives many small writes; wrap unbuffered sinks in a
    /// `BufWriter`.
    fn snapshot(&self, out: &mut dyn Write) -> Result<SnapshotMeta, StateMachineError>;

    /// Replaces the entire state with the snapshot read from `data`, which
    /// was produced by [`snapshot`](StateMachine::snapshot) with metadata
    /// `meta`. Afterwards `applied_index() == meta.last_log_id.index`. On
    /// error the state is unchanged.
    fn restore(&mut self, meta: &SnapshotMeta, data: &mut dyn Read) -> Result<(), StateMachineError>;

    /// A checker for snapshots received from a leader, run before the
    /// runtime makes one durable: a snapshot it refuses is never installed
    /// (the node keeps its log and asks again), so one that `restore` could
    /// not read never turns into a node that cannot restart. The checker is
    /// independent of `self` so the runtime can run it on another thread.
    fn snapshot_validator(&self) -> Arc<dyn SnapshotValidator>;

    /// Convenience: [`snapshot`](StateMachine::snapshot) into a fresh buffer.
    fn snapshot_to_vec(&self) -> Result<(SnapshotMeta, Vec<u8>), StateMachineError> {
        let mut buf = Vec::new();
        let meta = self.snapshot(&mut buf)?;
        Ok((meta, buf))
    }
}

/// Checks that a snapshot is one [`StateMachine::restore`] would accept,
/// without touching any state machine (a dry-run decode). See
/// [`StateMachine::snapshot_validator`].
pub trait SnapshotValidator: Send + Sync + 'static {
    /// `Ok` if `restore(meta, data)` would succeed; otherwise why not.
    fn validate(&self, meta: &SnapshotMeta, data: &mut dyn Read) -> Result<(), StateMachineError>;
}
