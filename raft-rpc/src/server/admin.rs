//! AdminService: status, leader transfer, the node event stream, the
//! membership calls (served by [`super::members`]) and the partition fault
//! injection.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::sync::oneshot;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tonic::{Request, Response, Status};

use super::shared::{service_status, Inbound, Shared, Waited};
use crate::api::ServiceError;
use crate::convert::{node_id, NotLeaderReply};
use crate::event::{EventKind, NodeEvent};
use crate::pb;
use crate::pb::admin_service_server::AdminService;

/// Serves AdminService.
#[derive(Debug)]
pub(crate) struct AdminHandler {
    shared: Arc<Shared>,
}

impl AdminHandler {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        AdminHandler { shared }
    }
}

fn no_reply(w: Waited) -> Status {
    match w {
        Waited::Dropped => Status::unavailable("the node dropped the request"),
        Waited::TimedOut(t) => Status::deadline_exceeded(format!("no answer within {t:?}")),
    }
}

/// The refusal a node started without fault injection gives `SetPartition`.
fn fault_injection_disabled(node: raft_core::NodeId) -> Status {
    Status::permission_denied(format!(
        "fault injection is disabled on node {node}: SetPartition is a testing tool; start the node with \
         --enable-fault-injection (config key enable_fault_injection = true) to allow it"
    ))
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::NodeEvent, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl AdminService for AdminHandler {
    async fn status(&self, request: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        self.shared.check_cluster(&request.get_ref().cluster_id)?;
        let (reply, rx) = oneshot::channel();
        let status = self.shared.call(Inbound::Status { reply }, rx).await?.map_err(no_reply)?;
        Ok(Response::new(status.into()))
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::TransferLeaderResponse>, Status> {
        use pb::transfer_leader_response::Result as R;
        let r = request.into_inner();
        self.shared.check_cluster(&r.cluster_id)?;
        let to = node_id(r.to, "transfer_leader.to")?;
        let (reply, rx) = oneshot::channel();
        let result = match self.shared.call(Inbound::TransferLeader { to, reply }, rx).await?.map_err(no_reply)? {
            Ok(()) => R::Ok(pb::Ack {}),
            Err(ServiceError::NotLeader { leader }) => R::NotLeader(NotLeaderReply(leader).into()),
            Err(e) => return Err(service_status(e)),
        };
        Ok(Response::new(pb::TransferLeaderResponse { result: Some(result) }))
    }

    async fn set_partition(
        &self,
        request: Request<pb::SetPartitionRequest>,
    ) -> Result<Response<pb::SetPartitionResponse>, Status> {
        let r = request.into_inner();
        self.shared.check_cluster(&r.cluster_id)?;
        if !self.shared.config.fault_injection {
            return Err(fault_injection_disabled(self.shared.config.node_id));
        }
        // A set: duplicates collapse, and a huge list costs n log n, not n².
        let mut blocked = BTreeSet::new();
        for &p in &r.blocked_peers {
            blocked.insert(node_id(p, "set_partition.blocked_peers")?);
        }
        let blocked = blocked.into_iter().collect();
        let (reply, rx) = oneshot::channel();
        match self.shared.call(Inbound::SetPartition { blocked, reply }, rx).await?.map_err(no_reply)? {
            Ok(()) => Ok(Response::new(pb::SetPartitionResponse {})),
            Err(e) => Err(service_status(e)),
        }
    }

    async fn members(&self, request: Request<pb::MembersRequest>) -> Result<Response<pb::MembersResponse>, Status> {
        super::members::members(&self.shared, &request.get_ref().cluster_id).await
    }

    async fn add_learner(
        &self,
        request: Request<pb::AddLearnerRequest>,
    ) -> Result<Response<pb::MembershipChangeResponse>, Status> {
        let r = request.into_inner();
        let cluster = r.cluster_id.clone();
        super::members::change(&self.shared, &cluster, r.try_into()).await
    }

    async fn promote(
        &self,
        request: Request<pb::PromoteRequest>,
    ) -> Result<Response<pb::MembershipChangeResponse>, Status> {
        let r = request.into_inner();
        let cluster = r.cluster_id.clone();
        super::members::change(&self.shared, &cluster, r.try_into()).await
    }

    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::MembershipChangeResponse>, Status> {
        let r = request.into_inner();
        let cluster = r.cluster_id.clone();
        super::members::change(&self.shared, &cluster, r.try_into()).await
    }

    type WatchStream = EventStream;

    async fn watch(&self, request: Request<pb::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        self.shared.check_cluster(&request.get_ref().cluster_id)?;
        let me = self.shared.config.node_id;
        let events = BroadcastStream::new(self.shared.handles.events.subscribe());
        let stream = events.take_until(self.shared.stopped()).map(move |item| {
            let event = match item {
                Ok(e) => e,
                Err(BroadcastStreamRecvError::Lagged(missed)) => NodeEvent::now(me, EventKind::Lagged { missed }),
            };
            Ok(pb::NodeEvent::from(event))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
