//! Bytes a KV store reads: a snapshot from a leader or its disk, a
//! committed entry's payload (written by a client, decoded at apply time),
//! and client requests as the KV gRPC service receives them.

use prost::Message as _;
use raft_core::{Entry, EntryPayload, LogId, LogIndex, Membership, NodeId, SnapshotMeta, Term};
use raft_rpc::{pb, ReadRequest, WriteRequest};
use raft_statemachine::{KvConfig, KvStore, StateMachine};

/// The metadata every KV snapshot seed is made for (a snapshot is checked
/// against the meta it arrives with).
pub fn snapshot_meta() -> SnapshotMeta {
    SnapshotMeta { last_log_id: LogId::new(Term(2), LogIndex(10)), membership: Membership::new([NodeId(1)]) }
}

/// Restores a KV store from `data`. Accepted if the validator and the
/// restore both accept it (they must agree); an accepted snapshot must
/// survive a snapshot → restore round trip with the same contents.
pub fn kv_snapshot(data: &[u8]) -> bool {
    let meta = snapshot_meta();
    let mut store = KvStore::new(KvConfig::default());
    let valid = store.snapshot_validator().validate(&meta, &mut &data[..]).is_ok();
    let restored = store.restore(&meta, &mut &data[..]).is_ok();
    assert_eq!(valid, restored, "the snapshot check and the restore disagree");
    if restored {
        let mut again = Vec::new();
        let meta2 = store.snapshot(&mut again).expect("a restored store snapshots");
        let mut copy = KvStore::new(KvConfig::default());
        copy.restore(&meta2, &mut &again[..]).expect("a fresh snapshot restores");
        assert_eq!(copy.len(), store.len());
        assert_eq!(copy.session_count(), store.session_count());
    }
    restored
}

/// Applies `data` as a committed entry's payload. Every payload gets an
/// answer (a rejection is an answer); accepted if it was applied as a
/// well-formed request.
pub fn kv_entry(data: &[u8]) -> bool {
    let mut store = KvStore::new(KvConfig::default());
    let entry = Entry::new(Term(1), LogIndex(1), EntryPayload::Normal(data.to_vec().into()));
    let answer = store.apply(&entry).expect("apply answers every payload");
    assert!(answer.is_some(), "a Normal entry always gets a response");
    assert_eq!(store.applied_index(), LogIndex(1), "the entry counts as applied even when rejected");
    raft_statemachine::KvRequest::decode(data).is_ok()
}

/// A client request as the KV service receives it: the first byte picks
/// the RPC, the rest is its protobuf body. Accepted if it converts.
pub fn client_request(data: &[u8]) -> bool {
    let Some((&selector, body)) = data.split_first() else { return false };
    match selector % 5 {
        0 => pb::PutRequest::decode(body).is_ok_and(|r| WriteRequest::try_from(r).is_ok()),
        1 => pb::DeleteRequest::decode(body).is_ok_and(|r| WriteRequest::try_from(r).is_ok()),
        2 => pb::CompareAndSwapRequest::decode(body).is_ok_and(|r| WriteRequest::try_from(r).is_ok()),
        3 => pb::GetRequest::decode(body).map(ReadRequest::from).is_ok(),
        _ => pb::ScanRequest::decode(body).is_ok_and(|r| ReadRequest::try_from(r).is_ok()),
    }
}
