//! The node task's side of the [`super::fence::IncarnationFence`]: every
//! inbound peer message passes [`NodeTask::step_stamped`]; after each loop
//! turn members that left the applied configuration are forgotten, the
//! incarnations stamped in it are adopted, and a leader stamps the ones it
//! knows into the configuration ([`NodeTask::sync_fence`]).

use raft_core::{Message, NodeId, ProposeError, Role};
use tracing::{info, warn};

use super::fence::Admission;
use super::member_change::with_stamps;
use super::task::NodeTask;
use crate::error::ClusterError;
use crate::fsm::NodeStateMachine;

impl<M: NodeStateMachine> NodeTask<M> {
    /// Steps `msg` if its sender's incarnation is the remembered one; the
    /// first incarnation seen is remembered durably before the message is
    /// stepped (a crash in between must not let another one be remembered
    /// after the restart without this node having answered the first).
    pub(crate) fn step_stamped(&mut self, msg: Message, incarnation: u64) -> Result<(), ClusterError> {
        match self.fence.check(msg.from, incarnation) {
            Admission::Admit => self.step(msg),
            Admission::Remember(inc) => {
                // Once per peer and incarnation: a small synced write on the
                // node task, like the hard state it protects.
                self.store
                    .set_peer_incarnation(msg.from, Some(inc))
                    .map_err(|e| ClusterError::Storage(format!("remember incarnation of {}: {e}", msg.from)))?;
                self.fence.remembered(msg.from, inc);
                info!(parent: &self.span, peer = %msg.from, incarnation = %format_args!("{inc:016x}"), "remembered peer incarnation");
                self.step(msg)
            }
            Admission::Drop { remembered } => {
                self.fenced(msg.from, remembered, incarnation);
                Ok(())
            }
        }
    }

    fn fenced(&mut self, peer: NodeId, remembered: u64, incarnation: u64) {
        if self.fence.dropped(peer) {
            warn!(
                parent: &self.span,
                %peer,
                remembered = %format_args!("{remembered:016x}"),
                incarnation = %format_args!("{incarnation:016x}"),
                "dropping Raft messages from node {peer}: it restarted with a new data directory (incarnation \
                 {incarnation:016x}, this node knows {remembered:016x}) and has lost the votes and entries it \
                 promised; it must not vote or count toward a quorum. Run `raft-cli members remove {peer}`, \
                 then `raft-cli members add-learner {peer} ADDR` and start it with --join, then `raft-cli \
                 members promote {peer}` once it has caught up"
            );
        }
    }

    /// Keeps the fence in step with the configuration: forgets departed
    /// members, adopts the stamps of the applied configuration, and on the
    /// leader proposes the stamps it knows but the configuration lacks.
    pub(crate) fn sync_fence(&mut self) -> Result<(), ClusterError> {
        self.forget_departed()?;
        self.adopt_stamps()?;
        self.maybe_stamp();
        Ok(())
    }

    /// Remembers, durably, each incarnation the applied (committed)
    /// configuration stamps and this node does not hold yet.
    fn adopt_stamps(&mut self) -> Result<(), ClusterError> {
        for (peer, inc) in self.fence.adoptions(&self.applied_membership, self.id) {
            self.store
                .set_peer_incarnation(peer, Some(inc))
                .map_err(|e| ClusterError::Storage(format!("adopt incarnation of {peer}: {e}")))?;
            self.fence.remembered(peer, inc);
            info!(parent: &self.span, %peer, incarnation = %format_args!("{inc:016x}"), "adopted peer incarnation from the configuration");
        }
        Ok(())
    }

    /// Leader: if a voter of the committed configuration has no stamp but
    /// its incarnation is known here (its own, or one remembered from
    /// contact), proposes the same configuration with the stamps added. A
    /// change in flight or no commit in this term yet just means later.
    fn maybe_stamp(&mut self) {
        if self.raft.role() != Role::Leader {
            return;
        }
        let s = self.raft.status();
        // A node alone has no peer to fence it: nothing to stamp for.
        let alone = s.membership.members().all(|m| m == self.id);
        if alone || !s.membership_committed || s.membership.is_joint() {
            return;
        }
        let Some(next) = with_stamps(&s.membership, self.fence.known(), self.id, self.store.incarnation()) else {
            return;
        };
        match self.raft.propose_membership(next) {
            Ok(id) => {
                info!(parent: &self.span, index = %id.index, "stamping member incarnations into the configuration")
            }
            Err(ProposeError::NotCommittedInTerm { .. } | ProposeError::MembershipChangePending { .. }) => {}
            Err(e) => warn!(parent: &self.span, error = %e, "could not stamp member incarnations"),
        }
    }

    /// Forgets the incarnations of peers that left the applied
    /// configuration, so a new incarnation of them can be added back.
    fn forget_departed(&mut self) -> Result<(), ClusterError> {
        for peer in self.fence.departed(&self.applied_membership, self.id) {
            self.store
                .set_peer_incarnation(peer, None)
                .map_err(|e| ClusterError::Storage(format!("forget incarnation of {peer}: {e}")))?;
            self.fence.forget(peer);
            info!(parent: &self.span, %peer, "member left the configuration: forgot its incarnation");
        }
        Ok(())
    }
}
