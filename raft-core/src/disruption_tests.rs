//! Disruptive candidates without PreVote or CheckQuorum (thesis §4.2.3,
//! §5.2): a server outside the configuration must not depose a live leader,
//! and a node that cannot win must not keep pre-empting the one that can.
//! Each test comes from a simulator seed that failed its liveness check.

use crate::message::{MessageBody, RequestVote, RequestVoteResponse};
use crate::test_util::*;
use crate::types::{LogId, LogIndex, Role, Term};

fn rv(last: (u64, u64)) -> MessageBody {
    MessageBody::RequestVote(RequestVote {
        pre_vote: false,
        last_log_id: LogId::new(Term(last.0), LogIndex(last.1)),
        leader_transfer: false,
    })
}

fn plain_raft(id: u64) -> crate::Config {
    let mut cfg = config(id);
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    cfg
}

/// Thesis §4.2.3: "if a server receives a RequestVote request within the
/// minimum election timeout of hearing from a current leader, it does not
/// update its term or grant its vote". Applied to candidates outside the
/// configuration even without CheckQuorum (sim seed 8012549, 5 nodes: a
/// removed server that never learned of its removal deposed every leader).
/// Members' requests still raise the term without CheckQuorum (etcd).
#[test]
fn a_candidate_outside_the_configuration_cannot_depose_a_live_leader_without_check_quorum() {
    let mut c = Cluster::with_config(&[1, 2, 3], plain_raft);
    c.elect(1);
    let last = c.node(2).status().last_index.0;
    for id in [1, 2] {
        c.node(id).step(msg(4, id, 5, rv((1, last)))).unwrap();
        assert_eq!(c.node(id).term(), Term(1), "node {id} ignored the stranger");
        let rd = c.node(id).ready().unwrap();
        assert!(rd.messages.is_empty() && rd.persisted_messages.is_empty(), "not even rejected");
    }
    assert_eq!(c.node(1).role(), Role::Leader);
    c.node(2).step(msg(3, 2, 5, rv((1, last)))).unwrap();
    assert_eq!(c.node(2).term(), Term(5), "a member's request still moves the term without CheckQuorum");
}

/// §5.2 relies on the candidate that can win timing out first. A node that
/// campaigned in this term cannot vote for a more up-to-date candidate of
/// the same term, so it restarts its election timer as a vote would
/// (Figure 2) and lets that candidate go first next time, in a higher
/// term (sim seed 5028283, 3 nodes, no PreVote: a far-behind voter kept
/// campaigning first, in terms the only electable node learned too late).
#[test]
fn a_node_that_voted_for_itself_restarts_its_timer_for_a_more_up_to_date_candidate() {
    let store = store_with_log(&[1, 2, 3], 1, &[noop(1, 1)]);
    let mut n = crate::node::RaftNode::new(plain_raft(1), store).unwrap();
    n.campaign().unwrap();
    assert_eq!((n.role(), n.term()), (Role::Candidate, Term(2)));
    for _ in 0..3 {
        n.tick();
    }
    n.step(msg(3, 1, 2, rv((0, 0)))).unwrap();
    assert_eq!(n.election_elapsed, 3, "a less up-to-date candidate changes nothing");
    n.step(msg(2, 1, 2, rv((1, 1)))).unwrap();
    assert_eq!(n.election_elapsed, 0, "an up-to-date candidate gets a head start");
    let rd = n.ready().unwrap();
    let refusal = MessageBody::RequestVoteResponse(RequestVoteResponse {
        pre_vote: false,
        granted: false,
        retry_next_term: false,
    });
    let answers: Vec<_> = rd
        .messages
        .iter()
        .chain(&rd.persisted_messages)
        .filter(|m| m.to.0 == 2 && matches!(m.body, MessageBody::RequestVoteResponse(_)))
        .collect();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].body, refusal, "the vote stays with ourselves (§5.2: one vote per term)");
}
