//! Fault injection on links: drop all traffic between chosen pairs (one way
//! or both) or delay it. Shared by every node of a test cluster, applied on
//! the sending side, so it works the same over in-process and gRPC
//! transports.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use raft_core::{Message, MessageBody, NodeId};

use super::{Reporter, Transport};

#[derive(Default, Debug)]
struct Rules {
    /// Directed links `(from, to)` whose traffic is dropped.
    dropped: HashSet<(NodeId, NodeId)>,
    /// Directed links whose traffic is delayed.
    delays: HashMap<(NodeId, NodeId), Duration>,
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

    /// Removes every rule.
    pub fn heal(&self) {
        let mut rules = self.write();
        rules.dropped.clear();
        rules.delays.clear();
    }

    /// The fate of a message from `from` to `to`.
    pub fn verdict(&self, from: NodeId, to: NodeId) -> Verdict {
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        if rules.dropped.contains(&(from, to)) {
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
    fn delay_applies_to_its_link_only() {
        let f = LinkFilter::new();
        f.delay_link(NodeId(1), NodeId(2), Duration::from_millis(5));
        assert_eq!(f.verdict(NodeId(1), NodeId(2)), Verdict::Delay(Duration::from_millis(5)));
        assert_eq!(f.verdict(NodeId(2), NodeId(1)), Verdict::Pass);
    }
}
