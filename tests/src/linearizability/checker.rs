//! The checker's entry point: validate, split by key, search each key.

use std::fmt::Write as _;

use super::history::{History, HistoryError};
use super::key_history::KeyHistory;
use super::report::{CheckReport, KeyReport, KeyVerdict, Violation};
use super::search::{search, Budget, SearchResult};

/// Default per-key step budget. Measured (debug build, loaded 2-core machine):
/// a legal 10-client, 10 000-op single-key history takes 1.5 M steps (4 s); a
/// legal 5-client, 2 000-op one 13 k steps. Proving a violation in a large,
/// highly concurrent key can take far more, so the budget bounds the worst case
/// to about a minute and reports "unknown" beyond it.
pub const DEFAULT_MAX_STEPS_PER_KEY: u64 = 10_000_000;

/// Default per-key memory budget of the search cache.
pub const DEFAULT_MAX_CACHE_BYTES_PER_KEY: usize = 512 << 20;

/// A linearizability checker for KV histories.
#[derive(Clone, Copy, Debug)]
pub struct Checker {
    /// Search steps allowed per key before the key is reported as unknown.
    pub max_steps_per_key: u64,
    /// Cache memory allowed per key before the key is reported as unknown.
    pub max_cache_bytes_per_key: usize,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            max_steps_per_key: DEFAULT_MAX_STEPS_PER_KEY,
            max_cache_bytes_per_key: DEFAULT_MAX_CACHE_BYTES_PER_KEY,
        }
    }
}

impl Checker {
    /// A checker with this per-key step budget (and the default memory budget).
    pub fn with_budget(max_steps_per_key: u64) -> Self {
        Checker { max_steps_per_key, ..Checker::default() }
    }

    /// Checks every key of `history`. Errors only if the history is malformed.
    pub fn check(&self, history: &History) -> Result<CheckReport, HistoryError> {
        history.validate()?;
        let mut report = CheckReport::default();
        for (key, indices) in history.partition_by_key() {
            report.keys.insert(key.to_string(), self.check_key(history, key, &indices));
        }
        Ok(report)
    }

    /// Checks the sub-history `indices`, which must all be operations on `key`.
    fn check_key(&self, history: &History, key: &str, indices: &[usize]) -> KeyReport {
        let sub = KeyHistory::build(history, indices);
        let budget = Budget { steps: self.max_steps_per_key, cache_bytes: self.max_cache_bytes_per_key };
        let result = search(&sub.ops, budget);
        let (verdict, explored) = match result {
            SearchResult::Linearizable { explored } => (KeyVerdict::Linearizable, explored),
            SearchResult::Exhausted { explored, cache_bytes } => {
                let reason = if explored > self.max_steps_per_key {
                    format!("search budget of {} steps exhausted", self.max_steps_per_key)
                } else {
                    format!(
                        "search cache reached {} MiB (limit {} MiB)",
                        cache_bytes >> 20,
                        self.max_cache_bytes_per_key >> 20
                    )
                };
                (KeyVerdict::Unknown { reason }, explored)
            }
            SearchResult::Violation { prefix, state, stuck, explored } => {
                let prefix: Vec<usize> = prefix.into_iter().map(|p| sub.ops[p].index).collect();
                let state = sub.interner.value(state).map(str::to_string);
                let stuck = sub.ops[stuck].index;
                let explanation = explain(history, key, &prefix, state.as_deref(), stuck, indices);
                let v = Violation {
                    key: key.to_string(),
                    linearized_prefix: prefix,
                    state_after_prefix: state,
                    stuck_op: stuck,
                    explanation,
                };
                (KeyVerdict::NotLinearizable(v), explored)
            }
        };
        KeyReport { verdict, operations: indices.len(), pruned: sub.pruned.len(), explored }
    }
}

/// Checks `history` with the default budget.
pub fn check(history: &History) -> Result<CheckReport, HistoryError> {
    Checker::default().check(history)
}

/// Words for a violation: the prefix that worked, the state it left, the op that
/// could not follow it, and the ops still concurrent with that op.
fn explain(history: &History, key: &str, prefix: &[usize], state: Option<&str>, stuck: usize, all: &[usize]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "key {key:?} is not linearizable.");
    let _ = writeln!(s, "longest linearizable prefix ({} of {} ops):", prefix.len(), all.len());
    for &i in prefix {
        let _ = writeln!(s, "    #{i}: {}", history.operations[i]);
    }
    let _ = writeln!(s, "state after it: {}", super::model::show(state));
    let _ = writeln!(s, "cannot place #{stuck}: {}", history.operations[stuck]);
    let stuck_op = &history.operations[stuck];
    let stuck_end = stuck_op.complete.unwrap_or(u64::MAX);
    let concurrent: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| i != stuck && !prefix.contains(&i))
        .filter(|&i| history.operations[i].invoke <= stuck_end)
        .collect();
    if !concurrent.is_empty() {
        let _ = writeln!(s, "other unplaced ops invoked before it completed:");
        for i in concurrent.into_iter().take(10) {
            let _ = writeln!(s, "    #{i}: {}", history.operations[i]);
        }
    }
    s
}
