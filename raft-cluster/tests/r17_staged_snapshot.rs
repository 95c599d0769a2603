//! Issue #17, point 4 (receive side): a follower of a gRPC/RocksDB cluster
//! receives the leader's snapshot (Figure 13) into a staging file under
//! `<data-dir>/snapshots/incoming/`, installs it by renaming the file into
//! its store, restores the KV state from that file, and ends with exactly
//! the leader's state. Staging files left by a crash are deleted when the
//! node starts, and none is left once the snapshot is installed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use raft_cluster::{ClusterOptions, KvSession, LocalCluster, ReadMode, StoreKind, TransportKind};
use raft_core::LogIndex;

const DEADLINE: Duration = Duration::from_secs(60);
const KEYS: usize = 300;
const VALUE_BYTES: usize = 2048;

fn value(i: usize) -> Vec<u8> {
    vec![(i % 251) as u8; VALUE_BYTES]
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r17_a_follower_installs_a_snapshot_through_the_staging_file() {
    let opts = ClusterOptions {
        nodes: 3,
        transport: TransportKind::Grpc,
        store: StoreKind::Disk,
        snapshot_threshold: 100,
        election_ticks: 30,
        heartbeat_ticks: 5,
        ..ClusterOptions::default()
    };
    let mut c = LocalCluster::start_kv(opts).await.expect("cluster starts");
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let lagging = c.ids().into_iter().find(|id| *id != leader).unwrap();
    let data_dir = c.config(lagging).unwrap().data_dir.clone();
    let incoming = data_dir.join("snapshots").join("incoming");
    c.kill(lagging).await.unwrap();

    let s = KvSession::new(7);
    let mut last = LogIndex(0);
    for i in 0..KEYS {
        let data = s.put(key(i), value(i)).encode().unwrap();
        last = c.propose_indexed(data, DEADLINE).await.unwrap_or_else(|e| panic!("write {i}: {e}")).1;
    }
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let leader_client = c.client(leader).unwrap();
    leader_client.wait_for("the leader's snapshot", DEADLINE, |st| st.snapshot_index.0 > 0).await.unwrap();

    // What a crash in the middle of a transfer would have left behind.
    std::fs::create_dir_all(&incoming).unwrap();
    let leftover = incoming.join("stream-1-0.part");
    std::fs::write(&leftover, vec![0u8; 4096]).unwrap();

    c.restart(lagging).await.unwrap();
    c.wait_for_applied_on(&[lagging], last, DEADLINE).await.unwrap();

    let st = c.status(lagging).unwrap();
    // It was killed before any snapshot existed, so a snapshot index means
    // it installed the leader's.
    assert!(st.snapshot_index.0 > 0, "the follower caught up through a snapshot: {st:?}");
    assert!(!leftover.exists(), "a staging file left by a crash is deleted at start-up");
    assert!(incoming.is_dir(), "the node staged into <data-dir>/snapshots/incoming");
    assert!(files(&incoming).is_empty(), "no staging file is left once installed: {:?}", files(&incoming));

    let follower = c.client(lagging).unwrap();
    for i in 0..KEYS {
        let got = follower.kv_get(&key(i), ReadMode::Stale).await.unwrap();
        assert_eq!(got.as_deref(), Some(&value(i)[..]), "key {i} on follower {lagging}");
    }
    // The restored state keeps applying after the snapshot.
    let data = s.put(b"after".to_vec(), b"snapshot".to_vec()).encode().unwrap();
    let (_, index, _) = c.propose_indexed(data, DEADLINE).await.unwrap();
    c.wait_for_applied_on(&[lagging], index, DEADLINE).await.unwrap();
    assert_eq!(follower.kv_get(b"after", ReadMode::Stale).await.unwrap().as_deref(), Some(&b"snapshot"[..]));
    c.shutdown().await.unwrap();
}
