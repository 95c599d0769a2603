//! What the narrator hears about: process lifecycle from the supervisor,
//! chaos actions, Raft activity from the nodes' Watch streams and periodic
//! status snapshots. Keeping this one small enum between the sources and the
//! narrator lets the narration be tested without processes or sockets.

use std::time::Duration;

/// A node id as the demo prints it.
pub type NodeNum = u64;

/// One thing the narrator may tell the user about.
#[derive(Clone, Debug, PartialEq)]
pub enum DemoEvent {
    /// A node process started (first time or after a crash).
    Spawned {
        /// Node id.
        node: NodeNum,
        /// OS process id.
        pid: u32,
        /// Its gRPC address.
        addr: String,
        /// True when this is a restart.
        restart: bool,
    },
    /// A node process exited.
    Exited {
        /// Node id.
        node: NodeNum,
        /// OS process id it had.
        pid: u32,
        /// How it ended ("killed by SIGKILL", "exit status 1").
        how: String,
        /// True when the demo itself stopped it (chaos or shutdown).
        by_demo: bool,
    },
    /// The supervisor will restart a node after a delay.
    RestartScheduled {
        /// Node id.
        node: NodeNum,
        /// The delay.
        after: Duration,
    },
    /// A node process was frozen with SIGSTOP.
    Paused {
        /// Node id.
        node: NodeNum,
        /// How long it stays frozen.
        span: Duration,
    },
    /// A frozen node got SIGCONT.
    Resumed {
        /// Node id.
        node: NodeNum,
    },
    /// The leader was cut off from `others` (Admin `SetPartition` on every
    /// node) for `span`.
    Partitioned {
        /// The isolated node (the leader when it was cut off).
        node: NodeNum,
        /// The nodes on the other side.
        others: Vec<NodeNum>,
        /// How long the cut lasts.
        span: Duration,
    },
    /// Every node was told to heal; the isolated `node` rejoins.
    PartitionHealed {
        /// The node that had been cut off.
        node: NodeNum,
    },
    /// The chaos schedule is about to act (already described in words).
    Chaos(String),
    /// A step of the `--members` tour (already described in words).
    Members(String),
    /// Raft activity reported by a node.
    Activity {
        /// The node that reported it.
        node: NodeNum,
        /// What happened.
        kind: Activity,
    },
    /// A status poll of every node.
    Status(Vec<StatusRow>),
    /// The workload's running totals.
    Workload {
        /// Writes acknowledged so far.
        acked: u64,
        /// Writes whose outcome is unknown so far.
        unknown: u64,
    },
}

/// Raft activity worth narrating (a subset of what a node's Watch stream says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    /// The node began an election (or a pre-vote round) for `term` (§5.2, thesis §9.6).
    ElectionStarted {
        /// The term campaigned for.
        term: u64,
        /// Only a pre-vote round: the term is not yet incremented.
        pre_vote: bool,
    },
    /// `leader` won `term` with these votes.
    LeaderElected {
        /// The term won.
        term: u64,
        /// The winner.
        leader: NodeNum,
        /// The voters.
        votes: Vec<NodeNum>,
    },
    /// The node moved to `term` (and follows `leader` if known).
    TermChanged {
        /// New term.
        term: u64,
        /// Leader, if known.
        leader: Option<NodeNum>,
    },
    /// Commit index advanced to `index` (entry of `term`).
    Committed {
        /// New commit index.
        index: u64,
        /// Term of that entry.
        term: u64,
    },
    /// State machine applied up to `index`.
    Applied {
        /// Applied index.
        index: u64,
    },
    /// A snapshot was taken or installed up to `index`.
    Snapshot {
        /// Last index covered.
        index: u64,
        /// True if installed from the leader, false if taken locally.
        installed: bool,
    },
    /// A leader lost contact with a majority and stepped down (§6.2 check-quorum).
    LostQuorum {
        /// The term it had led.
        term: u64,
    },
    /// A leadership transfer began (thesis §3.10).
    TransferStarted {
        /// The transferee.
        to: NodeNum,
    },
    /// A peer became reachable (`up`) or unreachable.
    Peer {
        /// The peer.
        peer: NodeNum,
        /// Reachable now?
        up: bool,
    },
    /// The watch stream dropped events because the demo read too slowly.
    Lagged {
        /// Events lost.
        missed: u64,
    },
}

/// Process state of a node as the supervisor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcState {
    /// Running.
    Up,
    /// Frozen with SIGSTOP.
    Paused,
    /// Not running (crashed or killed, maybe waiting for a restart).
    Down,
}

/// One row of the periodic status table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    /// Node id.
    pub node: NodeNum,
    /// Current OS pid, if running.
    pub pid: Option<u32>,
    /// Process state.
    pub proc_state: ProcState,
    /// The node's answer, if it answered the status call.
    pub raft: Option<RaftStatus>,
}

/// What a node said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftStatus {
    /// "leader", "follower", "candidate", ...
    pub role: String,
    /// Current term.
    pub term: u64,
    /// Leader it knows of.
    pub leader: Option<NodeNum>,
    /// Commit index.
    pub commit: u64,
    /// Applied index.
    pub applied: u64,
    /// Last log index.
    pub last_index: u64,
}
