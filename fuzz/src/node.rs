//! Two nodes of a 3-voter cluster for messages to step into: a follower
//! and a leader (elected with votes from 2 and 3), each driven through
//! `ready`/`advance` against `MemStorage` as a runtime would.

use raft_core::{
    Config, MemStorage, Membership, Message, MessageBody, NodeId, RaftNode, Ready, RequestVoteResponse, Role,
};

pub(crate) type Node = RaftNode<MemStorage>;

fn new_node(id: u64) -> Node {
    let voters = Membership::new([NodeId(1), NodeId(2), NodeId(3)]);
    RaftNode::new(Config::new(NodeId(id)), MemStorage::new_with_membership(voters)).expect("a valid node")
}

/// Node 1 as a follower in term 0.
pub(crate) fn follower() -> Node {
    new_node(1)
}

/// Node 1 as the leader, elected with grants from 2 and 3 (through a
/// pre-vote round first when the config has pre-vote on).
pub(crate) fn leader() -> Node {
    let mut n = new_node(1);
    n.campaign().expect("campaign");
    drive(&mut n);
    for _ in 0..2 {
        let status = n.status();
        let (pre_vote, term) = match status.role {
            Role::PreCandidate => (true, status.term.next()),
            Role::Candidate => (false, status.term),
            _ => break,
        };
        for from in [2, 3] {
            let body = MessageBody::RequestVoteResponse(RequestVoteResponse {
                pre_vote,
                granted: true,
                retry_next_term: false,
            });
            let _ = n.step(Message { from: NodeId(from), to: NodeId(1), term, body });
            drive(&mut n);
        }
    }
    n
}

/// Steps `msg` and handles every Ready that follows; storage errors are
/// acceptable answers, panics are not.
pub(crate) fn step(n: &mut Node, msg: Message) {
    if n.step(msg).is_ok() {
        drive(n);
    }
}

/// ready → persist → advance until nothing is left (bounded).
pub(crate) fn drive(n: &mut Node) {
    for _ in 0..8 {
        if !n.has_ready() {
            return;
        }
        let Ok(rd) = n.ready() else { return };
        persist(n.storage(), &rd);
        if n.advance(rd).is_err() {
            return;
        }
    }
}

fn persist(store: &MemStorage, rd: &Ready) {
    let mut core = store.wl();
    if let Some(s) = &rd.snapshot {
        core.apply_snapshot(s.clone());
    }
    core.append(&rd.entries);
    if let Some(hs) = rd.hard_state {
        core.set_hard_state(hs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_a_leader_and_the_follower_a_follower() {
        assert_eq!(leader().status().role, Role::Leader);
        assert_eq!(follower().status().role, Role::Follower);
    }
}
