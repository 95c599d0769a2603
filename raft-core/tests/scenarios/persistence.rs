//! Persistence, crashes and unreliable networks (6.824 lab 2C; Raft §5.1
//! persistent state, §5.4.2 Figure 8, §5.5 crashes).

use std::collections::BTreeMap;

use raft_core::{LogIndex, NodeId, SeededRng};

use crate::harness::{Cluster, NetConfig, SimConfig};
use crate::{after, cluster, cluster_with, cmd, ELECTION_TIMEOUT};

fn restart_all(c: &mut Cluster) {
    for id in c.ids() {
        c.crash(id);
    }
    for id in c.ids() {
        c.restart(id);
    }
}

/// §5.1/§5.5: committed entries survive the crash of every node, of the
/// leader and of a follower.
#[test]
fn persistence_through_crash_of_all_the_leader_and_a_follower() {
    let mut c = cluster(3, 301, "persistence_through_crash_of_all_the_leader_and_a_follower");
    c.one(&cmd(11), 3, true);
    restart_all(&mut c);
    c.one(&cmd(12), 3, true);
    let leader1 = c.check_one_leader();
    c.restart(leader1);
    c.one(&cmd(13), 3, true);
    let leader2 = c.check_one_leader();
    c.crash(leader2);
    c.one(&cmd(14), 2, true);
    c.restart(leader2);
    let index = c.one(&cmd(15), 3, true);
    let leader3 = c.check_one_leader();
    let follower = after(&c, leader3, 1);
    c.crash(follower);
    c.one(&cmd(16), 2, true);
    c.restart(follower);
    c.one(&cmd(17), 3, true);
    assert!(c.hosts[&leader2].sm.applied >= index, "restarted leader did not catch up");
}

/// §5.5: five rounds of crashing 2 then 3 of 5 nodes; whatever committed
/// survives and the cluster keeps agreeing.
#[test]
fn five_rounds_of_crashing_two_then_three_of_five() {
    let mut c = cluster(5, 302, "five_rounds_of_crashing_two_then_three_of_five");
    let mut x = 10;
    for _ in 0..5 {
        c.one(&cmd(x), 5, true);
        x += 1;
        let leader1 = c.check_one_leader();
        c.crash(after(&c, leader1, 1));
        c.crash(after(&c, leader1, 2));
        c.one(&cmd(x), 3, true);
        x += 1;
        c.crash(leader1);
        c.crash(after(&c, leader1, 3));
        c.crash(after(&c, leader1, 4));
        c.restart(after(&c, leader1, 1));
        c.restart(after(&c, leader1, 2));
        c.run_ticks(ELECTION_TIMEOUT);
        c.restart(after(&c, leader1, 3));
        c.one(&cmd(x), 3, true);
        x += 1;
        c.restart(leader1);
        c.restart(after(&c, leader1, 4));
    }
    c.one(&cmd(1000), 5, true);
}

/// §5.5: a partitioned leader and a follower crash; the leader restarts and
/// everything that committed survives.
#[test]
fn partitioned_leader_and_follower_crash_then_leader_restarts() {
    let mut c = cluster(3, 303, "partitioned_leader_and_follower_crash_then_leader_restarts");
    c.one(&cmd(101), 3, true);
    let leader = c.check_one_leader();
    c.disconnect(after(&c, leader, 2));
    c.one(&cmd(102), 2, true);
    c.crash(leader);
    c.crash(after(&c, leader, 1));
    c.connect(after(&c, leader, 2));
    c.restart(leader);
    c.one(&cmd(103), 2, true);
    c.restart(after(&c, leader, 1));
    c.one(&cmd(104), 3, true);
}

fn up_count(c: &Cluster) -> usize {
    c.ids().into_iter().filter(|id| c.is_up(*id)).count()
}

/// §5.4.2 Figure 8: 1000 rounds of "propose at whoever leads, then crash the
/// leader" with random pauses; a leader must never commit an entry of an
/// older term by counting replicas, so the cluster still agrees at the end.
#[test]
fn figure_8_propose_then_crash_leader_1000_rounds() {
    let mut c = cluster(5, 304, "figure_8_propose_then_crash_leader_1000_rounds");
    figure_8(&mut c, 304, false);
}

/// Figure 8 on an unreliable network: leaders are disconnected instead of
/// crashed, messages are lost, duplicated and long-delayed.
#[test]
fn figure_8_on_an_unreliable_network() {
    let mut cfg = SimConfig::new(5, 305);
    cfg.net = NetConfig::unreliable();
    let mut c = cluster_with(cfg, "figure_8_on_an_unreliable_network");
    figure_8(&mut c, 305, true);
}

fn figure_8(c: &mut Cluster, seed: u64, unreliable: bool) {
    let mut rng = SeededRng::new(seed);
    c.one(&cmd(rng.next_u64()), 1, true);
    for round in 0..1000 {
        if unreliable && round == 200 {
            let mut net = NetConfig::unreliable();
            net.long_delay_rate = 0.3;
            c.set_net(net);
        }
        let mut leader = None;
        for id in c.ids() {
            if c.is_up(id) && c.is_connected(id) && c.propose(id, cmd(rng.next_u64())).is_ok() {
                leader = Some(id);
            }
        }
        if rng.gen_bool(0.1) {
            c.run_ticks(rng.gen_range(0, ELECTION_TIMEOUT / 2));
        } else {
            c.drain();
            c.run_ticks(rng.gen_range(0, 2));
        }
        if let Some(l) = leader {
            if unreliable {
                if rng.gen_bool(0.5) {
                    c.disconnect(l);
                }
            } else {
                c.crash(l);
            }
        }
        let up = if unreliable { c.ids().into_iter().filter(|id| c.is_connected(*id)).count() } else { up_count(c) };
        if up < 3 {
            let id = NodeId(rng.gen_range(1, 6));
            if unreliable {
                c.connect(id);
            } else if !c.is_up(id) {
                c.restart(id);
            }
        }
    }
    for id in c.ids() {
        if !c.is_up(id) {
            c.restart(id);
        }
    }
    c.heal();
    c.set_net(NetConfig::reliable());
    c.one(&cmd(rng.next_u64()), 5, true);
}

/// §5.3 with loss: 50 rounds of agreement on a lossy, reordering network.
#[test]
fn agreement_on_an_unreliable_network() {
    let mut cfg = SimConfig::new(5, 306);
    cfg.net = NetConfig::unreliable();
    let mut c = cluster_with(cfg, "agreement_on_an_unreliable_network");
    for round in 1..50u64 {
        for j in 0..4 {
            c.one(&cmd(100 * round + j), 1, true);
        }
        c.one(&cmd(round), 1, true);
    }
    c.set_net(NetConfig::reliable());
    c.one(&cmd(100), 5, true);
}

/// Every value a client saw committed (proposal accepted and the same value
/// later applied at that index) is in the final log of every node.
fn churn(c: &mut Cluster, seed: u64, unreliable: bool) {
    let mut rng = SeededRng::new(seed);
    let mut seen: BTreeMap<LogIndex, Vec<u8>> = BTreeMap::new();
    let mut pending = Vec::new();
    let mut x = 0u64;
    for _ in 0..30 {
        for _ in 0..rng.gen_range(3, 10) {
            x += 1;
            let ids = c.ids();
            let id = c.connected_leader().unwrap_or_else(|| ids[rng.gen_range(0, ids.len() as u64) as usize]);
            if c.is_up(id) {
                if let Ok(log_id) = c.propose(id, cmd(x)) {
                    pending.push((log_id, cmd(x)));
                }
            }
            c.run_ticks(rng.gen_range(0, 2));
        }
        // The 6.824 churn mix: disconnect 20%, restart+reconnect 50%, crash 20%.
        if rng.gen_bool(0.2) {
            c.disconnect(NodeId(rng.gen_range(1, 6)));
        }
        if rng.gen_bool(0.5) {
            let id = NodeId(rng.gen_range(1, 6));
            if !c.is_up(id) {
                c.restart(id);
            }
            c.connect(id);
        }
        if rng.gen_bool(0.2) {
            c.crash(NodeId(rng.gen_range(1, 6)));
        }
        if unreliable {
            c.set_net(if rng.gen_bool(0.5) { NetConfig::unreliable() } else { NetConfig::delayed() });
        }
        c.run_ticks(rng.gen_range(1, 8));
        pending.retain(|(log_id, data)| match c.inv.applied().get(&log_id.index) {
            Some(rec) => {
                if rec.term == log_id.term && rec.data.as_deref() == Some(data.as_slice()) {
                    seen.insert(log_id.index, data.clone());
                }
                false
            }
            None => true,
        });
    }
    for id in c.ids() {
        if !c.is_up(id) {
            c.restart(id);
        }
    }
    c.heal();
    c.set_net(NetConfig::reliable());
    let last = c.one(&cmd(1_000_000), 5, true);
    assert!(!seen.is_empty(), "churn run saw nothing commit; the schedule is too harsh to test anything");
    for (index, data) in &seen {
        assert!(*index < last, "client-seen entry at {index} is after the final command at {last}");
        let rec = c.inv.applied().get(index).expect("seen entries were applied");
        assert_eq!(rec.data.as_ref(), Some(data), "entry at {index} changed after a client saw it committed");
    }
    for id in c.ids() {
        assert!(c.hosts[&id].sm.applied >= last, "{id} did not apply the final log");
    }
    println!("churn: {} client-visible commits, final index {last}", seen.len());
}

/// §5.5 churn on a reliable network.
#[test]
fn churn_keeps_every_client_visible_commit() {
    let mut c = cluster(5, 307, "churn_keeps_every_client_visible_commit");
    churn(&mut c, 307, false);
}

/// §5.5 churn with loss and reordering.
#[test]
fn churn_with_loss_keeps_every_client_visible_commit() {
    let mut cfg = SimConfig::new(5, 308);
    cfg.net = NetConfig::unreliable();
    let mut c = cluster_with(cfg, "churn_with_loss_keeps_every_client_visible_commit");
    churn(&mut c, 308, true);
}
