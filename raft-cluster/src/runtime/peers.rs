//! [`PeerDirectory`]: which peers the transport should hold a link to, and
//! at which address.
//!
//! Addresses travel in the log with each configuration
//! ([`raft_core::Membership::addrs`]), so a member added at run time is
//! reachable by every node as soon as the entry adding it is in its log
//! (thesis §4.1: a configuration takes effect when appended), without any
//! node's static config knowing it. The static `peers` of the config are
//! the fallback for ids whose address no configuration carries, and the
//! whole set while a joining node has no configuration yet.
//!
//! A member stays linked until its removal is applied *and* it holds the
//! entry removing it: the core keeps sending to a removed server until it
//! does (thesis §4.2.2), and cutting the link earlier would leave it
//! campaigning. (The runtime passes such peers as `tracked`; it does not
//! wait for the core to let go of a departed peer, which the core only
//! does on an acknowledgement that advances, never on a heartbeat answer.)
//! Even then the link lives
//! [`LINK_GRACE`] longer: closing a sender drops what it has queued, and
//! the core's last message to a departed peer (the heartbeat telling it
//! its removal committed) is queued in the very turn it lets go of it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use raft_core::{Membership, NodeId};

/// The address book and the link set last handed to the transport.
pub(crate) struct PeerDirectory {
    me: NodeId,
    /// From the node's static config.
    fallback: BTreeMap<NodeId, String>,
    /// Learned from configurations; the latest seen wins.
    learned: BTreeMap<NodeId, String>,
    /// What the transport holds now.
    current: BTreeMap<NodeId, String>,
    /// Linked peers no longer wanted, and since when.
    departing: BTreeMap<NodeId, Instant>,
    /// Members of the configurations seen by the last update.
    members: BTreeSet<NodeId>,
}

/// How long a link outlives the need for it (see the module docs).
pub(crate) const LINK_GRACE: Duration = Duration::from_millis(500);

impl PeerDirectory {
    /// Starts with the static peers; the transport holds those at start.
    pub(crate) fn new(me: NodeId, fallback: BTreeMap<NodeId, String>) -> Self {
        let current = fallback.iter().filter(|(id, _)| **id != me).map(|(i, a)| (*i, a.clone())).collect();
        PeerDirectory {
            me,
            fallback,
            learned: BTreeMap::new(),
            current,
            departing: BTreeMap::new(),
            members: BTreeSet::new(),
        }
    }

    /// Where `id` can be reached, if anyone said.
    pub(crate) fn addr_of(&self, id: NodeId) -> Option<&str> {
        self.learned.get(&id).or_else(|| self.fallback.get(&id)).map(String::as_str)
    }

    /// True while some link is held for a peer outside the configurations
    /// last seen (a removed peer still being replicated to, or in its
    /// grace period, or the static peers of a node not yet in any
    /// configuration): the links may change without the configuration
    /// changing, so the runtime must keep calling [`Self::update`].
    pub(crate) fn settling(&self) -> bool {
        self.current.keys().any(|id| !self.members.contains(id))
    }

    /// The peers the transport holds a link to.
    pub(crate) fn linked(&self) -> Vec<NodeId> {
        self.current.keys().copied().collect()
    }

    /// The links wanted at `now` for the configuration in effect
    /// (`effective`), the applied one and the peers the core still
    /// replicates to (`tracked`), plus departing links still in their
    /// grace period. `Some` only when that differs from what the
    /// transport holds.
    pub(crate) fn update(
        &mut self,
        effective: &Membership,
        applied: &Membership,
        tracked: impl IntoIterator<Item = NodeId>,
        now: Instant,
    ) -> Option<BTreeMap<NodeId, String>> {
        for m in [applied, effective] {
            self.learned.extend(m.addrs.iter().map(|(id, a)| (*id, a.clone())));
        }
        self.members = effective.members().chain(applied.members()).collect();
        let mut ids: BTreeSet<NodeId> = self.members.iter().copied().chain(tracked).collect();
        if ids.is_empty() {
            // Not part of any configuration yet (joining): the static
            // peers are how the leader's messages get answered.
            ids = self.fallback.keys().copied().collect();
        }
        let wanted: BTreeMap<NodeId, String> = ids
            .into_iter()
            .filter(|id| *id != self.me)
            .filter_map(|id| self.addr_of(id).map(|a| (id, a.to_owned())))
            .collect();
        let mut links = wanted.clone();
        for (id, addr) in &self.current {
            if !wanted.contains_key(id) {
                let since = *self.departing.entry(*id).or_insert(now);
                if now.saturating_duration_since(since) < LINK_GRACE {
                    links.insert(*id, addr.clone());
                }
            }
        }
        self.departing.retain(|id, _| links.contains_key(id) && !wanted.contains_key(id));
        if links == self.current {
            return None;
        }
        self.current = links.clone();
        Some(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u64) -> String {
        format!("127.0.0.1:70{i:02}")
    }

    fn config(voters: &[u64], learners: &[u64]) -> Membership {
        let mut m = Membership::new(voters.iter().map(|&v| NodeId(v)));
        m.learners = learners.iter().map(|&l| NodeId(l)).collect();
        m.addrs = m.members().map(|id| (id, addr(id.0))).collect();
        m
    }

    fn directory() -> PeerDirectory {
        PeerDirectory::new(NodeId(1), (1..=3).map(|i| (NodeId(i), addr(i))).collect())
    }

    fn ids(peers: &BTreeMap<NodeId, String>) -> Vec<u64> {
        peers.keys().map(|id| id.0).collect()
    }

    #[test]
    fn a_member_added_with_an_address_gets_a_link_at_once() {
        let mut d = directory();
        let three = config(&[1, 2, 3], &[]);
        assert_eq!(d.update(&three, &three, [], Instant::now()), None, "the static peers are already linked");
        let four = config(&[1, 2, 3], &[4]);
        let peers = d.update(&four, &three, [], Instant::now()).expect("node 4 is new");
        assert_eq!(ids(&peers), vec![2, 3, 4]);
        assert_eq!(peers[&NodeId(4)], addr(4), "the address comes from the log");
    }

    #[test]
    fn a_removed_member_keeps_its_link_until_applied_and_acknowledged() {
        let mut d = directory();
        let old = config(&[1, 2, 3], &[]);
        let new = config(&[1, 2], &[]);
        let t0 = Instant::now();
        assert_eq!(d.update(&new, &old, [], t0), None, "removal appended, not applied: keep node 3");
        assert!(!d.settling(), "node 3 is still in the applied configuration");
        assert_eq!(d.update(&new, &new, [NodeId(2), NodeId(3)], t0), None, "the leader still replicates to 3");
        assert_eq!(d.update(&new, &new, [NodeId(2)], t0), None, "released: the last heartbeat may be queued");
        assert!(d.settling(), "node 3 is linked but no longer a member");
        assert_eq!(d.linked(), vec![NodeId(2), NodeId(3)]);
        let later = t0 + LINK_GRACE;
        assert_eq!(ids(&d.update(&new, &new, [NodeId(2)], later).expect("3 is dropped")), vec![2]);
        assert_eq!(d.linked(), vec![NodeId(2)]);
        assert!(!d.settling(), "only members are linked");
    }

    #[test]
    fn static_peers_are_the_fallback_address_and_the_set_of_a_joining_node() {
        let mut d = PeerDirectory::new(NodeId(4), (1..=4).map(|i| (NodeId(i), addr(i))).collect());
        let (empty, t0) = (Membership::default(), Instant::now());
        assert_eq!(d.update(&empty, &empty, [], t0), None, "joining: static peers");
        let mut no_addrs = Membership::new([NodeId(1), NodeId(2), NodeId(9)]);
        no_addrs.learners.insert(NodeId(4));
        assert_eq!(d.update(&no_addrs, &no_addrs, [], t0), None, "node 3's link is in its grace period");
        let later = t0 + LINK_GRACE;
        let peers = d.update(&no_addrs, &no_addrs, [], later).expect("the configuration replaces the static set");
        assert_eq!(ids(&peers), vec![1, 2], "node 9 has no address anywhere; node 3 is not a member");
        assert_eq!(d.addr_of(NodeId(1)), Some(addr(1).as_str()));
    }
}
