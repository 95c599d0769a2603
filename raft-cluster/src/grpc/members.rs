//! The membership admin calls between raft-rpc and the node: the
//! `Members` view built from the node's published status, and a change's
//! error sorted into a typed refusal or a service error (the not-leader
//! hint and the outcome classes of `raft_rpc::api`, as for writes).

use raft_rpc::{ChangeError, MemberInfo, MemberRole, MembersView};

use super::convert::service_error;
use crate::config::NodeConfig;
use crate::error::ClientError;
use crate::status::NodeStatus;

/// The configuration as `s` shows it; addresses the configuration lacks
/// come from the static config. Progress and lag only on the leader.
pub(crate) fn view(s: &NodeStatus, config: &NodeConfig) -> MembersView {
    let m = &s.membership;
    let leading = s.is_leader();
    let members = m
        .members()
        .map(|id| {
            let role = if m.voters.contains(&id) {
                MemberRole::Voter
            } else if m.outgoing.contains(&id) {
                MemberRole::OutgoingVoter
            } else {
                MemberRole::Learner
            };
            let matched = if leading { s.matched.get(&id).copied() } else { None };
            MemberInfo {
                id,
                address: m.addrs.get(&id).map(String::as_str).or_else(|| config.addr_of(id)).unwrap_or("").to_string(),
                role,
                leader: s.leader == Some(id),
                matched,
                lag: matched.map(|i| s.last_index.0.saturating_sub(i.0)),
            }
        })
        .collect();
    MembersView {
        node: s.id,
        term: s.term,
        leader: s.leader,
        config_index: s.config_index,
        config_committed: s.config_index <= s.commit,
        joint: m.is_joint(),
        members,
    }
}

/// A refused change stays typed; everything else maps as a write's error.
pub(crate) fn change_error(e: ClientError, config: &NodeConfig) -> ChangeError {
    match e {
        ClientError::MembershipRefused(r) => ChangeError::Refused(r),
        other => ChangeError::Service(service_error(other, config)),
    }
}

#[cfg(test)]
mod tests {
    use raft_core::{LogIndex, Membership, NodeId, Role, Term};
    use raft_rpc::{ChangeRefused, RefusalReason, ServiceError};

    use super::*;
    use crate::config::PeerConfig;

    fn config() -> NodeConfig {
        let peers = (1..=3).map(|i| PeerConfig { id: i, addr: format!("127.0.0.1:700{i}") }).collect();
        NodeConfig::new(1, "127.0.0.1:7001", peers, "/tmp/unused".into())
    }

    fn leader_status() -> NodeStatus {
        let mut m = Membership::new([NodeId(1), NodeId(2), NodeId(3)]);
        m.outgoing = [NodeId(1), NodeId(2), NodeId(5)].into();
        m.learners.insert(NodeId(4));
        m.addrs.insert(NodeId(4), "10.0.0.4:7004".into());
        let mut s = NodeStatus::initial(NodeId(1));
        s.role = Role::Leader;
        s.term = Term(3);
        s.leader = Some(NodeId(1));
        s.commit = LogIndex(9);
        s.last_index = LogIndex(10);
        s.config_index = LogIndex(10);
        s.matched = [(NodeId(1), LogIndex(10)), (NodeId(4), LogIndex(6))].into();
        s.membership = m;
        s
    }

    #[test]
    fn the_leader_lists_roles_addresses_and_lag() {
        let v = view(&leader_status(), &config());
        let ids: Vec<(u64, MemberRole)> = v.members.iter().map(|m| (m.id.0, m.role)).collect();
        use MemberRole::*;
        assert_eq!(ids, vec![(1, Voter), (2, Voter), (3, Voter), (5, OutgoingVoter), (4, Learner)]);
        let four = &v.members[4];
        assert_eq!((four.address.as_str(), four.matched, four.lag), ("10.0.0.4:7004", Some(LogIndex(6)), Some(4)));
        assert_eq!(v.members[1].address, "127.0.0.1:7002", "the static config is the fallback");
        assert_eq!(v.members[3].address, "", "no address known for node 5");
        assert!(v.members[0].leader && !v.members[1].leader);
        assert!(v.joint && !v.config_committed, "config at 10, commit at 9");
    }

    #[test]
    fn a_follower_shows_no_progress() {
        let mut s = leader_status();
        s.role = Role::Follower;
        s.leader = Some(NodeId(2));
        let v = view(&s, &config());
        assert!(v.members.iter().all(|m| m.matched.is_none() && m.lag.is_none()));
        assert!(v.members[1].leader);
    }

    #[test]
    fn refusals_stay_typed_and_not_leader_carries_the_hint() {
        let r = ChangeRefused { reason: RefusalReason::Pending, message: "pending".into() };
        assert_eq!(change_error(ClientError::MembershipRefused(r.clone()), &config()), ChangeError::Refused(r));
        let nl = change_error(ClientError::NotLeader { leader: Some(NodeId(2)), leader_addr: None }, &config());
        match nl {
            ChangeError::Service(ServiceError::NotLeader { leader: Some(h) }) => {
                assert_eq!(h.address.as_deref(), Some("127.0.0.1:7002"))
            }
            other => panic!("{other:?}"),
        }
        let lost = change_error(ClientError::LeadershipLost { index: LogIndex(4) }, &config());
        assert!(matches!(lost, ChangeError::Service(ServiceError::Unknown(_))), "{lost:?}");
    }
}
