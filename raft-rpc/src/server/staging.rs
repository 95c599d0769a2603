//! Staging of incoming InstallSnapshot streams (Figure 13) on disk.
//!
//! A follower used to assemble a received snapshot in memory (up to
//! `Limits::max_snapshot_bytes`, 1 GiB), so a large state cost the
//! follower as much memory again as the state itself. With a staging
//! directory (for a RocksDB node `<data-dir>/snapshots/incoming/`) each
//! chunk is appended to a file of its own as it arrives, checked against
//! the limits and the sender's CRC-32 on the way ([`StreamCheck`]), and the
//! node receives a [`StagedSnapshot`]: the finished file, which its store
//! installs by renaming it into the snapshot directory.
//!
//! Bounds: at most [`Limits::max_incoming_snapshot_streams`] streams are
//! received at once (a further one is refused with RESOURCE_EXHAUSTED naming
//! the limit; a leader sends one snapshot per follower, so more means
//! several leaders or a misbehaving peer). A file is deleted when its stream
//! fails (bad CRC, short, idle, cancelled) and when the node drops the
//! staged snapshot without installing it; files left by a crash are deleted
//! when the server starts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use raft_core::Message;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

use super::stream_check::StreamCheck;
use crate::error::ConvertError;
use crate::limits::Limits;
use crate::pb::snapshot_chunk::Kind;

/// The staging directory of one server, and its stream slots.
#[derive(Debug)]
pub(crate) struct SnapshotStaging {
    dir: PathBuf,
    /// One permit per stream being received or staged and not yet
    /// installed or dropped.
    slots: Arc<Semaphore>,
    limit: usize,
    /// Makes every file name of this process distinct.
    counter: AtomicU64,
}

impl SnapshotStaging {
    /// Opens `dir` (creating it) and deletes what a previous run left in it:
    /// no stream survives a restart, and no file there is referenced by the
    /// store until it was renamed out of the directory.
    pub(crate) fn open(dir: PathBuf, limits: &Limits) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let mut removed = 0;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(dir = %dir.display(), removed, "deleted snapshot streams left by a previous run");
        }
        let limit = limits.max_incoming_snapshot_streams.max(1);
        Ok(SnapshotStaging { dir, slots: Arc::new(Semaphore::new(limit)), limit, counter: AtomicU64::new(0) })
    }

    /// Takes a slot and creates the file for a new stream, or refuses with
    /// RESOURCE_EXHAUSTED when every slot is taken.
    pub(crate) fn begin(&self, limits: &Limits) -> Result<StagingStream, Status> {
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{} snapshot streams are already being received (limits.max_incoming_snapshot_streams = {}); \
                 retry later",
                self.limit, self.limit
            ))
        })?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("stream-{}-{n}.part", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Status::internal(format!("cannot stage the snapshot at {}: {e}", path.display())))?;
        let staged = StagedSnapshot { path, len: 0, crc32: 0, _permit: permit };
        Ok(StagingStream { check: StreamCheck::new(limits), file: Some(file), staged })
    }
}

/// A stream being received into its staging file. Dropping it (the stream
/// failed) deletes the file and frees the slot.
#[derive(Debug)]
pub(crate) struct StagingStream {
    check: StreamCheck,
    /// `None` only while a write runs on a blocking thread.
    file: Option<File>,
    staged: StagedSnapshot,
}

impl StagingStream {
    /// Checks the next chunk and appends its data to the file, on a
    /// blocking thread.
    pub(crate) async fn push(&mut self, kind: Option<Kind>) -> Result<(), Status> {
        let Some(data) = self.check.push(kind)? else { return Ok(()) };
        let mut file = self.file.take().ok_or_else(|| Status::internal("staging file lost after a failed write"))?;
        let (file, written) = tokio::task::spawn_blocking(move || {
            let r = file.write_all(&data);
            (file, r)
        })
        .await
        .map_err(|e| Status::internal(format!("staging write task: {e}")))?;
        written.map_err(|e| {
            Status::internal(format!("cannot write the snapshot to {}: {e}", self.staged.path.display()))
        })?;
        self.file = Some(file);
        Ok(())
    }

    /// Ends the stream: the InstallSnapshot message (its data empty) and
    /// the staged file, once the length and the CRC-32 check out. On error
    /// the file is deleted.
    pub(crate) fn finish(self) -> Result<(Message, StagedSnapshot), ConvertError> {
        let StagingStream { check, file, mut staged } = self;
        drop(file);
        staged.len = check.received();
        let (msg, crc) = check.finish(Vec::new())?;
        staged.crc32 = crc;
        Ok((msg, staged))
    }
}

/// A snapshot received into a file, its length and CRC-32 checked against
/// what the sender announced. The node installs it by renaming the file
/// (`raft_storage::RocksStore::install_staged_snapshot`); dropping it
/// deletes the file if it is still there, and frees its stream slot.
#[derive(Debug)]
pub struct StagedSnapshot {
    path: PathBuf,
    len: u64,
    crc32: u32,
    /// Holds one of the server's stream slots until installed or dropped,
    /// so staged files awaiting installation count against the limit too.
    _permit: OwnedSemaphorePermit,
}

impl StagedSnapshot {
    /// The staged file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length of the data in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if the snapshot has no data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// CRC-32 of the data, as received and checked against the sender's.
    pub fn crc32(&self) -> u32 {
        self.crc32
    }

    /// Opens the data for reading (the state machine's pre-install check
    /// reads it from here).
    pub fn open(&self) -> io::Result<File> {
        File::open(&self.path)
    }
}

impl Drop for StagedSnapshot {
    fn drop(&mut self) {
        match fs::remove_file(&self.path) {
            Ok(()) => tracing::debug!(path = %self.path.display(), "staged snapshot deleted unused"),
            // Installed: the store renamed it away.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %self.path.display(), error = %e, "could not delete a staged snapshot"),
        }
    }
}
