//! The leader's side of log replication (§5.3): building AppendEntries and
//! heartbeats per follower progress, handling acknowledgements and
//! rejections, advancing the commit index (§5.4.2), ReadIndex confirmation
//! (§6.4) and the catch-up step of leader transfer (thesis §3.10).

use crate::error::Error;
use crate::message::{
    AppendEntries, AppendEntriesResponse, AppendResult, ConflictHint, InstallSnapshot, InstallSnapshotResponse,
    MessageBody,
};
use crate::node::RaftNode;
use crate::progress::ProgressState;
use crate::quorum::{joint_has_quorum, joint_quorum_value};
use crate::ready::{Event, ReadState};
use crate::storage::{Storage, StorageError};
use crate::types::{Entry, LogId, LogIndex, NodeId, Role, Term};

/// Election timeouts without news after which an InstallSnapshot is
/// presumed lost and retried.
const SNAPSHOT_STALL_TIMEOUTS: u64 = 3;

impl<S: Storage> RaftNode<S> {
    /// Sends what each follower is missing, within its flow-control window.
    /// Called when building a Ready so proposals made since the last one go
    /// out together.
    pub(crate) fn send_pending_appends(&mut self) -> Result<(), Error> {
        let peers: Vec<NodeId> = self.progress.keys().copied().collect();
        for peer in peers {
            while self.send_append(peer, false)? {}
        }
        Ok(())
    }

    /// True if [`Self::send_pending_appends`] would send something.
    pub(crate) fn has_pending_appends(&self) -> bool {
        let last = self.log.last_index();
        self.progress.values().any(|p| !p.is_paused() && p.next <= last)
    }

    /// Sends one AppendEntries (or InstallSnapshot) to `to`. Returns true
    /// if a message went out and another might follow.
    pub(crate) fn send_append(&mut self, to: NodeId, allow_empty: bool) -> Result<bool, Error> {
        let Some(pr) = self.progress.get(&to) else { return Ok(false) };
        if pr.is_paused() {
            return Ok(false);
        }
        let next = pr.next;
        let last = self.log.last_index();
        let mut max_bytes = self.cfg.max_msg_bytes;
        if pr.state == ProgressState::Replicate {
            max_bytes = max_bytes.min(pr.inflights.remaining_bytes());
        }
        let prev_index = next.prev();
        let prev_term = match self.log.term(prev_index) {
            Ok(t) => t,
            Err(StorageError::Compacted { .. }) => return self.send_snapshot(to),
            Err(e) => return Err(e.into()),
        };
        let entries = if next <= last {
            match self.log.entries(next, last.next(), Some(max_bytes.max(1))) {
                Ok(e) => e,
                Err(StorageError::Compacted { .. }) => return self.send_snapshot(to),
                Err(e) => return Err(e.into()),
            }
        } else {
            Vec::new()
        };
        if entries.is_empty() && !allow_empty {
            return Ok(false);
        }
        let bytes: u64 = entries.iter().map(Entry::size_bytes).sum();
        let last_sent = entries.last().map_or(prev_index, |e| e.index);
        let pr = self.progress.get_mut(&to).expect("progress checked above");
        if entries.is_empty() {
            if pr.state == ProgressState::Probe {
                pr.probe_sent = true;
            }
        } else {
            pr.sent_entries(last_sent, bytes);
        }
        let more = !entries.is_empty() && pr.state == ProgressState::Replicate;
        tracing::trace!(
            node = self.id().0,
            term = self.term.0,
            to = to.0,
            index = next.0,
            n = entries.len(),
            "append sent"
        );
        let body = MessageBody::AppendEntries(AppendEntries {
            prev_log_id: LogId::new(prev_term, prev_index),
            entries,
            leader_commit: self.log.committed(),
            read_round: self.reads.round(),
        });
        self.send(to, body);
        Ok(more)
    }

    /// The follower needs compacted entries: send the latest snapshot
    /// (Figure 13) and wait for `report_snapshot` or its response.
    fn send_snapshot(&mut self, to: NodeId) -> Result<bool, Error> {
        let snapshot = self.log.storage().snapshot()?;
        let index = snapshot.meta.last_log_id.index;
        tracing::info!(node = self.id().0, term = self.term.0, to = to.0, index = index.0, "sending snapshot");
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.become_snapshot(index);
        }
        self.send(to, MessageBody::InstallSnapshot(InstallSnapshot { snapshot }));
        Ok(false)
    }

    /// A heartbeat to `to`: an empty AppendEntries. For a pipelined
    /// follower it asserts everything sent so far (`next - 1`), so a lost
    /// append shows up as a rejection one heartbeat later; otherwise it sits
    /// at the match index and always passes the consistency check. The
    /// commit index is capped at what the follower is known to hold.
    pub(crate) fn send_heartbeat(&mut self, to: NodeId) {
        let Some(pr) = self.progress.get(&to) else { return };
        let at = if pr.state == ProgressState::Replicate { pr.next.prev() } else { pr.matched };
        let commit = self.log.committed().min(pr.matched);
        let (prev, commit) = match self.log.term(at) {
            Ok(term) => (LogId::new(term, at), commit),
            // Compacted: the follower answers with its commit index.
            Err(_) => (LogId::new(Term(0), LogIndex(0)), LogIndex(0)),
        };
        let body = MessageBody::AppendEntries(AppendEntries {
            prev_log_id: prev,
            entries: Vec::new(),
            leader_commit: commit,
            read_round: self.reads.round(),
        });
        self.send(to, body);
    }

    /// Periodic heartbeat (§5.2). A pipeline with no acknowledgement for an
    /// election timeout (or a snapshot with no news for a few) falls back to
    /// probing, paused until the peer shows signs of life.
    pub(crate) fn tick_heartbeat(&mut self) {
        let peers: Vec<NodeId> = self.progress.keys().copied().collect();
        let stall_limit = self.cfg.election_ticks.div_ceil(self.cfg.heartbeat_ticks);
        for peer in peers {
            let pr = self.progress.get_mut(&peer).expect("peer listed above");
            let limit = match pr.state {
                ProgressState::Replicate if !pr.inflights.is_empty() => Some(stall_limit),
                // The runtime normally reports the transfer's outcome; if it
                // never does (message lost), retry after a few timeouts.
                ProgressState::Snapshot => Some(SNAPSHOT_STALL_TIMEOUTS * stall_limit),
                _ => None,
            };
            if let Some(limit) = limit {
                pr.stalled_heartbeats += 1;
                if pr.stalled_heartbeats >= limit {
                    if pr.state == ProgressState::Snapshot {
                        pr.pending_snapshot = LogIndex(0);
                    }
                    pr.become_probe();
                    pr.probe_sent = true;
                }
            }
            self.send_heartbeat(peer);
        }
    }

    pub(crate) fn handle_append_response(&mut self, from: NodeId, r: AppendEntriesResponse) -> Result<(), Error> {
        if self.role != Role::Leader {
            return Ok(());
        }
        let round = self.reads.round();
        let Some(pr) = self.progress.get_mut(&from) else {
            tracing::debug!(
                node = self.id().0,
                term = self.term.0,
                from = from.0,
                "response from a non-member ignored"
            );
            return Ok(());
        };
        pr.recent_active = true;
        if r.read_round <= round {
            pr.read_round = pr.read_round.max(r.read_round);
        }
        match r.result {
            AppendResult::Success { match_index } => self.on_append_success(from, match_index)?,
            AppendResult::Conflict(hint) => self.on_append_conflict(from, hint)?,
        }
        self.confirm_reads();
        Ok(())
    }

    fn on_append_success(&mut self, from: NodeId, match_index: LogIndex) -> Result<(), Error> {
        if match_index > self.log.last_index() {
            tracing::warn!(
                node = self.id().0,
                term = self.term.0,
                from = from.0,
                index = match_index.0,
                "acknowledgement past our last index ignored"
            );
            return Ok(());
        }
        let pr = self.progress.get_mut(&from).expect("caller checked progress");
        if !pr.maybe_update(match_index) {
            // No news (typically a heartbeat answer): the peer is alive, so
            // a paused probe whose answer may have been lost is resent.
            if pr.state == ProgressState::Probe {
                pr.probe_sent = false;
            }
            return Ok(());
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            // The follower holds the snapshot and we know its match: pipeline.
            ProgressState::Snapshot if pr.matched >= pr.pending_snapshot => pr.become_replicate(),
            _ => {}
        }
        self.maybe_commit()?;
        self.maybe_send_timeout_now(from);
        self.maybe_release_departed(from);
        Ok(())
    }

    fn on_append_conflict(&mut self, from: NodeId, hint: ConflictHint) -> Result<(), Error> {
        if hint.rejected_index > self.log.last_index() {
            tracing::warn!(node = self.id().0, term = self.term.0, from = from.0, "rejection past our log ignored");
            return Ok(());
        }
        let next = self.next_from_hint(&hint);
        let (me, term) = (self.id(), self.term);
        let pr = self.progress.get_mut(&from).expect("caller checked progress");
        let short = hint.conflict_term.is_none() && hint.rejected_index > pr.matched;
        if short && pr.tolerate_short_reject(hint.first_index.prev()) {
            tracing::debug!(
                node = me.0,
                term = term.0,
                to = from.0,
                rejected = hint.rejected_index.0,
                "short-log rejection with appends in flight: pipeline kept"
            );
            return Ok(());
        }
        if short && pr.state == ProgressState::Replicate {
            pr.rewind_pipeline(hint.first_index.prev());
            return Ok(());
        }
        let lost_before = pr.log_lost;
        if pr.maybe_decrease_to(hint.rejected_index, next) {
            tracing::debug!(
                node = me.0,
                term = term.0,
                to = from.0,
                rejected = hint.rejected_index.0,
                next = pr.next.0,
                "follower rejected append; backing up"
            );
        } else if pr.log_lost && !lost_before {
            tracing::warn!(
                node = me.0,
                term = term.0,
                to = from.0,
                rejected = hint.rejected_index.0,
                matched = pr.matched.0,
                "follower rejected at or below its match index: it lost acknowledged entries (or the rejection is stale); ignored"
            );
        }
        Ok(())
    }

    /// §5.3 optimisation: with the follower's conflicting term and where it
    /// starts, skip that whole term in one round trip. If our log has
    /// entries of that term, resume after our last one; otherwise at the
    /// first index the follower holds of it.
    fn next_from_hint(&self, hint: &ConflictHint) -> LogIndex {
        let Some(t) = hint.conflict_term else { return hint.first_index };
        let lower = hint.first_index.max(LogIndex(1));
        let mut i = hint.rejected_index.min(self.log.last_index());
        while i >= lower {
            match self.log.term(i) {
                Ok(term) if term == t => return i.next(),
                Ok(term) if term > t => i = i.prev(),
                _ => break,
            }
            if i.0 == 0 {
                break;
            }
        }
        hint.first_index
    }

    pub(crate) fn handle_snapshot_response(&mut self, from: NodeId, r: InstallSnapshotResponse) -> Result<(), Error> {
        if self.role != Role::Leader {
            return Ok(());
        }
        let last = self.log.last_index();
        let Some(pr) = self.progress.get_mut(&from) else { return Ok(()) };
        pr.recent_active = true;
        if r.last_index > last {
            return Ok(());
        }
        pr.maybe_update(r.last_index);
        if pr.state == ProgressState::Snapshot && pr.matched >= pr.pending_snapshot {
            pr.become_replicate();
        }
        self.maybe_commit()?;
        self.maybe_release_departed(from);
        Ok(())
    }

    /// §5.4.2: the commit index moves to what a majority stores, but only by
    /// counting replicas of an entry of the current term. The leader's own
    /// log counts once durable.
    pub(crate) fn maybe_commit(&mut self) -> Result<(), Error> {
        if self.role != Role::Leader {
            return Ok(());
        }
        let me = self.id();
        let persisted = self.log.persisted();
        let index = LogIndex(joint_quorum_value(self.config(), |id| {
            if id == me {
                persisted.0
            } else {
                self.progress.get(&id).map_or(0, |p| p.matched.0)
            }
        }));
        if index <= self.log.committed() || self.log.term(index)? != self.term {
            return Ok(());
        }
        let first_in_term = !self.committed_in_term();
        self.log.commit_to(index);
        tracing::debug!(node = me.0, term = self.term.0, index = index.0, "committed");
        self.events.push(Event::Committed { index, term: self.term });
        while self.uncommitted.front().is_some_and(|&(i, _)| i <= index) {
            let (_, size) = self.uncommitted.pop_front().expect("front checked");
            self.uncommitted_bytes -= size;
        }
        if first_in_term {
            for ctx in self.reads.take_deferred() {
                self.register_read(ctx);
            }
        }
        self.maybe_leave_joint();
        let removed = self.members.latest_index().is_some_and(|i| i <= index) && !self.promotable();
        if removed {
            // thesis §4.2.2: a leader not in the new configuration steps
            // down once that configuration is committed.
            tracing::info!(node = me.0, term = self.term.0, "removed from the configuration: stepping down");
            self.become_follower(self.term, None);
        }
        Ok(())
    }

    /// Registers a read at the current commit index (§6.4 step 1-2).
    pub(crate) fn register_read(&mut self, ctx: u64) {
        let index = self.log.committed();
        let me = self.id();
        // Alone in (both halves of) the configuration: no one to confirm with.
        if joint_has_quorum(self.config(), |id| id == me) {
            self.read_states.push(ReadState { ctx, index });
        } else {
            self.reads.add(ctx, index);
        }
    }

    /// Releases reads whose round a quorum acknowledged (§6.4 step 3).
    pub(crate) fn confirm_reads(&mut self) {
        if self.reads.is_empty() {
            return;
        }
        let me = self.id();
        let round = self.reads.round();
        let acked = joint_quorum_value(self.config(), |id| {
            if id == me {
                round
            } else {
                self.progress.get(&id).map_or(0, |p| p.read_round)
            }
        });
        let released = self.reads.confirm(acked);
        self.read_states.extend(released);
    }

    /// Starts a read-confirmation round if reads wait for one.
    pub(crate) fn broadcast_read_round(&mut self) {
        if self.reads.start_round().is_some() {
            let peers: Vec<NodeId> = self.progress.keys().copied().collect();
            for peer in peers {
                self.send_heartbeat(peer);
            }
        }
    }

    /// thesis §3.10: once the transferee is caught up, tell it to campaign.
    pub(crate) fn maybe_send_timeout_now(&mut self, peer: NodeId) {
        let Some(t) = self.transfer else { return };
        if t.to != peer || t.timeout_now_sent {
            return;
        }
        if self.progress.get(&peer).is_some_and(|p| p.matched == self.log.last_index()) {
            tracing::info!(node = self.id().0, term = self.term.0, to = peer.0, "transferee caught up: TimeoutNow");
            self.send(peer, MessageBody::TimeoutNow);
            if let Some(t) = self.transfer.as_mut() {
                t.timeout_now_sent = true;
            }
        }
    }
}

#[cfg(test)]
#[path = "replication_tests.rs"]
mod tests;
