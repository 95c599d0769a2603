//! The KV store from `raft-statemachine` behind the runtime: every
//! [`StateMachine`] is a [`NodeStateMachine`], and a [`NodeClient`] of a KV
//! node gets typed write and read calls.
//!
//! Writes carry `(client_id, seq)`: the store answers a retried write with
//! its first answer instead of applying it twice (thesis §6.3), which is
//! what makes retrying after an unknown outcome (`Timeout`,
//! `LeadershipLost`) safe.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use raft_core::{Entry, LogIndex, SnapshotMeta};
use raft_statemachine::{
    KvError, KvLimits, KvOp, KvQuery, KvQueryResult, KvRequest, KvResponse, KvStore, StateMachine,
};

use crate::client::NodeClient;
use crate::error::ClientError;
use crate::fsm::{NodeStateMachine, RestoreJob, SnapshotCheck, SnapshotJob};
use crate::runtime::ReadMode;

/// Every cloneable [`StateMachine`]: a snapshot serializes a clone, so the
/// node task pays for a clone of the state, not for serializing it; the
/// clone must be cheap (the KV store's is O(1): a persistent map).
impl<T: StateMachine + Clone> NodeStateMachine for T {
    type Response = T::Response;
    type Query = T::Query;
    type QueryResult = T::QueryResult;

    fn apply(&mut self, entry: &Entry) -> Result<Option<Self::Response>, String> {
        StateMachine::apply(self, entry).map_err(|e| e.to_string())
    }

    fn applied_index(&self) -> LogIndex {
        StateMachine::applied_index(self)
    }

    fn query(&self, query: &Self::Query) -> Self::QueryResult {
        StateMachine::query(self, query)
    }

    fn snapshot_job(&self) -> Result<SnapshotJob, String> {
        let frozen = self.clone();
        Ok(Box::new(move || frozen.snapshot_to_vec().map(|(_, data)| data).map_err(|e| e.to_string())))
    }

    fn restore(&mut self, meta: &SnapshotMeta, data: &mut dyn Read) -> Result<(), String> {
        StateMachine::restore(self, meta, data).map_err(|e| e.to_string())
    }

    /// Restores into a clone (cheap, as for [`Self::snapshot_job`]; it
    /// carries the configuration), whose state the restore replaces.
    fn restore_job(&self) -> RestoreJob<Self> {
        let mut fresh = self.clone();
        Box::new(move |meta: &SnapshotMeta, data: &mut dyn Read| {
            StateMachine::restore(&mut fresh, meta, data).map_err(|e| e.to_string())?;
            Ok(fresh)
        })
    }

    fn snapshot_check(&self) -> SnapshotCheck {
        let validator = StateMachine::snapshot_validator(self);
        Arc::new(move |meta: &SnapshotMeta, data: &mut dyn Read| {
            validator.validate(meta, data).map_err(|e| e.to_string())
        })
    }
}

/// The KV store's answer to a read.
pub type KvReadResult = Result<KvQueryResult, KvError>;

impl NodeClient<KvStore> {
    /// Proposes a KV write after checking it against `limits` (a request
    /// over the limits is refused here rather than logged and rejected by
    /// every replica).
    pub async fn kv_write(&self, request: &KvRequest, limits: &KvLimits) -> Result<KvResponse, ClientError> {
        self.kv_write_indexed(request, limits).await.map(|(_, r)| r)
    }

    /// Like [`Self::kv_write`], also returning the index the write was
    /// applied at.
    pub async fn kv_write_indexed(
        &self,
        request: &KvRequest,
        limits: &KvLimits,
    ) -> Result<(LogIndex, KvResponse), ClientError> {
        self.propose_indexed(encode_write(request, limits)?).await
    }

    /// Reads through the KV store after checking the query against `limits`.
    pub async fn kv_read(
        &self,
        query: KvQuery,
        mode: ReadMode,
        limits: &KvLimits,
    ) -> Result<KvReadResult, ClientError> {
        limits.validate_query(&query).map_err(|e| ClientError::Invalid(e.to_string()))?;
        self.read(query, mode).await
    }

    /// Reads one key.
    pub async fn kv_get(&self, key: &[u8], mode: ReadMode) -> Result<Option<Vec<u8>>, ClientError> {
        let query = KvQuery::Get { key: key.to_vec() };
        match self.read(query, mode).await? {
            Ok(KvQueryResult::Get { value }) => Ok(value),
            Ok(other) => Err(ClientError::StateMachine(format!("a Get was answered with {other:?}"))),
            Err(e) => Err(ClientError::Invalid(e.to_string())),
        }
    }
}

/// The log entry for `request`, after checking it against `limits`.
pub(crate) fn encode_write(request: &KvRequest, limits: &KvLimits) -> Result<Vec<u8>, ClientError> {
    limits.validate(request).map_err(|e| ClientError::Invalid(e.to_string()))?;
    request.encode().map_err(|e| ClientError::Invalid(e.to_string()))
}

/// A client session: a client id and the next sequence number, shared by
/// clones. Each write gets a fresh `seq`; retries of one write must reuse
/// the request (see [`KvSession::request`]).
#[derive(Clone, Debug)]
pub struct KvSession {
    client_id: u64,
    next_seq: Arc<AtomicU64>,
}

impl KvSession {
    /// A session for `client_id` starting at sequence 1.
    pub fn new(client_id: u64) -> Self {
        KvSession { client_id, next_seq: Arc::new(AtomicU64::new(1)) }
    }

    /// The session's client id.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Builds the next request for `op`.
    pub fn request(&self, op: KvOp) -> KvRequest {
        KvRequest::new(self.client_id, self.next_seq.fetch_add(1, Ordering::Relaxed), op)
    }

    /// A `Put` request.
    pub fn put(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> KvRequest {
        self.request(KvOp::Put { key: key.into(), value: value.into() })
    }

    /// A `Delete` request.
    pub fn delete(&self, key: impl Into<Vec<u8>>) -> KvRequest {
        self.request(KvOp::Delete { key: key.into() })
    }
}
