//! [`StreamCheck`]: the rules every InstallSnapshot stream (Figure 13) must
//! follow, whether its data is assembled in memory ([`super::SnapshotAssembler`])
//! or staged to a file ([`super::staging`]): one header first, then data
//! chunks within the chunk and total size limits, exactly the announced
//! number of bytes, and the sender's CRC-32 over the bytes as they arrive.
//! Checking as chunks arrive means a misbehaving sender is cut off before
//! the receiver has stored more than the limit.

use raft_core::Message;

use crate::convert::message::{check_snapshot_crc, message_from_header};
use crate::error::ConvertError;
use crate::limits::Limits;
use crate::pb;
use crate::pb::snapshot_chunk::Kind;

/// The validation state of one stream.
#[derive(Debug)]
pub(crate) struct StreamCheck {
    max_chunk_bytes: usize,
    max_total_bytes: u64,
    /// Set by the first chunk; invariant: `received <= header.total_bytes`.
    header: Option<pb::SnapshotHeader>,
    received: u64,
    /// CRC-32 of the data received so far.
    crc: crc32fast::Hasher,
}

impl StreamCheck {
    pub(crate) fn new(limits: &Limits) -> Self {
        StreamCheck {
            max_chunk_bytes: limits.max_snapshot_chunk_bytes,
            max_total_bytes: limits.max_snapshot_bytes,
            header: None,
            received: 0,
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Checks the next chunk; returns its data, to be stored by the caller
    /// (`None` for the header).
    pub(crate) fn push(&mut self, kind: Option<Kind>) -> Result<Option<Vec<u8>>, ConvertError> {
        match (kind.ok_or(ConvertError::Missing("snapshot_chunk.kind"))?, &self.header) {
            (Kind::Header(h), None) => self.start(h).map(|()| None),
            (Kind::Header(_), Some(_)) => Err(ConvertError::invalid("snapshot_chunk.header", "second header")),
            (Kind::Data(_), None) => Err(ConvertError::invalid("snapshot_chunk.data", "data before the header")),
            (Kind::Data(d), Some(h)) => {
                if d.len() > self.max_chunk_bytes {
                    let reason = format!("chunk of {} bytes exceeds the limit of {}", d.len(), self.max_chunk_bytes);
                    return Err(ConvertError::invalid("snapshot_chunk.data", reason));
                }
                let total = self.received + d.len() as u64;
                if total > h.total_bytes {
                    let reason = format!("{total} bytes received but the header announced {}", h.total_bytes);
                    return Err(ConvertError::invalid("snapshot_chunk.data", reason));
                }
                self.crc.update(&d);
                self.received = total;
                Ok(Some(d))
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
        self.header = Some(h);
        Ok(())
    }

    /// The header, once received.
    pub(crate) fn header(&self) -> Option<&pb::SnapshotHeader> {
        self.header.as_ref()
    }

    /// Bytes of data received so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Ends the stream: the InstallSnapshot message carrying `data` (empty
    /// when the data was stored elsewhere) and the CRC-32 of the bytes
    /// received. Fails if the header is missing, fewer bytes arrived than
    /// it announced, or their CRC-32 is not the header's.
    pub(crate) fn finish(self, data: Vec<u8>) -> Result<(Message, u32), ConvertError> {
        let header = self.header.ok_or(ConvertError::Missing("snapshot_chunk.header"))?;
        if self.received != header.total_bytes {
            let reason = format!("header announced {} bytes, stream delivered {}", header.total_bytes, self.received);
            return Err(ConvertError::invalid("snapshot.data", reason));
        }
        let expected = header.data_crc32;
        let total = if data.is_empty() { 0 } else { header.total_bytes };
        let msg = message_from_header(pb::SnapshotHeader { total_bytes: total, ..header }, data)?;
        let crc = self.crc.finalize();
        check_snapshot_crc(expected, crc)?;
        Ok((msg, crc))
    }
}
