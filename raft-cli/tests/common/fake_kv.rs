//! A stand-in KV node: answers the client commands the way a test needs
//! (malformed replies, failures every so often) and records which TCP
//! connections its calls came over.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use raft_rpc::pb;
use raft_rpc::pb::kv_service_server::{KvService, KvServiceServer};
use tonic::{Request, Response, Status};

/// How the fake answers writes.
#[derive(Clone, Copy, Debug)]
pub enum Writes {
    /// A `WriteResponse` without its required `result`.
    Malformed,
    /// Applied, except every `n`th write, refused as INVALID_ARGUMENT.
    FailEvery(u64),
}

#[derive(Clone)]
struct Fake {
    writes: Writes,
    count: Arc<AtomicU64>,
    stale_gets: Arc<AtomicU64>,
    peers: Arc<Mutex<BTreeSet<SocketAddr>>>,
}

impl Fake {
    fn saw<T>(&self, r: &Request<T>) {
        if let Some(a) = r.remote_addr() {
            self.peers.lock().unwrap().insert(a);
        }
    }

    fn write<T>(&self, r: Request<T>) -> Result<Response<pb::WriteResponse>, Status> {
        self.saw(&r);
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let result = match self.writes {
            Writes::Malformed => None,
            Writes::FailEvery(k) if n % k == 0 => return Err(Status::invalid_argument("refused by the fake")),
            Writes::FailEvery(_) => {
                Some(pb::write_response::Result::Ok(pb::WriteResult { succeeded: true, previous: None, index: n }))
            }
        };
        Ok(Response::new(pb::WriteResponse { result }))
    }
}

#[tonic::async_trait]
impl KvService for Fake {
    async fn put(&self, r: Request<pb::PutRequest>) -> Result<Response<pb::WriteResponse>, Status> {
        self.write(r)
    }
    async fn delete(&self, r: Request<pb::DeleteRequest>) -> Result<Response<pb::WriteResponse>, Status> {
        self.write(r)
    }
    async fn compare_and_swap(
        &self,
        r: Request<pb::CompareAndSwapRequest>,
    ) -> Result<Response<pb::WriteResponse>, Status> {
        self.write(r)
    }
    async fn get(&self, r: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        self.saw(&r);
        if r.get_ref().stale {
            self.stale_gets.fetch_add(1, Ordering::SeqCst);
        }
        let result = pb::get_response::Result::Ok(pb::GetResult { value: None });
        Ok(Response::new(pb::GetResponse { result: Some(result) }))
    }
    async fn scan(&self, r: Request<pb::ScanRequest>) -> Result<Response<pb::ScanResponse>, Status> {
        self.saw(&r);
        Ok(Response::new(pb::ScanResponse { result: None }))
    }
}

/// A running fake; stops with the test process.
pub struct FakeKv {
    /// `127.0.0.1:port`.
    pub endpoint: String,
    writes: Arc<AtomicU64>,
    stale_gets: Arc<AtomicU64>,
    peers: Arc<Mutex<BTreeSet<SocketAddr>>>,
}

impl FakeKv {
    /// Serves on a fresh loopback port from a background thread.
    pub fn start(writes: Writes) -> FakeKv {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let endpoint = std_listener.local_addr().unwrap().to_string();
        let fake = Fake { writes, count: Arc::default(), stale_gets: Arc::default(), peers: Arc::default() };
        let (count, stale_gets, peers) = (fake.count.clone(), fake.stale_gets.clone(), fake.peers.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                tonic::transport::Server::builder()
                    .add_service(KvServiceServer::new(fake))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                    .await
                    .unwrap();
            });
        });
        FakeKv { endpoint, writes: count, stale_gets, peers }
    }

    /// Writes received so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Gets received that asked for a stale read.
    pub fn stale_gets(&self) -> u64 {
        self.stale_gets.load(Ordering::SeqCst)
    }

    /// Distinct client connections (source addresses) seen so far.
    pub fn connections(&self) -> usize {
        self.peers.lock().unwrap().len()
    }
}
