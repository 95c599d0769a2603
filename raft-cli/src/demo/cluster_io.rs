//! Everything the demo says to the nodes over gRPC: the workload's writes,
//! the Watch streams, status polls, the chaos partitions and the final
//! stale reads. The rest of
//! the demo only sees [`DemoEvent`]s and plain values.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use raft_core::NodeId;
use raft_rpc::{AdminClient, ClientConfig, ClientError, Consistency, EventKind, KvClient, NodeEvent};
use tokio::sync::{mpsc, watch, Mutex};

use super::event::{Activity, DemoEvent, NodeNum, RaftStatus};
use super::workload::WriteOutcome;
use crate::client::client_config;

/// The cluster id the demo's nodes run with (the default, so plain client commands reach them).
pub const CLUSTER_ID: &str = "default";
/// A write that gets no definite answer within this time counts as unknown.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// A node that does not answer a status call within this time shows as "(no answer)".
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);
/// A node that does not take a SetPartition within this time is reported.
const PARTITION_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnect delay of a watcher whose node is down.
const WATCH_RETRY: Duration = Duration::from_millis(300);

/// The workload's session: one client, writes in order.
#[derive(Clone)]
pub struct DemoClient {
    inner: Arc<Mutex<Result<KvClient, String>>>,
}

impl DemoClient {
    /// A session against every demo node.
    pub fn new(endpoints: Vec<String>) -> Self {
        let client = KvClient::new(&endpoints, client_config(CLUSTER_ID, WRITE_TIMEOUT)).map_err(|e| e.to_string());
        DemoClient { inner: Arc::new(Mutex::new(client)) }
    }

    /// Writes `key = value` and says whether it must survive.
    pub async fn put(&self, key: String, value: Vec<u8>) -> WriteOutcome {
        let mut guard = self.inner.lock().await;
        let Ok(client) = guard.as_mut() else { return WriteOutcome::NotApplied };
        match client.put(key, value).await {
            Ok(_) => WriteOutcome::Acked,
            Err(ClientError::Unknown(_)) => WriteOutcome::Unknown,
            Err(_) => WriteOutcome::NotApplied,
        }
    }
}

fn activity(kind: EventKind) -> Option<Activity> {
    Some(match kind {
        EventKind::ElectionStarted { term, pre_vote } => Activity::ElectionStarted { term: term.0, pre_vote },
        EventKind::LeaderElected { term, leader, votes } => {
            Activity::LeaderElected { term: term.0, leader: leader.0, votes: votes.into_iter().map(|v| v.0).collect() }
        }
        EventKind::TermChanged { term, leader } => Activity::TermChanged { term: term.0, leader: leader.map(|l| l.0) },
        EventKind::Committed { index, term } => Activity::Committed { index: index.0, term: term.0 },
        EventKind::Applied { index } => Activity::Applied { index: index.0 },
        EventKind::SnapshotTaken { last_log_id } => Activity::Snapshot { index: last_log_id.index.0, installed: false },
        EventKind::SnapshotInstalled { last_log_id } => {
            Activity::Snapshot { index: last_log_id.index.0, installed: true }
        }
        EventKind::PeerUp { peer } => Activity::Peer { peer: peer.0, up: true },
        EventKind::PeerDown { peer } => Activity::Peer { peer: peer.0, up: false },
        EventKind::LostQuorum { term } => Activity::LostQuorum { term: term.0 },
        EventKind::TransferStarted { to } => Activity::TransferStarted { to: to.0 },
        EventKind::Lagged { missed } => Activity::Lagged { missed },
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

fn to_demo_event(node: NodeNum, event: NodeEvent) -> Option<DemoEvent> {
    activity(event.kind).map(|kind| DemoEvent::Activity { node, kind })
}

/// Follows `node`'s Watch stream until `stop`, reconnecting whenever the node comes back.
pub async fn watch_node(node: NodeNum, addr: String, tx: mpsc::Sender<DemoEvent>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let config = client_config(CLUSTER_ID, STATUS_TIMEOUT);
        if let Ok(admin) = AdminClient::connect(&addr, config).await {
            if let Ok(stream) = admin.watch().await {
                let mut stream = Box::pin(stream);
                loop {
                    tokio::select! {
                        item = stream.next() => match item {
                            Some(Ok(event)) => {
                                if let Some(e) = to_demo_event(node, event) {
                                    if tx.send(e).await.is_err() { return; }
                                }
                            }
                            _ => break,
                        },
                        _ = stop.changed() => return,
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_RETRY) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn status_of(addr: &str) -> Option<RaftStatus> {
    let ask = async {
        let admin = AdminClient::connect(addr, client_config(CLUSTER_ID, STATUS_TIMEOUT)).await.ok()?;
        admin.status().await.ok()
    };
    let s = tokio::time::timeout(STATUS_TIMEOUT, ask).await.ok()??;
    Some(RaftStatus {
        role: s.role.to_string().to_lowercase(),
        term: s.term.0,
        leader: s.leader.map(|l| l.0),
        commit: s.commit.0,
        applied: s.applied.0,
        last_index: s.last_index.0,
    })
}

/// Asks every node for its status at once; `None` for a node that did not answer.
pub async fn poll_status(addrs: &[(NodeNum, String)]) -> Vec<(NodeNum, Option<RaftStatus>)> {
    let asks = addrs.iter().map(|(node, addr)| async move { (*node, status_of(addr).await) });
    futures::future::join_all(asks).await
}

async fn set_partition_of(addr: &str, blocked: &[NodeNum]) -> Result<(), String> {
    let blocked: Vec<NodeId> = blocked.iter().map(|b| NodeId(*b)).collect();
    let ask = async {
        let admin = AdminClient::connect(addr, client_config(CLUSTER_ID, PARTITION_TIMEOUT)).await?;
        admin.set_partition(&blocked).await
    };
    match tokio::time::timeout(PARTITION_TIMEOUT, ask).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {PARTITION_TIMEOUT:?}")),
    }
}

/// Gives each `(node, addr, blocked)` its new blocked set (Admin
/// `SetPartition`; empty heals), all at once. Returns the nodes that did not
/// take it, with why.
pub async fn set_partitions(cuts: Vec<(NodeNum, String, Vec<NodeNum>)>) -> Vec<(NodeNum, String)> {
    let asks = cuts.iter().map(|(node, addr, blocked)| async move { (*node, set_partition_of(addr, blocked).await) });
    futures::future::join_all(asks).await.into_iter().filter_map(|(node, r)| r.err().map(|e| (node, e))).collect()
}

/// Reads `key` from the node at `addr` alone, from its local state.
pub async fn read_stale(addr: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
    let config: ClientConfig = client_config(CLUSTER_ID, WRITE_TIMEOUT);
    let mut client = KvClient::new(&[addr.to_string()], config).map_err(|e| e.to_string())?;
    client.get(key, Consistency::Stale).await.map_err(|e| e.to_string())
}
