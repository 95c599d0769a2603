//! Whole-node behaviour over the tiny in-file cluster.

use super::*;
use crate::storage::MemStorage;
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

// ---- ReadIndex (§6.4) ---------------------------------------------------

#[test]
fn read_index_is_released_after_a_quorum_confirms_the_round() {
    // §6.4: record the commit index, confirm leadership with a heartbeat
    // round, then serve the read at that index.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).read_index(7).unwrap();
    c.node(1).read_index(8).unwrap();
    let rd = c.node(1).ready().unwrap();
    assert!(rd.read_states.is_empty(), "not before confirmation");
    let hbs: Vec<_> = rd
        .messages
        .iter()
        .filter_map(|m| match &m.body {
            MessageBody::AppendEntries(a) => Some((m.to, a.read_round, a.entries.len())),
            _ => None,
        })
        .collect();
    assert_eq!(hbs, vec![(NodeId(2), 1, 0), (NodeId(3), 1, 0)], "one heartbeat round for both reads");
    let store = c.node(1).storage().clone();
    persist(&store, &rd);
    c.node(1).advance(rd.clone()).unwrap();
    c.queue.extend(rd.messages);
    c.stabilize();
    assert_eq!(
        c.read_states[&NodeId(1)],
        vec![ReadState { ctx: 7, index: LogIndex(1) }, ReadState { ctx: 8, index: LogIndex(1) }]
    );
}

#[test]
fn read_index_waits_for_a_majority_not_one_follower() {
    let mut c = Cluster::new(&[1, 2, 3, 4, 5]);
    c.elect(1);
    c.isolated.extend([NodeId(4), NodeId(5), NodeId(3)]);
    c.node(1).read_index(1).unwrap();
    c.stabilize();
    assert!(c.read_states.get(&NodeId(1)).is_none_or(|r| r.is_empty()), "2 of 5 cannot confirm");
    c.isolated.remove(&NodeId(3));
    c.tick_all();
    assert_eq!(c.read_states[&NodeId(1)], vec![ReadState { ctx: 1, index: LogIndex(1) }]);
}

#[test]
fn new_leader_defers_reads_until_its_noop_commits() {
    // §6.4 step 1: the commit index is only known after an entry of the
    // leader's term commits.
    let mut n = node(1, &[1, 2, 3]);
    let rd = elect_manually(&mut n, &[2]);
    assert_eq!(rd.entries, vec![noop(1, 1)]);
    n.read_index(5).unwrap();
    let rd = handle_ready(&mut n);
    assert!(rd.read_states.is_empty());
    assert!(appends_to(&rd.messages, 2).is_empty(), "no read round before the noop commits");
    n.step(ack(2, 1, 1, 1)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(rd.committed_entries, vec![noop(1, 1)]);
    let round: Vec<u64> = appends_to(&rd.messages, 2).iter().map(|a| a.read_round).collect();
    assert_eq!(round, vec![1], "the deferred read starts a round once the noop commits");
    let mut resp = ack(2, 1, 1, 1);
    if let MessageBody::AppendEntriesResponse(r) = &mut resp.body {
        r.read_round = 1;
    }
    n.step(resp).unwrap();
    assert_eq!(handle_ready(&mut n).read_states, vec![ReadState { ctx: 5, index: LogIndex(1) }]);
}

#[test]
fn single_voter_answers_reads_immediately() {
    let mut n = node(1, &[1]);
    n.campaign().unwrap();
    handle_ready(&mut n);
    handle_ready(&mut n);
    n.read_index(3).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(rd.read_states, vec![ReadState { ctx: 3, index: LogIndex(1) }]);
    assert!(rd.messages.is_empty());
}

#[test]
fn read_index_on_a_follower_is_refused() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    assert_eq!(c.node(3).read_index(1), Err(ProposeError::NotLeader { leader: Some(NodeId(1)) }));
}

// ---- Leader transfer (thesis §3.10) --------------------------------------

#[test]
fn leader_transfer_hands_over_to_an_up_to_date_follower() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).transfer_leader(NodeId(2)).unwrap();
    assert_eq!(c.node(1).propose(b"x".to_vec()), Err(ProposeError::TransferInProgress { to: NodeId(2) }));
    let rd = c.node(1).ready().unwrap();
    assert!(rd.events.contains(&Event::TransferStarted { to: NodeId(2) }));
    assert!(rd.messages.iter().any(|m| m.to == NodeId(2) && m.body == MessageBody::TimeoutNow));
    c.node(1).advance(rd.clone()).unwrap();
    c.queue.extend(rd.messages);
    c.stabilize();
    assert_eq!(c.leader(), Some(NodeId(2)));
    assert_eq!(c.node(2).term(), Term(2));
    assert_eq!(c.node(1).leader(), Some(NodeId(2)));
}

#[test]
fn leader_transfer_first_catches_the_transferee_up() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(2));
    c.node(1).propose(b"a".to_vec()).unwrap();
    c.stabilize();
    c.node(1).transfer_leader(NodeId(2)).unwrap();
    let rd = c.node(1).ready().unwrap();
    assert!(!rd.messages.iter().any(|m| m.body == MessageBody::TimeoutNow), "transferee is behind");
    c.node(1).advance(rd).unwrap();
    c.isolated.clear();
    for _ in 0..12 {
        c.tick_all();
        if c.leader() == Some(NodeId(2)) {
            break;
        }
    }
    assert_eq!(c.leader(), Some(NodeId(2)));
    assert_eq!(c.node(2).status().commit, c.node(2).status().last_index);
}

#[test]
fn leader_transfer_aborts_after_an_election_timeout() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(2));
    c.node(1).propose(b"a".to_vec()).unwrap();
    c.stabilize();
    c.node(1).transfer_leader(NodeId(2)).unwrap();
    for _ in 0..10 {
        c.tick_all();
    }
    assert_eq!(c.leader(), Some(NodeId(1)));
    assert!(c.node(1).propose(b"b".to_vec()).is_ok(), "proposals accepted again after the abort");
}

#[test]
fn transfer_to_a_non_voter_is_invalid() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    assert!(matches!(c.node(1).transfer_leader(NodeId(9)), Err(ProposeError::Invalid(_))));
    assert_eq!(c.node(2).transfer_leader(NodeId(3)), Err(ProposeError::NotLeader { leader: Some(NodeId(1)) }));
}

// ---- Membership (thesis §4.1) --------------------------------------------

#[test]
fn membership_takes_effect_when_appended_not_when_committed() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).propose_membership(with_learners(&[1, 2, 3], &[4])).unwrap();
    let st = c.node(1).status();
    assert_eq!(st.membership, with_learners(&[1, 2, 3], &[4]));
    assert!(st.progress.contains_key(&NodeId(4)), "the leader replicates to the new member at once");
    assert!(st.commit < st.last_index);
    assert_eq!(
        c.node(1).propose_membership(membership(&[1, 2, 3])),
        Err(ProposeError::MembershipChangePending { pending: LogIndex(2) })
    );
}

#[test]
fn membership_change_is_refused_until_the_leaders_noop_commits() {
    // thesis §4.1 erratum: a new leader must commit an entry of its term
    // before it may change the configuration.
    let mut n = node(1, &[1, 2, 3]);
    elect_manually(&mut n, &[2, 3]);
    assert_eq!(n.status().commit, LogIndex(0));
    assert_eq!(
        n.propose_membership(with_learners(&[1, 2, 3], &[4])),
        Err(ProposeError::NotCommittedInTerm { term: Term(1) })
    );
    n.step(ack(2, 1, 1, 1)).unwrap();
    assert_eq!(n.status().commit, LogIndex(1));
    assert_eq!(n.propose_membership(with_learners(&[1, 2, 3], &[4])), Ok(LogId::new(Term(1), LogIndex(2))));
}

#[test]
fn membership_entry_reverts_when_truncated() {
    // thesis §4.1: a removed uncommitted configuration entry is undone.
    let mut n = node(2, &[1, 2, 3]);
    let change = Entry::new(Term(1), LogIndex(2), EntryPayload::Membership(membership(&[1, 2, 3, 4])));
    n.step(append(1, 2, 1, (0, 0), vec![noop(1, 1), change], 1)).unwrap();
    assert_eq!(n.status().membership, membership(&[1, 2, 3, 4]));
    handle_ready(&mut n);
    n.step(append(3, 2, 2, (1, 1), vec![noop(2, 2)], 1)).unwrap();
    assert_eq!(n.status().membership, membership(&[1, 2, 3]));
    let rd = handle_ready(&mut n);
    assert_eq!(rd.truncate_from, Some(LogIndex(2)));
}

#[test]
fn new_voters_must_be_learners_and_a_target_needs_voters() {
    // thesis §4.2.1: new servers join as non-voting members first.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    assert_eq!(c.node(1).propose_membership(membership(&[1, 4, 5])), Err(ProposeError::NotALearner { id: NodeId(4) }));
    assert!(matches!(c.node(1).propose_membership(Membership::default()), Err(ProposeError::Invalid(_))));
}

#[test]
fn added_node_catches_up_and_counts_toward_quorum() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.nodes.insert(NodeId(4), RaftNode::new(config(4), MemStorage::default()).unwrap());
    c.node(1).propose_membership(with_learners(&[1, 2, 3], &[4])).unwrap();
    c.stabilize();
    // Promotion: C_old,new at 3, C_new at 4 (thesis §4.3).
    c.node(1).propose_membership(membership(&[1, 2, 3, 4])).unwrap();
    c.stabilize();
    c.tick_all();
    assert_eq!(c.node(4).status().membership, membership(&[1, 2, 3, 4]));
    assert_eq!(c.node(4).status().commit, LogIndex(4));
    c.isolated.extend([NodeId(2), NodeId(3)]);
    c.node(1).propose(b"x".to_vec()).unwrap();
    c.stabilize();
    assert_eq!(c.node(1).status().commit, LogIndex(4), "2 of 4 is not a majority");
}

#[test]
fn candidate_outside_a_voters_configuration_can_collect_its_vote() {
    // thesis §4.1: servers grant votes to candidates not in their own
    // configuration (a voter may not have the entry that added them yet).
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.nodes.insert(NodeId(4), RaftNode::new(config(4), MemStorage::default()).unwrap());
    c.isolated.insert(NodeId(3));
    c.node(1).propose_membership(with_learners(&[1, 2, 3], &[4])).unwrap();
    c.stabilize();
    c.node(1).propose_membership(membership(&[1, 2, 3, 4])).unwrap();
    c.stabilize();
    assert_eq!(c.node(1).status().commit, LogIndex(4), "learner, joint and C_new committed on 1, 2 and 4");
    c.isolated.insert(NodeId(2));
    c.node(1).propose(b"x".to_vec()).unwrap();
    c.stabilize();
    assert_eq!(c.node(4).status().last_index, LogIndex(5), "only 4 holds the newest entry");
    c.nodes.remove(&NodeId(1));
    c.isolated.clear();
    assert_eq!(c.node(3).status().membership, membership(&[1, 2, 3]));
    for _ in 0..100 {
        c.tick_all();
    }
    assert_eq!(c.leader(), Some(NodeId(4)), "only 4 can win, and only with 3's vote");
    assert_eq!(c.node(3).status().membership, membership(&[1, 2, 3, 4]));
}

#[test]
fn learners_receive_the_log_but_never_count() {
    let mut c = Cluster::new(&[1, 2]);
    c.elect(1);
    let mut m = membership(&[1, 2]);
    m.learners.insert(NodeId(3));
    c.nodes.insert(NodeId(3), RaftNode::new(config(3), MemStorage::default()).unwrap());
    c.node(1).propose_membership(m).unwrap();
    c.stabilize();
    c.tick_all();
    assert_eq!(c.node(3).status().commit, LogIndex(2));
    c.isolated.insert(NodeId(2));
    c.node(1).propose(b"x".to_vec()).unwrap();
    c.stabilize();
    assert_eq!(c.node(1).status().commit, LogIndex(2), "the learner's ack does not count");
    for _ in 0..50 {
        c.node(3).tick();
    }
    assert_eq!(c.node(3).role(), Role::Follower, "learners never campaign");
}

#[test]
fn removed_leader_steps_down_after_committing_its_removal() {
    // thesis §4.2.2.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).propose_membership(membership(&[2, 3])).unwrap();
    c.stabilize();
    assert_eq!(c.node(1).role(), Role::Follower);
    for _ in 0..30 {
        c.tick_all();
    }
    let leader = c.leader().expect("2 or 3 takes over");
    assert_ne!(leader, NodeId(1));
}

#[test]
fn removed_follower_receives_its_removal_and_stops_campaigning() {
    // thesis §4.2.2: the leader keeps replicating to a removed server until
    // it holds the entry that removes it; without it the server still sees
    // itself as a voter and campaigns forever.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).propose_membership(membership(&[1, 2])).unwrap();
    c.stabilize();
    assert_eq!(c.node(3).status().membership, membership(&[1, 2]));
    assert!(!c.node(1).status().progress.contains_key(&NodeId(3)), "released once it acknowledged");
    c.events.clear();
    for _ in 0..100 {
        c.tick_all();
    }
    let campaigns =
        c.events.get(&NodeId(3)).map_or(0, |e| e.iter().filter(|e| matches!(e, Event::ElectionStarted { .. })).count());
    assert_eq!((campaigns, c.node(3).role(), c.node(3).term()), (0, Role::Follower, Term(1)));
}

#[test]
fn restart_restores_membership_from_log_entries() {
    let s = store_with_log(&[1, 2, 3], 1, &[noop(1, 1)]);
    let change = Entry::new(Term(1), LogIndex(2), EntryPayload::Membership(membership(&[1, 2, 3, 4])));
    s.wl().append(&[change]);
    let n = RaftNode::new(config(1), s).unwrap();
    assert_eq!(n.status().membership, membership(&[1, 2, 3, 4]));
    assert_eq!(n.status().term, Term(1));
}

#[test]
fn restart_keeps_term_vote_and_commit() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.node(1).propose(b"x".to_vec()).unwrap();
    c.stabilize();
    let store = c.node(1).storage().deep_clone();
    let n = RaftNode::new(config(1), store).unwrap();
    let st = n.status();
    assert_eq!((st.term, st.vote, st.commit, st.role), (Term(1), Some(NodeId(1)), LogIndex(2), Role::Follower));
}

#[test]
fn committed_entries_are_handed_out_in_bounded_batches() {
    let mut cfg = config(2);
    cfg.max_entry_bytes = 64;
    cfg.max_apply_bytes = 2 * normal(1, 1, b"x").size_bytes();
    let mut n = node_with(cfg, &[1, 2, 3]);
    let entries: Vec<Entry> = (1..=5).map(|i| normal(1, i, b"x")).collect();
    n.step(append(1, 2, 1, (0, 0), entries, 5)).unwrap();
    let sizes: Vec<usize> = (0..3).map(|_| handle_ready(&mut n).committed_entries.len()).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(n.status().applied, LogIndex(5));
}

// ---- Restart with an applied index (etcd Config.Applied) -------------------

fn store_committed_to_5() -> MemStorage {
    let entries: Vec<Entry> = (1..=5).map(|i| normal(1, i, b"x")).collect();
    let s = store_with_log(&[1, 2, 3], 1, &entries);
    s.wl().set_hard_state(HardState { term: Term(1), vote: None, commit: LogIndex(5) });
    s
}

#[test]
fn restart_with_applied_hands_out_only_later_entries() {
    let mut cfg = config(2);
    cfg.applied = LogIndex(3);
    let mut n = RaftNode::new(cfg, store_committed_to_5()).unwrap();
    assert_eq!(n.status().applied, LogIndex(3));
    let rd = handle_ready(&mut n);
    assert_eq!(rd.committed_entries, vec![normal(1, 4, b"x"), normal(1, 5, b"x")]);
    assert_eq!(n.status().applied, LogIndex(5));
}

#[test]
fn restart_without_applied_replays_from_the_snapshot_index() {
    let mut n = RaftNode::new(config(2), store_committed_to_5()).unwrap();
    let rd = handle_ready(&mut n);
    let indices: Vec<u64> = rd.committed_entries.iter().map(|e| e.index.0).collect();
    assert_eq!(indices, vec![1, 2, 3, 4, 5]);
}

#[test]
fn applied_outside_snapshot_and_commit_is_a_config_error() {
    let mut cfg = config(2);
    cfg.applied = LogIndex(6);
    let err = RaftNode::new(cfg.clone(), store_committed_to_5()).unwrap_err();
    let expected =
        crate::ConfigError::AppliedOutOfRange { applied: LogIndex(6), snapshot: LogIndex(0), commit: LogIndex(5) };
    assert_eq!(err, Error::Config(expected));
    let store = store_committed_to_5();
    let meta =
        crate::SnapshotMeta { last_log_id: LogId::new(Term(1), LogIndex(3)), membership: membership(&[1, 2, 3]) };
    store.wl().apply_snapshot(crate::Snapshot { meta, data: Vec::new() });
    cfg.applied = LogIndex(2);
    let err = RaftNode::new(cfg, store).unwrap_err();
    let expected =
        crate::ConfigError::AppliedOutOfRange { applied: LogIndex(2), snapshot: LogIndex(3), commit: LogIndex(5) };
    assert_eq!(err, Error::Config(expected));
}

#[test]
fn departing_peer_is_replicated_to_until_it_acknowledges_its_removal() {
    // thesis §4.2.2: while node 3 is unreachable the leader keeps it as a
    // (non-counting) replication target; a later leader, finding the
    // removal committed, does not pick it up again.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.isolated.insert(NodeId(3));
    c.node(1).propose_membership(membership(&[1, 2])).unwrap();
    c.stabilize();
    assert_eq!(c.node(1).status().commit, LogIndex(3), "joint and C_new committed without the departing node");
    assert!(c.node(1).status().progress.contains_key(&NodeId(3)));
    c.tick_all();
    assert!(c.node(1).status().progress.contains_key(&NodeId(3)), "still departing");
    assert_eq!(c.node(2).status().commit, LogIndex(3), "2 knows the removal committed");
    c.node(1).transfer_leader(NodeId(2)).unwrap();
    c.stabilize();
    assert_eq!(c.leader(), Some(NodeId(2)));
    let targets: Vec<NodeId> = c.node(2).status().progress.keys().copied().collect();
    assert_eq!(targets, ids(&[1, 2]), "itself and 1, not 3");
}

#[test]
fn a_voter_removed_by_an_uncommitted_entry_still_campaigns() {
    // thesis §4.2.2: "a server that is not part of its own latest
    // configuration should still start new elections, as it might still be
    // needed until the C_new entry is committed". Node 3 holds the entry
    // removing it, uncommitted; if it held the longest log and could not
    // campaign, nobody could be elected (sim seeds 5301006, 7400559).
    let removal = Entry::new(Term(1), LogIndex(2), EntryPayload::Membership(membership(&[1, 2])));
    let s = store_with_log(&[1, 2, 3], 1, &[noop(1, 1), removal]);
    let mut n = RaftNode::new(config(3), s.clone()).unwrap();
    n.campaign().unwrap();
    assert_eq!(n.role(), Role::PreCandidate);
    // Once the removal is committed it no longer campaigns.
    s.wl().set_hard_state(HardState { term: Term(1), vote: None, commit: LogIndex(2) });
    let mut n = RaftNode::new(config(3), s).unwrap();
    n.campaign().unwrap();
    assert_eq!(n.role(), Role::Follower);
}
