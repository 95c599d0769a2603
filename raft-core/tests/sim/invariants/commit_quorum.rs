//! Commit Quorum (§5.3, thesis §4.1, §4.3): an entry is committed only
//! once a majority of the voters has it durably, where "the voters" are
//! those of the configuration in force for that entry; under a joint
//! configuration C_old,new, a majority of the incoming voters *and* a
//! majority of the outgoing ones.
//!
//! Checked when an entry is applied for the first time anywhere (the
//! earliest moment the harness can see that it is committed): the entry
//! must be in the durable storage (log or snapshot) of a majority of the
//! voters of some configuration the committing leader may have used. A
//! configuration takes effect when appended (thesis §4.1), so when index
//! `i` first commits the leader's configuration is the latest membership
//! entry in its log: either the one at position `i` (the latest membership
//! entry at or below `i`, which is the applier's state-machine membership
//! after applying `i`) or one at an index above `i`. Every membership
//! entry any node appends passes through a Ready, where it is recorded (the
//! leader appends C_new by itself, so proposals alone would miss it).
//! Nothing else is accepted.
//! Storage survives crashes, so crashed voters count with what they wrote.

use std::collections::{BTreeMap, BTreeSet};

use raft_core::{Entry, EntryPayload, LogIndex, MemStorage, Membership, NodeId, Storage, Term};

use super::{Check, Inv, Violation};

const KIND: Inv = Inv::CommitQuorum;

/// Durable storage of every node and every proposed configuration.
#[derive(Default)]
pub struct CommitQuorum {
    storages: BTreeMap<NodeId, MemStorage>,
    /// index -> membership proposed there (any term).
    proposed: BTreeMap<LogIndex, Vec<Membership>>,
}

/// True if `storage` durably holds entry `(index, term)`.
fn holds(storage: &MemStorage, index: LogIndex, term: Term) -> bool {
    let snap = storage.snapshot().expect("MemStorage reads cannot fail").meta.last_log_id;
    // A snapshot covering the index holds the committed prefix (State
    // Machine Safety checks that the snapshot is the agreed state).
    index <= snap.index || storage.term(index).ok() == Some(term)
}

impl CommitQuorum {
    /// `id`'s durable storage (a shared handle: later writes are seen).
    pub fn register(&mut self, id: NodeId, storage: &MemStorage) {
        self.storages.insert(id, storage.clone());
    }

    /// A leader accepted a membership change at `index`.
    pub fn on_proposed(&mut self, index: LogIndex, m: &Membership) {
        self.proposed.entry(index).or_default().push(m.clone());
    }

    /// A Ready of some node carries `entries`: record their configurations.
    pub fn on_appended(&mut self, entries: &[Entry]) {
        for e in entries {
            if let EntryPayload::Membership(m) = &e.payload {
                let at = self.proposed.entry(e.index).or_default();
                if !at.contains(m) {
                    at.push(m.clone());
                }
            }
        }
    }

    fn holders(&self, voters: &BTreeSet<NodeId>, index: LogIndex, term: Term) -> Vec<NodeId> {
        voters.iter().copied().filter(|v| self.storages.get(v).is_some_and(|s| holds(s, index, term))).collect()
    }

    /// Does a majority of `m` (of both halves while joint) hold the entry?
    fn quorum_holds(&self, m: &Membership, index: LogIndex, term: Term) -> Result<(), String> {
        let h = self.holders(&m.voters, index, term);
        let o = self.holders(&m.outgoing, index, term);
        let joint_ok = !m.is_joint() || o.len() > m.outgoing.len() / 2;
        if h.len() >= m.quorum() && joint_ok {
            return Ok(());
        }
        Err(format!("voters {:?} of which {:?} hold it, outgoing {:?} of which {:?}", m.voters, h, m.outgoing, o))
    }

    /// Entry `(index, term)` was applied for the first time, by a node whose
    /// membership after applying it is `at`.
    pub fn on_first_apply(&self, index: LogIndex, term: Term, at: &Membership) -> Check {
        let later = self.proposed.range(index.next()..).flat_map(|(_, ms)| ms.iter());
        let mut tried = Vec::new();
        for m in std::iter::once(at).chain(later) {
            match self.quorum_holds(m, index, term) {
                Ok(()) => return Ok(()),
                Err(why) => tried.push(why),
            }
        }
        Err(Violation::new(
            KIND,
            format!("entry {}-{} applied but no majority holds it durably: {}", term.0, index.0, tried.join("; ")),
        ))
    }
}
