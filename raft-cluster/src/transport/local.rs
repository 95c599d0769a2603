//! [`LocalNetwork`]: in-process delivery between nodes of one process, for
//! unit tests and in-memory clusters.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use raft_core::{Message, MessageBody, NodeId};

use super::{MessageSink, Reporter, Transport};

/// A registry of node inboxes. Nodes register their [`MessageSink`] when
/// they start; a restarted node registers again and replaces the old one.
#[derive(Clone, Default)]
pub struct LocalNetwork {
    sinks: Arc<RwLock<HashMap<NodeId, MessageSink>>>,
}

impl LocalNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `sink`'s node reachable.
    pub fn register(&self, sink: MessageSink) {
        self.sinks.write().unwrap_or_else(|e| e.into_inner()).insert(sink.node(), sink);
    }

    /// Makes `node` unreachable.
    pub fn unregister(&self, node: NodeId) {
        self.sinks.write().unwrap_or_else(|e| e.into_inner()).remove(&node);
    }

    /// A transport for `node`'s outgoing messages.
    pub fn transport(&self) -> LocalTransport {
        LocalTransport { net: self.clone() }
    }

    fn sink(&self, node: NodeId) -> Option<MessageSink> {
        self.sinks.read().unwrap_or_else(|e| e.into_inner()).get(&node).cloned()
    }
}

/// Sends through a [`LocalNetwork`].
#[derive(Clone)]
pub struct LocalTransport {
    net: LocalNetwork,
}

impl Transport for LocalTransport {
    fn send(&self, msg: Message, report: &Reporter) {
        let to = msg.to;
        let is_snapshot = matches!(msg.body, MessageBody::InstallSnapshot(_));
        // Stamped with the sender's incarnation, as the gRPC transport does.
        let incarnation = self.net.sink(msg.from).map_or(0, |s| s.incarnation());
        let delivered = match self.net.sink(to) {
            Some(sink) => sink.deliver_stamped(msg, incarnation).is_ok(),
            None => false,
        };
        if is_snapshot {
            report.snapshot_status(to, delivered);
        }
        if !delivered {
            report.unreachable(to);
        }
    }
}
