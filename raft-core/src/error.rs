//! Errors returned by the node's API.

use crate::config::ConfigError;
use crate::storage::StorageError;
use crate::types::{LogIndex, NodeId, Term};

/// Why a proposal, read or transfer was refused. None of these change any
/// state; the caller may retry (elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// Only the leader accepts proposals and reads.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader this node believes in, if any.
        leader: Option<NodeId>,
    },
    /// The leader is handing over leadership and refuses new work meanwhile.
    #[error("leader transfer to {to} in progress")]
    TransferInProgress {
        /// The transferee.
        to: NodeId,
    },
    /// The payload is larger than `Config::max_entry_bytes`.
    #[error("entry of {size} bytes exceeds the limit of {limit} bytes")]
    EntryTooLarge {
        /// Payload size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Too many uncommitted bytes are pending (`Config::max_uncommitted_bytes`).
    #[error("too many uncommitted bytes ({pending}); retry later")]
    Backpressure {
        /// Uncommitted bytes pending.
        pending: u64,
    },
    /// A membership change is already in flight (only one at a time).
    #[error("a membership change at index {pending} is not yet committed")]
    MembershipChangePending {
        /// Index of the pending change.
        pending: LogIndex,
    },
    /// A membership change was proposed before the leader committed an
    /// entry of its own term (its no-op). Until then an uncommitted change
    /// of an earlier leader may still win, and two single-server changes
    /// could overlap without a common quorum (thesis §4.1, Ongaro's
    /// raft-dev erratum). Retry once the leader's first entry commits.
    #[error("membership change refused: the leader has not yet committed an entry of its term {term}; retry shortly")]
    NotCommittedInTerm {
        /// The leader's term.
        term: Term,
    },
    /// A membership change would make `id` a voter, but it is not a
    /// learner: new servers join as learners and are promoted once caught
    /// up (thesis §4.2.1).
    #[error("{id} must first be added as a learner and catch up before it can become a voter")]
    NotALearner {
        /// The would-be voter.
        id: NodeId,
    },
    /// A membership change would promote learner `id`, but its log is
    /// more than `Config::max_promote_lag` entries behind the leader's:
    /// as a voter it would stall commits while catching up (thesis
    /// §4.2.1). Wait for it to catch up and retry.
    #[error("learner {id} is not caught up (matched {matched}, leader's last index {last}); wait and retry")]
    NotCaughtUp {
        /// The learner.
        id: NodeId,
        /// Its match index as the leader knows it.
        matched: LogIndex,
        /// The leader's last index.
        last: LogIndex,
    },
    /// The request itself is invalid (unknown transferee, empty voter set…).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// A fatal error: the node cannot continue safely and must be stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Reading durable state failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}
