//! [`SnapshotReader`]: the current snapshot's data as a stream.
//!
//! A leader sends its snapshot to a lagging follower. Reading the whole file
//! into memory first (what [`raft_core::Storage::snapshot`] does) costs as
//! much memory as the snapshot and, on the task that drives the node, stalls
//! heartbeats. The reader instead holds the open file: the transport reads
//! it chunk by chunk on a blocking thread. An open file stays readable after
//! a newer snapshot replaces it and its name is deleted, so a transfer in
//! progress is never torn.

use std::fs::File;
use std::io::{ErrorKind, Read, Take};

use raft_core::SnapshotMeta;

use crate::error::StoreError;
use crate::rocks_store::RocksStore;
use crate::snapshot_files::{SnapshotFiles, SnapshotRecord};

/// How many times `open_snapshot` retries when snapshots are replaced under it.
const OPEN_ATTEMPTS: u32 = 8;

/// The data of one snapshot, opened for reading.
#[derive(Debug)]
pub struct SnapshotReader {
    meta: SnapshotMeta,
    len: u64,
    crc32: u32,
    /// `None` for the bootstrap snapshot, which has no data.
    file: Option<Take<File>>,
}

impl SnapshotReader {
    /// Where the snapshot sits in the log.
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// Length of the data in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if the snapshot has no data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// CRC-32 of the data, recorded when the snapshot was stored. The reader
    /// does not check it (that would need a second pass); the receiver does.
    pub fn crc32(&self) -> u32 {
        self.crc32
    }
}

impl Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.read(buf),
            None => Ok(0),
        }
    }
}

impl SnapshotFiles {
    /// Opens the data `record` points at (not read nor checked yet).
    pub(crate) fn open_reader(&self, record: &SnapshotRecord) -> Result<SnapshotReader, StoreError> {
        let file = match &record.file {
            None => None,
            Some(name) => {
                let path = self.path(name);
                let file = File::open(&path).map_err(|e| match e.kind() {
                    ErrorKind::NotFound => {
                        StoreError::corrupted(format!("snapshot file {}", path.display()), "missing")
                    }
                    _ => StoreError::io(format!("open {}", path.display()), e),
                })?;
                Some(file.take(record.len))
            }
        };
        Ok(SnapshotReader { meta: record.meta.clone(), len: record.len, crc32: record.crc, file })
    }
}

impl RocksStore {
    /// The current snapshot's position and membership, without its data.
    pub fn snapshot_meta(&self) -> SnapshotMeta {
        self.read_state().snapshot.meta.clone()
    }

    /// Opens the current snapshot's data for streaming. A snapshot replaced
    /// between reading its record and opening its file is retried with the
    /// new one, up to a few times.
    pub fn open_snapshot(&self) -> Result<SnapshotReader, StoreError> {
        let mut record = self.read_state().snapshot.clone();
        let mut attempts = 1;
        loop {
            match self.snapshots.open_reader(&record) {
                Ok(reader) => return Ok(reader),
                Err(e) => {
                    let current = self.read_state().snapshot.clone();
                    if current == record || attempts >= OPEN_ATTEMPTS {
                        return Err(e);
                    }
                    record = current;
                    attempts += 1;
                }
            }
        }
    }
}
