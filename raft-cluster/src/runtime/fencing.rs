//! The node task's side of the [`super::fence::IncarnationFence`]: every
//! inbound peer message passes [`NodeTask::step_stamped`], and members that
//! left the applied configuration are forgotten.

use raft_core::{Message, NodeId};
use tracing::{info, warn};

use super::fence::Admission;
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

    /// Forgets the incarnations of peers that left the applied
    /// configuration, so a new incarnation of them can be added back.
    pub(crate) fn forget_departed(&mut self) -> Result<(), ClusterError> {
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
