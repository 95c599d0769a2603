//! KvService and KvClient over loopback against a fake runtime: the happy
//! path, malformed requests, cluster-id checks, redirects and the
//! unknown-versus-definite outcome of writes.

mod common;

use std::time::Duration;

use common::{dead_address, start, start_with_limits, Mode, CLUSTER, DEADLINE};
use raft_core::NodeId;
use raft_rpc::pb::kv_service_client::KvServiceClient;
use raft_rpc::{pb, ClientConfig, ClientError, Consistency, KvClient, LeaderHint, Limits, ScanRange};
use tokio::time::timeout;
use tonic::Code;

fn config() -> ClientConfig {
    ClientConfig::new(CLUSTER)
}

#[tokio::test]
async fn client_puts_gets_deletes_swaps_and_scans() {
    let node = start(1, Mode::Leader).await;
    let mut c = KvClient::new(&[node.endpoint()], config()).unwrap();
    timeout(DEADLINE, async {
        let r = c.put("a", "1").await.unwrap();
        assert!(r.succeeded && r.previous.is_none());
        assert_eq!(c.put("a", "2").await.unwrap().previous, Some(b"1".to_vec()));
        assert_eq!(c.get("a", Consistency::Linearizable).await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(c.get("zz", Consistency::Stale).await.unwrap(), None);

        let failed = c.compare_and_swap("a", Some(b"1".to_vec()), "3").await.unwrap();
        assert!(!failed.succeeded);
        assert_eq!(failed.previous, Some(b"2".to_vec()));
        assert!(c.compare_and_swap("a", Some(b"2".to_vec()), "3").await.unwrap().succeeded);
        assert!(c.compare_and_swap("b", None, "x").await.unwrap().succeeded);
        assert!(!c.compare_and_swap("b", None, "y").await.unwrap().succeeded);

        for k in ["p/1", "p/2", "p/3", "q/1"] {
            c.put(k, "v").await.unwrap();
        }
        let s = c.scan(ScanRange::Prefix(b"p/".to_vec()), 2, Consistency::Linearizable).await.unwrap();
        assert_eq!(s.pairs.iter().map(|p| p.0.clone()).collect::<Vec<_>>(), vec![b"p/1".to_vec(), b"p/2".to_vec()]);
        assert!(s.more);
        let range = ScanRange::Range { start: b"p/2".to_vec(), end: Some(b"q/1".to_vec()) };
        let s = c.scan(range, 0, Consistency::Stale).await.unwrap();
        assert_eq!(s.pairs.len(), 2);
        assert!(!s.more);

        assert!(c.delete("a").await.unwrap().succeeded);
        assert!(!c.delete("a").await.unwrap().succeeded);
    })
    .await
    .expect("deadline");
    let writes = node.writes.lock().unwrap().clone();
    let seqs: Vec<u64> = writes.iter().map(|w| w.1).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "one new seq per operation");
    assert!(writes.iter().all(|w| w.0 == c.client_id()));
}

async fn raw(node: &common::FakeNode) -> KvServiceClient<tonic::transport::Channel> {
    KvServiceClient::connect(format!("http://{}", node.addr)).await.expect("connect")
}

fn put(key: Vec<u8>, value: Vec<u8>) -> pb::PutRequest {
    pb::PutRequest { cluster_id: CLUSTER.into(), client_id: 9, seq: 1, key, value, retry: false }
}

#[tokio::test]
async fn malformed_requests_get_invalid_argument_and_server_keeps_running() {
    let limits = Limits { max_key_bytes: 16, max_value_bytes: 64, max_scan_limit: 100, ..Limits::default() };
    let node = start_with_limits(1, Mode::Leader, limits).await;
    let mut c = raw(&node).await;
    timeout(DEADLINE, async {
        let bad_puts = vec![
            put(vec![b'k'; 17], b"v".to_vec()),
            put(b"k".to_vec(), vec![0; 65]),
            put(Vec::new(), b"v".to_vec()),
            pb::PutRequest { client_id: 0, ..put(b"k".to_vec(), b"v".to_vec()) },
            pb::PutRequest { seq: 0, ..put(b"k".to_vec(), b"v".to_vec()) },
        ];
        for p in bad_puts {
            let err = c.put(p.clone()).await.expect_err("rejected");
            assert_eq!(err.code(), Code::InvalidArgument, "{p:?}: {err}");
        }
        let cas = pb::CompareAndSwapRequest {
            cluster_id: CLUSTER.into(),
            client_id: 1,
            seq: 1,
            key: b"k".to_vec(),
            expected: None,
            new_value: b"v".to_vec(),
            retry: false,
        };
        assert_eq!(c.compare_and_swap(cas).await.unwrap_err().code(), Code::InvalidArgument);
        let scan = |range, limit| pb::ScanRequest { cluster_id: CLUSTER.into(), range, limit, stale: false };
        assert_eq!(c.scan(scan(None, 1)).await.unwrap_err().code(), Code::InvalidArgument);
        let prefix = Some(pb::scan_request::Range::Prefix(b"p".to_vec()));
        let err = c.scan(scan(prefix.clone(), 101)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains("exceeds the maximum of 100"), "{}", err.message());
        let get = pb::GetRequest { cluster_id: CLUSTER.into(), key: vec![1; 17], stale: false };
        assert_eq!(c.get(get).await.unwrap_err().code(), Code::InvalidArgument);

        // Still serving.
        let ok = c.put(put(b"k".to_vec(), vec![0; 64])).await.expect("valid put accepted");
        assert!(matches!(ok.into_inner().result, Some(pb::write_response::Result::Ok(_))));
        assert!(c.scan(scan(prefix, 0)).await.is_ok(), "limit 0 means the server maximum");
    })
    .await
    .expect("deadline");
    assert_eq!(node.writes.lock().unwrap().len(), 1, "no malformed request reached the runtime");
}

#[tokio::test]
async fn request_for_another_cluster_is_refused_naming_both_ids() {
    let node = start(1, Mode::Leader).await;
    let mut c = raw(&node).await;
    let req = pb::PutRequest { cluster_id: "other".into(), ..put(b"k".to_vec(), b"v".to_vec()) };
    let err = timeout(DEADLINE, c.put(req)).await.expect("deadline").unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("`other`") && err.message().contains(&format!("`{CLUSTER}`")), "{err}");

    let mut client = KvClient::new(&[node.endpoint()], ClientConfig::new("other")).unwrap();
    let err = timeout(DEADLINE, client.put("k", "v")).await.expect("deadline").unwrap_err();
    assert!(matches!(err, ClientError::ClusterMismatch(_)), "{err:?}");
    assert!(node.writes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn client_follows_not_leader_redirect() {
    let leader = start(2, Mode::Leader).await;
    let hint = LeaderHint { id: NodeId(2), address: Some(leader.endpoint()) };
    let follower = start(1, Mode::Redirect(Some(hint))).await;
    let mut c = KvClient::new(&[follower.endpoint()], config()).unwrap();
    timeout(DEADLINE, async {
        c.put("k", "v").await.expect("put through the redirect");
        assert_eq!(c.current_endpoint(), leader.endpoint());
        assert_eq!(c.get("k", Consistency::Linearizable).await.unwrap(), Some(b"v".to_vec()));
    })
    .await
    .expect("deadline");
    assert_eq!(follower.writes.lock().unwrap().len(), 1);
    assert_eq!(leader.writes.lock().unwrap().len(), 1);
    assert_eq!(follower.writes.lock().unwrap()[0], leader.writes.lock().unwrap()[0], "same (client, seq)");
    assert_eq!(*leader.retry_flags.lock().unwrap(), vec![false], "a redirect is definite: still a first attempt");
}

#[tokio::test]
async fn client_skips_a_dead_endpoint_and_a_hintless_follower() {
    let leader = start(3, Mode::Leader).await;
    let follower = start(1, Mode::Redirect(None)).await;
    let endpoints = [dead_address().await, follower.endpoint(), leader.endpoint()];
    let mut c = KvClient::new(&endpoints, config()).unwrap();
    timeout(DEADLINE, c.put("k", "v")).await.expect("deadline").expect("reaches the leader");
    assert_eq!(c.current_endpoint(), leader.endpoint());
}

#[tokio::test]
async fn retry_after_a_dropped_proposal_reuses_the_seq() {
    let node = start(1, Mode::DropFirst(1)).await;
    let mut c = KvClient::new(&[node.endpoint()], config()).unwrap();
    timeout(DEADLINE, c.put("k", "v")).await.expect("deadline").expect("second attempt applies");
    let writes = node.writes.lock().unwrap().clone();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(writes[0], writes[1], "the retry carries the same client id and seq");
    // Issue #17 point 3: the attempt after an unknown outcome says so, so a
    // server that forgot the session refuses it instead of applying twice.
    assert_eq!(*node.retry_flags.lock().unwrap(), vec![false, true]);
    assert_eq!(c.next_seq(), 2);
}

#[tokio::test]
async fn unanswered_write_is_unknown_but_unreachable_cluster_is_unavailable() {
    let silent = start(1, Mode::Silent).await;
    let mut cfg = config();
    cfg.request_timeout = Duration::from_millis(300);
    cfg.operation_timeout = Duration::from_millis(900);
    let mut c = KvClient::new(&[silent.endpoint()], cfg.clone()).unwrap();
    let err = timeout(DEADLINE, c.put("k", "v")).await.expect("deadline").unwrap_err();
    assert!(matches!(err, ClientError::Unknown(_)), "{err:?}");
    let seqs: Vec<u64> = silent.writes.lock().unwrap().iter().map(|w| w.1).collect();
    assert!(!seqs.is_empty() && seqs.iter().all(|s| *s == 1), "all attempts used seq 1: {seqs:?}");

    let mut c = KvClient::new(&[dead_address().await], cfg).unwrap();
    let err = timeout(DEADLINE, c.put("k", "v")).await.expect("deadline").unwrap_err();
    assert!(matches!(err, ClientError::Unavailable(_)), "nothing was sent, so definitely not applied: {err:?}");
}

/// Issue #15: client write payload admitted at once is bounded by
/// `max_inflight_write_bytes`; past it a write is refused at once with
/// RESOURCE_EXHAUSTED ("nothing was done"), and room comes back when an
/// admitted write is answered.
#[tokio::test]
async fn writes_past_the_in_flight_byte_budget_are_refused_at_once() {
    let limits = Limits { max_inflight_write_bytes: 100, ..Limits::default() };
    let node = start_with_limits(1, Mode::Silent, limits).await;
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", node.endpoint())).unwrap().connect().await.unwrap();
    let put = move |seq: u64, value: Vec<u8>, wait: Duration| {
        let mut kv = KvServiceClient::new(channel.clone());
        async move {
            let req = pb::PutRequest {
                cluster_id: CLUSTER.into(),
                client_id: 9,
                seq,
                key: b"k".to_vec(),
                value,
                retry: false,
            };
            let mut req = tonic::Request::new(req);
            req.set_timeout(wait);
            kv.put(req).await
        }
    };
    // 1 + 79 bytes: admitted, and held (the fake runtime never answers).
    // It may race the probes below for the budget, so it retries until in.
    let held_put = put.clone();
    let held = tokio::spawn(async move {
        loop {
            match held_put(1, vec![b'a'; 79], Duration::from_secs(3)).await {
                Err(s) if s.code() == Code::ResourceExhausted => tokio::time::sleep(Duration::from_millis(5)).await,
                other => return other,
            }
        }
    });
    // Wait until it is admitted: a second large write is then refused.
    let refused = timeout(DEADLINE, async {
        loop {
            match put(2, vec![b'b'; 79], Duration::from_millis(100)).await {
                Err(s) if s.code() == Code::ResourceExhausted => return s,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await
    .expect("the budget fills up");
    assert!(refused.message().contains("max_inflight_write_bytes"), "{}", refused.message());
    // A small write still fits next to the held one.
    let small = put(3, vec![b'c'; 10], Duration::from_millis(100)).await.unwrap_err();
    assert!(held_not_refused(&small), "admitted, then held: {small:?}");
    // The held write times out (outcome unknown) and gives its room back.
    assert!(held.await.unwrap().is_err());
    let again = put(4, vec![b'd'; 79], Duration::from_millis(100)).await.unwrap_err();
    assert!(held_not_refused(&again), "admitted again: {again:?}");
}

/// An admitted write the silent runtime holds ends at the client's deadline.
fn held_not_refused(s: &tonic::Status) -> bool {
    matches!(s.code(), Code::Cancelled | Code::DeadlineExceeded)
}

/// Issue #15: a value beyond the decode limit is refused from its gRPC
/// length prefix (OUT_OF_RANGE), before the server buffers it.
#[tokio::test]
async fn a_request_beyond_the_kv_decode_limit_is_refused_from_its_length() {
    let node = start(1, Mode::Leader).await;
    let limit = Limits::default().max_kv_request_bytes();
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", node.endpoint())).unwrap().connect().await.unwrap();
    let mut kv = KvServiceClient::new(channel).max_encoding_message_size(usize::MAX);
    let req = pb::PutRequest {
        cluster_id: CLUSTER.into(),
        client_id: 1,
        seq: 1,
        key: b"k".to_vec(),
        value: vec![0; limit + 1],
        retry: false,
    };
    let status = kv.put(req).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
}
