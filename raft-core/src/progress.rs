//! What a leader knows about one follower's log (Figure 2 `nextIndex` /
//! `matchIndex`, plus etcd's flow-control states).
//!
//! - **Probe**: the leader does not know where the follower's log diverges;
//!   it sends one append at a time and waits for the answer (§5.3).
//! - **Replicate**: the follower is known to match up to `matched`; appends
//!   are pipelined optimistically within the [`Inflights`] window.
//! - **Snapshot**: the entries the follower needs are compacted away; an
//!   InstallSnapshot is in flight and nothing else is sent until it is done.

#[cfg(feature = "codec")]
use serde::{Deserialize, Serialize};

use crate::inflights::Inflights;
use crate::types::LogIndex;

/// The flow-control state of a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "codec", derive(Serialize, Deserialize))]
pub enum ProgressState {
    /// One probe append at a time until the match point is found.
    Probe,
    /// Pipelined appends.
    Replicate,
    /// An InstallSnapshot is in flight.
    Snapshot,
}

/// The leader's view of one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Highest index known to match the leader's log. Never decreases.
    pub matched: LogIndex,
    /// Next index to send. Invariant: `matched < next`.
    pub next: LogIndex,
    /// Flow-control state.
    pub state: ProgressState,
    /// In the Snapshot state: index of the snapshot being sent.
    pub pending_snapshot: LogIndex,
    /// In the Probe state: a probe is outstanding, so no other is sent.
    pub probe_sent: bool,
    /// Heard from since the last CheckQuorum round (thesis §6.2).
    pub recent_active: bool,
    /// Highest ReadIndex round the member acknowledged (§6.4).
    pub read_round: u64,
    /// Heartbeat intervals spent in Replicate with messages in flight and
    /// no acknowledgement: a lost append is suspected when it grows large.
    pub stalled_heartbeats: u64,
    /// In Replicate: the follower's last index as reported by a "log too
    /// short" rejection that came while appends were in flight. Such a
    /// rejection may answer a heartbeat that overtook those appends, so the
    /// first is tolerated; a second with no progress in between means an
    /// append was lost or dropped (it came before the one it continues), and
    /// the pipeline rewinds. Cleared whenever `matched` grows.
    pub short_reject_at: Option<LogIndex>,
    /// The follower rejected an append at or below `matched`: it lost
    /// entries it acknowledged, or the rejection is older than the
    /// acknowledgement (reordered). Such rejections are ignored either way
    /// (`matched` never decreases); this only lets the runtime warn, see
    /// [`crate::PeerProgress::log_lost`]. Cleared whenever `matched` grows.
    pub log_lost: bool,
    /// The in-flight window (used in Replicate).
    pub inflights: Inflights,
}

impl Progress {
    /// A fresh progress in the Probe state that will first send `next`.
    pub fn new(next: LogIndex, max_inflight_msgs: usize, max_inflight_bytes: u64) -> Self {
        Progress {
            matched: LogIndex(0),
            next: next.max(LogIndex(1)),
            state: ProgressState::Probe,
            pending_snapshot: LogIndex(0),
            probe_sent: false,
            recent_active: false,
            read_round: 0,
            stalled_heartbeats: 0,
            short_reject_at: None,
            log_lost: false,
            inflights: Inflights::new(max_inflight_msgs, max_inflight_bytes),
        }
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.state = state;
        self.probe_sent = false;
        self.pending_snapshot = LogIndex(0);
        self.stalled_heartbeats = 0;
        self.short_reject_at = None;
        self.inflights.reset();
    }

    /// Back to probing from just after `matched` (or after a snapshot that
    /// was just sent).
    pub fn become_probe(&mut self) {
        let after_snapshot = if self.state == ProgressState::Snapshot { self.pending_snapshot } else { LogIndex(0) };
        self.reset_state(ProgressState::Probe);
        self.next = self.matched.max(after_snapshot).next();
    }

    /// Start pipelining from just after `matched`.
    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next = self.matched.next();
    }

    /// An InstallSnapshot at `index` is being sent.
    pub fn become_snapshot(&mut self, index: LogIndex) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = index;
    }

    /// Records that the follower matches up to `index`. Returns true if that
    /// is news (the match index grew).
    pub fn maybe_update(&mut self, index: LogIndex) -> bool {
        let updated = index > self.matched;
        if updated {
            self.matched = index;
            self.probe_sent = false;
            self.stalled_heartbeats = 0;
            self.short_reject_at = None;
            self.log_lost = false;
        }
        if self.next <= index {
            self.next = index.next();
        }
        self.inflights.free_to(index);
        updated
    }

    /// Records that an append ending at `last` with `bytes` of entries went
    /// out (optimistically advancing `next` in Replicate).
    pub fn sent_entries(&mut self, last: LogIndex, bytes: u64) {
        match self.state {
            ProgressState::Replicate => {
                self.inflights.add(last, bytes);
                self.next = last.next();
            }
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Snapshot => {}
        }
    }

    /// Moves `next` back after a rejection of the append at
    /// `rejected_index`, to `hint_next` (at most `rejected_index`, at least
    /// `matched + 1`). Returns false for a stale rejection.
    ///
    /// A rejection at or below `matched` is ignored in every state: `next`
    /// may not go below `matched + 1`, so in Probe "backing up" would resend
    /// the very probe that was just refused, at once and forever (sim seed
    /// 13028606: a follower that lost acknowledged entries answered each
    /// probe at its match index with a rejection). It sets `log_lost`.
    pub fn maybe_decrease_to(&mut self, rejected_index: LogIndex, hint_next: LogIndex) -> bool {
        if rejected_index <= self.matched {
            self.log_lost = true;
            return false;
        }
        if self.state == ProgressState::Replicate {
            self.become_probe();
        } else if rejected_index != self.next.prev() {
            // Probe: only the answer to the outstanding probe counts.
            return false;
        }
        self.next = hint_next.min(rejected_index).max(self.matched.next());
        self.probe_sent = false;
        true
    }

    /// A rejection saying the follower's log ends at `follower_last`, short
    /// of the append's `prev`. Returns true if the pipeline should be kept:
    /// appends are in flight and this is the first such rejection since the
    /// last progress, so it may answer a heartbeat that overtook them.
    pub fn tolerate_short_reject(&mut self, follower_last: LogIndex) -> bool {
        if self.state != ProgressState::Replicate {
            return false;
        }
        if follower_last < self.matched {
            // The follower has acknowledged more since: the rejection
            // answers an older message (responses are reordered too).
            return true;
        }
        if self.inflights.is_empty() {
            return false;
        }
        if self.short_reject_at.is_some_and(|at| follower_last <= at) {
            return false;
        }
        self.short_reject_at = Some(follower_last);
        true
    }

    /// In Replicate: the follower's log ends at `follower_last` although
    /// appends past it were sent. It dropped the one that would have
    /// continued its log (it arrived out of order, or was lost), so resume
    /// the pipeline right after its last entry instead of probing again.
    pub fn rewind_pipeline(&mut self, follower_last: LogIndex) {
        self.reset_state(ProgressState::Replicate);
        self.next = follower_last.max(self.matched).next();
    }

    /// True when nothing may be sent to this follower now.
    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.is_full(),
            ProgressState::Snapshot => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr() -> Progress {
        Progress::new(LogIndex(6), 4, 1000)
    }

    #[test]
    fn probe_pauses_after_one_send() {
        let mut p = pr();
        assert!(!p.is_paused());
        p.sent_entries(LogIndex(7), 10);
        assert!(p.is_paused());
        assert_eq!(p.next, LogIndex(6), "probe does not advance next optimistically");
    }

    #[test]
    fn replicate_advances_next_optimistically() {
        let mut p = pr();
        p.maybe_update(LogIndex(5));
        p.become_replicate();
        p.sent_entries(LogIndex(9), 10);
        assert_eq!(p.next, LogIndex(10));
        assert_eq!(p.inflights.count(), 1);
        assert!(p.maybe_update(LogIndex(9)));
        assert!(p.inflights.is_empty());
    }

    #[test]
    fn stale_rejection_is_ignored_in_probe() {
        let mut p = pr();
        assert!(!p.maybe_decrease_to(LogIndex(3), LogIndex(2)));
        assert!(p.maybe_decrease_to(LogIndex(5), LogIndex(2)));
        assert_eq!(p.next, LogIndex(2));
    }

    /// Sim seed 13028606 (3 nodes): a follower whose log lost entries it
    /// had acknowledged rejected each probe at its match index, and the
    /// leader "backed up" to that same index and probed again at once.
    #[test]
    fn rejection_at_or_below_the_match_is_ignored_in_every_state() {
        let mut probe = pr();
        probe.maybe_update(LogIndex(5));
        probe.become_probe();
        probe.sent_entries(LogIndex(5), 0);
        assert_eq!(probe.next, LogIndex(6));
        assert!(!probe.maybe_decrease_to(LogIndex(5), LogIndex(1)), "the probe at the match was refused");
        assert!(probe.is_paused(), "no immediate re-probe of the same index");
        assert!(probe.log_lost);

        let mut replicate = pr();
        replicate.maybe_update(LogIndex(5));
        replicate.become_replicate();
        replicate.sent_entries(LogIndex(8), 10);
        assert!(!replicate.maybe_decrease_to(LogIndex(4), LogIndex(1)));
        assert_eq!(
            (replicate.state, replicate.next, replicate.log_lost),
            (ProgressState::Replicate, LogIndex(9), true)
        );

        let mut snapshot = pr();
        snapshot.maybe_update(LogIndex(5));
        snapshot.become_snapshot(LogIndex(20));
        assert!(!snapshot.maybe_decrease_to(LogIndex(5), LogIndex(1)));
        assert_eq!((snapshot.state, snapshot.pending_snapshot), (ProgressState::Snapshot, LogIndex(20)));
        assert!(snapshot.log_lost);
    }

    #[test]
    fn log_lost_clears_when_the_match_grows() {
        let mut p = pr();
        p.maybe_update(LogIndex(5));
        p.become_probe();
        p.maybe_decrease_to(LogIndex(5), LogIndex(1));
        assert!(p.log_lost);
        p.maybe_update(LogIndex(5));
        assert!(p.log_lost, "an acknowledgement of the old match is no news");
        p.maybe_update(LogIndex(6));
        assert!(!p.log_lost);
    }

    #[test]
    fn rejection_never_moves_next_below_match() {
        let mut p = pr();
        p.maybe_update(LogIndex(3));
        p.next = LogIndex(6);
        assert!(p.maybe_decrease_to(LogIndex(5), LogIndex(1)));
        assert_eq!(p.next, LogIndex(4));
    }

    #[test]
    fn one_short_rejection_is_tolerated_per_progress_step() {
        let mut p = pr();
        p.maybe_update(LogIndex(5));
        p.become_replicate();
        assert!(!p.tolerate_short_reject(LogIndex(5)), "nothing in flight: a real gap");
        p.sent_entries(LogIndex(9), 10);
        assert!(p.tolerate_short_reject(LogIndex(5)));
        assert!(!p.tolerate_short_reject(LogIndex(5)), "no progress since: an append was lost");
        p.maybe_update(LogIndex(7));
        assert!(p.tolerate_short_reject(LogIndex(7)), "progress resets the allowance");
    }

    #[test]
    fn short_rejection_older_than_the_match_is_ignored() {
        // Responses are reordered too: the follower acknowledged 7 before
        // this answer saying its log ends at 6 arrived.
        let mut p = pr();
        p.maybe_update(LogIndex(5));
        p.become_replicate();
        p.sent_entries(LogIndex(9), 10);
        p.maybe_update(LogIndex(7));
        assert!(p.tolerate_short_reject(LogIndex(6)));
        assert!(p.tolerate_short_reject(LogIndex(6)), "however many such answers arrive");
        assert_eq!((p.state, p.short_reject_at), (ProgressState::Replicate, None));
    }

    #[test]
    fn rewind_resumes_the_pipeline_after_the_followers_log() {
        let mut p = pr();
        p.maybe_update(LogIndex(5));
        p.become_replicate();
        p.sent_entries(LogIndex(9), 10);
        p.rewind_pipeline(LogIndex(6));
        assert_eq!((p.state, p.next, p.inflights.count()), (ProgressState::Replicate, LogIndex(7), 0));
        p.rewind_pipeline(LogIndex(2));
        assert_eq!(p.next, LogIndex(6), "never before the match");
    }

    #[test]
    fn snapshot_done_probes_after_snapshot() {
        let mut p = pr();
        p.become_snapshot(LogIndex(20));
        assert!(p.is_paused());
        p.become_probe();
        assert_eq!(p.next, LogIndex(21));
    }
}
