//! Applying committed entries and serving reads.

use raft_core::{Entry, EntryPayload};

use super::task::NodeTask;
use crate::error::ClusterError;
use crate::event::EventKind;
use crate::fsm::NodeStateMachine;

impl<M: NodeStateMachine> NodeTask<M> {
    /// Applies `entries` in index order and answers their writes. Entries
    /// the state machine already holds (restored from a snapshot) are
    /// skipped, so a restart replays only what follows the snapshot.
    pub(crate) fn apply_committed(&mut self, entries: &[Entry]) -> Result<(), ClusterError> {
        let mut last = None;
        for entry in entries {
            let applied = self.sm.applied_index();
            if entry.index <= applied {
                continue;
            }
            if entry.index != applied.next() {
                return Err(ClusterError::StateMachine(format!(
                    "committed entry {} does not follow applied index {applied} (invariant: apply in log order without gaps)",
                    entry.index
                )));
            }
            if let EntryPayload::Membership(m) = &entry.payload {
                self.applied_membership = m.clone();
                self.changes.on_applied(entry.log_id(), m);
            }
            // An apply error is fatal: skipping the entry would make this
            // replica diverge from the others (State Machine Safety, §5.4.3).
            // Deterministic rejections are responses, not errors.
            let result = self
                .sm
                .apply(entry)
                .map_err(|e| ClusterError::StateMachine(format!("apply entry {}: {e}", entry.index)))?
                .map(Ok);
            if self.sm.applied_index() < entry.index {
                return Err(ClusterError::StateMachine(format!(
                    "state machine did not advance its applied index to {} (invariant: apply advances applied_index)",
                    entry.index
                )));
            }
            if let Some(took) = self.writes.on_applied(entry.log_id(), result) {
                self.metrics.observe_proposal(took);
            }
            last = Some(entry.index);
        }
        if let Some(index) = last {
            self.log_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).applied_to(index);
            self.emit(EventKind::Applied { index });
        }
        Ok(())
    }

    /// Answers confirmed reads whose read index is applied (§6.4 step 4).
    pub(crate) fn serve_reads(&mut self) {
        for (query, reply) in self.reads.take_servable(self.sm.applied_index()) {
            let _ = reply.send(Ok(self.sm.query(&query)));
        }
    }
}
