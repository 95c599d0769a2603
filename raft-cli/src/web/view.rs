//! [`ClusterView`]: what the web page draws, polled from every node's Admin
//! `Status` RPC a few times a second.
//!
//! Why poll instead of deriving state from the Watch streams: a status is
//! the node's own word on its role, term, log bounds and (on the leader)
//! each follower's match index, so the page can never drift from the
//! cluster; the Watch streams ([`super::feed`]) add the moments in between
//! (elections, faults) as a live feed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use raft_rpc::{AdminClient, NodeStatus};
use serde::Serialize;
use tokio::sync::{watch, Mutex};

use super::controls::ProcessInfo;
use crate::client::client_config;

/// How often every node is asked for its status.
pub const POLL_EVERY: Duration = Duration::from_millis(300);
/// A node that does not answer within this time shows as unreachable.
const STATUS_TIMEOUT: Duration = Duration::from_millis(800);

/// One member as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeView {
    /// The node id.
    pub id: u64,
    /// Its gRPC address.
    pub addr: String,
    /// `up`, `paused`, `down` (demo: from the process supervisor) or
    /// `unreachable` (it did not answer its status call).
    pub process: String,
    /// Its process id (demo only).
    pub pid: Option<u32>,
    /// The node's answer, if it answered.
    pub raft: Option<RaftView>,
}

/// A node's own status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RaftView {
    /// follower, precandidate, candidate or leader.
    pub role: String,
    /// Its term.
    pub term: u64,
    /// The leader it follows, if known.
    pub leader: Option<u64>,
    /// Commit index.
    pub commit: u64,
    /// Applied index.
    pub applied: u64,
    /// First index still in the log (entries before it are in the snapshot).
    pub first_index: u64,
    /// Last index in the log.
    pub last_index: u64,
    /// Leader only: each member's progress as the leader sees it.
    pub progress: Vec<ProgressView>,
}

/// The leader's view of one member's log (§5.3 nextIndex / matchIndex).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgressView {
    /// The member.
    pub id: u64,
    /// Voter (true) or learner.
    pub voter: bool,
    /// Highest index known replicated there.
    pub matched: u64,
    /// Next index the leader sends it.
    pub next: u64,
}

/// The whole cluster at one poll.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClusterState {
    /// `demo` (controls available) or `node`.
    pub mode: String,
    /// The leader of the highest term any node reports, if one does.
    pub leader: Option<u64>,
    /// The highest term any node reports.
    pub term: u64,
    /// Every member, by id.
    pub nodes: Vec<NodeView>,
    /// The node currently cut off by a partition (demo only).
    pub partitioned: Option<u64>,
}

impl ClusterState {
    /// Fills `leader` and `term` from the nodes' answers: the node that
    /// says it leads in the highest term (§5.2: at most one per term).
    fn settle_leader(&mut self) {
        self.term = self.nodes.iter().filter_map(|n| n.raft.as_ref().map(|r| r.term)).max().unwrap_or(0);
        self.leader = self
            .nodes
            .iter()
            .filter(|n| n.process == "up")
            .filter_map(|n| n.raft.as_ref().map(|r| (n.id, r)))
            .find(|(_, r)| r.role == "leader" && r.term == self.term)
            .map(|(id, _)| id);
    }
}

fn raft_view(s: NodeStatus) -> RaftView {
    let progress = s
        .members
        .iter()
        .filter_map(|m| Some(ProgressView { id: m.id.0, voter: m.voter, matched: m.matched?.0, next: m.next?.0 }))
        .collect();
    RaftView {
        role: s.role.to_string().to_lowercase(),
        term: s.term.0,
        leader: s.leader.map(|l| l.0),
        commit: s.commit.0,
        applied: s.applied.0,
        first_index: s.first_index.0,
        last_index: s.last_index.0,
        progress,
    }
}

/// Polls the members and publishes each [`ClusterState`].
#[derive(Clone)]
pub struct ClusterView {
    nodes: BTreeMap<u64, String>,
    cluster_id: String,
    admins: Arc<Mutex<BTreeMap<u64, AdminClient>>>,
}

impl ClusterView {
    /// A view of `nodes` (id to gRPC address) of cluster `cluster_id`.
    pub fn new(nodes: BTreeMap<u64, String>, cluster_id: &str) -> Self {
        ClusterView { nodes, cluster_id: cluster_id.to_string(), admins: Arc::default() }
    }

    /// The members' addresses.
    pub fn nodes(&self) -> &BTreeMap<u64, String> {
        &self.nodes
    }

    /// Asks one node; a connection is kept for the next poll and dropped
    /// when a call fails (the node may have restarted).
    async fn status_of(&self, id: u64, addr: &str) -> Option<RaftView> {
        let cached = self.admins.lock().await.get(&id).cloned();
        let admin = match cached {
            Some(a) => a,
            None => {
                let connect = AdminClient::connect(addr, client_config(&self.cluster_id, STATUS_TIMEOUT));
                let a = tokio::time::timeout(STATUS_TIMEOUT, connect).await.ok()?.ok()?;
                self.admins.lock().await.insert(id, a.clone());
                a
            }
        };
        match tokio::time::timeout(STATUS_TIMEOUT, admin.status()).await {
            Ok(Ok(s)) => Some(raft_view(s)),
            _ => {
                self.admins.lock().await.remove(&id);
                None
            }
        }
    }

    /// One poll of every member at once; `processes` says which are up
    /// (demo), else a node that answers is `up`.
    pub async fn poll(
        &self,
        mode: &str,
        processes: &BTreeMap<u64, ProcessInfo>,
        partitioned: Option<u64>,
    ) -> ClusterState {
        let asks =
            self.nodes.iter().map(|(id, addr)| async move { (*id, addr.clone(), self.status_of(*id, addr).await) });
        let answers = futures::future::join_all(asks).await;
        let nodes = answers
            .into_iter()
            .map(|(id, addr, raft)| {
                let proc_info = processes.get(&id);
                let process = match (proc_info, &raft) {
                    (Some(p), _) => p.state.clone(),
                    (None, Some(_)) => "up".to_string(),
                    (None, None) => "unreachable".to_string(),
                };
                // A paused or dead process cannot have answered now; drop a stale answer.
                let raft = if process == "up" { raft } else { None };
                NodeView { id, addr, process, pid: proc_info.and_then(|p| p.pid), raft }
            })
            .collect();
        let mut state = ClusterState { mode: mode.to_string(), nodes, partitioned, ..ClusterState::default() };
        state.settle_leader();
        state
    }

    /// Polls forever, publishing every state on `tx`; stops when nobody
    /// holds a receiver.
    pub async fn run(
        self,
        mode: &'static str,
        processes: watch::Receiver<super::controls::Processes>,
        tx: watch::Sender<ClusterState>,
    ) {
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let procs = processes.borrow().clone();
            let state = self.poll(mode, &procs.nodes, procs.partitioned).await;
            tx.send_replace(state);
            if tx.is_closed() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, process: &str, role: &str, term: u64) -> NodeView {
        let raft = RaftView {
            role: role.into(),
            term,
            leader: None,
            commit: 0,
            applied: 0,
            first_index: 1,
            last_index: 0,
            progress: vec![],
        };
        NodeView { id, addr: String::new(), process: process.into(), pid: None, raft: Some(raft) }
    }

    #[test]
    fn the_leader_is_the_one_leading_in_the_highest_term() {
        // §5.2: an old leader that has not heard of term 3 still says "leader".
        let mut s = ClusterState {
            nodes: vec![node(1, "up", "leader", 2), node(2, "up", "leader", 3), node(3, "up", "follower", 3)],
            ..Default::default()
        };
        s.settle_leader();
        assert_eq!((s.leader, s.term), (Some(2), 3));
    }

    #[test]
    fn no_leader_while_only_candidates_hold_the_top_term() {
        let mut s = ClusterState {
            nodes: vec![node(1, "up", "leader", 2), node(2, "up", "candidate", 3)],
            ..Default::default()
        };
        s.settle_leader();
        assert_eq!((s.leader, s.term), (None, 3));
    }
}
