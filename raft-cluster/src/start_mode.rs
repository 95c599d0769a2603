//! [`decide`]: how a node starts on its data directory, decided before the
//! core exists.
//!
//! A data directory that holds nothing may be a first start, or a node
//! whose directory was wiped. Bootstrapping the second with every configured
//! peer as a voter (what a first start does) gives the cluster a voter that
//! has forgotten its votes and acknowledged entries (Raft paper §5.1): with
//! a lagging majority it can elect a leader missing committed entries
//! (§5.4.1's election restriction assumes voters keep their logs), and those
//! entries are lost. So an empty directory is bootstrapped only when no
//! configured peer that answered knows of a running cluster; otherwise the
//! node refuses to start and says what to run: remove the old member, add
//! the node back as a learner (thesis §4.2.1, it catches up without voting),
//! start it with `--join`, promote it.
//!
//! | data dir | `join` | `initial_cluster_state` | peers say | mode |
//! |---|---|---|---|---|
//! | used before | any | any | (not asked) | [`StartMode::Restart`] |
//! | empty | yes | any | (not asked) | [`StartMode::Join`] |
//! | empty | no | `existing` | (not asked) | refused: use `--join` |
//! | empty | no | `new` | a cluster exists | refused: remove, add-learner, `--join`, promote |
//! | empty | no | `new` | nothing (or no answer) | [`StartMode::Bootstrap`] |
//!
//! The last row's "no answer" is a residual risk (every peer unreachable at
//! that moment); the incarnation fence (`runtime/fence.rs`) then keeps the
//! wiped node's messages from counting at the peers that knew its former
//! incarnation.

use raft_core::NodeId;

use crate::config::InitialClusterState;
use crate::error::ClusterError;

/// How a node starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMode {
    /// The data directory was used before: start from what it holds.
    Restart,
    /// A new cluster: record the identity and the configured voters.
    Bootstrap,
    /// A new member of an existing cluster: record the identity, no
    /// membership; the node never votes until the leader's log makes it a
    /// voter.
    Join,
}

/// One configured peer's answer to the start-up probe (its Admin status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAnswer {
    /// The peer.
    pub peer: NodeId,
    /// Its current term.
    pub term: u64,
    /// Its last log index.
    pub last_index: u64,
    /// The incarnation it remembers for the starting node, if any.
    pub remembers_me: Option<u64>,
}

impl PeerAnswer {
    /// Why this answer shows that the cluster already exists, if it does.
    fn evidence(&self, me: NodeId) -> Option<String> {
        let (p, me) = (self.peer.0, me.0);
        if let Some(inc) = self.remembers_me {
            return Some(format!("node {p} remembers node {me} with incarnation {inc:016x}"));
        }
        if self.term > 0 || self.last_index > 0 {
            return Some(format!("node {p} is at term {} with {} log entries", self.term, self.last_index));
        }
        None
    }
}

/// What the start-up probe learned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// Peers asked.
    pub asked: Vec<NodeId>,
    /// The answers received (peers that did not answer are absent).
    pub answers: Vec<PeerAnswer>,
}

/// What [`decide`] looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartInputs<'a> {
    /// The starting node.
    pub me: NodeId,
    /// The data directory has been used (an identity is recorded in it).
    pub used_before: bool,
    /// `--join` was given.
    pub join: bool,
    /// `--initial-cluster-state`.
    pub initial_cluster_state: InitialClusterState,
    /// The probe's result; `None` if it was not run (an in-process cluster).
    pub probe: Option<&'a Probe>,
}

/// Decides how to start; an `Err` is a refusal that says what to run.
pub fn decide(input: &StartInputs<'_>) -> Result<StartMode, ClusterError> {
    let me = input.me;
    if input.used_before {
        return Ok(StartMode::Restart);
    }
    if input.join {
        return Ok(StartMode::Join);
    }
    if input.initial_cluster_state == InitialClusterState::Existing {
        return Err(ClusterError::JoinRequired { node: me.0 });
    }
    let evidence: Vec<String> =
        input.probe.map(|p| p.answers.iter().filter_map(|a| a.evidence(me)).collect()).unwrap_or_default();
    if evidence.is_empty() {
        return Ok(StartMode::Bootstrap);
    }
    Err(ClusterError::RejoinRefused { node: me.0, evidence: evidence.join("; ") })
}

/// The decision, asked only whether the probe is needed at all: a used data
/// directory, `--join` or `existing` never bootstraps, so never probes.
pub fn needs_probe(used_before: bool, join: bool, state: InitialClusterState) -> bool {
    !used_before && !join && state == InitialClusterState::New
}

#[cfg(test)]
#[path = "start_mode_test.rs"]
mod tests;
