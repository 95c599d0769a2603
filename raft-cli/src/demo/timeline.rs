//! The facts the summary needs, derived from the event stream: elections,
//! the highest term, leader changes and the longest stretch without a usable
//! leader.
//!
//! "Without a leader" means no running, unfrozen node is leader of the
//! highest term seen. The stretch starts when the leader's process dies or
//! is frozen, when it reports losing its quorum, or when any node reaches a
//! higher term; it ends when a node wins an election. The start of the demo
//! counts too (the first election).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::event::{Activity, DemoEvent, NodeNum};

/// Running election and availability statistics.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The current usable leader and its term.
    leader: Option<(NodeNum, u64)>,
    /// When the current leaderless stretch began (None while a leader is usable).
    leaderless_since: Option<Instant>,
    /// Longest completed (or current, see [`Timeline::longest_leaderless`]) stretch.
    longest_gap: Duration,
    /// Terms in which a leader was elected (each counted once).
    elected_terms: BTreeSet<u64>,
    /// Leader changes: elections whose winner differs from the previous leader.
    leader_changes: u64,
    previous_leader: Option<NodeNum>,
    /// Highest term any node reported.
    max_term: u64,
}

impl Timeline {
    /// A timeline that starts leaderless at `start`.
    pub fn new(start: Instant) -> Self {
        Timeline {
            leader: None,
            leaderless_since: Some(start),
            longest_gap: Duration::ZERO,
            elected_terms: BTreeSet::new(),
            leader_changes: 0,
            previous_leader: None,
            max_term: 0,
        }
    }

    /// Updates the statistics with one event observed at `now`.
    pub fn observe(&mut self, event: &DemoEvent, now: Instant) {
        match event {
            DemoEvent::Exited { node, .. } | DemoEvent::Paused { node, .. } | DemoEvent::Partitioned { node, .. } => {
                if self.leader.is_some_and(|(l, _)| l == *node) {
                    self.lose_leader(now);
                }
            }
            DemoEvent::Activity { node, kind } => self.observe_activity(*node, kind, now),
            _ => {}
        }
    }

    fn observe_activity(&mut self, node: NodeNum, kind: &Activity, now: Instant) {
        match kind {
            Activity::LeaderElected { term, leader, .. } => {
                self.max_term = self.max_term.max(*term);
                if self.elected_terms.insert(*term) && self.previous_leader != Some(*leader) {
                    self.leader_changes += 1;
                }
                if self.leader.is_none_or(|(_, t)| *term >= t) {
                    self.previous_leader = Some(*leader);
                    self.leader = Some((*leader, *term));
                    self.end_gap(now);
                }
            }
            Activity::ElectionStarted { term, pre_vote: false } | Activity::TermChanged { term, .. } => {
                self.max_term = self.max_term.max(*term);
                if self.leader.is_some_and(|(_, t)| *term > t) {
                    self.lose_leader(now);
                }
            }
            Activity::LostQuorum { .. } => {
                if self.leader.is_some_and(|(l, _)| l == node) {
                    self.lose_leader(now);
                }
            }
            _ => {}
        }
    }

    fn lose_leader(&mut self, now: Instant) {
        self.leader = None;
        if self.leaderless_since.is_none() {
            self.leaderless_since = Some(now);
        }
    }

    fn end_gap(&mut self, now: Instant) {
        if let Some(since) = self.leaderless_since.take() {
            self.longest_gap = self.longest_gap.max(now.saturating_duration_since(since));
        }
    }

    /// The usable leader right now, if any.
    pub fn leader(&self) -> Option<NodeNum> {
        self.leader.map(|(l, _)| l)
    }

    /// Number of elections won (distinct terms with a leader).
    pub fn elections(&self) -> u64 {
        self.elected_terms.len() as u64
    }

    /// Number of times leadership moved to a different node (the first leader counts).
    pub fn leader_changes(&self) -> u64 {
        self.leader_changes
    }

    /// Highest term seen.
    pub fn max_term(&self) -> u64 {
        self.max_term
    }

    /// The longest leaderless stretch so far, counting one still in progress at `now`.
    pub fn longest_leaderless(&self, now: Instant) -> Duration {
        let current = self.leaderless_since.map(|s| now.saturating_duration_since(s)).unwrap_or_default();
        self.longest_gap.max(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elected(leader: NodeNum, term: u64) -> DemoEvent {
        DemoEvent::Activity { node: leader, kind: Activity::LeaderElected { term, leader, votes: vec![leader] } }
    }

    #[test]
    fn initial_election_counts_as_a_leaderless_stretch() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.observe(&elected(1, 1), t0 + Duration::from_millis(700));
        assert_eq!(t.leader(), Some(1));
        assert_eq!(t.elections(), 1);
        assert_eq!(t.longest_leaderless(t0 + Duration::from_secs(60)), Duration::from_millis(700));
    }

    #[test]
    fn killing_the_leader_opens_a_gap_that_the_next_election_closes() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.observe(&elected(1, 1), t0);
        let kill = DemoEvent::Exited { node: 1, pid: 9, how: "killed by SIGKILL".into(), by_demo: true };
        t.observe(&kill, t0 + Duration::from_secs(10));
        assert_eq!(t.leader(), None);
        assert_eq!(t.longest_leaderless(t0 + Duration::from_secs(12)), Duration::from_secs(2));
        t.observe(&elected(2, 2), t0 + Duration::from_millis(11_500));
        assert_eq!(t.longest_leaderless(t0 + Duration::from_secs(99)), Duration::from_millis(1500));
        assert_eq!((t.elections(), t.leader_changes(), t.max_term()), (2, 2, 2));
    }

    #[test]
    fn a_follower_dying_does_not_count_as_leaderless() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.observe(&elected(1, 1), t0);
        let kill = DemoEvent::Exited { node: 3, pid: 9, how: "killed".into(), by_demo: false };
        t.observe(&kill, t0 + Duration::from_secs(1));
        assert_eq!(t.leader(), Some(1));
        assert_eq!(t.longest_leaderless(t0 + Duration::from_secs(5)), Duration::ZERO);
    }

    #[test]
    fn a_higher_term_deposes_the_leader_and_duplicate_reports_count_once() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.observe(&elected(1, 1), t0);
        let bump = DemoEvent::Activity { node: 2, kind: Activity::TermChanged { term: 2, leader: None } };
        t.observe(&bump, t0 + Duration::from_secs(1));
        assert_eq!(t.leader(), None);
        t.observe(&elected(1, 2), t0 + Duration::from_secs(2));
        t.observe(&elected(1, 2), t0 + Duration::from_secs(3));
        assert_eq!((t.elections(), t.leader_changes()), (2, 1));
        assert_eq!(t.longest_leaderless(t0 + Duration::from_secs(3)), Duration::from_secs(1));
    }
}
