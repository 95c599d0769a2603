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
}

impl Nemesis {
    /// A nemesis for `schedule` (printed to stderr so a failure can be replayed).
    pub fn new(schedule: Schedule) -> Self {
        eprint!("{schedule}");
        Nemesis { schedule, origin: Instant::now(), events: Vec::new() }
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Everything done so far.
    pub fn events(&self) -> &[NemesisEvent] {
        &self.events
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
            let applied = match self.inject(target, &step.fault) {
                Ok(applied) => applied,
                Err(e) => {
                    self.log(format!("step {i}: injecting `{}` failed: {e}", step.fault));
                    let _ = target.set_link_faults(Vec::new());
                    return Err(e);
                }
            };
            wait(step.hold);
            self.heal(target, applied)?;
            wait(step.recover);
        }
        Ok(())
    }

    fn resolve(&mut self, target: &mut impl FaultTarget, t: Target) -> Option<NodeId> {
        match t {
            Target::Node(id) => Some(id),
            Target::Leader => {
                let leader = target.leader();
                if leader.is_none() {
                    self.log("no leader known; fault skipped".into());
                }
                leader
            }
        }
    }

    fn inject(&mut self, target: &mut impl FaultTarget, fault: &Fault) -> Result<Applied, HarnessError> {
        let links = match fault {
            Fault::Kill(t) => {
                let Some(id) = self.resolve(target, *t) else { return Ok(Applied::Nothing) };
                self.log(format!("kill -9 node {id}"));
                target.kill(id)?;
                return Ok(Applied::Killed(id));
            }
            Fault::Pause(t) => {
                let Some(id) = self.resolve(target, *t) else { return Ok(Applied::Nothing) };
                self.log(format!("pause node {id}"));
                target.pause(id)?;
                return Ok(Applied::Paused(id));
            }
            Fault::Partition(groups) => LinkFault::partition(groups),
            Fault::IsolateLeader => {
                let Some(leader) = self.resolve(target, Target::Leader) else { return Ok(Applied::Nothing) };
                let rest = target.node_ids().into_iter().filter(|&n| n != leader).collect();
                LinkFault::partition(&[vec![leader], rest])
            }
            Fault::Bridge { left, right, .. } => LinkFault::partition(&[left.clone(), right.clone()]),
            Fault::OneWay { from, to } => {
                let (Some(from), Some(to)) = (self.resolve(target, *from), self.resolve(target, *to)) else {
                    return Ok(Applied::Nothing);
                };
                if from == to {
                    self.log(format!("one-way fault from node {from} to itself; skipped"));
                    return Ok(Applied::Nothing);
                }
                vec![LinkFault::cut(from, to)]
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
        }
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
