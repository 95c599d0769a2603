//! The safety properties of Raft (Figure 3 of the paper), each in its own
//! file, checked by the simulator after every step. A checker never trusts
//! the node's own bookkeeping: it looks at what was persisted to storage,
//! what was applied to the state machine, and what role/term each node
//! reports.
//!
//! Every check returns a [`Violation`] naming the property and the paper
//! section; the cluster turns it into a panic that prints the seed and the
//! command that replays the run.

mod commit_quorum;
mod durability;
mod election_safety;
mod leader_append_only;
mod leader_completeness;
mod log_matching;
mod monotonic_state;
mod state_machine_safety;

use std::fmt;

use raft_core::{Entry, HardState, LogIndex, MemStorage, Membership, NodeId, Ready, Role, Term};

pub use commit_quorum::CommitQuorum;
pub use election_safety::ElectionSafety;
pub use leader_append_only::LeaderAppendOnly;
pub use leader_completeness::LeaderCompleteness;
pub use log_matching::LogMatching;
pub use monotonic_state::MonotonicState;
pub use state_machine_safety::{AppliedRecord, StateMachineSafety};

/// Which property a [`Violation`] broke. Tests match on this rather than
/// on message text, so a checker that fires for the wrong reason fails them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Inv {
    /// At most one leader per term; one vote per term (§5.2).
    ElectionSafety,
    /// A leader never overwrites or deletes its entries (§5.3).
    LeaderAppendOnly,
    /// Same (index, term) means same prefix (§5.3).
    LogMatching,
    /// Committed entries are in every later leader's log (§5.4).
    LeaderCompleteness,
    /// No two different entries applied at one index (§5.4.3).
    StateMachineSafety,
    /// Terms and commit indices never go back (§5.1, Figure 2).
    MonotonicState,
    /// A committed entry is durable on a quorum of the configuration in
    /// force at its position (§5.3, thesis §4.1).
    CommitQuorum,
    /// What `persisted_messages` acknowledge is durable (thesis §3.8).
    Durability,
    /// The node broke the Ready/advance contract (ready.rs).
    ReadyContract,
    /// A read did not see a write committed before it started (§6.4).
    ReadIndex,
    /// A healed cluster did not make progress in time.
    Liveness,
    /// A harness-level expectation (scripted scenarios, message storms).
    Harness,
}

impl Inv {
    /// The property's name as the paper states it.
    pub fn name(self) -> &'static str {
        match self {
            Inv::ElectionSafety => "Election Safety",
            Inv::LeaderAppendOnly => "Leader Append-Only",
            Inv::LogMatching => "Log Matching",
            Inv::LeaderCompleteness => "Leader Completeness",
            Inv::StateMachineSafety => "State Machine Safety",
            Inv::MonotonicState => "Monotonic term and commit",
            Inv::CommitQuorum => "Commit Quorum",
            Inv::Durability => "Durability of acknowledged writes",
            Inv::ReadyContract => "Ready contract",
            Inv::ReadIndex => "ReadIndex",
            Inv::Liveness => "Liveness",
            Inv::Harness => "Harness expectation",
        }
    }

    /// Where the paper (or the crate) states it.
    pub fn section(self) -> &'static str {
        match self {
            Inv::ElectionSafety => "§5.2",
            Inv::LeaderAppendOnly | Inv::LogMatching => "§5.3",
            Inv::LeaderCompleteness => "§5.4",
            Inv::StateMachineSafety => "§5.4.3",
            Inv::MonotonicState => "§5.1, Figure 2",
            Inv::CommitQuorum => "§5.3, thesis §4.1",
            Inv::Durability => "thesis §3.8",
            Inv::ReadyContract => "ready.rs",
            Inv::ReadIndex => "thesis §6.4",
            Inv::Liveness => "§5.6",
            Inv::Harness => "tests/sim",
        }
    }
}

/// A broken safety property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property.
    pub kind: Inv,
    /// What exactly was seen.
    pub detail: String,
}

impl Violation {
    /// Builds a violation.
    pub fn new(kind: Inv, detail: String) -> Self {
        Violation { kind, detail }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) violated: {}", self.kind.name(), self.kind.section(), self.detail)
    }
}

thread_local! {
    /// The violation behind the last simulation failure on this thread, so
    /// a test that catches the panic can ask which property fired.
    static LAST_FAILURE: std::cell::RefCell<Option<Violation>> = const { std::cell::RefCell::new(None) };
}

/// Records `v` as the reason of the failure about to be raised.
pub fn record_failure(v: &Violation) {
    LAST_FAILURE.with(|l| *l.borrow_mut() = Some(v.clone()));
}

/// Takes the violation recorded by the last failure on this thread.
pub fn take_failure() -> Option<Violation> {
    LAST_FAILURE.with(|l| l.borrow_mut().take())
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
    quorum: CommitQuorum,
    /// Membership entries applied for the first time (committed changes).
    pub membership_commits: u64,
    /// Joint configurations (C_old,new, thesis §4.3) applied for the first time.
    pub joint_commits: u64,
}

impl Invariants {
    /// A node produced `ready` while in `role`/`term`; storage is still as
    /// before the write.
    pub fn on_ready(&mut self, id: NodeId, role: Role, term: Term, ready: &Ready, storage: &MemStorage) -> Check {
        self.quorum.on_appended(&ready.entries);
        self.append_only.on_ready(id, role, term, ready, storage)
    }

    /// The runtime finished writing `ready` (hard state `before` was the
    /// stored one prior to the write).
    pub fn on_persisted(&mut self, id: NodeId, before: HardState, ready: &Ready, storage: &MemStorage) -> Check {
        self.matching.on_persisted(id, ready, storage)?;
        self.monotonic.on_persisted(id, before, storage)?;
        self.election.on_persisted(id, before, storage)
    }

    /// `id`'s durable storage, for checks that count copies across nodes.
    pub fn register(&mut self, id: NodeId, storage: &MemStorage) {
        self.quorum.register(id, storage);
    }

    /// A leader accepted a membership change at `index`.
    pub fn on_membership_proposed(&mut self, index: LogIndex, m: &Membership) {
        self.quorum.on_proposed(index, m);
    }

    /// `id` is about to send `ready.persisted_messages`: what they promise
    /// must be in `storage`.
    pub fn on_acknowledged(&mut self, id: NodeId, ready: &Ready, storage: &MemStorage) -> Check {
        durability::on_acknowledged(id, ready, storage)
    }

    /// A node whose current term is `node_term` applied `entry`, reaching
    /// state-machine `digest` and membership `config` (the configuration in
    /// force at the entry's position).
    pub fn on_apply(&mut self, id: NodeId, node_term: Term, entry: &Entry, digest: u64, config: &Membership) -> Check {
        if !self.sm_safety.applied().contains_key(&entry.index) {
            self.quorum.on_first_apply(entry.index, entry.term, config)?;
            self.membership_commits += u64::from(matches!(entry.payload, raft_core::EntryPayload::Membership(_)));
            self.joint_commits +=
                u64::from(matches!(&entry.payload, raft_core::EntryPayload::Membership(m) if m.is_joint()));
        }
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
