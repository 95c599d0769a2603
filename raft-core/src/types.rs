//! The vocabulary of the protocol: ids, terms, indices, log entries, hard
//! state and cluster membership.
//!
//! Ids, terms and indices are newtypes so that a term can never be passed where
//! an index is expected; all three are plain `u64` underneath and order
//! numerically.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;

#[cfg(feature = "codec")]
use serde::{Deserialize, Serialize};

macro_rules! newtype_u64 {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
        pub struct $name(pub u64);

        impl $name {
            /// The raw number.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                $name(v)
            }
        }
    };
}

newtype_u64!(
    /// Identifies a member of the cluster. `0` is never a valid id.
    NodeId,
    "n"
);
newtype_u64!(
    /// A Raft term (§5.1). Terms only ever grow on a node.
    Term,
    "t"
);
newtype_u64!(
    /// A position in the replicated log. The first entry has index 1; index 0
    /// is the empty prefix.
    LogIndex,
    "i"
);

impl LogIndex {
    /// The next index.
    pub const fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }

    /// The next index, or `None` at `u64::MAX` (peer input is checked with
    /// this before it reaches any arithmetic).
    pub const fn checked_next(self) -> Option<LogIndex> {
        match self.0.checked_add(1) {
            Some(i) => Some(LogIndex(i)),
            None => None,
        }
    }

    /// The previous index, saturating at 0.
    pub const fn prev(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }
}

impl Term {
    /// The next term.
    pub const fn next(self) -> Term {
        Term(self.0 + 1)
    }

    /// The next term, or `None` at `u64::MAX`.
    pub const fn checked_next(self) -> Option<Term> {
        match self.0.checked_add(1) {
            Some(t) => Some(Term(t)),
            None => None,
        }
    }
}

/// The identity of a log entry: its term and index. Two logs that contain an
/// entry with the same `LogId` are identical up to that entry (Log Matching,
/// §5.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct LogId {
    /// Compared first: a log whose last entry has a higher term is more
    /// up-to-date (§5.4.1).
    pub term: Term,
    /// Compared second, for equal terms.
    pub index: LogIndex,
}

impl LogId {
    /// Builds a log id.
    pub const fn new(term: Term, index: LogIndex) -> Self {
        LogId { term, index }
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.term.0, self.index.0)
    }
}

/// The voting configuration of the cluster. It is itself replicated in the
/// log (an [`EntryPayload::Membership`] entry) and takes effect on a node as
/// soon as the entry is in its log, committed or not (thesis §4.1).
///
/// While a change of voters is in progress the configuration is *joint*
/// (C_old,new, thesis §4.3): `outgoing` holds the old voters and every
/// decision (election, commit, ReadIndex, CheckQuorum) needs a majority of
/// `voters` and a majority of `outgoing`. Outside a change `outgoing` is
/// empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct Membership {
    /// Members whose votes and acknowledgements count toward a quorum (the
    /// incoming configuration while joint).
    pub voters: BTreeSet<NodeId>,
    /// The outgoing voters while joint; empty otherwise.
    pub outgoing: BTreeSet<NodeId>,
    /// Members that receive the log but never vote (catching-up nodes).
    /// Invariant: disjoint from `voters`.
    pub learners: BTreeSet<NodeId>,
    /// Opaque to the core, which replicates it and never reads it: where
    /// each member can be reached. Carried in the configuration so that every
    /// node learns a new member's address from the log.
    pub addrs: BTreeMap<NodeId, String>,
    /// Opaque to the core, like `addrs`: the data-directory incarnation the
    /// leader knew for each member when it wrote the configuration. The
    /// runtime fences a peer that talks with another incarnation (a wiped
    /// and restarted member, issue #14); carrying it in the log lets every
    /// node fence such a peer, even one it never heard from before the
    /// wipe. Keys are members; values are non-zero.
    pub incarnations: BTreeMap<NodeId, u64>,
}

impl Membership {
    /// A configuration of voters only.
    pub fn new(voters: impl IntoIterator<Item = NodeId>) -> Self {
        Membership { voters: voters.into_iter().collect(), ..Membership::default() }
    }

    /// True while the configuration is joint (C_old,new).
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// True if `id` votes in either half of the configuration.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.outgoing.contains(&id)
    }

    /// True if `id` is a voter (incoming or outgoing) or a learner.
    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.learners.contains(&id)
    }

    /// Every member once: incoming voters, outgoing voters, learners.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        let outgoing_only = self.outgoing.iter().filter(|id| !self.voters.contains(id));
        let learners_only = self.learners.iter().filter(|id| !self.is_voter(**id));
        self.voters.iter().chain(outgoing_only).chain(learners_only).copied()
    }

    /// The number of votes that form a majority of the (incoming) voters.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub enum EntryPayload {
    /// Appended by every new leader so that it can commit entries of earlier
    /// terms by counting replicas of a current-term entry (§5.4.2, §8).
    Noop,
    /// Opaque application data, handed to the state machine once committed.
    /// Reference-counted: the copies a runtime hands to its disk write, to
    /// each follower's append and to apply share one buffer (issue #13).
    /// Its serde form is the same as a `Vec<u8>`'s, so the bincode codec
    /// reads logs written before the switch.
    Normal(Bytes),
    /// A new cluster configuration.
    Membership(Membership),
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct Entry {
    /// Term of the leader that created the entry.
    pub term: Term,
    /// Position in the log. Invariant: in any log slice, indices are
    /// consecutive.
    pub index: LogIndex,
    /// What the entry carries.
    pub payload: EntryPayload,
}

/// Fixed per-entry overhead counted by [`Entry::size_bytes`] (term, index, tag).
pub const ENTRY_OVERHEAD_BYTES: u64 = 24;

impl Entry {
    /// Builds an entry.
    pub fn new(term: Term, index: LogIndex, payload: EntryPayload) -> Self {
        Entry { term, index, payload }
    }

    /// The entry's id.
    pub fn log_id(&self) -> LogId {
        LogId::new(self.term, self.index)
    }

    /// The size this entry counts for in message and in-flight byte limits:
    /// the payload plus a fixed overhead.
    pub fn size_bytes(&self) -> u64 {
        let payload = match &self.payload {
            EntryPayload::Noop => 0,
            EntryPayload::Normal(data) => data.len() as u64,
            EntryPayload::Membership(m) => {
                let ids = m.voters.len() + m.outgoing.len() + m.learners.len();
                let addrs: usize = m.addrs.values().map(|a| 8 + a.len()).sum();
                (8 * ids + addrs + 16 * m.incarnations.len()) as u64
            }
        };
        ENTRY_OVERHEAD_BYTES + payload
    }
}

/// The state a node must persist before it answers any message that depends
/// on it (Figure 2, "Persistent state on all servers"). `commit` is persisted
/// too so that a restart does not re-deliver already-applied entries as new.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct HardState {
    /// Latest term the node has seen.
    pub term: Term,
    /// Candidate that received this node's vote in `term`, if any.
    pub vote: Option<NodeId>,
    /// Highest index known to be committed. Never decreases.
    pub commit: LogIndex,
}

/// Describes a snapshot: the last entry it covers and the configuration at
/// that point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct SnapshotMeta {
    /// The last log entry folded into the snapshot (index 0 for the bootstrap
    /// "empty" snapshot that only carries the initial membership).
    pub last_log_id: LogId,
    /// The membership in effect at `last_log_id`.
    pub membership: Membership,
}

/// A snapshot of the application state, opaque to the core.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct Snapshot {
    /// Where the snapshot sits in the log.
    pub meta: SnapshotMeta,
    /// The state machine's serialized state.
    pub data: Vec<u8>,
}

/// The role a node plays in its current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Running a pre-vote round (thesis §9.6); term not yet raised.
    PreCandidate,
    /// Asking for votes in a new term.
    Candidate,
    /// Replicating its log to the others.
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        f.write_str(s)
    }
}
