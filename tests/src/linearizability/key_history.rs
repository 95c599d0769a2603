//! The sub-history of one key, interned and pruned for the search.
//!
//! Two reductions shrink the search without changing the verdict:
//! - a get with an unknown result constrains nothing, so it is dropped;
//! - an indeterminate put/cas whose value nobody ever observed can always be
//!   assumed "never took effect", provided no cas on the key is known to have
//!   failed. (Placing it changes the state to a value that no read returns and no
//!   cas expects; in that window only writes, or unknown-outcome cases that failed
//!   and may equally be omitted, can be linearized. A known-failed cas is the one
//!   op that could have relied on the state *not* being the earlier value.)
//!   Indeterminate operations pile up during partitions and each one is
//!   concurrent with everything after it, so this matters for real runs.

use std::collections::HashSet;

use super::history::History;
use super::model::{Interner, Step, Val};

/// One operation of a key's sub-history as the search sees it.
#[derive(Clone, Debug)]
pub(crate) struct KeyOp {
    /// Index in the full [`History`].
    pub(crate) index: usize,
    /// The interned operation and outcome.
    pub(crate) step: Step,
    /// Invocation time.
    pub(crate) invoke: u64,
    /// Completion time; `u64::MAX` (after everything) if indeterminate.
    pub(crate) complete: u64,
    /// Whether the outcome is unknown.
    pub(crate) indeterminate: bool,
}

/// The interned, pruned sub-history of one key.
#[derive(Debug)]
pub(crate) struct KeyHistory {
    /// Values seen on this key.
    pub(crate) interner: Interner,
    /// Operations that take part in the search.
    pub(crate) ops: Vec<KeyOp>,
    /// Operations removed by pruning (indices into the full history).
    pub(crate) pruned: Vec<usize>,
}

impl KeyHistory {
    /// Builds the sub-history of `indices` (all on one key) of a validated history.
    pub(crate) fn build(history: &History, indices: &[usize]) -> Self {
        let mut interner = Interner::default();
        let mut ops = Vec::with_capacity(indices.len());
        let mut pruned = Vec::new();
        for &index in indices {
            let o = &history.operations[index];
            match interner.step(&o.op, o.output.as_ref()) {
                Some(step) => ops.push(KeyOp {
                    index,
                    step,
                    invoke: o.invoke,
                    complete: o.complete.unwrap_or(u64::MAX),
                    indeterminate: o.complete.is_none(),
                }),
                None => pruned.push(index),
            }
        }
        let mut key = KeyHistory { interner, ops, pruned };
        key.prune_unobserved_writes();
        key
    }

    /// Drops indeterminate writes of never-observed values (see the module docs).
    fn prune_unobserved_writes(&mut self) {
        let known_failed_cas = self.ops.iter().any(|o| matches!(o.step, Step::Cas { outcome: Some(false), .. }));
        if known_failed_cas {
            return;
        }
        let mut observed: HashSet<Val> = HashSet::new();
        for o in &self.ops {
            match o.step {
                Step::Read(v) => {
                    observed.insert(v);
                }
                Step::Cas { expected, .. } => {
                    observed.insert(expected);
                }
                Step::Write(_) => {}
            }
        }
        let removable = |o: &KeyOp| {
            o.indeterminate
                && match o.step {
                    Step::Write(v) | Step::Cas { new: v, .. } => !observed.contains(&v),
                    Step::Read(_) => false,
                }
        };
        let (removed, kept): (Vec<KeyOp>, Vec<KeyOp>) = self.ops.drain(..).partition(removable);
        self.pruned.extend(removed.iter().map(|o| o.index));
        self.ops = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{Op, Operation, Output};

    fn put(v: &str) -> Op {
        Op::Put { key: "k".into(), value: v.into() }
    }

    fn get() -> Op {
        Op::Get { key: "k".into() }
    }

    #[test]
    fn unknown_reads_and_unobserved_unknown_writes_are_pruned() {
        let h = History::new(vec![
            Operation::indeterminate(1, put("never-read"), 0),
            Operation::indeterminate(2, get(), 0),
            Operation::indeterminate(3, put("read"), 0),
            Operation::completed(4, get(), 1, 2, Output::Value(Some("read".into()))),
        ]);
        let key = KeyHistory::build(&h, &[0, 1, 2, 3]);
        let kept: Vec<usize> = key.ops.iter().map(|o| o.index).collect();
        assert_eq!(kept, vec![2, 3]);
        assert_eq!(key.pruned, vec![1, 0]);
    }

    #[test]
    fn a_known_failed_cas_disables_write_pruning() {
        let h = History::new(vec![
            Operation::indeterminate(1, put("never-read"), 0),
            Operation::completed(
                2,
                Op::Cas { key: "k".into(), expected: None, new: "x".into() },
                1,
                2,
                Output::Cas(false),
            ),
        ]);
        let key = KeyHistory::build(&h, &[0, 1]);
        assert_eq!(key.ops.len(), 2);
        assert!(key.pruned.is_empty());
    }
}
