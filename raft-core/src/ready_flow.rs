//! Building a [`Ready`] and acknowledging it with `advance`: the only way
//! the node's decisions leave the core (etcd's `RawNode` model).

use crate::error::Error;
use crate::node::RaftNode;
use crate::ready::Ready;
use crate::storage::Storage;
use crate::types::{LogIndex, Role};

impl<S: Storage> RaftNode<S> {
    /// True if [`RaftNode::ready`] would return something to do.
    pub fn has_ready(&self) -> bool {
        !self.msgs.is_empty()
            || !self.persisted_msgs.is_empty()
            || !self.events.is_empty()
            || !self.read_states.is_empty()
            || self.soft_state() != self.prev_soft_state
            || self.hard_state() != self.prev_hard_state
            || self.log.has_ready_entries()
            || self.log.has_next_committed()
            || (self.role == Role::Leader && (self.reads.broadcast_due() || self.has_pending_appends()))
            || self.snapshot_hint_due().is_some()
    }

    /// Collects everything the runtime must do now. Leaders generate their
    /// AppendEntries here, so all proposals since the previous Ready travel
    /// in one message per follower.
    pub fn ready(&mut self) -> Result<Ready, Error> {
        if self.role == Role::Leader {
            self.send_pending_appends()?;
            self.broadcast_read_round();
        }
        let mut rd = Ready::default();
        let ss = self.soft_state();
        if ss != self.prev_soft_state {
            rd.soft_state = Some(ss);
            self.prev_soft_state = ss;
        }
        rd.snapshot = self.log.take_ready_snapshot();
        let (truncate_from, entries) = self.log.take_ready_entries();
        rd.truncate_from = truncate_from;
        rd.entries = entries;
        let hs = self.hard_state();
        let durable = self.persisted_hard_state;
        if hs != self.prev_hard_state {
            rd.hard_state = Some(hs);
            self.prev_hard_state = hs;
        }
        let vote_changed = (hs.term, hs.vote) != (durable.term, durable.vote);
        rd.must_sync = rd.snapshot.is_some() || rd.truncate_from.is_some() || !rd.entries.is_empty() || vote_changed;
        rd.committed_entries = self.log.take_committed_entries(self.cfg.max_apply_bytes)?;
        rd.messages = std::mem::take(&mut self.msgs);
        rd.persisted_messages = std::mem::take(&mut self.persisted_msgs);
        rd.read_states = std::mem::take(&mut self.read_states);
        rd.events = std::mem::take(&mut self.events);
        if let Some(hint) = self.snapshot_hint_due() {
            rd.snapshot_hint = Some(hint);
            self.hint_at = hint;
        }
        Ok(rd)
    }

    /// Acknowledges that `ready` was handled: its writes are durable, its
    /// messages sent and its committed entries applied.
    pub fn advance(&mut self, ready: Ready) -> Result<(), Error> {
        if let Some(hs) = ready.hard_state {
            self.persisted_hard_state = hs;
        }
        if let Some(s) = &ready.snapshot {
            self.log.stable_snap_to(s.meta.last_log_id.index);
        }
        if let Some(e) = ready.entries.last() {
            self.log.stable_to(e.log_id());
        }
        if let Some(e) = ready.committed_entries.last() {
            self.log.applied_to(e.index);
        }
        // The leader's own write counts toward the quorum only now.
        self.maybe_commit()?;
        self.log.check();
        Ok(())
    }

    /// The index to suggest a snapshot at, if the applied log has grown
    /// `snapshot_threshold` past the last snapshot (and the last hint).
    fn snapshot_hint_due(&self) -> Option<LogIndex> {
        let threshold = self.cfg.snapshot_threshold;
        if threshold == 0 {
            return None;
        }
        let snap = self.log.first_index().ok()?.prev();
        let applied = self.log.applied();
        (applied.0 >= snap.max(self.hint_at).0.saturating_add(threshold)).then_some(applied)
    }
}
