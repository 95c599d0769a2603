//! [`Feed`]: elections, leader changes, snapshots, peer reachability and
//! the demo's own faults, as one stream of short JSON items for the page
//! (sent as server-sent events).
//!
//! Every member's Admin `Watch` stream is followed (and re-followed after
//! the node restarts); commit and apply events are left out, since the
//! page's log strips show them from the status polls and they would drown
//! the interesting lines. A bounded history lets a page opened late show
//! what just happened.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use raft_rpc::{AdminClient, EventKind, NodeEvent};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::client::client_config;

/// Items kept for a page that connects late.
const HISTORY: usize = 100;
/// Reconnect delay of a watcher whose node is down.
const WATCH_RETRY: Duration = Duration::from_millis(300);

/// One line of the live feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedItem {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The node it is about (0: the cluster as a whole).
    pub node: u64,
    /// `election`, `leader`, `term`, `snapshot`, `peer`, `quorum`,
    /// `transfer` or `fault`.
    pub kind: String,
    /// What happened, in words.
    pub text: String,
}

/// The live feed: publish with [`Feed::push`], read with
/// [`Feed::subscribe`] plus [`Feed::history`].
#[derive(Clone)]
pub struct Feed {
    tx: broadcast::Sender<FeedItem>,
    history: Arc<Mutex<VecDeque<FeedItem>>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed { tx: broadcast::channel(256).0, history: Arc::default() }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Feed {
    /// Adds an item now.
    pub fn push(&self, node: u64, kind: &str, text: String) {
        self.publish(FeedItem { unix_ms: now_ms(), node, kind: kind.to_string(), text });
    }

    fn publish(&self, item: FeedItem) {
        {
            let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
            // A term change and a role change in one Ready both say "moved
            // to term N": one line is enough.
            let repeat = h.back().is_some_and(|last| {
                last.node == item.node && last.text == item.text && item.unix_ms.abs_diff(last.unix_ms) < 1000
            });
            if repeat {
                return;
            }
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(item.clone());
        }
        let _ = self.tx.send(item);
    }

    /// Items from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.tx.subscribe()
    }

    /// The latest items, oldest first.
    pub fn history(&self) -> Vec<FeedItem> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// Follows every member's Watch stream, forever (spawned tasks).
    pub fn follow(&self, nodes: &BTreeMap<u64, String>, cluster_id: &str) {
        for (id, addr) in nodes {
            tokio::spawn(self.clone().follow_one(*id, addr.clone(), cluster_id.to_string()));
        }
    }

    async fn follow_one(self, node: u64, addr: String, cluster_id: String) {
        loop {
            if let Ok(admin) = AdminClient::connect(&addr, client_config(&cluster_id, Duration::from_secs(1))).await {
                if let Ok(stream) = admin.watch().await {
                    let mut stream = Box::pin(stream);
                    while let Some(Ok(event)) = stream.next().await {
                        if let Some(item) = describe(node, &event) {
                            self.publish(item);
                        }
                    }
                }
            }
            tokio::time::sleep(WATCH_RETRY).await;
        }
    }
}

/// The feed line for a node event; `None` for the ones the page does not list.
fn describe(node: u64, event: &NodeEvent) -> Option<FeedItem> {
    let (kind, text) = match &event.kind {
        EventKind::ElectionStarted { term, pre_vote: true } => {
            ("election", format!("node {node} timed out: pre-vote for term {} (§9.6)", term.0))
        }
        EventKind::ElectionStarted { term, pre_vote: false } => {
            ("election", format!("node {node} starts an election for term {} (§5.2)", term.0))
        }
        EventKind::LeaderElected { term, leader, votes } => {
            let votes: Vec<String> = votes.iter().map(|v| v.0.to_string()).collect();
            ("leader", format!("node {} is LEADER for term {} (votes from {})", leader.0, term.0, votes.join(", ")))
        }
        EventKind::TermChanged { term, leader: Some(l) } => {
            ("term", format!("node {node} follows node {} in term {}", l.0, term.0))
        }
        EventKind::TermChanged { term, leader: None } => ("term", format!("node {node} moved to term {}", term.0)),
        EventKind::SnapshotTaken { last_log_id } => {
            ("snapshot", format!("node {node} took a snapshot through index {}", last_log_id.index.0))
        }
        EventKind::SnapshotInstalled { last_log_id } => {
            ("snapshot", format!("node {node} installed the leader's snapshot through index {}", last_log_id.index.0))
        }
        EventKind::PeerUp { peer } => ("peer", format!("node {node} reaches node {} again", peer.0)),
        EventKind::PeerDown { peer } => ("peer", format!("node {node} cannot reach node {}", peer.0)),
        EventKind::LostQuorum { term } => {
            ("quorum", format!("node {node} lost its quorum and steps down (term {})", term.0))
        }
        EventKind::TransferStarted { to } => ("transfer", format!("node {node} hands leadership to node {}", to.0)),
        _ => return None,
    };
    Some(FeedItem { unix_ms: event.unix_ms, node, kind: kind.to_string(), text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{LogIndex, NodeId, Term};

    fn event(kind: EventKind) -> NodeEvent {
        NodeEvent { node: NodeId(2), unix_ms: 5, kind }
    }

    #[test]
    fn elections_are_listed_and_commits_are_not() {
        let won =
            event(EventKind::LeaderElected { term: Term(3), leader: NodeId(2), votes: vec![NodeId(1), NodeId(2)] });
        let item = describe(2, &won).unwrap();
        assert_eq!(
            (item.kind.as_str(), item.text.as_str()),
            ("leader", "node 2 is LEADER for term 3 (votes from 1, 2)")
        );
        assert_eq!(describe(2, &event(EventKind::Committed { index: LogIndex(9), term: Term(3) })), None);
        assert_eq!(describe(2, &event(EventKind::Applied { index: LogIndex(9) })), None);
    }

    #[test]
    fn a_line_repeated_at_once_is_shown_once() {
        let feed = Feed::default();
        feed.push(1, "term", "node 1 moved to term 2".into());
        feed.push(1, "term", "node 1 moved to term 2".into());
        feed.push(2, "term", "node 2 moved to term 2".into());
        assert_eq!(feed.history().len(), 2);
    }

    #[test]
    fn history_is_bounded_and_ordered() {
        let feed = Feed::default();
        for i in 0..(HISTORY as u64 + 5) {
            feed.push(i, "fault", format!("item {i}"));
        }
        let h = feed.history();
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h.first().unwrap().text, "item 5");
        assert_eq!(h.last().unwrap().text, format!("item {}", HISTORY + 4));
    }
}
