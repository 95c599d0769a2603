//! Plain-Rust client request and reply types. The server hands these to the
//! runtime, which converts them to its state machine's commands; no prost type
//! appears here, so the runtime never depends on the wire format.
//!
//! # Outcome contract
//!
//! Every failed write ends in exactly one of two classes, and each layer
//! keeps the class it was given (the README's "Outcome contract" section
//! repeats this table):
//!
//! * **Definitely not applied**: the request never became a log entry, or
//!   its entry was overwritten by another leader's. Retrying is always safe,
//!   even with a new seq.
//! * **Outcome unknown**: the request was proposed and may be on followers;
//!   it may commit later (under the next leader) or never. Retry only with
//!   the same `(client_id, seq)`, which the state machine deduplicates, or
//!   read the key to find out.
//!
//! | runtime (`raft_cluster::ClientError`) | [`ServiceError`] | gRPC status | [`crate::ClientError`] | `raft-cli` exit |
//! |---|---|---|---|---|
//! | applied | `Ok` | OK | `Ok` | 0 |
//! | `NotLeader` | `NotLeader` | OK + `NotLeader` reply | (redirect) | — |
//! | `ShuttingDown` (not proposed), `NotCommitted`, leader transfer | `Unavailable` | UNAVAILABLE | `Unavailable`¹ | 3 |
//! | `Overloaded`, backpressure | `Busy` | RESOURCE_EXHAUSTED | retried, then `Unavailable`¹ | 3 |
//! | `Invalid`, rejected proposal | `Invalid` | INVALID_ARGUMENT | `InvalidArgument` | 2 |
//! | **`LeadershipLost`, `Timeout`, `StoppedBeforeCommit`** (shutdown or fatal storage error after proposing, task killed) | **`Unknown`** | **ABORTED** ("outcome unknown: …") | **`Unknown`** | **3**, "may or may not have been applied" |
//! | the node dropped the reply / no reply within the request timeout | — | **ABORTED / DEADLINE_EXCEEDED** | **`Unknown`** | **3** |
//! | `StateMachine` failure | `Internal` | INTERNAL | `Unknown` (treated as ambiguous) | 3 |
//!
//! So the server never answers UNAVAILABLE, INVALID_ARGUMENT or
//! RESOURCE_EXHAUSTED for a write it may have proposed. ¹ The converse does
//! not hold on the client: a broken connection also surfaces as UNAVAILABLE
//! (or UNKNOWN / CANCELLED), indistinguishable from the server's own, so
//! [`crate::KvClient`] counts an UNAVAILABLE attempt as possibly applied and
//! reports [`crate::ClientError::Unknown`] when any attempt of a write was
//! ambiguous; [`crate::ClientError::Unavailable`] means no attempt can have
//! been applied.

use raft_core::{LogIndex, NodeId};

/// A state-changing request. `(client_id, seq)` identifies it across retries
/// so that the state machine applies it at most once (thesis §6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteRequest {
    /// The client session, chosen by the client.
    pub client_id: u64,
    /// Increases by one per new operation of the session; a retry reuses it.
    pub seq: u64,
    /// What to do.
    pub op: WriteOp,
    /// An earlier attempt of this `(client_id, seq)` may already be in the
    /// log (it failed with an unknown outcome). Such a retry is refused, not
    /// applied, if the server no longer has the session (it could otherwise
    /// apply twice); a first attempt (`false`) never is.
    pub retry: bool,
}

/// The write operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Set `key` to `new_value` only if it currently holds `expected`
    /// (`None`: only if it is absent).
    CompareAndSwap {
        /// The key.
        key: Vec<u8>,
        /// The required current value, or `None` for "absent".
        expected: Option<Vec<u8>>,
        /// The value to store when the expectation holds.
        new_value: Vec<u8>,
    },
}

impl WriteOp {
    /// The key the operation touches.
    pub fn key(&self) -> &[u8] {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key } | WriteOp::CompareAndSwap { key, .. } => key,
        }
    }
}

/// The outcome of an applied write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// False only for a compare-and-swap whose expectation failed, or a
    /// delete of an absent key.
    pub succeeded: bool,
    /// The value before the write (for a failed CAS: the current value).
    pub previous: Option<Vec<u8>>,
    /// The log index at which the write was applied.
    pub index: LogIndex,
}

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// Served after a ReadIndex round confirms leadership (§6.4): sees every
    /// write acknowledged before the read began.
    #[default]
    Linearizable,
    /// Served from the answering node's local state; may be stale.
    Stale,
}

/// Which keys a scan covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanRange {
    /// Every key starting with the prefix.
    Prefix(Vec<u8>),
    /// Keys in `[start, end)`; `end: None` means unbounded.
    Range {
        /// Inclusive lower bound.
        start: Vec<u8>,
        /// Exclusive upper bound, if any.
        end: Option<Vec<u8>>,
    },
}

/// A read-only request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadRequest {
    /// Read one key.
    Get {
        /// The key.
        key: Vec<u8>,
        /// Freshness.
        consistency: Consistency,
    },
    /// Read a range of keys in key order.
    Scan {
        /// The keys.
        range: ScanRange,
        /// Maximum pairs to return (already capped by the server's limit,
        /// never 0).
        limit: u32,
        /// Freshness.
        consistency: Consistency,
    },
}

/// The answer to a [`ReadRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadResult {
    /// The value of the key, if present.
    Get(Option<Vec<u8>>),
    /// Pairs in key order.
    Scan(ScanResult),
}

/// The pairs a scan found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanResult {
    /// Pairs in key order.
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// True if the range holds more pairs than returned.
    pub more: bool,
}

/// Where the leader is, as far as a node knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderHint {
    /// The leader's id.
    pub id: NodeId,
    /// Its client address (`host:port`), if the node knows it.
    pub address: Option<String>,
}

/// Why the runtime could not serve a request. The server maps each to a
/// typed reply or gRPC status; see each variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// This node is not the leader (a typed `NotLeader` reply).
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader, if known.
        leader: Option<LeaderHint>,
    },
    /// The proposal was accepted but its fate is unknown: leadership changed
    /// before it committed, it timed out, or the node stopped (shutdown,
    /// fatal storage error) after proposing it (ABORTED). Retrying with the
    /// same seq is safe; see the outcome contract in the module docs.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// The node is overloaded; nothing was done (RESOURCE_EXHAUSTED).
    #[error("busy: {0}")]
    Busy(String),
    /// The request is invalid; nothing was done (INVALID_ARGUMENT).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The node is shutting down or stopped and never proposed the request;
    /// nothing was done (UNAVAILABLE). A write the node had already proposed
    /// is [`ServiceError::Unknown`] instead, never this.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An internal failure (INTERNAL).
    #[error("internal error: {0}")]
    Internal(String),
}
