//! Restoring the state machine from a stored snapshot without reading the
//! snapshot into memory: the data streams from the store's file through a
//! buffer, and [`VerifiedReader`] checks its length and CRC-32 on the way,
//! since the store's streaming reader does not (that would take a second
//! pass over the file).

use std::io::{self, BufReader, Read};

use crate::error::ClusterError;
use crate::fsm::{NodeStateMachine, RestoreJob};
use crate::store::SnapshotData;

/// Read buffer between the snapshot file and the state machine's decoder
/// (which reads in small pieces).
pub(crate) const RESTORE_BUFFER_BYTES: usize = 1 << 20;

/// A reader that fails with `InvalidData` at its end unless exactly `len`
/// bytes with CRC-32 `crc32` came through.
pub(crate) struct VerifiedReader<R> {
    inner: R,
    len: u64,
    crc32: u32,
    /// Bytes read so far; invariant: `read <= len` or the reader has failed.
    read: u64,
    hasher: crc32fast::Hasher,
}

impl<R: Read> VerifiedReader<R> {
    pub(crate) fn new(inner: R, len: u64, crc32: u32) -> Self {
        VerifiedReader { inner, len, crc32, read: 0, hasher: crc32fast::Hasher::new() }
    }

    /// Reads what the consumer left unread, so the end check runs.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        io::copy(&mut self, &mut io::sink()).map(drop)
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.hasher.update(&buf[..n]);
        if self.read > self.len {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("more than {} bytes", self.len)));
        }
        if n == 0 && !buf.is_empty() {
            let crc = self.hasher.clone().finalize();
            if self.read != self.len || crc != self.crc32 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "snapshot data is {} bytes with CRC-32 {crc:08x}; the store recorded {} bytes, {:08x}",
                        self.read, self.len, self.crc32
                    ),
                ));
            }
        }
        Ok(n)
    }
}

/// Replaces `sm`'s state with the snapshot `data`, streamed and verified.
pub(crate) fn restore_from<M: NodeStateMachine>(sm: &mut M, data: SnapshotData) -> Result<(), ClusterError> {
    read_verified(data, |meta, r| sm.restore(meta, r))
}

/// Runs `job` over the snapshot `data`, streamed and verified; blocking.
pub(crate) fn restore_job_from<M>(job: RestoreJob<M>, data: SnapshotData) -> Result<M, ClusterError> {
    read_verified(data, job)
}

/// Hands `read` the snapshot through a buffer and the length/CRC check, and
/// requires the whole file to have passed the check afterwards.
fn read_verified<T>(
    data: SnapshotData,
    read: impl FnOnce(&raft_core::SnapshotMeta, &mut dyn Read) -> Result<T, String>,
) -> Result<T, ClusterError> {
    let SnapshotData { meta, len, crc32, reader } = data;
    let mut verified = VerifiedReader::new(BufReader::with_capacity(RESTORE_BUFFER_BYTES, reader), len, crc32);
    let out = read(&meta, &mut verified).map_err(ClusterError::StateMachine)?;
    verified.finish().map_err(|e| ClusterError::Storage(format!("snapshot at {}: {e}", meta.last_log_id.index)))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], len: u64, crc: u32) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        VerifiedReader::new(data, len, crc).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn passes_exact_data_and_refuses_a_flipped_bit_or_a_wrong_length() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let crc = crc32fast::hash(&data);
        assert_eq!(read_all(&data, data.len() as u64, crc).unwrap(), data);
        let mut bad = data.clone();
        bad[4321] ^= 1;
        assert_eq!(read_all(&bad, data.len() as u64, crc).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(read_all(&data[..9_999], data.len() as u64, crc).is_err(), "short");
        assert!(read_all(&data, data.len() as u64 - 1, crc).is_err(), "long");
    }

    #[test]
    fn finish_checks_what_the_consumer_left_unread() {
        let data = vec![7u8; 100];
        let mut r = VerifiedReader::new(&data[..], 100, crc32fast::hash(&data));
        let mut head = [0u8; 10];
        r.read_exact(&mut head).unwrap();
        r.finish().unwrap();
        let mut r = VerifiedReader::new(&data[..], 100, crc32fast::hash(b"other"));
        r.read_exact(&mut head).unwrap();
        assert!(r.finish().is_err());
    }
}
