//! Message intake: sanity checks on whatever a peer sends, the term rules
//! of Figure 2 ("if RPC request or response contains term T > currentTerm:
//! set currentTerm = T, convert to follower"), the pre-vote and
//! leader-stickiness exceptions to them (thesis §9.6), and dispatch to the
//! role-specific handlers.

use crate::error::Error;
use crate::message::{AppendEntriesResponse, AppendResult, ConflictHint, Message, MessageBody, RequestVoteResponse};
use crate::node::RaftNode;
use crate::storage::Storage;
use crate::types::Role;

impl<S: Storage> RaftNode<S> {
    /// Feeds a message from a peer. Malformed, misaddressed or stale input
    /// is ignored with a tracing event and `Ok(())`; only a storage failure
    /// is an error.
    pub fn step(&mut self, msg: Message) -> Result<(), Error> {
        if !self.accept(&msg) {
            return Ok(());
        }
        if msg.term > self.term {
            if !self.step_higher_term(&msg) {
                return Ok(());
            }
        } else if msg.term < self.term {
            self.step_lower_term(msg);
            return Ok(());
        }
        let from = msg.from;
        let term = msg.term;
        match msg.body {
            MessageBody::RequestVote(rv) => self.handle_vote_request(from, term, rv),
            MessageBody::RequestVoteResponse(r) => self.handle_vote_response(from, term, r),
            MessageBody::AppendEntries(ae) => {
                if self.follow(from) {
                    self.handle_append(from, ae)?;
                }
                Ok(())
            }
            MessageBody::InstallSnapshot(is) => {
                if self.follow(from) {
                    self.handle_snapshot(from, term, is)?;
                }
                Ok(())
            }
            MessageBody::AppendEntriesResponse(r) => self.handle_append_response(from, r),
            MessageBody::InstallSnapshotResponse(r) => self.handle_snapshot_response(from, r),
            MessageBody::TimeoutNow => self.handle_timeout_now(from),
        }
    }

    /// Rejects messages not meant for us or from strangers.
    fn accept(&self, msg: &Message) -> bool {
        let me = self.id();
        let reason = if msg.to != me {
            "addressed to another node"
        } else if msg.from == me || msg.from.0 == 0 {
            "invalid sender"
        } else if msg.term.0 == 0 {
            // Every real message is sent in term >= 1 (terms start at 1).
            "term 0"
        } else if msg.term.checked_next().is_none() {
            // Adopting it would leave no term to campaign in.
            "term out of range"
        } else if !self.members.effective().contains(msg.from)
            && !self.progress.contains_key(&msg.from)
            && !self.accept_stranger(msg)
        {
            "sender is not a member"
        } else {
            return true;
        };
        tracing::debug!(
            node = me.0,
            term = self.term.0,
            from = msg.from.0,
            to = msg.to.0,
            kind = msg.kind(),
            reason,
            "message ignored"
        );
        false
    }

    /// A node that does not know the sender yet (it was just added, or its
    /// membership is empty) still accepts the log from a current leader,
    /// and answers its (pre-)vote requests: thesis §4.1, a server grants
    /// votes to candidates outside its configuration, since its own copy of
    /// the entry that added them may simply lag. Disruption by removed
    /// servers is held off by pre-vote and leader stickiness (§4.2.3).
    fn accept_stranger(&self, msg: &Message) -> bool {
        let from_leader = matches!(msg.body, MessageBody::AppendEntries(_) | MessageBody::InstallSnapshot(_));
        let vote_request = matches!(msg.body, MessageBody::RequestVote(_));
        // Stale appends and vote requests from strangers are let through
        // too: they only get our term back (`step_lower_term`), which a
        // leader or candidate outside our configuration needs in order to
        // move up; dropping them left it behind for good (sim seeds
        // 3202831, 5204145 and 3502487 of core-sim).
        from_leader || vote_request
    }

    /// Handles `msg.term > self.term`. Returns false if the message must
    /// not be processed further.
    fn step_higher_term(&mut self, msg: &Message) -> bool {
        match &msg.body {
            MessageBody::RequestVote(rv) => {
                // Leader stickiness (thesis §9.6): while we hear from a live
                // leader, a disruptive candidate is ignored. A transfer
                // election is explicitly allowed. Pre-votes are refused
                // whether or not CheckQuorum is on: pre-vote's whole point is
                // that a node back from a partition cannot raise the term
                // of a cluster whose leader is live. Nor may a candidate
                // outside our configuration, e.g. a removed server that never
                // learned of its removal (thesis §4.2.3, without CheckQuorum
                // or PreVote: sim seed 8012549, 5 nodes, where one deposed
                // every leader of a healed cluster for 200 ticks).
                let stranger = !self.members.effective().contains(msg.from);
                let sticky = self.cfg.check_quorum || rv.pre_vote || stranger;
                let in_lease = sticky && self.leader.is_some() && self.election_elapsed < self.cfg.election_ticks;
                if in_lease && !rv.leader_transfer {
                    tracing::debug!(
                        node = self.id().0,
                        term = self.term.0,
                        from = msg.from.0,
                        msg_term = msg.term.0,
                        pre_vote = rv.pre_vote,
                        "vote request ignored: leader lease"
                    );
                    return false;
                }
                if !rv.pre_vote {
                    self.become_follower(msg.term, None);
                }
                true
            }
            MessageBody::RequestVoteResponse(r) if r.pre_vote && r.granted => true,
            MessageBody::AppendEntriesResponse(_) | MessageBody::InstallSnapshotResponse(_)
                if self.role == Role::Leader =>
            {
                self.leader_sees_higher_term(msg.from, msg.term);
                false
            }
            MessageBody::AppendEntries(_) | MessageBody::InstallSnapshot(_) | MessageBody::TimeoutNow => {
                self.become_follower(msg.term, Some(msg.from));
                true
            }
            MessageBody::RequestVoteResponse(r) => {
                // A refusal from above our term; with a retry hint we
                // campaign again at once above it (`vote_retry.rs`).
                let retry = self.role == Role::Candidate;
                self.become_follower(msg.term, None);
                if retry {
                    self.take_retry_hint(msg.from, r);
                }
                false
            }
            _ => {
                self.become_follower(msg.term, None);
                false
            }
        }
    }

    /// Handles `msg.term < self.term`.
    fn step_lower_term(&mut self, msg: Message) {
        match msg.body {
            MessageBody::AppendEntries(ae) => {
                // A stale leader (e.g. back from a partition) would otherwise
                // never learn the new term: with pre-vote nobody raises its
                // term by campaigning against it (thesis §9.6), and a node
                // that may not campaign, or whose configuration no longer
                // lists the leader, never sends it a vote request either; so
                // tell it, whatever PreVote and CheckQuorum say (sim seeds
                // 7301408 and 4000053 of core-sim: a follower stuck above a
                // leader that kept appending below its term).
                let hint = ConflictHint {
                    rejected_index: ae.prev_log_id.index,
                    conflict_term: None,
                    first_index: self.log.last_index().next(),
                };
                let body = MessageBody::AppendEntriesResponse(AppendEntriesResponse {
                    result: AppendResult::Conflict(hint),
                    read_round: ae.read_round,
                });
                self.send(msg.from, body);
            }
            MessageBody::RequestVote(rv) => {
                // Figure 2: "reply false if term < currentTerm", with our
                // term, so a stale candidate moves up. Ignoring real vote
                // requests left a candidate outside the others'
                // configurations (nobody else sends it anything) campaigning
                // below their term for good (sim seed 3502487 of core-sim).
                // A retry hint if we would grant it above our term, so that
                // it does not trail our term for good (`vote_retry.rs`).
                let up_to_date = self.log.last_log_id().is_ok_and(|last| rv.last_log_id >= last);
                let knows_config = !self.members.effective().voters.is_empty();
                let retry_next_term = self.give_retry_hint(&rv, up_to_date && knows_config);
                let body = MessageBody::RequestVoteResponse(RequestVoteResponse {
                    pre_vote: rv.pre_vote,
                    granted: false,
                    retry_next_term,
                });
                self.send(msg.from, body);
            }
            _ => {
                tracing::debug!(
                    node = self.id().0,
                    term = self.term.0,
                    from = msg.from.0,
                    msg_term = msg.term.0,
                    kind = msg.kind(),
                    "stale message ignored"
                );
            }
        }
    }

    /// Same-term AppendEntries/InstallSnapshot: the sender is the leader of
    /// this term. Returns false if we cannot follow it.
    fn follow(&mut self, from: crate::types::NodeId) -> bool {
        match self.role {
            Role::Leader => {
                tracing::error!(
                    node = self.id().0,
                    term = self.term.0,
                    from = from.0,
                    "another leader in the same term: message ignored (election safety violated by a peer)"
                );
                false
            }
            Role::Candidate | Role::PreCandidate => {
                self.become_follower(self.term, Some(from));
                true
            }
            Role::Follower => match self.leader {
                None => {
                    self.leader = Some(from);
                    true
                }
                Some(l) if l == from => true,
                Some(l) => {
                    tracing::error!(
                        node = self.id().0,
                        term = self.term.0,
                        from = from.0,
                        leader = l.0,
                        "append from a second leader in the same term ignored"
                    );
                    false
                }
            },
        }
    }
}

#[cfg(test)]
#[path = "step_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "disruption_tests.rs"]
mod disruption_tests;
