//! The messages Raft nodes exchange (Figure 2, plus pre-vote, TimeoutNow and
//! InstallSnapshot). The transport in `raft-rpc` converts these to and from
//! protobuf; nothing here knows about the wire.

use crate::types::{Entry, LogId, LogIndex, NodeId, Snapshot, Term};

#[cfg(feature = "codec")]
use serde::{Deserialize, Serialize};

/// A message between two nodes. `term` is the sender's current term, except
/// for pre-vote requests, which carry the term the sender *would* campaign
/// in, and pre-vote responses, which echo the request's term when granted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct Message {
    /// Sender.
    pub from: NodeId,
    /// Recipient.
    pub to: NodeId,
    /// See the type doc.
    pub term: Term,
    /// The payload.
    pub body: MessageBody,
}

/// The kinds of message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub enum MessageBody {
    /// RequestVote RPC (§5.2), or a pre-vote probe (thesis §9.6).
    RequestVote(RequestVote),
    /// Answer to [`MessageBody::RequestVote`].
    RequestVoteResponse(RequestVoteResponse),
    /// AppendEntries RPC (§5.3); with no entries it is the heartbeat.
    AppendEntries(AppendEntries),
    /// Answer to [`MessageBody::AppendEntries`].
    AppendEntriesResponse(AppendEntriesResponse),
    /// InstallSnapshot RPC (Figure 13), sent when the follower's next entry
    /// has been compacted away on the leader.
    InstallSnapshot(InstallSnapshot),
    /// Answer to [`MessageBody::InstallSnapshot`].
    InstallSnapshotResponse(InstallSnapshotResponse),
    /// Tells the recipient to start an election at once, skipping pre-vote
    /// and leader stickiness (leader transfer, thesis §3.10).
    TimeoutNow,
}

/// RequestVote arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct RequestVote {
    /// A pre-vote probe: granting it changes no state on the voter.
    pub pre_vote: bool,
    /// The candidate's last log entry, for the up-to-date check (§5.4.1).
    pub last_log_id: LogId,
    /// Set when the election was triggered by a leader transfer: voters then
    /// skip the leader-stickiness check.
    pub leader_transfer: bool,
}

/// RequestVote results.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct RequestVoteResponse {
    /// Answers a pre-vote probe.
    pub pre_vote: bool,
    /// True means the vote (or pre-vote) is granted.
    pub granted: bool,
    /// Set only on a refused real vote, by a voter that has no leader and
    /// would grant this candidate in the term after the reply's: its vote
    /// in that term is free, or went to a candidate whose log is strictly
    /// less up-to-date (§5.4.1). The candidate campaigns again at once
    /// instead of waiting out its timer; see `RaftNode::retry_hint`.
    #[cfg_attr(feature = "codec", serde(default))]
    pub retry_next_term: bool,
}

/// AppendEntries arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct AppendEntries {
    /// The entry immediately preceding `entries` (index 0 / term 0 for the
    /// start of the log).
    pub prev_log_id: LogId,
    /// Entries to store; empty for a heartbeat. Invariant: consecutive
    /// indices starting at `prev_log_id.index + 1`.
    pub entries: Vec<Entry>,
    /// The leader's commit index (for heartbeats: capped at what the
    /// follower is known to hold).
    pub leader_commit: LogIndex,
    /// The leader's read-confirmation round at sending time; echoed in the
    /// response so ReadIndex requests learn that leadership was confirmed
    /// by a quorum after they arrived (§6.4).
    pub read_round: u64,
}

/// AppendEntries results.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct AppendEntriesResponse {
    /// The outcome.
    pub result: AppendResult,
    /// Echo of [`AppendEntries::read_round`].
    pub read_round: u64,
}

/// Outcome of an AppendEntries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub enum AppendResult {
    /// The follower's log now matches the leader's up to `match_index`.
    Success {
        /// Highest index known to match the leader's log.
        match_index: LogIndex,
    },
    /// The consistency check on `prev_log_id` failed (§5.3).
    Conflict(ConflictHint),
}

/// Lets the leader back up a whole term per round trip instead of one entry
/// (the optimisation described at the end of §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct ConflictHint {
    /// The index the leader asked about (`prev_log_id.index`), so stale
    /// rejections can be told apart.
    pub rejected_index: LogIndex,
    /// Term of the follower's entry at `rejected_index`, or `None` if the
    /// follower's log is shorter than that.
    pub conflict_term: Option<Term>,
    /// With `conflict_term`: the first index the follower holds with that
    /// term. Without: the follower's last index + 1.
    pub first_index: LogIndex,
}

/// InstallSnapshot arguments (the whole snapshot; the transport chunks it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct InstallSnapshot {
    /// The snapshot to install.
    pub snapshot: Snapshot,
}

/// InstallSnapshot results.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub struct InstallSnapshotResponse {
    /// An index up to which the follower's log is now known to match the
    /// leader's: the snapshot's last index when installed, or the
    /// follower's commit index when the snapshot was stale and ignored.
    pub last_index: LogIndex,
}

impl Message {
    /// A short name of the message kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match &self.body {
            MessageBody::RequestVote(v) if v.pre_vote => "PreVote",
            MessageBody::RequestVote(_) => "RequestVote",
            MessageBody::RequestVoteResponse(v) if v.pre_vote => "PreVoteResp",
            MessageBody::RequestVoteResponse(_) => "RequestVoteResp",
            MessageBody::AppendEntries(a) if a.entries.is_empty() => "Heartbeat",
            MessageBody::AppendEntries(_) => "AppendEntries",
            MessageBody::AppendEntriesResponse(_) => "AppendEntriesResp",
            MessageBody::InstallSnapshot(_) => "InstallSnapshot",
            MessageBody::InstallSnapshotResponse(_) => "InstallSnapshotResp",
            MessageBody::TimeoutNow => "TimeoutNow",
        }
    }

    /// Approximate encoded size, used for byte limits on the wire.
    pub fn size_bytes(&self) -> u64 {
        const HEADER: u64 = 48;
        HEADER
            + match &self.body {
                MessageBody::AppendEntries(a) => a.entries.iter().map(Entry::size_bytes).sum(),
                MessageBody::InstallSnapshot(s) => s.snapshot.data.len() as u64,
                _ => 0,
            }
    }
}
