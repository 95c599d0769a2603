//! Bytes from a peer: a `RaftBatch` (one item of the peer `Stream`, or a `Send` call) and the chunks
//! of an InstallSnapshot stream, converted at the edge and, when valid,
//! stepped into a follower and a leader.

use prost::Message as _;
use raft_core::Message;
use raft_rpc::{pb, Limits, SnapshotAssembler};

use crate::node;

/// A `RaftBatch` as the peer server receives it. Accepted if it decodes and
/// every message converts; each converted message is stepped into a fresh
/// follower and a fresh leader.
pub fn peer_message(data: &[u8]) -> bool {
    let Ok(batch) = pb::RaftBatch::decode(data) else { return false };
    let mut follower = node::follower();
    let mut leader = node::leader();
    let mut all_valid = !batch.messages.is_empty();
    for m in batch.messages {
        match Message::try_from(m) {
            Ok(msg) => {
                node::step(&mut follower, msg.clone());
                node::step(&mut leader, msg);
            }
            Err(_) => all_valid = false,
        }
    }
    all_valid
}

/// An InstallSnapshot stream: `data` is a sequence of frames, each a
/// little-endian `u16` length and that many bytes of an encoded
/// `SnapshotChunk`. Accepted if the assembler accepts every chunk and the
/// finished message (CRC checked); that message is stepped into a follower.
pub fn snapshot_stream(data: &[u8]) -> bool {
    let mut assembler = SnapshotAssembler::new(&Limits::default());
    let mut rest = data;
    while rest.len() >= 2 {
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let Some(frame) = rest.get(2..2 + len) else { return false };
        rest = &rest[2 + len..];
        let Ok(chunk) = pb::SnapshotChunk::decode(frame) else { return false };
        if assembler.push(chunk.kind).is_err() {
            return false;
        }
    }
    if !rest.is_empty() {
        return false;
    }
    match assembler.finish() {
        Ok(msg) => {
            node::step(&mut node::follower(), msg);
            true
        }
        Err(_) => false,
    }
}

/// Frames chunks the way [`snapshot_stream`] reads them (for seeds).
pub(crate) fn frame_chunks(chunks: &[pb::SnapshotChunk]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        let bytes = c.encode_to_vec();
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}
