//! Opening a RocksDB data directory: the database itself, the format check
//! and loading the records that [`crate::RocksStore`] caches in memory.

use std::path::Path;

use raft_core::{Entry, HardState, LogIndex};
use rocksdb::{ColumnFamilyDescriptor, ErrorKind, IteratorMode, Options, WriteOptions, DB};

use crate::error::StoreError;
use crate::identity::Identity;
use crate::layout::{
    format_record, log_key, parse_format_record, parse_log_key, unseal, CF_LOG, CF_META, FORMAT_KEY, FORMAT_VERSION,
    HARD_STATE_KEY, IDENTITY_KEY, SNAPSHOT_KEY,
};
use crate::rocks_store::Cached;
use crate::snapshot_files::SnapshotRecord;

/// How many RocksDB info log files to keep (they are for debugging only).
const KEEP_INFO_LOGS: usize = 3;
/// Largest RocksDB info log file before it rolls over.
const MAX_INFO_LOG_BYTES: usize = 4 << 20;
/// WAL files RocksDB may reuse instead of creating (a reused, already
/// allocated file makes each fdatasync cheaper: no size change to journal).
const RECYCLED_WAL_FILES: usize = 2;
/// The log column family's memtable: entries are read back from it only
/// when the runtime's log cache misses, so a small one suffices. It also
/// bounds how much RocksDB holds in memory (two memtables at most) and,
/// with [`MAX_TOTAL_WAL_BYTES`], how soon a WAL file becomes obsolete and
/// can be recycled.
const LOG_WRITE_BUFFER_BYTES: usize = 16 << 20;
/// Past this much live WAL, RocksDB flushes the column families that keep
/// the oldest WAL file alive (the small `meta` family is written with every
/// hard state and would otherwise pin every WAL until it fills its own
/// 64 MiB memtable).
const MAX_TOTAL_WAL_BYTES: u64 = 64 << 20;

/// Opens (creating if needed) the database with the `meta` and `log` column
/// families. RocksDB's LOCK file makes a second opener fail: that becomes
/// [`StoreError::Locked`].
pub(crate) fn open_db(path: &Path) -> Result<DB, StoreError> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_keep_log_file_num(KEEP_INFO_LOGS);
    opts.set_max_log_file_size(MAX_INFO_LOG_BYTES);
    opts.set_recycle_log_file_num(RECYCLED_WAL_FILES);
    opts.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
    let mut log_opts = Options::default();
    log_opts.set_write_buffer_size(LOG_WRITE_BUFFER_BYTES);
    let cfs = [ColumnFamilyDescriptor::new(CF_META, Options::default()), ColumnFamilyDescriptor::new(CF_LOG, log_opts)];
    DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| {
        let detail = e.clone().into_string();
        if e.kind() == ErrorKind::IOError && detail.to_ascii_lowercase().contains("lock") {
            StoreError::Locked { path: path.to_path_buf(), detail }
        } else {
            StoreError::Backend(detail)
        }
    })
}

fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name).unwrap_or_else(|| panic!("invariant: database opened with column family {name:?}"))
}

/// Checks the format record; writes it (synced) if the database is brand new.
pub(crate) fn check_format(db: &DB, dir: &Path) -> Result<(), StoreError> {
    let meta = cf(db, CF_META);
    match db.get_pinned_cf(meta, FORMAT_KEY)? {
        Some(value) => match parse_format_record(&value) {
            Some(FORMAT_VERSION) => Ok(()),
            Some(found) => Err(StoreError::IncompatibleFormat { found, supported: FORMAT_VERSION }),
            None => Err(StoreError::NotAStore { path: dir.to_path_buf(), detail: "unreadable format record".into() }),
        },
        None if is_blank(db) => {
            let mut opts = WriteOptions::default();
            opts.set_sync(true);
            db.put_cf_opt(meta, FORMAT_KEY, format_record(FORMAT_VERSION), &opts)?;
            Ok(())
        }
        None => Err(StoreError::NotAStore {
            path: dir.to_path_buf(),
            detail: "the database holds data but no format record".into(),
        }),
    }
}

fn is_blank(db: &DB) -> bool {
    let default_empty = db.iterator(IteratorMode::Start).next().is_none();
    default_empty
        && [CF_META, CF_LOG].iter().all(|name| db.iterator_cf(cf(db, name), IteratorMode::Start).next().is_none())
}

/// Reads everything [`Cached`] holds, checking the log's ends.
pub(crate) fn load_state(db: &DB) -> Result<Cached, StoreError> {
    let meta = cf(db, CF_META);
    let hard_state: HardState = read_meta(db, meta, HARD_STATE_KEY, "hard state")?.unwrap_or_default();
    let snapshot: SnapshotRecord = read_meta(db, meta, SNAPSHOT_KEY, "snapshot record")?.unwrap_or_default();
    let identity: Option<Identity> = read_meta(db, meta, IDENTITY_KEY, "identity record")?;
    let snap = snapshot.meta.last_log_id;
    let (last_index, last_term) = match last_entry(db)? {
        Some(entry) if entry.index > snap.index => (entry.index, entry.term),
        Some(entry) => {
            return Err(StoreError::corrupted(
                format!("log entry {}", entry.index.get()),
                format!("it is at or below the snapshot index {} but was not deleted", snap.index),
            ))
        }
        None => (snap.index, snap.term),
    };
    if last_index > snap.index {
        check_first_key(db, snap.index.next())?;
    }
    let incarnation = crate::incarnation::load_or_create(db)?;
    let peer_incarnations = crate::incarnation::load_peers(db)?;
    Ok(Cached { hard_state, snapshot, last_index, last_term, identity, incarnation, peer_incarnations })
}

fn read_meta<T: serde::de::DeserializeOwned>(
    db: &DB,
    meta: &rocksdb::ColumnFamily,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, StoreError> {
    match db.get_pinned_cf(meta, key)? {
        Some(value) => Ok(Some(unseal(key, &value, || what.to_string())?)),
        None => Ok(None),
    }
}

fn last_entry(db: &DB) -> Result<Option<Entry>, StoreError> {
    let mut it = db.raw_iterator_cf(cf(db, CF_LOG));
    it.seek_to_last();
    if !it.valid() {
        it.status()?;
        return Ok(None);
    }
    let (key, value) = (it.key().unwrap_or_default(), it.value().unwrap_or_default());
    let index = parse_log_key(key)
        .ok_or_else(|| StoreError::corrupted("log", format!("key of {} bytes is not an index", key.len())))?;
    decode_entry(key, value, LogIndex(index)).map(Some)
}

fn check_first_key(db: &DB, first: LogIndex) -> Result<(), StoreError> {
    let mut it = db.raw_iterator_cf(cf(db, CF_LOG));
    it.seek(log_key(first.get()));
    it.status()?;
    match it.key().and_then(parse_log_key) {
        Some(found) if found == first.get() => Ok(()),
        found => Err(StoreError::corrupted(
            format!("log entry {}", first.get()),
            format!("missing: the log should start there, its first key is {found:?}"),
        )),
    }
}

/// Checks and decodes the value stored under log key `key`, which must hold
/// entry `index`.
pub(crate) fn decode_entry(key: &[u8], value: &[u8], index: LogIndex) -> Result<Entry, StoreError> {
    let what = || format!("log entry {}", index.get());
    let entry: Entry = unseal(key, value, what)?;
    if entry.index != index {
        return Err(StoreError::corrupted(what(), format!("holds entry {} instead", entry.index.get())));
    }
    Ok(entry)
}
