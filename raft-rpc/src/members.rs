//! Plain-Rust types of the membership admin calls (`Members`, `AddLearner`,
//! `Promote`, `RemoveMember`), so the runtime answers them without knowing
//! the wire format. A change is proposed on the leader and answered once
//! the configuration that ends it is committed (thesis §4.1; for a joint
//! change, §4.3, once the final configuration is).

use raft_core::{LogIndex, Membership, NodeId, Term};

use crate::api::ServiceError;

/// Longest member address accepted (`host:port`), in bytes. Addresses are
/// replicated in every configuration entry, so they are kept short.
pub const MAX_MEMBER_ADDR_BYTES: usize = 255;

/// A member's part in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRole {
    /// Votes (in the incoming configuration while joint).
    Voter,
    /// Receives the log, never votes.
    Learner,
    /// Votes only in the outgoing half of a joint configuration.
    OutgoingVoter,
}

/// One member as the answering node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member's id.
    pub id: NodeId,
    /// Its `host:port`, empty when unknown.
    pub address: String,
    /// Its role.
    pub role: MemberRole,
    /// True for the leader the answering node knows.
    pub leader: bool,
    /// The leader's view of its highest replicated index (leaders only).
    pub matched: Option<LogIndex>,
    /// The leader's last index minus `matched` (leaders only).
    pub lag: Option<u64>,
}

/// The answer to `Members`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembersView {
    /// The answering node.
    pub node: NodeId,
    /// Its term.
    pub term: Term,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Log index of the configuration in effect (0: the bootstrap one).
    pub config_index: LogIndex,
    /// Whether that configuration is committed on the answering node.
    pub config_committed: bool,
    /// Whether the configuration is joint (C_old,new).
    pub joint: bool,
    /// Every member once.
    pub members: Vec<MemberInfo>,
}

/// A membership change an operator asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// Add a non-voting member that will receive the log.
    AddLearner {
        /// Its id (non-zero, not a member yet).
        id: NodeId,
        /// Its `host:port` (validated).
        address: String,
    },
    /// Make a learner a voter.
    Promote {
        /// The learner.
        id: NodeId,
    },
    /// Remove a member.
    Remove {
        /// The member.
        id: NodeId,
        /// If it is the leader: remove it at once and let it step down
        /// after the change commits, instead of handing leadership over
        /// first.
        step_down: bool,
    },
}

/// A committed change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeOutcome {
    /// Index of the committed configuration entry that ends the change.
    pub index: LogIndex,
    /// That configuration.
    pub membership: Membership,
}

/// Why a change was refused; nothing was proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalReason {
    /// Another change is not yet committed (retryable).
    Pending,
    /// The leader has not yet committed an entry of its term (retryable).
    NotCommittedInTerm,
    /// The id is not a member (or, for `Promote`, not a learner).
    UnknownMember,
    /// The id is already a member (or, for `Promote`, already a voter).
    AlreadyMember,
    /// The learner is too far behind to be promoted.
    Lagging,
    /// Any other refusal.
    Invalid,
}

impl RefusalReason {
    /// True if the same request may succeed a moment later unchanged.
    pub fn retryable(self) -> bool {
        matches!(self, RefusalReason::Pending | RefusalReason::NotCommittedInTerm)
    }
}

/// A definite refusal of a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChangeRefused {
    /// The class of refusal.
    pub reason: RefusalReason,
    /// What happened, for the operator.
    pub message: String,
}

/// Why a change did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// Refused before anything was proposed (a typed `refused` reply).
    #[error("membership change refused: {0}")]
    Refused(ChangeRefused),
    /// Not the leader, overloaded, outcome unknown...
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Checks an operator-supplied member address: non-empty `host:port` with
/// a port from 1 to 65535, no whitespace, at most
/// [`MAX_MEMBER_ADDR_BYTES`].
pub fn check_member_address(addr: &str) -> Result<(), String> {
    if addr.is_empty() {
        return Err("address is empty (expected host:port)".into());
    }
    if addr.len() > MAX_MEMBER_ADDR_BYTES {
        return Err(format!("address of {} bytes exceeds {MAX_MEMBER_ADDR_BYTES}", addr.len()));
    }
    if addr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("address {addr:?} contains whitespace"));
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(format!("address {addr:?} has no port (expected host:port)"));
    };
    if host.is_empty() || host.contains('/') {
        return Err(format!("address {addr:?} has no valid host (expected host:port)"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("address {addr:?}: the port must be a number from 1 to 65535")),
    }
}
