//! Errors: [`ClusterError`] for starting and running a node, [`ClientError`]
//! for one client request.
//!
//! Client errors say whether the request *may* have taken effect: a write
//! that timed out, whose leader stepped down, or whose node stopped after
//! proposing it has an unknown outcome ([`ClientError::outcome_unknown`]) and
//! is safe to retry only with the same `(client_id, seq)` (the state machine
//! deduplicates); every other error means it did not happen. This is the
//! runtime's half of the outcome contract written down in `raft_rpc::api`.

use raft_core::{LogIndex, NodeId, ProposeError, Term};

use crate::config::ConfigError;

/// Starting or running a node failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data dir belongs to another cluster or node.
    #[error("data dir {path} belongs to cluster {found_cluster:?} node {found_node}, but this node is cluster {expected_cluster:?} node {expected_node}; refusing to start")]
    IdentityMismatch {
        /// The data dir.
        path: String,
        /// Cluster id recorded in the store.
        found_cluster: String,
        /// Node id recorded in the store.
        found_node: u64,
        /// Cluster id from the config.
        expected_cluster: String,
        /// Node id from the config.
        expected_node: u64,
    },
    /// The data directory is empty, yet the cluster already exists: this
    /// node's directory was probably wiped. Bootstrapping it as a voter
    /// could lose committed entries, so it must rejoin as a learner.
    #[error(
        "refusing to start node {node} on an empty data directory: the cluster already exists ({evidence}). \
         If this node's data directory was wiped or replaced, it has lost the votes and entries it promised \
         and must not vote until it has caught up. Run `raft-cli members remove {node}`, then \
         `raft-cli members add-learner {node} ADDR`, then start this node again with --join, and once it \
         has caught up `raft-cli members promote {node}`"
    )]
    RejoinRefused {
        /// This node.
        node: u64,
        /// What the peers reported.
        evidence: String,
    },
    /// `initial_cluster_state = "existing"` on an empty data directory
    /// without `join`.
    #[error(
        "refusing to start node {node}: initial_cluster_state is \"existing\" but the data directory is empty, \
         and an existing cluster is never bootstrapped again. Add the node as a learner (`raft-cli members \
         add-learner {node} ADDR`; first `raft-cli members remove {node}` if it was a member) and start it with \
         --join; then `raft-cli members promote {node}`"
    )]
    JoinRequired {
        /// This node.
        node: u64,
    },
    /// The store failed (open, read, write).
    #[error("storage: {0}")]
    Storage(String),
    /// The state machine failed (apply, snapshot, restore).
    #[error("state machine: {0}")]
    StateMachine(String),
    /// The Raft core reported a fatal error.
    #[error("raft core: {0}")]
    Core(String),
    /// The transport (listener, server) failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The node task ended abnormally (panic or abort).
    #[error("node task ended abnormally: {0}")]
    TaskFailed(String),
}

/// One client request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// This node is not the leader; retry at `leader` (if known).
    #[error("not the leader; leader is {}", leader_text(.leader, .leader_addr))]
    NotLeader {
        /// The leader this node believes in.
        leader: Option<NodeId>,
        /// Its address, from the member list.
        leader_addr: Option<String>,
    },
    /// The entry at `index` was overwritten by a leader of another term: the
    /// write did not commit. Retry.
    #[error(
        "write at index {index} (term {term}) was not committed: a leader of term {committed_term} overwrote it; retry"
    )]
    NotCommitted {
        /// Index the write was appended at.
        index: LogIndex,
        /// Term it was appended in.
        term: Term,
        /// Term of the entry that committed there instead.
        committed_term: Term,
    },
    /// The leader stepped down before the write committed. It may still
    /// commit under the next leader: retry with the same `(client_id, seq)`.
    #[error("leadership lost before index {index} committed; outcome unknown, retry with the same client id and seq")]
    LeadershipLost {
        /// Index the write was appended at.
        index: LogIndex,
    },
    /// No answer within the request timeout; for writes the outcome is
    /// unknown.
    #[error("request timed out after {ms} ms (outcome unknown)")]
    Timeout {
        /// The timeout.
        ms: u64,
    },
    /// A limit was hit; the request was not accepted.
    #[error("overloaded: {0}; retry later")]
    Overloaded(String),
    /// The request itself is invalid (over a size limit, malformed); it was
    /// not proposed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The core refused the request (too large, transfer in progress...).
    #[error("rejected: {0}")]
    Rejected(ProposeError),
    /// The node is shutting down or has stopped and never proposed the
    /// request: it was definitely not applied.
    #[error("node is shutting down")]
    ShuttingDown,
    /// The node stopped (shutdown, fatal storage error, crash) after the
    /// write was proposed (at `index`, when known) and before it was known
    /// to commit. It may already be on followers and commit under the next
    /// leader: outcome unknown, retry with the same `(client_id, seq)`.
    #[error("node stopped before the write{} was known to commit; outcome unknown, retry with the same client id and seq", index_text(.index))]
    StoppedBeforeCommit {
        /// Index the write was appended at, if the node got that far.
        index: Option<LogIndex>,
    },
    /// The state machine rejected the entry.
    #[error("state machine: {0}")]
    StateMachine(String),
    /// A membership change was refused; nothing was proposed.
    #[error("membership change refused: {0}")]
    MembershipRefused(raft_rpc::ChangeRefused),
}

fn leader_text(leader: &Option<NodeId>, addr: &Option<String>) -> String {
    match (leader, addr) {
        (Some(id), Some(addr)) => format!("{id} at {addr}"),
        (Some(id), None) => format!("{id}"),
        _ => "unknown".to_string(),
    }
}

fn index_text(index: &Option<LogIndex>) -> String {
    index.map(|i| format!(" at index {i}")).unwrap_or_default()
}

impl ClientError {
    /// True if a write that failed with this error may still have been
    /// applied (retry only with the same client id and sequence number).
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            ClientError::LeadershipLost { .. } | ClientError::Timeout { .. } | ClientError::StoppedBeforeCommit { .. }
        )
    }
}
