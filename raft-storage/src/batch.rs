//! [`WriteBatch`]: one durable step of a node (the log and hard-state part
//! of a `Ready`), and the validation every store applies to it identically.

use raft_core::{Entry, HardState, LogId, LogIndex};

use crate::error::StoreError;

/// What one `Ready` asks the store to persist, applied atomically: either all
/// of it is on disk afterwards or none of it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The new hard state, if it changed. Its commit index must not be lower
    /// than the stored one, nor its term; a vote cast in a term is final.
    pub hard_state: Option<HardState>,
    /// Delete every stored entry with an index at or above this one before
    /// appending (a conflicting suffix, §5.3). Must be above the snapshot
    /// index and at most `last_index + 1`.
    pub truncate_from: Option<LogIndex>,
    /// Entries with consecutive indices. The first may overlap the log (the
    /// overlapped suffix is replaced, as if `truncate_from` were its index)
    /// but must not leave a gap. Entries at or below the snapshot are
    /// skipped: they are already folded into it.
    pub entries: Vec<Entry>,
    /// fsync before returning (the WAL for RocksDB). Anything a node
    /// acknowledges to others (votes, appends) must come from a synced write.
    pub sync: bool,
}

impl WriteBatch {
    /// A synced batch appending `entries`.
    pub fn append(entries: Vec<Entry>) -> Self {
        WriteBatch { entries, sync: true, ..WriteBatch::default() }
    }

    /// A synced batch saving `hard_state`.
    pub fn hard_state(hard_state: HardState) -> Self {
        WriteBatch { hard_state: Some(hard_state), sync: true, ..WriteBatch::default() }
    }

    /// Checks the batch against the stored state and works out what to change.
    pub(crate) fn plan(&self, bounds: &LogBounds) -> Result<Plan<'_>, StoreError> {
        check_consecutive(&self.entries)?;
        let snap = bounds.snapshot.index;
        let first_index = snap.next();
        let mut effective_last = bounds.last_index;
        let mut delete_from = None;
        if let Some(t) = self.truncate_from {
            if t <= snap {
                return Err(StoreError::Compacted { requested: t, first_index });
            }
            if t > bounds.last_index.next() {
                return Err(StoreError::Unavailable { requested: t, last_index: bounds.last_index });
            }
            if t <= bounds.last_index {
                delete_from = Some(t);
                effective_last = t.prev();
            }
        }
        let skip = self.entries.iter().take_while(|e| e.index <= snap).count();
        let entries = &self.entries[skip..];
        if let Some(first) = entries.first() {
            if first.index > effective_last.next() {
                return Err(StoreError::Gap { expected: effective_last.next(), got: first.index });
            }
            if first.index <= effective_last {
                delete_from = Some(first.index);
            }
        }
        if let Some(hs) = &self.hard_state {
            check_hard_state(&bounds.hard_state, hs)?;
        }
        let new_last = entries.last().map_or(effective_last, |e| e.index);
        Ok(Plan { delete_from, entries, new_last, hard_state: self.hard_state })
    }
}

/// The stored state a batch is validated against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LogBounds {
    /// The snapshot's last log id (index 0 when there is none).
    pub snapshot: LogId,
    /// The last index in the log (the snapshot index when it is empty).
    pub last_index: LogIndex,
    /// The stored hard state.
    pub hard_state: HardState,
}

/// A validated batch: what to delete, append and save.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// Delete every stored entry at or after this index.
    pub delete_from: Option<LogIndex>,
    /// The entries to write (those above the snapshot).
    pub entries: &'a [Entry],
    /// The last index once the batch is applied.
    pub new_last: LogIndex,
    /// The hard state to save.
    pub hard_state: Option<raft_core::HardState>,
}

fn check_consecutive(entries: &[Entry]) -> Result<(), StoreError> {
    for pair in entries.windows(2) {
        if pair[1].index != pair[0].index.next() {
            return Err(StoreError::BatchNotContiguous { previous: pair[0].index, next: pair[1].index });
        }
    }
    Ok(())
}

/// Persistent state only moves forward: terms grow (§5.1), one vote per term
/// (§5.2), and the commit index never decreases.
pub(crate) fn check_hard_state(stored: &HardState, new: &HardState) -> Result<(), StoreError> {
    if new.term < stored.term {
        return Err(StoreError::TermRegressed { stored: stored.term, requested: new.term });
    }
    if new.term == stored.term {
        if let Some(voted) = stored.vote {
            if new.vote != Some(voted) {
                return Err(StoreError::VoteChanged { term: stored.term, stored: voted, requested: new.vote });
            }
        }
    }
    if new.commit < stored.commit {
        return Err(StoreError::CommitRegressed { stored: stored.commit, requested: new.commit });
    }
    Ok(())
}
