//! [`SnapshotFiles`]: snapshot data kept as files next to the database,
//! written so that a crash leaves either the old or the new snapshot, never a
//! torn one.
//!
//! The data goes to a temporary file, is fsynced, renamed to its final name
//! and the directory is fsynced; only then does the caller point the meta
//! record in RocksDB at it. Files the meta record does not point at (a crash
//! between the rename and the meta write) are deleted at the next open.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use raft_core::SnapshotMeta;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// What the meta column family stores about the current snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotRecord {
    /// The snapshot's position and membership.
    pub meta: SnapshotMeta,
    /// The data file's name in the snapshot directory; `None` for the
    /// bootstrap snapshot, which has no data.
    pub file: Option<String>,
    /// The data's length in bytes.
    pub len: u64,
    /// CRC32 of the data.
    pub crc: u32,
}

/// The snapshot directory of one store.
#[derive(Debug)]
pub(crate) struct SnapshotFiles {
    dir: PathBuf,
    /// Makes every file name this process reserves distinct.
    counter: AtomicU64,
}

/// How many names `reserve` tries before giving up.
const MAX_NAME_ATTEMPTS: u64 = 1000;

impl SnapshotFiles {
    /// Opens (creating if needed) the snapshot directory.
    pub fn open(dir: PathBuf) -> Result<Self, StoreError> {
        fs::create_dir_all(&dir).map_err(|e| StoreError::Directory { path: dir.clone(), source: e })?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(SnapshotFiles { dir, counter: AtomicU64::new(0) })
    }

    /// Durably writes `data` to a new file and describes it.
    pub fn write(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<SnapshotRecord, StoreError> {
        let (name, path) = self.reserve(meta)?;
        let tmp = self.dir.join(format!("{name}.tmp"));
        let result = write_synced(&tmp, data)
            .and_then(|()| fs::rename(&tmp, &path).map_err(|e| StoreError::io(format!("rename {}", tmp.display()), e)))
            .and_then(|()| sync_dir(&self.dir));
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(SnapshotRecord { meta: meta.clone(), file: Some(name), len: data.len() as u64, crc: crc32fast::hash(data) })
    }

    /// Reads and verifies the data `record` points at.
    pub fn read(&self, record: &SnapshotRecord) -> Result<Vec<u8>, StoreError> {
        let Some(name) = &record.file else { return Ok(Vec::new()) };
        let path = self.dir.join(name);
        let what = || format!("snapshot file {}", path.display());
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => StoreError::corrupted(what(), "missing"),
            _ => StoreError::io(format!("open {}", path.display()), e),
        })?;
        let mut data = Vec::with_capacity(usize::try_from(record.len).unwrap_or(0));
        // Read one byte past the expected length so a longer file is noticed.
        (&mut file)
            .take(record.len.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| StoreError::io(format!("read {}", path.display()), e))?;
        if data.len() as u64 != record.len {
            return Err(StoreError::corrupted(what(), format!("expected {} bytes, found {}+", record.len, data.len())));
        }
        let crc = crc32fast::hash(&data);
        if crc != record.crc {
            return Err(StoreError::corrupted(what(), format!("checksum {crc:08x}, expected {:08x}", record.crc)));
        }
        Ok(data)
    }

    /// The snapshot directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file `name` lives.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Deletes a file no record points at any more. Failure only wastes
    /// space (the next open retries), so it is logged, not returned.
    pub fn remove(&self, name: &str) {
        let path = self.dir.join(name);
        if let Err(e) = fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not delete old snapshot file");
        }
    }

    /// Deletes every snapshot file except `keep` (leftovers of a crash).
    pub fn remove_unreferenced(&self, keep: Option<&str>) -> Result<(), StoreError> {
        let entries =
            fs::read_dir(&self.dir).map_err(|e| StoreError::Directory { path: self.dir.clone(), source: e })?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::Directory { path: self.dir.clone(), source: e })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("snap-") && Some(&*name) != keep {
                self.remove(&name);
            }
        }
        Ok(())
    }

    /// Creates an empty file under a name no other snapshot uses, so the
    /// rename in `write` can never replace a live snapshot's data.
    pub(crate) fn reserve(&self, meta: &SnapshotMeta) -> Result<(String, PathBuf), StoreError> {
        let id = meta.last_log_id;
        for _ in 0..MAX_NAME_ATTEMPTS {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let name = format!("snap-{:020}-{:020}-{n}.bin", id.term.get(), id.index.get());
            let path = self.dir.join(&name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok((name, path)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io(format!("create {}", path.display()), e)),
            }
        }
        Err(StoreError::io(
            format!("reserve a snapshot file name in {}", self.dir.display()),
            std::io::Error::new(ErrorKind::AlreadyExists, format!("{MAX_NAME_ATTEMPTS} names taken")),
        ))
    }
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let mut file = File::create(path).map_err(|e| StoreError::io(format!("create {}", path.display()), e))?;
    file.write_all(data).map_err(|e| StoreError::io(format!("write {}", path.display()), e))?;
    file.sync_all().map_err(|e| StoreError::io(format!("fsync {}", path.display()), e))
}

/// Makes a rename or a new file in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("fsync directory {}", dir.display()), e))
}
