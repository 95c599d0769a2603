//! ReadIndex bookkeeping (§6.4): reads wait for a round of heartbeats,
//! sent after they arrived, to be acknowledged by a quorum, which proves the
//! leader was still the leader when the read arrived.
//!
//! Rounds are numbered. Every read registered since the last broadcast
//! shares the next round number, so a burst of reads costs one heartbeat
//! round, not one per read.

use std::collections::VecDeque;

use crate::ready::ReadState;
use crate::types::LogIndex;

/// One read waiting for its confirmation round.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRead {
    ctx: u64,
    index: LogIndex,
    round: u64,
}

/// The leader's pending reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOnly {
    /// Reads that arrived before the leader committed an entry of its term;
    /// their read index is not known yet.
    deferred: Vec<u64>,
    /// Reads waiting for their round. Invariant: rounds non-decreasing.
    pending: VecDeque<PendingRead>,
    /// The round carried by the latest heartbeats/appends.
    round: u64,
    /// Reads were registered for `round + 1`: a broadcast is due.
    broadcast_due: bool,
}

impl ReadOnly {
    /// The round that outgoing appends currently carry.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// Number of reads not yet released.
    pub fn len(&self) -> usize {
        self.deferred.len() + self.pending.len()
    }

    /// True when no read waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parks a read until the leader commits an entry of its term.
    pub fn defer(&mut self, ctx: u64) {
        self.deferred.push(ctx);
    }

    /// Takes the parked reads.
    pub fn take_deferred(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.deferred)
    }

    /// Registers a read at commit index `index`, confirmed by the next round.
    pub fn add(&mut self, ctx: u64, index: LogIndex) {
        self.pending.push_back(PendingRead { ctx, index, round: self.round + 1 });
        self.broadcast_due = true;
    }

    /// If reads wait for a new round, starts it and returns its number.
    pub fn start_round(&mut self) -> Option<u64> {
        if !self.broadcast_due {
            return None;
        }
        self.broadcast_due = false;
        self.round += 1;
        Some(self.round)
    }

    /// True if a new round must be broadcast.
    pub fn broadcast_due(&self) -> bool {
        self.broadcast_due
    }

    /// A quorum acknowledged rounds up to `acked`: releases those reads.
    pub fn confirm(&mut self, acked: u64) -> Vec<ReadState> {
        let mut out = Vec::new();
        while self.pending.front().is_some_and(|r| r.round <= acked && r.round <= self.round) {
            let r = self.pending.pop_front().expect("front was just checked");
            out.push(ReadState { ctx: r.ctx, index: r.index });
        }
        out
    }

    /// Drops every read (leadership lost; the runtime times them out).
    pub fn clear(&mut self) -> usize {
        let n = self.len();
        self.deferred.clear();
        self.pending.clear();
        self.broadcast_due = false;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_share_a_round_and_release_in_order() {
        // §6.4: a read is served after a quorum confirms leadership.
        let mut ro = ReadOnly::default();
        ro.add(1, LogIndex(5));
        ro.add(2, LogIndex(6));
        assert_eq!(ro.start_round(), Some(1));
        assert_eq!(ro.start_round(), None);
        assert!(ro.confirm(0).is_empty());
        let out = ro.confirm(1);
        assert_eq!(out, vec![ReadState { ctx: 1, index: LogIndex(5) }, ReadState { ctx: 2, index: LogIndex(6) }]);
    }

    #[test]
    fn ack_of_an_older_round_does_not_confirm_a_newer_read() {
        let mut ro = ReadOnly::default();
        ro.add(1, LogIndex(1));
        ro.start_round();
        ro.add(2, LogIndex(2));
        assert_eq!(ro.confirm(1).len(), 1);
        assert!(ro.confirm(1).is_empty(), "round 2 not yet acknowledged");
        ro.start_round();
        assert_eq!(ro.confirm(2), vec![ReadState { ctx: 2, index: LogIndex(2) }]);
    }
}
