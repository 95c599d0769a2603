//! Leader election (§5.2) with pre-vote (thesis §9.6), CheckQuorum
//! (thesis §6.2) and the role transitions.

use crate::error::Error;
use crate::message::{MessageBody, RequestVote, RequestVoteResponse};
use crate::node::RaftNode;
use crate::progress::Progress;
use crate::quorum::{joint_has_quorum, joint_vote_result, VoteResult};
use crate::ready::Event;
use crate::storage::Storage;
use crate::types::{EntryPayload, NodeId, Role, Term};

impl<S: Storage> RaftNode<S> {
    /// Advances logical time by one tick: election timeout for followers
    /// and candidates, heartbeats and CheckQuorum for leaders.
    pub fn tick(&mut self) {
        if self.role == Role::Leader {
            self.tick_leader();
        } else {
            self.election_elapsed += 1;
            if self.promotable() && self.election_elapsed >= self.randomized_timeout {
                tracing::debug!(node = self.id().0, term = self.term.0, "election timeout");
                self.start_election();
            }
        }
    }

    /// Starts an election now (pre-vote first when enabled). A no-op on a
    /// leader or on a node that is not a voter.
    pub fn campaign(&mut self) -> Result<(), Error> {
        if self.role == Role::Leader {
            return Ok(());
        }
        if !self.promotable() {
            tracing::debug!(node = self.id().0, term = self.term.0, "not a voter: campaign ignored");
            return Ok(());
        }
        self.start_election();
        Ok(())
    }

    pub(crate) fn start_election(&mut self) {
        if self.term_exhausted() {
            return;
        }
        if self.cfg.pre_vote {
            self.become_pre_candidate();
        } else {
            self.become_candidate(false);
        }
    }

    /// True (with an error event) if no term is left to campaign in; peers
    /// cannot push us there (terms of `u64::MAX` are refused at intake),
    /// but elections from `u64::MAX - 1` could.
    fn term_exhausted(&self) -> bool {
        let exhausted = self.term.checked_next().is_none();
        if exhausted {
            tracing::error!(node = self.id().0, term = self.term.0, "term space exhausted: not campaigning");
        }
        exhausted
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if let Some(mut t) = self.transfer {
            t.elapsed += 1;
            self.transfer = Some(t);
            if t.elapsed >= self.cfg.election_ticks {
                // thesis §3.10: abort if the transfer does not complete
                // within an election timeout.
                tracing::info!(node = self.id().0, term = self.term.0, to = t.to.0, "leader transfer aborted");
                self.transfer = None;
            }
        }
        if self.election_elapsed >= self.cfg.election_ticks {
            self.election_elapsed = 0;
            if self.cfg.check_quorum && !self.check_quorum_active() {
                tracing::warn!(node = self.id().0, term = self.term.0, "lost contact with a quorum: stepping down");
                self.events.push(Event::LostQuorum { term: self.term });
                self.become_follower(self.term, None);
                return;
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.tick_heartbeat();
        }
    }

    /// CheckQuorum (thesis §6.2): did a majority answer since the last check?
    /// Resets the activity flags for the next period.
    fn check_quorum_active(&mut self) -> bool {
        let me = self.id();
        let ok =
            joint_has_quorum(self.config(), |id| id == me || self.progress.get(&id).is_some_and(|p| p.recent_active));
        for pr in self.progress.values_mut() {
            pr.recent_active = false;
        }
        ok
    }

    fn become_pre_candidate(&mut self) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.reset_timers();
        self.votes.clear();
        self.votes.insert(self.id(), true);
        let term = self.term.next();
        tracing::info!(node = self.id().0, term = self.term.0, "pre-vote round started");
        self.events.push(Event::ElectionStarted { term, pre_vote: true });
        if joint_vote_result(self.config(), &self.votes) == VoteResult::Won {
            self.become_candidate(false);
            return;
        }
        self.request_votes(true, false);
    }

    /// Raises the term and asks for votes; `leader_transfer` marks an
    /// election triggered by TimeoutNow.
    pub(crate) fn become_candidate(&mut self, leader_transfer: bool) {
        self.term = self.term.next();
        self.vote = Some(self.id());
        self.vote_log = self.log.last_log_id().ok();
        self.role = Role::Candidate;
        self.leader = None;
        self.reset_timers();
        self.votes.clear();
        self.votes.insert(self.id(), true);
        tracing::info!(node = self.id().0, term = self.term.0, leader_transfer, "election started");
        self.events.push(Event::ElectionStarted { term: self.term, pre_vote: false });
        if joint_vote_result(self.config(), &self.votes) == VoteResult::Won {
            self.become_leader();
            return;
        }
        self.request_votes(false, leader_transfer);
    }

    fn request_votes(&mut self, pre_vote: bool, leader_transfer: bool) {
        let Ok(last_log_id) = self.log.last_log_id() else {
            tracing::error!(node = self.id().0, term = self.term.0, "cannot read last log id; election abandoned");
            return;
        };
        let term = if pre_vote { self.term.next() } else { self.term };
        let me = self.id();
        // Both halves of a joint configuration vote (thesis §4.3).
        let config = self.config();
        let voters: Vec<NodeId> = config.members().filter(|&id| id != me && config.is_voter(id)).collect();
        for to in voters {
            let msg = crate::message::Message {
                from: me,
                to,
                term,
                body: MessageBody::RequestVote(RequestVote { pre_vote, last_log_id, leader_transfer }),
            };
            if pre_vote {
                self.msgs.push(msg);
            } else {
                // The candidate's own vote and term must be durable before it
                // solicits votes (§5.1: persist before sending RPCs).
                self.persisted_msgs.push(msg);
            }
        }
    }

    /// Steps down (or follows a new leader) in `term`.
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        let changed = self.role != Role::Follower || term != self.term;
        if term > self.term {
            self.term = term;
            self.vote = None;
            self.vote_log = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        // Figure 2: the election timer restarts on hearing from a leader or
        // granting a vote, not on merely learning a higher term. Otherwise a
        // stale candidate (without pre-vote) keeps resetting the timers of
        // the up-to-date nodes that alone can win, and elections livelock.
        if leader.is_some() {
            self.reset_timers();
        }
        self.heartbeat_elapsed = 0;
        self.progress.clear();
        self.votes.clear();
        self.transfer = None;
        self.uncommitted.clear();
        self.uncommitted_bytes = 0;
        let dropped = self.reads.clear();
        if dropped > 0 {
            tracing::debug!(node = self.id().0, term = self.term.0, dropped, "pending reads dropped on step-down");
        }
        if changed {
            tracing::info!(node = self.id().0, term = self.term.0, leader = ?leader, "became follower");
            self.events.push(Event::BecameFollower { term: self.term, leader });
        }
    }

    pub(crate) fn become_leader(&mut self) {
        assert_eq!(self.vote, Some(self.id()), "a leader must have voted for itself in its term");
        self.role = Role::Leader;
        self.leader = Some(self.id());
        self.reset_timers();
        self.transfer = None;
        self.progress.clear();
        let next = self.log.last_index().next();
        let me = self.id();
        for id in self.replication_targets() {
            self.progress.insert(id, Progress::new(next, self.cfg.max_inflight_msgs, self.cfg.max_inflight_bytes));
        }
        let votes: Vec<NodeId> = self.votes.iter().filter(|(_, g)| **g).map(|(id, _)| *id).collect();
        tracing::info!(node = me.0, term = self.term.0, ?votes, "became leader");
        self.events.push(Event::BecameLeader { term: self.term, votes });
        self.votes.clear();
        // §5.4.2 / §8: commit something of our own term to learn the commit
        // index and to commit earlier terms' entries.
        self.append_entry(EntryPayload::Noop);
    }

    /// Answers a (pre-)vote request. The candidate need not be in our
    /// configuration (thesis §4.1: ours may lag behind the entry that added
    /// it), but we must be a voter in it to grant.
    pub(crate) fn handle_vote_request(&mut self, from: NodeId, msg_term: Term, rv: RequestVote) -> Result<(), Error> {
        // §5.2: at most one vote per term; pre-votes for a later term are
        // free since they change nothing.
        let can_vote = self.vote == Some(from)
            || (self.vote.is_none() && self.leader.is_none())
            || (rv.pre_vote && msg_term > self.term);
        // §5.4.1: only for a log at least as up-to-date as ours.
        let up_to_date = rv.last_log_id >= self.log.last_log_id()?;
        // Whether we are a voter in our own configuration does not matter
        // (thesis §4.1; etcd's TestLearnerCanVote): a server added as a voter
        // counts in the candidate's configuration before the entry that
        // added it reaches its own log, and refusing would leave that
        // configuration without a quorum. A vote only counts where the
        // candidate's configuration lists us, so granting it is safe.
        // A node that never learned any configuration (started to join an
        // existing cluster, empty store) has no log worth protecting and no
        // idea whom it may vote for: granting could let a candidate with an
        // empty log win over committed entries. It votes once the leader's
        // log or snapshot has told it its configuration.
        let knows_config = !self.members.effective().voters.is_empty();
        let granted = can_vote && up_to_date && knows_config;
        tracing::debug!(
            node = self.id().0,
            term = self.term.0,
            from = from.0,
            pre_vote = rv.pre_vote,
            granted,
            can_vote,
            up_to_date,
            knows_config,
            "vote request"
        );
        let mut retry_next_term = false;
        let reply_term = if granted {
            if !rv.pre_vote {
                self.vote = Some(from);
                self.vote_log = Some(rv.last_log_id);
                self.election_elapsed = 0;
            }
            msg_term
        } else {
            self.yield_to_better_candidate(&rv, up_to_date);
            retry_next_term = self.give_retry_hint(&rv, up_to_date && knows_config);
            self.term
        };
        let body =
            MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote: rv.pre_vote, granted, retry_next_term });
        self.respond(from, reply_term, body);
        Ok(())
    }

    /// We campaigned in this term and so cannot vote for a candidate whose
    /// log is at least as up-to-date as ours (§5.4.1). We restart our
    /// election timer as if we had granted (Figure 2), so that it, not we,
    /// times out first next time, in a term above ours. Otherwise a node
    /// that cannot win (a far-behind voter with a stale configuration that
    /// does not list the candidate, so never tells it its term) can keep
    /// campaigning first, and the only node that can win keeps asking in
    /// the term the other already voted in (sim seed 5028283, 3 nodes,
    /// without PreVote).
    fn yield_to_better_candidate(&mut self, rv: &RequestVote, up_to_date: bool) {
        if up_to_date && !rv.pre_vote && self.role != Role::Leader && self.vote == Some(self.id()) {
            tracing::debug!(node = self.id().0, term = self.term.0, "more up-to-date candidate: timer restarted");
            self.election_elapsed = 0;
        }
    }

    pub(crate) fn handle_vote_response(
        &mut self,
        from: NodeId,
        msg_term: Term,
        r: RequestVoteResponse,
    ) -> Result<(), Error> {
        let relevant = match (self.role, r.pre_vote) {
            (Role::PreCandidate, true) => {
                Some(msg_term) == self.term.checked_next() || (!r.granted && msg_term == self.term)
            }
            (Role::Candidate, false) => msg_term == self.term,
            _ => false,
        };
        if !relevant || !self.config().is_voter(from) {
            tracing::debug!(node = self.id().0, term = self.term.0, from = from.0, "vote response ignored");
            return Ok(());
        }
        if self.take_retry_hint(from, &r) {
            return Ok(());
        }
        self.votes.insert(from, r.granted);
        match joint_vote_result(self.config(), &self.votes) {
            VoteResult::Won if r.pre_vote => self.become_candidate(false),
            VoteResult::Won => self.become_leader(),
            VoteResult::Lost => self.become_follower(self.term, None),
            VoteResult::Pending => {}
        }
        Ok(())
    }

    /// A peer answered our append with a higher `term` (it campaigned while
    /// cut off, typically while removed). A departing server's term is
    /// ignored: it is in no quorum of ours, and it would otherwise depose us
    /// while we tell it of its removal (thesis §4.2.3). A member's term
    /// (a voter's, or a learner's: a learner at a higher term rejects every
    /// append of ours and never catches up, sim seed 3500439 of core-sim)
    /// must be overtaken before it can follow anyone; if a quorum
    /// answered us in this CheckQuorum period we re-elect ourselves at once
    /// above it (skipping pre-vote and stickiness, as a transfer does,
    /// thesis §3.10) instead of leaving the cluster leaderless for an
    /// election timeout. Otherwise we step down (Figure 2).
    pub(crate) fn leader_sees_higher_term(&mut self, from: NodeId, term: Term) {
        let (me, my_term) = (self.id().0, self.term.0);
        if !self.members.effective().contains(from) {
            tracing::debug!(node = me, term = my_term, from = from.0, msg_term = term.0, "non-member's term ignored");
            return;
        }
        let live = self.cfg.check_quorum && self.quorum_recently_active();
        self.become_follower(term, None);
        if live && self.promotable() {
            tracing::info!(
                node = me,
                term = my_term,
                from = from.0,
                msg_term = term.0,
                "re-electing above a voter's term"
            );
            self.become_candidate(true);
        }
    }

    /// A quorum (counting us) answered in the current CheckQuorum period.
    fn quorum_recently_active(&self) -> bool {
        let me = self.id();
        joint_has_quorum(self.config(), |id| id == me || self.progress.get(&id).is_some_and(|p| p.recent_active))
    }

    pub(crate) fn handle_timeout_now(&mut self, from: NodeId) -> Result<(), Error> {
        if self.role == Role::Leader || self.leader != Some(from) || !self.promotable() || self.term_exhausted() {
            tracing::debug!(node = self.id().0, term = self.term.0, from = from.0, "TimeoutNow ignored");
            return Ok(());
        }
        tracing::info!(node = self.id().0, term = self.term.0, from = from.0, "TimeoutNow: campaigning at once");
        // thesis §3.10: skip pre-vote; voters skip the stickiness check.
        self.become_candidate(true);
        Ok(())
    }
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;
