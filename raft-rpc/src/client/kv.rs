//! [`KvClient`]: talks to any node, follows not-leader redirects, and retries
//! writes with the same `(client_id, seq)` so the state machine applies each
//! at most once (thesis §6.3).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::Request;

use super::attempt::Attempt;
use super::{normalize, ClientConfig};
use crate::api::{Consistency, ScanRange, ScanResult, WriteOp, WriteRequest, WriteResult};
use crate::backoff::{seed, Backoff};
use crate::convert::kv::{scan_range_to_pb, write_to_pb, WriteCall};
use crate::convert::NotLeaderReply;
use crate::error::{ClientError, ConvertError};
use crate::pb;
use crate::pb::kv_service_client::KvServiceClient;

/// Whether a failed operation may have taken effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Write,
    Read,
}

/// A KV client session. Operations take `&mut self`: one operation at a
/// time per session keeps sequence numbers in order.
#[derive(Debug)]
pub struct KvClient {
    config: ClientConfig,
    /// Normalized `host:port` addresses: the configured ones plus leaders
    /// learned from hints. Invariant: non-empty.
    endpoints: Vec<String>,
    /// Index into `endpoints` of the node tried next (the presumed leader).
    current: usize,
    channels: HashMap<String, Channel>,
    client_id: u64,
    /// Sequence number of the next new operation (starts at 1).
    next_seq: u64,
}

impl KvClient {
    /// A client for the cluster reachable at `endpoints` (`host:port` or
    /// `http://host:port`), with a random client id. Connects lazily.
    pub fn new(endpoints: &[String], config: ClientConfig) -> Result<Self, ClientError> {
        Self::with_client_id(endpoints, config, seed())
    }

    /// Like [`KvClient::new`] with a caller-chosen, non-zero client id
    /// (e.g. to resume a session; the caller must then also resume its seq).
    pub fn with_client_id(endpoints: &[String], config: ClientConfig, client_id: u64) -> Result<Self, ClientError> {
        if client_id == 0 {
            return Err(ClientError::InvalidArgument("client id 0 is reserved".into()));
        }
        let mut list: Vec<String> = Vec::new();
        for e in endpoints {
            let n = normalize(e);
            if n.is_empty() {
                return Err(ClientError::InvalidEndpoint(format!("empty endpoint in {endpoints:?}")));
            }
            if !list.contains(&n) {
                list.push(n);
            }
        }
        if list.is_empty() {
            return Err(ClientError::InvalidEndpoint("no endpoints given".into()));
        }
        Ok(KvClient { config, endpoints: list, current: 0, channels: HashMap::new(), client_id, next_seq: 1 })
    }

    /// A new session (fresh random client id, seq 1) on this client's
    /// connections: channels opened so far are shared, since gRPC
    /// multiplexes concurrent calls over one HTTP/2 connection. Endpoints
    /// it connects to later get connections of its own.
    pub fn new_session(&self) -> KvClient {
        KvClient {
            config: self.config.clone(),
            endpoints: self.endpoints.clone(),
            current: self.current,
            channels: self.channels.clone(),
            client_id: seed(),
            next_seq: 1,
        }
    }

    /// How many endpoints this session holds a connection to.
    pub fn connections(&self) -> usize {
        self.channels.len()
    }

    /// This session's client id.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// The sequence number the next write will use.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Sets the next sequence number (resuming a session).
    pub fn set_next_seq(&mut self, seq: u64) {
        self.next_seq = seq.max(1);
    }

    /// The endpoint the client currently believes leads.
    pub fn current_endpoint(&self) -> &str {
        &self.endpoints[self.current]
    }

    /// Sets `key` to `value`.
    pub async fn put(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Result<WriteResult, ClientError> {
        self.write(WriteOp::Put { key: key.into(), value: value.into() }).await
    }

    /// Removes `key`.
    pub async fn delete(&mut self, key: impl Into<Vec<u8>>) -> Result<WriteResult, ClientError> {
        self.write(WriteOp::Delete { key: key.into() }).await
    }

    /// Sets `key` to `new_value` if it holds `expected` (`None`: if absent).
    /// A failed expectation is `Ok` with `succeeded == false`.
    pub async fn compare_and_swap(
        &mut self,
        key: impl Into<Vec<u8>>,
        expected: Option<Vec<u8>>,
        new_value: impl Into<Vec<u8>>,
    ) -> Result<WriteResult, ClientError> {
        self.write(WriteOp::CompareAndSwap { key: key.into(), expected, new_value: new_value.into() }).await
    }

    /// Runs one write to completion. Every attempt carries the same seq;
    /// every attempt after one whose outcome is unknown is marked as a retry,
    /// so a server that forgot the session refuses it instead of applying
    /// it a second time (the write then ends [`ClientError::Unknown`]).
    pub async fn write(&mut self, op: WriteOp) -> Result<WriteResult, ClientError> {
        let req = WriteRequest { client_id: self.client_id, seq: self.next_seq, op, retry: false };
        self.next_seq += 1;
        let call = write_to_pb(&self.config.cluster_id, &req);
        let max = self.config.max_message_bytes;
        self.run(OpKind::Write, move |channel, timeout, retry| {
            let call = call.clone().with_retry(retry);
            async move {
                let mut client =
                    KvServiceClient::new(channel).max_encoding_message_size(max).max_decoding_message_size(max);
                let resp = match call {
                    WriteCall::Put(r) => client.put(timed(r, timeout)).await,
                    WriteCall::Delete(r) => client.delete(timed(r, timeout)).await,
                    WriteCall::Cas(r) => client.compare_and_swap(timed(r, timeout)).await,
                };
                resp.map(|r| decode_write(r.into_inner()))
            }
        })
        .await
    }

    /// Reads `key`.
    pub async fn get(
        &mut self,
        key: impl Into<Vec<u8>>,
        consistency: Consistency,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let req = pb::GetRequest {
            cluster_id: self.config.cluster_id.clone(),
            key: key.into(),
            stale: consistency == Consistency::Stale,
        };
        let max = self.config.max_message_bytes;
        self.run(OpKind::Read, move |channel, timeout, _| {
            let req = req.clone();
            async move {
                let mut client = KvServiceClient::new(channel).max_decoding_message_size(max);
                client.get(timed(req, timeout)).await.map(|r| decode_get(r.into_inner()))
            }
        })
        .await
    }

    /// Reads up to `limit` pairs of `range` in key order (`limit` 0: the
    /// server's maximum).
    pub async fn scan(
        &mut self,
        range: ScanRange,
        limit: u32,
        consistency: Consistency,
    ) -> Result<ScanResult, ClientError> {
        let req = pb::ScanRequest {
            cluster_id: self.config.cluster_id.clone(),
            range: Some(scan_range_to_pb(&range)),
            limit,
            stale: consistency == Consistency::Stale,
        };
        let max = self.config.max_message_bytes;
        self.run(OpKind::Read, move |channel, timeout, _| {
            let req = req.clone();
            async move {
                let mut client = KvServiceClient::new(channel).max_decoding_message_size(max);
                client.scan(timed(req, timeout)).await.map(|r| decode_scan(r.into_inner()))
            }
        })
        .await
    }

    /// The retry loop: one attempt at a time against the presumed leader
    /// until a definite answer or the operation deadline. `attempt` is told
    /// whether an earlier attempt may have been applied.
    async fn run<T, F, Fut>(&mut self, kind: OpKind, mut attempt: F) -> Result<T, ClientError>
    where
        F: FnMut(Channel, Duration, bool) -> Fut,
        Fut: Future<Output = Result<Result<Result<T, NotLeaderReply>, ConvertError>, tonic::Status>>,
    {
        let deadline = Instant::now() + self.config.operation_timeout;
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_max);
        let mut maybe_applied = false;
        let mut last = String::from("no attempt made");
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(if maybe_applied && kind == OpKind::Write {
                    ClientError::Unknown(format!("gave up after {:?}: {last}", self.config.operation_timeout))
                } else {
                    ClientError::Unavailable(format!("gave up after {:?}: {last}", self.config.operation_timeout))
                });
            }
            let endpoint = self.endpoints[self.current].clone();
            // Whether the connection broke at once (not a silent node): a
            // plaintext client may then be facing a TLS server.
            let mut broke = false;
            let outcome = match self.channel(&endpoint).await {
                Err(failed) => {
                    broke = true;
                    failed
                }
                Ok(channel) => {
                    let budget = self.config.request_timeout.min(deadline - now);
                    match tokio::time::timeout(budget, attempt(channel, budget, maybe_applied)).await {
                        Err(_) => Attempt::timed_out(budget),
                        Ok(Err(status)) => {
                            // A status made from a transport error (it has a
                            // source), not one the node sent.
                            broke = std::error::Error::source(&status).is_some();
                            Attempt::from_status(&status)
                        }
                        Ok(Ok(Err(e))) => Attempt::Fail(ClientError::Protocol(format!("{endpoint}: {e}"))),
                        Ok(Ok(Ok(reply))) => Attempt::from_reply(reply),
                    }
                }
            };
            let outcome = match self.config.tls.is_none() && broke && matches!(outcome, Attempt::Retry { .. }) {
                true => match crate::tls::plaintext_refused(&endpoint, self.config.connect_timeout).await {
                    Some(why) => Attempt::Fail(ClientError::Tls(why)),
                    None => outcome,
                },
                false => outcome,
            };
            let pause = match outcome {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => {
                    return Err(match e {
                        // A definite refusal after an ambiguous attempt
                        // still leaves the first attempt's fate open.
                        e @ ClientError::Unknown(_) => e,
                        e if maybe_applied && kind == OpKind::Write => {
                            ClientError::Unknown(format!("{e} (an earlier attempt may have applied)"))
                        }
                        e => e,
                    });
                }
                Attempt::Redirect(hint) => {
                    last = format!("{endpoint} is not the leader (hint: {hint:?})");
                    self.follow(hint.and_then(|h| h.address))
                }
                Attempt::Retry { ambiguous, reason, reconnect } => {
                    maybe_applied |= ambiguous;
                    last = format!("{endpoint}: {reason}");
                    if reconnect {
                        self.channels.remove(&endpoint);
                    }
                    self.current = (self.current + 1) % self.endpoints.len();
                    true
                }
            };
            if pause {
                let delay = backoff.next_delay().min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(delay).await;
            }
        }
    }

    /// Moves to the hinted leader; returns whether to pause first (no
    /// usable hint, e.g. an election in progress).
    fn follow(&mut self, address: Option<String>) -> bool {
        let Some(address) = address.map(|a| normalize(&a)).filter(|a| !a.is_empty()) else {
            self.current = (self.current + 1) % self.endpoints.len();
            return true;
        };
        let pos = match self.endpoints.iter().position(|e| *e == address) {
            Some(p) => p,
            None => {
                self.endpoints.push(address);
                self.endpoints.len() - 1
            }
        };
        // A hint pointing back at the node that gave it is stale: pause.
        let same = pos == self.current;
        self.current = pos;
        same
    }

    async fn channel<T>(&mut self, endpoint: &str) -> Result<Channel, Attempt<T>> {
        if let Some(c) = self.channels.get(endpoint) {
            return Ok(c.clone());
        }
        let ep = crate::peer::endpoint(endpoint, self.config.connect_timeout, self.config.tls.as_ref())
            .map_err(|e| Attempt::Fail(ClientError::InvalidEndpoint(e.to_string())))?;
        let channel = ep.connect().await.map_err(|e| Attempt::connect_failed(endpoint, &e))?;
        if self.config.tls.is_some() {
            Attempt::confirm_tls(endpoint, &channel, self.config.request_timeout).await?;
        }
        self.channels.insert(endpoint.to_owned(), channel.clone());
        Ok(channel)
    }
}

fn timed<T>(msg: T, timeout: Duration) -> Request<T> {
    let mut r = Request::new(msg);
    r.set_timeout(timeout);
    r
}

type Decoded<T> = Result<Result<T, NotLeaderReply>, ConvertError>;

fn decode_write(r: pb::WriteResponse) -> Decoded<WriteResult> {
    use pb::write_response::Result as R;
    match r.result.ok_or(ConvertError::Missing("write_response.result"))? {
        R::Ok(ok) => Ok(Ok(WriteResult::try_from(ok)?)),
        R::NotLeader(nl) => Ok(Err(NotLeaderReply::try_from(nl)?)),
    }
}

fn decode_get(r: pb::GetResponse) -> Decoded<Option<Vec<u8>>> {
    use pb::get_response::Result as R;
    match r.result.ok_or(ConvertError::Missing("get_response.result"))? {
        R::Ok(ok) => Ok(Ok(ok.value)),
        R::NotLeader(nl) => Ok(Err(NotLeaderReply::try_from(nl)?)),
    }
}

fn decode_scan(r: pb::ScanResponse) -> Decoded<ScanResult> {
    use pb::scan_response::Result as R;
    match r.result.ok_or(ConvertError::Missing("scan_response.result"))? {
        R::Ok(ok) => Ok(Ok(ok.into())),
        R::NotLeader(nl) => Ok(Err(NotLeaderReply::try_from(nl)?)),
    }
}
