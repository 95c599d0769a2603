//! # raft-core: Raft as a pure state machine
//!
//! This crate is the Raft protocol and nothing else. It does no IO: no
//! sockets, no disk, no clock, no threads, no global randomness. Time is a
//! [`RaftNode::tick`] call; randomness comes from a [`SeededRng`] seeded by
//! [`Config::seed`]. Given the same inputs, a node produces the same outputs,
//! which is what lets `tests/sim` replay any failure from a single seed.
//!
//! The runtime (`raft-cluster`) drives a node with three inputs and one
//! output loop, in the style of etcd/raft's `RawNode`:
//!
//! ```text
//!  tick()  step(msg)  propose(data) / read_index(ctx) / transfer_leader(to)
//!     \       |        /
//!      v      v       v
//!        +-----------+        ready() -> Ready { hard_state, truncate_from, entries,
//!        | RaftNode  |  ----->                  snapshot, messages, persisted_messages,
//!        +-----------+                          committed_entries, read_states, ... }
//!              ^
//!              |  advance(ready)  after the runtime persisted, sent and applied
//! ```
//!
//! ## One proposal, start to finish
//! 1. The leader's runtime calls [`RaftNode::propose`]; the core appends an
//!    [`Entry`] to its in-memory unstable tail and returns its [`LogId`]. A
//!    follower returns [`ProposeError::NotLeader`] with a leader hint.
//! 2. [`RaftNode::ready`] returns the entry in [`Ready::entries`] (to persist)
//!    and an `AppendEntries` per follower in [`Ready::messages`]: the leader
//!    may send before its own write is durable (thesis §10.2.1).
//! 3. Each follower steps the append, checks `prev_log_id` (§5.3), and its
//!    `Ready` holds the entries plus the acknowledgement in
//!    [`Ready::persisted_messages`]: it only goes out after the write is
//!    durable.
//! 4. The leader counts acknowledgements (its own counts after its
//!    [`RaftNode::advance`]); once a majority stores an entry *of the current
//!    term*, that index and everything before it is committed (§5.4.2).
//! 5. The next `Ready` lists the entry in [`Ready::committed_entries`]; the
//!    runtime applies it to its state machine and answers the client.
//!    Followers learn the commit index from the next append or heartbeat.
//!
//! ## Where the protocol lives
//! [`RaftNode`] is one struct whose behaviour is split by concern into
//! plain `impl` blocks: `election.rs` (pre-vote, vote, CheckQuorum, role
//! changes), `replication.rs` (the leader: appends, heartbeats, commit,
//! ReadIndex, transfer), `follower.rs` (AppendEntries and InstallSnapshot on
//! the receiving side), `step.rs` (input validation and the term rules) and
//! `ready_flow.rs` (`ready`/`advance`). The pieces with their own invariants
//! are separate types: [`RaftLog`] (durable view + unstable tail),
//! [`Progress`] + [`Inflights`] (per-follower flow control),
//! [`MembershipLog`] (the configuration in effect), [`ReadOnly`] (pending
//! reads) and [`quorum`] (majority arithmetic, property-tested).
//!
//! ## Why some choices
//! - Appends are built in `ready()`, not in `propose()`: proposals between
//!   two Readies travel as one AppendEntries per follower.
//! - Votes, vote requests and append acknowledgements go in
//!   [`Ready::persisted_messages`] whenever the node holds state that is not
//!   yet durable: they promise that state survives a crash.
//! - Heartbeats to a pipelined follower assert everything already sent, so a
//!   lost append is noticed a heartbeat or two later without extra
//!   messages: the first "log too short" rejection while appends are in
//!   flight is tolerated (it may answer a heartbeat that overtook them), a
//!   second without progress rewinds the pipeline to just after the
//!   follower's last entry (a follower drops an append that overtook the
//!   one before it). Their commit index is
//!   capped at the follower's known match.
//! - A follower being probed gets one probe at a time; a lost probe is
//!   re-sent only once the follower answers a heartbeat, so an unreachable
//!   peer costs one heartbeat per interval, never a stream of appends or
//!   snapshots.
//! - Learning a higher term does not restart the election timer (only a
//!   leader's message or a granted vote does, Figure 2): otherwise stale
//!   candidates could keep the up-to-date nodes from ever timing out.
//! - Everything a peer sends is checked; bad input is dropped with a
//!   `tracing` event (fields `node`, `term`), never a panic. Indices and
//!   terms of `u64::MAX` are refused so that no arithmetic on them can
//!   overflow. Only storage failures surface as [`Error`].
//! - Membership changes use joint consensus (thesis §4.3), whatever the
//!   number of voters that change: [`RaftNode::propose_membership`] appends
//!   C_old,new ([`Membership::outgoing`] = the old voters), in which every
//!   decision (commit, votes, CheckQuorum, ReadIndex) needs a majority of
//!   both voter sets ([`quorum`]'s `joint_*` functions); once it commits,
//!   the leader appends C_new by itself. A change of learners or addresses
//!   only is appended directly. One change at a time, and only after the
//!   leader committed an entry of its own term (Ongaro's erratum to §4.1).
//!   New servers join as learners (they receive the log, never vote, never
//!   count) and are promoted only once they hold the current configuration
//!   and lag at most [`Config::max_promote_lag`] entries (§4.2.1: an empty
//!   voter would stall commits). A node whose store has no configuration
//!   at all (started to join) never votes or campaigns until the leader's
//!   log or snapshot gives it one. Servers vote for candidates outside
//!   their configuration (theirs may lag); a removed server is replicated
//!   to until it holds the entry removing it, so it stops campaigning
//!   (§4.2.2); a leader not in C_new steps down once C_new commits; a
//!   higher term from a non-member never deposes the leader, and a healthy
//!   leader re-elects itself at once above a returning member's higher
//!   term (§4.2.3). The runtime may transfer leadership first instead
//!   ([`RaftNode::transfer_leader`]). [`Membership::addrs`] and
//!   [`Membership::incarnations`] are replicated, never read.
//! - Pre-votes are refused while a leader is live, with or without
//!   CheckQuorum (§9.6), and so are votes for candidates outside the
//!   configuration (a removed server that was never told, §4.2.3).
//! - A node that voted for itself restarts its election timer when a more
//!   up-to-date candidate of its term asks for its vote, so that candidate
//!   times out first next time (without PreVote, a far-behind node could
//!   otherwise keep taking each term first).
//!
//! ## Restarting
//! [`RaftNode::new`] restores term, vote, commit index and membership from
//! [`Storage`]. Which committed entries the application still has to apply
//! is the application's knowledge: it passes its applied index as
//! [`Config::applied`] (etcd's `Config.Applied`), and the first
//! [`Ready::committed_entries`] start right after it. The index must lie
//! between the snapshot index and the durable commit index, otherwise
//! `new` fails with [`ConfigError::AppliedOutOfRange`]. Left at 0, the
//! node assumes the state machine is exactly the snapshot and re-delivers
//! everything committed after it.
//!
//! ## Storage
//! [`Storage`] is read-only: the core reads the durable log through it and
//! tells the runtime what to write. [`MemStorage`] is the in-memory
//! implementation used by tests and the simulator.
#![deny(missing_docs)]

pub mod config;
mod election;
pub mod error;
mod follower;
pub mod inflights;
#[cfg(test)]
mod join_tests;
#[cfg(test)]
mod log_lost_tests;
mod membership_change;
pub mod membership_log;
pub mod message;
pub mod node;
pub mod progress;
pub mod quorum;
pub mod raft_log;
pub mod read_only;
pub mod ready;
mod ready_flow;
mod replication;
pub mod rng;
pub mod status;
mod step;
pub mod storage;
#[cfg(test)]
mod test_util;
pub mod types;
mod vote_retry;
#[cfg(test)]
mod vote_retry_tests;

#[cfg(feature = "codec")]
pub mod codec;

/// The payload type of [`EntryPayload::Normal`], re-exported so embedders
/// need no direct dependency on `bytes`.
pub use bytes::Bytes;
pub use config::{Config, ConfigError};
pub use error::{Error, ProposeError};
pub use inflights::Inflights;
pub use membership_log::MembershipLog;
pub use message::{
    AppendEntries, AppendEntriesResponse, AppendResult, ConflictHint, InstallSnapshot, InstallSnapshotResponse,
    Message, MessageBody, RequestVote, RequestVoteResponse,
};
pub use node::RaftNode;
pub use progress::{Progress, ProgressState};
pub use quorum::VoteResult;
pub use raft_log::RaftLog;
pub use read_only::ReadOnly;
pub use ready::{Event, ReadState, Ready, SoftState};
pub use rng::SeededRng;
pub use status::{PeerProgress, Status};
pub use storage::{InitialState, MemStorage, MemStorageCore, Storage, StorageError, StorageResult};
pub use types::{
    Entry, EntryPayload, HardState, LogId, LogIndex, Membership, NodeId, Role, Snapshot, SnapshotMeta, Term,
};
