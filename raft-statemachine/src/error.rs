//! Errors a state machine reports to the runtime.
//!
//! Any error returned by [`crate::StateMachine::apply`] is fatal for the node:
//! the runtime must stop applying (and stop the node) rather than skip the
//! entry, because every replica has to apply exactly the same sequence.
//! Rejections that are part of the replicated outcome (a malformed command, an
//! oversize value, a stale sequence number) are *responses*, not errors.

use raft_core::codec::CodecError;
use raft_core::LogIndex;

/// Why a snapshot could not be restored. Restoring never changes the state
/// machine when it fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The stream does not start with the expected magic bytes.
    #[error("not a snapshot of this state machine: bad magic {found:02x?}")]
    BadMagic {
        /// The bytes found where the magic was expected.
        found: Vec<u8>,
    },
    /// The format version is not one this build can read.
    #[error("unsupported snapshot format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the header.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The stream ended before the snapshot was complete.
    #[error("snapshot is truncated: stream ended inside {context}")]
    Truncated {
        /// What was being read when the stream ended.
        context: &'static str,
    },
    /// The checksum over the snapshot body does not match the trailer.
    #[error("snapshot checksum mismatch: trailer says {expected:#010x}, body hashes to {actual:#010x}")]
    ChecksumMismatch {
        /// Checksum stored in the trailer.
        expected: u32,
        /// Checksum computed over the bytes read.
        actual: u32,
    },
    /// The snapshot header disagrees with the metadata it was installed with.
    #[error("snapshot header covers {header} but its metadata says {meta}")]
    MetaMismatch {
        /// Last log id recorded in the snapshot header.
        header: raft_core::LogId,
        /// Last log id in the [`raft_core::SnapshotMeta`].
        meta: raft_core::LogId,
    },
    /// A frame declares a length above the format's frame limit.
    #[error("snapshot frame of {len} bytes exceeds the {max}-byte frame limit")]
    FrameTooLarge {
        /// Declared frame length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The body is structurally invalid (undecodable record, records out of
    /// order, counts that do not add up, bytes after the trailer).
    #[error("malformed snapshot: {0}")]
    Malformed(String),
}

/// An error a [`crate::StateMachine`] returns to the runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateMachineError {
    /// An entry was offered out of log order: the state machine has applied
    /// up to `expected - 1`, so only `expected` may come next. Applying it
    /// anyway would apply an entry twice or skip one.
    #[error("out-of-order apply: next index must be {expected}, got {got}")]
    OutOfOrder {
        /// The only index that may be applied next (`applied + 1`).
        expected: LogIndex,
        /// The index that was offered.
        got: LogIndex,
    },
    /// Writing or reading the snapshot stream failed.
    #[error("snapshot I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// A snapshot could not be restored; the state is unchanged.
    #[error("cannot restore snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    /// Encoding state for a snapshot failed.
    #[error("encoding failed: {0}")]
    Codec(#[from] CodecError),
    /// An implementation-specific failure (for state machines other than the
    /// built-in KV store).
    #[error("state machine failure: {0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}
