//! [`NodeMetrics`]: what an operator graphs about one node, in the
//! Prometheus / OpenMetrics text format.
//!
//! Why here and not in the CLI: only the node task sees the moments worth
//! measuring (a proposal being answered, an fsync returning, a snapshot
//! leaving), and the task already publishes its state once per loop turn.
//! So the task writes plain atomics (prometheus-client metrics, no lock on
//! the hot path except the per-label families) and whoever serves
//! `/metrics` (raft-cli's `--metrics-listen`) only calls [`NodeMetrics::encode`].
//! Every series carries a `node` label so several nodes in one process
//! (`LocalCluster`) can share one scrape.
//!
//! Names (all prefixed `raft_`): `term`, `role{role}`, `leader_changes_total`,
//! `elections_started_total{kind}`, `elections_won_total`, `commit_index`,
//! `applied_index`, `apply_lag`, `last_log_index`, `snapshot_index`,
//! `peer_match_index{peer}`, `peer_lag{peer}`, `peer_inflight_messages{peer}`,
//! `peer_inflight_bytes{peer}` (leader only), `proposal_duration_seconds`,
//! `fsync_duration_seconds`, `snapshots_total{direction}`,
//! `snapshot_bytes{direction}` (`direction` = sent, received or taken),
//! `client_requests_total{type,outcome}`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use raft_core::{NodeId, Role, Status};

/// The `Content-Type` of [`NodeMetrics::encode`]'s output.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The roles reported by `raft_role{role}` (exactly one is 1).
const ROLES: [(Role, &str); 4] = [
    (Role::Follower, "follower"),
    (Role::PreCandidate, "pre_candidate"),
    (Role::Candidate, "candidate"),
    (Role::Leader, "leader"),
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabel {
    role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabel {
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabel {
    r#type: &'static str,
    outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Snapshot sizes from 1 KiB to 4 GiB, factor 4.
fn snapshot_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1024.0, 4.0, 12))
}

/// One node's metrics. Cheap to update from the node task; share it as an
/// `Arc`.
pub struct NodeMetrics {
    registry: Registry,
    term: Gauge,
    role: Family<RoleLabel, Gauge>,
    leader_changes: Counter,
    elections_started: Family<KindLabel, Counter>,
    elections_won: Counter,
    commit_index: Gauge,
    applied_index: Gauge,
    apply_lag: Gauge,
    last_log_index: Gauge,
    snapshot_index: Gauge,
    peer_match_index: Family<PeerLabel, Gauge>,
    peer_lag: Family<PeerLabel, Gauge>,
    peer_inflight_messages: Family<PeerLabel, Gauge>,
    peer_inflight_bytes: Family<PeerLabel, Gauge>,
    proposal_seconds: Histogram,
    fsync_seconds: Histogram,
    snapshots: Family<DirectionLabel, Counter>,
    snapshot_bytes: HistogramFamily<DirectionLabel>,
    client_requests: Family<RequestLabel, Counter>,
    /// True while the per-peer families hold a leader's series (cleared
    /// when the node stops leading, so a follower shows no stale peers).
    peers_reported: AtomicBool,
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMetrics").finish_non_exhaustive()
    }
}

impl NodeMetrics {
    /// Registers every metric of node `node`.
    pub fn new(node: NodeId) -> Self {
        let labels = [(Cow::Borrowed("node"), Cow::Owned(node.0.to_string()))];
        let mut registry = Registry::with_prefix_and_labels("raft", labels.into_iter());
        // Latencies from 50 µs to ~1.6 s (factor 2): an fsync on a laptop SSD
        // takes ~1 ms, a proposal a few; anything past a second is an outage.
        let latency = || Histogram::new(exponential_buckets(0.00005, 2.0, 16));
        let m = NodeMetrics {
            term: Gauge::default(),
            role: Family::default(),
            leader_changes: Counter::default(),
            elections_started: Family::default(),
            elections_won: Counter::default(),
            commit_index: Gauge::default(),
            applied_index: Gauge::default(),
            apply_lag: Gauge::default(),
            last_log_index: Gauge::default(),
            snapshot_index: Gauge::default(),
            peer_match_index: Family::default(),
            peer_lag: Family::default(),
            peer_inflight_messages: Family::default(),
            peer_inflight_bytes: Family::default(),
            proposal_seconds: latency(),
            fsync_seconds: latency(),
            snapshots: Family::default(),
            snapshot_bytes: Family::new_with_constructor(snapshot_histogram),
            client_requests: Family::default(),
            peers_reported: AtomicBool::new(false),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("term", "Current term (§5.1)", m.term.clone());
        r.register("role", "1 for the node's current role, 0 for the others", m.role.clone());
        r.register("leader_changes", "Times the known leader changed to another node", m.leader_changes.clone());
        r.register(
            "elections_started",
            "Elections this node started (kind: pre_vote rounds, §9.6, or real votes, §5.2)",
            m.elections_started.clone(),
        );
        r.register("elections_won", "Elections this node won (§5.2)", m.elections_won.clone());
        r.register("commit_index", "Highest log index known committed (§5.3)", m.commit_index.clone());
        r.register("applied_index", "Highest log index applied to the state machine", m.applied_index.clone());
        r.register("apply_lag", "commit_index - applied_index", m.apply_lag.clone());
        r.register("last_log_index", "Last index in the log (durable or not)", m.last_log_index.clone());
        r.register("snapshot_index", "Last index covered by the latest snapshot", m.snapshot_index.clone());
        r.register(
            "peer_match_index",
            "Leader only: highest index known replicated on peer",
            m.peer_match_index.clone(),
        );
        r.register("peer_lag", "Leader only: last_log_index - peer_match_index", m.peer_lag.clone());
        r.register(
            "peer_inflight_messages",
            "Leader only: appends sent to peer and not yet acknowledged",
            m.peer_inflight_messages.clone(),
        );
        r.register(
            "peer_inflight_bytes",
            "Leader only: entry bytes sent to peer and not yet acknowledged",
            m.peer_inflight_bytes.clone(),
        );
        r.register(
            "proposal_duration_seconds",
            "Time from proposing a client write to answering it (committed and applied)",
            m.proposal_seconds.clone(),
        );
        r.register("fsync_duration_seconds", "Time of one synced write of a Ready", m.fsync_seconds.clone());
        r.register(
            "snapshots",
            "Snapshots sent to followers, received from a leader or taken locally",
            m.snapshots.clone(),
        );
        r.register("snapshot_bytes", "Sizes of snapshots sent, received or taken", m.snapshot_bytes.clone());
        r.register(
            "client_requests",
            "Client requests by type (put, delete, cas, get, scan) and outcome",
            m.client_requests.clone(),
        );
        NodeMetrics { registry, ..m }
    }

    /// The text exposition (OpenMetrics, which Prometheus scrapes), ending
    /// with `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Takes in the node's state after one loop turn.
    pub(crate) fn observe_status(&self, s: &Status, applied: raft_core::LogIndex) {
        self.term.set(as_i64(s.term.0));
        for (role, name) in ROLES {
            self.role.get_or_create(&RoleLabel { role: name }).set(i64::from(s.role == role));
        }
        self.commit_index.set(as_i64(s.commit.0));
        self.applied_index.set(as_i64(applied.0));
        self.apply_lag.set(as_i64(s.commit.0.saturating_sub(applied.0)));
        self.last_log_index.set(as_i64(s.last_index.0));
        self.snapshot_index.set(as_i64(s.first_index.0.saturating_sub(1)));
        if s.role != Role::Leader {
            if self.peers_reported.swap(false, Ordering::Relaxed) {
                self.peer_match_index.clear();
                self.peer_lag.clear();
                self.peer_inflight_messages.clear();
                self.peer_inflight_bytes.clear();
            }
            return;
        }
        self.peers_reported.store(true, Ordering::Relaxed);
        for (peer, p) in s.progress.iter().filter(|(peer, _)| **peer != s.id) {
            let label = PeerLabel { peer: peer.0.to_string() };
            self.peer_match_index.get_or_create(&label).set(as_i64(p.matched.0));
            self.peer_lag.get_or_create(&label).set(as_i64(s.last_index.0.saturating_sub(p.matched.0)));
            self.peer_inflight_messages.get_or_create(&label).set(as_i64(p.inflight_messages as u64));
            self.peer_inflight_bytes.get_or_create(&label).set(as_i64(p.inflight_bytes));
        }
    }

    /// The node now follows (or leads as) another leader than before.
    pub(crate) fn leader_changed(&self) {
        self.leader_changes.inc();
    }

    /// The node started an election (a pre-vote round or a real one).
    pub(crate) fn election_started(&self, pre_vote: bool) {
        let kind = if pre_vote { "pre_vote" } else { "vote" };
        self.elections_started.get_or_create(&KindLabel { kind }).inc();
    }

    /// The node won an election.
    pub(crate) fn election_won(&self) {
        self.elections_won.inc();
    }

    /// A client write was answered `took` after it was proposed.
    pub(crate) fn observe_proposal(&self, took: Duration) {
        self.proposal_seconds.observe(took.as_secs_f64());
    }

    /// A synced storage write took `took`.
    pub(crate) fn observe_fsync(&self, took: Duration) {
        self.fsync_seconds.observe(took.as_secs_f64());
    }

    /// A snapshot of `bytes` went out to a follower.
    pub(crate) fn snapshot_sent(&self, bytes: u64) {
        self.snapshot("sent", bytes);
    }

    /// A snapshot of `bytes` from the leader was installed.
    pub(crate) fn snapshot_received(&self, bytes: u64) {
        self.snapshot("received", bytes);
    }

    /// The node took a snapshot of `bytes`.
    pub(crate) fn snapshot_taken(&self, bytes: u64) {
        self.snapshot("taken", bytes);
    }

    fn snapshot(&self, direction: &'static str, bytes: u64) {
        let label = DirectionLabel { direction };
        self.snapshots.get_or_create(&label).inc();
        self.snapshot_bytes.get_or_create(&label).observe(bytes as f64);
    }

    /// A client request of `kind` (put, delete, cas, get, scan) ended with
    /// `outcome` (ok, not_leader, busy, invalid, unavailable, unknown,
    /// internal).
    pub(crate) fn client_request(&self, kind: &'static str, outcome: &'static str) {
        self.client_requests.get_or_create(&RequestLabel { r#type: kind, outcome }).inc();
    }
}

/// Indexes and terms are u64; a gauge is i64. Saturates (2^63 entries is
/// not a real log).
fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_with_the_node_label_and_eof() {
        let m = NodeMetrics::new(NodeId(7));
        m.election_started(true);
        m.election_won();
        m.observe_fsync(Duration::from_millis(2));
        m.snapshot_sent(5000);
        m.client_request("put", "ok");
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        for needle in [
            "raft_term{node=\"7\"} 0",
            "raft_elections_started_total{node=\"7\",kind=\"pre_vote\"} 1",
            "raft_elections_won_total{node=\"7\"} 1",
            "raft_fsync_duration_seconds_count{node=\"7\"} 1",
            "raft_snapshots_total{node=\"7\",direction=\"sent\"} 1",
            "raft_snapshot_bytes_sum{node=\"7\",direction=\"sent\"} 5000.0",
            "raft_client_requests_total{node=\"7\",type=\"put\",outcome=\"ok\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
