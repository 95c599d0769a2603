//! Retry hints on refused votes (`vote_retry.rs`): who gives one, who acts on
//! one. The end-to-end cases are simulator seeds 27024179 and 27043061
//! (7 nodes, in `REGRESSION_SEEDS`), where without the hint the only
//! electable node trailed a stale-configuration candidate for 200 ticks.

use crate::message::{Message, MessageBody, RequestVote, RequestVoteResponse};
use crate::test_util::*;
use crate::types::{HardState, LogId, LogIndex, NodeId, Role, Term};

fn rv(pre_vote: bool, last: (u64, u64)) -> MessageBody {
    MessageBody::RequestVote(RequestVote {
        pre_vote,
        last_log_id: LogId::new(Term(last.0), LogIndex(last.1)),
        leader_transfer: false,
    })
}

fn refusal(retry_next_term: bool) -> MessageBody {
    MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote: false, granted: false, retry_next_term })
}

fn plain_raft(id: u64) -> crate::Config {
    let mut cfg = config(id);
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    cfg
}

/// Every vote response `n` sends next.
fn vote_answers(n: &mut Node) -> Vec<Message> {
    let rd = handle_ready(n);
    rd.messages
        .into_iter()
        .chain(rd.persisted_messages)
        .filter(|m| matches!(m.body, MessageBody::RequestVoteResponse(_)))
        .collect()
}

/// Node 2 (empty log) votes for node 3's empty log in term 5.
fn voted_for_an_empty_log() -> Node {
    let mut n = node_with(plain_raft(2), &[1, 2, 3]);
    n.step(msg(3, 2, 5, rv(false, (0, 0)))).unwrap();
    let granted = vote_answers(&mut n);
    assert!(matches!(granted[0].body, MessageBody::RequestVoteResponse(RequestVoteResponse { granted: true, .. })));
    n
}

#[test]
fn a_vote_taken_by_a_worse_log_is_refused_with_a_retry_hint() {
    // §5.2: one vote per term, so node 1 is refused in term 5; but node 2
    // would grant it in term 6 (§5.4.1: its log beats the one chosen).
    let mut n = voted_for_an_empty_log();
    n.step(msg(1, 2, 5, rv(false, (4, 9)))).unwrap();
    assert_eq!(vote_answers(&mut n), vec![msg(2, 1, 5, refusal(true))]);
    assert_eq!(n.status().vote, Some(NodeId(3)), "the vote itself is unchanged");
}

#[test]
fn a_split_vote_between_equal_logs_gets_no_hint() {
    // Hints only ever go to a strictly better log than the one chosen, so
    // two candidates with equal logs cannot hint each other up the terms.
    let mut n = voted_for_an_empty_log();
    n.step(msg(1, 2, 5, rv(false, (0, 0)))).unwrap();
    assert_eq!(vote_answers(&mut n), vec![msg(2, 1, 5, refusal(false))]);
}

#[test]
fn a_stale_candidate_is_hinted_above_our_term_unless_we_follow_a_leader() {
    // Figure 2: "reply false if term < currentTerm". Without a leader and
    // with our vote free, the candidate may campaign above our term at once.
    let mut n = node_with(plain_raft(2), &[1, 2, 3]);
    n.step(msg(3, 2, 5, refusal(false))).unwrap(); // any message: term 5, no vote, no leader
    let _ = handle_ready(&mut n);
    assert_eq!((n.term(), n.status().vote, n.status().leader), (Term(5), None, None));
    n.step(msg(1, 2, 3, rv(false, (0, 0)))).unwrap();
    assert_eq!(vote_answers(&mut n), vec![msg(2, 1, 5, refusal(true))]);
    // Once node 3 leads term 5, no hint: we would not grant without a timeout.
    n.step(append(3, 2, 5, (0, 0), vec![], 0)).unwrap();
    let _ = handle_ready(&mut n);
    n.step(msg(1, 2, 3, rv(false, (0, 0)))).unwrap();
    assert_eq!(vote_answers(&mut n), vec![msg(2, 1, 5, refusal(false))]);
}

#[test]
fn pre_vote_refusals_and_worse_logs_get_no_hint() {
    let mut n = voted_for_an_empty_log();
    // A pre-vote for term 5, where we already voted: refused, no hint.
    n.step(msg(1, 2, 5, rv(true, (4, 9)))).unwrap();
    let answers = vote_answers(&mut n);
    assert!(answers.iter().all(|m| matches!(
        m.body,
        MessageBody::RequestVoteResponse(RequestVoteResponse { granted: false, retry_next_term: false, .. })
    )));
    // A real candidate whose log is behind ours is refused on the log, no hint.
    let store = store_with_log(&[1, 2, 3], 5, &[noop(3, 1), noop(3, 2)]);
    let mut m = crate::RaftNode::new(plain_raft(2), store).unwrap();
    m.step(msg(1, 2, 5, rv(false, (2, 7)))).unwrap();
    assert_eq!(vote_answers(&mut m), vec![msg(2, 1, 5, refusal(false))]);
}

#[test]
fn a_vote_restored_from_disk_gives_no_hint() {
    // Whose log a restored vote went to is unknown: stay silent.
    let store = store_with_log(&[1, 2, 3], 5, &[]);
    store.wl().set_hard_state(HardState { term: Term(5), vote: Some(NodeId(3)), commit: LogIndex(0) });
    let mut n = crate::RaftNode::new(plain_raft(2), store).unwrap();
    n.step(msg(1, 2, 5, rv(false, (4, 9)))).unwrap();
    assert_eq!(vote_answers(&mut n), vec![msg(2, 1, 5, refusal(false))]);
}

/// Node 1 campaigns into term 1 (plain Raft) and flushes its requests.
fn candidate(cfg: crate::Config) -> Node {
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.campaign().unwrap();
    let _ = handle_ready(&mut n);
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(1)));
    n
}

fn vote_requests_sent(n: &mut Node) -> Vec<(NodeId, Term)> {
    let rd = handle_ready(n);
    rd.messages
        .iter()
        .chain(rd.persisted_messages.iter())
        .filter(|m| matches!(m.body, MessageBody::RequestVote(_)))
        .map(|m| (m.to, m.term))
        .collect()
}

#[test]
fn a_hinted_candidate_campaigns_in_the_next_term_at_once() {
    let mut n = candidate(plain_raft(1));
    n.step(msg(2, 1, 1, refusal(true))).unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(2)), "no timeout waited for");
    assert_eq!(vote_requests_sent(&mut n), vec![(NodeId(2), Term(2)), (NodeId(3), Term(2))]);
    // The same refusal without the hint only counts as a lost vote.
    let mut m = candidate(plain_raft(1));
    m.step(msg(2, 1, 1, refusal(false))).unwrap();
    assert_eq!((m.role(), m.term()), (Role::Candidate, Term(1)));
}

#[test]
fn a_hint_from_above_our_term_makes_us_campaign_above_it() {
    let mut n = candidate(plain_raft(1));
    n.step(msg(2, 1, 7, refusal(true))).unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(8)));
    // Without the hint we only step down to the voter's term (Figure 2).
    let mut m = candidate(plain_raft(1));
    m.step(msg(2, 1, 7, refusal(false))).unwrap();
    assert_eq!((m.role(), m.term()), (Role::Follower, Term(7)));
}

#[test]
fn with_pre_vote_a_hint_starts_a_pre_vote_round() {
    let mut cfg = plain_raft(1);
    cfg.pre_vote = true;
    let mut n = node_with(cfg, &[1, 2, 3]);
    n.campaign().unwrap();
    let _ = handle_ready(&mut n);
    let pre_grant =
        MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote: true, granted: true, retry_next_term: false });
    n.step(msg(2, 1, 1, pre_grant)).unwrap();
    let _ = handle_ready(&mut n);
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(1)));
    n.step(msg(2, 1, 1, refusal(true))).unwrap();
    assert_eq!((n.role(), n.term()), (Role::PreCandidate, Term(1)), "pre-vote first, thesis §9.6");
}

#[test]
fn hints_from_outside_our_configuration_are_ignored() {
    let mut n = candidate(plain_raft(1));
    n.step(msg(4, 1, 1, refusal(true))).unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(1)));
    // From above our term it is dropped like any non-member's answer.
    n.step(msg(4, 1, 3, refusal(true))).unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(1)));
}

#[test]
fn a_candidate_that_gives_a_hint_withdraws_and_cannot_win_that_term() {
    // Node 1 campaigns in term 1 with an empty log; node 2's request in the
    // same term carries a better log, so node 1 refuses it with a hint and
    // withdraws: a grant arriving afterwards must not make it leader, since
    // node 2 is about to campaign in term 2 and would depose it at once
    // (sim seed 23016167).
    let mut n = candidate(plain_raft(1));
    n.step(msg(2, 1, 1, rv(false, (1, 3)))).unwrap();
    assert_eq!(vote_answers(&mut n), vec![msg(1, 2, 1, refusal(true))]);
    assert_eq!((n.role(), n.term(), n.status().vote), (Role::Follower, Term(1), Some(NodeId(1))));
    let grant = MessageBody::RequestVoteResponse(RequestVoteResponse {
        pre_vote: false,
        granted: true,
        retry_next_term: false,
    });
    n.step(msg(3, 1, 1, grant)).unwrap();
    assert_eq!(n.role(), Role::Follower, "a late grant does not elect a withdrawn candidate");
    // Without a hint (an equal log asking) the candidacy stands.
    let mut m = candidate(plain_raft(1));
    m.step(msg(2, 1, 1, rv(false, (0, 0)))).unwrap();
    assert_eq!(vote_answers(&mut m), vec![msg(1, 2, 1, refusal(false))]);
    assert_eq!(m.role(), Role::Candidate);
}
