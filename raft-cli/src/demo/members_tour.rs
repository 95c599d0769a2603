//! `raft-cli demo --members`: a narrated tour of a membership change
//! (thesis chapter 4) while the workload keeps writing. A new node starts
//! empty with `--join`, is added as a learner (§4.2.1: it receives the log
//! but does not vote), is promoted once caught up (through the joint
//! configuration, §4.3), and the old leader is removed (it hands leadership
//! over first, §3.10) and stopped. The verification at the end then reads
//! the new membership, the joined node included.
//!
//! The tour runs as its own task and talks to the nodes through the Admin
//! API like an operator; it asks the session to start and stop processes
//! ([`TourRequest`]), since the session owns them.

use std::collections::BTreeMap;
use std::time::Duration;

use raft_core::NodeId;
use raft_rpc::{AdminClient, ChangeOutcome, ClientError, MembersView};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cluster_io::CLUSTER_ID;
use super::event::{DemoEvent, NodeNum};
use crate::client::client_config;

/// How long the whole tour may take before it gives up.
pub const TOUR_LIMIT: Duration = Duration::from_secs(40);
/// A learner this close to the leader's log is promoted.
const CAUGHT_UP_LAG: u64 = 20;
/// Pause between polls and retries.
const POLL: Duration = Duration::from_millis(100);
/// Per-call timeout.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// What the tour asks the session to do with processes.
#[derive(Debug)]
pub enum TourRequest {
    /// Start the joining node (empty, `--join`).
    Spawn(NodeNum),
    /// Stop a removed node for good.
    Retire(NodeNum),
    /// The tour ended (finished or gave up).
    Done(TourReport),
}

/// What the tour did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TourReport {
    /// The node that joined.
    pub joined: NodeNum,
    /// The leader when the tour began, removed at its end.
    pub old_leader: Option<NodeNum>,
    /// The leader after the removal.
    pub new_leader: Option<NodeNum>,
    /// Voters of the final configuration.
    pub voters: Vec<NodeNum>,
    /// Each step done and how long it took, in order.
    pub steps: Vec<(String, Duration)>,
    /// Every step done.
    pub finished: bool,
    /// Why the tour stopped early.
    pub error: Option<String>,
}

impl TourReport {
    /// The summary's `"members"` object.
    pub fn json(&self) -> Value {
        let steps: Vec<Value> =
            self.steps.iter().map(|(s, d)| json!({"step": s, "ms": d.as_millis() as u64})).collect();
        json!({
            "joined": self.joined,
            "old_leader": self.old_leader,
            "new_leader": self.new_leader,
            "voters": self.voters,
            "steps": steps,
            "finished": self.finished,
            "error": self.error,
        })
    }

    /// One line for the human summary.
    pub fn human(&self) -> String {
        let took: Duration = self.steps.iter().map(|(_, d)| *d).sum();
        match (&self.error, self.old_leader) {
            (Some(e), _) => format!("tour stopped after {} steps: {e}", self.steps.len()),
            (None, Some(old)) => format!(
                "node {} joined, was promoted; old leader {old} removed; voters now {:?} ({} steps in {:.1}s)",
                self.joined,
                self.voters,
                self.steps.len(),
                took.as_secs_f64()
            ),
            (None, None) => "tour did not start".into(),
        }
    }
}

/// The tour's connection to the cluster and to the session.
struct Tour {
    addrs: BTreeMap<NodeNum, String>,
    events: mpsc::Sender<DemoEvent>,
    requests: mpsc::Sender<TourRequest>,
    deadline: Instant,
    report: TourReport,
}

/// Runs the tour over the nodes at `addrs` (the joiner's included): adds
/// `joiner`, promotes it, removes the leader; reports through `requests`.
pub async fn run(
    addrs: BTreeMap<NodeNum, String>,
    joiner: NodeNum,
    events: mpsc::Sender<DemoEvent>,
    requests: mpsc::Sender<TourRequest>,
) {
    let report = TourReport { joined: joiner, ..TourReport::default() };
    let mut tour = Tour { addrs, events, requests, deadline: Instant::now() + TOUR_LIMIT, report };
    if let Err(e) = tour.steps(joiner).await {
        tour.say(format!("the tour stopped: {e}")).await;
        tour.report.error = Some(e);
    }
    let _ = tour.requests.send(TourRequest::Done(tour.report)).await;
}

impl Tour {
    async fn say(&self, line: String) {
        let _ = self.events.send(DemoEvent::Members(line)).await;
    }

    fn step_done(&mut self, what: &str, since: Instant) {
        self.report.steps.push((what.to_string(), since.elapsed()));
    }

    async fn steps(&mut self, joiner: NodeNum) -> Result<(), String> {
        let t = Instant::now();
        let view = self.until("a leader", |v| v.config_committed.then_some(())).await?.0;
        let old = view.node.0;
        self.report.old_leader = Some(old);
        self.step_done("leader elected", t);
        let addr = self.addrs.get(&joiner).cloned().ok_or("no address for the joining node")?;
        self.say(format!("starting node {joiner} empty with --join at {addr}: it waits, without a vote, to be added"))
            .await;
        let _ = self.requests.send(TourRequest::Spawn(joiner)).await;

        let t = Instant::now();
        self.say(format!(
            "leader {old} adds node {joiner} as a learner (thesis §4.2.1): it gets the log but never votes"
        ))
        .await;
        let add = |a: AdminClient| {
            let addr = addr.clone();
            async move { a.add_learner(NodeId(joiner), &addr).await }
        };
        let done = self.change("add-learner", add).await?;
        self.say(format!("configuration at index {} committed: {}", done.index.0, describe(&done))).await;
        self.step_done("add learner", t);

        let t = Instant::now();
        let caught_up = |v: &MembersView| {
            let m = v.members.iter().find(|m| m.id == NodeId(joiner))?;
            // It must hold the configuration in force to be promoted (§4.2.1).
            let holds_config = m.matched? >= v.config_index;
            (m.lag? <= CAUGHT_UP_LAG && holds_config).then(|| (m.matched.map_or(0, |i| i.0), m.lag.unwrap_or(0)))
        };
        let (_, (matched, lag)) = self.until("the learner to catch up", caught_up).await?;
        self.say(format!("node {joiner} caught up: it holds the log up to index {matched} ({lag} behind)")).await;
        self.step_done("learner caught up", t);

        let t = Instant::now();
        self.say(format!(
            "promoting node {joiner}: the leader appends the joint configuration C_old,new, then C_new (thesis §4.3)"
        ))
        .await;
        let done = self.change("promote", |a| async move { a.promote(NodeId(joiner)).await }).await?;
        self.say(format!("node {joiner} is a voter: {}", describe(&done))).await;
        self.step_done("promote", t);

        let t = Instant::now();
        self.say(format!(
            "removing the leader, node {old}: it hands leadership to its most caught-up voter first (§3.10)"
        ))
        .await;
        let done = self.change("remove", |a| async move { a.remove_member(NodeId(old), false).await }).await?;
        self.report.voters = done.membership.voters.iter().map(|v| v.0).collect();
        let (view, ()) = self.until("a new leader", |v| (v.node != NodeId(old)).then_some(())).await?;
        self.report.new_leader = Some(view.node.0);
        self.say(format!("node {old} removed: {}; node {} leads; stopping node {old}", describe(&done), view.node.0))
            .await;
        let _ = self.requests.send(TourRequest::Retire(old)).await;
        self.step_done("remove old leader", t);
        self.report.finished = true;
        Ok(())
    }

    /// Polls every node until one answers as leader with a view `check`
    /// accepts.
    async fn until<T>(
        &self,
        what: &str,
        check: impl Fn(&MembersView) -> Option<T>,
    ) -> Result<(MembersView, T), String> {
        while Instant::now() < self.deadline {
            if let Some(view) = self.leader_view().await {
                if let Some(t) = check(&view) {
                    return Ok((view, t));
                }
            }
            tokio::time::sleep(POLL).await;
        }
        Err(format!("no {what} within {}s", TOUR_LIMIT.as_secs()))
    }

    async fn leader_view(&self) -> Option<MembersView> {
        for addr in self.addrs.values() {
            let Ok(admin) = AdminClient::connect(addr, client_config(CLUSTER_ID, CALL_TIMEOUT)).await else { continue };
            if let Ok(view) = admin.members().await {
                if view.leader == Some(view.node) {
                    return Some(view);
                }
            }
        }
        None
    }

    /// Sends a change to the leader until it commits or is refused for good.
    async fn change<F, Fut>(&self, what: &str, call: F) -> Result<ChangeOutcome, String>
    where
        F: Fn(AdminClient) -> Fut,
        Fut: std::future::Future<Output = Result<ChangeOutcome, ClientError>>,
    {
        let mut last = String::from("no leader");
        while Instant::now() < self.deadline {
            if let Some(view) = self.leader_view().await {
                let addr = self.addrs.get(&view.node.0).cloned().unwrap_or_default();
                if let Ok(admin) = AdminClient::connect(&addr, client_config(CLUSTER_ID, CALL_TIMEOUT)).await {
                    match call(admin).await {
                        Ok(done) => return Ok(done),
                        Err(ClientError::MembershipRefused(r)) if !r.reason.retryable() => {
                            return Err(format!("{what} refused: {}", r.message))
                        }
                        Err(e) => last = e.to_string(),
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
        Err(format!("{what} not done within {}s (last: {last})", TOUR_LIMIT.as_secs()))
    }
}

/// "voters 1,2,3; learners 4".
fn describe(done: &ChangeOutcome) -> String {
    let list = |ids: Vec<u64>| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let m = &done.membership;
    let learners = m.learners.iter().map(|l| l.0).collect::<Vec<_>>();
    let learners = if learners.is_empty() { "none".to_string() } else { list(learners) };
    format!("voters {}; learners {learners}", list(m.voters.iter().map(|v| v.0).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_object_says_what_the_tour_did() {
        let r = TourReport {
            joined: 4,
            old_leader: Some(1),
            new_leader: Some(2),
            voters: vec![2, 3, 4],
            steps: vec![("add learner".into(), Duration::from_millis(300))],
            finished: true,
            error: None,
        };
        let v = r.json();
        assert_eq!(
            (v["joined"].clone(), v["old_leader"].clone(), v["new_leader"].clone()),
            (4.into(), 1.into(), 2.into())
        );
        assert_eq!(v["voters"], json!([2, 3, 4]));
        assert_eq!(v["steps"][0], json!({"step": "add learner", "ms": 300}));
        assert_eq!(v["finished"], true);
        assert!(r.human().contains("old leader 1 removed; voters now [2, 3, 4]"), "{}", r.human());
        let stopped = TourReport { error: Some("no leader".into()), ..r };
        assert!(stopped.human().starts_with("tour stopped after 1 steps"), "{}", stopped.human());
    }
}
