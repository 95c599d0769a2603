//! What the checker says, per key and overall, in words a failing test can print.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why one key's sub-history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// The longest linearizable prefix found, as indices into the history, in
    /// linearization order.
    pub linearized_prefix: Vec<usize>,
    /// The key's value after that prefix (`None` = absent).
    pub state_after_prefix: Option<String>,
    /// The operation (history index) that could not be placed after the prefix.
    pub stuck_op: usize,
    /// A human-readable account: the prefix, the state and the stuck operation.
    pub explanation: String,
}

/// The verdict for one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyVerdict {
    /// A linearization was found.
    Linearizable,
    /// No linearization exists.
    NotLinearizable(Violation),
    /// The search gave up (step or memory budget); nothing is known.
    Unknown {
        /// Which budget ran out.
        reason: String,
    },
}

/// Result for one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReport {
    /// The verdict.
    pub verdict: KeyVerdict,
    /// Operations on the key in the history.
    pub operations: usize,
    /// Operations removed before the search because they cannot change the verdict.
    pub pruned: usize,
    /// Search steps taken.
    pub explored: u64,
}

/// The overall verdict, worst key first: a violation beats an unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key is linearizable.
    Linearizable,
    /// At least one key is not linearizable; the first such key's violation.
    NotLinearizable(Violation),
    /// No violation found, but these keys exhausted the search budget.
    Unknown {
        /// Keys whose search ran out of budget.
        keys: Vec<String>,
    },
}

/// Per-key results of checking a whole history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Every key of the history.
    pub keys: BTreeMap<String, KeyReport>,
}

impl CheckReport {
    /// The combined verdict.
    pub fn verdict(&self) -> Verdict {
        let mut unknown = Vec::new();
        for (key, report) in &self.keys {
            match &report.verdict {
                KeyVerdict::NotLinearizable(v) => return Verdict::NotLinearizable(v.clone()),
                KeyVerdict::Unknown { .. } => unknown.push(key.clone()),
                KeyVerdict::Linearizable => {}
            }
        }
        if unknown.is_empty() {
            Verdict::Linearizable
        } else {
            Verdict::Unknown { keys: unknown }
        }
    }

    /// True only if every key was proven linearizable.
    pub fn is_linearizable(&self) -> bool {
        self.verdict() == Verdict::Linearizable
    }

    /// All violations found (one per failing key).
    pub fn violations(&self) -> Vec<&Violation> {
        self.keys
            .values()
            .filter_map(|r| match &r.verdict {
                KeyVerdict::NotLinearizable(v) => Some(v),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verdict() {
            Verdict::Linearizable => writeln!(f, "linearizable ({} keys)", self.keys.len())?,
            Verdict::NotLinearizable(_) => writeln!(f, "NOT linearizable")?,
            Verdict::Unknown { keys } => writeln!(f, "unknown (search budget exhausted) for keys {keys:?}")?,
        }
        for (key, r) in &self.keys {
            let verdict = match &r.verdict {
                KeyVerdict::Linearizable => "linearizable".to_string(),
                KeyVerdict::NotLinearizable(_) => "NOT linearizable".to_string(),
                KeyVerdict::Unknown { reason } => format!("unknown ({reason})"),
            };
            writeln!(f, "  key {key:?}: {verdict}; {} ops, {} pruned, {} steps", r.operations, r.pruned, r.explored)?;
        }
        for v in self.violations() {
            writeln!(f, "{}", v.explanation)?;
        }
        Ok(())
    }
}
