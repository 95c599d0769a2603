//! Issue #15: mutual TLS on every service. A throwaway CA and its
//! certificates are made in each test (raft-rpc's `certgen`); a fake node
//! serves with TLS and the test checks who gets through: a client with a
//! certificate of the cluster's CA does, and a plaintext client, a client
//! whose certificate comes from another CA, is expired, or is missing, and
//! a client facing a server of another CA, are all refused before anything
//! reaches the node. Peer traffic (PeerPool) is held to the same rule.

mod common;

use std::time::{Duration, SystemTime};

use common::{start_with, FakeNode, Mode, Opts, CLUSTER, DEADLINE};
use raft_core::{Message, NodeId};
use raft_rpc::certgen::{IssuedCert, TestCa};
use raft_rpc::pb::admin_service_client::AdminServiceClient;
use raft_rpc::{
    AdminClient, ClientConfig, ClientError, Consistency, KvClient, PeerConfig, PeerPool, TlsConfig, TlsError, TlsFiles,
};
use tokio::time::Instant;

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn tls_node(server: &IssuedCert) -> FakeNode {
    start_with(2, Opts { tls: Some(server.tls().unwrap()), ..Opts::new(Mode::Leader) }).await
}

/// A client that gives up quickly: refusals must come as definite errors,
/// not as a timeout.
fn client_config(tls: Option<TlsConfig>) -> ClientConfig {
    let mut c = ClientConfig::new(CLUSTER);
    c.operation_timeout = DEADLINE;
    c.tls = tls;
    c
}

fn expired(ca: &TestCa, name: &str) -> IssuedCert {
    let now = SystemTime::now();
    ca.issue_valid(name, now - 10 * DAY, now - DAY).unwrap()
}

fn assert_tls_refusal(result: Result<impl std::fmt::Debug, ClientError>, expect: &str) {
    match result {
        Err(ClientError::Tls(why)) => assert!(why.contains(expect), "refusal {why:?} should mention {expect:?}"),
        other => panic!("expected a TLS refusal mentioning {expect:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_client_with_a_certificate_of_the_cluster_ca_is_served() {
    let ca = TestCa::new("cluster CA").unwrap();
    let node = tls_node(&ca.issue("node-2").unwrap()).await;
    let tls = ca.issue("client").unwrap().tls().unwrap();
    let mut kv = KvClient::new(&[node.endpoint()], client_config(Some(tls.clone()))).unwrap();
    let w = kv.put("k", "v").await.expect("mTLS write");
    assert!(w.succeeded);
    assert_eq!(kv.get("k", Consistency::Linearizable).await.unwrap(), Some(b"v".to_vec()));
    let admin = AdminClient::connect(&node.endpoint(), client_config(Some(tls))).await.unwrap();
    assert_eq!(admin.status().await.unwrap().id, NodeId(2));
    assert_eq!(node.writes.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_plaintext_client_is_refused_with_a_tls_error() {
    let ca = TestCa::new("cluster CA").unwrap();
    let node = tls_node(&ca.issue("node-2").unwrap()).await;
    let mut kv = KvClient::new(&[node.endpoint()], client_config(None)).unwrap();
    assert_tls_refusal(kv.put("k", "v").await, "requires TLS");
    assert!(node.writes.lock().unwrap().is_empty(), "nothing reached the node");
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let ca = TestCa::new("cluster CA").unwrap();
    let other = TestCa::new("someone else's CA").unwrap();
    let node = tls_node(&ca.issue("node-2").unwrap()).await;
    // It trusts the right CA (so the server passes its check) but presents
    // a certificate the cluster's CA never signed.
    let tls = other.issue("intruder").unwrap().tls_trusting(&ca.ca_pem()).unwrap();
    let mut kv = KvClient::new(&[node.endpoint()], client_config(Some(tls))).unwrap();
    assert_tls_refusal(kv.put("k", "v").await, "rejected our certificate");
    assert!(node.writes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused() {
    let ca = TestCa::new("cluster CA").unwrap();
    let node = tls_node(&ca.issue("node-2").unwrap()).await;
    let tls = expired(&ca, "old client").tls().unwrap();
    let admin = AdminClient::connect(&node.endpoint(), client_config(Some(tls.clone()))).await;
    // TLS 1.3: the client learns of the refusal on its first request.
    let status = match admin {
        Ok(a) => a.status().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert_tls_refusal(status, "rejected our certificate");
    let mut kv = KvClient::new(&[node.endpoint()], client_config(Some(tls))).unwrap();
    assert_tls_refusal(kv.put("k", "v").await, "rejected our certificate");
    assert!(node.writes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused_by_the_client() {
    let ca = TestCa::new("cluster CA").unwrap();
    let impostor = TestCa::new("impostor CA").unwrap();
    let node = tls_node(&impostor.issue("node-2").unwrap()).await;
    let tls = ca.issue("client").unwrap().tls().unwrap();
    let mut kv = KvClient::new(&[node.endpoint()], client_config(Some(tls))).unwrap();
    assert_tls_refusal(kv.put("k", "v").await, "not trusted");
    assert!(node.writes.lock().unwrap().is_empty(), "the client sent nothing to an untrusted server");
}

#[tokio::test]
async fn an_expired_server_certificate_is_refused_by_the_client() {
    let ca = TestCa::new("cluster CA").unwrap();
    let node = tls_node(&expired(&ca, "node-2")).await;
    let tls = ca.issue("client").unwrap().tls().unwrap();
    let mut kv = KvClient::new(&[node.endpoint()], client_config(Some(tls))).unwrap();
    assert_tls_refusal(kv.put("k", "v").await, "Expired");
}

#[tokio::test]
async fn a_tls_client_without_a_certificate_is_refused() {
    let ca = TestCa::new("cluster CA").unwrap();
    let node = tls_node(&ca.issue("node-2").unwrap()).await;
    // raft-rpc's clients always present one; a hand-made tonic client
    // verifies the server but presents none.
    let bare = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca.ca_pem()))
        .domain_name("localhost");
    let channel = tonic::transport::Endpoint::from_shared(format!("https://127.0.0.1:{}", node.addr.port()))
        .unwrap()
        .tls_config(bare)
        .unwrap()
        .connect()
        .await
        .expect("the server's side of the handshake is fine");
    let err = AdminServiceClient::new(channel).status(raft_rpc::pb::StatusRequest::default()).await.unwrap_err();
    let why = raft_rpc::tls::failure(&err).unwrap_or_else(|| panic!("not a TLS failure: {err:?}"));
    assert!(why.contains("requires a client certificate"), "{why}");
}

fn heartbeat() -> Message {
    common::heartbeat_1_to_2(0)
}

fn pool(node: &FakeNode, tls: TlsConfig) -> PeerPool {
    let mut config = PeerConfig::new(CLUSTER);
    config.tls = Some(tls);
    config.backoff_max = Duration::from_millis(200);
    let (pool, _reports) = PeerPool::new(config, 16);
    pool.set_peer(NodeId(2), &node.endpoint()).unwrap();
    pool
}

#[tokio::test]
async fn peer_messages_flow_between_peers_of_one_ca_and_not_from_an_expired_peer() {
    let ca = TestCa::new("cluster CA").unwrap();
    let mut node = tls_node(&ca.issue("node-2").unwrap()).await;

    let good = pool(&node, ca.issue("node-1").unwrap().tls().unwrap());
    good.send(heartbeat()).unwrap();
    let got = tokio::time::timeout(DEADLINE, node.peer_rx.recv()).await.expect("delivered in time");
    assert_eq!(got.map(|m| m.from), Some(NodeId(1)));

    let stale = pool(&node, expired(&ca, "node-1").tls().unwrap());
    let deadline = Instant::now() + DEADLINE;
    // Several attempts, each refused at the handshake (§5.3: the sender
    // keeps retrying, which must never get through).
    while stale.stats(NodeId(2)).unwrap().failed < 3 {
        assert!(Instant::now() < deadline, "the expired peer's sends never failed: {:?}", stale.stats(NodeId(2)));
        stale.send(heartbeat()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stale.stats(NodeId(2)).unwrap().sent, 0);
    assert!(node.peer_rx.try_recv().is_err(), "nothing from the expired peer reached the node");
}

#[test]
fn unusable_tls_files_are_named_in_the_error() {
    let ca = TestCa::new("cluster CA").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = ca.issue("node-1").unwrap();
    let files = node.write(dir.path(), "node-1").unwrap();
    TlsConfig::load(&files).expect("the files as written load");

    let missing = TlsFiles { cert: dir.path().join("nope.crt"), ..files.clone() };
    let err = TlsConfig::load(&missing).unwrap_err();
    assert!(matches!(err, TlsError::Read { what: "certificate", .. }), "{err:?}");
    assert!(err.to_string().contains("nope.crt"), "{err}");

    let swapped = TlsFiles { cert: files.key.clone(), key: files.cert.clone(), ca: files.ca.clone() };
    let err = TlsConfig::load(&swapped).unwrap_err();
    assert!(err.to_string().contains("node-1.key") && err.to_string().contains("no PEM certificate"), "{err}");

    let stranger = ca.issue("node-9").unwrap().write(dir.path(), "node-9").unwrap();
    let mismatched = TlsFiles { key: stranger.key, ..files };
    let err = TlsConfig::load(&mismatched).unwrap_err();
    assert!(err.to_string().contains("node-9.key") && err.to_string().contains("does not belong"), "{err}");
}
