//! The node task: one tokio task owns a [`raft_core::RaftNode`] and drives
//! it through the Ready loop (etcd/raft's `doc.go` steps, written out in
//! [`task`]).
//!
//! Inputs arrive on four channels (ticks come from an interval): peer
//! messages, client requests, transport reports and the shutdown signal.
//! Before each `ready()` the task drains what is queued, so every client
//! write that arrived during the previous fsync lands in one append and one
//! fsync.

mod apply;
pub(crate) mod config_log;
pub(crate) mod fence;
mod fencing;
pub(crate) mod inbound_snapshot;
pub(crate) mod local_snapshot;
pub(crate) mod member_change;
mod membership;
pub(crate) mod outbound_snapshot;
pub(crate) mod peers;
pub(crate) mod pending;
mod ready;
pub(crate) mod task;

use raft_core::{LogIndex, NodeId};

use crate::fsm::NodeStateMachine;
use pending::Reply;

/// How a read is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// ReadIndex (§6.4): the leader confirms its leadership with a quorum
    /// after the read arrived and answers once it has applied up to its
    /// commit index at that moment. Never stale; leader only.
    #[default]
    Linearizable,
    /// Answer from this node's state machine at once, leader or not. May be
    /// stale.
    Stale,
}

/// A client request to the node task.
pub(crate) enum Request<M: NodeStateMachine> {
    /// Append `data` to the log; answer with its index once applied.
    Propose { data: Vec<u8>, reply: Reply<(LogIndex, M::Response)> },
    /// Answer `query` from the state machine.
    Read { query: M::Query, mode: ReadMode, reply: Reply<M::QueryResult> },
    /// Start an election now.
    Campaign { reply: Reply<()> },
    /// Hand leadership to `to` (thesis §3.10).
    TransferLeader { to: NodeId, reply: Reply<()> },
    /// Propose a membership change (leader only); answer once the
    /// configuration ending it is applied.
    ChangeMembership { change: raft_rpc::MemberChange, reply: Reply<raft_rpc::ChangeOutcome> },
}
