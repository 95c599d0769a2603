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
//! newer leader committed later: found by seed 3300415.)
//!
//! Incremental without blind spots: every change to the committed set (a
//! new index, or a lower bound for a known one) is appended to a change
//! log, and each leader is checked against the changes it has not seen.
//! So an entry skipped because its bound was not yet below the leader's term
//! is checked again once some node lowers the bound, and entries recorded
//! out of order (a node catching up by log below another node's snapshot
//! jump) are checked when they appear. Entries covered by the leader's own
//! snapshot are checked through the snapshot: its last entry must be the
//! committed one at that index (Log Matching then covers the prefix).

use std::collections::BTreeMap;

use raft_core::{LogIndex, NodeId, Role, Storage, Term};

use super::{Check, Inv, NodeView, Violation};

const KIND: Inv = Inv::LeaderCompleteness;

/// Committed entries, their change log, and per leader how far it has been
/// checked.
#[derive(Default)]
pub struct LeaderCompleteness {
    /// index -> (entry term, upper bound of the term it was committed in).
    committed: BTreeMap<LogIndex, (Term, Term)>,
    /// Indices in the order their record appeared or its bound dropped.
    changes: Vec<LogIndex>,
    /// node -> (term it leads, prefix of `changes` it was checked against).
    checked: BTreeMap<NodeId, (Term, usize)>,
}

impl LeaderCompleteness {
    /// Records that `(index, term)` is committed, as seen by a node whose
    /// current term is `seen_in`.
    pub fn on_committed(&mut self, index: LogIndex, term: Term, seen_in: Term) {
        match self.committed.get_mut(&index) {
            None => {
                self.committed.insert(index, (term, seen_in));
                self.changes.push(index);
            }
            Some(e) if seen_in < e.1 => {
                e.1 = seen_in;
                self.changes.push(index);
            }
            Some(_) => {}
        }
    }

    /// Checks every current leader against the changes it has not been
    /// checked against yet.
    pub fn after_step(&mut self, views: &[NodeView<'_>]) -> Check {
        for v in views {
            if v.role != Role::Leader {
                self.checked.remove(&v.id);
                continue;
            }
            let from = match self.checked.get(&v.id) {
                Some(&(t, upto)) if t == v.term => upto,
                _ => 0,
            };
            for k in from..self.changes.len() {
                self.check_one(v, self.changes[k])?;
            }
            self.checked.insert(v.id, (v.term, self.changes.len()));
        }
        Ok(())
    }

    fn check_one(&self, v: &NodeView<'_>, index: LogIndex) -> Check {
        let (term, committed_by) = self.committed[&index];
        if committed_by >= v.term {
            return Ok(()); // re-checked if the bound ever drops below v.term
        }
        let snap = v.storage.snapshot().expect("MemStorage reads cannot fail").meta.last_log_id;
        let (at, want, has) = if index <= snap.index {
            // Covered by the leader's snapshot: the snapshot's own entry, if
            // known committed, must be the committed one.
            match self.committed.get(&snap.index) {
                Some(&(t, _)) => (snap.index, t, Some(snap.term)),
                None => return Ok(()),
            }
        } else {
            (index, term, v.storage.term(index).ok())
        };
        if has != Some(want) {
            return Err(Violation::new(
                KIND,
                format!(
                    "leader {} of {} lacks committed entry {}-{} (its log has term {has:?} at {at}, committed term {want})",
                    v.id, v.term, term.0, index.0
                ),
            ));
        }
        Ok(())
    }
}
