//! The end-of-demo proof: let the cluster settle, then read every
//! acknowledged key from every node's local state and compare.
//!
//! Reads are stale (local) reads on purpose: a linearizable read would be
//! answered by the leader alone and say nothing about the followers' copies.
//! Settling first (every node applied everything committed) makes a stale
//! read the node's final answer.

use std::time::Duration;

use tokio::time::Instant;

use super::acklog::{AckLog, Verdict};
use super::cluster_io;
use super::event::NodeNum;
use super::summary::Problem;
use crate::output::text;

/// How long the cluster gets to elect a leader and apply everything.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// Status is polled this often while settling.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// Waits until every node answers, a leader is known, and every node has
/// applied at least the highest commit index any node reports. Returns a
/// line describing the outcome (verification runs either way).
pub async fn settle(addrs: &[(NodeNum, String)]) -> String {
    let start = Instant::now();
    let deadline = start + SETTLE_LIMIT;
    loop {
        let polled = cluster_io::poll_status(addrs).await;
        let answered: Vec<_> = polled.iter().filter_map(|(n, s)| s.as_ref().map(|s| (*n, s))).collect();
        let top_commit = answered.iter().map(|(_, s)| s.commit).max().unwrap_or(0);
        let min_applied = answered.iter().map(|(_, s)| s.applied).min().unwrap_or(0);
        let leader = answered.iter().find_map(|(_, s)| s.leader);
        if answered.len() == addrs.len() && leader.is_some() && min_applied >= top_commit {
            return format!(
                "settled in {:.1}s: leader {}, every node applied up to index {top_commit}",
                start.elapsed().as_secs_f64(),
                leader.unwrap_or_default()
            );
        }
        let last = format!(
            "{}/{} nodes answered, leader {:?}, applied {min_applied} of commit {top_commit}",
            answered.len(),
            addrs.len(),
            leader
        );
        if Instant::now() + POLL_EVERY > deadline {
            return format!("did not settle within {}s ({last}); verifying anyway", SETTLE_LIMIT.as_secs());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Reads every acknowledged key from every node; returns what did not match.
pub async fn check_all(addrs: &[(NodeNum, String)], acks: &AckLog) -> Vec<Problem> {
    let checks = addrs.iter().map(|(node, addr)| check_node(*node, addr, acks));
    futures::future::join_all(checks).await.into_iter().flatten().collect()
}

async fn check_node(node: NodeNum, addr: &str, acks: &AckLog) -> Vec<Problem> {
    let mut problems = Vec::new();
    for key in acks.acked_keys() {
        let found = match cluster_io::read_stale(addr, key).await {
            Ok(found) => found,
            Err(e) => {
                problems.push(Problem {
                    node,
                    key: key.to_string(),
                    what: format!("could not read it ({e}); node not checked further"),
                });
                return problems;
            }
        };
        let what = match acks.check(key, found.as_deref()) {
            Verdict::Present => continue,
            Verdict::Missing => "missing".to_string(),
            Verdict::Wrong { found } => {
                format!("holds {:?}, expected {:?}", text(&found), text(acks.expected(key).unwrap_or_default()))
            }
        };
        problems.push(Problem { node, key: key.to_string(), what });
    }
    problems
}
