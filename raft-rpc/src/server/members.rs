//! AdminService's membership calls: `Members` and the three changes. The
//! trait impl in [`super::admin`] delegates here to keep each file to one
//! concern.

use tokio::sync::oneshot;
use tonic::{Response, Status};

use super::shared::{service_status, Inbound, Shared, Waited};
use crate::api::ServiceError;
use crate::convert::ChangeReply;
use crate::error::ConvertError;
use crate::members::{ChangeError, MemberChange};
use crate::pb;

fn no_reply(w: Waited) -> Status {
    match w {
        Waited::Dropped => Status::unavailable("the node dropped the request"),
        // The change may have been proposed: its outcome is unknown.
        Waited::TimedOut(t) => {
            Status::deadline_exceeded(format!("no answer within {t:?}; the change may still commit"))
        }
    }
}

/// Serves `Members`.
pub(crate) async fn members(shared: &Shared, cluster_id: &str) -> Result<Response<pb::MembersResponse>, Status> {
    shared.check_cluster(cluster_id)?;
    let (reply, rx) = oneshot::channel();
    let view = shared.call(Inbound::Members { reply }, rx).await?.map_err(no_reply)?;
    Ok(Response::new(view.into()))
}

/// Serves one change request: validates it, hands it to the runtime and
/// shapes the answer.
pub(crate) async fn change(
    shared: &Shared,
    cluster_id: &str,
    change: Result<MemberChange, ConvertError>,
) -> Result<Response<pb::MembershipChangeResponse>, Status> {
    shared.check_cluster(cluster_id)?;
    let change = change?;
    let (reply, rx) = oneshot::channel();
    let answer = shared.call(Inbound::ChangeMembership { change, reply }, rx).await?.map_err(no_reply)?;
    let reply = match answer {
        Ok(outcome) => ChangeReply::Done(outcome),
        Err(ChangeError::Refused(r)) => ChangeReply::Refused(r),
        Err(ChangeError::Service(ServiceError::NotLeader { leader })) => ChangeReply::NotLeader(leader),
        Err(ChangeError::Service(e)) => return Err(service_status(e)),
    };
    Ok(Response::new(reply.into()))
}
