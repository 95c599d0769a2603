//! Incarnations: which *life* of a node a data directory is.
//!
//! A node id says which member a process claims to be; it says nothing about
//! whether the process still holds that member's promises (its votes and
//! acknowledged entries, Raft paper §5.1/§5.4). A data directory that was
//! wiped and recreated under the same id has forgotten them, and letting it
//! vote again is the classic way to lose committed entries. So every data
//! directory gets a random, non-zero 64-bit incarnation the first time it is
//! created, written (synced) before the store is handed out, and never
//! changed afterwards. Peers remember the incarnation they first saw for
//! each member (also stored here, under [`crate::layout::PEER_INCARNATION_PREFIX`])
//! and drop Raft traffic from another incarnation of the same id.

use std::collections::BTreeMap;

use raft_core::NodeId;
use rocksdb::{IteratorMode, WriteOptions, DB};

use crate::error::StoreError;
use crate::layout::{
    parse_peer_incarnation_key, peer_incarnation_key, seal, unseal, CF_META, INCARNATION_KEY, PEER_INCARNATION_PREFIX,
};

/// Incarnations remembered for other members, by node id.
pub type PeerIncarnations = BTreeMap<NodeId, u64>;

/// A fresh incarnation from the operating system's randomness: 64 random
/// bits make two lives of one node id colliding negligible. Never 0 (0 on
/// the wire means "not stamped").
pub fn fresh_incarnation() -> Result<u64, StoreError> {
    loop {
        let v =
            getrandom::u64().map_err(|e| StoreError::Backend(format!("no OS randomness for the incarnation: {e}")))?;
        if v != 0 {
            return Ok(v);
        }
    }
}

/// Reads this directory's incarnation, creating (and syncing) one if the
/// directory has none yet.
pub(crate) fn load_or_create(db: &DB) -> Result<u64, StoreError> {
    let meta = meta_cf(db);
    if let Some(value) = db.get_pinned_cf(meta, INCARNATION_KEY)? {
        return check(unseal(INCARNATION_KEY, &value, || "incarnation record".to_string())?);
    }
    let incarnation = fresh_incarnation()?;
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    db.put_cf_opt(meta, INCARNATION_KEY, seal(INCARNATION_KEY, &incarnation)?, &opts)?;
    Ok(incarnation)
}

fn check(incarnation: u64) -> Result<u64, StoreError> {
    if incarnation == 0 {
        return Err(StoreError::corrupted("incarnation record", "incarnation 0 is never written"));
    }
    Ok(incarnation)
}

/// Reads every remembered peer incarnation.
pub(crate) fn load_peers(db: &DB) -> Result<PeerIncarnations, StoreError> {
    let mut peers = PeerIncarnations::new();
    let from = IteratorMode::From(PEER_INCARNATION_PREFIX, rocksdb::Direction::Forward);
    for item in db.iterator_cf(meta_cf(db), from) {
        let (key, value) = item?;
        let Some(id) = parse_peer_incarnation_key(&key) else {
            if key.starts_with(PEER_INCARNATION_PREFIX) {
                return Err(StoreError::corrupted("peer incarnation", format!("bad key of {} bytes", key.len())));
            }
            break;
        };
        let what = || format!("incarnation of peer {id}");
        peers.insert(NodeId(id), check(unseal(&peer_incarnation_key(id), &value, what)?)?);
    }
    Ok(peers)
}

fn meta_cf(db: &DB) -> &rocksdb::ColumnFamily {
    db.cf_handle(CF_META).unwrap_or_else(|| panic!("invariant: database opened with column family {CF_META:?}"))
}
