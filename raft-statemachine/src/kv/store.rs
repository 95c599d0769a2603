//! [`KvStore`]: the replicated key-value store.

use std::io::{Read, Write};
use std::sync::Arc;

use raft_core::{Entry, EntryPayload, LogId, LogIndex, SnapshotMeta};
use serde::{Deserialize, Serialize};

use super::query::run_query;
use super::session::{SessionCheck, SessionTable};
use super::snapshot::{read_snapshot, write_snapshot, KvSnapshotValidator, Pairs};
use super::{KvError, KvLimits, KvOp, KvQuery, KvQueryResult, KvRequest, KvResponse, SessionConfig};
use crate::{AppliedState, SnapshotValidator, StateMachine, StateMachineError};

/// Configuration of a [`KvStore`]. Must be identical on every replica,
/// because apply depends on it (limits re-checked, sessions evicted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvConfig {
    /// Size limits.
    pub limits: KvLimits,
    /// Session table bounds.
    pub sessions: SessionConfig,
}

/// An in-memory, ordered key-value store with exactly-once client sessions.
///
/// State lives in memory only; on restart the runtime restores the latest
/// snapshot and replays the committed log after it (see the crate docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvStore {
    config: KvConfig,
    applied: AppliedState,
    data: KvMap,
    sessions: SessionTable,
}

/// The pairs: a persistent (copy-on-write) ordered map, so that cloning the
/// store to freeze a snapshot (`raft-cluster`'s snapshot job, issue #17) is
/// O(1) on the node task however large the state; the writes that follow
/// copy only the tree nodes they touch while the frozen copy is alive.
pub(crate) type KvMap = imbl::OrdMap<Vec<u8>, Vec<u8>>;

impl Default for KvStore {
    fn default() -> Self {
        KvStore::new(KvConfig::default())
    }
}

impl KvStore {
    /// An empty store that has applied nothing (index 0).
    pub fn new(config: KvConfig) -> Self {
        let sessions = SessionTable::new(config.sessions.clone());
        KvStore { config, applied: AppliedState::default(), data: KvMap::new(), sessions }
    }

    /// The configuration.
    pub fn config(&self) -> &KvConfig {
        &self.config
    }

    /// The size limits (for validating requests before proposing them).
    pub fn limits(&self) -> &KvLimits {
        &self.config.limits
    }

    /// The id of the last applied entry.
    pub fn applied_log_id(&self) -> LogId {
        self.applied.last_applied()
    }

    /// The value of `key` in the applied state (no ReadIndex; local read).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.data.get(key).map(Vec::as_slice)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True if there are no keys.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Number of live client sessions (bounded by
    /// [`SessionConfig::max_sessions`]).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Bytes of remembered responses (bounded by
    /// [`SessionConfig::max_cached_bytes`]).
    pub fn cached_response_bytes(&self) -> u64 {
        self.sessions.cached_bytes()
    }

    /// Applies the data of a `Normal` entry at `index`.
    fn apply_command(&mut self, index: LogIndex, bytes: &[u8]) -> KvResponse {
        let request = match KvRequest::decode(bytes) {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(index = index.0, error = %e, "rejecting malformed KV command");
                return KvResponse::Rejected(KvError::Malformed { reason: e.to_string() });
            }
        };
        let (client_id, seq) = (request.client_id, request.seq);
        match self.sessions.check(client_id, seq, request.retry, index) {
            SessionCheck::Duplicate(response) => return response,
            SessionCheck::Reject(error) => return KvResponse::Rejected(error),
            SessionCheck::New => {}
        }
        // Defensive: the server validates before proposing, but a command
        // that got into the log anyway is rejected, not applied or panicked on.
        let response = match self.config.limits.validate(&request) {
            Err(error) => {
                tracing::warn!(index = index.0, client_id, seq, %error, "oversize KV command in the log");
                KvResponse::Rejected(error)
            }
            Ok(()) => self.execute(request.op),
        };
        self.sessions.record(client_id, seq, index, response.clone());
        response
    }

    /// Performs a validated write.
    fn execute(&mut self, op: KvOp) -> KvResponse {
        match op {
            KvOp::Put { key, value } => KvResponse::Put { prev: self.data.insert(key, value) },
            KvOp::Delete { key } => KvResponse::Delete { prev: self.data.remove(&key) },
            KvOp::Cas { key, expected, new } => {
                let current = self.data.get(&key);
                if current != expected.as_ref() {
                    return KvResponse::Cas { swapped: false, current: current.cloned() };
                }
                match &new {
                    Some(value) => self.data.insert(key, value.clone()),
                    None => self.data.remove(&key),
                };
                KvResponse::Cas { swapped: true, current: new }
            }
        }
    }
}

impl StateMachine for KvStore {
    type Response = KvResponse;
    type Query = KvQuery;
    type QueryResult = Result<KvQueryResult, KvError>;

    fn apply(&mut self, entry: &Entry) -> Result<Option<KvResponse>, StateMachineError> {
        self.applied.check_next(entry)?;
        // Expiry is a function of the log index only, so every replica drops
        // the same sessions at the same entry.
        self.sessions.expire(entry.index);
        let response = match &entry.payload {
            EntryPayload::Normal(bytes) => Some(self.apply_command(entry.index, bytes)),
            EntryPayload::Noop | EntryPayload::Membership(_) => None,
        };
        self.applied.advance(entry);
        Ok(response)
    }

    fn applied_index(&self) -> LogIndex {
        self.applied.last_applied().index
    }

    fn query(&self, query: &KvQuery) -> Result<KvQueryResult, KvError> {
        run_query(&self.data, &self.config.limits, query)
    }

    fn snapshot(&self, out: &mut dyn Write) -> Result<SnapshotMeta, StateMachineError> {
        write_snapshot(out, self.applied.last_applied(), &self.data, &self.sessions)?;
        Ok(self.applied.snapshot_meta())
    }

    fn restore(&mut self, meta: &SnapshotMeta, data: &mut dyn Read) -> Result<(), StateMachineError> {
        let restored = read_snapshot(data, meta, &self.config.sessions, Pairs::Keep)?;
        self.data = restored.data;
        self.sessions = restored.sessions;
        self.applied = AppliedState::from_meta(meta);
        Ok(())
    }

    fn snapshot_validator(&self) -> Arc<dyn SnapshotValidator> {
        Arc::new(KvSnapshotValidator { sessions: self.config.sessions.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(index: u64, key: &str, value: &str) -> Entry {
        let op = KvOp::Put { key: key.as_bytes().to_vec(), value: value.as_bytes().to_vec() };
        let data = KvRequest::new(1, index, op).encode().expect("encodable");
        Entry::new(raft_core::Term(1), LogIndex(index), EntryPayload::Normal(data.into()))
    }

    /// Issue #17: the snapshot freeze (a clone, on the node task) shares the
    /// pairs instead of copying them, and later writes do not reach it.
    #[test]
    fn a_clone_shares_the_pairs_and_is_isolated_from_later_writes() {
        let mut live = KvStore::default();
        for i in 1..=5_000u64 {
            live.apply(&put(i, &format!("k{i:05}"), "old")).unwrap();
        }
        let frozen = live.clone();
        assert!(live.data.ptr_eq(&frozen.data), "the clone copied the map");
        live.apply(&put(5_001, "k00001", "new")).unwrap();
        assert!(!live.data.ptr_eq(&frozen.data));
        assert_eq!(frozen.get(b"k00001"), Some(&b"old"[..]));
        assert_eq!(live.get(b"k00001"), Some(&b"new"[..]));
        assert_eq!((frozen.applied_index(), live.applied_index()), (LogIndex(5_000), LogIndex(5_001)));
        // The frozen copy serializes exactly the state at its index.
        let (meta, bytes) = frozen.snapshot_to_vec().unwrap();
        let mut restored = KvStore::default();
        restored.restore(&meta, &mut &bytes[..]).unwrap();
        assert_eq!(restored, frozen);
    }
}
