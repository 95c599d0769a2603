//! [`Operator`]: membership changes as an operator makes them on a live
//! cluster (issue #14): find the leader, ask it, retry what is only refused
//! for now, and wait until a learner has caught up before promoting it
//! (thesis §4.2.1).
//!
//! Why its own module: the node-replacement test and the Jepsen membership
//! nemesis make the same changes under load, and both must tell a change
//! that certainly happened from one that did not. A change whose attempt got
//! no answer may still commit (like a write); the retry then finds it done
//! (already a member, already removed), and that counts as success.

use std::collections::BTreeMap;
use std::time::Duration;

use raft_core::NodeId as CoreId;
use raft_rpc::{AdminClient, ChangeOutcome, ClientConfig, ClientError, MemberChange, MembersView, RefusalReason};
use tokio::time::Instant;

use crate::error::NodeId;

/// How often the operator polls and retries.
const POLL: Duration = Duration::from_millis(100);

/// Why an operator step failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The leader refused the change for good.
    #[error("{change:?} refused: {reason:?}: {message}")]
    Refused {
        /// The change.
        change: MemberChange,
        /// The class of refusal.
        reason: RefusalReason,
        /// The leader's explanation.
        message: String,
    },
    /// The step did not complete in time.
    #[error("{what} did not happen within {waited:?}; last: {last}")]
    Timeout {
        /// The step.
        what: String,
        /// How long the operator tried.
        waited: Duration,
        /// The last error or observation.
        last: String,
    },
}

/// Admin access to whatever nodes the cluster has now.
#[derive(Clone, Debug)]
pub struct Operator {
    /// `http://host:port` of every node that may be running, by id.
    endpoints: BTreeMap<NodeId, String>,
    config: ClientConfig,
}

impl Operator {
    /// An operator over `endpoints` (every node it may have to ask).
    pub fn new(endpoints: BTreeMap<NodeId, String>, config: ClientConfig) -> Self {
        Operator { endpoints, config }
    }

    /// Adds (or replaces) node `id`'s endpoint.
    pub fn set_endpoint(&mut self, id: NodeId, endpoint: String) {
        self.endpoints.insert(id, endpoint);
    }

    async fn admin(&self, endpoint: &str) -> Result<AdminClient, ClientError> {
        AdminClient::connect(endpoint, self.config.clone()).await
    }

    /// The leader's view of the membership (with replication progress), if
    /// some node answers as the leader with its configuration committed.
    pub async fn leader_view(&self) -> Option<MembersView> {
        for endpoint in self.endpoints.values() {
            let Ok(admin) = self.admin(endpoint).await else { continue };
            let Ok(view) = admin.members().await else { continue };
            if view.leader == Some(view.node) && view.config_committed {
                return Some(view);
            }
        }
        None
    }

    /// Makes `change` and waits until its configuration is committed,
    /// retrying through leader changes and refusals that are only for now.
    /// After an attempt without an answer, finding the change already made
    /// (already a member or voter; removed) is success.
    pub async fn change(&self, change: MemberChange, timeout: Duration) -> Result<(), OperatorError> {
        let start = Instant::now();
        let mut maybe_made = false;
        let mut last = String::from("no leader yet");
        while start.elapsed() < timeout {
            match self.attempt(&change).await {
                Ok(_) => return Ok(()),
                Err(ClientError::MembershipRefused(r)) if r.reason.retryable() => last = r.message,
                Err(ClientError::MembershipRefused(r)) if maybe_made && already_made(&change, r.reason) => {
                    return Ok(())
                }
                Err(ClientError::MembershipRefused(r)) => {
                    return Err(OperatorError::Refused { change, reason: r.reason, message: r.message })
                }
                Err(e @ (ClientError::Unknown(_) | ClientError::Unavailable(_))) => {
                    maybe_made = true;
                    last = e.to_string();
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(POLL).await;
        }
        Err(OperatorError::Timeout { what: format!("{change:?}"), waited: timeout, last })
    }

    async fn attempt(&self, change: &MemberChange) -> Result<ChangeOutcome, ClientError> {
        let view = self.leader_view().await.ok_or(ClientError::NotLeader { leader: None })?;
        let endpoint = self
            .endpoints
            .get(&view.node.0)
            .ok_or_else(|| ClientError::InvalidEndpoint(format!("no endpoint for leader {}", view.node)))?;
        let admin = self.admin(endpoint).await?;
        match change {
            MemberChange::AddLearner { id, address } => admin.add_learner(*id, address).await,
            MemberChange::Promote { id } => admin.promote(*id).await,
            MemberChange::Remove { id, step_down } => admin.remove_member(*id, *step_down).await,
        }
    }

    /// Waits until the leader sees `id` within `max_lag` entries of its log
    /// and holding the configuration in force (a learner must hold it to be
    /// promoted, see `raft_core`'s `check_promotions`).
    pub async fn wait_caught_up(&self, id: NodeId, max_lag: u64, timeout: Duration) -> Result<(), OperatorError> {
        let start = Instant::now();
        let mut last = String::from("no leader view yet");
        while start.elapsed() < timeout {
            if let Some(view) = self.leader_view().await {
                match view.members.iter().find(|m| m.id == CoreId(id)) {
                    Some(m)
                        if m.lag.is_some_and(|l| l <= max_lag) && m.matched.is_some_and(|i| i >= view.config_index) =>
                    {
                        return Ok(())
                    }
                    Some(m) => last = format!("node {id}: matched {:?}, lag {:?}", m.matched, m.lag),
                    None => last = format!("node {id} is not a member"),
                }
            }
            tokio::time::sleep(POLL).await;
        }
        Err(OperatorError::Timeout { what: format!("node {id} catching up"), waited: timeout, last })
    }

    /// The voters of the committed configuration and the leader, once a
    /// leader answers.
    pub async fn voters(&self, timeout: Duration) -> Result<(Vec<NodeId>, NodeId), OperatorError> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(view) = self.leader_view().await {
                let voters =
                    view.members.iter().filter(|m| m.role == raft_rpc::MemberRole::Voter).map(|m| m.id.0).collect();
                return Ok((voters, view.node.0));
            }
            tokio::time::sleep(POLL).await;
        }
        Err(OperatorError::Timeout { what: "a leader's view".into(), waited: timeout, last: String::new() })
    }
}

/// After an unanswered attempt, this refusal means the change was made.
fn already_made(change: &MemberChange, reason: RefusalReason) -> bool {
    matches!(
        (change, reason),
        (MemberChange::AddLearner { .. } | MemberChange::Promote { .. }, RefusalReason::AlreadyMember)
            | (MemberChange::Remove { .. }, RefusalReason::UnknownMember)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_refusal_that_matches_the_change_means_it_was_made() {
        let add = MemberChange::AddLearner { id: CoreId(4), address: "h:1".into() };
        let remove = MemberChange::Remove { id: CoreId(4), step_down: false };
        assert!(already_made(&add, RefusalReason::AlreadyMember));
        assert!(!already_made(&add, RefusalReason::UnknownMember));
        assert!(already_made(&remove, RefusalReason::UnknownMember));
        assert!(!already_made(&remove, RefusalReason::Lagging));
        assert!(!already_made(&MemberChange::Promote { id: CoreId(4) }, RefusalReason::Lagging));
    }
}
