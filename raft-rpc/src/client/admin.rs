//! [`AdminClient`]: one node's status, leader transfer, event stream and
//! partition fault injection (membership calls: [`super::members`]).
//! Unlike [`super::KvClient`] it talks to the node it was given and never
//! retries or redirects: an operator asks a specific node.

use futures::{Stream, StreamExt};
use raft_core::NodeId;
use tonic::transport::Channel;
use tonic::{Request, Status};

use super::attempt::Attempt;
use super::ClientConfig;
use crate::convert::NotLeaderReply;
use crate::error::ClientError;
use crate::event::NodeEvent;
use crate::pb;
use crate::pb::admin_service_client::AdminServiceClient;
use crate::status::NodeStatus;

/// Admin access to one node.
#[derive(Clone, Debug)]
pub struct AdminClient {
    pub(super) config: ClientConfig,
    endpoint: String,
    pub(super) client: AdminServiceClient<Channel>,
}

/// A definite error from a status, for calls that are never retried.
pub(super) fn status_error(s: Status) -> ClientError {
    match Attempt::<()>::from_status(&s) {
        Attempt::Fail(e) => e,
        _ => ClientError::Unavailable(format!("{:?}: {}", s.code(), s.message())),
    }
}

impl AdminClient {
    /// Connects to `endpoint` (`host:port` or `http://host:port`).
    pub async fn connect(endpoint: &str, config: ClientConfig) -> Result<Self, ClientError> {
        let ep = crate::peer::endpoint(endpoint, config.connect_timeout, config.tls.as_ref())
            .map_err(|e| ClientError::InvalidEndpoint(e.to_string()))?;
        let channel = ep.connect().await.map_err(|e| match Attempt::<()>::connect_failed(endpoint, &e) {
            Attempt::Fail(e) => e,
            _ => ClientError::Unavailable(format!("{endpoint}: connect failed: {e}")),
        })?;
        if config.tls.is_some() {
            Attempt::<()>::confirm_tls(endpoint, &channel, config.request_timeout).await.map_err(|a| match a {
                Attempt::Fail(e) => e,
                Attempt::Retry { reason, .. } => ClientError::Unavailable(reason),
                _ => ClientError::Unavailable(format!("{endpoint}: TLS connection check failed")),
            })?;
        }
        let max = config.max_message_bytes;
        let client = AdminServiceClient::new(channel).max_decoding_message_size(max).max_encoding_message_size(max);
        Ok(AdminClient { config, endpoint: endpoint.to_owned(), client })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(super) fn request<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        r.set_timeout(self.config.request_timeout);
        r
    }

    pub(super) async fn deadline<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, Status>>,
    ) -> Result<T, ClientError> {
        match tokio::time::timeout(self.config.request_timeout, fut).await {
            Ok(Err(s)) if self.config.tls.is_none() && std::error::Error::source(&s).is_some() => {
                match crate::tls::plaintext_refused(&self.endpoint, self.config.connect_timeout).await {
                    Some(why) => Err(ClientError::Tls(why)),
                    None => Err(status_error(s)),
                }
            }
            Ok(r) => r.map_err(status_error),
            Err(_) => Err(ClientError::Unavailable(format!(
                "{}: no answer within {:?}",
                self.endpoint, self.config.request_timeout
            ))),
        }
    }

    /// The node's status.
    pub async fn status(&self) -> Result<NodeStatus, ClientError> {
        let req = self.request(pb::StatusRequest { cluster_id: self.config.cluster_id.clone() });
        let mut client = self.client.clone();
        let resp = self.deadline(client.status(req)).await?;
        NodeStatus::try_from(resp.into_inner()).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Asks the node (which must lead) to hand leadership to `to` (thesis
    /// §3.10). `Ok` once the transfer has started; a non-leader answers
    /// [`ClientError::NotLeader`].
    pub async fn transfer_leader(&self, to: NodeId) -> Result<(), ClientError> {
        use pb::transfer_leader_response::Result as R;
        let req = self.request(pb::TransferLeaderRequest { cluster_id: self.config.cluster_id.clone(), to: to.0 });
        let mut client = self.client.clone();
        let resp = self.deadline(client.transfer_leader(req)).await?;
        match resp.into_inner().result {
            Some(R::Ok(_)) => Ok(()),
            Some(R::NotLeader(nl)) => {
                let NotLeaderReply(leader) =
                    NotLeaderReply::try_from(nl).map_err(|e| ClientError::Protocol(e.to_string()))?;
                Err(ClientError::NotLeader { leader })
            }
            None => Err(ClientError::Protocol("transfer_leader_response.result missing".into())),
        }
    }

    /// Fault injection (a testing tool): makes the node drop Raft traffic to
    /// and from `blocked`, replacing whatever it blocked before; an empty
    /// slice heals. Only this node's side is cut, so a symmetric partition
    /// needs the call on every node involved. Client traffic still flows.
    /// A node started without fault injection (`--enable-fault-injection`)
    /// refuses with [`ClientError::Rejected`] (PERMISSION_DENIED).
    pub async fn set_partition(&self, blocked: &[NodeId]) -> Result<(), ClientError> {
        let blocked_peers = blocked.iter().map(|p| p.0).collect();
        let req = self.request(pb::SetPartitionRequest { cluster_id: self.config.cluster_id.clone(), blocked_peers });
        let mut client = self.client.clone();
        self.deadline(client.set_partition(req)).await?;
        Ok(())
    }

    /// The node's events from now on. The stream ends when the node shuts
    /// down; a watcher that falls behind receives an `EventKind::Lagged`.
    pub async fn watch(
        &self,
    ) -> Result<impl Stream<Item = Result<NodeEvent, ClientError>> + Send + 'static, ClientError> {
        let req = Request::new(pb::WatchRequest { cluster_id: self.config.cluster_id.clone() });
        let mut client = self.client.clone();
        let resp = self.deadline(client.watch(req)).await?;
        Ok(resp.into_inner().map(|item| match item {
            Ok(e) => NodeEvent::try_from(e).map_err(|e| ClientError::Protocol(e.to_string())),
            Err(s) => Err(status_error(s)),
        }))
    }
}
