//! Reassembles an InstallSnapshot stream (Figure 13) into one core message
//! in memory, enforcing the chunk and total size limits as chunks arrive
//! ([`StreamCheck`]) and checking the data against the header's CRC-32 so
//! that a snapshot damaged in transit never reaches the node (which would
//! make it durable).
//!
//! A server with a staging directory never uses this: it streams the data
//! to a file instead ([`super::staging`]), so a follower's memory does not
//! grow with the snapshot. The assembler serves nodes without a data
//! directory, and the fuzz targets.

use raft_core::Message;

use super::stream_check::StreamCheck;
use crate::error::ConvertError;
use crate::limits::Limits;
use crate::pb::snapshot_chunk::Kind;

/// Largest buffer reserved up front, whatever the header announces: the rest
/// grows as data actually arrives.
const MAX_PREALLOC_BYTES: u64 = 64 << 20;

/// Collects the chunks of one transfer: exactly one header first, then data.
#[derive(Debug)]
pub struct SnapshotAssembler {
    check: StreamCheck,
    /// Invariant: `data.len() == check.received()`.
    data: Vec<u8>,
}

impl SnapshotAssembler {
    /// An assembler applying `limits`.
    pub fn new(limits: &Limits) -> Self {
        SnapshotAssembler { check: StreamCheck::new(limits), data: Vec::new() }
    }

    /// Adds the next chunk's payload (the cluster id is checked by the
    /// caller).
    pub fn push(&mut self, kind: Option<Kind>) -> Result<(), ConvertError> {
        let had_header = self.check.header().is_some();
        let data = self.check.push(kind)?;
        if let (false, Some(h)) = (had_header, self.check.header()) {
            self.data = Vec::with_capacity(h.total_bytes.min(MAX_PREALLOC_BYTES) as usize);
        }
        if let Some(d) = data {
            self.data.extend_from_slice(&d);
        }
        Ok(())
    }

    /// Bytes of data received so far.
    pub fn received_bytes(&self) -> u64 {
        self.check.received()
    }

    /// The reassembled InstallSnapshot message; fails if the header is
    /// missing, fewer bytes arrived than it announced, or their CRC-32 is
    /// not the header's.
    pub fn finish(self) -> Result<Message, ConvertError> {
        self.check.finish(self.data).map(|(msg, _)| msg)
    }
}
