//! The one place the project touches bincode (pinned at 1.3.3; the crate is
//! unmaintained, RUSTSEC-2025-0141, so it stays behind this module and can be
//! swapped without touching callers).
//!
//! Every decode has a size limit so that a corrupt length prefix cannot make
//! the process allocate gigabytes.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Decoding refuses to allocate more than this by default (64 MiB).
pub const DEFAULT_DECODE_LIMIT: u64 = 64 << 20;

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("codec error: {0}")]
pub struct CodecError(String);

fn options(limit: u64) -> impl Options {
    bincode::DefaultOptions::new().with_fixint_encoding().with_little_endian().with_limit(limit)
}

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    options(u64::MAX).serialize(value).map_err(|e| CodecError(e.to_string()))
}

/// Decodes a `T` from exactly `bytes` (trailing bytes are an error), refusing
/// to allocate past [`DEFAULT_DECODE_LIMIT`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_with_limit(bytes, DEFAULT_DECODE_LIMIT)
}

/// Like [`decode`] with an explicit allocation limit in bytes.
pub fn decode_with_limit<T: DeserializeOwned>(bytes: &[u8], limit: u64) -> Result<T, CodecError> {
    options(limit).deserialize(bytes).map_err(|e| CodecError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entry, EntryPayload, LogIndex, Term};

    #[test]
    fn entry_round_trips() {
        let e = Entry::new(Term(3), LogIndex(9), EntryPayload::Normal(b"hello".to_vec().into()));
        let bytes = encode(&e).unwrap();
        assert_eq!(decode::<Entry>(&bytes).unwrap(), e);
    }

    #[test]
    fn a_normal_entry_encodes_exactly_as_when_its_payload_was_a_vec() {
        // Logs written while `EntryPayload::Normal` held a `Vec<u8>` must
        // still read: term, index, variant tag 1, u64 length, the bytes.
        let e = Entry::new(Term(3), LogIndex(9), EntryPayload::Normal(b"hello".to_vec().into()));
        let mut old = vec![3u8, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        old.extend_from_slice(&5u64.to_le_bytes());
        old.extend_from_slice(b"hello");
        assert_eq!(encode(&e).unwrap(), old);
        assert_eq!(decode::<Entry>(&old).unwrap(), e);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let e = Entry::new(Term(3), LogIndex(9), EntryPayload::Normal(vec![7; 100].into()));
        let bytes = encode(&e).unwrap();
        assert!(decode::<Entry>(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn absurd_length_prefix_is_refused_not_allocated() {
        // tag 1 (Normal) then a length of u64::MAX.
        let mut bytes = vec![3u8, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<Entry>(&bytes).is_err());
    }
}
