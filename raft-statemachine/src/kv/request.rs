//! [`KvRequest`]: a write command as it travels through the Raft log.

use raft_core::codec::{self, CodecError};
use serde::{Deserialize, Serialize};

use super::KvResponse;

/// A write against the KV store, proposed to the log as
/// [`KvRequest::encode`] bytes.
///
/// `(client_id, seq)` identifies the command for exactly-once delivery: a
/// client retries with the *same* pair, and the store answers a retry of an
/// applied command with the original response (see [`super::SessionConfig`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvRequest {
    /// Chosen by the client, unique among live clients (a random `u64`).
    pub client_id: u64,
    /// Per-client sequence number, starting at 1 and increasing by one per
    /// new command; retries reuse it. At most [`KvRequest::MAX_SEQ`].
    pub seq: u64,
    /// What to do.
    pub op: KvOp,
    /// True when an earlier attempt of this same command may already be in
    /// the log (the client retries after a failure that left the outcome
    /// unknown). Only such a request can be a duplicate, so only it is
    /// refused when its session is gone ([`super::KvError::SessionExpired`]);
    /// a first attempt is never a duplicate and may (re)open a session.
    pub retry: bool,
}

/// The encoding in the log: `retry` rides in the top bit of `seq`, so entries
/// written before the flag existed decode unchanged (as first attempts).
#[derive(Serialize, Deserialize)]
struct Wire {
    client_id: u64,
    seq: u64,
    op: KvOp,
}

const RETRY_BIT: u64 = 1 << 63;

/// A write operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvOp {
    /// Sets `key` to `value`; answered with the previous value.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Removes `key`; answered with the previous value.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Compare-and-swap: if the current value of `key` equals `expected`
    /// (`None`: the key is absent), sets it to `new` (`None`: deletes it).
    /// Answered with success or failure and the value after the operation.
    Cas {
        /// The key.
        key: Vec<u8>,
        /// The value the key must hold, or `None` if it must be absent.
        expected: Option<Vec<u8>>,
        /// The value to store on success, or `None` to delete the key.
        new: Option<Vec<u8>>,
    },
}

impl KvOp {
    /// The key the operation writes.
    pub fn key(&self) -> &[u8] {
        match self {
            KvOp::Put { key, .. } | KvOp::Delete { key } | KvOp::Cas { key, .. } => key,
        }
    }
}

/// Encoding or decoding a KV message failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvCodecError {
    /// A request's `seq` is above [`KvRequest::MAX_SEQ`].
    #[error("seq {seq} exceeds the maximum of {}", KvRequest::MAX_SEQ)]
    SeqTooLarge {
        /// The sequence number.
        seq: u64,
    },
    /// The value could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The codec's error.
        source: CodecError,
    },
    /// The bytes are not a valid encoding.
    #[error("cannot decode {what} from {len} bytes: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Length of the input.
        len: usize,
        /// The codec's error.
        source: CodecError,
    },
}

impl KvRequest {
    /// The largest sequence number (the top bit of the encoding is the
    /// retry flag).
    pub const MAX_SEQ: u64 = RETRY_BIT - 1;

    /// A first attempt of `op` as `(client_id, seq)`.
    pub fn new(client_id: u64, seq: u64, op: KvOp) -> Self {
        KvRequest { client_id, seq, op, retry: false }
    }

    /// Encodes the request as log entry data (via `raft_core::codec`).
    /// Fails on a `seq` above [`KvRequest::MAX_SEQ`].
    pub fn encode(&self) -> Result<Vec<u8>, KvCodecError> {
        if self.seq > Self::MAX_SEQ {
            return Err(KvCodecError::SeqTooLarge { seq: self.seq });
        }
        let seq = if self.retry { self.seq | RETRY_BIT } else { self.seq };
        let wire = Wire { client_id: self.client_id, seq, op: self.op.clone() };
        codec::encode(&wire).map_err(|source| KvCodecError::Encode { what: "KvRequest", source })
    }

    /// Decodes log entry data. Fails on truncated, trailing or otherwise
    /// invalid bytes.
    pub fn decode(bytes: &[u8]) -> Result<KvRequest, KvCodecError> {
        let wire: Wire = codec::decode(bytes).map_err(|source| KvCodecError::Decode {
            what: "KvRequest",
            len: bytes.len(),
            source,
        })?;
        let retry = wire.seq & RETRY_BIT != 0;
        Ok(KvRequest { client_id: wire.client_id, seq: wire.seq & !RETRY_BIT, op: wire.op, retry })
    }
}

impl KvResponse {
    /// Encodes the response (via `raft_core::codec`).
    pub fn encode(&self) -> Result<Vec<u8>, KvCodecError> {
        codec::encode(self).map_err(|source| KvCodecError::Encode { what: "KvResponse", source })
    }

    /// Decodes a response produced by [`KvResponse::encode`].
    pub fn decode(bytes: &[u8]) -> Result<KvResponse, KvCodecError> {
        codec::decode(bytes).map_err(|source| KvCodecError::Decode { what: "KvResponse", len: bytes.len(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_through_the_codec() {
        let mut req = KvRequest::new(7, 3, KvOp::Cas { key: b"k".to_vec(), expected: None, new: Some(b"v".to_vec()) });
        assert_eq!(KvRequest::decode(&req.encode().unwrap()).unwrap(), req);
        req.retry = true;
        assert_eq!(KvRequest::decode(&req.encode().unwrap()).unwrap(), req, "the retry flag survives");
    }

    #[test]
    fn entries_written_before_the_retry_flag_decode_as_first_attempts() {
        let old = codec::encode(&Wire { client_id: 7, seq: 3, op: KvOp::Delete { key: b"k".to_vec() } }).unwrap();
        let req = KvRequest::decode(&old).unwrap();
        assert_eq!(req, KvRequest::new(7, 3, KvOp::Delete { key: b"k".to_vec() }));
        let too_big = KvRequest::new(1, KvRequest::MAX_SEQ + 1, KvOp::Delete { key: b"k".to_vec() });
        assert!(too_big.encode().is_err());
    }

    #[test]
    fn truncated_request_is_a_decode_error_naming_the_type() {
        let req = KvRequest::new(1, 1, KvOp::Delete { key: b"key".to_vec() });
        let bytes = req.encode().unwrap();
        let err = KvRequest::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(err, KvCodecError::Decode { what: "KvRequest", .. }));
        assert!(err.to_string().contains("KvRequest"), "{err}");
    }

    #[test]
    fn response_round_trips_through_the_codec() {
        let resp = KvResponse::Cas { swapped: false, current: Some(b"x".to_vec()) };
        assert_eq!(KvResponse::decode(&resp.encode().unwrap()).unwrap(), resp);
    }
}
