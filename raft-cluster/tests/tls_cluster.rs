//! Issue #15: a 3-node gRPC cluster whose every connection is mutual TLS
//! (the `[tls]` table of each node's config), with a throwaway CA made in
//! the test. Peers verify each other against the CA, so a node with an
//! expired certificate can neither send to nor hear from the others: it
//! never counts towards the quorum (§5.2 votes, §5.3 replication), while
//! the two valid nodes elect and commit on their own.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use raft_cluster::{GrpcNode, MemNodeStore, NodeConfig, PeerConfig, TlsPaths};
use raft_core::{LogIndex, NodeId};
use raft_rpc::certgen::{IssuedCert, TestCa};
use raft_rpc::{ClientConfig, ClientError, Consistency, KvClient, TlsFiles};
use tokio::net::TcpListener;

/// Every wait is bounded by this (generous: the machine may be loaded).
const DEADLINE: Duration = Duration::from_secs(30);
const CLUSTER: &str = "tls-cluster";
const DAY: Duration = Duration::from_secs(24 * 3600);

struct TlsCluster {
    nodes: Vec<GrpcNode>,
    endpoints: Vec<String>,
    ca: TestCa,
    _dir: tempfile::TempDir,
}

fn paths(f: TlsFiles) -> TlsPaths {
    TlsPaths { cert: f.cert, key: f.key, ca: f.ca }
}

/// Starts nodes 1..=3 over mTLS; node `i` gets the certificate `cert(i)`.
async fn start(cert: impl Fn(&TestCa, u64) -> IssuedCert) -> TlsCluster {
    let ca = TestCa::new("cluster CA").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let endpoints: Vec<String> = listeners.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
    let peers: Vec<PeerConfig> =
        endpoints.iter().enumerate().map(|(i, a)| PeerConfig { id: i as u64 + 1, addr: a.clone() }).collect();
    let mut starts = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let id = i as u64 + 1;
        let files = cert(&ca, id).write(dir.path(), &format!("node-{id}")).unwrap();
        let mut config = NodeConfig::new(id, endpoints[i].clone(), peers.clone(), dir.path().join(format!("d{id}")));
        config.cluster_id = CLUSTER.into();
        config.tick_interval_ms = 20;
        config.election_ticks = 10;
        config.heartbeat_ticks = 2;
        config.tls = Some(paths(files));
        starts.push(GrpcNode::start_with_listener(config, Arc::new(MemNodeStore::new()), listener, None));
    }
    let nodes = futures::future::join_all(starts).await.into_iter().map(|n| n.expect("node starts")).collect();
    TlsCluster { nodes, endpoints, ca, _dir: dir }
}

impl TlsCluster {
    fn client(&self, endpoints: &[String]) -> KvClient {
        let mut c = ClientConfig::new(CLUSTER);
        c.operation_timeout = DEADLINE;
        c.tls = Some(self.ca.issue("test client").unwrap().tls().unwrap());
        KvClient::new(endpoints, c).unwrap()
    }

    async fn shutdown(self) {
        for n in self.nodes {
            n.shutdown().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_over_mtls_elect_and_commit() {
    let c = start(|ca, id| ca.issue(&format!("node-{id}")).unwrap()).await;
    let mut kv = c.client(&c.endpoints);
    let w = kv.put("hello", "tls").await.expect("write over mTLS");
    assert!(w.succeeded);
    assert_eq!(kv.get("hello", Consistency::Linearizable).await.unwrap(), Some(b"tls".to_vec()));
    // Replicated over mTLS peer links to every node (§5.3).
    for node in &c.nodes {
        node.client().wait_for("apply the write", DEADLINE, |s| s.applied >= w.index).await.unwrap();
    }
    // A plaintext client gets a TLS refusal, not a timeout.
    let mut plain = KvClient::new(&c.endpoints, ClientConfig::new(CLUSTER)).unwrap();
    match plain.put("intruder", "x").await {
        Err(ClientError::Tls(why)) => assert!(why.contains("requires TLS"), "{why}"),
        other => panic!("a plaintext client must be refused: {other:?}"),
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_an_expired_certificate_cannot_join_the_quorum() {
    let c = start(|ca, id| match id {
        3 => {
            let now = SystemTime::now();
            ca.issue_valid("node-3", now - 10 * DAY, now - DAY).unwrap()
        }
        _ => ca.issue(&format!("node-{id}")).unwrap(),
    })
    .await;
    // Nodes 1 and 2 are a majority of 3: they elect and commit alone.
    let mut kv = c.client(&c.endpoints[..2]);
    let mut last = LogIndex(0);
    for i in 0..5 {
        last = kv.put(format!("k{i}"), "v").await.expect("the valid majority commits").index;
    }
    let leader = c.nodes[..2].iter().find(|n| n.client().status().leader == Some(n.id())).expect("node 1 or 2 leads");
    let other_valid = if leader.id() == NodeId(1) { NodeId(2) } else { NodeId(1) };
    let status = leader
        .client()
        .wait_for("the valid follower to match", DEADLINE, |s| {
            s.matched.get(&other_valid).copied().unwrap_or_default() >= last
        })
        .await
        .unwrap();
    // Five commits, each a round trip to the valid follower: node 3 has
    // been refused at every handshake meanwhile, both ways.
    assert_eq!(status.matched.get(&NodeId(3)).copied().unwrap_or_default(), LogIndex(0), "{:?}", status.matched);
    let third = c.nodes[2].client().status();
    assert_eq!(third.applied, LogIndex(0), "node 3 applied nothing: {third:?}");
    assert_ne!(third.leader, Some(leader.id()), "node 3 never heard from the leader: {third:?}");
    c.shutdown().await;
}
