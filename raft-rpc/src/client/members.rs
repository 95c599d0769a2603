//! [`AdminClient`]'s membership calls. Like the rest of the admin client
//! they ask the given node only: a follower's answer is
//! [`ClientError::NotLeader`] with the leader hint, and the caller (the
//! CLI) decides whether to follow it.

use raft_core::NodeId;

use super::admin::AdminClient;
use crate::convert::ChangeReply;
use crate::error::ClientError;
use crate::members::{ChangeOutcome, MembersView};
use crate::pb;

fn change_result(resp: pb::MembershipChangeResponse) -> Result<ChangeOutcome, ClientError> {
    match ChangeReply::try_from(resp).map_err(|e| ClientError::Protocol(e.to_string()))? {
        ChangeReply::Done(outcome) => Ok(outcome),
        ChangeReply::NotLeader(leader) => Err(ClientError::NotLeader { leader }),
        ChangeReply::Refused(r) => Err(ClientError::MembershipRefused(r)),
    }
}

impl AdminClient {
    /// The configuration as this node sees it (with replication progress
    /// when it leads).
    pub async fn members(&self) -> Result<MembersView, ClientError> {
        let req = self.request(pb::MembersRequest { cluster_id: self.config.cluster_id.clone() });
        let mut client = self.client.clone();
        let resp = self.deadline(client.members(req)).await?;
        MembersView::try_from(resp.into_inner()).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Adds `id` at `address` as a learner; `Ok` once the configuration
    /// holding it is committed.
    pub async fn add_learner(&self, id: NodeId, address: &str) -> Result<ChangeOutcome, ClientError> {
        let cluster_id = self.config.cluster_id.clone();
        let req = self.request(pb::AddLearnerRequest { cluster_id, id: id.0, address: address.to_owned() });
        let mut client = self.client.clone();
        change_result(self.deadline(client.add_learner(req)).await?.into_inner())
    }

    /// Makes the learner `id` a voter; `Ok` once committed.
    pub async fn promote(&self, id: NodeId) -> Result<ChangeOutcome, ClientError> {
        let req = self.request(pb::PromoteRequest { cluster_id: self.config.cluster_id.clone(), id: id.0 });
        let mut client = self.client.clone();
        change_result(self.deadline(client.promote(req)).await?.into_inner())
    }

    /// Removes `id`. If `id` leads, the leader first hands leadership to
    /// its most caught-up voter and answers [`ClientError::NotLeader`]
    /// naming it (retry there), unless `step_down`: then it removes itself
    /// and steps down once the change commits (thesis §4.2.2).
    pub async fn remove_member(&self, id: NodeId, step_down: bool) -> Result<ChangeOutcome, ClientError> {
        let cluster_id = self.config.cluster_id.clone();
        let req = self.request(pb::RemoveMemberRequest { cluster_id, id: id.0, step_down });
        let mut client = self.client.clone();
        change_result(self.deadline(client.remove_member(req)).await?.into_inner())
    }
}
