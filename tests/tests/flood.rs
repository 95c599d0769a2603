//! Hostile client load against a real 3-node cluster (issue #15): thousands
//! of concurrent puts over a few connections, oversized values, and a Watch
//! stream nobody reads, all at once against the leader.
//!
//! What must hold:
//! - every call gets an answer of the outcome contract before its deadline:
//!   OK; "not done" (RESOURCE_EXHAUSTED when the queue or the in-flight byte
//!   budget is full, UNAVAILABLE, a not-leader reply if leadership moved);
//!   "outcome unknown" (ABORTED / DEADLINE_EXCEEDED); and OUT_OF_RANGE /
//!   INVALID_ARGUMENT for an oversized value. None hangs;
//! - the leader's peak resident memory (VmHWM) stays under
//!   [`RSS_BOUND_MIB`]. The bound comes from the limits, not from a
//!   measurement. The flood offers 4,000 × 32 KiB = 125 MiB, of which at
//!   most `max_inflight_write_bytes` (64 MiB) is admitted at a time (the
//!   rest is refused with RESOURCE_EXHAUSTED). Payloads are shared
//!   `Bytes` from the log entry to the disk write, each follower's append
//!   and apply, and the decoded request is dropped once encoded, so an
//!   admitted byte is held once as the entry plus at most once per follower
//!   as an encoded append (`max_inflight_bytes`, 32 MiB each): 128 MiB in
//!   flight. Then what the flood leaves at rest: the applied KV state (at
//!   most 125 MiB of values) and the log's RocksDB memtables (two write
//!   buffers of 16 MiB), plus ~30 MiB of runtime: 315 MiB, and the
//!   allocator's slack (fragmentation under many threads) up to 512.
//!   Measured (debug build, 2 cores): peaks of 278-350 MiB over three runs;
//!   343-374 MiB with 64 MiB memtables; 417-526 MiB before payloads were
//!   shared, with fewer puts admitted. Oversized values are refused from their gRPC
//!   length prefix before they are buffered (`Limits::max_kv_request_bytes`),
//!   and the Watch stream lags by at most `EVENT_CAPACITY` events. Without
//!   these bounds the oversized requests alone would take 800 MiB and an
//!   unread Watch would grow without end;
//! - every acknowledged put is readable afterwards, and the cluster still
//!   takes writes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use raft_rpc::pb::kv_service_client::KvServiceClient;
use raft_rpc::pb::{self, admin_service_client::AdminServiceClient};
use raft_rpc::{AdminClient, ClientConfig, Consistency, KvClient};
use raft_tests::{ClusterConfig, ProcessCluster, RunDir};
use tonic::transport::Channel;
use tonic::Code;

/// Leader peak RSS bound, MiB (derivation in the module doc).
const RSS_BOUND_MIB: u64 = 512;
const FLOOD_PUTS: usize = 4_000;
const VALUE_BYTES: usize = 32 << 10;
const OVERSIZED_PUTS: usize = 200;
const OVERSIZED_BYTES: usize = 4 << 20;
const CONNECTIONS: usize = 8;
const CALL_DEADLINE: Duration = Duration::from_secs(30);

fn vm_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the leader is alive");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in /proc status"));
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number of kB")
}

async fn find_leader(endpoints: &[String]) -> (usize, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (i, ep) in endpoints.iter().enumerate() {
            let Ok(admin) = AdminClient::connect(ep, ClientConfig::new("default")).await else { continue };
            if let Ok(s) = admin.status().await {
                if s.leader == Some(s.id) {
                    return (i + 1, ep.clone());
                }
            }
        }
        assert!(Instant::now() < deadline, "no leader elected within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn put(mut kv: KvServiceClient<Channel>, client_id: u64, key: Vec<u8>, value: Vec<u8>) -> Result<(), Code> {
    let req = pb::PutRequest { cluster_id: "default".into(), client_id, seq: 1, key, value, retry: false };
    let mut req = tonic::Request::new(req);
    req.set_timeout(CALL_DEADLINE);
    match tokio::time::timeout(CALL_DEADLINE + Duration::from_secs(5), kv.put(req)).await {
        Ok(Ok(reply)) => match reply.into_inner().result {
            Some(pb::write_response::Result::Ok(_)) => Ok(()),
            // Leadership moved under the load: not done, a definite answer.
            Some(pb::write_response::Result::NotLeader(_)) => Err(Code::FailedPrecondition),
            None => panic!("a put answered with an empty reply"),
        },
        Ok(Err(status)) => Err(status.code()),
        Err(_) => panic!("a put got no answer within {:?}", CALL_DEADLINE + Duration::from_secs(5)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_flood_is_refused_or_served_within_a_memory_bound() {
    let run = RunDir::create("flood").unwrap();
    let cluster = ProcessCluster::start(&ClusterConfig::new(3), &run).unwrap();
    let endpoints = cluster.endpoints();
    let (leader, at) = find_leader(&endpoints).await;
    let mut cluster = cluster;
    let pid = cluster.process(leader as u64).unwrap().pid().expect("leader pid");
    let url = at.clone();
    let channels: Vec<Channel> = {
        let mut v = Vec::new();
        for _ in 0..CONNECTIONS {
            v.push(Channel::from_shared(url.clone()).unwrap().connect().await.expect("connect to the leader"));
        }
        v
    };
    let client = |i: usize| KvServiceClient::new(channels[i % CONNECTIONS].clone()).max_encoding_message_size(8 << 20);

    // A watcher that never reads: the server must not buffer for it forever.
    let mut admin = AdminServiceClient::new(channels[0].clone());
    let _stalled_watch = admin.watch(pb::WatchRequest { cluster_id: "default".into() }).await.expect("watch opens");

    let before_kib = vm_kib(pid, "VmRSS:");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..FLOOD_PUTS {
        let key = format!("flood-{i:05}").into_bytes();
        tasks.push(tokio::spawn(put(client(i), 1_000 + i as u64, key, vec![b'v'; VALUE_BYTES])));
    }
    let mut oversized = Vec::new();
    for i in 0..OVERSIZED_PUTS {
        let key = format!("huge-{i:03}").into_bytes();
        oversized.push(tokio::spawn(put(client(i), 100_000 + i as u64, key, vec![b'h'; OVERSIZED_BYTES])));
    }
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut acknowledged = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.expect("put task") {
            Ok(()) => acknowledged.push(i),
            Err(code) => {
                assert!(
                    matches!(
                        code,
                        Code::ResourceExhausted
                            | Code::Unavailable
                            | Code::DeadlineExceeded
                            | Code::Aborted
                            | Code::FailedPrecondition
                    ),
                    "flood put {i} answered {code:?}"
                );
                *outcomes.entry(format!("{code:?}")).or_default() += 1;
            }
        }
    }
    for t in oversized {
        let code = t.await.expect("oversized task").expect_err("an oversized value must be refused");
        assert!(
            matches!(code, Code::InvalidArgument | Code::OutOfRange | Code::ResourceExhausted),
            "oversized put refused with {code:?}"
        );
        *outcomes.entry(format!("oversized {code:?}")).or_default() += 1;
    }
    let peak_mib = vm_kib(pid, "VmHWM:") / 1024;
    eprintln!(
        "flood: {} of {FLOOD_PUTS} puts acknowledged in {:.1}s, refusals {outcomes:?}; leader RSS {} MiB before, \
         peak {peak_mib} MiB (bound {RSS_BOUND_MIB} MiB)",
        acknowledged.len(),
        started.elapsed().as_secs_f64(),
        before_kib / 1024
    );
    assert!(!acknowledged.is_empty(), "the leader served nothing under the flood");
    assert!(peak_mib <= RSS_BOUND_MIB, "leader peak RSS {peak_mib} MiB exceeds {RSS_BOUND_MIB} MiB");

    // Every acknowledged put is there, and the cluster still takes writes.
    let mut kv = KvClient::new(&endpoints, ClientConfig::new("default")).unwrap();
    for i in acknowledged.iter().step_by(97) {
        let got = kv.get(format!("flood-{i:05}").into_bytes(), Consistency::Linearizable).await.unwrap();
        assert_eq!(got.map(|v| v.len()), Some(VALUE_BYTES), "acknowledged put {i} is missing");
    }
    kv.put(b"after-the-flood".to_vec(), b"ok".to_vec()).await.expect("a write after the flood");
    cluster.check_no_crashes().unwrap();
}
