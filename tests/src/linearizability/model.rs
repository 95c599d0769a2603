//! The sequential specification: one KV register per key.
//!
//! Client operations ([`Op`]) and their observed results ([`Output`]) are the
//! public, serializable vocabulary of a history. The checker itself works on
//! [`Step`]s, the same operations with every value interned to a small integer,
//! so that a model state is a `u32` and cheap to hash in the search cache.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// One client operation on a single key of the KV store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Write `value` under `key`.
    Put {
        /// The key written.
        key: String,
        /// The value written.
        value: String,
    },
    /// Read `key`.
    Get {
        /// The key read.
        key: String,
    },
    /// Remove `key`.
    Delete {
        /// The key removed.
        key: String,
    },
    /// Write `new` under `key` only if its current value is `expected` (`None` = absent).
    Cas {
        /// The key compared and maybe written.
        key: String,
        /// The value the key must hold for the write to happen.
        expected: Option<String>,
        /// The value written on success.
        new: String,
    },
}

impl Op {
    /// The key this operation touches.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Get { key } | Op::Delete { key } | Op::Cas { key, .. } => key,
        }
    }

    /// Whether `output` is the kind of result this operation produces.
    pub fn accepts(&self, output: &Output) -> bool {
        matches!(
            (self, output),
            (Op::Put { .. } | Op::Delete { .. }, Output::Ok)
                | (Op::Get { .. }, Output::Value(_))
                | (Op::Cas { .. }, Output::Cas(_))
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Put { key, value } => write!(f, "put({key}, {value})"),
            Op::Get { key } => write!(f, "get({key})"),
            Op::Delete { key } => write!(f, "delete({key})"),
            Op::Cas { key, expected, new } => write!(f, "cas({key}, {}, {new})", show(expected.as_deref())),
        }
    }
}

/// The result a client observed for a completed operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// A put or delete was acknowledged.
    Ok,
    /// A get returned this value (`None` = key absent).
    Value(Option<String>),
    /// A cas reported success (`true`) or a failed comparison (`false`).
    Cas(bool),
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Ok => write!(f, "ok"),
            Output::Value(v) => write!(f, "{}", show(v.as_deref())),
            Output::Cas(ok) => write!(f, "{}", if *ok { "cas ok" } else { "cas failed" }),
        }
    }
}

/// Renders an optional value the way reports print it.
pub(crate) fn show(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "<absent>".to_string(),
    }
}

/// An interned value; [`ABSENT`] is the missing key.
pub(crate) type Val = u32;

/// The interned "key absent" state, which is also the initial state.
pub(crate) const ABSENT: Val = 0;

/// An operation with interned values and its known outcome, ready for the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Put (`Some`) or delete (`ABSENT`): always applicable.
    Write(Val),
    /// A get that returned this value.
    Read(Val),
    /// A cas; `outcome` is `None` when the client never learned it.
    Cas { expected: Val, new: Val, outcome: Option<bool> },
}

impl Step {
    /// Whether the step only observes the state (never changes it) and has a
    /// known output: a read, or a cas known to have failed.
    pub(crate) fn is_observation(self) -> bool {
        matches!(self, Step::Read(_) | Step::Cas { outcome: Some(false), .. })
    }

    /// The register's transition: the next state, or `None` if `self` cannot be
    /// linearized in `state` because its observed output would differ.
    pub(crate) fn apply(self, state: Val) -> Option<Val> {
        match self {
            Step::Write(v) => Some(v),
            Step::Read(v) => (state == v).then_some(state),
            Step::Cas { expected, new, outcome: Some(true) } => (state == expected).then_some(new),
            Step::Cas { expected, outcome: Some(false), .. } => (state != expected).then_some(state),
            Step::Cas { expected, new, outcome: None } => Some(if state == expected { new } else { state }),
        }
    }
}

/// Maps values to dense integers (and back, for reports).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: HashMap<String, Val>,
    values: Vec<String>,
}

impl Interner {
    /// The id of `value`, allocating one on first sight.
    pub(crate) fn intern(&mut self, value: Option<&str>) -> Val {
        let Some(value) = value else { return ABSENT };
        if let Some(id) = self.ids.get(value) {
            return *id;
        }
        self.values.push(value.to_string());
        let id = Val::try_from(self.values.len()).expect("invariant: fewer than 2^32 distinct values per key");
        self.ids.insert(value.to_string(), id);
        id
    }

    /// The value behind an id (`None` for [`ABSENT`]).
    pub(crate) fn value(&self, id: Val) -> Option<&str> {
        if id == ABSENT {
            None
        } else {
            Some(self.values[id as usize - 1].as_str())
        }
    }

    /// Interns `op` with its (possibly unknown) output. Returns `None` for a get
    /// whose result is unknown: it constrains nothing and is dropped.
    pub(crate) fn step(&mut self, op: &Op, output: Option<&Output>) -> Option<Step> {
        match (op, output) {
            (Op::Put { value, .. }, _) => Some(Step::Write(self.intern(Some(value)))),
            (Op::Delete { .. }, _) => Some(Step::Write(ABSENT)),
            (Op::Get { .. }, Some(Output::Value(v))) => Some(Step::Read(self.intern(v.as_deref()))),
            (Op::Get { .. }, _) => None,
            (Op::Cas { expected, new, .. }, output) => {
                let outcome = match output {
                    Some(Output::Cas(ok)) => Some(*ok),
                    _ => None,
                };
                Some(Step::Cas { expected: self.intern(expected.as_deref()), new: self.intern(Some(new)), outcome })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_with_known_outcome_constrains_the_state() {
        let cas = |outcome| Step::Cas { expected: 1, new: 2, outcome };
        assert_eq!(cas(Some(true)).apply(1), Some(2));
        assert_eq!(cas(Some(true)).apply(3), None);
        assert_eq!(cas(Some(false)).apply(1), None);
        assert_eq!(cas(Some(false)).apply(3), Some(3));
    }

    #[test]
    fn cas_with_unknown_outcome_follows_the_state() {
        let cas = Step::Cas { expected: 1, new: 2, outcome: None };
        assert_eq!(cas.apply(1), Some(2));
        assert_eq!(cas.apply(ABSENT), Some(ABSENT));
    }

    #[test]
    fn reads_must_match_and_writes_always_apply() {
        assert_eq!(Step::Read(4).apply(4), Some(4));
        assert_eq!(Step::Read(4).apply(ABSENT), None);
        assert_eq!(Step::Write(ABSENT).apply(7), Some(ABSENT));
    }

    #[test]
    fn interner_round_trips_and_reserves_absent() {
        let mut i = Interner::default();
        let a = i.intern(Some("a"));
        assert_ne!(a, ABSENT);
        assert_eq!(i.intern(Some("a")), a);
        assert_eq!(i.value(a), Some("a"));
        assert_eq!(i.value(ABSENT), None);
        assert_eq!(i.step(&Op::Get { key: "k".into() }, None), None);
    }

    #[test]
    fn op_accepts_only_its_own_output_kind() {
        let get = Op::Get { key: "k".into() };
        assert!(get.accepts(&Output::Value(None)));
        assert!(!get.accepts(&Output::Ok));
        assert!(Op::Delete { key: "k".into() }.accepts(&Output::Ok));
        assert!(!Op::Put { key: "k".into(), value: "v".into() }.accepts(&Output::Cas(true)));
    }
}
