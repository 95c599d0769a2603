//! A read-only snapshot of a node's state, for monitoring, admin APIs and
//! tests.

use std::collections::BTreeMap;

use crate::progress::ProgressState;
use crate::types::{LogIndex, Membership, NodeId, Role, Term};

/// What a leader knows about one member's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerProgress {
    /// Highest index known to match the leader's log.
    pub matched: LogIndex,
    /// Next index the leader will send.
    pub next: LogIndex,
    /// Flow-control state.
    pub state: ProgressState,
    /// The member rejected an append at or below `matched`: it no longer
    /// holds entries it acknowledged (a lost or replaced disk, a write that
    /// was acknowledged before it was durable), or, on a network that
    /// reorders, the rejection is older than the acknowledgement. The leader
    /// never moves `matched` back (that is what keeps commitment safe), so
    /// it ignores such rejections and cannot repair that member: the
    /// runtime should warn (its incarnation fence keeps a wiped server out
    /// in the first place). Cleared when `matched` grows.
    pub log_lost: bool,
    /// Appends sent and not yet acknowledged (§10.2.1 pipelining; bounded
    /// by `Config::max_inflight_msgs`).
    pub inflight_messages: usize,
    /// Entry bytes of those appends (bounded by `Config::max_inflight_bytes`).
    pub inflight_bytes: u64,
}

/// The node's state at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The leader it knows of in `term`.
    pub leader: Option<NodeId>,
    /// Whom it voted for in `term`.
    pub vote: Option<NodeId>,
    /// Commit index.
    pub commit: LogIndex,
    /// Highest index handed to the state machine and acknowledged by
    /// `advance`.
    pub applied: LogIndex,
    /// First index still in the log.
    pub first_index: LogIndex,
    /// Last index in the log (durable or not).
    pub last_index: LogIndex,
    /// Term of the entry at `last_index` (of the snapshot if the log is
    /// empty after it): with it, `(last_term, last_index)` is what a vote
    /// request compares (§5.4.1). `Term(0)` if the store cannot be read.
    pub last_term: Term,
    /// The node campaigns when its election timer fires: it is a voter of
    /// its configuration, or of the one before while the latest is not yet
    /// committed (thesis §4.2.2). Learners, removed nodes and nodes that
    /// know no configuration never do.
    pub promotable: bool,
    /// The effective membership (latest in the log, thesis §4.1). While a
    /// change of voters runs it is joint ([`Membership::is_joint`]): its
    /// `outgoing` voters are those being replaced (thesis §4.3).
    pub membership: Membership,
    /// False while the entry holding `membership` is not yet committed: a
    /// change is in flight and another one would be refused.
    pub membership_committed: bool,
    /// Per-member progress; empty unless the node leads. Includes the
    /// leader itself (its durable last index).
    pub progress: BTreeMap<NodeId, PeerProgress>,
}
