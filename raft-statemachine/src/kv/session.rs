//! Exactly-once client sessions (thesis §6.3), expired by log index. See [`SessionConfig`] for the rule.

use std::collections::{BTreeMap, BTreeSet};

use raft_core::LogIndex;
use serde::{Deserialize, Serialize};

use super::{KvError, KvResponse};

/// Bounds of the session table. Must be identical on every replica.
///
/// Rule: each client's session remembers the responses of its last
/// [`SessionConfig::window`] applied sequence numbers. Every request says
/// whether it is a *retry*: an earlier attempt of the same command may be in
/// the log ([`super::KvRequest::retry`], set by the client after a failure
/// with an unknown outcome). For a request `(client, seq)`:
///
/// * `seq` remembered: return the remembered response, apply nothing.
/// * session known, `seq` below the oldest remembered (`floor`): reject with
///   [`KvError::StaleSequence`]; we can no longer tell whether it applied.
/// * session known, `seq >= floor` and not remembered: new; apply and
///   remember. Requests may therefore commit in any order above the floor.
/// * no session, first attempt: open a session with `floor = seq`, apply and
///   remember. A first attempt is never a duplicate, whatever the table
///   forgot, so any number of clients may come and go.
/// * no session, retry: reject with [`KvError::SessionExpired`]. The earlier
///   attempt may have applied in a session since forgotten; applying again
///   could be a second apply, so the answer is a definite refusal of this
///   attempt, and the client reports the command's outcome as unknown.
///
/// **Bound.** Forgetting a session can therefore never turn a retry into a
/// second apply: safety does not depend on how long a session lives, on the
/// entry rate, or on how many clients there are. The table's limits decide
/// only availability: a client whose session was dropped while it was still
/// retrying an ambiguous command gets "outcome unknown" for that one command
/// (and carries on with its next seq). Sessions are dropped when unused for
/// more than [`SessionConfig::ttl_entries`] applied entries, or, least
/// recently used first, when more than [`SessionConfig::max_sessions`]
/// sessions or [`SessionConfig::max_cached_bytes`] of responses are held.
/// Both are functions of the log alone (no clock is read while applying), so
/// every replica drops the same sessions at the same entry.
///
/// One gap remains for clients with several commands in flight: a retry of a
/// seq above a reopened session's floor is taken as new, so a pipelining
/// client must not reuse a client id across a session loss. The shipped
/// clients (`KvClient`, `raft-cli`) have one command in flight per session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// A session not used for more than this many applied entries is dropped.
    /// Default 100 000.
    pub ttl_entries: u64,
    /// At most this many sessions; the least recently used is evicted.
    /// Default 4096.
    pub max_sessions: usize,
    /// Responses remembered per client (the last `window` sequence numbers);
    /// also the highest `seq` that may open a new session. Default 16.
    pub window: u64,
    /// Upper bound on the bytes of remembered responses across all sessions
    /// (see [`KvResponse::size_bytes`]); least recently used sessions are
    /// evicted past it. Default 64 MiB.
    pub max_cached_bytes: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { ttl_entries: 100_000, max_sessions: 4096, window: 16, max_cached_bytes: 64 << 20 }
    }
}

/// One client's session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Session {
    /// Log index of the last entry that used this session.
    pub(crate) last_used: LogIndex,
    /// Sequence numbers below this are forgotten. Invariant: every key of
    /// `responses` is `>= floor`.
    pub(crate) floor: u64,
    /// Remembered responses. Invariant: at most `window` of them.
    pub(crate) responses: BTreeMap<u64, KvResponse>,
}

/// What the session table says about an incoming request.
#[derive(Debug)]
pub(crate) enum SessionCheck {
    /// Not seen before: apply it, then [`SessionTable::record`] the response.
    New,
    /// Already applied: answer with this response and apply nothing.
    Duplicate(KvResponse),
    /// Refused by the session rules; apply nothing, remember nothing.
    Reject(KvError),
}

/// All sessions plus the indexes that make expiry and eviction cheap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SessionTable {
    config: SessionConfig,
    sessions: BTreeMap<u64, Session>,
    /// `(last_used, client_id)` of every session: the LRU order.
    /// Invariant: exactly one element per session, matching its `last_used`.
    lru: BTreeSet<(LogIndex, u64)>,
    /// Sum of `response_cost` over all remembered responses.
    cached_bytes: u64,
}

fn response_cost(response: &KvResponse) -> u64 {
    response.size_bytes() + 16
}

impl SessionTable {
    pub(crate) fn new(config: SessionConfig) -> Self {
        SessionTable { config, sessions: BTreeMap::new(), lru: BTreeSet::new(), cached_bytes: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn cached_bytes(&self) -> u64 {
        self.cached_bytes
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &Session)> {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }

    /// Drops every session unused for more than `ttl_entries` entries as of
    /// applying entry `index`.
    pub(crate) fn expire(&mut self, index: LogIndex) {
        while let Some(&(last_used, client)) = self.lru.first() {
            if index.0.saturating_sub(last_used.0) <= self.config.ttl_entries {
                break;
            }
            self.remove(client);
        }
    }

    /// Classifies `(client, seq)` arriving in entry `index` (`retry`: an
    /// earlier attempt may be in the log); a known session counts as used.
    pub(crate) fn check(&mut self, client: u64, seq: u64, retry: bool, index: LogIndex) -> SessionCheck {
        let Some(session) = self.sessions.get(&client) else {
            if retry {
                return SessionCheck::Reject(KvError::SessionExpired { client_id: client, seq });
            }
            return SessionCheck::New;
        };
        let outcome = if let Some(response) = session.responses.get(&seq) {
            SessionCheck::Duplicate(response.clone())
        } else if seq < session.floor {
            SessionCheck::Reject(KvError::StaleSequence { client_id: client, seq, oldest_retained: session.floor })
        } else {
            SessionCheck::New
        };
        self.touch(client, index);
        outcome
    }

    /// Remembers `response` for `(client, seq)` applied in entry `index`,
    /// opening the session if needed, then enforces the window and the table
    /// bounds.
    pub(crate) fn record(&mut self, client: u64, seq: u64, index: LogIndex, response: KvResponse) {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.sessions.entry(client) {
            // Opened by a first attempt at `seq`: older seqs of this client
            // may have applied in a forgotten session, so they are stale.
            slot.insert(Session { last_used: index, floor: seq, ..Session::default() });
            self.lru.insert((index, client));
        }
        self.touch(client, index);
        let session = self.sessions.get_mut(&client).expect("invariant: session was just ensured");
        self.cached_bytes += response_cost(&response);
        if let Some(old) = session.responses.insert(seq, response) {
            self.cached_bytes -= response_cost(&old);
        }
        while session.responses.len() as u64 > self.config.window.max(1) {
            let (old_seq, old) = session.responses.pop_first().expect("invariant: window exceeded, so non-empty");
            session.floor = old_seq + 1;
            self.cached_bytes -= response_cost(&old);
        }
        self.evict_over_bounds(client);
    }

    /// Evicts least recently used sessions (never `keep`) while the table is
    /// over `max_sessions` or `max_cached_bytes`.
    fn evict_over_bounds(&mut self, keep: u64) {
        while self.sessions.len() > self.config.max_sessions.max(1) || self.cached_bytes > self.config.max_cached_bytes
        {
            match self.lru.first() {
                Some(&(_, client)) if client != keep => self.remove(client),
                _ => break,
            }
        }
    }

    fn touch(&mut self, client: u64, index: LogIndex) {
        let session = self.sessions.get_mut(&client).expect("invariant: touch is called for known sessions");
        let removed = self.lru.remove(&(session.last_used, client));
        assert!(removed, "invariant: every session has exactly one LRU entry");
        session.last_used = index;
        self.lru.insert((index, client));
    }

    fn remove(&mut self, client: u64) {
        if let Some(session) = self.sessions.remove(&client) {
            self.lru.remove(&(session.last_used, client));
            self.cached_bytes -= session.responses.values().map(response_cost).sum::<u64>();
        }
    }

    /// Inserts a session read from a snapshot. Fails on a duplicate client or
    /// a response below the floor, so a corrupt snapshot cannot break the
    /// table's invariants.
    pub(crate) fn restore_session(&mut self, client: u64, session: Session) -> Result<(), String> {
        if self.sessions.contains_key(&client) {
            return Err(format!("session for client {client} appears twice"));
        }
        if session.responses.keys().next().is_some_and(|seq| *seq < session.floor) {
            return Err(format!("client {client} has a response below its floor {}", session.floor));
        }
        if !self.lru.insert((session.last_used, client)) {
            return Err(format!("client {client}: duplicate LRU position {}", session.last_used));
        }
        self.cached_bytes += session.responses.values().map(response_cost).sum::<u64>();
        self.sessions.insert(client, session);
        Ok(())
    }
}
