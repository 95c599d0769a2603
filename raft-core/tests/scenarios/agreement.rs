//! Log replication and agreement (6.824 lab 2B; Raft §5.3, §5.4).

use raft_core::{LogIndex, NodeId, SeededRng};

use crate::{after, cluster, cmd, ELECTION_TIMEOUT};

/// §5.3: each command commits on every node at the next index.
#[test]
fn basic_agreement_commits_in_order_on_all_nodes() {
    let mut c = cluster(3, 201, "basic_agreement_commits_in_order_on_all_nodes");
    c.check_one_leader();
    let mut prev: Option<LogIndex> = None;
    for x in 1..=3u64 {
        if let Some(p) = prev {
            let (n, _) = c.n_committed(p.next());
            assert_eq!(n, 0, "some node committed index {} before the command was submitted", p.next());
        }
        let index = c.one(&cmd(x * 100), 3, false);
        if let Some(p) = prev {
            assert_eq!(index, p.next(), "command {x} landed at {index}, expected right after {p}");
        }
        prev = Some(index);
    }
}

/// §5.3: each entry crosses the network about once per follower: 10 entries
/// of 5 KB to 3 nodes cost under 3 x payload + 50 KB.
#[test]
fn message_bytes_stay_near_payload_size() {
    let mut c = cluster(3, 202, "message_bytes_stay_near_payload_size");
    c.one(&cmd(99), 3, false);
    let before = c.net.stats.bytes;
    let mut sent = 0u64;
    for x in 0..10u64 {
        let mut data = cmd(x);
        data.resize(5000, b'x');
        sent += data.len() as u64;
        c.one(&data, 3, false);
    }
    let used = c.net.stats.bytes - before;
    println!("payload {sent} bytes, messages {used} bytes");
    assert!(used <= 3 * sent + 50_000, "too many bytes: {used} for {sent} bytes of payload");
}

/// §5.3: the cluster makes progress with one follower down, and stops
/// committing once only one node is left.
#[test]
fn progress_with_a_follower_down_and_none_with_a_majority_down() {
    let mut c = cluster(3, 203, "progress_with_a_follower_down_and_none_with_a_majority_down");
    c.one(&cmd(101), 3, false);
    let leader1 = c.check_one_leader();
    c.disconnect(after(&c, leader1, 1));
    c.one(&cmd(102), 2, false);
    c.run_ticks(ELECTION_TIMEOUT);
    c.one(&cmd(103), 2, false);
    let leader2 = c.check_one_leader();
    c.disconnect(after(&c, leader2, 1));
    c.disconnect(after(&c, leader2, 2));
    let accepted = c.propose(leader2, cmd(104));
    let Ok(log_id) = accepted else { panic!("leader {leader2} rejected a proposal: {accepted:?}") };
    c.run_ticks(2 * ELECTION_TIMEOUT);
    let (n, _) = c.n_committed(log_id.index);
    assert_eq!(n, 0, "{n} nodes committed {log_id} without a majority");
}

/// §5.2/§5.3: after the leader is lost, the rest elect a new one and make
/// progress; once a majority is gone nothing commits.
#[test]
fn progress_after_leader_failure_and_none_with_a_majority_down() {
    let mut c = cluster(3, 204, "progress_after_leader_failure_and_none_with_a_majority_down");
    c.one(&cmd(101), 3, false);
    let leader1 = c.check_one_leader();
    c.disconnect(leader1);
    c.one(&cmd(102), 2, false);
    c.run_ticks(ELECTION_TIMEOUT);
    c.one(&cmd(103), 2, false);
    let leader2 = c.check_one_leader();
    c.disconnect(leader2);
    let mut proposed = Vec::new();
    for id in c.ids() {
        if let Ok(log_id) = c.propose(id, cmd(104)) {
            proposed.push(log_id);
        }
    }
    c.run_ticks(2 * ELECTION_TIMEOUT);
    for log_id in proposed {
        let got = c.inv.applied().get(&log_id.index).map(|r| r.term);
        assert_ne!(got, Some(log_id.term), "{log_id} committed with only one node connected");
    }
}

/// §5.3: a follower that was disconnected catches up after it reconnects.
#[test]
fn disconnected_follower_catches_up_after_reconnect() {
    let mut c = cluster(3, 205, "disconnected_follower_catches_up_after_reconnect");
    c.one(&cmd(101), 3, false);
    let leader = c.check_one_leader();
    let follower = after(&c, leader, 1);
    c.disconnect(follower);
    for x in 102..=105 {
        c.one(&cmd(x), 2, false);
    }
    c.run_ticks(ELECTION_TIMEOUT);
    c.connect(follower);
    let index = c.one(&cmd(106), 3, true);
    c.run_ticks(ELECTION_TIMEOUT);
    c.one(&cmd(107), 3, true);
    assert!(c.hosts[&follower].sm.applied > index, "reconnected follower did not catch up");
}

/// §5.3/§5.4.1: with 3 of 5 followers cut, the leader's entry does not commit;
/// after the heal the entry indices are consistent and the cluster agrees.
#[test]
fn no_agreement_without_majority_then_correct_indices_after_heal() {
    let mut c = cluster(5, 206, "no_agreement_without_majority_then_correct_indices_after_heal");
    let first = c.one(&cmd(10), 5, false);
    let leader = c.check_one_leader();
    for k in 1..=3 {
        c.disconnect(after(&c, leader, k));
    }
    let log_id = c.propose(leader, cmd(20)).expect("leader accepts while it still believes it leads");
    assert_eq!(log_id.index, first.next(), "the proposal must go right after the last committed command");
    c.run_ticks(2 * ELECTION_TIMEOUT);
    assert_eq!(c.n_committed(log_id.index).0, 0, "{log_id} committed without a majority");
    for k in 1..=3 {
        c.connect(after(&c, leader, k));
    }
    let leader2 = c.check_one_leader();
    let log_id2 = c.propose(leader2, cmd(30)).expect("new leader accepts");
    // The new leader appended its own no-op (§8); cmd(20) survives only if the
    // old leader won again.
    assert!(
        log_id2.index.0 >= first.0 + 2 && log_id2.index.0 <= first.0 + 3,
        "unexpected index {} (last committed command at {first})",
        log_id2.index
    );
    c.one(&cmd(1000), 5, true);
}

/// §5.3: proposals submitted back to back in one term all commit, each at its
/// own index.
#[test]
fn concurrent_proposals_all_commit() {
    let mut c = cluster(3, 207, "concurrent_proposals_all_commit");
    let leader = c.check_one_leader();
    let term = c.hosts[&leader].term().expect("leader is up");
    let node = c.hosts.get_mut(&leader).expect("known").node();
    let ids: Vec<_> = (0..5u64).map(|x| node.propose(cmd(x)).expect("leader accepts")).collect();
    c.drain();
    for (x, id) in ids.iter().enumerate() {
        let got = c.wait_applied(id.index, 3, 2 * ELECTION_TIMEOUT);
        assert_eq!(got, Some(cmd(x as u64)), "proposal {x} at {id} did not commit everywhere");
    }
    assert_eq!(c.hosts[&leader].term(), Some(term), "term changed in a failure-free run");
}

/// §5.3/§5.4: a partitioned old leader appends entries that never commit;
/// when it rejoins they are overwritten by the new leader's log.
#[test]
fn partitioned_old_leader_entries_are_overwritten_on_rejoin() {
    let mut c = cluster(3, 208, "partitioned_old_leader_entries_are_overwritten_on_rejoin");
    c.one(&cmd(101), 3, true);
    let leader1 = c.check_one_leader();
    c.disconnect(leader1);
    let stale: Vec<_> = (102..=104).filter_map(|x| c.propose(leader1, cmd(x)).ok()).collect();
    assert!(!stale.is_empty(), "isolated leader should still accept proposals before it notices");
    c.one(&cmd(103), 2, true);
    let leader2 = c.check_one_leader();
    c.disconnect(leader2);
    c.connect(leader1);
    c.one(&cmd(104), 2, true);
    c.connect(leader2);
    c.one(&cmd(105), 3, true);
    for id in stale {
        let rec = c.inv.applied().get(&id.index).expect("index committed by now");
        assert_ne!(rec.term, id.term, "stale entry {id} of the partitioned leader was committed");
    }
}

fn submit_uncommitted(c: &mut crate::harness::Cluster, leader: NodeId, rng: &mut SeededRng, n: usize) {
    for _ in 0..n {
        let _ = c.propose(leader, cmd(rng.next_u64() % 1_000_000));
    }
}

/// §5.3 (log backtracking): twice, a leader accumulates 50 divergent
/// uncommitted entries in a minority while the majority commits 50 others;
/// the leader eventually in charge must back up over them quickly.
#[test]
fn leader_backs_up_over_fifty_divergent_entries_twice() {
    let mut c = cluster(5, 209, "leader_backs_up_over_fifty_divergent_entries_twice");
    let mut rng = SeededRng::new(209);
    c.one(&cmd(rng.next_u64()), 5, true);
    let leader1 = c.check_one_leader();
    for k in 2..=4 {
        c.disconnect(after(&c, leader1, k));
    }
    submit_uncommitted(&mut c, leader1, &mut rng, 50);
    c.run_ticks(ELECTION_TIMEOUT / 2);
    c.disconnect(leader1);
    c.disconnect(after(&c, leader1, 1));
    for k in 2..=4 {
        c.connect(after(&c, leader1, k));
    }
    for _ in 0..50 {
        c.one(&cmd(rng.next_u64()), 3, true);
    }
    let leader2 = c.check_one_leader();
    let other = if after(&c, leader1, 2) == leader2 { after(&c, leader1, 3) } else { after(&c, leader1, 2) };
    c.disconnect(other);
    submit_uncommitted(&mut c, leader2, &mut rng, 50);
    c.run_ticks(ELECTION_TIMEOUT / 2);
    for id in c.ids() {
        c.disconnect(id);
    }
    c.connect(leader1);
    c.connect(after(&c, leader1, 1));
    c.connect(other);
    for _ in 0..50 {
        c.one(&cmd(rng.next_u64()), 3, true);
    }
    for id in c.ids() {
        c.connect(id);
    }
    c.one(&cmd(rng.next_u64()), 5, true);
}

/// §5.3 message economy: 12 proposals submitted together cost under 42
/// messages, and an idle leader sends fewer than 60 messages per second of
/// ticks (10 ticks) to 2 followers.
#[test]
fn message_counts_stay_bounded() {
    let mut c = cluster(3, 210, "message_counts_stay_bounded");
    let leader = c.check_one_leader();
    c.one(&cmd(1), 3, false);
    let term = c.hosts[&leader].term();
    let before = c.net.stats.sent;
    let node = c.hosts.get_mut(&leader).expect("known").node();
    let ids: Vec<_> = (0..12u64).map(|x| node.propose(cmd(100 + x)).expect("leader accepts")).collect();
    c.drain();
    let last = ids.last().expect("12 proposals").index;
    c.wait_until(ELECTION_TIMEOUT, "12 proposals applied on all nodes", |c| c.n_committed(last).0 == 3);
    let used = c.net.stats.sent - before;
    println!("12 proposals: {used} messages");
    assert_eq!(c.hosts[&leader].term(), term, "term changed in a failure-free run");
    assert!(used < 42, "12 proposals took {used} messages");
    let before = c.net.stats.sent;
    c.run_ticks(10);
    let idle = c.net.stats.sent - before;
    println!("idle second (10 ticks): {idle} messages");
    assert!(idle < 60, "idle cluster sent {idle} messages in one second");
}
