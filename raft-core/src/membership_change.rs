//! Membership changes on the leader: joint consensus (thesis §4.3) for
//! any change of the voter set, learners that must catch up before they
//! vote (§4.2.1), and the automatic second step out of the joint
//! configuration.
//!
//! Why joint consensus rather than only single-server changes (§4.1):
//! operators replace several voters at once (a rack, a region), and a
//! chain of single-server steps passes through configurations that are
//! weaker than both ends. With C_old,new every decision needs a majority
//! of both voter sets, so no step can produce two leaders or lose a
//! committed entry whatever the difference between C_old and C_new.
//!
//! Why promotion lag: a new voter with an empty log joins the commit
//! quorum at once (a configuration takes effect when appended, §4.1); if
//! it must first receive the whole log, commits stall meanwhile (§4.2.1,
//! "availability gap"). So new servers join as learners and are promoted
//! only once within [`crate::Config::max_promote_lag`] entries of the
//! leader's log.

use crate::error::ProposeError;
use crate::node::RaftNode;
use crate::storage::Storage;
use crate::types::{EntryPayload, LogId, LogIndex, Membership, NodeId, Role};

impl<S: Storage> RaftNode<S> {
    /// Proposes a new, non-joint membership `target`. If its voters differ
    /// from the current ones (by any number of voters), the joint
    /// configuration C_old,new is appended first; once it commits the
    /// leader appends C_new by itself (thesis §4.3). A change of learners
    /// or addresses only is appended as is. The returned id is the first
    /// entry's.
    ///
    /// Refused while another change is in flight (the latest configuration
    /// entry is uncommitted, or the configuration is still joint), before
    /// the leader committed an entry of its own term ([`ProposeError::NotCommittedInTerm`],
    /// Ongaro's erratum to thesis §4.1), and when a new voter is not a
    /// caught-up learner ([`ProposeError::NotALearner`],
    /// [`ProposeError::NotCaughtUp`]).
    pub fn propose_membership(&mut self, target: Membership) -> Result<LogId, ProposeError> {
        self.check_can_propose()?;
        if !self.committed_in_term() {
            tracing::debug!(node = self.id().0, term = self.term.0, "membership change refused: no commit in term yet");
            return Err(ProposeError::NotCommittedInTerm { term: self.term });
        }
        self.check_no_change_pending()?;
        validate_target(&target)?;
        self.check_promotions(&target)?;
        let current = self.config();
        let entry = if target.voters == current.voters {
            target
        } else {
            tracing::info!(node = self.id().0, term = self.term.0, "entering joint configuration (thesis §4.3)");
            Membership { outgoing: current.voters.clone(), ..target }
        };
        Ok(self.append_entry(EntryPayload::Membership(entry)))
    }

    /// Only one change at a time: the latest configuration entry must be
    /// committed and not joint.
    fn check_no_change_pending(&self) -> Result<(), ProposeError> {
        let committed = self.log.committed();
        let latest = self.members.latest_index();
        if let Some(pending) = latest.filter(|&i| i > committed) {
            return Err(ProposeError::MembershipChangePending { pending });
        }
        if self.config().is_joint() {
            return Err(ProposeError::MembershipChangePending { pending: latest.unwrap_or(committed) });
        }
        Ok(())
    }

    /// Every voter of `target` that does not vote now must be a learner
    /// within `max_promote_lag` entries of our last index (thesis §4.2.1)
    /// that holds the current configuration entry: a voter that never
    /// learned its configuration refuses to vote (see `join_tests.rs`), so
    /// promoting it would count a silent member toward every quorum (sim
    /// seed 7069, 7 nodes: promoted with an empty log, then the leader was
    /// lost and no election could reach a majority).
    fn check_promotions(&self, target: &Membership) -> Result<(), ProposeError> {
        let current = self.config();
        let last = self.log.last_index();
        // The configuration may come from the snapshot (no entry in the
        // log): then the learner must at least hold the snapshot (sim seed
        // 5901963: a restarted leader promoted a learner with an empty log).
        let snapshot_index = self.log.first_index().map_or(LogIndex(0), |i| i.prev());
        let config_index = self.members.latest_index().unwrap_or(snapshot_index);
        for &id in target.voters.iter().filter(|&&id| !current.is_voter(id)) {
            if !current.learners.contains(&id) {
                return Err(ProposeError::NotALearner { id });
            }
            let matched = self.progress.get(&id).map_or(LogIndex(0), |p| p.matched);
            if matched < config_index || last.0.saturating_sub(matched.0) > self.cfg.max_promote_lag {
                tracing::debug!(node = self.id().0, term = self.term.0, id = id.0, "promotion refused: learner lags");
                return Err(ProposeError::NotCaughtUp { id, matched, last });
            }
        }
        Ok(())
    }

    /// Leader: once the joint configuration is committed, appends C_new
    /// (thesis §4.3: "once C_old,new has been committed ... the leader can
    /// create a log entry describing C_new"). Also covers a new leader that
    /// inherited a committed joint configuration.
    pub(crate) fn maybe_leave_joint(&mut self) {
        if self.role != Role::Leader || !self.config().is_joint() {
            return;
        }
        if self.members.latest_index().is_some_and(|i| i > self.log.committed()) {
            return;
        }
        let mut next = self.config().clone();
        next.outgoing.clear();
        tracing::info!(node = self.id().0, term = self.term.0, "joint configuration committed: leaving joint");
        self.append_entry(EntryPayload::Membership(next));
    }
}

/// A target must have voters, non-zero ids, voters disjoint from learners,
/// and must not itself be joint (the core builds joint configurations).
fn validate_target(m: &Membership) -> Result<(), ProposeError> {
    if m.is_joint() {
        return Err(ProposeError::Invalid("the target must not be joint; the leader builds C_old,new itself".into()));
    }
    if m.voters.is_empty() {
        return Err(ProposeError::Invalid("a membership needs at least one voter".into()));
    }
    let zero =
        m.members().chain(m.addrs.keys().copied()).chain(m.incarnations.keys().copied()).any(|id: NodeId| id.0 == 0);
    if zero || !m.voters.is_disjoint(&m.learners) {
        return Err(ProposeError::Invalid("ids must be non-zero and voters disjoint from learners".into()));
    }
    Ok(())
}

#[cfg(test)]
#[path = "membership_change_tests.rs"]
mod tests;
