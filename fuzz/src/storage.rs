//! Bytes from the disk: what raft-storage and the KV store decode with
//! `raft_core::codec` (bincode behind one module). The first byte picks the
//! type; the rest is the encoding. Anything that decodes must re-encode to
//! something that decodes to the same value (no lossy or ambiguous decode).

use std::fmt::Debug;

use raft_core::codec;
use raft_core::{Entry, HardState, Membership, SnapshotMeta};
use raft_statemachine::{KvRequest, KvResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The types a node decodes from its own disk and log, by selector byte.
pub const STORAGE_TYPES: [&str; 6] = ["Entry", "HardState", "SnapshotMeta", "Membership", "KvRequest", "KvResponse"];

/// Decodes `data[1..]` as the type `data[0]` selects; accepted if it decodes.
pub fn storage_codec(data: &[u8]) -> bool {
    let Some((&selector, body)) = data.split_first() else { return false };
    match selector as usize % STORAGE_TYPES.len() {
        0 => round_trip::<Entry>(body),
        1 => round_trip::<HardState>(body),
        2 => round_trip::<SnapshotMeta>(body),
        3 => round_trip::<Membership>(body),
        4 => match KvRequest::decode(body) {
            Ok(req) => {
                let again = req.encode().expect("a decoded request re-encodes");
                assert_eq!(KvRequest::decode(&again).expect("re-encoded request decodes"), req);
                true
            }
            Err(_) => false,
        },
        _ => match KvResponse::decode(body) {
            Ok(resp) => {
                let again = resp.encode().expect("a decoded response re-encodes");
                assert_eq!(KvResponse::decode(&again).expect("re-encoded response decodes"), resp);
                true
            }
            Err(_) => false,
        },
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8]) -> bool {
    match codec::decode::<T>(body) {
        Ok(v) => {
            let again = codec::encode(&v).expect("a decoded value re-encodes");
            assert_eq!(codec::decode::<T>(&again).expect("re-encoded value decodes"), v);
            true
        }
        Err(_) => false,
    }
}
