//! Leader Append-Only (§5.3, Figure 3): a leader never overwrites or deletes
//! entries in its log; it only appends new entries.
//!
//! Checked two ways: a leader's `Ready` never truncates and only appends
//! entries of its own term right after its stored tail; and between steps,
//! the entry at the highest index a leader has stored keeps its term and the
//! leader's last index never shrinks while it leads the same term.

use std::collections::BTreeMap;

use raft_core::{LogId, MemStorage, NodeId, Ready, Role, Storage, Term};

use super::{Check, Inv, NodeView, Violation};

const KIND: Inv = Inv::LeaderAppendOnly;

/// Per node: the term it leads and the last stored entry seen while leading.
#[derive(Default)]
pub struct LeaderAppendOnly {
    tails: BTreeMap<NodeId, (Term, LogId)>,
}

fn fail(detail: String) -> Check {
    Err(Violation::new(KIND, detail))
}

fn stored_tail(storage: &MemStorage) -> LogId {
    let last = storage.last_index().expect("MemStorage reads cannot fail");
    LogId::new(storage.term(last).expect("last index has a term"), last)
}

impl LeaderAppendOnly {
    /// Checks the write a leader asks for.
    pub fn on_ready(&mut self, id: NodeId, role: Role, term: Term, ready: &Ready, storage: &MemStorage) -> Check {
        if role != Role::Leader {
            return Ok(());
        }
        if let Some(from) = ready.truncate_from {
            return fail(format!("leader {id} of {term} asked to truncate its log from {from}"));
        }
        if ready.snapshot.is_some() {
            return fail(format!("leader {id} of {term} asked to install a snapshot over its log"));
        }
        let Some(first) = ready.entries.first() else { return Ok(()) };
        let last = storage.last_index().expect("MemStorage reads cannot fail");
        if first.index != last.next() {
            return fail(format!(
                "leader {id} of {term} writes from {} but its stored log ends at {last}",
                first.index
            ));
        }
        // Entries it took as a follower may still be unwritten when it wins
        // (inputs batched before the Ready; a single-voter configuration
        // wins without a round trip), so older terms may lead the Ready;
        // after its first own entry, every entry is of its term.
        let own = ready.entries.iter().position(|e| e.term == term).unwrap_or(ready.entries.len());
        let bad = ready.entries[..own].iter().find(|e| e.term > term);
        if let Some(e) = bad.or_else(|| ready.entries[own..].iter().find(|e| e.term != term)) {
            return fail(format!("leader {id} of {term} appends entry {} of another term", e.log_id()));
        }
        Ok(())
    }

    /// A restarted node starts a fresh record.
    pub fn on_restart(&mut self, id: NodeId) {
        self.tails.remove(&id);
    }

    /// While a node leads one term, its stored tail only grows and never
    /// changes term.
    pub fn after_step(&mut self, views: &[NodeView<'_>]) -> Check {
        for v in views {
            if v.role != Role::Leader {
                self.tails.remove(&v.id);
                continue;
            }
            let tail = stored_tail(v.storage);
            if let Some((term, prev)) = self.tails.get(&v.id).copied() {
                if term == v.term {
                    if tail.index < prev.index {
                        return fail(format!("leader {} of {term}: log shrank from {prev} to {tail}", v.id));
                    }
                    let first = v.storage.first_index().expect("MemStorage reads cannot fail");
                    if prev.index >= first {
                        let now = v.storage.term(prev.index).expect("index within the log");
                        if now != prev.term {
                            return fail(format!("leader {} of {term}: entry {prev} overwritten by term {now}", v.id));
                        }
                    }
                }
            }
            self.tails.insert(v.id, (v.term, tail));
        }
        Ok(())
    }
}
