//! Conversions between the runtime's types and raft-rpc's API types.

use raft_core::{ProposeError, Role};
use raft_rpc::{
    Consistency, LeaderHint, MemberStatus, ReadRequest, ReadResult, ScanResult, ServiceError, WriteOp, WriteRequest,
    WriteResult,
};
use raft_statemachine::{KvLimits, KvOp, KvQuery, KvQueryResult, KvRequest, KvResponse, KvStore, ScanRange};

use crate::client::NodeClient;
use crate::config::NodeConfig;
use crate::error::ClientError;
use crate::event::{EventKind, NodeEvent};
use crate::runtime::ReadMode;
use crate::status::NodeStatus;

/// Proposes a client write and shapes the answer for the KV service.
pub(crate) async fn write(
    client: &NodeClient<KvStore>,
    req: WriteRequest,
    limits: &KvLimits,
) -> Result<WriteResult, ServiceError> {
    // A swap that happened found exactly `expected`: that is the value
    // before the write, which the API promises in `previous`.
    let mut cas_expected = None;
    let op = match req.op {
        WriteOp::Put { key, value } => KvOp::Put { key, value },
        WriteOp::Delete { key } => KvOp::Delete { key },
        WriteOp::CompareAndSwap { key, expected, new_value } => {
            cas_expected = Some(expected.clone());
            KvOp::Cas { key, expected, new: Some(new_value) }
        }
    };
    let request = KvRequest { client_id: req.client_id, seq: req.seq, op, retry: req.retry };
    // Encode, then drop the decoded request: while the write waits for its
    // commit only the entry holds its bytes (one copy, shared by the log,
    // the disk write and each follower's append).
    let data = crate::kv::encode_write(&request, limits).map_err(map_error)?;
    drop(request);
    let (index, response) = client.propose_indexed(data).await.map_err(map_error)?;
    let (succeeded, previous) = match response {
        KvResponse::Put { prev } => (true, prev),
        KvResponse::Delete { prev } => (prev.is_some(), prev),
        KvResponse::Cas { swapped: true, .. } => (true, cas_expected.flatten()),
        KvResponse::Cas { swapped: false, current } => (false, current),
        KvResponse::Rejected(e) => return Err(ServiceError::Invalid(e.to_string())),
    };
    Ok(WriteResult { succeeded, previous, index })
}

/// Serves a client read.
pub(crate) async fn read(
    client: &NodeClient<KvStore>,
    req: ReadRequest,
    limits: &KvLimits,
) -> Result<ReadResult, ServiceError> {
    let (query, consistency) = match req {
        ReadRequest::Get { key, consistency } => (KvQuery::Get { key }, consistency),
        ReadRequest::Scan { range, limit, consistency } => {
            let range = match range {
                raft_rpc::ScanRange::Prefix(p) => ScanRange::Prefix(p),
                raft_rpc::ScanRange::Range { start, end } => ScanRange::Range { start, end },
            };
            (KvQuery::Scan { range, limit }, consistency)
        }
    };
    let mode = match consistency {
        Consistency::Linearizable => ReadMode::Linearizable,
        Consistency::Stale => ReadMode::Stale,
    };
    let answer = client.kv_read(query, mode, limits).await.map_err(map_error)?;
    match answer {
        Ok(KvQueryResult::Get { value }) => Ok(ReadResult::Get(value)),
        Ok(KvQueryResult::Scan { pairs, next_key }) => {
            Ok(ReadResult::Scan(ScanResult { pairs, more: next_key.is_some() }))
        }
        Err(e) => Err(ServiceError::Invalid(e.to_string())),
    }
}

/// Maps a client error to the service's error, filling in the leader's
/// address from `config` when the error lacks it.
pub(crate) fn service_error(e: ClientError, config: &NodeConfig) -> ServiceError {
    match e {
        ClientError::NotLeader { leader, leader_addr } => ServiceError::NotLeader {
            leader: leader
                .map(|id| LeaderHint { id, address: leader_addr.or_else(|| config.addr_of(id).map(str::to_string)) }),
        },
        other => map_error(other),
    }
}

fn map_error(e: ClientError) -> ServiceError {
    let text = e.to_string();
    match e {
        ClientError::NotLeader { leader, leader_addr } => {
            ServiceError::NotLeader { leader: leader.map(|id| LeaderHint { id, address: leader_addr }) }
        }
        // Definitely not applied: the client may retry at once.
        ClientError::NotCommitted { .. } | ClientError::ShuttingDown => ServiceError::Unavailable(text),
        // May have been applied (raft_rpc::api's outcome contract).
        ClientError::LeadershipLost { .. } | ClientError::Timeout { .. } | ClientError::StoppedBeforeCommit { .. } => {
            ServiceError::Unknown(text)
        }
        ClientError::Overloaded(_) => ServiceError::Busy(text),
        ClientError::Invalid(m) => ServiceError::Invalid(m),
        ClientError::Rejected(ProposeError::Backpressure { .. }) => ServiceError::Busy(text),
        ClientError::Rejected(ProposeError::TransferInProgress { .. }) => ServiceError::Unavailable(text),
        ClientError::Rejected(ProposeError::NotCommittedInTerm { .. }) => ServiceError::Unavailable(text),
        ClientError::Rejected(_) => ServiceError::Invalid(text),
        ClientError::StateMachine(_) => ServiceError::Internal(text),
        // Membership refusals travel as a typed reply (`grpc::members`).
        ClientError::MembershipRefused(_) => ServiceError::Invalid(text),
    }
}

/// The admin view of a node's status.
pub(crate) fn status(s: &NodeStatus, config: &NodeConfig) -> raft_rpc::NodeStatus {
    let m = &s.membership;
    let members = m
        .members()
        .map(|id| MemberStatus {
            id,
            address: m.addrs.get(&id).map(String::as_str).or_else(|| config.addr_of(id)).unwrap_or("").to_string(),
            voter: m.is_voter(id),
            matched: s.matched.get(&id).copied(),
            next: s.next.get(&id).copied(),
        })
        .collect();
    raft_rpc::NodeStatus {
        id: s.id,
        address: config.listen_addr.clone(),
        role: if s.running { s.role } else { Role::Follower },
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: s.applied,
        first_index: s.first_index,
        last_index: s.last_index,
        members,
        incarnation: s.incarnation,
        peer_incarnations: s.peer_incarnations.iter().map(|(id, inc)| (*id, *inc)).collect(),
    }
}

/// The Watch view of a node event; `None` for events the API has no kind
/// for (start and stop are visible through Status).
pub(crate) fn event(ev: &NodeEvent) -> Option<raft_rpc::NodeEvent> {
    use raft_rpc::EventKind as K;
    let term = ev.term;
    let kind = match &ev.kind {
        EventKind::ElectionStarted { term, pre_vote } => K::ElectionStarted { term: *term, pre_vote: *pre_vote },
        EventKind::LeaderElected { votes } => K::LeaderElected { term, leader: ev.node, votes: votes.clone() },
        EventKind::TermChanged { .. } => K::TermChanged { term, leader: None },
        EventKind::RoleChanged { role: Role::Follower, leader } => K::TermChanged { term, leader: *leader },
        // (Pre-)candidates are told by ElectionStarted, leaders by LeaderElected.
        EventKind::RoleChanged { .. } => return None,
        EventKind::LeaderTransfer { to } => K::TransferStarted { to: *to },
        EventKind::LostQuorum => K::LostQuorum { term },
        EventKind::Committed { index, entry_term } => K::Committed { index: *index, term: *entry_term },
        EventKind::Applied { index } => K::Applied { index: *index },
        EventKind::SnapshotTaken { last_log_id, .. } => K::SnapshotTaken { last_log_id: *last_log_id },
        EventKind::SnapshotInstalled { last_log_id } => K::SnapshotInstalled { last_log_id: *last_log_id },
        EventKind::PeerUp { peer } => K::PeerUp { peer: *peer },
        EventKind::PeerDown { peer } => K::PeerDown { peer: *peer },
        EventKind::Started { .. } | EventKind::Stopped { .. } | EventKind::SnapshotRejected { .. } => return None,
    };
    Some(raft_rpc::NodeEvent::now(ev.node, kind))
}

#[cfg(test)]
mod tests {
    use raft_core::{LogIndex, Term};

    use super::*;

    /// The outcome contract (`raft_rpc::api`): exactly the errors after
    /// which a write may have been applied become `ServiceError::Unknown`
    /// (ABORTED); a stop after proposing was UNAVAILABLE ("nothing was
    /// done") before issue #17 point 2.
    #[test]
    fn exactly_the_possibly_applied_errors_map_to_unknown() {
        let cases = [
            ClientError::NotLeader { leader: None, leader_addr: None },
            ClientError::NotCommitted { index: LogIndex(3), term: Term(1), committed_term: Term(2) },
            ClientError::LeadershipLost { index: LogIndex(3) },
            ClientError::Timeout { ms: 5 },
            ClientError::Overloaded("queue full".into()),
            ClientError::Invalid("too big".into()),
            ClientError::ShuttingDown,
            ClientError::StoppedBeforeCommit { index: Some(LogIndex(3)) },
            ClientError::StoppedBeforeCommit { index: None },
        ];
        for e in cases {
            let mapped = map_error(e.clone());
            assert_eq!(matches!(mapped, ServiceError::Unknown(_)), e.outcome_unknown(), "{e:?} -> {mapped:?}");
        }
        assert!(ClientError::StoppedBeforeCommit { index: None }.outcome_unknown());
        assert!(!ClientError::ShuttingDown.outcome_unknown(), "never proposed: definitely not applied");
    }
}
