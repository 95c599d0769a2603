//! The structured event stream a node publishes on a tokio broadcast
//! channel: the admin Watch RPC, the demo narration and the tests all read
//! it instead of scraping logs.

use raft_core::{LogId, LogIndex, NodeId, Role, Term};

/// Something observable that happened on node `node` while it was in term
/// `term`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEvent {
    /// The node that reports the event.
    pub node: NodeId,
    /// The node's term when it happened.
    pub term: Term,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`NodeEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The node started (or restarted) and recovered its state.
    Started {
        /// Commit index recovered from disk.
        commit: LogIndex,
        /// Index the state machine was restored to (its snapshot).
        applied: LogIndex,
    },
    /// The node's election timer fired and it started a (pre-)election.
    ElectionStarted {
        /// The term campaigned for (for a pre-vote: the term the node would
        /// take if it wins; its own term is unchanged).
        term: Term,
        /// A pre-vote round, which does not raise the term.
        pre_vote: bool,
    },
    /// The node won an election (§5.2).
    LeaderElected {
        /// Who voted for it, itself included.
        votes: Vec<NodeId>,
    },
    /// The node's term changed.
    TermChanged {
        /// The previous term.
        from: Term,
    },
    /// The node's role or known leader changed.
    RoleChanged {
        /// The new role.
        role: Role,
        /// The leader it now follows, if known.
        leader: Option<NodeId>,
    },
    /// The leader began handing leadership to `to` (thesis §3.10).
    LeaderTransfer {
        /// The transferee.
        to: NodeId,
    },
    /// A leader lost contact with a quorum and stepped down (CheckQuorum).
    LostQuorum,
    /// The commit index advanced.
    Committed {
        /// New commit index.
        index: LogIndex,
        /// Term of the entry at that index.
        entry_term: Term,
    },
    /// Entries up to `index` were applied to the state machine.
    Applied {
        /// New applied index.
        index: LogIndex,
    },
    /// The node snapshotted its state machine and compacted its log.
    SnapshotTaken {
        /// Last entry covered by the snapshot.
        last_log_id: LogId,
        /// Size of the snapshot data.
        bytes: u64,
    },
    /// The node installed a snapshot received from the leader.
    SnapshotInstalled {
        /// Last entry covered by the snapshot.
        last_log_id: LogId,
    },
    /// A snapshot from `from` failed its check (its data does not decode
    /// as a snapshot at `last_log_id`) and was dropped before anything was
    /// made durable: the node keeps its log and the leader sends again.
    SnapshotRejected {
        /// The sender.
        from: NodeId,
        /// Where the snapshot claimed to sit in the log.
        last_log_id: LogId,
        /// Why it was refused.
        reason: String,
    },
    /// Messages to `peer` are flowing again.
    PeerUp {
        /// The peer.
        peer: NodeId,
    },
    /// A message to `peer` could not be delivered.
    PeerDown {
        /// The peer.
        peer: NodeId,
    },
    /// The node stopped; `reason` says why (shutdown or a fatal error).
    Stopped {
        /// Human-readable cause.
        reason: String,
    },
}
