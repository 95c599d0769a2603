//! A minimal client for etcd's v3 KV API: one `Put`, one `Range` of a single
//! key. It exists so that `raft-cli bench --target etcd` can drive an etcd
//! cluster with exactly the load generator that drives ours, which is the
//! only honest way to compare the two side by side (`scripts/bench-vs-etcd.sh`).
//!
//! etcd followers forward requests to their leader, so any member works; the
//! benchmark script points it at the leader, as our client follows ours.

use std::time::Duration;

use tonic::transport::Channel;

use crate::error::{ClientError, RpcError};

/// Code generated from `proto/etcd/kv.proto` (etcd's field numbers).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("etcdserverpb");
}

/// A connection to one etcd member. Cloning shares the HTTP/2 connection
/// (requests multiplex on it, like clients sharing one of etcd's `--conns`).
#[derive(Clone, Debug)]
pub struct EtcdKv {
    client: pb::kv_client::KvClient<Channel>,
    timeout: Duration,
}

impl EtcdKv {
    /// Connects to `endpoint` (`host:port` or a full `http://` URI); each
    /// request fails after `timeout`.
    pub async fn connect(endpoint: &str, timeout: Duration) -> Result<Self, ClientError> {
        let ep = crate::peer::endpoint(endpoint, timeout, None)
            .map_err(|e: RpcError| ClientError::InvalidArgument(e.to_string()))?;
        let channel = ep
            .connect()
            .await
            .map_err(|e| ClientError::Unavailable(format!("cannot connect to etcd at {endpoint}: {e}")))?;
        Ok(EtcdKv { client: pb::kv_client::KvClient::new(channel), timeout })
    }

    /// Writes `key = value`; returns the store revision of the write.
    pub async fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<i64, ClientError> {
        let mut req = tonic::Request::new(pb::PutRequest { key, value });
        req.set_timeout(self.timeout);
        let reply = self.client.put(req).await.map_err(status_error)?.into_inner();
        Ok(reply.header.map_or(0, |h| h.revision))
    }

    /// Reads `key`: linearizable (etcd's default, a ReadIndex round) unless
    /// `serializable`. `None` if the key does not exist.
    pub async fn get(&mut self, key: Vec<u8>, serializable: bool) -> Result<Option<Vec<u8>>, ClientError> {
        let mut req = tonic::Request::new(pb::RangeRequest { key, range_end: Vec::new(), limit: 1, serializable });
        req.set_timeout(self.timeout);
        let reply = self.client.range(req).await.map_err(status_error)?.into_inner();
        Ok(reply.kvs.into_iter().next().map(|kv| kv.value))
    }
}

/// etcd's errors, in the benchmark's vocabulary: a deadline or a lost
/// connection leaves a write's outcome unknown; anything else is a refusal.
fn status_error(status: tonic::Status) -> ClientError {
    match status.code() {
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => ClientError::Unknown(status.message().to_owned()),
        tonic::Code::Unavailable => ClientError::Unavailable(status.message().to_owned()),
        code => ClientError::Rejected { code, message: status.message().to_owned() },
    }
}
