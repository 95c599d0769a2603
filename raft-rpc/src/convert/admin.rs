//! Admin types: [`NodeStatus`] and [`NodeEvent`] <-> `pb`.

use raft_core::Role;

use super::{index, log_id, node_id, opt_node_id, term};
use crate::error::ConvertError;
use crate::event::{EventKind, NodeEvent};
use crate::pb;
use crate::pb::node_event::Kind;
use crate::status::{MemberStatus, NodeStatus};

impl From<Role> for pb::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Follower => pb::Role::Follower,
            Role::PreCandidate => pb::Role::PreCandidate,
            Role::Candidate => pb::Role::Candidate,
            Role::Leader => pb::Role::Leader,
        }
    }
}

fn role_from_pb(v: i32) -> Result<Role, ConvertError> {
    match pb::Role::try_from(v) {
        Ok(pb::Role::Follower) => Ok(Role::Follower),
        Ok(pb::Role::PreCandidate) => Ok(Role::PreCandidate),
        Ok(pb::Role::Candidate) => Ok(Role::Candidate),
        Ok(pb::Role::Leader) => Ok(Role::Leader),
        Ok(pb::Role::Unspecified) => Err(ConvertError::Missing("status.role")),
        Err(_) => Err(ConvertError::invalid("status.role", format!("unknown role {v}"))),
    }
}

impl From<NodeStatus> for pb::StatusResponse {
    fn from(s: NodeStatus) -> Self {
        let members = s
            .members
            .into_iter()
            .map(|m| pb::MemberStatus {
                id: m.id.0,
                address: m.address,
                voter: m.voter,
                matched: m.matched.map(|i| i.0),
                next: m.next.map(|i| i.0),
            })
            .collect();
        pb::StatusResponse {
            id: s.id.0,
            address: s.address,
            role: pb::Role::from(s.role).into(),
            term: s.term.0,
            leader: s.leader.map_or(0, |l| l.0),
            commit: s.commit.0,
            applied: s.applied.0,
            first_index: s.first_index.0,
            last_index: s.last_index.0,
            members,
            incarnation: s.incarnation,
            peer_incarnations: s
                .peer_incarnations
                .into_iter()
                .map(|(id, incarnation)| pb::PeerIncarnation { id: id.0, incarnation })
                .collect(),
        }
    }
}

impl TryFrom<pb::StatusResponse> for NodeStatus {
    type Error = ConvertError;

    fn try_from(s: pb::StatusResponse) -> Result<Self, ConvertError> {
        let members = s
            .members
            .into_iter()
            .map(|m| {
                Ok(MemberStatus {
                    id: node_id(m.id, "member.id")?,
                    address: m.address,
                    voter: m.voter,
                    matched: m.matched.map(|i| index(i, "member.matched")).transpose()?,
                    next: m.next.map(|i| index(i, "member.next")).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, ConvertError>>()?;
        Ok(NodeStatus {
            id: node_id(s.id, "status.id")?,
            address: s.address,
            role: role_from_pb(s.role)?,
            term: term(s.term, "status.term")?,
            leader: opt_node_id(s.leader),
            commit: index(s.commit, "status.commit")?,
            applied: index(s.applied, "status.applied")?,
            first_index: index(s.first_index, "status.first_index")?,
            last_index: index(s.last_index, "status.last_index")?,
            members,
            incarnation: s.incarnation,
            peer_incarnations: s
                .peer_incarnations
                .into_iter()
                .map(|p| Ok((node_id(p.id, "peer_incarnation.id")?, p.incarnation)))
                .collect::<Result<Vec<_>, ConvertError>>()?,
        })
    }
}

impl From<NodeEvent> for pb::NodeEvent {
    fn from(e: NodeEvent) -> Self {
        let kind = match e.kind {
            EventKind::ElectionStarted { term, pre_vote } => {
                Kind::ElectionStarted(pb::ElectionStarted { term: term.0, pre_vote })
            }
            EventKind::LeaderElected { term, leader, votes } => Kind::LeaderElected(pb::LeaderElected {
                term: term.0,
                leader: leader.0,
                votes: votes.into_iter().map(|v| v.0).collect(),
            }),
            EventKind::TermChanged { term, leader } => {
                Kind::TermChanged(pb::TermChanged { term: term.0, leader: leader.map_or(0, |l| l.0) })
            }
            EventKind::Committed { index, term } => Kind::Committed(pb::Committed { index: index.0, term: term.0 }),
            EventKind::Applied { index } => Kind::Applied(pb::Applied { index: index.0 }),
            EventKind::SnapshotTaken { last_log_id } => {
                Kind::SnapshotTaken(pb::SnapshotEvent { last_log_id: Some(last_log_id.into()) })
            }
            EventKind::SnapshotInstalled { last_log_id } => {
                Kind::SnapshotInstalled(pb::SnapshotEvent { last_log_id: Some(last_log_id.into()) })
            }
            EventKind::PeerUp { peer } => Kind::PeerUp(pb::PeerEvent { peer: peer.0 }),
            EventKind::PeerDown { peer } => Kind::PeerDown(pb::PeerEvent { peer: peer.0 }),
            EventKind::LostQuorum { term } => Kind::LostQuorum(pb::LostQuorum { term: term.0 }),
            EventKind::TransferStarted { to } => Kind::TransferStarted(pb::TransferStarted { to: to.0 }),
            EventKind::Lagged { missed } => Kind::Lagged(pb::Lagged { missed }),
        };
        pb::NodeEvent { node: e.node.0, unix_ms: e.unix_ms, kind: Some(kind) }
    }
}

impl TryFrom<pb::NodeEvent> for NodeEvent {
    type Error = ConvertError;

    fn try_from(e: pb::NodeEvent) -> Result<Self, ConvertError> {
        let kind = match e.kind.ok_or(ConvertError::Missing("event.kind"))? {
            Kind::ElectionStarted(v) => {
                EventKind::ElectionStarted { term: term(v.term, "election_started.term")?, pre_vote: v.pre_vote }
            }
            Kind::LeaderElected(v) => EventKind::LeaderElected {
                term: term(v.term, "leader_elected.term")?,
                leader: node_id(v.leader, "leader_elected.leader")?,
                votes: v.votes.into_iter().map(|n| node_id(n, "leader_elected.votes")).collect::<Result<_, _>>()?,
            },
            Kind::TermChanged(v) => {
                EventKind::TermChanged { term: term(v.term, "term_changed.term")?, leader: opt_node_id(v.leader) }
            }
            Kind::Committed(v) => EventKind::Committed {
                index: index(v.index, "committed.index")?,
                term: term(v.term, "committed.term")?,
            },
            Kind::Applied(v) => EventKind::Applied { index: index(v.index, "applied.index")? },
            Kind::SnapshotTaken(v) => {
                EventKind::SnapshotTaken { last_log_id: log_id(v.last_log_id, "snapshot_taken.last_log_id")? }
            }
            Kind::SnapshotInstalled(v) => {
                EventKind::SnapshotInstalled { last_log_id: log_id(v.last_log_id, "snapshot_installed.last_log_id")? }
            }
            Kind::PeerUp(v) => EventKind::PeerUp { peer: node_id(v.peer, "peer_up.peer")? },
            Kind::PeerDown(v) => EventKind::PeerDown { peer: node_id(v.peer, "peer_down.peer")? },
            Kind::LostQuorum(v) => EventKind::LostQuorum { term: term(v.term, "lost_quorum.term")? },
            Kind::TransferStarted(v) => EventKind::TransferStarted { to: node_id(v.to, "transfer_started.to")? },
            Kind::Lagged(v) => EventKind::Lagged { missed: v.missed },
        };
        Ok(NodeEvent { node: node_id(e.node, "event.node")?, unix_ms: e.unix_ms, kind })
    }
}
