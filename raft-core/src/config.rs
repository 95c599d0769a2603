//! Node configuration. All durations are in ticks: the core has no clock.

use crate::types::{LogIndex, NodeId};

/// How a node behaves. Every protocol feature is on by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id. Must be non-zero.
    pub id: NodeId,
    /// Base election timeout `T`: a follower that hears nothing for a random
    /// number of ticks in `[T, 2T)` starts an election (§5.2).
    pub election_ticks: u64,
    /// A leader sends heartbeats every this many ticks. Must be smaller than
    /// `election_ticks`.
    pub heartbeat_ticks: u64,
    /// Run a pre-vote round before raising the term (thesis §9.6). A node
    /// that heard from a leader within the election timeout refuses
    /// pre-votes, with or without `check_quorum`.
    pub pre_vote: bool,
    /// Leaders step down after an election timeout without hearing from a
    /// quorum, and followers that heard from a leader recently ignore vote
    /// requests (thesis §6.2, §9.6 "leader stickiness").
    pub check_quorum: bool,
    /// At most this many AppendEntries in flight per follower in the
    /// replicate state.
    pub max_inflight_msgs: usize,
    /// At most this many entry bytes in flight per follower.
    pub max_inflight_bytes: u64,
    /// At most this many entry bytes in one AppendEntries (at least one
    /// entry is always sent).
    pub max_msg_bytes: u64,
    /// The leader refuses proposals while this many bytes of its log are
    /// uncommitted (back-pressure for a stalled cluster). 0 = no limit.
    pub max_uncommitted_bytes: u64,
    /// Largest payload accepted by `propose`.
    pub max_entry_bytes: u64,
    /// At most this many entry bytes of committed entries in one
    /// [`crate::Ready`] (at least one entry is always included), so a node
    /// catching up on a long committed log applies it in bounded batches.
    pub max_apply_bytes: u64,
    /// Suggest a snapshot (via [`crate::Ready::snapshot_hint`]) once this many
    /// applied entries sit in the log after the last snapshot. 0 = never.
    pub snapshot_threshold: u64,
    /// Seed for the node's RNG (election timeout jitter).
    pub seed: u64,
    /// The last index the application's state machine has already applied
    /// (etcd's `Config.Applied`): after a restart,
    /// [`crate::Ready::committed_entries`] start after it. Must lie between
    /// the snapshot index and the durable commit index. 0 (the default)
    /// means "the snapshot index": everything committed after the snapshot
    /// is handed out again.
    pub applied: LogIndex,
    /// A learner may be promoted to voter only while its log is at most
    /// this many entries behind the leader's last index (thesis §4.2.1:
    /// a voter that must first catch up stalls commits). The learner must
    /// also hold the current configuration entry. Must be non-zero.
    pub max_promote_lag: u64,
}

impl Config {
    /// Defaults for node `id`: election timeout 10 ticks, heartbeat 1 tick.
    pub fn new(id: NodeId) -> Self {
        Config {
            id,
            election_ticks: 10,
            heartbeat_ticks: 1,
            pre_vote: true,
            check_quorum: true,
            max_inflight_msgs: 256,
            max_inflight_bytes: 32 << 20,
            max_msg_bytes: 1 << 20,
            max_uncommitted_bytes: 64 << 20,
            max_entry_bytes: 8 << 20,
            max_apply_bytes: 64 << 20,
            snapshot_threshold: 10_000,
            seed: id.0,
            applied: LogIndex(0),
            max_promote_lag: 1000,
        }
    }

    /// Checks that the values make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id.0 == 0 {
            return Err(ConfigError::ZeroId);
        }
        if self.heartbeat_ticks == 0 {
            return Err(ConfigError::Invalid("heartbeat_ticks must be at least 1".into()));
        }
        if self.election_ticks <= self.heartbeat_ticks {
            return Err(ConfigError::Invalid(format!(
                "election_ticks ({}) must be greater than heartbeat_ticks ({})",
                self.election_ticks, self.heartbeat_ticks
            )));
        }
        if self.max_inflight_msgs == 0 {
            return Err(ConfigError::Invalid("max_inflight_msgs must be at least 1".into()));
        }
        if self.max_msg_bytes == 0 || self.max_inflight_bytes < self.max_msg_bytes {
            return Err(ConfigError::Invalid(format!(
                "max_msg_bytes ({}) must be non-zero and at most max_inflight_bytes ({})",
                self.max_msg_bytes, self.max_inflight_bytes
            )));
        }
        if self.max_apply_bytes == 0 {
            return Err(ConfigError::Invalid("max_apply_bytes must be non-zero".into()));
        }
        if self.max_promote_lag == 0 {
            return Err(ConfigError::Invalid(
                "max_promote_lag must be non-zero: a learner cannot hold entries not yet sent to it".into(),
            ));
        }
        Ok(())
    }
}

/// An invalid [`Config`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Node ids start at 1.
    #[error("node id 0 is reserved; ids start at 1")]
    ZeroId,
    /// Some other setting is out of range.
    #[error("invalid raft config: {0}")]
    Invalid(String),
    /// [`Config::applied`] is not between the snapshot index and the
    /// durable commit index of the storage the node is restored from.
    #[error("applied index {applied} must lie between the snapshot index {snapshot} and the commit index {commit}")]
    AppliedOutOfRange {
        /// The configured applied index.
        applied: LogIndex,
        /// The storage's snapshot index.
        snapshot: LogIndex,
        /// The storage's commit index.
        commit: LogIndex,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::new(NodeId(1)).validate().unwrap();
    }

    #[test]
    fn heartbeat_must_be_shorter_than_election() {
        let mut c = Config::new(NodeId(1));
        c.heartbeat_ticks = 10;
        assert!(matches!(c.validate(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn zero_promote_lag_is_rejected() {
        let mut c = Config::new(NodeId(1));
        c.max_promote_lag = 0;
        assert!(matches!(c.validate(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn zero_id_is_rejected() {
        assert_eq!(Config::new(NodeId(0)).validate(), Err(ConfigError::ZeroId));
    }
}
