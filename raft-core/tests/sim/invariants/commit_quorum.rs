//! Commit Quorum (§5.3, thesis §4.1): an entry is committed only once a
//! majority of the voters has it durably, where "the voters" are those of
//! the configuration in force for that entry.
//!
//! Checked when an entry is applied for the first time anywhere (the
//! earliest moment the harness can see that it is committed): the entry
//! must be in the durable storage (log or snapshot) of a majority of the
//! voters of some configuration the committing leader may have used. With
//! single-server changes (thesis §4.1) a configuration takes effect when
//! appended, and a new one is proposed only after the previous one
//! committed, so when index `i` first commits the leader's configuration is
//! either the one at position `i` (the latest membership entry at or below
//! `i`, which is the applier's state-machine membership after applying `i`)
//! or one proposed at an index above `i`. Nothing else is accepted.
//! Storage survives crashes, so crashed voters count with what they wrote.

use std::collections::BTreeMap;

use raft_core::{LogIndex, MemStorage, Membership, NodeId, Storage, Term};

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

    fn holders(&self, m: &Membership, index: LogIndex, term: Term) -> Vec<NodeId> {
        m.voters.iter().copied().filter(|v| self.storages.get(v).is_some_and(|s| holds(s, index, term))).collect()
    }

    /// Entry `(index, term)` was applied for the first time, by a node whose
    /// membership after applying it is `at`.
    pub fn on_first_apply(&self, index: LogIndex, term: Term, at: &Membership) -> Check {
        let later = self.proposed.range(index.next()..).flat_map(|(_, ms)| ms.iter());
        let mut tried = Vec::new();
        for m in std::iter::once(at).chain(later) {
            let h = self.holders(m, index, term);
            if h.len() >= m.quorum() {
                return Ok(());
            }
            tried.push(format!("voters {:?} of which {:?} hold it", m.voters, h));
        }
        Err(Violation::new(
            KIND,
            format!("entry {}-{} applied but no majority holds it durably: {}", term.0, index.0, tried.join("; ")),
        ))
    }
}
