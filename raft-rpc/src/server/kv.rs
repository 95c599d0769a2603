//! KvService: validates client requests against the limits, hands them to
//! the runtime and turns its answer into a typed reply (not-leader included).

use std::sync::Arc;

use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

use super::shared::{service_status, Inbound, Shared, Waited};
use crate::api::{ReadRequest, ReadResult, ScanRange, ServiceError, WriteOp, WriteRequest};
use crate::convert::NotLeaderReply;
use crate::pb;
use crate::pb::kv_service_server::KvService;

/// Serves KvService.
#[derive(Debug)]
pub(crate) struct KvHandler {
    shared: Arc<Shared>,
}

fn too_big(what: &str, len: usize, limit: usize) -> Result<(), Status> {
    if len > limit {
        return Err(Status::invalid_argument(format!("{what} of {len} bytes exceeds the limit of {limit} bytes")));
    }
    Ok(())
}

impl KvHandler {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        KvHandler { shared }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), Status> {
        if key.is_empty() {
            return Err(Status::invalid_argument("key must not be empty"));
        }
        too_big("key", key.len(), self.shared.limits().max_key_bytes)
    }

    fn check_write(&self, req: &WriteRequest) -> Result<(), Status> {
        self.check_key(req.op.key())?;
        let max_value = self.shared.limits().max_value_bytes;
        match &req.op {
            WriteOp::Put { value, .. } => too_big("value", value.len(), max_value),
            WriteOp::Delete { .. } => Ok(()),
            WriteOp::CompareAndSwap { expected, new_value, .. } => {
                too_big("expected value", expected.as_ref().map_or(0, Vec::len), max_value)?;
                too_big("new value", new_value.len(), max_value)
            }
        }
    }

    /// Checks key sizes and caps a scan's limit (0 = the server maximum).
    fn check_read(&self, req: &mut ReadRequest) -> Result<(), Status> {
        let max_key = self.shared.limits().max_key_bytes;
        match req {
            ReadRequest::Get { key, .. } => self.check_key(key),
            ReadRequest::Scan { range, limit, .. } => {
                match range {
                    ScanRange::Prefix(p) => too_big("prefix", p.len(), max_key)?,
                    ScanRange::Range { start, end } => {
                        too_big("range start", start.len(), max_key)?;
                        too_big("range end", end.as_ref().map_or(0, Vec::len), max_key)?;
                    }
                }
                let max = self.shared.limits().max_scan_limit;
                if *limit > max {
                    return Err(Status::invalid_argument(format!("scan limit {limit} exceeds the maximum of {max}")));
                }
                if *limit == 0 {
                    *limit = max;
                }
                Ok(())
            }
        }
    }

    async fn write(&self, req: WriteRequest) -> Result<Response<pb::WriteResponse>, Status> {
        use pb::write_response::Result as R;
        self.check_write(&req)?;
        let _admitted = self.shared.admit_write(payload_bytes(&req))?;
        let (reply, rx) = oneshot::channel();
        let result = match self.shared.call(Inbound::Write { req, reply }, rx).await? {
            Ok(Ok(r)) => R::Ok(r.into()),
            Ok(Err(ServiceError::NotLeader { leader })) => R::NotLeader(NotLeaderReply(leader).into()),
            Ok(Err(e)) => return Err(service_status(e)),
            Err(Waited::Dropped) => return Err(Status::aborted("outcome unknown: the node dropped the proposal")),
            Err(Waited::TimedOut(t)) => {
                return Err(Status::deadline_exceeded(format!("outcome unknown: not applied within {t:?}")))
            }
        };
        Ok(Response::new(pb::WriteResponse { result: Some(result) }))
    }

    async fn read(&self, mut req: ReadRequest) -> Result<Result<ReadResult, NotLeaderReply>, Status> {
        self.check_read(&mut req)?;
        let (reply, rx) = oneshot::channel();
        match self.shared.call(Inbound::Read { req, reply }, rx).await? {
            Ok(Ok(r)) => Ok(Ok(r)),
            Ok(Err(ServiceError::NotLeader { leader })) => Ok(Err(NotLeaderReply(leader))),
            Ok(Err(e)) => Err(service_status(e)),
            Err(Waited::Dropped) => Err(Status::unavailable("the node dropped the read")),
            Err(Waited::TimedOut(t)) => Err(Status::deadline_exceeded(format!("read not served within {t:?}"))),
        }
    }
}

/// The key and value bytes a write carries (what it costs in memory).
fn payload_bytes(req: &WriteRequest) -> usize {
    let values = match &req.op {
        WriteOp::Put { value, .. } => value.len(),
        WriteOp::Delete { .. } => 0,
        WriteOp::CompareAndSwap { expected, new_value, .. } => expected.as_ref().map_or(0, Vec::len) + new_value.len(),
    };
    req.op.key().len() + values
}

fn mismatch(expected: &str) -> Status {
    Status::internal(format!("runtime answered a {expected} with another kind of result"))
}

#[tonic::async_trait]
impl KvService for KvHandler {
    async fn put(&self, request: Request<pb::PutRequest>) -> Result<Response<pb::WriteResponse>, Status> {
        let r = request.into_inner();
        self.shared.check_cluster(&r.cluster_id)?;
        self.write(WriteRequest::try_from(r)?).await
    }

    async fn delete(&self, request: Request<pb::DeleteRequest>) -> Result<Response<pb::WriteResponse>, Status> {
        let r = request.into_inner();
        self.shared.check_cluster(&r.cluster_id)?;
        self.write(WriteRequest::try_from(r)?).await
    }

    async fn compare_and_swap(
        &self,
        request: Request<pb::CompareAndSwapRequest>,
    ) -> Result<Response<pb::WriteResponse>, Status> {
        let r = request.into_inner();
        self.shared.check_cluster(&r.cluster_id)?;
        self.write(WriteRequest::try_from(r)?).await
    }

    async fn get(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        use pb::get_response::Result as R;
        let r = request.into_inner();
        self.shared.check_cluster(&r.cluster_id)?;
        let result = match self.read(ReadRequest::from(r)).await? {
            Ok(ReadResult::Get(value)) => R::Ok(pb::GetResult { value }),
            Ok(ReadResult::Scan(_)) => return Err(mismatch("get")),
            Err(nl) => R::NotLeader(nl.into()),
        };
        Ok(Response::new(pb::GetResponse { result: Some(result) }))
    }

    async fn scan(&self, request: Request<pb::ScanRequest>) -> Result<Response<pb::ScanResponse>, Status> {
        use pb::scan_response::Result as R;
        let r = request.into_inner();
        self.shared.check_cluster(&r.cluster_id)?;
        let result = match self.read(ReadRequest::try_from(r)?).await? {
            Ok(ReadResult::Scan(s)) => R::Ok(s.into()),
            Ok(ReadResult::Get(_)) => return Err(mismatch("scan")),
            Err(nl) => R::NotLeader(nl.into()),
        };
        Ok(Response::new(pb::ScanResponse { result: Some(result) }))
    }
}
