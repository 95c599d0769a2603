//! Reassembles an InstallSnapshot stream (Figure 13) into one core message,
//! enforcing the chunk and total size limits as chunks arrive so that a
//! misbehaving sender cannot make the receiver buffer without bound, and
//! checking the data against the header's CRC-32 so that a snapshot damaged
//! in transit never reaches the node (which would make it durable).

use raft_core::Message;

use crate::convert::message::{check_snapshot_crc, message_from_header};
use crate::error::ConvertError;
use crate::limits::Limits;
use crate::pb;
use crate::pb::snapshot_chunk::Kind;

/// Largest buffer reserved up front, whatever the header announces: the rest
/// grows as data actually arrives.
const MAX_PREALLOC_BYTES: u64 = 64 << 20;

/// Collects the chunks of one transfer: exactly one header first, then data.
#[derive(Debug)]
pub struct SnapshotAssembler {
    max_chunk_bytes: usize,
    max_total_bytes: u64,
    /// Set by the first chunk; invariant: `data.len() <= header.total_bytes`.
    header: Option<pb::SnapshotHeader>,
    data: Vec<u8>,
    /// CRC-32 of `data`, updated chunk by chunk.
    crc: crc32fast::Hasher,
}

impl SnapshotAssembler {
    /// An assembler applying `limits`.
    pub fn new(limits: &Limits) -> Self {
        SnapshotAssembler {
            max_chunk_bytes: limits.max_snapshot_chunk_bytes,
            max_total_bytes: limits.max_snapshot_bytes,
            header: None,
            data: Vec::new(),
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Adds the next chunk's payload (the cluster id is checked by the
    /// caller).
    pub fn push(&mut self, kind: Option<Kind>) -> Result<(), ConvertError> {
        match (kind.ok_or(ConvertError::Missing("snapshot_chunk.kind"))?, &self.header) {
            (Kind::Header(h), None) => self.start(h),
            (Kind::Header(_), Some(_)) => Err(ConvertError::invalid("snapshot_chunk.header", "second header")),
            (Kind::Data(_), None) => Err(ConvertError::invalid("snapshot_chunk.data", "data before the header")),
            (Kind::Data(d), Some(h)) => {
                if d.len() > self.max_chunk_bytes {
                    let reason = format!("chunk of {} bytes exceeds the limit of {}", d.len(), self.max_chunk_bytes);
                    return Err(ConvertError::invalid("snapshot_chunk.data", reason));
                }
                let total = self.data.len() as u64 + d.len() as u64;
                if total > h.total_bytes {
                    let reason = format!("{total} bytes received but the header announced {}", h.total_bytes);
                    return Err(ConvertError::invalid("snapshot_chunk.data", reason));
                }
                self.crc.update(&d);
                self.data.extend_from_slice(&d);
                Ok(())
            }
        }
    }

    fn start(&mut self, h: pb::SnapshotHeader) -> Result<(), ConvertError> {
        if h.total_bytes > self.max_total_bytes {
            let reason = format!("snapshot of {} bytes exceeds the limit of {}", h.total_bytes, self.max_total_bytes);
            return Err(ConvertError::invalid("snapshot_header.total_bytes", reason));
        }
        // Validate every header field now rather than after the data.
        h.data_crc32.ok_or(ConvertError::Missing("snapshot_header.data_crc32"))?;
        message_from_header(pb::SnapshotHeader { total_bytes: 0, ..h.clone() }, Vec::new())?;
        self.data = Vec::with_capacity(h.total_bytes.min(MAX_PREALLOC_BYTES) as usize);
        self.header = Some(h);
        Ok(())
    }

    /// Bytes of data received so far.
    pub fn received_bytes(&self) -> u64 {
        self.data.len() as u64
    }

    /// The reassembled InstallSnapshot message; fails if the header is
    /// missing, fewer bytes arrived than it announced, or their CRC-32 is
    /// not the header's.
    pub fn finish(self) -> Result<Message, ConvertError> {
        let header = self.header.ok_or(ConvertError::Missing("snapshot_chunk.header"))?;
        let expected = header.data_crc32;
        // Length and fields first: a short transfer says so, not "bad CRC".
        let msg = message_from_header(header, self.data)?;
        check_snapshot_crc(expected, self.crc.finalize())?;
        Ok(msg)
    }
}
