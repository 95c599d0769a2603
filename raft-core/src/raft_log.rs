//! The node's view of its log: the durable part (read through [`Storage`])
//! followed by an in-memory unstable tail that the runtime has not yet
//! persisted, plus the commit and apply pointers.
//!
//! The core never writes storage. New entries live in the unstable tail until
//! a [`crate::Ready`] hands them out and `advance` reports them durable.
//! Invariants (checked with `debug_assert!` in [`RaftLog::check`]):
//! - `applied <= applying <= committed <= last_index()`;
//! - `unstable[i].index == offset + i` (contiguous tail);
//! - `offset - 1 <= in_progress <= last_index()`: entries up to
//!   `in_progress` were handed out in a Ready;
//! - storage holds our log for every index below `offset`.

use crate::storage::{limit_size, Storage, StorageError, StorageResult};
use crate::types::{Entry, LogId, LogIndex, Snapshot, Term};

/// Stable storage view + unstable tail + commit/apply pointers.
#[derive(Debug)]
pub struct RaftLog<S: Storage> {
    storage: S,
    /// A snapshot received from the leader, not yet installed by the runtime.
    /// While set, every entry after it lives in `unstable`.
    unstable_snapshot: Option<Snapshot>,
    /// `unstable_snapshot` was handed out in a Ready.
    snapshot_handed: bool,
    /// Entries not yet durable. Invariant: contiguous from `offset`.
    unstable: Vec<Entry>,
    /// Index of `unstable[0]` (or where it would go).
    offset: LogIndex,
    /// Last index handed out in a Ready.
    in_progress: LogIndex,
    /// Stored entries from here on must be deleted (a conflicting suffix,
    /// or what the store kept after a snapshot).
    pending_truncate: Option<LogIndex>,
    committed: LogIndex,
    /// Handed to the application in a Ready, not yet acknowledged.
    applying: LogIndex,
    applied: LogIndex,
    /// Highest index known durable *and* part of our current log.
    persisted: LogIndex,
}

impl<S: Storage> RaftLog<S> {
    /// Opens the view over `storage`, whose hard state says `commit`.
    pub fn new(storage: S, commit: LogIndex) -> StorageResult<Self> {
        let first = storage.first_index()?;
        let last = storage.last_index()?;
        if commit > last {
            return Err(StorageError::Corrupted {
                what: "hard state".into(),
                detail: format!("commit index {commit} is past the last log index {last}"),
            });
        }
        let snap_index = first.prev();
        let committed = commit.max(snap_index);
        Ok(RaftLog {
            storage,
            unstable_snapshot: None,
            snapshot_handed: false,
            unstable: Vec::new(),
            offset: last.next(),
            in_progress: last,
            pending_truncate: None,
            committed,
            applying: snap_index,
            applied: snap_index,
            persisted: last,
        })
    }

    /// On restart: the application already applied up to `applied`, which
    /// lies between the snapshot index and the commit index (checked by the
    /// caller); committed entries are handed out only after it.
    pub fn restore_applied(&mut self, applied: LogIndex) {
        assert!(
            applied >= self.applied && applied <= self.committed,
            "restored applied index {applied} must lie in [{}, {}]",
            self.applied,
            self.committed
        );
        self.applying = applied;
        self.applied = applied;
    }

    /// The underlying storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Checks the documented invariants (debug builds).
    pub fn check(&self) {
        debug_assert!(
            self.applied <= self.applying && self.applying <= self.committed,
            "raft log invariant applied <= applying <= committed broken: {} {} {}",
            self.applied,
            self.applying,
            self.committed
        );
        debug_assert!(
            self.committed <= self.last_index(),
            "raft log invariant committed <= last_index broken: {} > {}",
            self.committed,
            self.last_index()
        );
        debug_assert!(
            self.unstable.iter().enumerate().all(|(i, e)| e.index.0 == self.offset.0 + i as u64),
            "raft log invariant: unstable tail must be contiguous from offset {}",
            self.offset
        );
    }

    /// First index present in the log.
    pub fn first_index(&self) -> StorageResult<LogIndex> {
        match &self.unstable_snapshot {
            Some(s) => Ok(s.meta.last_log_id.index.next()),
            None => self.storage.first_index(),
        }
    }

    /// Last index in the log, durable or not.
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.offset.0 + self.unstable.len() as u64).prev()
    }

    /// Id of the last entry.
    pub fn last_log_id(&self) -> StorageResult<LogId> {
        let last = self.last_index();
        Ok(LogId::new(self.term(last)?, last))
    }

    /// Term of the entry at `index`.
    pub fn term(&self, index: LogIndex) -> StorageResult<Term> {
        if index >= self.offset && index <= self.last_index() {
            return Ok(self.unstable[(index.0 - self.offset.0) as usize].term);
        }
        if index > self.last_index() {
            return Err(StorageError::Unavailable { requested: index, last_index: self.last_index() });
        }
        if let Some(s) = &self.unstable_snapshot {
            let snap = s.meta.last_log_id;
            return if index == snap.index {
                Ok(snap.term)
            } else {
                Err(StorageError::Compacted { requested: index, first_index: snap.index.next() })
            };
        }
        self.storage.term(index)
    }

    /// True if the log holds an entry with id `id`.
    pub fn matches(&self, id: LogId) -> bool {
        self.term(id.index).map(|t| t == id.term).unwrap_or(false)
    }

    /// Entries in `[lo, hi)`, at most `max_bytes` of them (at least one).
    pub fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> StorageResult<Vec<Entry>> {
        let first = self.first_index()?;
        if lo < first {
            return Err(StorageError::Compacted { requested: lo, first_index: first });
        }
        if hi > self.last_index().next() {
            return Err(StorageError::Unavailable { requested: hi.prev(), last_index: self.last_index() });
        }
        if lo >= hi {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        if lo < self.offset {
            let stable_hi = hi.min(self.offset);
            out = self.storage.entries(lo, stable_hi, max_bytes)?;
            if out.len() as u64 != stable_hi.0 - lo.0 {
                return Ok(out);
            }
        }
        if hi > self.offset {
            let from = lo.max(self.offset);
            let a = (from.0 - self.offset.0) as usize;
            let b = (hi.0 - self.offset.0) as usize;
            out.extend_from_slice(&self.unstable[a..b]);
            limit_size(&mut out, max_bytes);
        }
        Ok(out)
    }

    /// Commit index.
    pub fn committed(&self) -> LogIndex {
        self.committed
    }

    /// Applied index (acknowledged by `advance`).
    pub fn applied(&self) -> LogIndex {
        self.applied
    }

    /// Highest index durable and part of the current log.
    pub fn persisted(&self) -> LogIndex {
        self.persisted
    }

    /// True if anything is not yet durable.
    pub fn has_unpersisted(&self) -> bool {
        !self.unstable.is_empty() || self.unstable_snapshot.is_some() || self.pending_truncate.is_some()
    }

    /// Appends entries that continue the log (the leader's own proposals).
    pub fn append(&mut self, entries: Vec<Entry>) {
        if let Some(first) = entries.first() {
            assert_eq!(
                first.index,
                self.last_index().next(),
                "log append must be contiguous: last index {}, append starts at {}",
                self.last_index(),
                first.index
            );
            self.unstable.extend(entries);
        }
    }

    /// Replaces the log from `entries[0].index` on with `entries` (a
    /// follower resolving a conflict, §5.3). The caller guarantees the
    /// entries start after the commit index and at most one past the end.
    pub fn truncate_and_append(&mut self, entries: Vec<Entry>) {
        let Some(first) = entries.first().map(|e| e.index) else { return };
        assert!(
            first > self.committed,
            "never truncate committed entries: truncating at {first}, commit {}",
            self.committed
        );
        assert!(
            first <= self.last_index().next(),
            "append must not leave a gap: starts at {first}, last {}",
            self.last_index()
        );
        if first == self.last_index().next() {
            self.unstable.extend(entries);
            return;
        }
        if first < self.offset {
            self.unstable = entries;
            self.offset = first;
        } else {
            self.unstable.truncate((first.0 - self.offset.0) as usize);
            self.unstable.extend(entries);
        }
        if first <= self.in_progress {
            // Already handed out (and maybe written): storage must drop it.
            self.in_progress = first.prev();
            self.pending_truncate = Some(self.pending_truncate.map_or(first, |p| p.min(first)));
        }
        self.persisted = self.persisted.min(first.prev());
    }

    /// Installs a snapshot from the leader (Figure 13): a suffix after a
    /// matching entry is kept (rule 6), otherwise the log is discarded
    /// (rule 7). Commit and apply jump to the snapshot.
    ///
    /// The store applies rule 6 to what it holds. When our entry at the
    /// snapshot index was handed out, it holds that entry and keeps its
    /// stored suffix too; our kept suffix is re-handed in the same Ready
    /// with `truncate_from = snapshot index + 1`, so that a later
    /// conflicting append cannot land on stale stored entries (sim seed
    /// 7001869). The caller never restores while a truncation at or below
    /// the snapshot index is pending ([`Self::truncation_pending_through`]):
    /// the store's entry there is then unknown to us.
    pub fn restore(&mut self, snapshot: Snapshot) -> StorageResult<()> {
        let last = snapshot.meta.last_log_id;
        let keep = self.matches(last);
        let suffix = if keep { self.entries(last.index.next(), self.last_index().next(), None)? } else { Vec::new() };
        let stored_suffix = keep
            && self.in_progress >= last.index
            && (self.in_progress > last.index || self.pending_truncate.is_some());
        self.unstable = suffix;
        self.offset = last.index.next();
        self.in_progress = last.index;
        self.pending_truncate = stored_suffix.then(|| last.index.next());
        self.unstable_snapshot = Some(snapshot);
        self.snapshot_handed = false;
        self.committed = last.index;
        self.applying = last.index;
        self.applied = last.index;
        self.persisted = self.persisted.min(last.index);
        Ok(())
    }

    /// True if stored entries at or below `index` are to be deleted and the
    /// runtime has not been told yet.
    pub fn truncation_pending_through(&self, index: LogIndex) -> bool {
        self.pending_truncate.is_some_and(|p| p <= index)
    }

    /// True if a Ready would carry log writes.
    pub fn has_ready_entries(&self) -> bool {
        self.last_index() > self.in_progress
            || self.pending_truncate.is_some()
            || (self.unstable_snapshot.is_some() && !self.snapshot_handed)
    }

    /// Hands out the snapshot to install, if any (once).
    pub fn take_ready_snapshot(&mut self) -> Option<Snapshot> {
        if self.snapshot_handed {
            return None;
        }
        self.snapshot_handed = true;
        self.unstable_snapshot.clone()
    }

    /// Hands out the entries to persist and the truncation point, once.
    pub fn take_ready_entries(&mut self) -> (Option<LogIndex>, Vec<Entry>) {
        let from = self.in_progress.next().max(self.offset);
        let entries = if from <= self.last_index() {
            self.unstable[(from.0 - self.offset.0) as usize..].to_vec()
        } else {
            Vec::new()
        };
        self.in_progress = self.last_index();
        let truncate = self.pending_truncate.take();
        debug_assert!(
            truncate.is_none() || entries.first().map(|e| e.index) == truncate,
            "truncate_from must equal the first entry of the Ready: {truncate:?} vs {:?}",
            entries.first().map(|e| e.index)
        );
        (truncate, entries)
    }

    /// The runtime made the snapshot at `index` durable.
    pub fn stable_snap_to(&mut self, index: LogIndex) {
        if self.unstable_snapshot.as_ref().is_some_and(|s| s.meta.last_log_id.index == index) {
            self.unstable_snapshot = None;
            self.snapshot_handed = false;
            self.persisted = self.persisted.max(index);
        }
    }

    /// The runtime made entries up to `id` durable. Ignored if the log has
    /// since changed at that index.
    pub fn stable_to(&mut self, id: LogId) {
        if self.unstable_snapshot.is_some() || id.index < self.offset || id.index > self.last_index() {
            return;
        }
        if self.unstable[(id.index.0 - self.offset.0) as usize].term != id.term {
            return;
        }
        self.unstable.drain(..=(id.index.0 - self.offset.0) as usize);
        self.offset = id.index.next();
        self.persisted = id.index;
    }

    /// Advances the commit index (never backwards).
    pub fn commit_to(&mut self, index: LogIndex) -> bool {
        if index <= self.committed {
            return false;
        }
        assert!(index <= self.last_index(), "commit index {index} must not pass the last index {}", self.last_index());
        self.committed = index;
        true
    }

    /// True if committed entries wait to be handed to the application.
    pub fn has_next_committed(&self) -> bool {
        self.committed > self.applying
    }

    /// Hands out committed, not yet handed entries, at most `max_bytes` of
    /// them (at least one).
    pub fn take_committed_entries(&mut self, max_bytes: u64) -> StorageResult<Vec<Entry>> {
        if !self.has_next_committed() {
            return Ok(Vec::new());
        }
        let entries = self.entries(self.applying.next(), self.committed.next(), Some(max_bytes))?;
        if let Some(last) = entries.last() {
            self.applying = last.index;
        }
        Ok(entries)
    }

    /// The application applied up to `index`.
    pub fn applied_to(&mut self, index: LogIndex) {
        if index > self.applied && index <= self.applying {
            self.applied = index;
        }
    }
}

#[cfg(test)]
#[path = "raft_log_tests.rs"]
mod tests;
