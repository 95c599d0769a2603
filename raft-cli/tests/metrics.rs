//! `raft-cli node --metrics-listen`: real node processes serve Prometheus
//! metrics; the test scrapes them, parses every line of the exposition
//! (`common::metrics_text`) and checks the values move with the cluster:
//! an election is counted and won (§5.2), writes raise the commit index
//! (§5.3) and are counted as client requests, proposals and fsyncs fill
//! their histograms, the leader reports each follower's match index, and
//! a snapshot taken is counted with its size.

mod common;

use std::time::Duration;

use common::metrics_text::{parse, self_test, sum, Samples};
use common::{http, run, text, wait_for, Nodes};

const BASE: u16 = 18511;
const METRICS_BASE: u16 = 18521;

fn metrics_addr(id: u16) -> String {
    format!("127.0.0.1:{}", METRICS_BASE + id - 1)
}

/// Scrapes node `id`; `None` while it is not serving yet.
fn scrape(id: u16) -> Option<Samples> {
    let resp = http::get(&metrics_addr(id), "/metrics")?;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let content_type = resp.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    Some(parse(&resp.body).unwrap_or_else(|e| panic!("node {id}: unparsable exposition: {e}\n{}", resp.body)))
}

fn node_value(samples: &Samples, name: &str, id: u16, extra: &[(&str, &str)]) -> f64 {
    let node = id.to_string();
    let mut labels = vec![("node", node.as_str())];
    labels.extend_from_slice(extra);
    sum(samples, name, &labels)
}

#[test]
fn the_exposition_parser_rejects_what_a_scraper_would() {
    self_test();
}

#[test]
fn metrics_parse_and_move_with_elections_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = Nodes::start_each(3, BASE, dir.path(), |id| {
        vec!["--metrics-listen".into(), metrics_addr(id), "--snapshot-threshold".into(), "10".into()]
    });
    let limit = Duration::from_secs(60);

    // §5.2: one node wins an election; its role gauge says leader.
    let leader = wait_for("a node whose metrics say leader", limit, || {
        (1..=3).find(|id| scrape(*id).is_some_and(|s| node_value(&s, "raft_role", *id, &[("role", "leader")]) == 1.0))
    });
    let before = scrape(leader).unwrap();
    assert!(node_value(&before, "raft_term", leader, &[]) >= 1.0);
    assert!(node_value(&before, "raft_elections_won_total", leader, &[]) >= 1.0);
    assert!(node_value(&before, "raft_elections_started_total", leader, &[("kind", "vote")]) >= 1.0);
    let commit_before = node_value(&before, "raft_commit_index", leader, &[]);

    let writes = 20;
    for i in 0..writes {
        let out = run(&["put", &format!("m{i}"), "v", "--endpoints", &nodes.endpoints]);
        assert!(out.status.success(), "put {i}: {}", text(&out.stderr));
    }

    // §5.3: the leader's commit index covers the writes; the metrics saw them.
    let after = wait_for("the leader's commit index to cover the writes", limit, || {
        let s = scrape(leader)?;
        (node_value(&s, "raft_commit_index", leader, &[]) >= commit_before + writes as f64).then_some(s)
    });
    let all: Vec<Samples> = (1..=3).map(|id| scrape(id).expect("every node serves metrics")).collect();
    let puts_ok: f64 =
        all.iter().map(|s| sum(s, "raft_client_requests_total", &[("type", "put"), ("outcome", "ok")])).sum();
    assert!(puts_ok >= writes as f64, "client requests counted: {puts_ok}");
    assert!(node_value(&after, "raft_proposal_duration_seconds_count", leader, &[]) >= writes as f64);
    assert!(node_value(&after, "raft_proposal_duration_seconds_sum", leader, &[]) > 0.0);
    assert!(node_value(&after, "raft_fsync_duration_seconds_count", leader, &[]) >= 1.0);
    assert!(node_value(&after, "raft_applied_index", leader, &[]) >= commit_before + writes as f64);
    let followers: Vec<u16> = (1..=3).filter(|id| *id != leader).collect();
    for f in &followers {
        let peer = f.to_string();
        let matched = wait_for("the leader's match index of each follower to catch up", limit, || {
            let s = scrape(leader)?;
            let m = node_value(&s, "raft_peer_match_index", leader, &[("peer", peer.as_str())]);
            (m >= commit_before + writes as f64).then_some(m)
        });
        assert!(matched > 0.0);
        let s = scrape(*f).unwrap();
        assert_eq!(node_value(&s, "raft_role", *f, &[("role", "follower")]), 1.0, "node {f} follows");
        assert_eq!(sum(&s, "raft_peer_match_index", &[]), 0.0, "only a leader reports peers");
    }
    // Followers apply what the leader committed: their apply lag drains to 0.
    for f in followers {
        wait_for("a follower to apply every committed entry", limit, || {
            let s = scrape(f)?;
            let applied = node_value(&s, "raft_applied_index", f, &[]);
            (applied >= commit_before + writes as f64 && node_value(&s, "raft_apply_lag", f, &[]) == 0.0).then_some(())
        });
    }
    // Every family of the issue is exposed.
    let exposition = http::get(&metrics_addr(leader), "/metrics").unwrap().body;
    for family in [
        "raft_term",
        "raft_role",
        "raft_leader_changes",
        "raft_elections_started",
        "raft_elections_won",
        "raft_commit_index",
        "raft_applied_index",
        "raft_apply_lag",
        "raft_peer_match_index",
        "raft_peer_inflight_messages",
        "raft_peer_inflight_bytes",
        "raft_proposal_duration_seconds",
        "raft_fsync_duration_seconds",
        "raft_snapshots",
        "raft_snapshot_bytes",
        "raft_client_requests",
    ] {
        assert!(exposition.contains(&format!("# TYPE {family} ")), "no family {family}:\n{exposition}");
    }
    assert!(node_value(&after, "raft_leader_changes_total", leader, &[]) >= 1.0);
    // --snapshot-threshold 10 and 20 writes: the leader took a snapshot.
    let s = wait_for("the leader to take a snapshot", limit, || {
        let s = scrape(leader)?;
        (node_value(&s, "raft_snapshots_total", leader, &[("direction", "taken")]) >= 1.0).then_some(s)
    });
    assert!(node_value(&s, "raft_snapshot_bytes_sum", leader, &[("direction", "taken")]) > 0.0);
    assert!(node_value(&s, "raft_snapshot_index", leader, &[]) >= 10.0);
    drop(nodes);
}
