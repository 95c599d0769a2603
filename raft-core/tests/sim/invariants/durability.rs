//! Durability of acknowledged writes (thesis §3.8, ready.rs step 4): votes
//! and append acknowledgements (`Ready::persisted_messages`) promise that
//! the Ready's write is on disk. When they are handed to the network, the
//! storage must already hold the Ready's snapshot, entries and hard state.
//! A crash may lose or tear any write that was not acknowledged yet; this
//! check is what makes sure nothing acknowledged is among it.

use raft_core::{MemStorage, NodeId, Ready, Storage};

use super::{Check, Inv, Violation};

const KIND: Inv = Inv::Durability;

fn fail(detail: String) -> Check {
    Err(Violation::new(KIND, detail))
}

/// `id` is about to send `ready.persisted_messages`.
pub fn on_acknowledged(id: NodeId, ready: &Ready, storage: &MemStorage) -> Check {
    if ready.persisted_messages.is_empty() {
        return Ok(());
    }
    let snap = storage.snapshot().expect("MemStorage reads cannot fail").meta.last_log_id;
    if let Some(s) = &ready.snapshot {
        if snap.index < s.meta.last_log_id.index {
            return fail(format!("{id} acknowledges snapshot {} but storage is at {snap}", s.meta.last_log_id));
        }
    }
    for e in &ready.entries {
        if e.index > snap.index && storage.term(e.index).ok() != Some(e.term) {
            return fail(format!("{id} acknowledges entry {} that storage does not hold", e.log_id()));
        }
    }
    if let Some(hs) = ready.hard_state {
        let stored = storage.rl().hard_state();
        if stored.term < hs.term || (stored.term == hs.term && stored.vote != hs.vote) {
            return fail(format!("{id} acknowledges hard state {hs:?} but storage holds {stored:?}"));
        }
    }
    Ok(())
}
