//! A dead follower must not grow the leader's memory (issue #13, point 5):
//! one follower is SIGSTOPped for 60 s while 64 clients write through the
//! leader. Everything the leader sends that follower is bounded: raft-core
//! stops sending once `max_inflight_bytes` (32 MiB) or `max_inflight_msgs`
//! (256) are unacknowledged, and the peer's outgoing queue drops its oldest
//! message past 1,024. So the leader's resident memory stays under
//! [`RSS_BOUND_MIB`]: the 32 MiB in flight, the KV store's 256 keys of
//! 1 KiB, RocksDB memtables (2 × 64 MiB) and ~60 MiB of runtime. The
//! follower then resumes and catches up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft_rpc::{AdminClient, ClientConfig, KvClient};
use raft_tests::{ClusterConfig, ProcessCluster, RunDir};

const RSS_BOUND_MIB: u64 = 256;
const PAUSED_FOR: Duration = Duration::from_secs(60);
const CLIENTS: usize = 64;

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the leader is alive");
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc status");
    kib / 1024
}

async fn status_of(ep: &str) -> Option<raft_rpc::NodeStatus> {
    AdminClient::connect(ep, ClientConfig::new("default")).await.ok()?.status().await.ok()
}

async fn leader_of(endpoints: &[String]) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for ep in endpoints {
            if let Some(s) = status_of(ep).await {
                if s.leader == Some(s.id) {
                    return s.id.0;
                }
            }
        }
        assert!(Instant::now() < deadline, "no leader within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_follower_does_not_grow_the_leader() {
    let run = RunDir::create("dead_follower").unwrap();
    let mut cluster = ProcessCluster::start(&ClusterConfig::new(3), &run).unwrap();
    let endpoints = cluster.endpoints();
    let leader = leader_of(&endpoints).await;
    let follower = if leader == 1 { 2 } else { 1 };
    let leader_pid = cluster.process(leader).unwrap().pid().unwrap();
    cluster.pause(follower).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for c in 0..CLIENTS {
        let (stop, acked) = (stop.clone(), acked.clone());
        let mut kv = KvClient::new(&endpoints, ClientConfig::new("default")).unwrap();
        writers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{:03}", (c as u64 * 7 + i) % 256).into_bytes();
                if kv.put(key, vec![b'd'; 1024]).await.is_ok() {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    let started = Instant::now();
    let mut peak = 0;
    while started.elapsed() < PAUSED_FOR {
        peak = peak.max(rss_mib(leader_pid));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let writes = acked.load(Ordering::Relaxed);
    eprintln!(
        "dead_follower: node {follower} stopped for {}s; {writes} writes acknowledged by leader {leader} and the \
         other follower; leader peak RSS {peak} MiB (bound {RSS_BOUND_MIB} MiB)",
        PAUSED_FOR.as_secs()
    );
    assert!(writes > 0, "the two live nodes must keep committing");
    assert!(peak <= RSS_BOUND_MIB, "leader RSS reached {peak} MiB with a stopped follower");

    // The follower comes back and catches up with the leader's commit index.
    cluster.resume(follower).unwrap();
    let target = status_of(&endpoints[leader as usize - 1]).await.expect("leader status").commit;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let applied = status_of(&endpoints[follower as usize - 1]).await.map(|s| s.applied);
        if applied.is_some_and(|a| a >= target) {
            break;
        }
        assert!(Instant::now() < deadline, "follower {follower} stuck at {applied:?}, leader committed {target:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.check_no_crashes().unwrap();
}
