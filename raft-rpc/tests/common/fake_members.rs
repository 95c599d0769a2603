//! The fake runtime's membership: a configuration it changes at once (no
//! log), so the wire conversions of the membership calls can be tested.

use raft_core::{LogIndex, Membership, NodeId, Term};
use raft_rpc::{
    ChangeError, ChangeOutcome, ChangeRefused, MemberChange, MemberInfo, MemberRole, MembersView, RefusalReason,
};

/// A one-voter configuration that changes when asked.
pub struct FakeMembers {
    pub me: NodeId,
    pub membership: Membership,
    pub index: u64,
}

fn refused(reason: RefusalReason, message: String) -> ChangeError {
    ChangeError::Refused(ChangeRefused { reason, message })
}

impl FakeMembers {
    pub fn new(me: NodeId, addr: String) -> Self {
        let mut membership = Membership::new([me]);
        membership.addrs.insert(me, addr);
        FakeMembers { me, membership, index: 1 }
    }

    pub fn view(&self) -> MembersView {
        let m = &self.membership;
        let members = m
            .members()
            .map(|id| MemberInfo {
                id,
                address: m.addrs.get(&id).cloned().unwrap_or_default(),
                role: if m.voters.contains(&id) { MemberRole::Voter } else { MemberRole::Learner },
                leader: id == self.me,
                matched: Some(LogIndex(self.index)),
                lag: Some(0),
            })
            .collect();
        MembersView {
            node: self.me,
            term: Term(3),
            leader: Some(self.me),
            config_index: LogIndex(self.index),
            config_committed: true,
            joint: false,
            members,
        }
    }

    pub fn change(&mut self, change: MemberChange) -> Result<ChangeOutcome, ChangeError> {
        let m = &mut self.membership;
        match change {
            MemberChange::AddLearner { id, .. } if m.contains(id) => {
                return Err(refused(RefusalReason::AlreadyMember, format!("{id} is already a member")))
            }
            MemberChange::AddLearner { id, address } => {
                m.learners.insert(id);
                m.addrs.insert(id, address);
            }
            MemberChange::Promote { id } if !m.learners.remove(&id) => {
                return Err(refused(RefusalReason::UnknownMember, format!("{id} is not a learner")))
            }
            MemberChange::Promote { id } => {
                m.voters.insert(id);
            }
            MemberChange::Remove { id, .. } => {
                if !(m.voters.remove(&id) || m.learners.remove(&id)) {
                    return Err(refused(RefusalReason::UnknownMember, format!("{id} is not a member")));
                }
                m.addrs.remove(&id);
            }
        }
        self.index += 1;
        Ok(ChangeOutcome { index: LogIndex(self.index), membership: self.membership.clone() })
    }
}
