//! Applying a schedule to a cluster through [`FaultTarget`].

use std::time::{Duration, Instant};

use super::{Fault, Schedule, Target};
use crate::cluster::ProcessCluster;
use crate::error::{HarnessError, NodeId};
use crate::netns::LinkFault;

/// What the nemesis needs from a cluster. [`ClusterTarget`] implements it for a
/// [`ProcessCluster`]; tests implement it with a fake.
pub trait FaultTarget {
    /// The cluster's node ids.
    fn node_ids(&self) -> Vec<NodeId>;
    /// The current leader, if one is known.
    fn leader(&mut self) -> Option<NodeId>;
    /// kill -9 of `id`.
    fn kill(&mut self, id: NodeId) -> Result<(), HarnessError>;
    /// Start a killed node again.
    fn start(&mut self, id: NodeId) -> Result<(), HarnessError>;
    /// SIGSTOP of `id`.
    fn pause(&mut self, id: NodeId) -> Result<(), HarnessError>;
    /// SIGCONT of `id`.
    fn resume(&mut self, id: NodeId) -> Result<(), HarnessError>;
    /// Replace the link faults in force (`[]` heals the network).
    fn set_link_faults(&mut self, faults: Vec<LinkFault>) -> Result<(), HarnessError>;
}

/// What was actually done for a fault, so that it can be undone.
#[derive(Clone, Debug, PartialEq)]
enum Applied {
    Nothing,
    Killed(NodeId),
    Paused(NodeId),
    Links,
    /// A combined fault: undone in reverse order.
    Many(Vec<Applied>),
}

/// How often a fault aimed at "the leader" asks for one before it is skipped
/// (a skipped fault fails a Jepsen run: the nemesis must really have broken
/// something), and how long it waits between asks.
pub const LEADER_ATTEMPTS: usize = 10;
/// See [`LEADER_ATTEMPTS`].
pub const LEADER_RETRY: Duration = Duration::from_millis(500);

/// When one applied fault was in force: from the moment injecting it returned
/// to the moment healing it began. Operations invoked inside a window ran
/// entirely under the fault only if they also completed before `end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    /// Step index in the schedule.
    pub step: usize,
    /// The fault, as printed.
    pub fault: String,
    /// Injection finished.
    pub start: Instant,
    /// Healing started.
    pub end: Instant,
    /// No majority could talk while it was in force ([`Fault::QuorumLoss`]):
    /// no write invoked inside the window may be acknowledged inside it.
    pub quorum_loss: bool,
}

/// One line of the nemesis log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NemesisEvent {
    /// Time since the nemesis started.
    pub at: Duration,
    /// What happened.
    pub what: String,
}

impl std::fmt::Display for NemesisEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{:>8.3}s] {}", self.at.as_secs_f64(), self.what)
    }
}

/// Runs a [`Schedule`], logging every action.
#[derive(Debug)]
pub struct Nemesis {
    schedule: Schedule,
    origin: Instant,
    events: Vec<NemesisEvent>,
    windows: Vec<FaultWindow>,
    skipped: usize,
}

impl Nemesis {
    /// A nemesis for `schedule` (printed to stderr so a failure can be replayed).
    pub fn new(schedule: Schedule) -> Self {
        eprint!("{schedule}");
        Nemesis { schedule, origin: Instant::now(), events: Vec::new(), windows: Vec::new(), skipped: 0 }
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Everything done so far.
    pub fn events(&self) -> &[NemesisEvent] {
        &self.events
    }

    /// One window per fault that was really applied, in order.
    pub fn windows(&self) -> &[FaultWindow] {
        &self.windows
    }

    /// Steps whose fault could not be applied (no leader found, or a one-way
    /// fault whose ends resolved to the same node).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    fn log(&mut self, what: String) {
        self.events.push(NemesisEvent { at: self.origin.elapsed(), what });
    }

    /// Runs every step with real sleeps between them.
    pub fn run(&mut self, target: &mut impl FaultTarget) -> Result<(), HarnessError> {
        self.run_with(target, &mut |d| std::thread::sleep(d), &mut || false)
    }

    /// Runs the steps, waiting with `wait` and stopping early once `stop()` is
    /// true (checked between steps). The network is healed and every node
    /// resumed/started before returning, even on error.
    pub fn run_with(
        &mut self,
        target: &mut impl FaultTarget,
        wait: &mut dyn FnMut(Duration),
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<(), HarnessError> {
        let steps = self.schedule.steps.clone();
        for (i, step) in steps.iter().enumerate() {
            if stop() {
                self.log(format!("stopped before step {i}"));
                break;
            }
            let applied = match self.inject(target, &step.fault, wait) {
                Ok(applied) => applied,
                Err(e) => {
                    self.log(format!("step {i}: injecting `{}` failed: {e}", step.fault));
                    let _ = target.set_link_faults(Vec::new());
                    return Err(e);
                }
            };
            let start = Instant::now();
            if applied.is_nothing() {
                self.skipped += 1;
            }
            wait(step.hold);
            if !applied.is_nothing() {
                let quorum_loss = matches!(step.fault, Fault::QuorumLoss(_));
                let fault = step.fault.to_string();
                self.windows.push(FaultWindow { step: i, fault, start, end: Instant::now(), quorum_loss });
            }
            self.heal(target, applied)?;
            wait(step.recover);
        }
        Ok(())
    }

    /// The node `t` names; "the leader" is asked up to [`LEADER_ATTEMPTS`]
    /// times (an election may be under way after the previous fault).
    fn resolve(&mut self, target: &mut impl FaultTarget, t: Target, wait: &mut dyn FnMut(Duration)) -> Option<NodeId> {
        match t {
            Target::Node(id) => Some(id),
            Target::Leader => {
                for attempt in 1..=LEADER_ATTEMPTS {
                    if let Some(leader) = target.leader() {
                        return Some(leader);
                    }
                    if attempt < LEADER_ATTEMPTS {
                        wait(LEADER_RETRY);
                    }
                }
                self.log(format!("no leader known after {LEADER_ATTEMPTS} attempts; fault skipped"));
                None
            }
        }
    }

    fn inject(
        &mut self,
        target: &mut impl FaultTarget,
        fault: &Fault,
        wait: &mut dyn FnMut(Duration),
    ) -> Result<Applied, HarnessError> {
        let links = match fault {
            Fault::Combined(parts) => {
                let mut done = Vec::new();
                for part in parts {
                    match self.inject(target, part, wait) {
                        Ok(Applied::Nothing) => {
                            // All or nothing: a half-applied combination is not the fault scheduled.
                            self.heal(target, Applied::Many(done))?;
                            return Ok(Applied::Nothing);
                        }
                        Ok(applied) => done.push(applied),
                        Err(e) => {
                            let _ = self.heal(target, Applied::Many(done));
                            return Err(e);
                        }
                    }
                }
                return Ok(Applied::Many(done));
            }
            Fault::Kill(t) => {
                let Some(id) = self.resolve(target, *t, wait) else { return Ok(Applied::Nothing) };
                self.log(format!("kill -9 node {id}"));
                target.kill(id)?;
                return Ok(Applied::Killed(id));
            }
            Fault::Pause(t) => {
                let Some(id) = self.resolve(target, *t, wait) else { return Ok(Applied::Nothing) };
                self.log(format!("pause node {id}"));
                target.pause(id)?;
                return Ok(Applied::Paused(id));
            }
            Fault::Partition(groups) | Fault::QuorumLoss(groups) => LinkFault::partition(groups),
            Fault::IsolateLeader => {
                let Some(leader) = self.resolve(target, Target::Leader, wait) else { return Ok(Applied::Nothing) };
                let rest = target.node_ids().into_iter().filter(|&n| n != leader).collect();
                LinkFault::partition(&[vec![leader], rest])
            }
            Fault::Bridge { left, right, .. } => LinkFault::partition(&[left.clone(), right.clone()]),
            Fault::OneWay { from, to } => {
                let from = self.resolve(target, *from, wait);
                let to = self.resolve(target, *to, wait);
                let (Some(from), Some(to)) = (from, to) else { return Ok(Applied::Nothing) };
                if from == to {
                    self.log(format!("one-way fault from node {from} to itself; skipped"));
                    return Ok(Applied::Nothing);
                }
                vec![LinkFault::no_requests(from, to)]
            }
            Fault::Lossy(p) => {
                let ids = target.node_ids();
                ids.iter()
                    .flat_map(|&a| ids.iter().filter(move |&&b| b != a).map(move |&b| LinkFault::lossy(a, b, *p)))
                    .collect()
            }
        };
        self.log(format!("{fault}: {} link rules", links.len()));
        target.set_link_faults(links)?;
        Ok(Applied::Links)
    }

    fn heal(&mut self, target: &mut impl FaultTarget, applied: Applied) -> Result<(), HarnessError> {
        match applied {
            Applied::Nothing => Ok(()),
            Applied::Killed(id) => {
                self.log(format!("start node {id}"));
                target.start(id)
            }
            Applied::Paused(id) => {
                self.log(format!("resume node {id}"));
                target.resume(id)
            }
            Applied::Links => {
                self.log("heal network".into());
                target.set_link_faults(Vec::new())
            }
            Applied::Many(parts) => parts.into_iter().rev().try_for_each(|a| self.heal(target, a)),
        }
    }
}

impl Applied {
    fn is_nothing(&self) -> bool {
        matches!(self, Applied::Nothing)
    }
}

/// A [`ProcessCluster`] plus a way to find its leader (usually a client call).
pub struct ClusterTarget<'a, F: FnMut() -> Option<NodeId>> {
    /// The cluster faults are applied to.
    pub cluster: &'a mut ProcessCluster,
    /// Finds the current leader.
    pub find_leader: F,
}

impl<'a, F: FnMut() -> Option<NodeId>> ClusterTarget<'a, F> {
    /// Wraps `cluster`, asking `find_leader` when a fault targets the leader.
    pub fn new(cluster: &'a mut ProcessCluster, find_leader: F) -> Self {
        ClusterTarget { cluster, find_leader }
    }
}

impl<F: FnMut() -> Option<NodeId>> FaultTarget for ClusterTarget<'_, F> {
    fn node_ids(&self) -> Vec<NodeId> {
        self.cluster.node_ids()
    }
    fn leader(&mut self) -> Option<NodeId> {
        (self.find_leader)()
    }
    fn kill(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.cluster.kill(id)
    }
    fn start(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.cluster.start_node(id)
    }
    fn pause(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.cluster.pause(id)
    }
    fn resume(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.cluster.resume(id)
    }
    fn set_link_faults(&mut self, faults: Vec<LinkFault>) -> Result<(), HarnessError> {
        Ok(self.cluster.netns_mut()?.set_faults(faults)?)
    }
}
