//! Turns [`DemoEvent`]s into lines a person can follow.
//!
//! Elections, leaders, crashes and chaos are told as they happen. Commits and
//! applies arrive hundreds of times a second under the workload, so they are
//! aggregated and told once per [`Narrator::flush`] ("entries 41..=97
//! committed in term 3"). The narrator is pure: it returns lines instead of
//! printing, which keeps it testable.

use std::collections::BTreeMap;
use std::time::Instant;

use super::event::{Activity, DemoEvent, NodeNum, ProcState, StatusRow};
use super::timeline::Timeline;
use crate::duration::format_duration;
use crate::output::Table;

/// The live narration state.
#[derive(Debug)]
pub struct Narrator {
    start: Instant,
    timeline: Timeline,
    /// Last (term, leader) each node was narrated as following; dedupes repeats.
    follows: BTreeMap<NodeNum, (u64, Option<NodeNum>)>,
    /// Highest commit index already told; the next window starts after it.
    told_commit: u64,
    /// Highest commit index reported by any node, with its entry's term.
    max_commit: (u64, u64),
    /// Applied index per node; `applied_changed` says whether it moved since the last flush.
    applied: BTreeMap<NodeNum, u64>,
    applied_changed: bool,
    /// Workload counters (acknowledged, unknown outcome).
    writes: (u64, u64),
}

impl Narrator {
    /// A narrator whose clock starts at `start`.
    pub fn new(start: Instant) -> Self {
        Narrator {
            start,
            timeline: Timeline::new(start),
            follows: BTreeMap::new(),
            told_commit: 0,
            max_commit: (0, 0),
            applied: BTreeMap::new(),
            applied_changed: false,
            writes: (0, 0),
        }
    }

    /// The election statistics gathered so far.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    fn stamp(&self, now: Instant, text: impl AsRef<str>) -> String {
        let secs = now.saturating_duration_since(self.start).as_secs_f64();
        format!("[{secs:7.1}s] {}", text.as_ref())
    }

    /// Records `event` (seen at `now`) and returns the lines to print right away.
    pub fn handle(&mut self, event: &DemoEvent, now: Instant) -> Vec<String> {
        let had_leader = self.timeline.leader();
        self.timeline.observe(event, now);
        let mut lines: Vec<String> = self.describe(event, now).into_iter().collect();
        if had_leader.is_some() && self.timeline.leader().is_none() {
            lines.push(self.stamp(now, "  ... the cluster has no usable leader: writes wait for an election"));
        }
        lines
    }

    fn describe(&mut self, event: &DemoEvent, now: Instant) -> Option<String> {
        let text = match event {
            DemoEvent::Spawned { node, pid, addr, restart: false } => {
                format!("node {node} started: pid {pid}, listening on {addr}")
            }
            DemoEvent::Spawned { node, pid, restart: true, .. } => {
                format!("node {node} restarted as pid {pid}: it will catch up from the leader's log (or a snapshot)")
            }
            DemoEvent::Exited { node, pid, how, by_demo } => {
                self.follows.remove(node);
                let who = if *by_demo { "" } else { " (not by the demo: someone else killed it)" };
                format!("node {node} (pid {pid}) is down: {how}{who}")
            }
            DemoEvent::RestartScheduled { node, after } => {
                format!("node {node} will be restarted in {}", format_duration(*after))
            }
            DemoEvent::Paused { node, span } => {
                format!("node {node} frozen with SIGSTOP for {}: to its peers it looks dead", format_duration(*span))
            }
            DemoEvent::Resumed { node } => {
                format!("node {node} resumed with SIGCONT: it will learn the current term and rejoin")
            }
            DemoEvent::Partitioned { node, others, span } => {
                let others: Vec<String> = others.iter().map(|o| o.to_string()).collect();
                format!(
                    "CHAOS: partition: node {node} (the leader) cut off from {} for {}",
                    others.join(", "),
                    format_duration(*span)
                )
            }
            DemoEvent::PartitionHealed { node } => {
                format!("partition healed: node {node} rejoins and learns the new term")
            }
            DemoEvent::Chaos(what) => format!("CHAOS: {what}"),
            DemoEvent::Members(what) => format!("MEMBERS: {what}"),
            DemoEvent::Activity { node, kind } => return self.describe_activity(*node, kind, now),
            DemoEvent::Status(rows) => return Some(self.status_table(rows, now)),
            DemoEvent::Workload { acked, unknown } => {
                self.writes = (*acked, *unknown);
                return None;
            }
        };
        Some(self.stamp(now, text))
    }

    fn describe_activity(&mut self, node: NodeNum, kind: &Activity, now: Instant) -> Option<String> {
        let text = match kind {
            Activity::ElectionStarted { term, pre_vote: true } => {
                format!("node {node} timed out waiting for a leader: pre-vote for term {term} (§9.6)")
            }
            Activity::ElectionStarted { term, pre_vote: false } => {
                // Its own move to this term is implied: do not tell it twice.
                self.follows.insert(node, (*term, None));
                format!("node {node} starts an election for term {term}, voting for itself (§5.2)")
            }
            Activity::LeaderElected { term, leader, votes } => {
                self.follows.insert(*leader, (*term, Some(*leader)));
                let votes: Vec<String> = votes.iter().map(|v| v.to_string()).collect();
                format!("node {leader} is LEADER for term {term} (votes from {})", votes.join(", "))
            }
            Activity::TermChanged { term, leader } => {
                if self.follows.get(&node) == Some(&(*term, *leader)) || *leader == Some(node) {
                    return None;
                }
                self.follows.insert(node, (*term, *leader));
                match leader {
                    Some(l) => format!("node {node} follows leader {l} in term {term}"),
                    None => format!("node {node} moved to term {term}"),
                }
            }
            Activity::Committed { index, term } => {
                if *index > self.max_commit.0 {
                    self.max_commit = (*index, *term);
                }
                return None;
            }
            Activity::Applied { index } => {
                let slot = self.applied.entry(node).or_default();
                if *index > *slot {
                    *slot = *index;
                    self.applied_changed = true;
                }
                return None;
            }
            Activity::Snapshot { index, installed: true } => {
                format!("node {node} installed a snapshot from the leader up to index {index}")
            }
            Activity::Snapshot { index, installed: false } => {
                format!("node {node} took a snapshot up to index {index} and compacted its log")
            }
            Activity::LostQuorum { term } => {
                format!("node {node} cannot reach a majority: steps down as leader of term {term} (check-quorum)")
            }
            Activity::TransferStarted { to } => format!("node {node} hands leadership to node {to}"),
            Activity::Peer { .. } => return None,
            Activity::Lagged { missed } => {
                format!("(missed {missed} events from node {node}: narration is behind)")
            }
        };
        Some(self.stamp(now, text))
    }

    /// Returns the aggregated replication line for the time since the last flush, if anything moved.
    pub fn flush(&mut self, now: Instant) -> Option<String> {
        let (commit, term) = self.max_commit;
        let committed = (commit > self.told_commit).then(|| {
            let from = self.told_commit + 1;
            let range = if from == commit { format!("entry {commit}") } else { format!("entries {from}..={commit}") };
            format!("{range} replicated to a majority and committed (term {term})")
        });
        let applied = self.applied_changed.then(|| {
            let parts: Vec<String> = self.applied.iter().map(|(n, i)| format!("n{n}@{i}")).collect();
            format!("applied: {}", parts.join(" "))
        });
        self.told_commit = self.told_commit.max(commit);
        self.applied_changed = false;
        match (committed, applied) {
            (None, None) => None,
            (Some(c), Some(a)) => Some(self.stamp(now, format!("{c}; {a}"))),
            (Some(one), None) | (None, Some(one)) => Some(self.stamp(now, one)),
        }
    }

    fn status_table(&self, rows: &[StatusRow], now: Instant) -> String {
        let top_commit = rows.iter().filter_map(|r| r.raft.as_ref().map(|s| s.commit)).max().unwrap_or(0);
        let mut table =
            Table::new(["id", "pid", "process", "role", "term", "leader", "commit", "applied", "last", "lag"]);
        for row in rows {
            let pid = row.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
            let process = match row.proc_state {
                ProcState::Up => "up",
                ProcState::Paused => "PAUSED",
                ProcState::Down => "DOWN",
            };
            let mut cells = vec![row.node.to_string(), pid, process.to_string()];
            match &row.raft {
                Some(s) => cells.extend([
                    s.role.clone(),
                    s.term.to_string(),
                    s.leader.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                    s.commit.to_string(),
                    s.applied.to_string(),
                    s.last_index.to_string(),
                    top_commit.saturating_sub(s.applied).to_string(),
                ]),
                None => cells.push("(no answer)".into()),
            }
            table.row(cells);
        }
        let (acked, unknown) = self.writes;
        let header = self.stamp(now, format!("status: {acked} writes acknowledged, {unknown} with unknown outcome"));
        let body: Vec<String> = table.render().lines().map(|l| format!("             {l}")).collect();
        format!("{header}\n{}", body.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::event::RaftStatus;
    use std::time::Duration;

    fn act(node: NodeNum, kind: Activity) -> DemoEvent {
        DemoEvent::Activity { node, kind }
    }

    #[test]
    fn an_election_is_told_with_term_and_votes() {
        let t0 = Instant::now();
        let mut n = Narrator::new(t0);
        let lines = n.handle(&act(2, Activity::ElectionStarted { term: 3, pre_vote: false }), t0);
        assert_eq!(lines, vec!["[    0.0s] node 2 starts an election for term 3, voting for itself (§5.2)"]);
        let own_term = act(2, Activity::TermChanged { term: 3, leader: None });
        assert!(n.handle(&own_term, t0).is_empty(), "the candidate's own term change is implied");
        let voter = act(3, Activity::TermChanged { term: 3, leader: None });
        assert_eq!(n.handle(&voter, t0), vec!["[    0.0s] node 3 moved to term 3"]);
        let won = act(2, Activity::LeaderElected { term: 3, leader: 2, votes: vec![2, 3] });
        let lines = n.handle(&won, t0 + Duration::from_millis(1500));
        assert_eq!(lines, vec!["[    1.5s] node 2 is LEADER for term 3 (votes from 2, 3)"]);
    }

    #[test]
    fn a_partition_is_told_and_costs_the_cluster_its_leader_until_a_new_election() {
        let t0 = Instant::now();
        let mut n = Narrator::new(t0);
        n.handle(&act(2, Activity::LeaderElected { term: 3, leader: 2, votes: vec![2, 3] }), t0);
        let cut = DemoEvent::Partitioned { node: 2, others: vec![1, 3], span: Duration::from_secs(3) };
        let lines = n.handle(&cut, t0);
        assert_eq!(lines[0], "[    0.0s] CHAOS: partition: node 2 (the leader) cut off from 1, 3 for 3.0s");
        assert!(lines[1].contains("no usable leader"), "{lines:?}");
        assert_eq!(n.timeline().leader(), None);
        let lines = n.handle(&DemoEvent::PartitionHealed { node: 2 }, t0);
        assert_eq!(lines, vec!["[    0.0s] partition healed: node 2 rejoins and learns the new term"]);
    }

    #[test]
    fn commits_and_applies_are_aggregated_per_flush() {
        let t0 = Instant::now();
        let mut n = Narrator::new(t0);
        for i in 1..=40 {
            for node in 1..=3 {
                assert!(n.handle(&act(node, Activity::Committed { index: i, term: 2 }), t0).is_empty());
                assert!(n.handle(&act(node, Activity::Applied { index: i }), t0).is_empty());
            }
        }
        let line = n.flush(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(
            line,
            "[    1.0s] entries 1..=40 replicated to a majority and committed (term 2); applied: n1@40 n2@40 n3@40"
        );
        assert_eq!(n.flush(t0 + Duration::from_secs(2)), None, "nothing moved, nothing told");
        n.handle(&act(1, Activity::Committed { index: 41, term: 2 }), t0);
        assert_eq!(
            n.flush(t0 + Duration::from_secs(3)).unwrap(),
            "[    3.0s] entry 41 replicated to a majority and committed (term 2)"
        );
    }

    #[test]
    fn losing_the_leader_is_called_out() {
        let t0 = Instant::now();
        let mut n = Narrator::new(t0);
        n.handle(&act(1, Activity::LeaderElected { term: 1, leader: 1, votes: vec![1, 2] }), t0);
        let lines =
            n.handle(&DemoEvent::Exited { node: 1, pid: 42, how: "killed by SIGKILL".into(), by_demo: false }, t0);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("node 1 (pid 42) is down: killed by SIGKILL (not by the demo"));
        assert!(lines[1].contains("no usable leader"));
    }

    #[test]
    fn repeated_follow_reports_are_told_once() {
        let t0 = Instant::now();
        let mut n = Narrator::new(t0);
        let follow = act(3, Activity::TermChanged { term: 2, leader: Some(1) });
        assert_eq!(n.handle(&follow, t0).len(), 1);
        assert!(n.handle(&follow, t0).is_empty());
    }

    #[test]
    fn status_table_shows_lag_against_the_highest_commit() {
        let t0 = Instant::now();
        let mut n = Narrator::new(t0);
        n.handle(&DemoEvent::Workload { acked: 7, unknown: 1 }, t0);
        let status = |commit, applied| RaftStatus {
            role: "follower".into(),
            term: 2,
            leader: Some(1),
            commit,
            applied,
            last_index: commit,
        };
        let rows = vec![
            StatusRow { node: 1, pid: Some(10), proc_state: ProcState::Up, raft: Some(status(50, 50)) },
            StatusRow { node: 2, pid: Some(11), proc_state: ProcState::Up, raft: Some(status(45, 42)) },
            StatusRow { node: 3, pid: None, proc_state: ProcState::Down, raft: None },
        ];
        let text = n.handle(&DemoEvent::Status(rows), t0).join("\n");
        assert!(text.contains("7 writes acknowledged, 1 with unknown outcome"), "{text}");
        let row2 = text.lines().find(|l| l.trim_start().starts_with("2 ")).unwrap();
        assert!(row2.trim_end().ends_with("8"), "lag = 50 - 42: {row2}");
        assert!(text.contains("DOWN"), "{text}");
    }
}
