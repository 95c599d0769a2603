//! [`Ready`]: everything the runtime must do for the node, in order.

use crate::message::Message;
use crate::types::{Entry, HardState, LogIndex, NodeId, Role, Snapshot, Term};

/// A ReadIndex request whose leadership check has passed (§6.4). The runtime
/// may answer the read identified by `ctx` from its state machine as soon as
/// it has applied up to `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// The caller's token from [`crate::RaftNode::read_index`].
    pub ctx: u64,
    /// The commit index at the time the read arrived.
    pub index: LogIndex,
}

/// Volatile state worth reporting when it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    /// The node's role.
    pub role: Role,
    /// The leader it knows of in its current term.
    pub leader: Option<NodeId>,
    /// Its current term.
    pub term: Term,
}

/// Something that happened inside the node, for narration and monitoring.
/// Events carry no instructions; ignoring them is always safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The node's election timer fired and it started a (pre-)election.
    ElectionStarted {
        /// The term campaigned in (for pre-vote: the term it would take).
        term: Term,
        /// A pre-vote round, which does not raise the term.
        pre_vote: bool,
    },
    /// The node won an election.
    BecameLeader {
        /// Its new term.
        term: Term,
        /// Who voted for it (itself included).
        votes: Vec<NodeId>,
    },
    /// The node stepped down or learned of a new term.
    BecameFollower {
        /// Its term.
        term: Term,
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// A leader stepped down because it lost contact with a quorum
    /// (CheckQuorum).
    LostQuorum {
        /// The term it led.
        term: Term,
    },
    /// The commit index advanced.
    Committed {
        /// New commit index.
        index: LogIndex,
        /// Term of the entry at that index.
        term: Term,
    },
    /// A leader transfer began.
    TransferStarted {
        /// Transferee.
        to: NodeId,
    },
}

/// The batch of work the node hands to the runtime. Handle it in this order,
/// then call [`crate::RaftNode::advance`] with it:
///
/// 1. if `snapshot` is set, install it into storage (it replaces the log
///    up to its index; a stored suffix may be kept if the stored entry at
///    that index has the snapshot's term, Figure 13 rule 6, or dropped: the
///    core works with either, deleting what it must via `truncate_from` in
///    the same Ready) and restore the state machine from it;
/// 2. append `entries` to storage, first deleting every stored entry with
///    index ≥ `truncate_from` (when set); save `hard_state` (when set) —
///    all in one durable write when `must_sync`;
/// 3. send `messages` (these may be sent before step 2 completes);
/// 4. send `persisted_messages` — only after step 2 is durable (votes and
///    append acknowledgements promise that data is on disk, §5.1 / thesis §3.8);
/// 5. apply `committed_entries` to the state machine in order (they are
///    already durable, or become so in step 2);
/// 6. answer each of `read_states` once the state machine has applied its
///    index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// New hard state to persist, if it changed.
    pub hard_state: Option<HardState>,
    /// Changed soft state (role, leader, term), for reporting only.
    pub soft_state: Option<SoftState>,
    /// A snapshot received from the leader, to install before anything else.
    pub snapshot: Option<Snapshot>,
    /// Stored entries at or after this index must be deleted before
    /// `entries` are appended (a conflicting suffix, §5.3, or a suffix the
    /// store kept after `snapshot`). Only set together with `entries`, and
    /// then always equal to `entries[0].index`.
    pub truncate_from: Option<LogIndex>,
    /// Entries to append to durable storage.
    pub entries: Vec<Entry>,
    /// Messages that may go out at once.
    pub messages: Vec<Message>,
    /// Messages that must wait until this Ready's writes are durable.
    pub persisted_messages: Vec<Message>,
    /// Committed entries to apply, in index order.
    pub committed_entries: Vec<Entry>,
    /// Reads whose leadership check passed.
    pub read_states: Vec<ReadState>,
    /// Set when the applied log has grown past the configured snapshot
    /// threshold: the application should snapshot its state at this index
    /// (at most its applied index) and compact the log.
    pub snapshot_hint: Option<LogIndex>,
    /// Whether step 2 must be fsynced (false when only the commit index
    /// moved, which can be recovered).
    pub must_sync: bool,
    /// What happened, for narration.
    pub events: Vec<Event>,
}

impl Ready {
    /// True if nothing needs doing.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.soft_state.is_none()
            && self.snapshot.is_none()
            && self.truncate_from.is_none()
            && self.entries.is_empty()
            && self.messages.is_empty()
            && self.persisted_messages.is_empty()
            && self.committed_entries.is_empty()
            && self.read_states.is_empty()
            && self.snapshot_hint.is_none()
            && self.events.is_empty()
    }
}
