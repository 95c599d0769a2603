//! Plain-Rust client request and reply types. The server hands these to the
//! runtime, which converts them to its state machine's commands; no prost type
//! appears here, so the runtime never depends on the wire format.

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
    /// before it committed or it timed out (ABORTED). Retrying with the same
    /// seq is safe.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// The node is overloaded; nothing was done (RESOURCE_EXHAUSTED).
    #[error("busy: {0}")]
    Busy(String),
    /// The request is invalid; nothing was done (INVALID_ARGUMENT).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The node is shutting down or stopped; nothing was done (UNAVAILABLE).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An internal failure (INTERNAL).
    #[error("internal error: {0}")]
    Internal(String),
}
