//! Seeded generation of fault schedules.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Fault, Target};
use crate::error::NodeId;
use crate::rng::Rng;

/// The kinds of fault a schedule may draw from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// kill -9 a random node, restart it on heal.
    KillNode,
    /// kill -9 the leader, restart it on heal.
    KillLeader,
    /// SIGSTOP the leader, SIGCONT on heal.
    PauseLeader,
    /// SIGSTOP a random node, SIGCONT on heal.
    PauseNode,
    /// A random minority cut off from the majority.
    MajorityMinority,
    /// The leader cut off from everyone.
    IsolateLeader,
    /// Two halves joined only through one node.
    Bridge,
    /// One random direction of one link dropped.
    OneWay,
    /// All links lossy.
    Lossy,
    /// The nodes split into groups none of which is a majority.
    QuorumLoss,
    /// kill -9 one random node and SIGSTOP another at once (on 3 nodes: no
    /// quorum until healed).
    KillAndPause,
    /// At once: a random node cut off from the rest, another node killed, and
    /// the cut-off node paused; on 5 nodes a majority stays able to serve.
    Combined,
}

impl FaultKind {
    /// Kinds that only need processes (usable on loopback clusters).
    pub const PROCESS: &'static [FaultKind] = &[
        FaultKind::KillNode,
        FaultKind::KillLeader,
        FaultKind::PauseLeader,
        FaultKind::PauseNode,
        FaultKind::KillAndPause,
    ];

    /// Every kind (needs network namespaces).
    pub const ALL: &'static [FaultKind] = &[
        FaultKind::KillNode,
        FaultKind::KillLeader,
        FaultKind::PauseLeader,
        FaultKind::PauseNode,
        FaultKind::MajorityMinority,
        FaultKind::IsolateLeader,
        FaultKind::Bridge,
        FaultKind::OneWay,
        FaultKind::Lossy,
        FaultKind::QuorumLoss,
        FaultKind::KillAndPause,
        FaultKind::Combined,
    ];
}

/// Parameters of a random schedule.
#[derive(Clone, Debug)]
pub struct ScheduleConfig {
    /// The cluster's node ids.
    pub nodes: Vec<NodeId>,
    /// Number of fault steps.
    pub steps: usize,
    /// Kinds to draw from (uniformly).
    pub kinds: Vec<FaultKind>,
    /// How long each fault lasts, in ms (`lo..hi`).
    pub hold_ms: (u64, u64),
    /// Quiet time after each heal, in ms (`lo..hi`).
    pub recover_ms: (u64, u64),
}

impl ScheduleConfig {
    /// `steps` faults of `kinds` on `nodes`, each held 1–3 s with 1–2 s to recover.
    pub fn new(nodes: Vec<NodeId>, steps: usize, kinds: &[FaultKind]) -> Self {
        ScheduleConfig { nodes, steps, kinds: kinds.to_vec(), hold_ms: (1000, 3000), recover_ms: (1000, 2000) }
    }
}

/// One step: inject `fault`, wait `hold`, heal, wait `recover`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The fault.
    pub fault: Fault,
    /// How long it stays in force.
    pub hold: Duration,
    /// Quiet time after healing.
    pub recover: Duration,
}

/// A reproducible sequence of fault steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// The seed it was generated from (0 for hand-written schedules).
    pub seed: u64,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Schedule {
    /// A random schedule fully determined by `seed` and `config`: the first
    /// steps use every kind once, in a random order, the rest draw uniformly. A
    /// config with no kinds or fewer than 2 nodes yields no steps.
    pub fn random(seed: u64, config: &ScheduleConfig) -> Self {
        let mut rng = Rng::new(seed);
        let mut steps = Vec::with_capacity(config.steps);
        if config.kinds.is_empty() || config.nodes.len() < 2 {
            return Schedule { seed, steps };
        }
        // Every kind once first (in a random order), so that even a short CI run
        // exercises each of them; then uniform draws.
        let mut kinds = config.kinds.clone();
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, rng.index(i + 1));
        }
        for n in 0..config.steps {
            let kind = match kinds.get(n) {
                Some(&kind) => kind,
                None => config.kinds[rng.index(config.kinds.len())],
            };
            let fault = draw(&mut rng, kind, &config.nodes);
            let hold = Duration::from_millis(span(&mut rng, config.hold_ms));
            let recover = Duration::from_millis(span(&mut rng, config.recover_ms));
            steps.push(Step { fault, hold, recover });
        }
        Schedule { seed, steps }
    }

    /// Whether any step needs network namespaces.
    pub fn needs_network(&self) -> bool {
        self.steps.iter().any(|s| s.fault.is_network())
    }

    /// JSON for saving next to a run's history.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("invariant: a schedule always serializes")
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "nemesis schedule (seed {}, {} steps):", self.seed, self.steps.len())?;
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "  {i:>3}: {} for {:?}, then {:?} to recover", s.fault, s.hold, s.recover)?;
        }
        Ok(())
    }
}

fn span(rng: &mut Rng, (lo, hi): (u64, u64)) -> u64 {
    if hi > lo {
        rng.range(lo, hi)
    } else {
        lo
    }
}

fn shuffled(rng: &mut Rng, nodes: &[NodeId]) -> Vec<NodeId> {
    let mut v = nodes.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.index(i + 1));
    }
    v
}

fn draw(rng: &mut Rng, kind: FaultKind, nodes: &[NodeId]) -> Fault {
    let mut v = shuffled(rng, nodes);
    match kind {
        FaultKind::KillNode => Fault::Kill(Target::Node(v[0])),
        FaultKind::KillLeader => Fault::Kill(Target::Leader),
        FaultKind::PauseLeader => Fault::Pause(Target::Leader),
        FaultKind::PauseNode => Fault::Pause(Target::Node(v[0])),
        FaultKind::MajorityMinority => {
            let minority = ((v.len() - 1) / 2).max(1);
            let majority = v.split_off(minority);
            Fault::Partition(vec![v, majority])
        }
        FaultKind::IsolateLeader => Fault::IsolateLeader,
        FaultKind::Bridge if v.len() >= 3 => {
            let bridge = v.remove(0);
            let right = v.split_off(v.len() / 2);
            Fault::Bridge { bridge, left: v, right }
        }
        FaultKind::Bridge => Fault::Partition(vec![vec![v[0]], vec![v[1]]]),
        FaultKind::OneWay => Fault::OneWay { from: Target::Node(v[0]), to: Target::Node(v[1]) },
        FaultKind::Lossy => Fault::Lossy(rng.range(10, 51) as f64 / 100.0),
        FaultKind::QuorumLoss => {
            // Groups of at most (n-1)/2 nodes: none reaches a majority of n.
            let size = ((v.len() - 1) / 2).max(1);
            Fault::QuorumLoss(v.chunks(size).map(<[NodeId]>::to_vec).collect())
        }
        FaultKind::KillAndPause => {
            Fault::Combined(vec![Fault::Kill(Target::Node(v[0])), Fault::Pause(Target::Node(v[1]))])
        }
        FaultKind::Combined => {
            let rest = v[1..].to_vec();
            Fault::Combined(vec![
                Fault::Partition(vec![vec![v[0]], rest]),
                Fault::Kill(Target::Node(v[1])),
                Fault::Pause(Target::Node(v[0])),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_schedule_and_printout_names_the_seed() {
        let cfg = ScheduleConfig::new(vec![1, 2, 3, 4, 5], 30, FaultKind::ALL);
        let a = Schedule::random(77, &cfg);
        assert_eq!(a, Schedule::random(77, &cfg));
        assert_ne!(a, Schedule::random(78, &cfg));
        assert!(a.to_string().starts_with("nemesis schedule (seed 77, 30 steps)"));
        let back: Schedule = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn partitions_keep_a_strict_majority_on_one_side() {
        let cfg = ScheduleConfig::new(vec![1, 2, 3, 4, 5], 50, &[FaultKind::MajorityMinority]);
        for step in Schedule::random(3, &cfg).steps {
            let Fault::Partition(groups) = step.fault else { panic!("unexpected {:?}", step.fault) };
            assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 5);
            assert_eq!(groups.iter().map(Vec::len).max(), Some(3));
        }
    }

    #[test]
    fn every_kind_appears_when_there_are_enough_steps() {
        for seed in 0..50 {
            let cfg = ScheduleConfig::new(vec![1, 2, 3, 4, 5], FaultKind::ALL.len(), FaultKind::ALL);
            let steps = Schedule::random(seed, &cfg).steps;
            let mut seen: Vec<String> =
                steps.iter().map(|s| format!("{:?}", s.fault).split(['(', ' ']).next().unwrap().to_string()).collect();
            seen.sort();
            seen.dedup();
            // 12 kinds, 9 variants: Kill and Pause each serve two kinds, and
            // KillAndPause is a Combined.
            assert_eq!(seen.len(), 9, "seed {seed}: {seen:?}");
        }
    }

    #[test]
    fn quorum_loss_leaves_no_group_with_a_majority() {
        for n in [3u64, 5, 7] {
            let nodes: Vec<NodeId> = (1..=n).collect();
            let cfg = ScheduleConfig::new(nodes, 20, &[FaultKind::QuorumLoss]);
            for step in Schedule::random(9, &cfg).steps {
                let Fault::QuorumLoss(groups) = step.fault else { panic!("unexpected {:?}", step.fault) };
                assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), n as usize);
                assert!(groups.iter().all(|g| 2 * g.len() <= n as usize), "{n} nodes: {groups:?}");
            }
        }
    }

    #[test]
    fn combined_faults_hit_distinct_nodes_and_need_the_network() {
        let cfg = ScheduleConfig::new(vec![1, 2, 3, 4, 5], 20, &[FaultKind::Combined]);
        for step in Schedule::random(4, &cfg).steps {
            let Fault::Combined(parts) = &step.fault else { panic!("unexpected {:?}", step.fault) };
            let [Fault::Partition(groups), Fault::Kill(Target::Node(k)), Fault::Pause(Target::Node(p))] = &parts[..]
            else {
                panic!("unexpected {parts:?}")
            };
            assert_ne!(k, p);
            assert_eq!(groups[0], vec![*p], "the paused node is the one cut off");
            assert!(step.fault.is_network());
        }
        let cfg = ScheduleConfig::new(vec![1, 2, 3], 20, &[FaultKind::KillAndPause]);
        for step in Schedule::random(4, &cfg).steps {
            let Fault::Combined(parts) = &step.fault else { panic!("unexpected {:?}", step.fault) };
            let [Fault::Kill(Target::Node(k)), Fault::Pause(Target::Node(p))] = &parts[..] else { panic!() };
            assert_ne!(k, p);
            assert!(!step.fault.is_network());
        }
    }

    #[test]
    fn bridge_splits_the_others_around_one_node() {
        let cfg = ScheduleConfig::new(vec![1, 2, 3, 4, 5], 20, &[FaultKind::Bridge]);
        for step in Schedule::random(5, &cfg).steps {
            let Fault::Bridge { bridge, left, right } = step.fault else { panic!("unexpected {:?}", step.fault) };
            assert_eq!((left.len(), right.len()), (2, 2));
            assert!(!left.contains(&bridge) && !right.contains(&bridge));
        }
    }

    #[test]
    fn process_kinds_never_need_the_network() {
        let cfg = ScheduleConfig::new(vec![1, 2, 3], 40, FaultKind::PROCESS);
        assert!(!Schedule::random(11, &cfg).needs_network());
        let all = ScheduleConfig::new(vec![1, 2, 3], 40, FaultKind::ALL);
        assert!(Schedule::random(11, &all).needs_network());
    }
}
