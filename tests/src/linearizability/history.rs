//! A concurrent history: what each client invoked, when, and what it saw.
//!
//! Times are nanoseconds on one monotonic clock (the test process's), so real-time
//! order between operations of different clients is meaningful. An operation whose
//! client never learned the result (timeout, lost connection) has no completion:
//! it may have taken effect at any time after its invocation, or never.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::{Op, Output};

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The client (process) that issued the operation.
    pub client: u64,
    /// What was asked.
    pub op: Op,
    /// When the request was sent (ns since the history's origin).
    pub invoke: u64,
    /// When the reply arrived; `None` if the outcome is indeterminate.
    pub complete: Option<u64>,
    /// The reply; `None` exactly when `complete` is `None`.
    pub output: Option<Output>,
}

impl Operation {
    /// A completed operation.
    pub fn completed(client: u64, op: Op, invoke: u64, complete: u64, output: Output) -> Self {
        Operation { client, op, invoke, complete: Some(complete), output: Some(output) }
    }

    /// An operation whose outcome the client never learned.
    pub fn indeterminate(client: u64, op: Op, invoke: u64) -> Self {
        Operation { client, op, invoke, complete: None, output: None }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.complete, &self.output) {
            (Some(c), Some(out)) => write!(f, "client {} {} -> {} [{}..{}]", self.client, self.op, out, self.invoke, c),
            _ => write!(f, "client {} {} -> ? (indeterminate) [{}..]", self.client, self.op, self.invoke),
        }
    }
}

/// A history is malformed (a harness bug, not a linearizability violation).
#[derive(Debug, Error)]
pub enum HistoryError {
    /// `complete` and `output` must both be present or both absent.
    #[error("operation #{index} ({op}): completion time and output must both be present or both absent")]
    HalfCompleted {
        /// Position in the history.
        index: usize,
        /// The operation.
        op: Op,
    },
    /// The output is not of the operation's kind (e.g. a put that returned a value).
    #[error("operation #{index} ({op}) cannot produce output {output}")]
    OutputMismatch {
        /// Position in the history.
        index: usize,
        /// The operation.
        op: Op,
        /// The mismatched output.
        output: Output,
    },
    /// The reply time precedes the request time.
    #[error("operation #{index} completes at {complete} before it is invoked at {invoke}")]
    CompletesBeforeInvoke {
        /// Position in the history.
        index: usize,
        /// Invocation time.
        invoke: u64,
        /// Completion time.
        complete: u64,
    },
    /// The JSON file could not be read or written.
    #[error("history file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON text is not a history.
    #[error("history JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A whole concurrent history, in any order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The operations; their index is how reports refer to them.
    pub operations: Vec<Operation>,
}

impl History {
    /// A history of these operations.
    pub fn new(operations: Vec<Operation>) -> Self {
        History { operations }
    }

    /// Checks the structural rules every operation must follow.
    pub fn validate(&self) -> Result<(), HistoryError> {
        for (index, o) in self.operations.iter().enumerate() {
            match (o.complete, &o.output) {
                (None, None) => {}
                (Some(complete), Some(output)) => {
                    if !o.op.accepts(output) {
                        return Err(HistoryError::OutputMismatch { index, op: o.op.clone(), output: output.clone() });
                    }
                    if complete < o.invoke {
                        return Err(HistoryError::CompletesBeforeInvoke { index, invoke: o.invoke, complete });
                    }
                }
                _ => return Err(HistoryError::HalfCompleted { index, op: o.op.clone() }),
            }
        }
        Ok(())
    }

    /// Indices of the operations on each key (P-compositionality: a history is
    /// linearizable iff every per-key sub-history is; Herlihy & Wing 1990, §3.3).
    pub fn partition_by_key(&self) -> BTreeMap<&str, Vec<usize>> {
        let mut keys: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, o) in self.operations.iter().enumerate() {
            keys.entry(o.op.key()).or_default().push(i);
        }
        keys
    }

    /// Pretty JSON text of the history.
    pub fn to_json(&self) -> Result<String, HistoryError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Parses and validates a history from JSON.
    pub fn from_json(text: &str) -> Result<Self, HistoryError> {
        let history: History = serde_json::from_str(text)?;
        history.validate()?;
        Ok(history)
    }

    /// Writes the history as JSON to `path`.
    pub fn save(&self, path: &Path) -> Result<(), HistoryError> {
        let text = self.to_json()?;
        std::fs::write(path, text).map_err(|source| HistoryError::Io { path: path.display().to_string(), source })
    }

    /// Reads and validates a history saved by [`History::save`].
    pub fn load(path: &Path) -> Result<Self, HistoryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| HistoryError::Io { path: path.display().to_string(), source })?;
        Self::from_json(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Op {
        Op::Put { key: k.into(), value: v.into() }
    }

    #[test]
    fn json_round_trip_preserves_every_field() {
        let h = History::new(vec![
            Operation::completed(1, put("a", "1"), 0, 5, Output::Ok),
            Operation::completed(2, Op::Get { key: "a".into() }, 1, 6, Output::Value(None)),
            Operation::indeterminate(3, Op::Cas { key: "b".into(), expected: None, new: "x".into() }, 2),
        ]);
        let back = History::from_json(&h.to_json().unwrap()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn save_and_load_use_the_same_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.json");
        let h = History::new(vec![Operation::completed(1, put("a", "1"), 0, 5, Output::Ok)]);
        h.save(&path).unwrap();
        assert_eq!(History::load(&path).unwrap(), h);
    }

    #[test]
    fn validate_rejects_malformed_operations() {
        let mismatched = History::new(vec![Operation::completed(1, put("a", "1"), 0, 5, Output::Cas(true))]);
        assert!(matches!(mismatched.validate(), Err(HistoryError::OutputMismatch { index: 0, .. })));
        let backwards = History::new(vec![Operation::completed(1, put("a", "1"), 9, 5, Output::Ok)]);
        assert!(matches!(backwards.validate(), Err(HistoryError::CompletesBeforeInvoke { .. })));
        let mut half = Operation::indeterminate(1, put("a", "1"), 0);
        half.complete = Some(3);
        assert!(matches!(History::new(vec![half]).validate(), Err(HistoryError::HalfCompleted { .. })));
    }

    #[test]
    fn partition_groups_indices_by_key() {
        let h = History::new(vec![
            Operation::completed(1, put("a", "1"), 0, 5, Output::Ok),
            Operation::completed(1, put("b", "1"), 6, 7, Output::Ok),
            Operation::completed(2, Op::Delete { key: "a".into() }, 1, 2, Output::Ok),
        ]);
        let parts = h.partition_by_key();
        assert_eq!(parts["a"], vec![0, 2]);
        assert_eq!(parts["b"], vec![1]);
    }
}
