//! The end-of-demo report: what happened, and whether every acknowledged
//! write survived on every node.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use super::event::NodeNum;
use super::members_tour::TourReport;
use crate::duration::format_duration;
use crate::output::Report;

/// A verification failure: an acknowledged write not found as expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The node read.
    pub node: NodeNum,
    /// The key read (empty when the whole node could not be checked).
    pub key: String,
    /// What went wrong, in words.
    pub what: String,
}

/// Counts of injected and observed faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Processes the demo killed (chaos).
    pub kills: u64,
    /// Processes that died without the demo killing them (a user's `kill -9`, a crash).
    pub external_exits: u64,
    /// SIGSTOP/SIGCONT pauses.
    pub pauses: u64,
    /// Leaders cut off from the others by a partition (Admin `SetPartition`).
    pub partitions: u64,
    /// Restarts after a death.
    pub restarts: u64,
}

/// Everything the summary says.
#[derive(Clone, Debug, Default)]
pub struct DemoSummary {
    /// Cluster size.
    pub nodes: usize,
    /// Wall time the demo ran.
    pub ran_for: Duration,
    /// The chaos seed, when `--chaos` ran.
    pub seed: Option<u64>,
    /// Elections won.
    pub elections: u64,
    /// Leadership moves between nodes.
    pub leader_changes: u64,
    /// Highest term seen.
    pub max_term: u64,
    /// Longest stretch without a usable leader.
    pub longest_leaderless: Duration,
    /// Faults injected and observed.
    pub faults: FaultCounts,
    /// Writes acknowledged by the cluster.
    pub writes_acked: u64,
    /// Writes whose outcome stayed unknown.
    pub writes_unknown: u64,
    /// Distinct keys with an acknowledged write, each checked on every node.
    pub keys_checked: usize,
    /// Nodes read during verification.
    pub nodes_checked: usize,
    /// Every failed check (empty: all acknowledged writes are present everywhere).
    pub problems: Vec<Problem>,
    /// Where the data was kept (`--keep`), if it was.
    pub kept_data: Option<PathBuf>,
    /// The `--members` tour, when it ran.
    pub members: Option<TourReport>,
}

/// Problems listed in the human summary; the JSON has all of them.
const SHOWN_PROBLEMS: usize = 10;

impl DemoSummary {
    /// True when every acknowledged write was verified on every node.
    pub fn verified(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Report for DemoSummary {
    fn human(&self) -> String {
        let mut out = String::from("\n=== demo summary ===\n");
        let mut line = |k: &str, v: String| out.push_str(&format!("{k:<28} {v}\n"));
        line("nodes", self.nodes.to_string());
        line("ran for", format_duration(self.ran_for));
        if let Some(seed) = self.seed {
            line("chaos seed", format!("{seed} (replay with --chaos --seed {seed})"));
        }
        line("elections won", self.elections.to_string());
        line("leader changes", self.leader_changes.to_string());
        line("highest term", self.max_term.to_string());
        line("longest time without leader", format_duration(self.longest_leaderless));
        let f = self.faults;
        line(
            "faults",
            format!(
                "{} killed by the demo, {} died otherwise, {} paused, {} partitioned, {} restarts",
                f.kills, f.external_exits, f.pauses, f.partitions, f.restarts
            ),
        );
        if let Some(tour) = &self.members {
            line("membership tour", tour.human());
        }
        line("writes acknowledged", self.writes_acked.to_string());
        line("writes with unknown outcome", self.writes_unknown.to_string());
        let verdict = if self.verified() {
            format!(
                "all {} keys present with their last acknowledged value on all {} nodes",
                self.keys_checked, self.nodes_checked
            )
        } else {
            format!(
                "FAILED: {} problems over {} keys on {} nodes",
                self.problems.len(),
                self.keys_checked,
                self.nodes_checked
            )
        };
        line("verification", verdict);
        for p in self.problems.iter().take(SHOWN_PROBLEMS) {
            out.push_str(&format!("  node {} key {:?}: {}\n", p.node, p.key, p.what));
        }
        if self.problems.len() > SHOWN_PROBLEMS {
            out.push_str(&format!("  ... and {} more (see --output json)\n", self.problems.len() - SHOWN_PROBLEMS));
        }
        if let Some(dir) = &self.kept_data {
            out.push_str(&format!("data and node logs kept in {}\n", dir.display()));
        }
        out
    }

    fn json(&self) -> Value {
        let problems: Vec<Value> =
            self.problems.iter().map(|p| json!({"node": p.node, "key": p.key, "what": p.what})).collect();
        json!({
            "nodes": self.nodes,
            "ran_for_ms": self.ran_for.as_millis() as u64,
            "seed": self.seed,
            "elections": self.elections,
            "leader_changes": self.leader_changes,
            "max_term": self.max_term,
            "longest_leaderless_ms": self.longest_leaderless.as_millis() as u64,
            "faults": {
                "kills": self.faults.kills,
                "external_exits": self.faults.external_exits,
                "pauses": self.faults.pauses,
                "partitions": self.faults.partitions,
                "restarts": self.faults.restarts,
            },
            "writes_acked": self.writes_acked,
            "writes_unknown": self.writes_unknown,
            "keys_checked": self.keys_checked,
            "nodes_checked": self.nodes_checked,
            "verified": self.verified(),
            "problems": problems,
            "kept_data": self.kept_data.as_ref().map(|d| d.display().to_string()),
            "members": self.members.as_ref().map(TourReport::json),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_run_reports_verified_everywhere() {
        let s = DemoSummary { nodes: 3, keys_checked: 20, nodes_checked: 3, writes_acked: 150, ..Default::default() };
        assert!(s.verified());
        assert!(s.human().contains("all 20 keys present with their last acknowledged value on all 3 nodes"));
        assert_eq!(s.json()["verified"], true);
        assert_eq!(s.json()["writes_acked"], 150);
        assert_eq!(s.json()["members"], Value::Null, "no tour without --members");
    }

    #[test]
    fn partitions_are_counted_in_both_formats() {
        let faults = FaultCounts { kills: 1, partitions: 2, ..Default::default() };
        let s = DemoSummary { faults, ..Default::default() };
        assert!(s.human().contains("1 killed by the demo, 0 died otherwise, 0 paused, 2 partitioned, 0 restarts"));
        assert_eq!(s.json()["faults"]["partitions"], 2);
    }

    #[test]
    fn problems_fail_verification_and_are_listed() {
        let problems = (0..12).map(|i| Problem { node: 2, key: format!("demo/{i}"), what: "missing".into() }).collect();
        let s = DemoSummary { nodes: 3, problems, seed: Some(9), ..Default::default() };
        assert!(!s.verified());
        let text = s.human();
        assert!(text.contains("FAILED: 12 problems"), "{text}");
        assert!(text.contains("... and 2 more"), "{text}");
        assert!(text.contains("--chaos --seed 9"), "{text}");
        assert_eq!(s.json()["problems"].as_array().unwrap().len(), 12);
    }
}
