//! Log compaction and InstallSnapshot (6.824 lab 2D; Raft §7, Figure 13).
//! Nodes snapshot every `SNAPSHOT_INTERVAL` applied entries, as the 6.824
//! service does every 10.

use raft_core::{LogIndex, SeededRng};

use crate::harness::{Cluster, NetConfig, SimConfig};
use crate::{after, cluster_with, cmd};

const SNAPSHOT_INTERVAL: u64 = 10;
/// A node's stored log may hold at most this many entries after its
/// snapshot: the threshold, plus entries not yet applied, plus slack for
/// one interval of entries in flight.
const MAX_LOG_LEN: u64 = 3 * SNAPSHOT_INTERVAL + 5;

fn snap_cluster(seed: u64, name: &str, reliable: bool) -> Cluster {
    let mut cfg = SimConfig::new(3, seed);
    cfg.raft.snapshot_threshold = SNAPSHOT_INTERVAL;
    if !reliable {
        cfg.net = NetConfig::unreliable();
    }
    cluster_with(cfg, name)
}

fn check_log_bounded(c: &Cluster) {
    for id in c.ids() {
        let len = c.log_len(id);
        if len > MAX_LOG_LEN {
            c.fail(format!("{id} keeps {len} log entries after its snapshot (limit {MAX_LOG_LEN}): log not compacted"));
        }
    }
}

/// The 6.824 `snapcommon`: 30 rounds; in each, a victim is (optionally)
/// disconnected or crashed while enough entries commit to force a snapshot,
/// then it comes back and must be brought up to date (by InstallSnapshot
/// when the leader compacted past it).
fn snapcommon(c: &mut Cluster, seed: u64, disconnect: bool, crash: bool) {
    let mut rng = SeededRng::new(seed);
    let n = c.ids().len();
    c.one(&cmd(rng.next_u64()), n, true);
    let mut leader1 = c.check_one_leader();
    for i in 0..30 {
        let (mut victim, mut sender) = (after(c, leader1, 1), leader1);
        if i % 3 == 1 {
            (victim, sender) = (leader1, after(c, leader1, 1));
        }
        if disconnect {
            c.disconnect(victim);
            c.one(&cmd(rng.next_u64()), n - 1, true);
        }
        if crash {
            c.crash(victim);
            c.one(&cmd(rng.next_u64()), n - 1, true);
        }
        let nn = SNAPSHOT_INTERVAL / 2 + rng.gen_range(0, SNAPSHOT_INTERVAL);
        for _ in 0..nn {
            if c.is_up(sender) {
                let _ = c.propose(sender, cmd(rng.next_u64()));
            }
        }
        let expect = if disconnect || crash { n - 1 } else { n };
        c.one(&cmd(rng.next_u64()), expect, true);
        check_log_bounded(c);
        if disconnect {
            c.connect(victim);
            c.one(&cmd(rng.next_u64()), n, true);
            leader1 = c.check_one_leader();
        }
        if crash {
            c.restart(victim);
            c.one(&cmd(rng.next_u64()), n, true);
            leader1 = c.check_one_leader();
        }
    }
}

fn installs(c: &Cluster) -> u64 {
    c.net.stats.by_kind.get("InstallSnapshot").copied().unwrap_or(0)
}

/// §7: with snapshots every 10 entries, every node's log stays bounded.
#[test]
fn snapshots_keep_the_log_bounded() {
    let mut c = snap_cluster(401, "snapshots_keep_the_log_bounded", true);
    snapcommon(&mut c, 401, false, false);
}

/// §7 Figure 13: a follower disconnected while the leader compacts past it
/// is brought back by InstallSnapshot.
#[test]
fn snapshot_installs_on_a_disconnected_follower() {
    let mut c = snap_cluster(402, "snapshot_installs_on_a_disconnected_follower", true);
    snapcommon(&mut c, 402, true, false);
    assert!(installs(&c) > 0, "no InstallSnapshot was ever sent");
}

/// §7 with message loss and reordering.
#[test]
fn snapshot_installs_with_message_loss() {
    let mut c = snap_cluster(403, "snapshot_installs_with_message_loss", false);
    snapcommon(&mut c, 403, true, false);
    assert!(installs(&c) > 0, "no InstallSnapshot was ever sent");
}

/// §7 with crashes: a crashed follower restarts from its own snapshot and is
/// caught up (by entries or by InstallSnapshot).
#[test]
fn snapshot_installs_with_crashes() {
    let mut c = snap_cluster(404, "snapshot_installs_with_crashes", true);
    snapcommon(&mut c, 404, false, true);
}

/// §7 with crashes on a lossy, reordering network.
#[test]
fn snapshot_installs_with_loss_and_crashes() {
    let mut c = snap_cluster(405, "snapshot_installs_with_loss_and_crashes", false);
    snapcommon(&mut c, 405, false, true);
}

/// §7/§5.1: every node crashes repeatedly; after each restart the log
/// index keeps growing, never going back below what committed before.
#[test]
fn everything_crashing_repeatedly_never_moves_the_index_back() {
    let mut c = snap_cluster(406, "everything_crashing_repeatedly_never_moves_the_index_back", true);
    let mut rng = SeededRng::new(406);
    c.one(&cmd(rng.next_u64()), 3, true);
    for _ in 0..5 {
        let nn = SNAPSHOT_INTERVAL / 2 + rng.gen_range(0, SNAPSHOT_INTERVAL);
        for _ in 0..nn {
            c.one(&cmd(rng.next_u64()), 3, true);
        }
        let index1 = c.one(&cmd(rng.next_u64()), 3, true);
        for id in c.ids() {
            c.crash(id);
        }
        for id in c.ids() {
            c.restart(id);
        }
        let index2 = c.one(&cmd(rng.next_u64()), 3, true);
        assert!(index2 > index1, "index went back after a full restart: {index2} after {index1}");
    }
}

/// §7: nodes restart from their snapshot (state restored, log after it
/// replayed), twice in a row.
#[test]
fn restart_from_a_snapshot() {
    let mut c = snap_cluster(407, "restart_from_a_snapshot", true);
    let mut rng = SeededRng::new(407);
    c.one(&cmd(rng.next_u64()), 3, true);
    for _ in 0..=SNAPSHOT_INTERVAL {
        c.one(&cmd(rng.next_u64()), 3, true);
    }
    assert!(
        c.ids().iter().all(|id| crate::harness::snapshot_index(&c.hosts[id].storage) > LogIndex(0)),
        "every node should have taken a snapshot by now"
    );
    for _ in 0..2 {
        for id in c.ids() {
            c.crash(id);
        }
        for id in c.ids() {
            c.restart(id);
            let h = &c.hosts[&id];
            assert!(h.sm.applied >= crate::harness::snapshot_index(&h.storage), "{id} did not restore its snapshot");
        }
        c.one(&cmd(rng.next_u64()), 3, true);
    }
}
