//! The nemesis: faults as data, a seeded schedule of them, and an executor
//! that applies them to anything implementing [`FaultTarget`].
//!
//! Faults are data (not closures) so a schedule can be printed with its seed,
//! saved next to the history, replayed, and unit-tested against a fake cluster.
//! "The leader" is resolved when a fault fires, since nobody knows it earlier.

mod executor;
mod schedule;

use serde::{Deserialize, Serialize};

pub use executor::{ClusterTarget, FaultTarget, FaultWindow, Nemesis, NemesisEvent, LEADER_ATTEMPTS, LEADER_RETRY};
pub use schedule::{FaultKind, Schedule, ScheduleConfig, Step};

use crate::error::NodeId;

/// Which node a process fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// This node.
    Node(NodeId),
    /// Whichever node leads when the fault fires (skipped if none is known).
    Leader,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Node(id) => write!(f, "node {id}"),
            Target::Leader => write!(f, "the leader"),
        }
    }
}

/// One fault; healing undoes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Fault {
    /// kill -9; healing starts the node again on its data folder.
    Kill(Target),
    /// SIGSTOP; healing sends SIGCONT.
    Pause(Target),
    /// The groups cannot talk to each other (e.g. a majority and a minority).
    Partition(Vec<Vec<NodeId>>),
    /// The leader is cut off from every other node.
    IsolateLeader,
    /// `left` and `right` cannot talk; `bridge` still talks to both (each side
    /// then sees a majority through the bridge).
    Bridge {
        /// Connected to both sides.
        bridge: NodeId,
        /// One side.
        left: Vec<NodeId>,
        /// The other side.
        right: Vec<NodeId>,
    },
    /// One-way for gRPC over TCP: `from` can no longer send requests to `to`
    /// (new connections from `from` to `to`'s port fail, and requests on
    /// connections `from` already opened are dropped), while `to`'s requests to
    /// `from` — and `from`'s replies to them — still flow. See
    /// [`crate::netns::LinkFault::no_requests`].
    OneWay {
        /// The node whose requests are dropped.
        from: Target,
        /// The node that no longer hears them.
        to: Target,
    },
    /// Every link drops packets with this probability.
    Lossy(f64),
    /// The nodes split into groups none of which is a majority: no write may
    /// be acknowledged until it heals.
    QuorumLoss(Vec<Vec<NodeId>>),
    /// Several faults at once (at most one of them a network fault), applied
    /// in order and healed in reverse.
    Combined(Vec<Fault>),
}

impl Fault {
    /// Whether the fault needs network namespaces.
    pub fn is_network(&self) -> bool {
        match self {
            Fault::Kill(_) | Fault::Pause(_) => false,
            Fault::Combined(parts) => parts.iter().any(Fault::is_network),
            _ => true,
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Kill(t) => write!(f, "kill -9 {t}, restart on heal"),
            Fault::Pause(t) => write!(f, "pause {t} (SIGSTOP), resume on heal"),
            Fault::Partition(groups) => write!(f, "partition {groups:?}"),
            Fault::IsolateLeader => write!(f, "isolate the leader"),
            Fault::Bridge { bridge, left, right } => {
                write!(f, "bridge: {left:?} | {right:?} joined only via node {bridge}")
            }
            Fault::OneWay { from, to } => write!(f, "one-way: {from} cannot send requests to {to}"),
            Fault::Lossy(p) => write!(f, "every link drops {:.0}% of packets", p * 100.0),
            Fault::QuorumLoss(groups) => write!(f, "quorum loss: partition {groups:?}"),
            Fault::Combined(parts) => {
                let parts: Vec<String> = parts.iter().map(Fault::to_string).collect();
                write!(f, "at once: {}", parts.join(" + "))
            }
        }
    }
}
