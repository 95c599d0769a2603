//! The nemesis executor against a fake cluster that records every call.

use std::time::Duration;

use raft_tests::nemesis::{Step, Target, LEADER_ATTEMPTS, LEADER_RETRY};
use raft_tests::{Fault, FaultKind, FaultTarget, HarnessError, LinkFault, Nemesis, NodeId, Schedule, ScheduleConfig};

#[derive(Default)]
struct Fake {
    leader: Option<NodeId>,
    calls: Vec<String>,
    links: Vec<LinkFault>,
    killed: Vec<NodeId>,
    paused: Vec<NodeId>,
    fail_kill: bool,
}

impl FaultTarget for Fake {
    fn node_ids(&self) -> Vec<NodeId> {
        vec![1, 2, 3]
    }
    fn leader(&mut self) -> Option<NodeId> {
        self.leader
    }
    fn kill(&mut self, id: NodeId) -> Result<(), HarnessError> {
        if self.fail_kill {
            return Err(HarnessError::UnknownNode(id));
        }
        self.calls.push(format!("kill {id}"));
        self.killed.push(id);
        Ok(())
    }
    fn start(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.calls.push(format!("start {id}"));
        self.killed.retain(|&k| k != id);
        Ok(())
    }
    fn pause(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.calls.push(format!("pause {id}"));
        self.paused.push(id);
        Ok(())
    }
    fn resume(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.calls.push(format!("resume {id}"));
        self.paused.retain(|&k| k != id);
        Ok(())
    }
    fn set_link_faults(&mut self, faults: Vec<LinkFault>) -> Result<(), HarnessError> {
        self.calls.push(format!("links {}", faults.len()));
        self.links = faults;
        Ok(())
    }
}

fn step(fault: Fault) -> Step {
    Step { fault, hold: Duration::from_millis(100), recover: Duration::from_millis(50) }
}

fn run(schedule: Schedule, fake: &mut Fake) -> (Result<(), HarnessError>, Vec<Duration>) {
    let mut waits = Vec::new();
    let mut nemesis = Nemesis::new(schedule);
    let result = nemesis.run_with(fake, &mut |d| waits.push(d), &mut || false);
    for e in nemesis.events() {
        eprintln!("{e}");
    }
    (result, waits)
}

#[test]
fn each_fault_is_healed_after_its_hold_time() {
    let mut fake = Fake { leader: Some(2), ..Fake::default() };
    let schedule = Schedule {
        seed: 0,
        steps: vec![
            step(Fault::Kill(Target::Leader)),
            step(Fault::Pause(Target::Node(3))),
            step(Fault::Partition(vec![vec![1], vec![2, 3]])),
        ],
    };
    let (result, waits) = run(schedule, &mut fake);
    result.unwrap();
    assert_eq!(fake.calls, ["kill 2", "start 2", "pause 3", "resume 3", "links 4", "links 0"]);
    assert_eq!(waits.len(), 6);
    assert!(fake.killed.is_empty() && fake.paused.is_empty() && fake.links.is_empty());
}

#[test]
fn leader_faults_retry_then_count_as_skipped_when_no_leader_is_known() {
    let mut fake = Fake::default();
    let schedule = Schedule { seed: 0, steps: vec![step(Fault::Kill(Target::Leader)), step(Fault::IsolateLeader)] };
    let mut nemesis = Nemesis::new(schedule);
    let mut waits = Vec::new();
    nemesis.run_with(&mut fake, &mut |d| waits.push(d), &mut || false).unwrap();
    assert!(fake.calls.is_empty(), "{:?}", fake.calls);
    assert_eq!(nemesis.skipped(), 2, "a Jepsen run fails on any skipped fault");
    assert!(nemesis.windows().is_empty());
    let retries = waits.iter().filter(|&&d| d == LEADER_RETRY).count();
    assert_eq!(retries, 2 * (LEADER_ATTEMPTS - 1), "{waits:?}");
}

/// A fake whose leader appears only after a few asks (an election under way).
struct LateLeader {
    inner: Fake,
    asks: usize,
}

impl FaultTarget for LateLeader {
    fn node_ids(&self) -> Vec<NodeId> {
        self.inner.node_ids()
    }
    fn leader(&mut self) -> Option<NodeId> {
        self.asks += 1;
        (self.asks >= 3).then_some(2)
    }
    fn kill(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.inner.kill(id)
    }
    fn start(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.inner.start(id)
    }
    fn pause(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.inner.pause(id)
    }
    fn resume(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.inner.resume(id)
    }
    fn set_link_faults(&mut self, faults: Vec<LinkFault>) -> Result<(), HarnessError> {
        self.inner.set_link_faults(faults)
    }
}

#[test]
fn a_leader_that_appears_while_retrying_is_hit_and_its_window_recorded() {
    let mut target = LateLeader { inner: Fake::default(), asks: 0 };
    let mut nemesis = Nemesis::new(Schedule { seed: 0, steps: vec![step(Fault::Kill(Target::Leader))] });
    nemesis.run_with(&mut target, &mut |_| {}, &mut || false).unwrap();
    assert_eq!(target.inner.calls, ["kill 2", "start 2"]);
    assert_eq!(nemesis.skipped(), 0);
    let w = &nemesis.windows()[0];
    assert!(w.start <= w.end && !w.quorum_loss && w.fault.contains("kill -9 the leader"), "{w:?}");
}

#[test]
fn combined_faults_apply_in_order_heal_in_reverse_and_quorum_loss_is_marked() {
    let mut fake = Fake { leader: Some(1), ..Fake::default() };
    let combined = Fault::Combined(vec![
        Fault::Partition(vec![vec![1], vec![2, 3]]),
        Fault::Kill(Target::Node(2)),
        Fault::Pause(Target::Node(1)),
    ]);
    let quorum_loss = Fault::QuorumLoss(vec![vec![1], vec![2], vec![3]]);
    let mut nemesis = Nemesis::new(Schedule { seed: 0, steps: vec![step(combined), step(quorum_loss)] });
    nemesis.run_with(&mut fake, &mut |_| {}, &mut || false).unwrap();
    assert_eq!(fake.calls, ["links 4", "kill 2", "pause 1", "resume 1", "start 2", "links 0", "links 6", "links 0"]);
    let marks: Vec<bool> = nemesis.windows().iter().map(|w| w.quorum_loss).collect();
    assert_eq!(marks, [false, true]);
}

#[test]
fn a_combined_fault_with_an_unresolvable_part_is_undone_and_skipped() {
    let mut fake = Fake::default();
    let combined = Fault::Combined(vec![Fault::Kill(Target::Node(3)), Fault::Pause(Target::Leader)]);
    let mut nemesis = Nemesis::new(Schedule { seed: 0, steps: vec![step(combined)] });
    nemesis.run_with(&mut fake, &mut |_| {}, &mut || false).unwrap();
    assert_eq!(fake.calls, ["kill 3", "start 3"]);
    assert_eq!(nemesis.skipped(), 1);
}

#[test]
fn isolate_leader_cuts_it_from_everyone_and_bridge_keeps_the_bridge_connected() {
    let mut fake = Fake { leader: Some(1), ..Fake::default() };
    run(Schedule { seed: 0, steps: vec![step(Fault::IsolateLeader)] }, &mut fake).0.unwrap();
    assert_eq!(fake.calls, ["links 4", "links 0"], "1<->2 and 1<->3 cut both ways");

    let mut fake = Fake::default();
    let bridge = Fault::Bridge { bridge: 2, left: vec![1], right: vec![3] };
    run(Schedule { seed: 0, steps: vec![step(bridge)] }, &mut fake).0.unwrap();
    assert_eq!(fake.calls, ["links 2", "links 0"], "only 1<->3 is cut");
}

#[test]
fn one_way_and_lossy_become_link_faults() {
    let mut fake = Fake { leader: Some(3), ..Fake::default() };
    let schedule = Schedule {
        seed: 0,
        steps: vec![
            step(Fault::OneWay { from: Target::Leader, to: Target::Node(1) }),
            step(Fault::OneWay { from: Target::Node(3), to: Target::Leader }),
            step(Fault::Lossy(0.3)),
        ],
    };
    run(schedule, &mut fake).0.unwrap();
    assert_eq!(fake.calls, ["links 1", "links 0", "links 6", "links 0"], "self-loop one-way is skipped");
    assert!(fake.links.is_empty());
}

#[test]
fn a_failed_injection_heals_the_network_and_reports_the_error() {
    let mut fake = Fake { leader: Some(1), fail_kill: true, ..Fake::default() };
    let schedule = Schedule { seed: 0, steps: vec![step(Fault::Kill(Target::Node(1)))] };
    let (result, _) = run(schedule, &mut fake);
    assert!(result.is_err());
    assert_eq!(fake.calls, ["links 0"]);
}

#[test]
fn stop_ends_the_run_between_steps() {
    let mut fake = Fake { leader: Some(1), ..Fake::default() };
    let cfg = ScheduleConfig::new(vec![1, 2, 3], 10, FaultKind::PROCESS);
    let mut nemesis = Nemesis::new(Schedule::random(42, &cfg));
    let mut steps_run = 0;
    nemesis
        .run_with(&mut fake, &mut |_| {}, &mut || {
            steps_run += 1;
            steps_run > 3
        })
        .unwrap();
    assert!(nemesis.events().last().unwrap().what.contains("stopped before step 3"));
    assert!(fake.killed.is_empty() && fake.paused.is_empty());
}

#[test]
fn random_schedules_leave_the_fake_cluster_whole() {
    let seed = raft_tests::rng::seed_from_env_or("NEMESIS_SEED", 20_261_204);
    let mut fake = Fake { leader: Some(2), ..Fake::default() };
    let schedule = Schedule::random(seed, &ScheduleConfig::new(vec![1, 2, 3], 50, FaultKind::ALL));
    let (result, waits) = run(schedule, &mut fake);
    result.unwrap();
    assert_eq!(waits.len(), 100);
    assert!(fake.killed.is_empty() && fake.paused.is_empty() && fake.links.is_empty(), "seed {seed}");
}
