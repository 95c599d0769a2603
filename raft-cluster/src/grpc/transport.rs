//! [`GrpcTransport`]: the node's outgoing messages over raft-rpc's
//! [`PeerPool`] (one ordered, bounded queue and sender task per peer;
//! snapshots streamed in chunks).

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use raft_core::{Message, NodeId};
use raft_rpc::{PeerPool, PeerReport, SnapshotSource};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::config::NodeConfig;
use crate::error::ClusterError;
use crate::store::SnapshotData;
use crate::transport::{Reporter, Transport};

/// Reports the pool may queue before the node drains them.
const POOL_REPORT_CAPACITY: usize = 1024;

/// Sends through a [`PeerPool`] holding every other member of the config.
pub struct GrpcTransport {
    pool: PeerPool,
    reports: Mutex<Option<mpsc::Receiver<PeerReport>>>,
}

impl GrpcTransport {
    /// A pool with a link to every peer of `config` except the node itself.
    /// Connections are made lazily, on the first message.
    /// Every batch is stamped with `incarnation`, the node's own.
    pub fn new(config: &NodeConfig, incarnation: u64) -> Result<Self, ClusterError> {
        let mut peer_config = raft_rpc::PeerConfig::new(config.cluster_id.clone());
        peer_config.incarnation = incarnation;
        peer_config.tls = config.tls()?;
        let (pool, reports) = PeerPool::new(peer_config, POOL_REPORT_CAPACITY);
        for p in config.peers.iter().filter(|p| p.id != config.node_id) {
            pool.set_peer(NodeId(p.id), &p.addr).map_err(|e| ClusterError::Transport(e.to_string()))?;
        }
        Ok(GrpcTransport { pool, reports: Mutex::new(Some(reports)) })
    }

    /// The underlying pool (for stats).
    pub fn pool(&self) -> &PeerPool {
        &self.pool
    }
}

impl Transport for GrpcTransport {
    fn send(&self, msg: Message, report: &Reporter) {
        let to = msg.to;
        if let Err(e) = self.pool.send(msg) {
            debug!(peer = %to, error = %e, "peer send refused");
            report.unreachable(to);
        }
    }

    /// Streams the data from the store in chunks (raft-rpc's
    /// [`PeerPool::stream_snapshot`]): memory stays bounded whatever the
    /// snapshot's size.
    fn send_snapshot<'a>(&'a self, msg: Message, data: SnapshotData, report: &'a Reporter) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let to = msg.to;
            let source = SnapshotSource { len: data.len, crc32: data.crc32, reader: data.reader };
            let success = self.pool.stream_snapshot(msg, source).await;
            report.snapshot_status(to, success);
        })
    }

    /// Adds a sender for each new peer (or a changed address) and stops
    /// the senders of peers no longer listed.
    fn set_peers(&self, peers: &BTreeMap<NodeId, String>) {
        for (id, addr) in peers {
            if let Err(e) = self.pool.set_peer(*id, addr) {
                warn!(peer = %id, %addr, error = %e, "peer address unusable; messages to it will fail");
            }
        }
        for id in self.pool.peer_ids() {
            if !peers.contains_key(&id) {
                debug!(peer = %id, "peer no longer in the configuration: sender stopped");
                self.pool.remove_peer(id);
            }
        }
    }

    /// Forwards the pool's reports to the node until the pool closes.
    fn attach(&self, report: Reporter) {
        let Some(mut rx) = self.reports.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                match r {
                    PeerReport::Unreachable { peer } => report.unreachable(peer),
                    PeerReport::Reachable { peer } => report.reachable(peer),
                    PeerReport::SnapshotDone { peer, success } => report.snapshot_status(peer, success),
                }
            }
        });
    }
}
