//! The safety properties of Raft (Figure 3 of the paper), each in its own
//! file, checked by the simulator after every step. A checker never trusts
//! the node's own bookkeeping: it looks at what was persisted to storage,
//! what was applied to the state machine, and what role/term each node
//! reports.
//!
//! Every check returns a [`Violation`] naming the property and the paper
//! section; the cluster turns it into a panic that prints the seed and the
//! command that replays the run.

mod election_safety;
mod leader_append_only;
mod leader_completeness;
mod log_matching;
mod monotonic_state;
mod state_machine_safety;

use std::fmt;

use raft_core::{Entry, HardState, LogIndex, MemStorage, NodeId, Ready, Role, Term};

pub use election_safety::ElectionSafety;
pub use leader_append_only::LeaderAppendOnly;
pub use leader_completeness::LeaderCompleteness;
pub use log_matching::LogMatching;
pub use monotonic_state::MonotonicState;
pub use state_machine_safety::{AppliedRecord, StateMachineSafety};

/// A broken safety property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property, e.g. "Election Safety".
    pub invariant: &'static str,
    /// Where the paper states it, e.g. "§5.2".
    pub section: &'static str,
    /// What exactly was seen.
    pub detail: String,
}

impl Violation {
    /// Builds a violation.
    pub fn new(invariant: &'static str, section: &'static str, detail: String) -> Self {
        Violation { invariant, section, detail }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) violated: {}", self.invariant, self.section, self.detail)
    }
}

/// The outcome of one check.
pub type Check = Result<(), Violation>;

/// A live node as the checkers see it after a step.
pub struct NodeView<'a> {
    /// The node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// Its commit index.
    pub commit: LogIndex,
    /// Its durable storage.
    pub storage: &'a MemStorage,
}

/// All checkers together; the cluster feeds it every observable event.
#[derive(Default)]
pub struct Invariants {
    election: ElectionSafety,
    append_only: LeaderAppendOnly,
    matching: LogMatching,
    completeness: LeaderCompleteness,
    sm_safety: StateMachineSafety,
    monotonic: MonotonicState,
}

impl Invariants {
    /// A node produced `ready` while in `role`/`term`; storage is still as
    /// before the write.
    pub fn on_ready(&mut self, id: NodeId, role: Role, term: Term, ready: &Ready, storage: &MemStorage) -> Check {
        self.append_only.on_ready(id, role, term, ready, storage)
    }

    /// The runtime finished writing `ready` (hard state `before` was the
    /// stored one prior to the write).
    pub fn on_persisted(&mut self, id: NodeId, before: HardState, ready: &Ready, storage: &MemStorage) -> Check {
        self.matching.on_persisted(id, ready, storage)?;
        self.monotonic.on_persisted(id, before, storage)?;
        self.election.on_persisted(id, before, storage)
    }

    /// A node whose current term is `node_term` applied `entry`, reaching
    /// state-machine `digest`.
    pub fn on_apply(&mut self, id: NodeId, node_term: Term, entry: &Entry, digest: u64) -> Check {
        self.completeness.on_committed(entry.index, entry.term, node_term);
        self.sm_safety.on_apply(id, entry, digest)
    }

    /// A node whose current term is `node_term` restored its state machine
    /// from a snapshot at `index`.
    pub fn on_restore(&mut self, id: NodeId, node_term: Term, index: LogIndex, term: Term, digest: u64) -> Check {
        if index.0 > 0 {
            self.completeness.on_committed(index, term, node_term);
        }
        self.sm_safety.on_restore(id, index, term, digest)
    }

    /// A node restarted from its storage and reports `term`/`commit`.
    pub fn on_restart(&mut self, id: NodeId, term: Term, commit: LogIndex, storage: &MemStorage) -> Check {
        self.sm_safety.on_restart(id);
        self.append_only.on_restart(id);
        self.monotonic.on_restart(id, term, commit, storage)
    }

    /// After every simulation step, with every live node.
    pub fn after_step(&mut self, views: &[NodeView<'_>]) -> Check {
        self.election.after_step(views)?;
        self.append_only.after_step(views)?;
        self.completeness.after_step(views)?;
        self.monotonic.after_step(views)
    }

    /// Everything any node applied, by index (the oracle for "committed").
    pub fn applied(&self) -> &std::collections::BTreeMap<LogIndex, AppliedRecord> {
        self.sm_safety.applied()
    }

    /// Every (term, leader) pair seen so far.
    pub fn leaders_by_term(&self) -> &std::collections::BTreeMap<Term, NodeId> {
        self.election.leaders()
    }
}
