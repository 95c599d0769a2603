//! The node task's side of operator membership changes (Admin
//! `AddLearner`, `Promote`, `RemoveMember`) and of keeping the transport's
//! links in step with the configuration.
//!
//! Only the leader proposes a change (through
//! [`raft_core::RaftNode::propose_membership`], which enforces one change
//! at a time and a commit in the leader's term first, thesis §4.1). A
//! leader asked to remove itself hands leadership to its most caught-up
//! voter first and answers "not the leader" naming it, so the caller
//! retries there and the new leader removes the old one without a gap in
//! leadership (thesis §3.10); with `step_down` it removes itself instead
//! and steps down once the change commits (thesis §4.2.2).

use raft_core::{LogId, ProposeError, Role};
use raft_rpc::{ChangeOutcome, ChangeRefused, MemberChange, RefusalReason};
use tracing::info;

use super::member_change::{target, transferee, with_stamps};
use super::pending::Reply;
use super::task::NodeTask;
use crate::error::ClientError;
use crate::fsm::NodeStateMachine;

fn refused(reason: RefusalReason, message: String) -> ClientError {
    ClientError::MembershipRefused(ChangeRefused { reason, message })
}

impl<M: NodeStateMachine> NodeTask<M> {
    /// Proposes `change` and answers `reply` once its configuration is
    /// applied, or at once with why it was not proposed.
    pub(crate) fn change_membership(&mut self, change: MemberChange, reply: Reply<ChangeOutcome>) {
        match self.propose_change(change) {
            Ok(id) => self.changes.insert(id, reply),
            Err(e) => drop(reply.send(Err(e))),
        }
    }

    fn propose_change(&mut self, change: MemberChange) -> Result<LogId, ClientError> {
        if self.raft.role() != Role::Leader {
            return Err(self.propose_error(ProposeError::NotLeader { leader: self.raft.leader() }));
        }
        let current = self.raft.status().membership;
        if let MemberChange::Remove { id, step_down: false } = change {
            if id == self.id {
                return Err(self.hand_over());
            }
        }
        let next = target(&current, &change).map_err(ClientError::MembershipRefused)?;
        // Stamp what this leader knows of the members' incarnations (a new
        // learner it already heard from, a learner being promoted).
        let next = with_stamps(&next, self.fence.known(), self.id, self.store.incarnation()).unwrap_or(next);
        info!(parent: &self.span, ?change, "proposing membership change");
        self.raft.propose_membership(next).map_err(|e| self.change_error(e))
    }

    /// Starts a leader transfer to the most caught-up other voter; the
    /// error names it as the leader to retry at.
    fn hand_over(&mut self) -> ClientError {
        let status = self.raft.status();
        let matched = |id| status.progress.get(&id).map(|p| p.matched);
        let Some(to) = transferee(self.id, &status.membership, matched) else {
            return refused(RefusalReason::Invalid, format!("node {} is the only voter", self.id));
        };
        match self.raft.transfer_leader(to) {
            Ok(()) => {
                info!(parent: &self.span, to = to.0, "removing the leader: handing leadership over first");
                ClientError::NotLeader { leader: Some(to), leader_addr: self.peers.addr_of(to).map(str::to_string) }
            }
            Err(e) => self.change_error(e),
        }
    }

    /// Refusals of the change itself get a [`RefusalReason`]; not-leader
    /// and load refusals are mapped like a write's. Any other core refusal
    /// (e.g. a learner too far behind to promote) is a definite refusal
    /// with the core's explanation.
    fn change_error(&self, e: ProposeError) -> ClientError {
        let reason = match &e {
            ProposeError::MembershipChangePending { .. } => RefusalReason::Pending,
            ProposeError::NotCommittedInTerm { .. } => RefusalReason::NotCommittedInTerm,
            // The learner is too far behind to vote yet: wait and retry.
            ProposeError::NotCaughtUp { .. } => RefusalReason::Lagging,
            // The transferee is about to lead: send the caller there.
            &ProposeError::TransferInProgress { to } => {
                let leader_addr = self.peers.addr_of(to).map(str::to_string);
                return ClientError::NotLeader { leader: Some(to), leader_addr };
            }
            ProposeError::NotLeader { .. } | ProposeError::Backpressure { .. } | ProposeError::EntryTooLarge { .. } => {
                return self.propose_error(e)
            }
            _ => RefusalReason::Invalid,
        };
        refused(reason, e.to_string())
    }

    /// Hands the transport the links the configuration calls for, when
    /// they changed (see [`super::peers`]). Cheap when nothing that decides
    /// them moved: the configuration's index, whether it is applied, the
    /// role and term, and no link left to settle.
    pub(crate) fn sync_peers(&mut self) {
        let config_index = self.configs.index();
        let key = (config_index, self.sm.applied_index() >= config_index, self.raft.role(), self.raft.term());
        if self.peers_synced == Some(key) && !self.peers.settling() {
            return;
        }
        self.peers_synced = Some(key);
        let s = self.raft.status();
        // Removed peers the leader still replicates to and that lack the
        // entry removing them (thesis §4.2.2).
        let tracked: Vec<_> = match s.role {
            Role::Leader => s.progress.iter().filter(|(_, p)| p.matched < config_index).map(|(id, _)| *id).collect(),
            _ => Vec::new(),
        };
        let now = std::time::Instant::now();
        if let Some(peers) = self.peers.update(&s.membership, &self.applied_membership, tracked, now) {
            info!(parent: &self.span, peers = ?peers.keys().map(|id| id.0).collect::<Vec<_>>(), "peer links follow the configuration");
            self.transport.set_peers(&peers);
        }
    }
}
