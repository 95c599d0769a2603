//! Client requests and replies: [`crate::api`] types <-> `pb` KV types.

use raft_core::LogIndex;

use super::{index, opt_node_id};
use crate::api::{Consistency, LeaderHint, ReadRequest, ScanRange, ScanResult, WriteOp, WriteRequest, WriteResult};
use crate::error::ConvertError;
use crate::pb;

/// A [`WriteRequest`] as the gRPC call that carries it.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteCall {
    /// `KvService.Put`.
    Put(pb::PutRequest),
    /// `KvService.Delete`.
    Delete(pb::DeleteRequest),
    /// `KvService.CompareAndSwap`.
    Cas(pb::CompareAndSwapRequest),
}

impl WriteCall {
    /// The same call with its `retry` flag set to `retry`.
    pub fn with_retry(mut self, retry: bool) -> Self {
        match &mut self {
            WriteCall::Put(r) => r.retry = retry,
            WriteCall::Delete(r) => r.retry = retry,
            WriteCall::Cas(r) => r.retry = retry,
        }
        self
    }
}

/// The call carrying `req` to a node of `cluster_id`.
pub fn write_to_pb(cluster_id: &str, req: &WriteRequest) -> WriteCall {
    let (cluster_id, client_id, seq, retry) = (cluster_id.to_owned(), req.client_id, req.seq, req.retry);
    match &req.op {
        WriteOp::Put { key, value } => {
            WriteCall::Put(pb::PutRequest { cluster_id, client_id, seq, key: key.clone(), value: value.clone(), retry })
        }
        WriteOp::Delete { key } => {
            WriteCall::Delete(pb::DeleteRequest { cluster_id, client_id, seq, key: key.clone(), retry })
        }
        WriteOp::CompareAndSwap { key, expected, new_value } => {
            use pb::compare_and_swap_request::Expected;
            let expected = match expected {
                Some(v) => Expected::ExpectedValue(v.clone()),
                None => Expected::ExpectAbsent(pb::Absent {}),
            };
            WriteCall::Cas(pb::CompareAndSwapRequest {
                cluster_id,
                client_id,
                seq,
                key: key.clone(),
                expected: Some(expected),
                new_value: new_value.clone(),
                retry,
            })
        }
    }
}

/// The largest `seq` a write may carry (the state machine keeps the retry
/// flag in the top bit of its log encoding).
pub const MAX_SEQ: u64 = (1 << 63) - 1;

/// Session fields of every write: `client_id` 0 and `seq` 0 are what an
/// unset proto3 field decodes to, so both are rejected as missing.
fn session(client_id: u64, seq: u64) -> Result<(u64, u64), ConvertError> {
    if client_id == 0 {
        return Err(ConvertError::Missing("client_id"));
    }
    if seq == 0 {
        return Err(ConvertError::Missing("seq"));
    }
    if seq > MAX_SEQ {
        return Err(ConvertError::invalid("seq", format!("{seq} exceeds the maximum {MAX_SEQ}")));
    }
    Ok((client_id, seq))
}

impl TryFrom<pb::PutRequest> for WriteRequest {
    type Error = ConvertError;

    fn try_from(r: pb::PutRequest) -> Result<Self, ConvertError> {
        let (client_id, seq) = session(r.client_id, r.seq)?;
        Ok(WriteRequest { client_id, seq, op: WriteOp::Put { key: r.key, value: r.value }, retry: r.retry })
    }
}

impl TryFrom<pb::DeleteRequest> for WriteRequest {
    type Error = ConvertError;

    fn try_from(r: pb::DeleteRequest) -> Result<Self, ConvertError> {
        let (client_id, seq) = session(r.client_id, r.seq)?;
        Ok(WriteRequest { client_id, seq, op: WriteOp::Delete { key: r.key }, retry: r.retry })
    }
}

impl TryFrom<pb::CompareAndSwapRequest> for WriteRequest {
    type Error = ConvertError;

    fn try_from(r: pb::CompareAndSwapRequest) -> Result<Self, ConvertError> {
        use pb::compare_and_swap_request::Expected;
        let (client_id, seq) = session(r.client_id, r.seq)?;
        let expected = match r.expected.ok_or(ConvertError::Missing("compare_and_swap.expected"))? {
            Expected::ExpectedValue(v) => Some(v),
            Expected::ExpectAbsent(_) => None,
        };
        Ok(WriteRequest {
            client_id,
            seq,
            op: WriteOp::CompareAndSwap { key: r.key, expected, new_value: r.new_value },
            retry: r.retry,
        })
    }
}

fn consistency(stale: bool) -> Consistency {
    if stale {
        Consistency::Stale
    } else {
        Consistency::Linearizable
    }
}

impl From<pb::GetRequest> for ReadRequest {
    fn from(r: pb::GetRequest) -> Self {
        ReadRequest::Get { key: r.key, consistency: consistency(r.stale) }
    }
}

impl TryFrom<pb::ScanRequest> for ReadRequest {
    type Error = ConvertError;

    /// `limit` is copied as sent (0 included); the server caps it.
    fn try_from(r: pb::ScanRequest) -> Result<Self, ConvertError> {
        use pb::scan_request::Range;
        let range = match r.range.ok_or(ConvertError::Missing("scan.range"))? {
            Range::Prefix(p) => ScanRange::Prefix(p),
            Range::KeyRange(k) => {
                let end = (!k.end.is_empty()).then_some(k.end);
                if end.as_ref().is_some_and(|e| *e < k.start) {
                    return Err(ConvertError::invalid("scan.key_range", "end sorts before start"));
                }
                ScanRange::Range { start: k.start, end }
            }
        };
        Ok(ReadRequest::Scan { range, limit: r.limit, consistency: consistency(r.stale) })
    }
}

/// The wire form of a scan range.
pub fn scan_range_to_pb(range: &ScanRange) -> pb::scan_request::Range {
    use pb::scan_request::Range;
    match range {
        ScanRange::Prefix(p) => Range::Prefix(p.clone()),
        ScanRange::Range { start, end } => {
            Range::KeyRange(pb::KeyRange { start: start.clone(), end: end.clone().unwrap_or_default() })
        }
    }
}

impl From<WriteResult> for pb::WriteResult {
    fn from(r: WriteResult) -> Self {
        pb::WriteResult { succeeded: r.succeeded, previous: r.previous, index: r.index.0 }
    }
}

impl TryFrom<pb::WriteResult> for WriteResult {
    type Error = ConvertError;

    fn try_from(r: pb::WriteResult) -> Result<Self, ConvertError> {
        let index: LogIndex = index(r.index, "write_result.index")?;
        Ok(WriteResult { succeeded: r.succeeded, previous: r.previous, index })
    }
}

impl From<ScanResult> for pb::ScanResult {
    fn from(r: ScanResult) -> Self {
        let pairs = r.pairs.into_iter().map(|(key, value)| pb::KeyValue { key, value }).collect();
        pb::ScanResult { pairs, more: r.more }
    }
}

impl From<pb::ScanResult> for ScanResult {
    fn from(r: pb::ScanResult) -> Self {
        ScanResult { pairs: r.pairs.into_iter().map(|kv| (kv.key, kv.value)).collect(), more: r.more }
    }
}

/// The not-leader redirect as it travels in a reply's `result` oneof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotLeaderReply(pub Option<LeaderHint>);

impl From<NotLeaderReply> for pb::NotLeader {
    fn from(r: NotLeaderReply) -> Self {
        match r.0 {
            Some(h) => pb::NotLeader { leader_id: h.id.0, leader_address: h.address.unwrap_or_default() },
            None => pb::NotLeader { leader_id: 0, leader_address: String::new() },
        }
    }
}

impl TryFrom<pb::NotLeader> for NotLeaderReply {
    type Error = ConvertError;

    fn try_from(r: pb::NotLeader) -> Result<Self, ConvertError> {
        let Some(id) = opt_node_id(r.leader_id) else {
            if !r.leader_address.is_empty() {
                return Err(ConvertError::invalid("not_leader.leader_id", "address given without an id"));
            }
            return Ok(NotLeaderReply(None));
        };
        let address = (!r.leader_address.is_empty()).then_some(r.leader_address);
        Ok(NotLeaderReply(Some(LeaderHint { id, address })))
    }
}
