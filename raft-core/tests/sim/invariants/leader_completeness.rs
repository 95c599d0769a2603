//! Leader Completeness (§5.4, Figure 3): if a log entry is committed in a
//! given term, that entry will be present in the logs of the leaders for all
//! higher-numbered terms.
//!
//! "Committed" is what some state machine applied (or a snapshot covered),
//! which is a subset of what is committed, so the check is sound. The term
//! an entry was committed *in* is not observable, but it is at most the
//! current term of any node that applied it (that node learned the commit
//! from a leader of a term no newer than its own); the smallest such term
//! is kept as the bound `c`. Every leader of a term `T > c` must hold the
//! entry. (A leader of an older term may legitimately lack an entry that a
//! newer leader committed later: found by seed 3300415.) Each leader is
//! checked incrementally: a full pass when first seen, then only entries
//! committed since.

use std::collections::BTreeMap;

use raft_core::{LogIndex, NodeId, Role, Storage, Term};

use super::{Check, NodeView, Violation};

const NAME: &str = "Leader Completeness";
const SECTION: &str = "§5.4";

/// Committed entries and, per leader, how far it has been checked.
#[derive(Default)]
pub struct LeaderCompleteness {
    /// index -> (entry term, upper bound of the term it was committed in).
    committed: BTreeMap<LogIndex, (Term, Term)>,
    /// node -> (term it leads, committed entries checked up to this index).
    checked: BTreeMap<NodeId, (Term, LogIndex)>,
}

impl LeaderCompleteness {
    /// Records that `(index, term)` is committed, as seen by a node whose
    /// current term is `seen_in`.
    pub fn on_committed(&mut self, index: LogIndex, term: Term, seen_in: Term) {
        let e = self.committed.entry(index).or_insert((term, seen_in));
        e.1 = e.1.min(seen_in);
    }

    /// Checks every current leader against the committed entries it has
    /// not been checked against yet.
    pub fn after_step(&mut self, views: &[NodeView<'_>]) -> Check {
        for v in views {
            if v.role != Role::Leader {
                self.checked.remove(&v.id);
                continue;
            }
            let from = match self.checked.get(&v.id) {
                Some((t, upto)) if *t == v.term => upto.next(),
                _ => LogIndex(0),
            };
            let snap = crate::harness::snapshot_index(v.storage);
            let mut upto = from.prev();
            for (&index, &(term, committed_by)) in self.committed.range(from..) {
                upto = index;
                if committed_by >= v.term || index <= snap {
                    continue;
                }
                let has = v.storage.term(index).ok();
                if has != Some(term) {
                    return Err(Violation::new(
                        NAME,
                        SECTION,
                        format!(
                            "leader {} of {} lacks committed entry {}-{} (its log has term {has:?} there)",
                            v.id, v.term, term.0, index.0
                        ),
                    ));
                }
            }
            self.checked.insert(v.id, (v.term, upto));
        }
        Ok(())
    }
}
