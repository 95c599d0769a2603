//! A fake runtime for transport tests: a server on 127.0.0.1:0 whose
//! Inbound channel is drained by a task that answers from a BTreeMap, or
//! redirects to another node, as the test configures.
#![allow(dead_code)]

pub mod fake_members;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft_core::{LogIndex, Message, NodeId, Role, Term};
use raft_rpc::{
    channels, serve_with_tls, Inbound, LeaderHint, Limits, MemberStatus, NodeStatus, ReadRequest, ReadResult,
    ScanRange, ScanResult, ServerConfig, ServerHandles, ServiceError, TlsConfig, WriteOp, WriteRequest, WriteResult,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

pub const CLUSTER: &str = "test-cluster";
/// Every wait in these tests is bounded by this deadline.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How the fake runtime answers client requests.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Serve from the map.
    Leader,
    /// Answer NotLeader with this hint.
    Redirect(Option<LeaderHint>),
    /// Never answer writes (hold the reply until the node stops).
    Silent,
    /// Drop the reply of the first `n` writes, then serve.
    DropFirst(usize),
    /// Never take client or admin work off the queue (a runtime swamped by
    /// client load): the inbound queue fills and stays full.
    Stalled,
}

/// How a fake node is set up.
#[derive(Clone, Debug)]
pub struct Opts {
    pub mode: Mode,
    pub limits: Limits,
    /// Serve SetPartition.
    pub fault_injection: bool,
    /// Capacity of the client/admin queue to the fake runtime.
    pub inbound_capacity: usize,
    /// Capacity of the peer inbox (nobody drains it but the test).
    pub peer_capacity: usize,
    /// Serve mutual TLS with this identity and CA.
    pub tls: Option<TlsConfig>,
}

impl Opts {
    pub fn new(mode: Mode) -> Self {
        Opts {
            mode,
            limits: Limits::default(),
            fault_injection: true,
            inbound_capacity: 64,
            peer_capacity: 1024,
            tls: None,
        }
    }
}

/// A running fake node.
pub struct FakeNode {
    pub addr: SocketAddr,
    pub id: NodeId,
    pub handles: ServerHandles,
    /// Peer messages the node received, in order (its peer inbox).
    pub peer_rx: mpsc::Receiver<Message>,
    /// Every write the runtime saw: (client_id, seq).
    pub writes: Arc<Mutex<Vec<(u64, u64)>>>,
    /// The `retry` flag of every write the runtime saw, in order.
    pub retry_flags: Arc<Mutex<Vec<bool>>>,
    /// Every SetPartition the runtime saw, in order.
    pub partitions: Arc<Mutex<Vec<Vec<NodeId>>>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeNode {
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn start(id: u64, mode: Mode) -> FakeNode {
    start_with_limits(id, mode, Limits::default()).await
}

pub async fn start_with_limits(id: u64, mode: Mode, limits: Limits) -> FakeNode {
    start_with(id, Opts { limits, ..Opts::new(mode) }).await
}

pub async fn start_with(id: u64, opts: Opts) -> FakeNode {
    let Opts { mode, limits, fault_injection, inbound_capacity, peer_capacity, tls } = opts;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let (peer_tx, peer_rx) = mpsc::channel::<Message>(peer_capacity);
    let (handles, inbound) = channels(inbound_capacity, 64, Arc::new(peer_tx));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let retry_flags = Arc::new(Mutex::new(Vec::new()));
    let partitions = Arc::new(Mutex::new(Vec::new()));
    let id = NodeId(id);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let config =
        ServerConfig { cluster_id: CLUSTER.into(), node_id: id, limits, fault_injection, snapshot_staging: None };
    tokio::spawn(serve_with_tls(listener, config, tls, handles.clone(), async move {
        let _ = stop_rx.await;
    }));
    let seen = Seen { writes: writes.clone(), retry_flags: retry_flags.clone(), partitions: partitions.clone() };
    tokio::spawn(runtime(id, addr, mode, inbound, seen));
    FakeNode { addr, id, handles, peer_rx, writes, retry_flags, partitions, shutdown: Some(stop_tx) }
}

/// What the fake runtime records for the test to inspect.
struct Seen {
    writes: Arc<Mutex<Vec<(u64, u64)>>>,
    retry_flags: Arc<Mutex<Vec<bool>>>,
    partitions: Arc<Mutex<Vec<Vec<NodeId>>>>,
}

async fn runtime(id: NodeId, addr: SocketAddr, mut mode: Mode, mut inbound: mpsc::Receiver<Inbound>, seen: Seen) {
    if matches!(mode, Mode::Stalled) {
        // Keep the queue open and never read it.
        std::future::pending::<()>().await;
    }
    let mut kv: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut index = 0u64;
    let mut held = Vec::new();
    let mut members = fake_members::FakeMembers::new(id, addr.to_string());
    while let Some(work) = inbound.recv().await {
        match work {
            Inbound::Write { req, reply } => {
                seen.writes.lock().unwrap().push((req.client_id, req.seq));
                seen.retry_flags.lock().unwrap().push(req.retry);
                match &mut mode {
                    Mode::Redirect(h) => {
                        let _ = reply.send(Err(ServiceError::NotLeader { leader: h.clone() }));
                    }
                    Mode::Silent => held.push(reply),
                    Mode::DropFirst(n) if *n > 0 => *n -= 1,
                    _ => {
                        index += 1;
                        let _ = reply.send(Ok(apply(&mut kv, req, index)));
                    }
                }
            }
            Inbound::Read { req, reply } => {
                let answer = match &mode {
                    Mode::Redirect(h) => Err(ServiceError::NotLeader { leader: h.clone() }),
                    _ => Ok(read(&kv, req)),
                };
                let _ = reply.send(answer);
            }
            Inbound::Status { reply } => {
                let _ = reply.send(status(id, addr, index));
            }
            Inbound::TransferLeader { to, reply } => {
                let answer = match &mode {
                    Mode::Redirect(h) => Err(ServiceError::NotLeader { leader: h.clone() }),
                    _ if to == id => Err(ServiceError::Invalid("already the leader".into())),
                    _ => Ok(()),
                };
                let _ = reply.send(answer);
            }
            Inbound::Members { reply } => {
                let _ = reply.send(members.view());
            }
            Inbound::ChangeMembership { change, reply } => {
                let answer = match &mode {
                    Mode::Redirect(h) => Err(ServiceError::NotLeader { leader: h.clone() }.into()),
                    _ => members.change(change),
                };
                let _ = reply.send(answer);
            }
            Inbound::SetPartition { blocked, reply } => {
                let answer = if blocked.contains(&id) {
                    Err(ServiceError::Invalid("a node cannot partition itself".into()))
                } else {
                    seen.partitions.lock().unwrap().push(blocked);
                    Ok(())
                };
                let _ = reply.send(answer);
            }
        }
    }
}

fn apply(kv: &mut BTreeMap<Vec<u8>, Vec<u8>>, req: WriteRequest, index: u64) -> WriteResult {
    let index = LogIndex(index);
    match req.op {
        WriteOp::Put { key, value } => WriteResult { succeeded: true, previous: kv.insert(key, value), index },
        WriteOp::Delete { key } => {
            let previous = kv.remove(&key);
            WriteResult { succeeded: previous.is_some(), previous, index }
        }
        WriteOp::CompareAndSwap { key, expected, new_value } => {
            let current = kv.get(&key).cloned();
            if current == expected {
                kv.insert(key, new_value);
                WriteResult { succeeded: true, previous: current, index }
            } else {
                WriteResult { succeeded: false, previous: current, index }
            }
        }
    }
}

fn read(kv: &BTreeMap<Vec<u8>, Vec<u8>>, req: ReadRequest) -> ReadResult {
    match req {
        ReadRequest::Get { key, .. } => ReadResult::Get(kv.get(&key).cloned()),
        ReadRequest::Scan { range, limit, .. } => {
            let matches: Vec<_> = kv
                .iter()
                .filter(|(k, _)| match &range {
                    ScanRange::Prefix(p) => k.starts_with(p),
                    ScanRange::Range { start, end } => *k >= start && end.as_ref().is_none_or(|e| *k < e),
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let more = matches.len() > limit as usize;
            ReadResult::Scan(ScanResult { pairs: matches.into_iter().take(limit as usize).collect(), more })
        }
    }
}

fn status(id: NodeId, addr: SocketAddr, index: u64) -> NodeStatus {
    NodeStatus {
        id,
        address: addr.to_string(),
        role: Role::Leader,
        term: Term(3),
        leader: Some(id),
        commit: LogIndex(index),
        applied: LogIndex(index),
        first_index: LogIndex(1),
        last_index: LogIndex(index),
        members: vec![MemberStatus {
            id,
            address: addr.to_string(),
            voter: true,
            matched: Some(LogIndex(index)),
            next: Some(LogIndex(index + 1)),
        }],
        incarnation: 0,
        peer_incarnations: Vec::new(),
    }
}

/// A `host:port` with nothing listening (bound, then released).
pub async fn dead_address() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a.to_string()
}

/// An empty AppendEntries (a heartbeat) from `from` to `to` carrying
/// `commit` as its commit index and read round: distinct per `commit`, so a
/// test can check order and identity of what was delivered.
pub fn heartbeat(from: u64, to: u64, commit: u64) -> Message {
    use raft_core::{AppendEntries, LogId, MessageBody};
    Message {
        from: NodeId(from),
        to: NodeId(to),
        term: Term(1),
        body: MessageBody::AppendEntries(AppendEntries {
            prev_log_id: LogId::default(),
            entries: vec![],
            leader_commit: LogIndex(commit),
            read_round: commit,
        }),
    }
}

/// [`heartbeat`] from node 1 to node 2.
pub fn heartbeat_1_to_2(commit: u64) -> Message {
    heartbeat(1, 2, commit)
}

/// A bare server (no runtime draining its client queue) for shutdown tests:
/// the peer messages it delivers arrive on `peer_rx`; `stop` begins its
/// graceful shutdown and `server` resolves when it has finished.
pub struct StoppableServer {
    pub addr: SocketAddr,
    pub peer_rx: mpsc::Receiver<Message>,
    /// Kept alive so that only the shutdown can end the server's streams.
    pub handles: ServerHandles,
    /// The client queue, kept open (nothing drains it).
    pub inbound: mpsc::Receiver<Inbound>,
    pub stop: oneshot::Sender<()>,
    pub server: tokio::task::JoinHandle<Result<(), raft_rpc::RpcError>>,
}

impl StoppableServer {
    /// Starts node `id` of [`CLUSTER`] on a fresh port.
    pub async fn start(id: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (peer_tx, peer_rx) = mpsc::channel::<Message>(8);
        let (handles, inbound) = channels(8, 8, Arc::new(peer_tx));
        let (stop, stop_rx) = oneshot::channel::<()>();
        let config = ServerConfig {
            cluster_id: CLUSTER.into(),
            node_id: NodeId(id),
            limits: Limits::default(),
            fault_injection: false,
            snapshot_staging: None,
        };
        let server = tokio::spawn(raft_rpc::serve_with_listener(listener, config, handles.clone(), async move {
            let _ = stop_rx.await;
        }));
        StoppableServer { addr, peer_rx, handles, inbound, stop, server }
    }
}
