//! `EtcdKv` against an in-process server speaking etcd's KV messages (the
//! field numbers of `proto/etcd/kv.proto`): puts land, gets see them,
//! linearizable is the default and serializable is passed through, and etcd's
//! deadline errors become "outcome unknown". `scripts/bench-vs-etcd.sh` runs
//! the same client against a real etcd.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft_rpc::etcd::pb::kv_server::{Kv, KvServer};
use raft_rpc::etcd::pb::{KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader};
use raft_rpc::etcd::EtcdKv;
use raft_rpc::ClientError;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

#[derive(Default)]
struct FakeState {
    data: Mutex<BTreeMap<Vec<u8>, (i64, Vec<u8>)>>,
    revision: Mutex<i64>,
    serializable_seen: Mutex<Vec<bool>>,
}

/// Shared so the test can look at what the server saw.
#[derive(Clone, Default)]
struct FakeEtcd(Arc<FakeState>);

#[tonic::async_trait]
impl Kv for FakeEtcd {
    async fn range(&self, req: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        let req = req.into_inner();
        self.0.serializable_seen.lock().unwrap().push(req.serializable);
        let kvs: Vec<KeyValue> = self
            .0
            .data
            .lock()
            .unwrap()
            .get(&req.key)
            .map(|(rev, v)| KeyValue { key: req.key.clone(), mod_revision: *rev, value: v.clone() })
            .into_iter()
            .collect();
        let count = kvs.len() as i64;
        Ok(Response::new(RangeResponse { header: None, kvs, more: false, count }))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let req = req.into_inner();
        if req.key == b"slow" {
            return Err(Status::deadline_exceeded("etcdserver: request timed out"));
        }
        let mut rev = self.0.revision.lock().unwrap();
        *rev += 1;
        self.0.data.lock().unwrap().insert(req.key, (*rev, req.value));
        let header = ResponseHeader { cluster_id: 7, member_id: 1, revision: *rev, raft_term: 2 };
        Ok(Response::new(PutResponse { header: Some(header) }))
    }
}

async fn start(fake: FakeEtcd) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(KvServer::new(fake))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

#[tokio::test]
async fn put_then_get_round_trips_through_etcd_messages() {
    let fake = FakeEtcd::default();
    let addr = start(fake.clone()).await;
    let mut kv = EtcdKv::connect(&addr, Duration::from_secs(5)).await.expect("connect");
    assert_eq!(kv.get(b"k".to_vec(), false).await.unwrap(), None);
    assert_eq!(kv.put(b"k".to_vec(), b"v1".to_vec()).await.unwrap(), 1);
    assert_eq!(kv.put(b"k".to_vec(), b"v2".to_vec()).await.unwrap(), 2);
    assert_eq!(kv.get(b"k".to_vec(), false).await.unwrap(), Some(b"v2".to_vec()));
    assert_eq!(kv.get(b"k".to_vec(), true).await.unwrap(), Some(b"v2".to_vec()));
    assert_eq!(*fake.0.serializable_seen.lock().unwrap(), vec![false, false, true]);
}

#[tokio::test]
async fn etcd_deadline_is_an_unknown_outcome() {
    let addr = start(FakeEtcd::default()).await;
    let mut kv = EtcdKv::connect(&addr, Duration::from_secs(5)).await.expect("connect");
    match kv.put(b"slow".to_vec(), b"v".to_vec()).await {
        Err(ClientError::Unknown(msg)) => assert!(msg.contains("timed out"), "{msg}"),
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    match EtcdKv::connect(&addr, Duration::from_secs(2)).await {
        Err(ClientError::Unavailable(msg)) => assert!(msg.contains(&addr), "{msg}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}
