//! Log Matching (§5.3, Figure 3): if two logs contain an entry with the same
//! index and term, the logs are identical in all entries up through that
//! index.
//!
//! Checked inductively over all time: every entry ever written to any
//! node's storage is registered under its `(index, term)` together with its
//! payload hash and the term of the entry before it. A second write of the
//! same `(index, term)` anywhere must agree on both. If `(i, t)` always
//! determines the payload and the predecessor's term, then by induction it
//! determines the whole prefix, which is the property.

use std::collections::BTreeMap;

use raft_core::{LogIndex, MemStorage, NodeId, Ready, Storage, Term};

use crate::harness::state_machine::payload_hash;

use super::{Check, Inv, Violation};

const KIND: Inv = Inv::LogMatching;

/// `(index, term)` -> (term of the entry before, payload hash, first writer).
#[derive(Default)]
pub struct LogMatching {
    seen: BTreeMap<(LogIndex, Term), (Term, u64, NodeId)>,
}

impl LogMatching {
    /// Registers and checks the entries `ready` just wrote to `storage`.
    pub fn on_persisted(&mut self, id: NodeId, ready: &Ready, storage: &MemStorage) -> Check {
        let snap_index = crate::harness::snapshot_index(storage);
        let mut prev: Option<(LogIndex, Term)> = None;
        for e in &ready.entries {
            if let Some((pi, _)) = prev {
                if e.index != pi.next() {
                    return Err(Violation::new(
                        KIND,
                        format!("{id}: Ready entries not consecutive ({pi} then {})", e.index),
                    ));
                }
            }
            if e.index <= snap_index {
                prev = Some((e.index, e.term));
                continue;
            }
            let prev_term = match prev {
                Some((_, t)) => t,
                None => storage.term(e.index.prev()).map_err(|err| {
                    Violation::new(KIND, format!("{id}: no predecessor for {} after write: {err}", e.log_id()))
                })?,
            };
            let stored = storage.term(e.index).ok();
            if stored != Some(e.term) {
                return Err(Violation::new(
                    KIND,
                    format!("{id}: wrote {} but storage holds term {stored:?} there", e.log_id()),
                ));
            }
            let hash = payload_hash(&e.payload);
            let known = *self.seen.entry((e.index, e.term)).or_insert((prev_term, hash, id));
            if known.0 != prev_term || known.1 != hash {
                return Err(Violation::new(
                    KIND,
                    format!(
                        "entry {} differs between {} (prev term {}, payload {:#x}) and {id} (prev term {prev_term}, payload {hash:#x})",
                        e.log_id(), known.2, known.0, known.1
                    ),
                ));
            }
            prev = Some((e.index, e.term));
        }
        Ok(())
    }
}
