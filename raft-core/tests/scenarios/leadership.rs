//! Leader transfer (thesis §3.10, TimeoutNow) and linearizable reads with
//! ReadIndex (§8, thesis §6.4).

use raft_core::{LogIndex, NodeId, ProposeError, Role, SeededRng};

use crate::harness::{Cluster, NetConfig, SimConfig};
use crate::{after, cluster, cluster_with, cmd, ELECTION_TIMEOUT};

/// Thesis §3.10: the leader brings the target up to date and sends it
/// TimeoutNow; the target wins the next term within an election timeout,
/// and the cluster keeps committing.
#[test]
fn leader_transfer_hands_leadership_to_the_target() {
    let mut c = cluster(3, 501, "leader_transfer_hands_leadership_to_the_target");
    c.one(&cmd(1), 3, false);
    let leader = c.check_one_leader();
    let term = c.hosts[&leader].term().expect("up");
    let target = after(&c, leader, 1);
    c.transfer_leader(leader, target).expect("leader accepts a transfer to a voter");
    c.wait_until(ELECTION_TIMEOUT, "transferee becomes leader", |c| {
        c.hosts[&target].node.as_ref().is_some_and(|n| n.role() == Role::Leader)
    });
    let new_term = c.hosts[&target].term().expect("up");
    assert!(new_term > term, "transferee leads in a newer term ({new_term} vs {term})");
    assert!(c.net.stats.by_kind.get("TimeoutNow").copied().unwrap_or(0) >= 1, "no TimeoutNow was sent");
    c.one(&cmd(2), 3, false);
}

/// Thesis §3.10: a transfer to a lagging follower first catches it up; one
/// to an unreachable node is abandoned after an election timeout and the
/// old leader serves again.
#[test]
fn leader_transfer_catches_up_a_lagging_target_and_aborts_when_unreachable() {
    let mut c = cluster(5, 502, "leader_transfer_catches_up_a_lagging_target_and_aborts_when_unreachable");
    c.one(&cmd(1), 5, false);
    let leader = c.check_one_leader();
    let lagging = after(&c, leader, 1);
    c.disconnect(lagging);
    for x in 2..8 {
        c.one(&cmd(x), 4, false);
    }
    c.connect(lagging);
    c.transfer_leader(leader, lagging).expect("transfer accepted");
    c.wait_until(2 * ELECTION_TIMEOUT, "lagging transferee becomes leader", |c| c.connected_leader() == Some(lagging));
    let index = c.one(&cmd(9), 5, true);
    assert!(c.hosts[&lagging].sm.applied >= index, "new leader applied its own commits");

    let unreachable = after(&c, lagging, 2);
    c.disconnect(unreachable);
    let r = c.transfer_leader(lagging, unreachable);
    assert!(r.is_ok(), "transfer request refused: {r:?}");
    c.run_ticks(3 * ELECTION_TIMEOUT);
    let l = c.check_one_leader();
    assert_ne!(l, unreachable, "unreachable node cannot have become the connected leader");
    match c.propose(l, cmd(10)) {
        Ok(_) | Err(ProposeError::NotLeader { .. }) => {}
        Err(e) => panic!("leader still refuses work long after an abandoned transfer: {e}"),
    }
    c.connect(unreachable);
    c.one(&cmd(11), 5, true);
}

fn wait_read(c: &mut Cluster, ctx: u64, ticks: u64) -> Option<crate::harness::node_host::ReadResult> {
    for _ in 0..=ticks {
        if let Some(r) = c.reads.get(&ctx) {
            return Some(r.clone());
        }
        c.tick();
    }
    None
}

/// §8/§6.4: a read confirmed by the leader reflects every write that
/// committed before the read started (its index is at least their index, and
/// the state it is answered from is the agreed state at that index). Checked
/// for 40 reads interleaved with writes on a lossy network.
#[test]
fn read_index_reflects_every_write_committed_before_the_read() {
    let mut cfg = SimConfig::new(3, 503);
    cfg.net = NetConfig::unreliable();
    let mut c = cluster_with(cfg, "read_index_reflects_every_write_committed_before_the_read");
    let mut rng = SeededRng::new(503);
    let mut served = 0;
    for ctx in 1..=40u64 {
        let written = c.one(&cmd(ctx), 2, true);
        let committed_before: LogIndex = c.inv.applied().keys().next_back().copied().unwrap_or_default();
        assert!(committed_before >= written);
        let Some(leader) = c.connected_leader() else { continue };
        if c.read_index(leader, ctx).is_err() {
            continue;
        }
        c.run_ticks(rng.gen_range(0, 2));
        let Some(r) = wait_read(&mut c, ctx, 2 * ELECTION_TIMEOUT) else { continue };
        served += 1;
        assert!(
            r.index >= committed_before,
            "read {ctx} at index {} misses writes committed up to {committed_before}",
            r.index
        );
        assert!(r.applied >= r.index, "read {ctx} answered before applying its index");
        let rec = c.inv.applied().get(&r.applied).expect("answered state was applied");
        assert_eq!(rec.digest, r.digest, "read {ctx} answered from a state no other node had at {}", r.applied);
    }
    println!("{served} of 40 reads served");
    assert!(served >= 20, "only {served} of 40 reads were served on a healthy (if lossy) cluster");
}

/// §6.4: a deposed leader cut off from the majority cannot confirm a read
/// (its heartbeat round never reaches a quorum), even though it still
/// believes it leads; the majority meanwhile commits a newer write.
#[test]
fn deposed_leader_cannot_confirm_reads() {
    let mut cfg = SimConfig::new(5, 504);
    cfg.raft.check_quorum = false; // keep the old leader believing it leads
    let mut c = cluster_with(cfg, "deposed_leader_cannot_confirm_reads");
    c.one(&cmd(1), 5, false);
    let old: NodeId = c.check_one_leader();
    c.disconnect(old);
    let fresh = c.one(&cmd(2), 4, true);
    let still_leader = c.hosts[&old].node.as_ref().is_some_and(|n| n.role() == Role::Leader);
    assert!(still_leader, "without check-quorum the isolated leader should still believe it leads");
    // It still believes it leads, so it accepts the request; what it must
    // not do is confirm it.
    c.read_index(old, 77).expect("the isolated leader still believes it leads");
    c.run_ticks(3 * ELECTION_TIMEOUT);
    assert!(c.reads.get(&77).is_none(), "isolated deposed leader confirmed a read: {:?}", c.reads.get(&77));
    c.connect(old);
    c.run_ticks(2 * ELECTION_TIMEOUT);
    if let Some(r) = c.reads.get(&77) {
        assert!(r.index >= fresh, "stale read served after rejoin: index {} < {fresh}", r.index);
    }
}
