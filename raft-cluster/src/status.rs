//! [`NodeStatus`]: a node's state as the node task last published it. Read
//! without a round trip to the task (a `watch` channel), which is what the
//! wait-for helpers and the admin Status RPC use.

use std::collections::BTreeMap;
use std::time::Duration;

use raft_core::{LogIndex, Membership, NodeId, Role, Term};

/// A node's state after its last loop iteration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The leader it follows in `term`, if known.
    pub leader: Option<NodeId>,
    /// The leader's address from the member list.
    pub leader_addr: Option<String>,
    /// Commit index.
    pub commit: LogIndex,
    /// Index applied to the state machine.
    pub applied: LogIndex,
    /// First index still in the log (after the snapshot).
    pub first_index: LogIndex,
    /// Last index in the log.
    pub last_index: LogIndex,
    /// Last index covered by the latest snapshot.
    pub snapshot_index: LogIndex,
    /// Current voters.
    pub voters: Vec<NodeId>,
    /// The configuration in effect (thesis §4.1: the latest in the log,
    /// committed or not), with the member addresses.
    pub membership: Membership,
    /// Log index of that configuration's entry (for one that came with a
    /// snapshot, the snapshot's index; 0 for the bootstrap one). It is
    /// committed once `commit` reaches it.
    pub config_index: LogIndex,
    /// Leader only: highest index known replicated on each member.
    pub matched: BTreeMap<NodeId, LogIndex>,
    /// Leader only: the next index it sends each member (§5.3 nextIndex).
    pub next: BTreeMap<NodeId, LogIndex>,
    /// Peers the transport holds a link to (they follow the configuration:
    /// `runtime::peers`).
    pub links: Vec<NodeId>,
    /// Peers the transport currently reports as unreachable.
    pub unreachable: Vec<NodeId>,
    /// False once the node task has stopped.
    pub running: bool,
    /// The longest turn of the node loop so far, from waking up to
    /// publishing this status: ticks, heartbeats and inbound messages wait
    /// that long. A diagnostic (issue #17): anything near the election
    /// timeout costs a leader its followers.
    pub longest_stall: Duration,
    /// This node's data directory incarnation (see `raft_storage`).
    pub incarnation: u64,
    /// The incarnation remembered for each peer it has heard from.
    pub peer_incarnations: BTreeMap<NodeId, u64>,
    /// Raft messages dropped because their sender's incarnation differed
    /// from the remembered one (a wiped and restarted peer).
    pub fenced_messages: u64,
}

impl NodeStatus {
    /// The status of a node that has not run yet.
    pub fn initial(id: NodeId) -> Self {
        NodeStatus {
            id,
            role: Role::Follower,
            term: Term(0),
            leader: None,
            leader_addr: None,
            commit: LogIndex(0),
            applied: LogIndex(0),
            first_index: LogIndex(1),
            last_index: LogIndex(0),
            snapshot_index: LogIndex(0),
            voters: Vec::new(),
            membership: Membership::default(),
            config_index: LogIndex(0),
            matched: BTreeMap::new(),
            next: BTreeMap::new(),
            links: Vec::new(),
            unreachable: Vec::new(),
            running: true,
            longest_stall: Duration::ZERO,
            incarnation: 0,
            peer_incarnations: BTreeMap::new(),
            fenced_messages: 0,
        }
    }

    /// True if the node is leader.
    pub fn is_leader(&self) -> bool {
        self.running && self.role == Role::Leader
    }
}
