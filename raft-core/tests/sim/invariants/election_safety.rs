//! Election Safety (§5.2, Figure 3): at most one leader can be elected in a
//! given term. Also checks the rule it rests on: a node grants at most one
//! vote per term, and the vote it persisted never changes within the term
//! (Figure 2, `votedFor`).

use std::collections::BTreeMap;

use raft_core::{HardState, MemStorage, NodeId, Role, Term};

use super::{Check, Inv, NodeView, Violation};

const KIND: Inv = Inv::ElectionSafety;

/// Remembers the leader of every term ever observed.
#[derive(Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<Term, NodeId>,
}

impl ElectionSafety {
    /// Every term's leader seen so far.
    pub fn leaders(&self) -> &BTreeMap<Term, NodeId> {
        &self.leaders
    }

    /// Records the leaders among `views`, failing if a term gets a second one.
    pub fn after_step(&mut self, views: &[NodeView<'_>]) -> Check {
        for v in views.iter().filter(|v| v.role == Role::Leader) {
            let known = *self.leaders.entry(v.term).or_insert(v.id);
            if known != v.id {
                return Err(Violation::new(KIND, format!("{} and {} are both leader of {}", known, v.id, v.term)));
            }
        }
        Ok(())
    }

    /// A persisted vote may be set once per term and never changed.
    pub fn on_persisted(&mut self, id: NodeId, before: HardState, storage: &MemStorage) -> Check {
        let after = storage.rl().hard_state();
        if after.term == before.term && before.vote.is_some() && after.vote != before.vote {
            return Err(Violation::new(
                KIND,
                format!("{id} changed its persisted vote in {} from {:?} to {:?}", after.term, before.vote, after.vote),
            ));
        }
        Ok(())
    }
}
