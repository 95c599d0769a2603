//! The `--chaos` schedule: seeded, so a run that shows a bug can be replayed
//! with `--seed`.
//!
//! Faults are spread over the run after a warm-up, leaving the final stretch
//! quiet so the cluster can settle before verification. The first three
//! faults cover each kind once (in seeded order), later ones are drawn at
//! random. Network partitions are not offered: separate processes on
//! loopback share one network stack, and cutting links would need root
//! (iptables) or a proxy.

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
}

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
        let mut order = [0u64, 1, 2];
        for i in (1..order.len()).rev() {
            let j = rng.gen_range(0, i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut at = WARM_UP;
        while at < end {
            let kind = order.get(faults.len()).copied().unwrap_or_else(|| rng.gen_range(0, 3));
            let fault = match kind {
                0 => Fault::KillLeader,
                1 => Fault::KillFollower,
                _ => Fault::Pause { span: Duration::from_millis(rng.gen_range(2000, 4001)) },
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
    fn the_first_three_faults_cover_every_kind() {
        for seed in 0..20 {
            let plan = ChaosPlan::new(seed, Duration::from_secs(60));
            let kinds: Vec<u8> = plan.faults()[..3]
                .iter()
                .map(|(_, f)| match f {
                    Fault::KillLeader => 0,
                    Fault::KillFollower => 1,
                    Fault::Pause { .. } => 2,
                })
                .collect();
            let mut sorted = kinds.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2], "seed {seed}: {kinds:?}");
        }
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
