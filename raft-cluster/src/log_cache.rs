//! [`LogCache`]: the log suffix the node task has just made durable, kept in
//! memory so that applying it (and sending it to a follower that asks again)
//! does not read back and decode what was written a moment ago (issue #13).
//!
//! raft-core hands out committed entries by reading its [`raft_core::Storage`]
//! once they have left its unstable tail, which happens as soon as they are
//! durable, usually before they commit. Without this cache every committed
//! entry was a RocksDB read and a decode on the node task, and a second copy
//! of its payload next to the one still in flight.
//!
//! Payloads are [`raft_core::Bytes`], so a cached entry shares its buffer
//! with the copies already handed to the disk write and to the followers'
//! appends: the cache costs memory only for what outlives them.
//!
//! Invariants:
//! - `entries` is contiguous: `entries[i].index == entries[0].index + i`;
//! - every cached entry is what the store holds at that index. The cache is
//!   updated only after a write returned (the same order the store applied
//!   it), cleared when a snapshot is installed, and the store is never
//!   written by anything else while the node runs;
//! - `bytes` is the sum of the cached entries' [`Entry::size_bytes`] and at
//!   most `max_bytes` after every call (one entry may exceed it alone, and
//!   is then not cached).

use std::collections::VecDeque;

use raft_core::{storage::limit_size, Entry, LogIndex, Term};

/// A bounded, contiguous, write-through copy of the newest durable entries.
#[derive(Debug)]
pub(crate) struct LogCache {
    entries: VecDeque<Entry>,
    bytes: u64,
    max_bytes: u64,
}

impl LogCache {
    /// An empty cache holding at most `max_bytes` (0 disables it).
    pub(crate) fn new(max_bytes: u64) -> Self {
        LogCache { entries: VecDeque::new(), bytes: 0, max_bytes }
    }

    /// A write that deleted entries from `truncate_from` on, then appended
    /// `entries` (whose first may overlap the log), has returned.
    pub(crate) fn on_write(&mut self, truncate_from: Option<LogIndex>, entries: &[Entry]) {
        let from = match (truncate_from, entries.first()) {
            (Some(t), Some(e)) => Some(t.min(e.index)),
            (t, e) => t.or(e.map(|e| e.index)),
        };
        if let Some(from) = from {
            self.truncate_from(from);
        }
        if self.max_bytes == 0 {
            return;
        }
        for e in entries {
            if self.last_index().is_some_and(|last| e.index != last.next()) {
                // Not a continuation (nothing cached before a gap): start over.
                self.clear();
            }
            self.bytes += e.size_bytes();
            self.entries.push_back(e.clone());
        }
        self.evict_to(self.max_bytes);
    }

    /// Forgets everything (a snapshot was installed: the store's log changed
    /// other than by a write).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// The application applied through `index`: those entries will not be
    /// handed out for apply again. A leader sends a lagging follower older
    /// entries from the store.
    pub(crate) fn applied_to(&mut self, index: LogIndex) {
        while self.entries.front().is_some_and(|e| e.index <= index) {
            self.pop_front();
        }
    }

    /// Entries in `[lo, hi)`, at most `max_bytes` of them (at least one), if
    /// the cache holds that whole range; `None` sends the caller to the store.
    pub(crate) fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> Option<Vec<Entry>> {
        let first = self.entries.front()?.index;
        if lo < first || hi > self.last_index()?.next() || lo >= hi {
            return None;
        }
        let a = (lo.0 - first.0) as usize;
        let b = (hi.0 - first.0) as usize;
        let mut out: Vec<Entry> = Vec::with_capacity(b - a);
        let mut total = 0u64;
        for e in self.entries.range(a..b) {
            total += e.size_bytes();
            out.push(e.clone());
            if max_bytes.is_some_and(|m| total > m) {
                break;
            }
        }
        limit_size(&mut out, max_bytes);
        Some(out)
    }

    /// The term at `index`, if cached.
    pub(crate) fn term(&self, index: LogIndex) -> Option<Term> {
        let first = self.entries.front()?.index;
        if index < first {
            return None;
        }
        self.entries.get((index.0 - first.0) as usize).map(|e| e.term)
    }

    /// Bytes held (as [`Entry::size_bytes`] counts them).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn last_index(&self) -> Option<LogIndex> {
        self.entries.back().map(|e| e.index)
    }

    fn truncate_from(&mut self, from: LogIndex) {
        while self.entries.back().is_some_and(|e| e.index >= from) {
            let e = self.entries.pop_back().expect("invariant: back() was Some");
            self.bytes -= e.size_bytes();
        }
    }

    fn evict_to(&mut self, max: u64) {
        while self.bytes > max {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= e.size_bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use raft_core::{EntryPayload, Term};

    use super::*;

    fn entry(term: u64, index: u64, len: usize) -> Entry {
        Entry::new(Term(term), LogIndex(index), EntryPayload::Normal(vec![index as u8; len].into()))
    }

    fn run(term: u64, lo: u64, hi: u64) -> Vec<Entry> {
        (lo..=hi).map(|i| entry(term, i, 10)).collect()
    }

    fn indices(v: &[Entry]) -> Vec<(u64, u64)> {
        v.iter().map(|e| (e.term.0, e.index.0)).collect()
    }

    #[test]
    fn serves_a_written_range_and_sends_anything_else_to_the_store() {
        let mut c = LogCache::new(1 << 20);
        c.on_write(None, &run(1, 5, 9));
        assert_eq!(indices(&c.entries(LogIndex(6), LogIndex(9), None).unwrap()), vec![(1, 6), (1, 7), (1, 8)]);
        assert!(c.entries(LogIndex(4), LogIndex(7), None).is_none(), "starts before the cache");
        assert!(c.entries(LogIndex(8), LogIndex(11), None).is_none(), "ends after the cache");
        assert_eq!(c.term(LogIndex(9)), Some(Term(1)));
        assert_eq!(c.term(LogIndex(10)), None);
        assert_eq!(c.term(LogIndex(4)), None);
    }

    #[test]
    fn a_conflicting_write_replaces_the_cached_suffix() {
        // §5.3: a follower deletes a conflicting suffix and appends the
        // leader's entries; the cache must never serve the deleted ones.
        let mut c = LogCache::new(1 << 20);
        c.on_write(None, &run(1, 1, 6));
        c.on_write(Some(LogIndex(4)), &run(2, 4, 5));
        assert_eq!(indices(&c.entries(LogIndex(1), LogIndex(6), None).unwrap()).last(), Some(&(2, 5)));
        assert!(c.entries(LogIndex(6), LogIndex(7), None).is_none(), "index 6 of term 1 was deleted");
        // An overlapping append without an explicit truncation does the same.
        c.on_write(None, &run(3, 3, 3));
        assert_eq!(c.term(LogIndex(3)), Some(Term(3)));
        assert_eq!(c.term(LogIndex(4)), None);
        // A truncation alone (no entries) drops the suffix too.
        c.on_write(Some(LogIndex(2)), &[]);
        assert_eq!(c.term(LogIndex(2)), None);
        assert_eq!(c.term(LogIndex(1)), Some(Term(1)));
    }

    #[test]
    fn a_gap_restarts_the_cache() {
        let mut c = LogCache::new(1 << 20);
        c.on_write(None, &run(1, 1, 3));
        c.on_write(None, &run(1, 10, 11));
        assert!(c.entries(LogIndex(1), LogIndex(2), None).is_none());
        assert_eq!(indices(&c.entries(LogIndex(10), LogIndex(12), None).unwrap()), vec![(1, 10), (1, 11)]);
    }

    #[test]
    fn the_byte_bound_holds_and_the_oldest_go_first() {
        let one = entry(1, 1, 100).size_bytes();
        let mut c = LogCache::new(3 * one);
        c.on_write(None, &(1..=10).map(|i| entry(1, i, 100)).collect::<Vec<_>>());
        assert_eq!(c.bytes(), 3 * one);
        assert_eq!(c.term(LogIndex(7)), None);
        assert_eq!(c.term(LogIndex(8)), Some(Term(1)));
        // One entry larger than the bound is not kept at all.
        c.on_write(None, &[entry(1, 11, 1000)]);
        assert_eq!(c.bytes(), 0);
        assert!(c.entries(LogIndex(11), LogIndex(12), None).is_none());
    }

    #[test]
    fn applied_entries_leave_and_max_bytes_limits_a_read() {
        let mut c = LogCache::new(1 << 20);
        c.on_write(None, &run(1, 1, 5));
        c.applied_to(LogIndex(2));
        assert_eq!(c.term(LogIndex(2)), None);
        let one = entry(1, 3, 10).size_bytes();
        assert_eq!(indices(&c.entries(LogIndex(3), LogIndex(6), Some(2 * one)).unwrap()), vec![(1, 3), (1, 4)]);
        // At least one entry, whatever the limit.
        assert_eq!(c.entries(LogIndex(3), LogIndex(6), Some(1)).unwrap().len(), 1);
        c.clear();
        assert_eq!(c.bytes(), 0);
        assert!(c.entries(LogIndex(3), LogIndex(4), None).is_none());
    }

    #[test]
    fn a_disabled_cache_holds_nothing_but_still_truncates() {
        let mut c = LogCache::new(0);
        c.on_write(None, &run(1, 1, 3));
        assert_eq!(c.bytes(), 0);
        assert!(c.entries(LogIndex(1), LogIndex(2), None).is_none());
    }
}
