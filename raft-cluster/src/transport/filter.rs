//! Fault injection on links: drop all traffic between chosen pairs (one way
//! or both) or delay it. Shared by every node of a test cluster, applied on
//! the sending side, so it works the same over in-process and gRPC
//! transports.
//!
//! A node can also hold a *blocked set* ([`LinkFilter::set_blocked`]), set
//! through the Admin `SetPartition` RPC: that is how separate processes
//! (`raft-cli demo --chaos`) get partitioned without root. It is kept apart
//! from the link rules so that healing an RPC partition never undoes a
//! test's own rules, and the other way round only [`LinkFilter::heal`]
//! clears both.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use raft_core::{Message, MessageBody, NodeId};

use super::{Reporter, Transport};
use crate::store::SnapshotData;

#[derive(Default, Debug)]
struct Rules {
    /// Directed links `(from, to)` whose traffic is dropped.
    dropped: HashSet<(NodeId, NodeId)>,
    /// Directed links whose traffic is delayed.
    delays: HashMap<(NodeId, NodeId), Duration>,
    /// Per node, the peers it cuts itself off from (both ways: the sender
    /// side here, the receiving side in the gRPC server bridge).
    blocked: HashMap<NodeId, HashSet<NodeId>>,
}

/// What to do with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver now.
    Pass,
    /// Deliver after this long.
    Delay(Duration),
    /// Drop it.
    Drop,
}

/// The shared set of link rules. Cloning shares the rules.
#[derive(Clone, Default, Debug)]
pub struct LinkFilter {
    rules: Arc<RwLock<Rules>>,
}

impl LinkFilter {
    /// No rules: everything passes.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rules> {
        self.rules.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops traffic from `from` to `to` (one way).
    pub fn drop_link(&self, from: NodeId, to: NodeId) {
        self.write().dropped.insert((from, to));
    }

    /// Drops traffic both ways between every node of `a` and every node of
    /// `b`.
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        let mut rules = self.write();
        for &x in a {
            for &y in b {
                rules.dropped.insert((x, y));
                rules.dropped.insert((y, x));
            }
        }
    }

    /// Cuts `node` off from every node in `others`, both ways.
    pub fn isolate(&self, node: NodeId, others: &[NodeId]) {
        let rest: Vec<NodeId> = others.iter().copied().filter(|&o| o != node).collect();
        self.partition(&[node], &rest);
    }

    /// Delays traffic from `from` to `to`.
    pub fn delay_link(&self, from: NodeId, to: NodeId, delay: Duration) {
        self.write().delays.insert((from, to), delay);
    }

    /// Removes every rule, blocked sets included.
    pub fn heal(&self) {
        let mut rules = self.write();
        rules.dropped.clear();
        rules.delays.clear();
        rules.blocked.clear();
    }

    /// Replaces `node`'s blocked set: its messages to these peers are
    /// dropped, and [`Self::is_blocked`] tells its receiving side to drop
    /// theirs. Empty heals `node`. Returns the previous set (sorted).
    pub fn set_blocked(&self, node: NodeId, peers: &[NodeId]) -> Vec<NodeId> {
        let mut rules = self.write();
        let new: HashSet<NodeId> = peers.iter().copied().filter(|&p| p != node).collect();
        let old = if new.is_empty() { rules.blocked.remove(&node) } else { rules.blocked.insert(node, new) };
        let mut old: Vec<NodeId> = old.unwrap_or_default().into_iter().collect();
        old.sort();
        old
    }

    /// True when `node` has cut itself off from `peer`.
    pub fn is_blocked(&self, node: NodeId, peer: NodeId) -> bool {
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        rules.blocked.get(&node).is_some_and(|b| b.contains(&peer))
    }

    /// The fate of a message from `from` to `to`.
    pub fn verdict(&self, from: NodeId, to: NodeId) -> Verdict {
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        let blocked = rules.blocked.get(&from).is_some_and(|b| b.contains(&to));
        if blocked || rules.dropped.contains(&(from, to)) {
            Verdict::Drop
        } else if let Some(d) = rules.delays.get(&(from, to)) {
            Verdict::Delay(*d)
        } else {
            Verdict::Pass
        }
    }
}

/// A [`Transport`] that applies a [`LinkFilter`] before handing messages to
/// the wrapped transport. Dropped messages are reported as unreachable (and
/// dropped snapshots as failed), as a real network timeout would be.
pub struct FilteredTransport<T> {
    inner: Arc<T>,
    filter: LinkFilter,
}

impl<T: Transport> FilteredTransport<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, filter: LinkFilter) -> Self {
        FilteredTransport { inner: Arc::new(inner), filter }
    }
}

impl<T: Transport> Transport for FilteredTransport<T> {
    fn send(&self, msg: Message, report: &Reporter) {
        match self.filter.verdict(msg.from, msg.to) {
            Verdict::Pass => self.inner.send(msg, report),
            Verdict::Drop => {
                if matches!(msg.body, MessageBody::InstallSnapshot(_)) {
                    report.snapshot_status(msg.to, false);
                }
                report.unreachable(msg.to);
            }
            Verdict::Delay(d) => {
                let inner = Arc::clone(&self.inner);
                let report = report.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    inner.send(msg, &report);
                });
            }
        }
    }

    fn set_peers(&self, peers: &std::collections::BTreeMap<NodeId, String>) {
        self.inner.set_peers(peers);
    }

    fn send_snapshot<'a>(&'a self, msg: Message, data: SnapshotData, report: &'a Reporter) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match self.filter.verdict(msg.from, msg.to) {
                Verdict::Pass => self.inner.send_snapshot(msg, data, report).await,
                Verdict::Drop => {
                    report.snapshot_status(msg.to, false);
                    report.unreachable(msg.to);
                }
                Verdict::Delay(d) => {
                    tokio::time::sleep(d).await;
                    self.inner.send_snapshot(msg, data, report).await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_way_drop_leaves_the_reverse_link_open() {
        let f = LinkFilter::new();
        f.drop_link(NodeId(1), NodeId(2));
        assert_eq!(f.verdict(NodeId(1), NodeId(2)), Verdict::Drop);
        assert_eq!(f.verdict(NodeId(2), NodeId(1)), Verdict::Pass);
    }

    #[test]
    fn partition_cuts_both_ways_and_heal_restores() {
        let f = LinkFilter::new();
        f.partition(&[NodeId(1)], &[NodeId(2), NodeId(3)]);
        assert_eq!(f.verdict(NodeId(3), NodeId(1)), Verdict::Drop);
        assert_eq!(f.verdict(NodeId(1), NodeId(2)), Verdict::Drop);
        assert_eq!(f.verdict(NodeId(2), NodeId(3)), Verdict::Pass);
        f.heal();
        assert_eq!(f.verdict(NodeId(1), NodeId(2)), Verdict::Pass);
    }

    #[test]
    fn a_blocked_set_drops_sends_replaces_and_heals_apart_from_link_rules() {
        let f = LinkFilter::new();
        f.drop_link(NodeId(2), NodeId(3));
        assert!(f.set_blocked(NodeId(1), &[NodeId(2), NodeId(3), NodeId(1)]).is_empty());
        assert_eq!(f.verdict(NodeId(1), NodeId(2)), Verdict::Drop);
        assert!(f.is_blocked(NodeId(1), NodeId(3)));
        assert!(!f.is_blocked(NodeId(1), NodeId(1)), "a node never blocks itself");
        // Only the sender side is in the verdict; the receiver side is the bridge's.
        assert_eq!(f.verdict(NodeId(2), NodeId(1)), Verdict::Pass);
        assert_eq!(f.set_blocked(NodeId(1), &[NodeId(3)]), vec![NodeId(2), NodeId(3)]);
        assert_eq!(f.verdict(NodeId(1), NodeId(2)), Verdict::Pass);
        assert_eq!(f.set_blocked(NodeId(1), &[]), vec![NodeId(3)]);
        assert_eq!(f.verdict(NodeId(1), NodeId(3)), Verdict::Pass);
        assert_eq!(f.verdict(NodeId(2), NodeId(3)), Verdict::Drop, "the test's own rule survives");
        f.set_blocked(NodeId(1), &[NodeId(2)]);
        f.heal();
        assert!(!f.is_blocked(NodeId(1), NodeId(2)));
    }

    #[test]
    fn delay_applies_to_its_link_only() {
        let f = LinkFilter::new();
        f.delay_link(NodeId(1), NodeId(2), Duration::from_millis(5));
        assert_eq!(f.verdict(NodeId(1), NodeId(2)), Verdict::Delay(Duration::from_millis(5)));
        assert_eq!(f.verdict(NodeId(2), NodeId(1)), Verdict::Pass);
    }
}
