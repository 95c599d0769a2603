//! The Wing–Gong search with Lowe's just-in-time linearization and memoization,
//! as in Porcupine (`checkSingle`).
//!
//! The sub-history becomes a doubly-linked list of call and return events
//! ordered by time (a call sorts before a return at the same instant, so
//! touching intervals count as concurrent). Walking the list, the search tries
//! to linearize each call it meets; linearizing "lifts" the call and its return
//! out of the list and restarts from the head. Meeting a return means the op it
//! belongs to should already have been linearized: backtrack the most recent
//! choice. A cache of (linearized set, model state) pairs prunes every
//! configuration reached twice (Lowe 2017, "Testing for linearizability", §4).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::key_history::KeyOp;
use super::model::{Val, ABSENT};

const NIL: usize = usize::MAX;

/// What the search concluded for one key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SearchResult {
    /// A linearization exists.
    Linearizable {
        /// Search steps taken.
        explored: u64,
    },
    /// No linearization exists.
    Violation {
        /// The longest prefix the search could linearize (positions in `ops`).
        prefix: Vec<usize>,
        /// The model state after that prefix.
        state: Val,
        /// The op whose return was reached without any way to place it.
        stuck: usize,
        /// Search steps taken.
        explored: u64,
    },
    /// The step or memory budget ran out first.
    Exhausted {
        /// Search steps taken.
        explored: u64,
        /// Memory the cache held.
        cache_bytes: usize,
    },
}

/// A set of op positions with an incrementally maintained Zobrist hash, so a
/// cache probe costs O(1) instead of hashing the whole set.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bits {
    words: Box<[u64]>,
    hash: u64,
}

impl Bits {
    fn new(n: usize) -> Self {
        Bits { words: vec![0; n.div_ceil(64)].into_boxed_slice(), hash: 0 }
    }
    fn set(&mut self, i: usize, zobrist: &[u64]) {
        self.words[i / 64] |= 1 << (i % 64);
        self.hash ^= zobrist[i];
    }
    fn clear(&mut self, i: usize, zobrist: &[u64]) {
        self.words[i / 64] &= !(1 << (i % 64));
        self.hash ^= zobrist[i];
    }
}

/// Hasher for keys that already are uniformly random 64-bit hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A linearized set stored compactly: ops are indexed in invoke order and the
/// search linearizes roughly in that order, so a set is "all words below `lo`
/// full" plus a short window of words; everything above the window is empty.
#[derive(Debug, PartialEq, Eq)]
struct Compact {
    lo: usize,
    window: Box<[u64]>,
}

impl Compact {
    fn of(words: &[u64]) -> Self {
        let lo = words.iter().position(|&w| w != u64::MAX).unwrap_or(words.len());
        let hi = words.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1).max(lo);
        Compact { lo, window: words[lo..hi].into() }
    }

    fn matches(&self, words: &[u64]) -> bool {
        let hi = self.lo + self.window.len();
        words[..self.lo].iter().all(|&w| w == u64::MAX)
            && words[self.lo..hi] == *self.window
            && words[hi..].iter().all(|&w| w == 0)
    }
}

/// The memo of visited (linearized set, state) configurations.
struct Cache {
    zobrist: Vec<u64>,
    buckets: HashMap<u64, Vec<(Compact, Val)>, BuildHasherDefault<PassThrough>>,
    bytes: usize,
}

impl Cache {
    fn new(n: usize) -> Self {
        let mut rng = crate::rng::Rng::new(0x11E4_121A_B1E5);
        let zobrist = (0..n).map(|_| rng.next_u64()).collect();
        Cache { zobrist, buckets: HashMap::default(), bytes: 0 }
    }

    /// Records the configuration; false if it was already visited.
    fn insert(&mut self, bits: &Bits, state: Val) -> bool {
        let key = bits.hash ^ u64::from(state).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let bucket = self.buckets.entry(key).or_default();
        if bucket.iter().any(|(c, s)| *s == state && c.matches(&bits.words)) {
            return false;
        }
        let compact = Compact::of(&bits.words);
        self.bytes += compact.window.len() * 8 + 64;
        bucket.push((compact, state));
        true
    }
}

/// The event list: entries `0..n` are calls, `n..2n` returns, `2n` the head.
struct Events {
    n: usize,
    prev: Vec<usize>,
    next: Vec<usize>,
}

impl Events {
    fn new(ops: &[KeyOp]) -> Self {
        let n = ops.len();
        let mut order: Vec<usize> = (0..2 * n).collect();
        // (time, calls first) — see the module docs.
        order.sort_by_key(|&e| if e < n { (ops[e].invoke, 0) } else { (ops[e - n].complete, 1) });
        let head = 2 * n;
        let mut prev = vec![NIL; 2 * n + 1];
        let mut next = vec![NIL; 2 * n + 1];
        let mut last = head;
        for e in order {
            next[last] = e;
            prev[e] = last;
            last = e;
        }
        Events { n, prev, next }
    }

    fn head(&self) -> usize {
        2 * self.n
    }

    fn remove(&mut self, e: usize) {
        let (p, nx) = (self.prev[e], self.next[e]);
        self.next[p] = nx;
        if nx != NIL {
            self.prev[nx] = p;
        }
    }

    /// Re-inserts `e`; valid when undoing removals in reverse order (dancing links).
    fn restore(&mut self, e: usize) {
        let (p, nx) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        if nx != NIL {
            self.prev[nx] = e;
        }
    }

    fn lift(&mut self, call: usize) {
        self.remove(call);
        self.remove(call + self.n);
    }

    fn unlift(&mut self, call: usize) {
        self.restore(call + self.n);
        self.restore(call);
    }
}

/// Limits of one key's search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// Events visited.
    pub(crate) steps: u64,
    /// Approximate memory of the configuration cache.
    pub(crate) cache_bytes: usize,
}

/// Searches for a linearization of `ops` within `budget`.
pub(crate) fn search(ops: &[KeyOp], budget: Budget) -> SearchResult {
    let n = ops.len();
    let mut events = Events::new(ops);
    let head = events.head();
    let mut linearized = Bits::new(n);
    let mut cache = Cache::new(n);
    let mut calls: Vec<(usize, Val)> = Vec::new();
    let mut best: Option<(Vec<usize>, Val, usize)> = None;
    let mut state = ABSENT;
    let mut explored = 0u64;
    let mut entry = events.next[head];
    while events.next[head] != NIL {
        explored += 1;
        if explored > budget.steps || cache.bytes > budget.cache_bytes {
            return SearchResult::Exhausted { explored, cache_bytes: cache.bytes };
        }
        assert!(entry != NIL, "invariant: the event list always ends with a return event");
        if entry < n {
            if let Some(new_state) = ops[entry].step.apply(state) {
                linearized.set(entry, &cache.zobrist);
                if cache.insert(&linearized, new_state) {
                    calls.push((entry, state));
                    state = new_state;
                    events.lift(entry);
                    entry = events.next[head];
                    continue;
                }
                linearized.clear(entry, &cache.zobrist);
            }
            entry = events.next[entry];
        } else {
            let stuck = entry - n;
            if best.as_ref().is_none_or(|(prefix, _, _)| calls.len() > prefix.len()) {
                best = Some((calls.iter().map(|&(c, _)| c).collect(), state, stuck));
            }
            // Backtrack. An observation (a read, or a cas known to have failed)
            // leaves the state unchanged and was enabled when it was taken, so any
            // solution from the configuration before it could have taken it first:
            // if the configuration after it failed, so did the one before. Keep
            // popping past observations instead of trying alternatives to them.
            loop {
                let Some((call, previous)) = calls.pop() else {
                    let (prefix, state, stuck) = best.expect("invariant: best is recorded before giving up");
                    return SearchResult::Violation { prefix, state, stuck, explored };
                };
                state = previous;
                linearized.clear(call, &cache.zobrist);
                events.unlift(call);
                entry = events.next[call];
                if !ops[call].step.is_observation() {
                    break;
                }
            }
        }
    }
    SearchResult::Linearizable { explored }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::model::Step;

    const BIG: Budget = Budget { steps: 1_000_000, cache_bytes: 1 << 30 };

    fn op(step: Step, invoke: u64, complete: Option<u64>) -> KeyOp {
        KeyOp { index: 0, step, invoke, complete: complete.unwrap_or(u64::MAX), indeterminate: complete.is_none() }
    }

    #[test]
    fn compact_sets_match_exactly_the_set_they_were_made_from() {
        let words = [u64::MAX, u64::MAX, 0b1011, 0, 0];
        let c = Compact::of(&words);
        assert_eq!((c.lo, c.window.len()), (2, 1));
        assert!(c.matches(&words));
        assert!(!c.matches(&[u64::MAX, u64::MAX, 0b1011, 0, 1]));
        assert!(!c.matches(&[u64::MAX, 7, 0b1011, 0, 0]));
        let full = Compact::of(&[u64::MAX; 3]);
        assert!(full.matches(&[u64::MAX; 3]) && full.window.is_empty());
        assert!(Compact::of(&[0, 0]).matches(&[0, 0]));
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert_eq!(search(&[], BIG), SearchResult::Linearizable { explored: 0 });
    }

    #[test]
    fn overlapping_write_and_read_linearize_in_either_order() {
        let ops = [op(Step::Write(1), 0, Some(10)), op(Step::Read(ABSENT), 1, Some(9))];
        assert!(matches!(search(&ops, BIG), SearchResult::Linearizable { .. }));
        let ops = [op(Step::Write(1), 0, Some(10)), op(Step::Read(1), 1, Some(9))];
        assert!(matches!(search(&ops, BIG), SearchResult::Linearizable { .. }));
    }

    #[test]
    fn touching_intervals_count_as_concurrent() {
        // The read is invoked at the very instant the write completes.
        let ops = [op(Step::Write(1), 0, Some(5)), op(Step::Read(ABSENT), 5, Some(6))];
        assert!(matches!(search(&ops, BIG), SearchResult::Linearizable { .. }));
    }

    #[test]
    fn violation_reports_the_longest_prefix_and_the_stuck_op() {
        let ops = [op(Step::Write(1), 0, Some(1)), op(Step::Read(2), 2, Some(3))];
        let SearchResult::Violation { prefix, state, stuck, .. } = search(&ops, BIG) else {
            panic!("expected violation")
        };
        assert_eq!(prefix, vec![0]);
        assert_eq!(state, 1);
        assert_eq!(stuck, 1);
    }

    #[test]
    fn budget_exhaustion_is_reported_as_such() {
        let ops: Vec<KeyOp> = (0..20).map(|i| op(Step::Write(i + 1), 0, None)).collect();
        let mut with_read = ops.clone();
        with_read.push(op(Step::Read(99), 0, Some(1)));
        let steps = Budget { steps: 5, cache_bytes: usize::MAX };
        assert!(matches!(search(&with_read, steps), SearchResult::Exhausted { explored: 6, .. }));
        let memory = Budget { steps: u64::MAX, cache_bytes: 1000 };
        assert!(
            matches!(search(&with_read, memory), SearchResult::Exhausted { cache_bytes, .. } if cache_bytes > 1000)
        );
    }
}
