//! The on-disk layout of a [`crate::RocksStore`] data directory, public so
//! that tools and tests can inspect it.
//!
//! ```text
//! <dir>/db/          RocksDB (its LOCK file keeps a second process out)
//!     cf "meta"      FORMAT_KEY, HARD_STATE_KEY, SNAPSHOT_KEY, IDENTITY_KEY
//!     cf "log"       log_key(index) -> sealed Entry
//! <dir>/snapshots/   snap-<term>-<index>-<n>.bin, the data of the current snapshot
//!     incoming/      snapshots being received from a leader, one file per
//!                    stream; installed by renaming into snapshots/
//! ```
//!
//! Every value except the format record is *sealed*: a CRC32 (little
//! endian) of the key followed by the value's bytes, then the value encoded
//! with `raft_core::codec`. Covering the key catches a value written under
//! the wrong key as well as flipped bits.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;

/// The RocksDB directory inside a data directory.
pub const DB_DIR: &str = "db";
/// The snapshot data directory inside a data directory.
pub const SNAPSHOT_DIR: &str = "snapshots";
/// Where snapshots received from a leader are staged, inside
/// [`SNAPSHOT_DIR`] so that installing one is a rename on the same
/// filesystem.
pub const INCOMING_DIR: &str = "incoming";
/// Column family of the small records (format, hard state, snapshot, identity).
pub const CF_META: &str = "meta";
/// Column family of the log entries.
pub const CF_LOG: &str = "log";

/// The format this build reads and writes. Bump on any incompatible change.
/// 2: configurations carry member incarnations (issue #14), which changes
/// the encoding of membership entries and snapshot metadata.
pub const FORMAT_VERSION: u32 = 2;
/// The first bytes of the format record; anything else is not a raft store.
pub const FORMAT_MAGIC: &[u8; 8] = b"RAFTSTOR";

/// Key of the format record: `FORMAT_MAGIC` then the version as big-endian u32.
pub const FORMAT_KEY: &[u8] = b"format";
/// Key of the sealed `HardState`.
pub const HARD_STATE_KEY: &[u8] = b"hard_state";
/// Key of the sealed snapshot record (meta and where its data file is).
pub const SNAPSHOT_KEY: &[u8] = b"snapshot";
/// Key of the sealed `Identity`.
pub const IDENTITY_KEY: &[u8] = b"identity";
/// Key of the sealed incarnation (a non-zero `u64`) of this data directory.
pub const INCARNATION_KEY: &[u8] = b"incarnation";
/// Prefix of the sealed incarnations remembered for peers; the peer's id
/// follows as a big-endian `u64`.
pub const PEER_INCARNATION_PREFIX: &[u8] = b"peer_incarnation/";

/// The key under which the incarnation of peer `id` is remembered.
pub fn peer_incarnation_key(id: u64) -> Vec<u8> {
    let mut key = PEER_INCARNATION_PREFIX.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The peer id of a [`peer_incarnation_key`]; `None` for any other key.
pub fn parse_peer_incarnation_key(key: &[u8]) -> Option<u64> {
    let id = key.strip_prefix(PEER_INCARNATION_PREFIX)?;
    Some(u64::from_be_bytes(id.try_into().ok()?))
}

/// Bytes of the seal in front of every sealed value.
pub const SEAL_LEN: usize = 4;

/// The key of log entry `index`: big-endian so that RocksDB's bytewise
/// order is index order.
pub fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Reads an index back from a log key; `None` if the key is not 8 bytes.
pub fn parse_log_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// The format record's value for `version`.
pub fn format_record(version: u32) -> Vec<u8> {
    let mut v = FORMAT_MAGIC.to_vec();
    v.extend_from_slice(&version.to_be_bytes());
    v
}

/// Reads the version from a format record, `None` if it is not one.
pub fn parse_format_record(bytes: &[u8]) -> Option<u32> {
    let rest = bytes.strip_prefix(FORMAT_MAGIC.as_slice())?;
    Some(u32::from_be_bytes(rest.try_into().ok()?))
}

fn checksum(key: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(body);
    h.finalize()
}

/// Encodes `value` for storage under `key`, with its checksum in front.
pub fn seal<T: Serialize>(key: &[u8], value: &T) -> Result<Vec<u8>, StoreError> {
    let body = raft_core::codec::encode(value).map_err(|e| StoreError::Backend(e.to_string()))?;
    let mut out = Vec::with_capacity(SEAL_LEN + body.len());
    out.extend_from_slice(&checksum(key, &body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Checks and decodes a value stored under `key`; `what` names the record in
/// the error (for example "log entry 42").
pub fn unseal<T: DeserializeOwned>(key: &[u8], bytes: &[u8], what: impl FnOnce() -> String) -> Result<T, StoreError> {
    if bytes.len() < SEAL_LEN {
        return Err(StoreError::corrupted(
            what(),
            format!("value is {} bytes, shorter than its checksum", bytes.len()),
        ));
    }
    let (sum, body) = bytes.split_at(SEAL_LEN);
    let stored = u32::from_le_bytes(sum.try_into().expect("split_at(SEAL_LEN) yields SEAL_LEN bytes"));
    let actual = checksum(key, body);
    if stored != actual {
        return Err(StoreError::corrupted(
            what(),
            format!("checksum mismatch: stored {stored:08x}, computed {actual:08x}"),
        ));
    }
    raft_core::codec::decode(body).map_err(|e| StoreError::corrupted(what(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_in_index_order() {
        let mut keys: Vec<[u8; 8]> = [300u64, 2, 256, 1, u64::MAX - 1].iter().map(|&i| log_key(i)).collect();
        keys.sort();
        let order: Vec<u64> = keys.iter().map(|k| parse_log_key(k).unwrap()).collect();
        assert_eq!(order, vec![1, 2, 256, 300, u64::MAX - 1]);
    }

    #[test]
    fn sealed_value_round_trips_and_detects_a_flipped_bit() {
        let sealed = seal(b"k", &(7u64, "x".to_string())).unwrap();
        assert_eq!(unseal::<(u64, String)>(b"k", &sealed, || "rec".into()).unwrap(), (7, "x".to_string()));
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        let err = unseal::<(u64, String)>(b"k", &bad, || "rec".into()).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn sealed_value_under_another_key_is_rejected() {
        let sealed = seal(&log_key(5), &1u64).unwrap();
        assert!(matches!(
            unseal::<u64>(&log_key(6), &sealed, || "log entry 6".into()),
            Err(StoreError::Corrupted { .. })
        ));
    }

    #[test]
    fn format_record_round_trips_and_rejects_other_bytes() {
        assert_eq!(parse_format_record(&format_record(3)), Some(3));
        assert_eq!(parse_format_record(b"something else"), None);
    }
}
