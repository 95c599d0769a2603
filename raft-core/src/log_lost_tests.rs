//! A follower that no longer holds entries it acknowledged, and the
//! `Status` fields that describe the node to a runtime or a simulator.
//!
//! Sim seed 13028606 (3 nodes): a follower rejected the leader's probe at
//! its match index. The leader may never move the match index back (it
//! counted those acknowledgements toward commitment, §5.4.2), so it
//! "backed up" to that same index and probed again, at once and forever.
//! Such rejections are now ignored in every progress state and reported as
//! `PeerProgress::log_lost`.

use crate::message::{AppendEntriesResponse, AppendResult, ConflictHint, MessageBody};
use crate::progress::ProgressState;
use crate::test_util::*;
use crate::types::{LogIndex, NodeId, Term};

/// Follower `from` says the append at `rejected` does not match: its log
/// ends at `follower_last`.
fn short_reject(from: u64, term: u64, rejected: u64, follower_last: u64) -> crate::Message {
    let hint = ConflictHint {
        rejected_index: LogIndex(rejected),
        conflict_term: None,
        first_index: LogIndex(follower_last + 1),
    };
    msg(
        from,
        1,
        term,
        MessageBody::AppendEntriesResponse(AppendEntriesResponse {
            result: AppendResult::Conflict(hint),
            read_round: 0,
        }),
    )
}

/// Leader 1 of {1, 2} whose follower 2 acknowledged 1..=3 and is now
/// probed (unreachable for a while), with entry 4 waiting for it.
fn leader_probing_a_follower_at_its_match() -> (Node, u64) {
    let mut n = node(1, &[1, 2]);
    elect_manually(&mut n, &[2]);
    let t = n.term().0;
    n.propose(b"a".to_vec()).unwrap();
    n.propose(b"b".to_vec()).unwrap();
    handle_ready(&mut n);
    n.step(ack(2, 1, t, 3)).unwrap();
    handle_ready(&mut n);
    assert_eq!(n.status().commit, LogIndex(3));
    n.report_unreachable(NodeId(2));
    n.propose(b"c".to_vec()).unwrap();
    let rd = handle_ready(&mut n);
    let probes = appends_to(&rd.messages, 2);
    assert_eq!(probes.len(), 1);
    assert_eq!((probes[0].prev_log_id.index, probes[0].entries.len()), (LogIndex(3), 1));
    (n, t)
}

#[test]
fn a_rejection_at_the_match_index_is_not_answered_with_the_same_probe() {
    let (mut n, t) = leader_probing_a_follower_at_its_match();
    // The follower's log ends at 0: it lost 1..=3, which it acknowledged.
    n.step(short_reject(2, t, 3, 0)).unwrap();
    let rd = handle_ready(&mut n);
    assert_eq!(appends_to(&rd.messages, 2), vec![], "the refused probe is not re-sent at once");
    let pr = n.status().progress[&NodeId(2)].clone();
    assert_eq!((pr.state, pr.matched, pr.next, pr.log_lost), (ProgressState::Probe, LogIndex(3), LogIndex(4), true));
    assert_eq!(n.status().commit, LogIndex(3), "what was committed stays committed");
}

/// Each rejection costs nothing more than the heartbeat that caused it: no
/// message storm however long the follower keeps refusing.
#[test]
fn a_follower_that_keeps_refusing_gets_one_message_per_heartbeat() {
    let (mut n, t) = leader_probing_a_follower_at_its_match();
    let mut sent = 0;
    for _ in 0..5 {
        n.tick();
        let rd = handle_ready(&mut n);
        let to_2 = appends_to(&rd.messages, 2);
        sent += to_2.len();
        for a in to_2 {
            n.step(short_reject(2, t, a.prev_log_id.index.0, 0)).unwrap();
        }
        let rd = handle_ready(&mut n);
        sent += appends_to(&rd.messages, 2).len();
    }
    assert_eq!(sent, 5, "one heartbeat per tick and nothing in reply to the rejections");
    assert!(n.status().progress[&NodeId(2)].log_lost);
}

#[test]
fn log_lost_clears_once_the_follower_acknowledges_more() {
    let (mut n, t) = leader_probing_a_follower_at_its_match();
    n.step(short_reject(2, t, 3, 0)).unwrap();
    n.step(ack(2, 1, t, 4)).unwrap();
    let pr = n.status().progress[&NodeId(2)].clone();
    assert_eq!((pr.matched, pr.log_lost), (LogIndex(4), false));
}

#[test]
fn status_reports_the_last_term_and_whether_the_node_campaigns() {
    let (n, t) = leader_probing_a_follower_at_its_match();
    let st = n.status();
    assert_eq!((st.last_term, st.last_index, st.promotable), (Term(t), LogIndex(4), true));
    let learner = node_with(config(3), &[1, 2]);
    let st = learner.status();
    assert_eq!((st.last_term, st.last_index, st.promotable), (Term(0), LogIndex(0), false), "3 is not a voter");
    let joining = crate::RaftNode::new(config(4), crate::MemStorage::new_with_membership(Default::default())).unwrap();
    assert!(!joining.status().promotable, "a node that knows no configuration never campaigns");
}
