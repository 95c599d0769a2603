//! Installing a snapshot received from a leader by renaming the file it was
//! streamed into, so the follower never holds the snapshot in memory.
//!
//! The transport writes the stream to `<dir>/snapshots/incoming/<name>`
//! ([`RocksStore::staging_dir`]), checking the sender's CRC-32 as bytes
//! arrive. Installing it then costs an fsync and a rename, whatever its
//! size, instead of a second copy of the data:
//!
//! 1. the staged file is checked to have the announced length and fsynced;
//! 2. it is renamed over a freshly reserved `snap-…` name in `snapshots/`
//!    (same filesystem, so the rename is atomic) and the directory fsynced;
//! 3. the snapshot record in RocksDB is pointed at it in one synced batch
//!    with the log changes (Figure 13, rules 6–7).
//!
//! A crash before step 2 leaves a file in `incoming/`, which the transport
//! deletes at start-up; a crash between 2 and 3 leaves a `snap-…` file no
//! record points at, which [`RocksStore::open`] deletes. Either way the
//! store still holds its previous snapshot, intact.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use raft_core::SnapshotMeta;

use crate::error::StoreError;
use crate::layout::INCOMING_DIR;
use crate::rocks_store::RocksStore;
use crate::snapshot_files::{sync_dir, SnapshotFiles, SnapshotRecord};

/// A staged snapshot file as its receiver describes it.
#[derive(Clone, Copy, Debug)]
pub struct StagedFile<'a> {
    /// The file; must be inside [`RocksStore::staging_dir`].
    pub path: &'a Path,
    /// Its exact length in bytes.
    pub len: u64,
    /// CRC-32 of its bytes, as the receiver computed (and checked) them.
    pub crc32: u32,
}

impl RocksStore {
    /// Where a receiver stages incoming snapshot streams for
    /// [`Self::install_staged_snapshot`] (created on demand by the
    /// receiver, which also owns clearing it at start-up).
    pub fn staging_dir(&self) -> PathBuf {
        self.snapshots.dir().join(INCOMING_DIR)
    }

    /// Installs the leader's snapshot `meta` whose data is the staged file
    /// `staged`, by renaming that file into the snapshot directory (see the
    /// module docs for the crash-safety argument). Refused, with the store
    /// and the staged file untouched, if the snapshot is not newer than the
    /// stored one ([`StoreError::StaleSnapshot`]) or the file is not
    /// `staged.len` bytes long ([`StoreError::StagedSnapshot`]).
    pub fn install_staged_snapshot(&self, meta: &SnapshotMeta, staged: StagedFile<'_>) -> Result<(), StoreError> {
        self.install_with(meta, || self.snapshots.adopt(meta, staged))
    }
}

impl SnapshotFiles {
    /// Moves a staged file into the snapshot directory under a new name
    /// and describes it (steps 1–2 of the module docs).
    pub(crate) fn adopt(&self, meta: &SnapshotMeta, staged: StagedFile<'_>) -> Result<SnapshotRecord, StoreError> {
        let path = staged.path;
        let invalid = |detail: String| StoreError::StagedSnapshot { path: path.to_path_buf(), detail };
        let file = File::open(path).map_err(|e| invalid(format!("cannot open: {e}")))?;
        let actual = file.metadata().map_err(|e| StoreError::io(format!("stat {}", path.display()), e))?.len();
        if actual != staged.len {
            return Err(invalid(format!("{actual} bytes on disk, {} announced", staged.len)));
        }
        file.sync_all().map_err(|e| StoreError::io(format!("fsync {}", path.display()), e))?;
        drop(file);
        let (name, target) = self.reserve(meta)?;
        // Replaces the empty reserved file atomically.
        if let Err(e) = fs::rename(path, &target) {
            self.remove(&name);
            return Err(StoreError::io(format!("rename {} to {}", path.display(), target.display()), e));
        }
        if let Err(e) = sync_dir(self.dir()) {
            self.remove(&name);
            return Err(e);
        }
        Ok(SnapshotRecord { meta: meta.clone(), file: Some(name), len: staged.len, crc: staged.crc32 })
    }
}
