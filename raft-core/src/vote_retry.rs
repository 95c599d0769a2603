//! Retry hints for refused votes: keeps the one candidate that can win from
//! trailing, term after term, behind candidates that cannot.
//!
//! §5.2 relies on randomized timeouts for liveness: sooner or later the
//! candidate that can win times out first. Without PreVote that can fail for
//! a long time when the servers that cannot win do not know the one that can:
//! a voter with a stale configuration (it lags behind the entry that added
//! the candidate, thesis §4.1) never sends it a RequestVote, so the candidate
//! learns each new term only from a refusal, campaigns one term behind, and
//! finds the vote it needs already given to a candidate with a worse log
//! (simulator seeds 27024179 and 27043061, 7 nodes: for 200 ticks the
//! electable node asked in terms its voter had voted in a few ticks before).
//!
//! So a voter that refuses a real vote tells the candidate when it would
//! grant it in the next term above its own: it has no leader, the
//! candidate's log is at least as up-to-date as its own (§5.4.1), and its
//! vote in its term is either free or went to a strictly less up-to-date log.
//! The candidate then campaigns again at once instead of waiting out its
//! timer. Safety does not depend on when elections start (§5.2, §5.4), only
//! on one vote per term and the log check, which are unchanged. Each hinted
//! retry goes to a candidate whose log beats the one the voter chose, so
//! hints cannot bounce between two candidates with equal logs (a plain split
//! vote gets no hint), and a voter that follows a leader never gives one.
//!
//! A candidate that gives a hint withdraws from its own election (it stays
//! in its term with its vote, as a follower): the hinted candidate is about
//! to campaign in the next term, so winning this one would only make a
//! leader that is deposed a tick later, before it can bring the other
//! up to date (sim seed 23016167, 3 nodes: the hinted candidate could not
//! win, its joint configuration needed a crashed server, and it overturned
//! the one leader that could repair it, the last chance of the window).

use crate::message::{RequestVote, RequestVoteResponse};
use crate::node::RaftNode;
use crate::storage::Storage;
use crate::types::{NodeId, Role};

impl<S: Storage> RaftNode<S> {
    /// Voter side: should a refusal of `rv` carry `retry_next_term`?
    /// `eligible` is "the candidate's log is at least as up-to-date as ours
    /// and we know our configuration", i.e. nothing but the term or a vote
    /// already given stands in the way.
    pub(crate) fn retry_hint(&self, rv: &RequestVote, eligible: bool) -> bool {
        if rv.pre_vote || !eligible || self.role == Role::Leader || self.leader.is_some() {
            return false;
        }
        match (self.vote, self.vote_log) {
            (None, _) => true,
            (Some(_), Some(chosen)) => rv.last_log_id > chosen,
            // A vote restored from disk: whose log it went to is unknown.
            (Some(_), None) => false,
        }
    }

    /// Voter side, acting: the hint for a refusal of `rv`, and if we give
    /// one while campaigning ourselves, we withdraw (module doc).
    pub(crate) fn give_retry_hint(&mut self, rv: &RequestVote, eligible: bool) -> bool {
        let hint = self.retry_hint(rv, eligible);
        if hint && self.role == Role::Candidate {
            tracing::debug!(node = self.id().0, term = self.term.0, "retry hint given: withdrawing from this election");
            self.become_follower(self.term, None);
        }
        hint
    }

    /// Candidate side: acts on a refusal that carries a retry hint from a
    /// voter of our configuration by campaigning again now. The caller has
    /// checked that the answer is to our current candidacy (same term) or
    /// came from above it (we have just stepped down to the voter's term).
    /// Returns true if an election was started.
    pub(crate) fn take_retry_hint(&mut self, from: NodeId, r: &RequestVoteResponse) -> bool {
        if r.pre_vote || r.granted || !r.retry_next_term {
            return false;
        }
        if !self.config().is_voter(from) || !self.promotable() {
            return false;
        }
        tracing::debug!(node = self.id().0, term = self.term.0, from = from.0, "retry hint: campaigning again now");
        self.start_election();
        true
    }
}
