//! The `--chaos` schedule: seeded, so a run that shows a bug can be replayed
//! with `--seed`.
//!
//! Faults are spread over the run after a warm-up, leaving the final stretch
//! quiet so the cluster can settle before verification. The first four
//! faults cover each kind once (in seeded order), later ones are drawn at
//! random.
//!
//! Network partitions cannot be made with the network itself: the node
//! processes share one loopback stack, and cutting links would need root
//! (iptables) or a proxy. Instead each node is asked, over the Admin
//! `SetPartition` fault-injection RPC, to drop Raft traffic to and from the
//! peers on the other side. Every node cuts its own side, so the partition
//! is symmetric; client and admin traffic still flow, which is how the demo
//! heals it again.

use std::time::Duration;

use raft_core::SeededRng;

use super::event::NodeNum;

/// One fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the current leader.
    KillLeader,
    /// SIGKILL a random follower.
    KillFollower,
    /// SIGSTOP a random node for `span`, then SIGCONT.
    Pause {
        /// How long the node stays frozen.
        span: Duration,
    },
    /// Isolate the leader from the others for `span`, then heal. Unlike a
    /// pause the leader keeps running, so it is a minority leader that
    /// must not acknowledge writes, then a deposed one that must learn the
    /// new term and catch up (§5.1, §5.3).
    Partition {
        /// How long the leader stays cut off.
        span: Duration,
    },
}

impl Fault {
    /// Which of the [`KINDS`] this is (the order the schedule draws from).
    #[cfg(test)]
    fn kind(&self) -> u64 {
        match self {
            Fault::KillLeader => 0,
            Fault::KillFollower => 1,
            Fault::Pause { .. } => 2,
            Fault::Partition { .. } => 3,
        }
    }
}

/// How many kinds of fault there are; the first this many cover each once.
const KINDS: u64 = 4;
/// Shortest and longest pause or partition, in milliseconds.
const SPAN_MS: (u64, u64) = (2000, 4001);

/// Quiet time at the start (the first election and some writes happen first).
const WARM_UP: Duration = Duration::from_secs(3);
/// Quiet time at the end (restart, catch-up and settling before verification).
const COOL_DOWN: Duration = Duration::from_secs(6);
/// Shortest and longest gap between faults.
const MIN_GAP: Duration = Duration::from_secs(4);
const MAX_GAP: Duration = Duration::from_secs(12);

/// The fault schedule and the generator that picks victims.
#[derive(Debug)]
pub struct ChaosPlan {
    seed: u64,
    rng: SeededRng,
    faults: Vec<(Duration, Fault)>,
}

impl ChaosPlan {
    /// A schedule for a run of `duration`, fully determined by `seed`.
    pub fn new(seed: u64, duration: Duration) -> Self {
        let mut rng = SeededRng::new(seed);
        let mut faults = Vec::new();
        let end = duration.saturating_sub(COOL_DOWN);
        let gap = (duration / 5).clamp(MIN_GAP, MAX_GAP);
        let mut order: Vec<u64> = (0..KINDS).collect();
        for i in (1..order.len()).rev() {
            let j = rng.gen_range(0, i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut at = WARM_UP;
        while at < end {
            let kind = order.get(faults.len()).copied().unwrap_or_else(|| rng.gen_range(0, KINDS));
            let fault = match kind {
                0 => Fault::KillLeader,
                1 => Fault::KillFollower,
                2 => Fault::Pause { span: Duration::from_millis(rng.gen_range(SPAN_MS.0, SPAN_MS.1)) },
                _ => Fault::Partition { span: Duration::from_millis(rng.gen_range(SPAN_MS.0, SPAN_MS.1)) },
            };
            faults.push((at, fault));
            let jitter = Duration::from_millis(rng.gen_range(0, 1001));
            at += gap + jitter;
        }
        ChaosPlan { seed, rng, faults }
    }

    /// The seed that reproduces this plan.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The faults, each with its offset from the start of the run.
    pub fn faults(&self) -> &[(Duration, Fault)] {
        &self.faults
    }

    /// Picks one of `candidates` (seeded); None if there are none.
    pub fn pick(&mut self, candidates: &[NodeNum]) -> Option<NodeNum> {
        if candidates.is_empty() {
            return None;
        }
        let i = self.rng.gen_range(0, candidates.len() as u64) as usize;
        Some(candidates[i])
    }
}

/// A seed from the clock, for runs without `--seed`.
pub fn fresh_seed() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    SeededRng::new(nanos ^ u64::from(std::process::id())).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_schedule() {
        let a = ChaosPlan::new(7, Duration::from_secs(60));
        let b = ChaosPlan::new(7, Duration::from_secs(60));
        assert_eq!(a.faults(), b.faults());
    }

    #[test]
    fn the_first_four_faults_cover_every_kind() {
        for seed in 0..20 {
            let plan = ChaosPlan::new(seed, Duration::from_secs(60));
            let kinds: Vec<u64> = plan.faults()[..KINDS as usize].iter().map(|(_, f)| f.kind()).collect();
            let mut sorted = kinds.clone();
            sorted.sort();
            assert_eq!(sorted, (0..KINDS).collect::<Vec<_>>(), "seed {seed}: {kinds:?}");
        }
    }

    #[test]
    fn later_faults_include_partitions_with_bounded_spans() {
        let plan = ChaosPlan::new(5, Duration::from_secs(300));
        let spans: Vec<Duration> = plan
            .faults()
            .iter()
            .filter_map(|(_, f)| if let Fault::Partition { span } = f { Some(*span) } else { None })
            .collect();
        assert!(spans.len() >= 2, "{:?}", plan.faults());
        for s in spans {
            assert!(s >= Duration::from_millis(SPAN_MS.0) && s < Duration::from_millis(SPAN_MS.1), "{s:?}");
        }
    }

    /// `tests/demo.rs` relies on these: `--seed 7 --duration 24s` kills
    /// (follower, pause, leader; no partition), `--seed 29 --duration 16s`
    /// partitions the leader first (then pauses, no kill).
    #[test]
    fn the_demo_test_schedules() {
        let kinds = |seed, secs| -> Vec<u64> {
            ChaosPlan::new(seed, Duration::from_secs(secs)).faults().iter().map(|(_, f)| f.kind()).collect()
        };
        assert_eq!(kinds(7, 24), vec![1, 2, 0]);
        assert_eq!(kinds(29, 16), vec![3, 2]);
    }

    #[test]
    fn faults_stay_between_warm_up_and_cool_down() {
        for secs in [10, 20, 60, 300] {
            let d = Duration::from_secs(secs);
            let plan = ChaosPlan::new(secs, d);
            for (at, _) in plan.faults() {
                assert!(*at >= WARM_UP && *at < d.saturating_sub(COOL_DOWN), "{secs}s run: fault at {at:?}");
            }
        }
    }

    #[test]
    fn a_short_run_still_gets_faults() {
        let plan = ChaosPlan::new(1, Duration::from_secs(15));
        assert!(plan.faults().len() >= 2, "{:?}", plan.faults());
    }

    #[test]
    fn pick_chooses_among_candidates_only() {
        let mut plan = ChaosPlan::new(3, Duration::from_secs(20));
        assert_eq!(plan.pick(&[]), None);
        for _ in 0..50 {
            assert!([2, 3].contains(&plan.pick(&[2, 3]).unwrap()));
        }
    }
}
