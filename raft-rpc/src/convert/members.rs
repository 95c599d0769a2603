//! Membership admin types <-> `pb`. Requests are validated here: a zero
//! id, an empty or malformed address, or one over
//! [`crate::members::MAX_MEMBER_ADDR_BYTES`] is INVALID_ARGUMENT before
//! the runtime sees it.

use super::{index, membership, node_id, opt_node_id, term, NotLeaderReply};
use crate::api::LeaderHint;
use crate::error::ConvertError;
use crate::members::{
    check_member_address, ChangeOutcome, ChangeRefused, MemberChange, MemberInfo, MemberRole, MembersView,
    RefusalReason,
};
use crate::pb;

impl From<MemberRole> for pb::MemberRole {
    fn from(r: MemberRole) -> Self {
        match r {
            MemberRole::Voter => pb::MemberRole::Voter,
            MemberRole::Learner => pb::MemberRole::Learner,
            MemberRole::OutgoingVoter => pb::MemberRole::OutgoingVoter,
        }
    }
}

fn role_from_pb(v: i32) -> Result<MemberRole, ConvertError> {
    match pb::MemberRole::try_from(v) {
        Ok(pb::MemberRole::Voter) => Ok(MemberRole::Voter),
        Ok(pb::MemberRole::Learner) => Ok(MemberRole::Learner),
        Ok(pb::MemberRole::OutgoingVoter) => Ok(MemberRole::OutgoingVoter),
        Ok(pb::MemberRole::Unspecified) => Err(ConvertError::Missing("member.role")),
        Err(_) => Err(ConvertError::invalid("member.role", format!("unknown role {v}"))),
    }
}

impl From<MembersView> for pb::MembersResponse {
    fn from(v: MembersView) -> Self {
        let members = v
            .members
            .into_iter()
            .map(|m| pb::MemberInfo {
                id: m.id.0,
                address: m.address,
                role: pb::MemberRole::from(m.role).into(),
                leader: m.leader,
                matched: m.matched.map(|i| i.0),
                lag: m.lag,
            })
            .collect();
        pb::MembersResponse {
            node: v.node.0,
            term: v.term.0,
            leader: v.leader.map_or(0, |l| l.0),
            config_index: v.config_index.0,
            config_committed: v.config_committed,
            joint: v.joint,
            members,
        }
    }
}

impl TryFrom<pb::MembersResponse> for MembersView {
    type Error = ConvertError;

    fn try_from(v: pb::MembersResponse) -> Result<Self, ConvertError> {
        let members = v
            .members
            .into_iter()
            .map(|m| {
                Ok(MemberInfo {
                    id: node_id(m.id, "member.id")?,
                    address: m.address,
                    role: role_from_pb(m.role)?,
                    leader: m.leader,
                    matched: m.matched.map(|i| index(i, "member.matched")).transpose()?,
                    lag: m.lag,
                })
            })
            .collect::<Result<Vec<_>, ConvertError>>()?;
        Ok(MembersView {
            node: node_id(v.node, "members.node")?,
            term: term(v.term, "members.term")?,
            leader: opt_node_id(v.leader),
            config_index: index(v.config_index, "members.config_index")?,
            config_committed: v.config_committed,
            joint: v.joint,
            members,
        })
    }
}

fn address(a: String, field: &'static str) -> Result<String, ConvertError> {
    check_member_address(&a).map_err(|why| ConvertError::invalid(field, why))?;
    Ok(a)
}

impl TryFrom<pb::AddLearnerRequest> for MemberChange {
    type Error = ConvertError;

    fn try_from(r: pb::AddLearnerRequest) -> Result<Self, ConvertError> {
        let id = node_id(r.id, "add_learner.id")?;
        Ok(MemberChange::AddLearner { id, address: address(r.address, "add_learner.address")? })
    }
}

impl TryFrom<pb::PromoteRequest> for MemberChange {
    type Error = ConvertError;

    fn try_from(r: pb::PromoteRequest) -> Result<Self, ConvertError> {
        Ok(MemberChange::Promote { id: node_id(r.id, "promote.id")? })
    }
}

impl TryFrom<pb::RemoveMemberRequest> for MemberChange {
    type Error = ConvertError;

    fn try_from(r: pb::RemoveMemberRequest) -> Result<Self, ConvertError> {
        Ok(MemberChange::Remove { id: node_id(r.id, "remove_member.id")?, step_down: r.step_down })
    }
}

impl From<RefusalReason> for pb::ChangeRefusal {
    fn from(r: RefusalReason) -> Self {
        match r {
            RefusalReason::Pending => pb::ChangeRefusal::Pending,
            RefusalReason::NotCommittedInTerm => pb::ChangeRefusal::NotCommittedInTerm,
            RefusalReason::UnknownMember => pb::ChangeRefusal::UnknownMember,
            RefusalReason::AlreadyMember => pb::ChangeRefusal::AlreadyMember,
            RefusalReason::Lagging => pb::ChangeRefusal::Lagging,
            RefusalReason::Invalid => pb::ChangeRefusal::Invalid,
        }
    }
}

fn reason_from_pb(v: i32) -> Result<RefusalReason, ConvertError> {
    match pb::ChangeRefusal::try_from(v) {
        Ok(pb::ChangeRefusal::Pending) => Ok(RefusalReason::Pending),
        Ok(pb::ChangeRefusal::NotCommittedInTerm) => Ok(RefusalReason::NotCommittedInTerm),
        Ok(pb::ChangeRefusal::UnknownMember) => Ok(RefusalReason::UnknownMember),
        Ok(pb::ChangeRefusal::AlreadyMember) => Ok(RefusalReason::AlreadyMember),
        Ok(pb::ChangeRefusal::Lagging) => Ok(RefusalReason::Lagging),
        Ok(pb::ChangeRefusal::Invalid) => Ok(RefusalReason::Invalid),
        Ok(pb::ChangeRefusal::Unspecified) => Err(ConvertError::Missing("refused.reason")),
        Err(_) => Err(ConvertError::invalid("refused.reason", format!("unknown reason {v}"))),
    }
}

/// A change's answer as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeReply {
    /// The change committed.
    Done(ChangeOutcome),
    /// Ask the hinted leader instead.
    NotLeader(Option<LeaderHint>),
    /// Refused; nothing was proposed.
    Refused(ChangeRefused),
}

impl From<ChangeReply> for pb::MembershipChangeResponse {
    fn from(r: ChangeReply) -> Self {
        use pb::membership_change_response::Result as R;
        let result = match r {
            ChangeReply::Done(o) => {
                R::Ok(pb::MembershipChanged { index: o.index.0, membership: Some(pb::Membership::from(&o.membership)) })
            }
            ChangeReply::NotLeader(hint) => R::NotLeader(NotLeaderReply(hint).into()),
            ChangeReply::Refused(c) => R::Refused(pb::MembershipRefused {
                reason: pb::ChangeRefusal::from(c.reason).into(),
                message: c.message,
            }),
        };
        pb::MembershipChangeResponse { result: Some(result) }
    }
}

impl TryFrom<pb::MembershipChangeResponse> for ChangeReply {
    type Error = ConvertError;

    fn try_from(r: pb::MembershipChangeResponse) -> Result<Self, ConvertError> {
        use pb::membership_change_response::Result as R;
        match r.result.ok_or(ConvertError::Missing("membership_change_response.result"))? {
            R::Ok(ok) => Ok(ChangeReply::Done(ChangeOutcome {
                index: index(ok.index, "membership_changed.index")?,
                membership: membership(ok.membership, "membership_changed.membership")?,
            })),
            R::NotLeader(nl) => Ok(ChangeReply::NotLeader(NotLeaderReply::try_from(nl)?.0)),
            R::Refused(f) => {
                Ok(ChangeReply::Refused(ChangeRefused { reason: reason_from_pb(f.reason)?, message: f.message }))
            }
        }
    }
}
