//! [`StoreError`]: everything the write side can refuse or fail with, and its
//! mapping onto the core's read-side [`StorageError`].

use std::path::PathBuf;

use raft_core::{LogId, LogIndex, NodeId, StorageError, Term};

use crate::identity::Identity;

/// Why a store operation failed.
///
/// Variants fall in three groups: refusals of a request that would break a
/// Raft invariant (`Gap`, `CommitRegressed`, ...; the store is unchanged),
/// problems with the data directory found at open (`Directory`, `Locked`,
/// `IncompatibleFormat`, ...), and failures of the disk or database
/// (`Corrupted`, `Io`, `Backend`) after which the node must stop instead of
/// acknowledging anything.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An append would leave a hole: its first entry is past the end of the
    /// log (after any truncation in the same batch).
    #[error("append is not contiguous: next index is {expected}, batch starts at {got}")]
    Gap {
        /// The index the next entry must have.
        expected: LogIndex,
        /// The index the batch started at.
        got: LogIndex,
    },
    /// The entries inside one batch do not have consecutive indices.
    #[error("batch entries are not consecutive: {next} follows {previous}")]
    BatchNotContiguous {
        /// The earlier entry's index.
        previous: LogIndex,
        /// The index that followed it.
        next: LogIndex,
    },
    /// The index is at or below the snapshot; its entry was discarded.
    #[error("log index {requested} is compacted (first available index is {first_index})")]
    Compacted {
        /// The index asked for.
        requested: LogIndex,
        /// The first index still present.
        first_index: LogIndex,
    },
    /// The index is past the end of the log.
    #[error("log index {requested} is unavailable (last index is {last_index})")]
    Unavailable {
        /// The index asked for.
        requested: LogIndex,
        /// The last index present.
        last_index: LogIndex,
    },
    /// A hard state whose commit index is lower than the stored one (the
    /// commit index never decreases, Figure 2).
    #[error("commit index would go backwards from {stored} to {requested}")]
    CommitRegressed {
        /// The commit index on disk.
        stored: LogIndex,
        /// The commit index in the rejected hard state.
        requested: LogIndex,
    },
    /// A hard state whose term is lower than the stored one (terms only grow, §5.1).
    #[error("term would go backwards from {stored} to {requested}")]
    TermRegressed {
        /// The term on disk.
        stored: Term,
        /// The term in the rejected hard state.
        requested: Term,
    },
    /// A hard state that changes an already cast vote within the same term
    /// (a node votes at most once per term, §5.2).
    #[error("vote in term {term} would change from {stored} to {requested:?}")]
    VoteChanged {
        /// The term of both votes.
        term: Term,
        /// The vote on disk.
        stored: NodeId,
        /// The vote in the rejected hard state.
        requested: Option<NodeId>,
    },
    /// A snapshot at or below the one already stored.
    #[error("snapshot {requested} is not newer than the stored snapshot {current}")]
    StaleSnapshot {
        /// The rejected snapshot's last log id.
        requested: LogId,
        /// The stored snapshot's last log id.
        current: LogId,
    },
    /// A local snapshot past the commit index: uncommitted entries may still
    /// be overwritten, so they must not be folded into a snapshot.
    #[error("cannot snapshot at {index}: only entries up to commit index {commit} are committed")]
    SnapshotNotCommitted {
        /// The requested snapshot index.
        index: LogIndex,
        /// The stored commit index.
        commit: LogIndex,
    },
    /// `bootstrap` on a store that already holds state.
    #[error("cannot bootstrap: the store already holds a log, hard state or membership")]
    NotEmpty,
    /// `bootstrap` with no voters.
    #[error("cannot bootstrap with an empty voter set")]
    EmptyMembership,
    /// The data directory belongs to another cluster or node.
    #[error("data directory belongs to {stored}, not {expected}")]
    IdentityMismatch {
        /// The identity recorded on disk.
        stored: Identity,
        /// The identity the caller expected.
        expected: Identity,
    },
    /// A cluster id longer than [`crate::MAX_CLUSTER_ID_LEN`].
    #[error("cluster id is {len} bytes long; the limit is {max}")]
    ClusterIdTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The data directory is missing, is not a directory, or cannot be read
    /// or created.
    #[error("data directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `open_existing` found no store in the directory.
    #[error("no raft store in {path}")]
    NotFound {
        /// The directory.
        path: PathBuf,
    },
    /// Another process (or another handle in this process) has the store open.
    #[error("data directory {path} is in use by another process: {detail}")]
    Locked {
        /// The directory.
        path: PathBuf,
        /// The database's message.
        detail: String,
    },
    /// The store was written by an incompatible version of this crate.
    #[error("incompatible storage format version {found} (this build reads version {supported})")]
    IncompatibleFormat {
        /// The version on disk.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The directory holds a database that is not a raft store.
    #[error("{path} is not a raft store: {detail}")]
    NotAStore {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Stored data failed its checksum, could not be decoded or is missing.
    #[error("corrupted storage at {what}: {detail}")]
    Corrupted {
        /// Which record (for example "log entry 42").
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// A file operation on snapshot data failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation and file.
        what: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// RocksDB failed (for example a full disk): nothing may be acknowledged.
    #[error("rocksdb: {0}")]
    Backend(String),
    /// A staged snapshot file (see `RocksStore::install_staged_snapshot`)
    /// is not what its caller described; nothing was installed.
    #[error("staged snapshot {path}: {detail}")]
    StagedSnapshot {
        /// The staged file.
        path: PathBuf,
        /// What did not match.
        detail: String,
    },
}

impl StoreError {
    pub(crate) fn corrupted(what: impl Into<String>, detail: impl Into<String>) -> Self {
        StoreError::Corrupted { what: what.into(), detail: detail.into() }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io { what: what.into(), source }
    }
}

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        StoreError::Backend(e.into_string())
    }
}

impl From<StoreError> for StorageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Compacted { requested, first_index } => StorageError::Compacted { requested, first_index },
            StoreError::Unavailable { requested, last_index } => StorageError::Unavailable { requested, last_index },
            StoreError::Corrupted { what, detail } => StorageError::Corrupted { what, detail },
            other => StorageError::Backend(other.to_string()),
        }
    }
}

impl From<StorageError> for StoreError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Compacted { requested, first_index } => StoreError::Compacted { requested, first_index },
            StorageError::Unavailable { requested, last_index } => StoreError::Unavailable { requested, last_index },
            StorageError::Corrupted { what, detail } => StoreError::Corrupted { what, detail },
            StorageError::Backend(detail) => StoreError::Backend(detail),
        }
    }
}
