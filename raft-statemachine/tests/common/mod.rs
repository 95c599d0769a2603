//! Builders shared by the integration tests.
#![allow(dead_code)]

use raft_core::{Entry, EntryPayload, LogIndex, Term};
use raft_statemachine::{KvOp, KvRequest, KvResponse, KvStore, StateMachine};

/// A `Normal` entry carrying `request`.
pub fn entry(index: u64, request: &KvRequest) -> Entry {
    Entry::new(Term(1), LogIndex(index), EntryPayload::Normal(request.encode().expect("encodable request").into()))
}

/// A request from `client` with `seq` (a first attempt).
pub fn req(client_id: u64, seq: u64, op: KvOp) -> KvRequest {
    KvRequest::new(client_id, seq, op)
}

/// A retry: an earlier attempt of `(client, seq)` may be in the log.
pub fn retry(client_id: u64, seq: u64, op: KvOp) -> KvRequest {
    KvRequest { retry: true, ..KvRequest::new(client_id, seq, op) }
}

/// `Put key=value`.
pub fn put(key: &str, value: &str) -> KvOp {
    KvOp::Put { key: key.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
}

/// `Delete key`.
pub fn delete(key: &str) -> KvOp {
    KvOp::Delete { key: key.as_bytes().to_vec() }
}

/// `Cas key expected -> new`.
pub fn cas(key: &str, expected: Option<&str>, new: Option<&str>) -> KvOp {
    KvOp::Cas {
        key: key.as_bytes().to_vec(),
        expected: expected.map(|v| v.as_bytes().to_vec()),
        new: new.map(|v| v.as_bytes().to_vec()),
    }
}

/// `Some(bytes)` of a string.
pub fn some(v: &str) -> Option<Vec<u8>> {
    Some(v.as_bytes().to_vec())
}

/// Applies `request` as the next entry and returns its response.
pub fn apply(store: &mut KvStore, request: &KvRequest) -> KvResponse {
    let index = store.applied_index().get() + 1;
    store.apply(&entry(index, request)).expect("in-order apply succeeds").expect("a Normal entry has a response")
}

/// Applies `n` Noop entries.
pub fn noops(store: &mut KvStore, n: u64) {
    for _ in 0..n {
        let index = store.applied_index().next();
        assert_eq!(store.apply(&Entry::new(Term(1), index, EntryPayload::Noop)).unwrap(), None);
    }
}
