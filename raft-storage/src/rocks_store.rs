//! [`RocksStore`]: the durable store, and its read side ([`Storage`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use raft_core::{Entry, HardState, InitialState, LogIndex, Snapshot, Storage, StorageError, StorageResult, Term};
use rocksdb::{ReadOptions, WriteOptions, DB};

use crate::batch::LogBounds;
use crate::error::StoreError;
use crate::identity::Identity;
use crate::incarnation::PeerIncarnations;
use crate::layout::{log_key, parse_log_key, CF_LOG, CF_META, DB_DIR, SNAPSHOT_DIR};
use crate::rocks_open::{check_format, decode_entry, load_state, open_db};
use crate::snapshot_files::{SnapshotFiles, SnapshotRecord};

/// A Raft log, hard state and snapshot in a RocksDB data directory (layout
/// in [`crate::layout`]).
///
/// The log's ends, the hard state, the snapshot record and the identity are
/// cached in memory (loaded at open, updated after each write), so
/// `first_index`, `last_index`, `initial_state` and the term at either end
/// never touch RocksDB. Writers are serialized by one mutex. A write that
/// removes entries readers might be looking at (truncation, compaction,
/// snapshot install) holds the cache's write lock while RocksDB applies it;
/// a plain append does not, and publishes the new last index afterwards.
pub struct RocksStore {
    dir: PathBuf,
    pub(crate) db: DB,
    pub(crate) snapshots: SnapshotFiles,
    state: RwLock<Cached>,
    writer: Mutex<()>,
}

/// What [`RocksStore`] keeps in memory. Invariant: equal to what RocksDB
/// holds, except during a write that holds the writer mutex.
#[derive(Clone, Debug)]
pub(crate) struct Cached {
    pub hard_state: HardState,
    pub snapshot: SnapshotRecord,
    /// The last index in the log; the snapshot index when the log is empty.
    pub last_index: LogIndex,
    /// The term at `last_index`.
    pub last_term: Term,
    pub identity: Option<Identity>,
    /// This data directory's incarnation (never 0).
    pub incarnation: u64,
    /// Incarnations remembered for peers.
    pub peer_incarnations: PeerIncarnations,
}

impl Cached {
    pub fn first_index(&self) -> LogIndex {
        self.snapshot.meta.last_log_id.index.next()
    }

    pub fn bounds(&self) -> LogBounds {
        LogBounds { snapshot: self.snapshot.meta.last_log_id, last_index: self.last_index, hard_state: self.hard_state }
    }
}

impl RocksStore {
    /// Opens the store in `dir`, creating the directory and an empty store if
    /// needed. Fails with `Locked` if another process has it open,
    /// `IncompatibleFormat` if another format version wrote it, `Corrupted`
    /// if its records fail their checksums.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| StoreError::Directory { path: dir.to_path_buf(), source: e })?;
        Self::open_dir(dir)
    }

    /// Opens the store in `dir`, which must already hold one: fails with
    /// `Directory` if `dir` is missing or unreadable, `NotFound` if it holds
    /// no store.
    pub fn open_existing(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        let meta = fs::metadata(dir).map_err(|e| StoreError::Directory { path: dir.to_path_buf(), source: e })?;
        if !meta.is_dir() {
            let source = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");
            return Err(StoreError::Directory { path: dir.to_path_buf(), source });
        }
        if !dir.join(DB_DIR).join("CURRENT").is_file() {
            return Err(StoreError::NotFound { path: dir.to_path_buf() });
        }
        Self::open_dir(dir)
    }

    fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        fs::read_dir(dir).map_err(|e| StoreError::Directory { path: dir.to_path_buf(), source: e })?;
        let db = open_db(&dir.join(DB_DIR))?;
        check_format(&db, dir)?;
        let cached = load_state(&db)?;
        let snapshots = SnapshotFiles::open(dir.join(SNAPSHOT_DIR))?;
        snapshots.remove_unreferenced(cached.snapshot.file.as_deref())?;
        tracing::debug!(
            dir = %dir.display(),
            first = cached.first_index().get(),
            last = cached.last_index.get(),
            term = cached.hard_state.term.get(),
            commit = cached.hard_state.commit.get(),
            "opened raft store"
        );
        Ok(RocksStore { dir: dir.to_path_buf(), db, snapshots, state: RwLock::new(cached), writer: Mutex::new(()) })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored hard state.
    pub fn hard_state(&self) -> HardState {
        self.read_state().hard_state
    }

    pub(crate) fn read_state(&self) -> RwLockReadGuard<'_, Cached> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_state(&self) -> RwLockWriteGuard<'_, Cached> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn cf_meta(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(CF_META).expect("invariant: database opened with column family \"meta\"")
    }

    pub(crate) fn cf_log(&self) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(CF_LOG).expect("invariant: database opened with column family \"log\"")
    }

    /// Writes `batch` to RocksDB, with a WAL fsync when `sync`.
    pub(crate) fn commit(&self, batch: rocksdb::WriteBatch, sync: bool) -> Result<(), StoreError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(batch, &opts).map_err(|e| {
            tracing::error!(dir = %self.dir.display(), error = %e, "raft store write failed");
            StoreError::from(e)
        })
    }

    /// Reads entry `index` from RocksDB; the caller has checked it is in the log.
    pub(crate) fn read_entry(&self, index: LogIndex) -> Result<Entry, StoreError> {
        let key = log_key(index.get());
        match self.db.get_pinned_cf(self.cf_log(), key)? {
            Some(value) => decode_entry(&key, &value, index),
            None => Err(missing(index)),
        }
    }

    /// The term at `index`, answered from the cache at either end of the log.
    pub(crate) fn term_in(&self, st: &Cached, index: LogIndex) -> Result<Term, StoreError> {
        let snap = st.snapshot.meta.last_log_id;
        if index == snap.index {
            return Ok(snap.term);
        }
        if index < snap.index {
            return Err(StoreError::Compacted { requested: index, first_index: st.first_index() });
        }
        if index > st.last_index {
            return Err(StoreError::Unavailable { requested: index, last_index: st.last_index });
        }
        if index == st.last_index {
            return Ok(st.last_term);
        }
        Ok(self.read_entry(index)?.term)
    }

    /// Entries `[lo, hi)`, stopping before the byte cap would be exceeded
    /// (keeping at least one), like [`raft_core::storage::limit_size`].
    fn read_range(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> Result<Vec<Entry>, StoreError> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(log_key(hi.get()).to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.cf_log(), opts);
        it.seek(log_key(lo.get()));
        let mut out = Vec::with_capacity((hi.get() - lo.get()).min(1024) as usize);
        let mut total = 0u64;
        let mut expected = lo;
        while expected < hi {
            let (Some(key), Some(value)) = (it.key(), it.value()) else {
                it.status()?;
                return Err(missing(expected));
            };
            if parse_log_key(key) != Some(expected.get()) {
                return Err(missing(expected));
            }
            let entry = decode_entry(key, value, expected)?;
            total += entry.size_bytes();
            if max_bytes.is_some_and(|max| total > max) && !out.is_empty() {
                break;
            }
            out.push(entry);
            expected = expected.next();
            it.next();
        }
        Ok(out)
    }
}

/// How many times `snapshot()` retries when snapshots are replaced under it.
const SNAPSHOT_READ_ATTEMPTS: u32 = 8;

fn missing(index: LogIndex) -> StoreError {
    StoreError::corrupted(format!("log entry {}", index.get()), "missing although inside the log's bounds")
}

impl Storage for RocksStore {
    fn initial_state(&self) -> StorageResult<InitialState> {
        let st = self.read_state();
        Ok(InitialState { hard_state: st.hard_state, membership: st.snapshot.meta.membership.clone() })
    }

    fn first_index(&self) -> StorageResult<LogIndex> {
        Ok(self.read_state().first_index())
    }

    fn last_index(&self) -> StorageResult<LogIndex> {
        Ok(self.read_state().last_index)
    }

    fn term(&self, index: LogIndex) -> StorageResult<Term> {
        let st = self.read_state();
        Ok(self.term_in(&st, index)?)
    }

    fn entries(&self, lo: LogIndex, hi: LogIndex, max_bytes: Option<u64>) -> StorageResult<Vec<Entry>> {
        let st = self.read_state();
        if lo < st.first_index() {
            return Err(StorageError::Compacted { requested: lo, first_index: st.first_index() });
        }
        if hi > st.last_index.next() {
            return Err(StorageError::Unavailable { requested: hi.prev(), last_index: st.last_index });
        }
        if lo >= hi {
            return Ok(Vec::new());
        }
        Ok(self.read_range(lo, hi, max_bytes)?)
    }

    /// Reads the snapshot's data file. A snapshot replaced while being read
    /// (its file deleted) is retried with the new one, up to
    /// [`SNAPSHOT_READ_ATTEMPTS`] times.
    fn snapshot(&self) -> StorageResult<Snapshot> {
        let mut record = self.read_state().snapshot.clone();
        let mut attempts = 1;
        loop {
            match self.snapshots.read(&record) {
                Ok(data) => return Ok(Snapshot { meta: record.meta, data }),
                Err(e) => {
                    let current = self.read_state().snapshot.clone();
                    if current == record || attempts >= SNAPSHOT_READ_ATTEMPTS {
                        return Err(e.into());
                    }
                    record = current;
                    attempts += 1;
                }
            }
        }
    }
}
