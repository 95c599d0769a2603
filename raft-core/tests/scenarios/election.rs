//! Leader election (6.824 lab 2A; Raft §5.2, thesis §9.6 pre-vote).

use raft_core::NodeId;

use crate::{after, cluster, ELECTION_TIMEOUT};

/// §5.2: three nodes elect exactly one leader, and with no failures the term
/// stays put (heartbeats suppress new elections).
#[test]
fn initial_election_elects_one_leader_and_terms_stay_put_when_idle() {
    let mut c = cluster(3, 101, "initial_election_elects_one_leader_and_terms_stay_put_when_idle");
    c.check_one_leader();
    c.run_ticks(1);
    let term1 = c.check_terms();
    assert!(term1.0 >= 1, "a leader was elected, so the term must be at least 1, got {term1}");
    c.run_ticks(2 * ELECTION_TIMEOUT);
    let term2 = c.check_terms();
    assert_eq!(term1, term2, "term changed with no failures (term churn)");
    c.check_one_leader();
}

/// §5.2: a new leader is elected when the leader is lost; an old leader that
/// rejoins does not disturb the new one; no leader without a majority; the
/// cluster recovers when the majority returns.
#[test]
fn reelection_after_leader_loss_and_no_leader_without_majority() {
    let mut c = cluster(3, 102, "reelection_after_leader_loss_and_no_leader_without_majority");
    let leader1 = c.check_one_leader();
    c.disconnect(leader1);
    let leader_mid = c.check_one_leader();
    assert_ne!(leader_mid, leader1, "the disconnected leader cannot be the connected leader");
    c.connect(leader1);
    let leader2 = c.check_one_leader();
    c.disconnect(leader2);
    c.disconnect(after(&c, leader2, 1));
    c.run_ticks(2 * ELECTION_TIMEOUT);
    c.check_no_leader();
    c.connect(after(&c, leader2, 1));
    c.check_one_leader();
    c.connect(leader2);
    c.check_one_leader();
}

/// §5.2 under churn: 7 nodes, repeatedly cutting 3 of them; the remaining 4
/// always elect a leader.
#[test]
fn many_elections_with_three_of_seven_cut() {
    let mut c = cluster(7, 103, "many_elections_with_three_of_seven_cut");
    let mut rng = raft_core::SeededRng::new(103);
    c.check_one_leader();
    for _ in 0..10 {
        let mut cut: Vec<NodeId> = Vec::new();
        while cut.len() < 3 {
            let id = NodeId(rng.gen_range(1, 8));
            if !cut.contains(&id) {
                cut.push(id);
            }
        }
        for id in &cut {
            c.disconnect(*id);
        }
        let leader = c.check_one_leader();
        assert!(!cut.contains(&leader), "leader {leader} is among the cut nodes {cut:?}");
        for id in &cut {
            c.connect(*id);
        }
    }
    c.check_one_leader();
}

/// §5.2 message economy: electing the first leader of 3 nodes takes under
/// 30 messages (requests and responses both counted; pre-vote included).
#[test]
fn election_costs_under_30_messages() {
    let mut c = cluster(3, 104, "election_costs_under_30_messages");
    c.check_one_leader();
    let total = c.net.stats.sent;
    println!("first election: {total} messages ({:?})", c.net.stats.by_kind);
    assert!(total < 30, "too many messages for one election: {total}");
}
