//! The KV snapshot format: streamed, checksummed, versioned.
//!
//! ```text
//! header   magic "RAFTKVSN" | version u32 LE | applied term u64 LE | applied index u64 LE
//! frames   (len u32 LE | record encoded with raft_core::codec)*   pairs, then sessions
//!          each followed by its responses, then one End record with the counts
//! trailer  crc32 u32 LE over every byte from the magic to the end of the End frame
//! ```
//!
//! Each record is encoded separately, so neither side ever holds the whole
//! snapshot in one buffer. Restore builds the new state on the side and the
//! caller swaps it in only after the checksum matched, so a corrupt or
//! truncated snapshot leaves the store unchanged.

use super::store::KvMap;
use std::io::{self, Read, Write};

use raft_core::codec::{self, DEFAULT_DECODE_LIMIT};
use raft_core::{LogId, LogIndex, SnapshotMeta, Term};
use serde::{Deserialize, Serialize};

use super::session::{Session, SessionConfig, SessionTable};
use super::KvResponse;
use crate::{SnapshotError, SnapshotValidator, StateMachineError};

/// First bytes of every KV snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"RAFTKVSN";
/// The format version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Largest frame a reader accepts (bounds the allocation a corrupt length
/// prefix can cause).
pub const MAX_FRAME_BYTES: u64 = DEFAULT_DECODE_LIMIT;

/// A record as written (borrows the state). Variant order must match
/// [`Record`]: both encode to the same bytes.
#[derive(Serialize)]
enum RecordRef<'a> {
    Pair { key: &'a [u8], value: &'a [u8] },
    Session { client_id: u64, last_used: LogIndex, floor: u64 },
    Response { client_id: u64, seq: u64, response: &'a KvResponse },
    End { pairs: u64, sessions: u64, responses: u64 },
}

/// A record as read.
#[derive(Deserialize)]
enum Record {
    Pair { key: Vec<u8>, value: Vec<u8> },
    Session { client_id: u64, last_used: LogIndex, floor: u64 },
    Response { client_id: u64, seq: u64, response: KvResponse },
    End { pairs: u64, sessions: u64, responses: u64 },
}

/// Passes bytes through while hashing them.
struct Crc<T> {
    inner: T,
    hasher: crc32fast::Hasher,
}

impl<W: Write> Crc<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.inner.write_all(bytes)
    }

    fn frame(&mut self, record: &RecordRef<'_>) -> Result<(), StateMachineError> {
        let bytes = codec::encode(record)?;
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|len| u64::from(*len) <= MAX_FRAME_BYTES)
            .ok_or(SnapshotError::FrameTooLarge { len: bytes.len() as u64, max: MAX_FRAME_BYTES })?;
        self.put(&len.to_le_bytes())?;
        Ok(self.put(&bytes)?)
    }
}

impl<R: Read> Crc<R> {
    fn take(&mut self, buf: &mut [u8], context: &'static str) -> Result<(), StateMachineError> {
        read_exact(&mut self.inner, buf, context)?;
        self.hasher.update(buf);
        Ok(())
    }

    fn next_record(&mut self) -> Result<Record, StateMachineError> {
        let mut len = [0u8; 4];
        self.take(&mut len, "frame length")?;
        let len = u64::from(u32::from_le_bytes(len));
        if len > MAX_FRAME_BYTES {
            return Err(SnapshotError::FrameTooLarge { len, max: MAX_FRAME_BYTES }.into());
        }
        let mut bytes = vec![0u8; len as usize];
        self.take(&mut bytes, "frame body")?;
        codec::decode(&bytes).map_err(|e| SnapshotError::Malformed(format!("undecodable record: {e}")).into())
    }
}

fn read_exact(input: &mut dyn Read, buf: &mut [u8], context: &'static str) -> Result<(), StateMachineError> {
    input.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => SnapshotError::Truncated { context }.into(),
        _ => StateMachineError::Io(e),
    })
}

/// Streams `applied`, `data` and `sessions` into `out`.
pub(crate) fn write_snapshot(
    out: &mut dyn Write,
    applied: LogId,
    data: &KvMap,
    sessions: &SessionTable,
) -> Result<(), StateMachineError> {
    let mut w = Crc { inner: out, hasher: crc32fast::Hasher::new() };
    w.put(&SNAPSHOT_MAGIC)?;
    w.put(&SNAPSHOT_VERSION.to_le_bytes())?;
    w.put(&applied.term.0.to_le_bytes())?;
    w.put(&applied.index.0.to_le_bytes())?;
    for (key, value) in data {
        w.frame(&RecordRef::Pair { key, value })?;
    }
    let mut responses = 0u64;
    for (client_id, session) in sessions.iter() {
        w.frame(&RecordRef::Session { client_id, last_used: session.last_used, floor: session.floor })?;
        for (seq, response) in &session.responses {
            w.frame(&RecordRef::Response { client_id, seq: *seq, response })?;
            responses += 1;
        }
    }
    w.frame(&RecordRef::End { pairs: data.len() as u64, sessions: sessions.len() as u64, responses })?;
    let crc = w.hasher.finalize();
    w.inner.write_all(&crc.to_le_bytes())?;
    Ok(w.inner.flush()?)
}

/// The state read back from a snapshot.
pub(crate) struct Restored {
    pub(crate) data: KvMap,
    pub(crate) sessions: SessionTable,
}

/// Whether [`read_snapshot`] keeps the key/value pairs it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pairs {
    /// Build the map (a restore).
    Keep,
    /// Check them and drop each one as soon as it is read (a validation:
    /// memory stays bounded by one record, not the snapshot's size).
    Drop,
}

/// Reads a snapshot written by [`write_snapshot`] and checks it against
/// `meta`. An empty stream is accepted only for the bootstrap snapshot
/// (index 0) and yields an empty state.
pub(crate) fn read_snapshot(
    input: &mut dyn Read,
    meta: &SnapshotMeta,
    config: &SessionConfig,
    pairs: Pairs,
) -> Result<Restored, StateMachineError> {
    let mut r = Crc { inner: input, hasher: crc32fast::Hasher::new() };
    let mut magic = [0u8; 8];
    let got = read_up_to(&mut r.inner, &mut magic)?;
    if got == 0 && meta.last_log_id.index == LogIndex(0) {
        return Ok(Restored { data: KvMap::new(), sessions: SessionTable::new(config.clone()) });
    }
    if got < magic.len() {
        return Err(SnapshotError::Truncated { context: "header" }.into());
    }
    r.hasher.update(&magic);
    if magic != SNAPSHOT_MAGIC {
        return Err(SnapshotError::BadMagic { found: magic.to_vec() }.into());
    }
    let mut header = [0u8; 20];
    r.take(&mut header, "header")?;
    let version = u32::from_le_bytes(header[0..4].try_into().expect("4-byte slice"));
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::UnsupportedVersion { found: version, supported: SNAPSHOT_VERSION }.into());
    }
    let term = u64::from_le_bytes(header[4..12].try_into().expect("8-byte slice"));
    let index = u64::from_le_bytes(header[12..20].try_into().expect("8-byte slice"));
    let header_id = LogId::new(Term(term), LogIndex(index));
    if header_id != meta.last_log_id {
        return Err(SnapshotError::MetaMismatch { header: header_id, meta: meta.last_log_id }.into());
    }
    let restored = read_body(&mut r, config, pairs)?;
    let actual = r.hasher.finalize();
    let mut trailer = [0u8; 4];
    read_exact(&mut r.inner, &mut trailer, "checksum trailer")?;
    let expected = u32::from_le_bytes(trailer);
    if expected != actual {
        return Err(SnapshotError::ChecksumMismatch { expected, actual }.into());
    }
    if read_up_to(&mut r.inner, &mut [0u8; 1])? != 0 {
        return Err(SnapshotError::Malformed("bytes after the checksum trailer".into()).into());
    }
    Ok(restored)
}

/// The KV store's [`SnapshotValidator`]: decodes the whole snapshot as
/// `restore` does (magic, version, header against the meta, record order and
/// counts, checksum trailer) without keeping the pairs, so checking a
/// snapshot costs one record of memory, not the state's size.
#[derive(Clone, Debug)]
pub(crate) struct KvSnapshotValidator {
    pub(crate) sessions: SessionConfig,
}

impl SnapshotValidator for KvSnapshotValidator {
    fn validate(&self, meta: &SnapshotMeta, data: &mut dyn Read) -> Result<(), StateMachineError> {
        read_snapshot(data, meta, &self.sessions, Pairs::Drop).map(drop)
    }
}

/// Reads records up to and including `End`, checking order and counts.
fn read_body<R: Read>(r: &mut Crc<R>, config: &SessionConfig, keep: Pairs) -> Result<Restored, StateMachineError> {
    let malformed = |msg: String| StateMachineError::from(SnapshotError::Malformed(msg));
    let mut data = KvMap::new();
    // Invariant: `pairs` pairs read so far, in strictly increasing key
    // order ending at `last_key`; `data` holds them all if `keep == Keep`.
    let (mut pairs, mut last_key): (u64, Option<Vec<u8>>) = (0, None);
    let mut sessions = SessionTable::new(config.clone());
    let mut open: Option<(u64, Session)> = None;
    let mut responses = 0u64;
    loop {
        match r.next_record()? {
            Record::Pair { key, value } => {
                if open.is_some() || last_key.as_ref().is_some_and(|last| *last >= key) {
                    return Err(malformed("pairs out of order".into()));
                }
                pairs += 1;
                if keep == Pairs::Keep {
                    data.insert(key.clone(), value);
                }
                last_key = Some(key);
            }
            Record::Session { client_id, last_used, floor } => {
                if let Some((id, session)) =
                    open.replace((client_id, Session { last_used, floor, ..Session::default() }))
                {
                    sessions.restore_session(id, session).map_err(malformed)?;
                }
            }
            Record::Response { client_id, seq, response } => match open.as_mut() {
                Some((id, session))
                    if *id == client_id && session.responses.last_key_value().is_none_or(|(s, _)| *s < seq) =>
                {
                    session.responses.insert(seq, response);
                    responses += 1;
                }
                _ => return Err(malformed(format!("response for client {client_id} seq {seq} out of place"))),
            },
            Record::End { pairs: n_pairs, sessions: n_sessions, responses: n_responses } => {
                if let Some((id, session)) = open.take() {
                    sessions.restore_session(id, session).map_err(malformed)?;
                }
                if (n_pairs, n_sessions, n_responses) != (pairs, sessions.len() as u64, responses) {
                    return Err(malformed("record counts do not match the End record".into()));
                }
                return Ok(Restored { data, sessions });
            }
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize, StateMachineError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}
