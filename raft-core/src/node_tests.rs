//! Whole-node behaviour over the tiny in-file cluster.

use super::*;
use crate::test_util::*;

#[test]
fn single_voter_elects_itself_and_commits_its_noop() {
    // §5.2 with a quorum of one; §5.4.2 noop committed once durable.
    let mut n = node(1, &[1]);
    n.campaign().unwrap();
    assert_eq!(n.role(), Role::Leader);
    let rd = handle_ready(&mut n);
    assert_eq!(rd.entries, vec![noop(1, 1)]);
    assert!(rd.committed_entries.is_empty(), "own entry counts only after advance");
    let rd = handle_ready(&mut n);
    assert_eq!(rd.committed_entries, vec![noop(1, 1)]);
    assert_eq!(n.status().commit, LogIndex(1));
}

#[test]
fn three_nodes_elect_and_replicate() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    for d in [b"a", b"b", b"c"] {
        c.node(1).propose(d.to_vec()).unwrap();
    }
    c.stabilize();
    assert_eq!(c.applied_data(1), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    // Followers learn the commit index from the next heartbeat.
    c.tick_all();
    for id in [2, 3] {
        assert_eq!(c.applied_data(id), c.applied_data(1), "node {id} applied the same entries");
    }
}

#[test]
fn election_of_three_nodes_costs_few_messages() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    assert!(c.delivered < 30, "election took {} messages", c.delivered);
    // pre-vote 2+2, vote 2+2, noop append 2+2
    assert_eq!(c.delivered, 12);
}

#[test]
fn twelve_batched_proposals_cost_few_messages() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    let before = c.delivered;
    for i in 0..12u8 {
        c.node(1).propose(vec![i]).unwrap();
    }
    c.stabilize();
    assert_eq!(c.delivered - before, 4, "one append and one ack per follower");
    assert_eq!(c.applied_data(1).len(), 12);
}

#[test]
fn proposal_on_follower_is_refused_with_leader_hint() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    assert_eq!(c.node(2).propose(b"x".to_vec()), Err(ProposeError::NotLeader { leader: Some(NodeId(1)) }));
}
