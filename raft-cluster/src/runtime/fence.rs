//! [`IncarnationFence`]: drops Raft traffic from a wiped-and-restarted
//! peer.
//!
//! Raft's safety rests on every member keeping its promises across
//! restarts: a vote once cast (§5.2, "at most one candidate per term") and
//! an entry once acknowledged (§5.4.2: committed entries live on a majority
//! and any leader must have them). A peer whose data directory was wiped has
//! kept neither, yet carries the same node id; if its votes and
//! acknowledgements still counted, a candidate missing committed entries
//! could win (the wiped peer grants its vote with an empty log) and those
//! entries would be lost.
//!
//! Every batch a node sends carries its data directory's incarnation (a
//! random non-zero number created with the directory). The receiver
//! remembers, durably, the first incarnation it sees for each peer, and from
//! then on drops every message from that peer that carries another one
//! (logging a warning once per peer, with what to run). Only removing the
//! member from the configuration forgets it, so that the operator can add
//! the new incarnation back as a learner (thesis §4.2.1) and promote it once
//! it has caught up. An incarnation of 0 means "not stamped" (a sender that
//! predates incarnations) and is let through.
//!
//! Contact alone leaves a hole: followers rarely talk to each other, so a
//! follower that never heard from a peer before that peer was wiped would
//! remember the wiped incarnation as the first one. So the leader also
//! stamps each member's incarnation into the configuration it replicates
//! ([`raft_core::Membership::incarnations`]), and every node adopts the
//! stamps of its applied (hence committed) configuration
//! ([`IncarnationFence::adoptions`]), overriding what contact taught it:
//! the log is what the cluster agreed on, and the leader only ever learns
//! an incarnation through this same fence.

use std::collections::{BTreeMap, BTreeSet};

use raft_core::{Membership, NodeId};

/// What to do with a message from a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The peer's known incarnation (or an unstamped message): deliver.
    Admit,
    /// First message from this peer: remember `incarnation` durably, then
    /// deliver.
    Remember(u64),
    /// Another incarnation than the remembered one: drop.
    Drop {
        /// The incarnation remembered for the peer.
        remembered: u64,
    },
}

/// The incarnations remembered for peers, and which fenced peers were
/// already warned about.
#[derive(Debug, Default)]
pub(crate) struct IncarnationFence {
    remembered: BTreeMap<NodeId, u64>,
    warned: BTreeSet<NodeId>,
    dropped: u64,
}

impl IncarnationFence {
    /// Starts from what the store remembers.
    pub(crate) fn new(remembered: BTreeMap<NodeId, u64>) -> Self {
        IncarnationFence { remembered, warned: BTreeSet::new(), dropped: 0 }
    }

    /// Decides about a message from `from` stamped `incarnation`.
    pub(crate) fn check(&self, from: NodeId, incarnation: u64) -> Admission {
        if incarnation == 0 {
            return Admission::Admit;
        }
        match self.remembered.get(&from) {
            None => Admission::Remember(incarnation),
            Some(&r) if r == incarnation => Admission::Admit,
            Some(&remembered) => Admission::Drop { remembered },
        }
    }

    /// Records what the store now remembers for `peer`.
    pub(crate) fn remembered(&mut self, peer: NodeId, incarnation: u64) {
        self.remembered.insert(peer, incarnation);
        self.warned.remove(&peer);
    }

    /// Counts a dropped message; true the first time for `peer` (warn then).
    pub(crate) fn dropped(&mut self, peer: NodeId) -> bool {
        self.dropped += 1;
        self.warned.insert(peer)
    }

    /// Messages dropped so far.
    pub(crate) fn dropped_total(&self) -> u64 {
        self.dropped
    }

    /// Remembered peers that are no longer in `membership` (voters,
    /// outgoing voters or learners): forget them, so a new incarnation can
    /// be added back. An empty membership (a joining node that has not
    /// heard from its leader yet) removes nobody.
    pub(crate) fn departed(&self, membership: &Membership, me: NodeId) -> Vec<NodeId> {
        if membership.voters.is_empty() {
            return Vec::new();
        }
        let members: BTreeSet<NodeId> = membership.members().collect();
        self.remembered.keys().filter(|id| **id != me && !members.contains(id)).copied().collect()
    }

    /// Stamps of the committed configuration `membership` this fence does
    /// not hold yet (other members than `me` only): remember each durably,
    /// then [`IncarnationFence::remembered`] it.
    pub(crate) fn adoptions(&self, membership: &Membership, me: NodeId) -> Vec<(NodeId, u64)> {
        membership
            .incarnations
            .iter()
            .filter(|(id, inc)| **id != me && **inc != 0 && membership.contains(**id))
            .filter(|(id, inc)| self.remembered.get(id) != Some(inc))
            .map(|(id, inc)| (*id, *inc))
            .collect()
    }

    /// Forgets `peer` (after the store did).
    pub(crate) fn forget(&mut self, peer: NodeId) {
        self.remembered.remove(&peer);
        self.warned.remove(&peer);
    }

    /// The remembered incarnations.
    pub(crate) fn known(&self) -> &BTreeMap<NodeId, u64> {
        &self.remembered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(voters: &[u64], learners: &[u64]) -> Membership {
        let mut m = Membership::new(voters.iter().map(|&v| NodeId(v)));
        m.learners = learners.iter().map(|&l| NodeId(l)).collect();
        m
    }

    #[test]
    fn the_first_incarnation_is_remembered_and_another_one_dropped() {
        let mut fence = IncarnationFence::default();
        assert_eq!(fence.check(NodeId(2), 7), Admission::Remember(7));
        fence.remembered(NodeId(2), 7);
        assert_eq!(fence.check(NodeId(2), 7), Admission::Admit);
        assert_eq!(fence.check(NodeId(2), 8), Admission::Drop { remembered: 7 });
        assert!(fence.dropped(NodeId(2)), "first drop warns");
        assert!(!fence.dropped(NodeId(2)), "later drops do not");
        assert_eq!(fence.dropped_total(), 2);
        assert_eq!(fence.check(NodeId(2), 0), Admission::Admit, "unstamped senders are not fenced");
    }

    #[test]
    fn the_committed_configurations_stamps_win_over_contact() {
        // Node 1 heard first from node 3's wiped incarnation (0xbad): the
        // configuration stamped by the leader, who knew the original (9),
        // overrides it, so node 1 fences the wiped node too (issue #14).
        let mut fence = IncarnationFence::new([(NodeId(2), 7), (NodeId(3), 0xbad)].into());
        let mut m = members(&[1, 2, 3], &[4]);
        m.incarnations = [(NodeId(1), 5), (NodeId(2), 7), (NodeId(3), 9), (NodeId(4), 44)].into();
        assert_eq!(fence.adoptions(&m, NodeId(1)), vec![(NodeId(3), 9), (NodeId(4), 44)], "not ourselves, not known");
        fence.remembered(NodeId(3), 9);
        fence.remembered(NodeId(4), 44);
        assert!(fence.adoptions(&m, NodeId(1)).is_empty());
        assert_eq!(fence.check(NodeId(3), 0xbad), Admission::Drop { remembered: 9 });
        assert_eq!(fence.check(NodeId(4), 44), Admission::Admit, "a learner never heard from is admitted");
        m.incarnations.insert(NodeId(9), 1);
        assert!(fence.adoptions(&m, NodeId(1)).is_empty(), "a stamp for a non-member is ignored");
    }

    #[test]
    fn a_removed_member_is_forgotten_so_it_can_rejoin() {
        let mut fence = IncarnationFence::new([(NodeId(2), 7), (NodeId(3), 9)].into());
        assert_eq!(fence.departed(&members(&[1, 3], &[]), NodeId(1)), vec![NodeId(2)]);
        assert!(fence.departed(&members(&[1], &[2, 3]), NodeId(1)).is_empty(), "learners stay remembered");
        assert!(fence.departed(&Membership::default(), NodeId(1)).is_empty(), "a joiner forgets nobody");
        fence.forget(NodeId(2));
        assert_eq!(fence.check(NodeId(2), 8), Admission::Remember(8));
    }
}
