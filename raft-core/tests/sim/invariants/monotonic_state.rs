//! Terms and commit indices never go back on a node (§5.1: "current terms
//! ... increase monotonically"; Figure 2: `commitIndex` "increases
//! monotonically"). Checked on the live node after every step, on every
//! persisted hard state, and across restarts: a restarted node starts from
//! at least the term and commit it had persisted.

use std::collections::BTreeMap;

use raft_core::{HardState, LogIndex, MemStorage, NodeId, Term};

use super::{Check, Inv, NodeView, Violation};

const KIND: Inv = Inv::MonotonicState;

/// The highest term and commit each node has shown while alive.
#[derive(Default)]
pub struct MonotonicState {
    live: BTreeMap<NodeId, (Term, LogIndex)>,
}

fn fail(detail: String) -> Check {
    Err(Violation::new(KIND, detail))
}

impl MonotonicState {
    /// The stored hard state may only move forward.
    pub fn on_persisted(&mut self, id: NodeId, before: HardState, storage: &MemStorage) -> Check {
        let after = storage.rl().hard_state();
        if after.term < before.term {
            return fail(format!("{id} persisted term {} after {}", after.term, before.term));
        }
        if after.commit < before.commit {
            return fail(format!("{id} persisted commit {} after {}", after.commit, before.commit));
        }
        Ok(())
    }

    /// A restarted node must not start behind what it persisted.
    pub fn on_restart(&mut self, id: NodeId, term: Term, commit: LogIndex, storage: &MemStorage) -> Check {
        let hs = storage.rl().hard_state();
        if term < hs.term || commit < hs.commit {
            return fail(format!(
                "{id} restarted at term {term} commit {commit}, below its persisted term {} commit {}",
                hs.term, hs.commit
            ));
        }
        self.live.insert(id, (term, commit));
        Ok(())
    }

    /// A live node's term and commit never decrease.
    pub fn after_step(&mut self, views: &[NodeView<'_>]) -> Check {
        for v in views {
            if let Some(&(term, commit)) = self.live.get(&v.id) {
                if v.term < term {
                    return fail(format!("{} went from term {term} back to {}", v.id, v.term));
                }
                if v.commit < commit {
                    return fail(format!("{} went from commit {commit} back to {}", v.id, v.commit));
                }
            }
            self.live.insert(v.id, (v.term, v.commit));
        }
        Ok(())
    }
}
