//! Whether a cluster can elect a leader at all, decided exactly from the
//! servers' states: the liveness phase may only require an election (and
//! so may only crash servers) while this holds.
//!
//! Why not "a majority of every configuration is up": that rule is
//! necessary but not sufficient. Sim seed 13028606 (3 nodes) met it and
//! still could not elect: the only servers with logs up-to-date enough
//! (§5.4.1) to win were a learner (which never campaigns) and a voter whose
//! configuration needed that learner's vote, while the third voter was too
//! far behind to be granted anything. Raft does not promise an election
//! there, so the simulator must not demand one.
//!
//! The rule, written independently of raft-core's own quorum code so that a
//! bug there cannot hide here: some server that campaigns (promotable,
//! [`raft_core::Status::promotable`]) and is reachable can win if, in its
//! own latest configuration (the one it tallies votes over, thesis §4.1),
//! every voter set in force (both halves of a joint configuration, thesis
//! §4.3) has a majority of reachable servers that would grant it a vote.
//! A server grants when the candidate's last log id is at least its own
//! (§5.4.1) and it knows some configuration (a server that never learned
//! one, a joining server, votes for nobody). Its own configuration does not
//! matter (thesis §4.1), nor does an earlier vote: terms move on.

use std::collections::BTreeSet;

use raft_core::{LogId, Membership, NodeId, Storage};

use super::cluster::Cluster;
use super::membership::stored_membership;

/// What electability needs to know about one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerView {
    /// The server.
    pub id: NodeId,
    /// Up and connected to the others.
    pub reachable: bool,
    /// It campaigns on an election timeout.
    pub promotable: bool,
    /// Its last log entry (durable or not: a live server persists it).
    pub last_log: LogId,
    /// Its effective configuration (latest in its log, thesis §4.1).
    pub membership: Membership,
}

impl ServerView {
    /// Whether this server would grant its vote to `candidate`.
    fn grants(&self, candidate: &ServerView) -> bool {
        self.reachable && !self.membership.voters.is_empty() && candidate.last_log >= self.last_log
    }
}

/// A majority of `voters` are in `granting` (an empty set needs nothing:
/// the outgoing half of a non-joint configuration).
fn majority(voters: &BTreeSet<NodeId>, granting: &BTreeSet<NodeId>) -> bool {
    voters.is_empty() || voters.intersection(granting).count() > voters.len() / 2
}

/// Whether `candidate` can win an election among `servers`.
pub fn can_win(candidate: &ServerView, servers: &[ServerView]) -> bool {
    if !candidate.reachable || !candidate.promotable {
        return false;
    }
    let granting: BTreeSet<NodeId> = servers.iter().filter(|s| s.grants(candidate)).map(|s| s.id).collect();
    let m = &candidate.membership;
    !m.voters.is_empty() && majority(&m.voters, &granting) && majority(&m.outgoing, &granting)
}

/// The servers that can win an election now, in id order; empty when the
/// cluster cannot elect until some server returns.
pub fn electable(servers: &[ServerView]) -> Vec<NodeId> {
    servers.iter().filter(|c| can_win(c, servers)).map(|c| c.id).collect()
}

/// Servers that cannot win but that every electable server would vote
/// for: without PreVote each of their campaigns restarts the electable
/// servers' timers (Figure 2: granting a vote), while nothing restarts
/// theirs (they grant nobody, their log is the best), so they keep
/// starting the next term first and deposing whoever was about to win.
/// Raft promises no bound there; PreVote (thesis §9.6, on by default) is
/// the remedy: a pre-vote that cannot win raises no term. Sim seed
/// 23016167 (3 nodes): n2's joint configuration needed the crashed n5,
/// and n2's log beat n1's, the only server that could win.
pub fn disruptors(servers: &[ServerView]) -> Vec<NodeId> {
    let winners: Vec<&ServerView> = servers.iter().filter(|c| can_win(c, servers)).collect();
    if winners.is_empty() {
        return Vec::new();
    }
    let disrupts =
        |d: &&ServerView| d.reachable && d.promotable && !can_win(d, servers) && winners.iter().all(|w| w.grants(d));
    servers.iter().filter(disrupts).map(|d| d.id).collect()
}

/// Whether the liveness phase may demand an election: someone can win and,
/// without PreVote, nobody that cannot win disrupts every such server.
pub fn must_elect(servers: &[ServerView], pre_vote: bool) -> bool {
    !electable(servers).is_empty() && (pre_vote || disruptors(servers).is_empty())
}

impl Cluster {
    /// Every server as electability sees it, counting those in `down` as
    /// crashed. A crashed server is described by its durable state (what it
    /// restarts with). Reachability is "up and attached to the network":
    /// meant for a healed network, where no partition cuts pairs apart.
    pub fn server_views(&self, down: &[NodeId]) -> Vec<ServerView> {
        let mut out = Vec::new();
        for (&id, h) in &self.hosts {
            let reachable = h.is_up() && self.is_connected(id) && !down.contains(&id);
            let view = match h.node.as_ref() {
                Some(n) => {
                    let st = n.status();
                    let last_log = LogId::new(st.last_term, st.last_index);
                    ServerView { id, reachable, promotable: st.promotable, last_log, membership: st.membership }
                }
                None => {
                    let last = h.storage.last_index().expect("MemStorage reads cannot fail");
                    let term = h.storage.term(last).expect("MemStorage reads cannot fail");
                    let membership = stored_membership(&h.storage);
                    // Down: it cannot campaign now, whatever it would do later.
                    ServerView { id, reachable, promotable: false, last_log: LogId::new(term, last), membership }
                }
            };
            out.push(view);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use raft_core::{LogIndex, Term};

    use super::*;

    fn ids(v: &[u64]) -> BTreeSet<NodeId> {
        v.iter().map(|&i| NodeId(i)).collect()
    }

    fn server(id: u64, last: (u64, u64), voters: &[u64]) -> ServerView {
        ServerView {
            id: NodeId(id),
            reachable: true,
            promotable: voters.contains(&id),
            last_log: LogId::new(Term(last.0), LogIndex(last.1)),
            membership: Membership::new(ids(voters)),
        }
    }

    #[test]
    fn a_healthy_cluster_elects_whoever_has_the_longest_log() {
        let s = vec![server(1, (2, 5), &[1, 2, 3]), server(2, (2, 4), &[1, 2, 3]), server(3, (1, 9), &[1, 2, 3])];
        // §5.4.1: term first, then index; 3's long log of term 1 is older.
        assert_eq!(electable(&s), vec![NodeId(1), NodeId(2)]);
    }

    #[test]
    fn without_pre_vote_a_server_that_cannot_win_but_gets_every_winners_vote_disrupts() {
        // Sim seed 23016167: n2 (best log) is in C_old,new with C_new = {2,5}
        // and n5 down; n1 can win with n3; n1 and n3 both grant n2.
        let mut s =
            vec![server(1, (7, 25), &[1, 2, 3]), server(2, (7, 28), &[1, 2, 3]), server(3, (6, 29), &[1, 2, 3])];
        s[1].membership.outgoing = s[1].membership.voters.clone();
        s[1].membership.voters = ids(&[2, 5]);
        let mut down = server(5, (7, 28), &[2, 5]);
        down.reachable = false;
        s.push(down);
        assert_eq!(electable(&s), vec![NodeId(1)]);
        assert_eq!(disruptors(&s), vec![NodeId(2)]);
        assert!(!must_elect(&s, false), "plain Raft: no bound while n2 disrupts");
        assert!(must_elect(&s, true), "PreVote: n2's pre-votes raise no term");
        // With n2's log behind n1's, n1 refuses it and campaigns in peace.
        s[1].last_log = LogId::new(Term(7), LogIndex(24));
        assert!(disruptors(&s).is_empty());
        assert!(must_elect(&s, false));
    }

    #[test]
    fn a_lone_up_to_date_server_needs_a_majority_behind_it() {
        let mut s = vec![server(1, (3, 7), &[1, 2, 3]), server(2, (3, 8), &[1, 2, 3]), server(3, (3, 9), &[1, 2, 3])];
        s[2].reachable = false;
        assert_eq!(electable(&s), vec![NodeId(2)], "2 has 1's vote; 1 has nobody's");
        s[1].reachable = false;
        assert!(electable(&s).is_empty(), "one of three is not a majority");
    }

    /// The state of sim seed 13028606 (3 nodes) with n1 down: n3's
    /// configuration {1,2,3,4} needs n4, whose log is newer; n4 is a
    /// learner; n2 is too far behind to win, and its configuration
    /// {1,2,3} also needs n3, whose log is newer than n2's.
    #[test]
    fn seed_13028606_is_not_electable_without_the_old_leader() {
        let mut s = vec![
            server(1, (4, 40), &[1, 2, 3, 4]),
            server(2, (2, 20), &[1, 2, 3]),
            server(3, (3, 30), &[1, 2, 3, 4]),
            server(4, (4, 35), &[1, 2, 3]),
        ];
        s[3].membership.learners.insert(NodeId(4));
        assert!(!s[3].promotable);
        assert_eq!(electable(&s), vec![NodeId(1)]);
        s[0].reachable = false;
        assert!(electable(&s).is_empty());
    }

    #[test]
    fn a_joint_configuration_needs_both_majorities() {
        // C_old = {1,2,3}, C_new = {3,4,5}; 1 holds the newest log.
        let mut joint = Membership::new(ids(&[3, 4, 5]));
        joint.outgoing = ids(&[1, 2, 3]);
        let mut s: Vec<ServerView> = (1..=5).map(|i| server(i, (5, 10), &[])).collect();
        for v in &mut s {
            v.membership = joint.clone();
            v.promotable = true;
        }
        s[0].last_log = LogId::new(Term(5), LogIndex(11));
        for down in [3, 4] {
            s[down].reachable = false;
        }
        // Granting 1: 1, 2, 3 (all at most as new). C_old has a majority,
        // C_new only {3} of {3,4,5}.
        assert!(!can_win(&s[0], &s));
        s[3].reachable = true;
        assert!(can_win(&s[0], &s), "with 4 back C_new has {{3,4}}");
    }

    #[test]
    fn servers_that_know_no_configuration_grant_nothing() {
        let mut s = vec![server(1, (1, 3), &[1, 2, 3]), server(2, (0, 0), &[]), server(3, (0, 0), &[])];
        assert!(electable(&s).is_empty(), "two joining servers are no majority for 1");
        s[1].membership = Membership::new(ids(&[1, 2, 3]));
        assert_eq!(electable(&s), vec![NodeId(1)]);
    }

    #[test]
    fn a_voter_grants_to_a_candidate_outside_its_configuration() {
        // Thesis §4.1: 4 was added; 2 has not heard of it yet but votes.
        let mut s = vec![server(1, (1, 5), &[1, 2, 3]), server(2, (1, 5), &[1, 2, 3]), server(4, (2, 6), &[1, 2, 4])];
        s[0].reachable = false;
        assert_eq!(electable(&s), vec![NodeId(4)]);
    }

    #[test]
    fn unreachable_or_non_promotable_servers_never_win() {
        let mut s = vec![server(1, (9, 9), &[1, 2, 3]), server(2, (1, 1), &[1, 2, 3]), server(3, (1, 1), &[1, 2, 3])];
        s[0].promotable = false;
        assert_eq!(electable(&s), vec![NodeId(2), NodeId(3)]);
        s[0].promotable = true;
        s[0].reachable = false;
        assert_eq!(electable(&s), vec![NodeId(2), NodeId(3)], "1's newer log does not count while it is away");
    }
}
