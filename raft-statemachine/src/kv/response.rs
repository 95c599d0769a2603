//! [`KvResponse`] and [`KvError`]: what a write (or read) yields.

use serde::{Deserialize, Serialize};

/// The outcome of an applied write. Every replica computes the same response
/// for the same entry, and the session table replays it for retries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvResponse {
    /// The put was applied.
    Put {
        /// The value the key held before, if any.
        prev: Option<Vec<u8>>,
    },
    /// The delete was applied.
    Delete {
        /// The value the key held before, if any.
        prev: Option<Vec<u8>>,
    },
    /// The compare-and-swap was evaluated.
    Cas {
        /// True if the expected value matched and the new value was stored.
        swapped: bool,
        /// The value the key holds after the operation (the new value on
        /// success, the unchanged current value on failure).
        current: Option<Vec<u8>>,
    },
    /// The command was not applied; the state is unchanged.
    Rejected(KvError),
}

impl KvResponse {
    /// Approximate heap bytes held by this response, counted against
    /// [`super::SessionConfig::max_cached_bytes`].
    pub fn size_bytes(&self) -> u64 {
        let payload = match self {
            KvResponse::Put { prev } | KvResponse::Delete { prev } => prev.as_ref().map_or(0, Vec::len),
            KvResponse::Cas { current, .. } => current.as_ref().map_or(0, Vec::len),
            KvResponse::Rejected(KvError::Malformed { reason }) => reason.len(),
            KvResponse::Rejected(_) => 0,
        };
        payload as u64 + 32
    }
}

/// Why a KV command or query was refused. Deterministic: it depends only on
/// the command and the replicated state, so all replicas agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The log entry's bytes do not decode as a [`super::KvRequest`].
    #[error("malformed command rejected: {reason}")]
    Malformed {
        /// The decoder's message.
        reason: String,
    },
    /// The key exceeds [`super::KvLimits::max_key_bytes`].
    #[error("key of {len} bytes exceeds the {max}-byte key limit")]
    KeyTooLarge {
        /// Key length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A value exceeds [`super::KvLimits::max_value_bytes`].
    #[error("value of {len} bytes exceeds the {max}-byte value limit")]
    ValueTooLarge {
        /// Value length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A scan asked for more than [`super::KvLimits::max_scan_limit`] pairs.
    #[error("scan limit {requested} exceeds the maximum of {max}")]
    ScanLimitTooLarge {
        /// Requested limit.
        requested: u64,
        /// The cap.
        max: u64,
    },
    /// A scan asked for zero pairs.
    #[error("scan limit must be at least 1")]
    ScanLimitZero,
    /// A range scan's start lies after its end.
    #[error("scan range is inverted: start is after end")]
    InvalidRange,
    /// The sequence number is older than the oldest response the client's
    /// session still remembers; whether it was applied is unknown.
    #[error("client {client_id}: seq {seq} is stale (session retains seq >= {oldest_retained}); outcome unknown")]
    StaleSequence {
        /// The client.
        client_id: u64,
        /// The stale sequence number.
        seq: u64,
        /// Lowest sequence number the session can still answer.
        oldest_retained: u64,
    },
    /// The store has no session for this client (expired or evicted) and
    /// the request is a retry: an earlier attempt may have applied in the
    /// forgotten session, so this attempt is refused rather than risk a
    /// second apply. Nothing was applied now; the command's outcome is
    /// unknown. The client continues with its next seq (a first attempt
    /// reopens the session).
    #[error(
        "client {client_id}: no session for retried seq {seq} (expired or evicted); not applied again, \
         the earlier attempt's outcome is unknown"
    )]
    SessionExpired {
        /// The client.
        client_id: u64,
        /// The sequence number.
        seq: u64,
    },
}
