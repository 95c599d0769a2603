//! A node's self-description for the Admin `Status` call.

use raft_core::{LogIndex, NodeId, Role, Term};

/// What a node reports about itself and the members it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The node's id.
    pub id: NodeId,
    /// Its address (`host:port`).
    pub address: String,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The leader it knows of in `term`.
    pub leader: Option<NodeId>,
    /// Its commit index.
    pub commit: LogIndex,
    /// Its applied index.
    pub applied: LogIndex,
    /// The first index still in its log.
    pub first_index: LogIndex,
    /// Its last log index.
    pub last_index: LogIndex,
    /// Every member of its current configuration.
    pub members: Vec<MemberStatus>,
    /// Its data directory's incarnation (0 if it did not say).
    pub incarnation: u64,
    /// The incarnation it remembers for each peer it has heard from.
    pub peer_incarnations: Vec<(NodeId, u64)>,
}

/// One member as seen by the reporting node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// The member's id.
    pub id: NodeId,
    /// Its address, if known (empty otherwise).
    pub address: String,
    /// A voter (true) or a learner.
    pub voter: bool,
    /// The leader's view of its highest replicated index (leaders only).
    pub matched: Option<LogIndex>,
    /// The next index the leader will send it (leaders only).
    pub next: Option<LogIndex>,
}
