//! The window of AppendEntries sent to one follower and not yet
//! acknowledged, bounded both by message count and by entry bytes.
//!
//! Pipelining appends (thesis §10.2.2) is what makes replication fast, but
//! an unbounded pipeline to a slow follower would buffer without limit in the
//! transport. The window closes when either bound is reached and reopens as
//! acknowledgements free the oldest messages.

use std::collections::VecDeque;

use crate::types::LogIndex;

/// A bounded FIFO of in-flight appends, identified by their last index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inflights {
    /// `(last index, entry bytes)` of each message in send order.
    /// Invariant: last indices strictly increase.
    queue: VecDeque<(LogIndex, u64)>,
    /// Invariant: the sum of the byte column of `queue`.
    bytes: u64,
    max_count: usize,
    max_bytes: u64,
}

impl Inflights {
    /// An empty window of at most `max_count` messages and `max_bytes`
    /// entry bytes.
    pub fn new(max_count: usize, max_bytes: u64) -> Self {
        Inflights { queue: VecDeque::new(), bytes: 0, max_count, max_bytes }
    }

    /// True when no more messages may be sent.
    pub fn is_full(&self) -> bool {
        self.queue.len() >= self.max_count || self.bytes >= self.max_bytes
    }

    /// Bytes that may still be sent before the byte bound closes the window.
    pub fn remaining_bytes(&self) -> u64 {
        self.max_bytes.saturating_sub(self.bytes)
    }

    /// Number of messages in flight.
    pub fn count(&self) -> usize {
        self.queue.len()
    }

    /// Entry bytes in flight.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Records a sent message ending at `last` carrying `bytes`.
    pub fn add(&mut self, last: LogIndex, bytes: u64) {
        debug_assert!(
            self.queue.back().is_none_or(|&(prev, _)| prev < last),
            "inflights must increase: {:?} then {}",
            self.queue.back(),
            last
        );
        self.queue.push_back((last, bytes));
        self.bytes += bytes;
    }

    /// Frees every message whose last index is at or below `acked`.
    pub fn free_to(&mut self, acked: LogIndex) {
        while let Some(&(last, bytes)) = self.queue.front() {
            if last > acked {
                break;
            }
            self.queue.pop_front();
            self.bytes -= bytes;
        }
    }

    /// Forgets everything in flight.
    pub fn reset(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_closes_by_count() {
        let mut w = Inflights::new(2, 1000);
        w.add(LogIndex(1), 10);
        assert!(!w.is_full());
        w.add(LogIndex(2), 10);
        assert!(w.is_full());
        w.free_to(LogIndex(1));
        assert!(!w.is_full());
        assert_eq!(w.count(), 1);
    }

    #[test]
    fn window_closes_by_bytes() {
        let mut w = Inflights::new(100, 50);
        w.add(LogIndex(3), 30);
        assert_eq!(w.remaining_bytes(), 20);
        w.add(LogIndex(5), 20);
        assert!(w.is_full());
        w.free_to(LogIndex(4));
        assert_eq!(w.bytes(), 20);
        assert!(!w.is_full());
    }

    #[test]
    fn free_past_everything_empties() {
        let mut w = Inflights::new(4, 100);
        w.add(LogIndex(1), 1);
        w.add(LogIndex(2), 1);
        w.free_to(LogIndex(9));
        assert!(w.is_empty());
        assert_eq!(w.bytes(), 0);
    }
}
