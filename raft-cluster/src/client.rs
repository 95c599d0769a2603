//! [`NodeClient`]: a cheap, cloneable handle for talking to one node's task:
//! writes, reads, status, events. The gRPC KV service and the tests both use
//! it.

use std::sync::Arc;
use std::time::Duration;

use raft_core::{LogIndex, NodeId};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::error::ClientError;
use crate::event::NodeEvent;
use crate::fsm::NodeStateMachine;
use crate::metrics::NodeMetrics;
use crate::runtime::{ReadMode, Request};
use crate::status::NodeStatus;
use crate::wait::WaitError;

/// A handle on one node. Every call is bounded by the node's request
/// timeout (`limits.request_timeout_ms`).
pub struct NodeClient<M: NodeStateMachine> {
    pub(crate) id: NodeId,
    pub(crate) requests: mpsc::Sender<Request<M>>,
    pub(crate) status: watch::Receiver<NodeStatus>,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) timeout: Duration,
    pub(crate) metrics: Arc<NodeMetrics>,
}

impl<M: NodeStateMachine> Clone for NodeClient<M> {
    fn clone(&self) -> Self {
        NodeClient {
            id: self.id,
            requests: self.requests.clone(),
            status: self.status.clone(),
            events: self.events.clone(),
            timeout: self.timeout,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

impl<M: NodeStateMachine> NodeClient<M> {
    /// The node's metrics (what `/metrics` serves).
    pub fn metrics(&self) -> &Arc<NodeMetrics> {
        &self.metrics
    }

    /// The node this client talks to.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Appends `data` to the log and returns the state machine's answer once
    /// the entry is committed and applied here. Only the leader accepts it.
    pub async fn propose(&self, data: Vec<u8>) -> Result<M::Response, ClientError> {
        self.propose_indexed(data).await.map(|(_, r)| r)
    }

    /// Like [`Self::propose`], also returning the log index the write was
    /// applied at.
    pub async fn propose_indexed(&self, data: Vec<u8>) -> Result<(LogIndex, M::Response), ClientError> {
        self.call(|reply| Request::Propose { data, reply }).await
    }

    /// Answers `query` from the state machine, linearizably (ReadIndex,
    /// leader only) or stale (any node).
    pub async fn read(&self, query: M::Query, mode: ReadMode) -> Result<M::QueryResult, ClientError> {
        self.call(|reply| Request::Read { query, mode, reply }).await
    }

    /// Makes the node start an election now.
    pub async fn campaign(&self) -> Result<(), ClientError> {
        self.call(|reply| Request::Campaign { reply }).await
    }

    /// Asks the leader to hand leadership to `to`.
    pub async fn transfer_leader(&self, to: NodeId) -> Result<(), ClientError> {
        self.call(|reply| Request::TransferLeader { to, reply }).await
    }

    /// Proposes a membership change (leader only) and answers once the
    /// configuration that ends it is committed and applied here. A leader
    /// asked to remove itself (without `step_down`) hands leadership over
    /// and answers [`ClientError::NotLeader`] naming the new leader.
    pub async fn change_membership(
        &self,
        change: raft_rpc::MemberChange,
    ) -> Result<raft_rpc::ChangeOutcome, ClientError> {
        self.call(|reply| Request::ChangeMembership { change, reply }).await
    }

    /// The node's status as of its last loop iteration.
    pub fn status(&self) -> NodeStatus {
        self.status.borrow().clone()
    }

    /// A receiver of the node's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    /// Waits until `pred` holds for the node's status, at most `deadline`.
    pub async fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        pred: impl Fn(&NodeStatus) -> bool,
    ) -> Result<NodeStatus, WaitError> {
        let mut rx = self.status.clone();
        let started = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(deadline, rx.wait_for(|s| pred(s))).await;
        match outcome {
            Ok(Ok(status)) => Ok(status.clone()),
            Ok(Err(_)) | Err(_) => Err(WaitError {
                what: format!("node {}: {what}", self.id),
                waited: started.elapsed(),
                last: format!("{:?}", *self.status.borrow()),
            }),
        }
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Request<M>,
    ) -> Result<T, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.requests.try_send(make(tx)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ClientError::Overloaded(format!(
                "node {} request queue is full (limits.max_queued_requests = {})",
                self.id,
                self.requests.max_capacity()
            )),
            mpsc::error::TrySendError::Closed(_) => ClientError::ShuttingDown,
        })?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(answer)) => answer,
            // The task ended without answering (killed, panicked): it may
            // have proposed the request first.
            Ok(Err(_)) => Err(ClientError::StoppedBeforeCommit { index: None }),
            Err(_) => Err(ClientError::Timeout { ms: self.timeout.as_millis() as u64 }),
        }
    }
}
