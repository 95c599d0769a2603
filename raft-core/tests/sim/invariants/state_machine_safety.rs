//! State Machine Safety (§5.4.3, Figure 3): if a server has applied a log
//! entry at a given index to its state machine, no other server will ever
//! apply a different log entry for the same index.
//!
//! Every applied entry is recorded by index with its term, payload and the
//! state-machine digest after it (a hash chain over the whole applied
//! prefix). Any later apply at that index, on any node, must match all
//! three; a state restored from a snapshot must match the digest recorded
//! at the snapshot's index. A node's applied index also never goes back
//! while it is alive.

use std::collections::BTreeMap;

use raft_core::{Entry, EntryPayload, LogIndex, NodeId, Term};

use crate::harness::state_machine::payload_hash;

use super::{Check, Inv, Violation};

const KIND: Inv = Inv::StateMachineSafety;

/// What was applied at one index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedRecord {
    /// Term of the entry.
    pub term: Term,
    /// Hash of its payload, once some node applied the entry itself
    /// (`None` if only a snapshot covered it so far).
    pub payload_hash: Option<u64>,
    /// The payload of a `Normal` entry (clients look their commands up here).
    pub data: Option<Vec<u8>>,
    /// State-machine digest right after this index.
    pub digest: u64,
    /// The first node that reached this index.
    pub first_by: NodeId,
}

/// The cluster-wide record of applied entries.
#[derive(Default)]
pub struct StateMachineSafety {
    applied: BTreeMap<LogIndex, AppliedRecord>,
    per_node: BTreeMap<NodeId, LogIndex>,
}

fn fail(detail: String) -> Check {
    Err(Violation::new(KIND, detail))
}

impl StateMachineSafety {
    /// Everything applied so far.
    pub fn applied(&self) -> &BTreeMap<LogIndex, AppliedRecord> {
        &self.applied
    }

    fn advance(&mut self, id: NodeId, index: LogIndex) -> Check {
        let prev = self.per_node.insert(id, index).unwrap_or_default();
        if index < prev {
            return fail(format!("{id}'s applied index went back from {prev} to {index}"));
        }
        Ok(())
    }

    /// `id` applied `entry` and its digest is now `digest`.
    pub fn on_apply(&mut self, id: NodeId, entry: &Entry, digest: u64) -> Check {
        self.advance(id, entry.index)?;
        let hash = payload_hash(&entry.payload);
        let data = match &entry.payload {
            EntryPayload::Normal(d) => Some(d.to_vec()),
            _ => None,
        };
        let rec = self.applied.entry(entry.index).or_insert_with(|| AppliedRecord {
            term: entry.term,
            payload_hash: Some(hash),
            data: data.clone(),
            digest,
            first_by: id,
        });
        if rec.term != entry.term || rec.payload_hash.is_some_and(|h| h != hash) || rec.digest != digest {
            return fail(format!(
                "{id} applied {} (payload {hash:#x}, digest {digest:#x}) where {} applied term {} (payload {:?}, digest {:#x})",
                entry.log_id(),
                rec.first_by,
                rec.term,
                rec.payload_hash,
                rec.digest
            ));
        }
        if rec.payload_hash.is_none() {
            rec.payload_hash = Some(hash);
            rec.data = data;
        }
        Ok(())
    }

    /// `id` restored its state from a snapshot at `index`.
    pub fn on_restore(&mut self, id: NodeId, index: LogIndex, term: Term, digest: u64) -> Check {
        self.advance(id, index)?;
        if index.0 == 0 {
            return Ok(());
        }
        let rec = self.applied.entry(index).or_insert_with(|| AppliedRecord {
            term,
            payload_hash: None,
            data: None,
            digest,
            first_by: id,
        });
        if rec.term != term || rec.digest != digest {
            return fail(format!(
                "{id} restored a snapshot at {}-{} with digest {digest:#x}, but {} applied term {} digest {:#x} there",
                term.0, index.0, rec.first_by, rec.term, rec.digest
            ));
        }
        Ok(())
    }

    /// A crashed node's state machine is rebuilt from scratch.
    pub fn on_restart(&mut self, id: NodeId) {
        self.per_node.remove(&id);
    }
}
