//! Issue #17, point 4 (receive side): a server with a staging directory
//! writes each InstallSnapshot chunk (Figure 13) to a file as it arrives,
//! so a follower never assembles a snapshot in memory. The sender's CRC-32
//! is checked over the streamed bytes and a stream that fails it (or ends
//! short) leaves no file behind; at most two streams are received at once,
//! a third is refused with RESOURCE_EXHAUSTED naming the limit; files left
//! by a previous run are deleted at start-up.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use raft_core::{
    InstallSnapshot, LogId, LogIndex, Membership, Message, MessageBody, NodeId, Snapshot, SnapshotMeta, Term,
};
use raft_rpc::pb::peer_service_client::PeerServiceClient;
use raft_rpc::pb::snapshot_chunk::Kind;
use raft_rpc::{channels, pb, serve_with_listener, Limits, PeerInbox, PeerRefusal, ServerConfig, StagedSnapshot};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const CLUSTER: &str = "staging-cluster";
/// Every wait is bounded by this (generous: the machine may be loaded).
const DEADLINE: Duration = Duration::from_secs(30);

/// An inbox that keeps what it is given.
#[derive(Debug, Default)]
struct KeepingInbox {
    staged: Mutex<Vec<(Message, StagedSnapshot)>>,
    plain: Mutex<Vec<Message>>,
}

impl PeerInbox for KeepingInbox {
    fn deliver(&self, msg: Message, _inc: u64, _wait: Duration) -> BoxFuture<'_, Result<(), PeerRefusal>> {
        self.plain.lock().unwrap().push(msg);
        Box::pin(async { Ok(()) })
    }
    fn deliver_staged(
        &self,
        msg: Message,
        staged: StagedSnapshot,
        _wait: Duration,
    ) -> BoxFuture<'_, Result<(), PeerRefusal>> {
        self.staged.lock().unwrap().push((msg, staged));
        Box::pin(async { Ok(()) })
    }
}

struct Server {
    addr: std::net::SocketAddr,
    inbox: Arc<KeepingInbox>,
    _stop: oneshot::Sender<()>,
}

async fn serve(staging: &Path) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let inbox = Arc::new(KeepingInbox::default());
    let (handles, _inbound) = channels(16, 16, inbox.clone());
    let config = ServerConfig {
        cluster_id: CLUSTER.into(),
        node_id: NodeId(2),
        limits: Limits { max_snapshot_chunk_bytes: 64 << 10, ..Limits::default() },
        fault_injection: false,
        snapshot_staging: Some(staging.to_path_buf()),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve_with_listener(listener, config, handles, async move {
        let _ = stopped.await;
    }));
    Server { addr, inbox, _stop: stop }
}

async fn client(addr: std::net::SocketAddr) -> PeerServiceClient<tonic::transport::Channel> {
    let started = Instant::now();
    loop {
        match PeerServiceClient::connect(format!("http://{addr}")).await {
            Ok(c) => return c,
            Err(e) => assert!(started.elapsed() < DEADLINE, "server not up: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn snapshot(len: usize) -> (Message, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
    let meta = SnapshotMeta {
        last_log_id: LogId::new(Term(3), LogIndex(900)),
        membership: Membership::new([NodeId(1), NodeId(2), NodeId(3)]),
    };
    let body = MessageBody::InstallSnapshot(InstallSnapshot { snapshot: Snapshot { meta, data: data.clone() } });
    (Message { from: NodeId(1), to: NodeId(2), term: Term(3), body }, data)
}

fn chunks(msg: Message) -> Vec<pb::SnapshotChunk> {
    raft_rpc::snapshot_chunks(CLUSTER, msg, 64 << 10).unwrap().collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
}

/// Waits until `dir` holds `n` files.
async fn wait_files(dir: &Path, n: usize) {
    let started = Instant::now();
    while files_in(dir).len() != n {
        assert!(started.elapsed() < DEADLINE, "expected {n} files in {}: {:?}", dir.display(), files_in(dir));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn chunks_land_in_a_staging_file_and_leftovers_are_deleted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("incoming");
    std::fs::create_dir_all(&staging).unwrap();
    let leftover = staging.join("stream-1-0.part");
    std::fs::write(&leftover, b"half a snapshot from before a crash").unwrap();

    let server = serve(&staging).await;
    let mut raw = client(server.addr).await;
    assert!(!leftover.exists(), "the server deletes streams a previous run left");
    let (msg, data) = snapshot(3 << 20);
    timeout(DEADLINE, raw.install_snapshot(futures::stream::iter(chunks(msg.clone())))).await.unwrap().unwrap();

    let (delivered, staged) = server.inbox.staged.lock().unwrap().pop().expect("one staged snapshot");
    assert!(server.inbox.plain.lock().unwrap().is_empty(), "nothing went through the in-memory path");
    let MessageBody::InstallSnapshot(is) = &delivered.body else { panic!("{delivered:?}") };
    let MessageBody::InstallSnapshot(sent) = &msg.body else { unreachable!() };
    assert!(is.snapshot.data.is_empty(), "the delivered message carries no data");
    assert_eq!(is.snapshot.meta, sent.snapshot.meta);
    assert_eq!((delivered.from, delivered.to, delivered.term), (msg.from, msg.to, msg.term));
    assert_eq!(staged.path().parent(), Some(staging.as_path()));
    assert_eq!((staged.len(), staged.crc32()), (data.len() as u64, crc32fast::hash(&data)));
    assert!(std::fs::read(staged.path()).unwrap() == data, "the file holds exactly the streamed bytes");

    let path = staged.path().to_path_buf();
    drop(staged);
    assert!(!path.exists(), "a staged snapshot dropped without being installed is deleted");
}

#[tokio::test]
async fn a_crc_mismatch_or_a_short_stream_is_refused_and_its_file_removed() {
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("incoming");
    let server = serve(&staging).await;
    let mut raw = client(server.addr).await;

    let (msg, _) = snapshot(500_000);
    let mut damaged = chunks(msg.clone());
    let Some(Kind::Data(d)) = &mut damaged[4].kind else { panic!("data chunk expected") };
    d[1000] ^= 0x20;
    let err = timeout(DEADLINE, raw.install_snapshot(futures::stream::iter(damaged))).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("CRC-32"), "{}", err.message());
    wait_files(&staging, 0).await;

    let mut short = chunks(msg);
    short.pop();
    let err = timeout(DEADLINE, raw.install_snapshot(futures::stream::iter(short))).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("announced"), "{}", err.message());
    wait_files(&staging, 0).await;
    assert!(server.inbox.staged.lock().unwrap().is_empty(), "nothing was delivered");
}

/// Starts a stream that sends its header and first data chunk, then waits
/// for the returned sender to send the rest (or be dropped).
fn open_stream(
    raw: &PeerServiceClient<tonic::transport::Channel>,
    all: Vec<pb::SnapshotChunk>,
) -> (mpsc::Sender<pb::SnapshotChunk>, Vec<pb::SnapshotChunk>, tokio::task::JoinHandle<Result<(), tonic::Status>>) {
    let (tx, rx) = mpsc::channel(all.len());
    let mut rest = all;
    let head: Vec<_> = rest.drain(..2).collect();
    for c in head {
        tx.try_send(c).unwrap();
    }
    let mut raw = raw.clone();
    let call = tokio::spawn(async move { raw.install_snapshot(ReceiverStream::new(rx)).await.map(drop) });
    (tx, rest, call)
}

#[tokio::test]
async fn a_third_concurrent_stream_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("incoming");
    let server = serve(&staging).await;
    let raw = client(server.addr).await;
    let (msg, _) = snapshot(400_000);

    let (tx1, rest1, call1) = open_stream(&raw, chunks(msg.clone()));
    let (tx2, _rest2, call2) = open_stream(&raw, chunks(msg.clone()));
    wait_files(&staging, 2).await;

    let mut third = raw.clone();
    let err = timeout(DEADLINE, third.install_snapshot(futures::stream::iter(chunks(msg.clone()))))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("max_incoming_snapshot_streams = 2"), "{}", err.message());

    // The first stream completes; the second is abandoned by its sender,
    // which removes its file.
    for c in rest1 {
        tx1.send(c).await.unwrap();
    }
    drop(tx1);
    timeout(DEADLINE, call1).await.unwrap().unwrap().expect("first stream accepted");
    drop(tx2);
    let second = timeout(DEADLINE, call2).await.unwrap().unwrap();
    assert!(second.is_err(), "a stream cut short is refused");
    wait_files(&staging, 1).await;

    // A staged snapshot holds its slot until the node installs or drops
    // it; then a new stream is accepted.
    server.inbox.staged.lock().unwrap().clear();
    wait_files(&staging, 0).await;
    let mut again = raw.clone();
    timeout(DEADLINE, again.install_snapshot(futures::stream::iter(chunks(msg)))).await.unwrap().unwrap();
    assert_eq!(server.inbox.staged.lock().unwrap().len(), 1);
}
