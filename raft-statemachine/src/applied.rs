//! [`AppliedState`]: the bookkeeping every state machine needs to honour the
//! apply contract (no gaps, no repeats) and to describe its snapshots.

use raft_core::{Entry, EntryPayload, LogId, Membership, SnapshotMeta};

use crate::StateMachineError;

/// The id of the last applied entry and the membership in effect at it.
///
/// Invariant: `membership` is the configuration of the last `Membership`
/// entry at or before `last_applied`, or the one in the last restored
/// snapshot's metadata if no such entry was applied since.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppliedState {
    last_applied: LogId,
    membership: Membership,
}

impl AppliedState {
    /// The state described by a snapshot's metadata (index 0 with the initial
    /// membership for a freshly bootstrapped node).
    pub fn from_meta(meta: &SnapshotMeta) -> Self {
        AppliedState { last_applied: meta.last_log_id, membership: meta.membership.clone() }
    }

    /// The last applied entry's id.
    pub fn last_applied(&self) -> LogId {
        self.last_applied
    }

    /// The membership in effect at the last applied entry.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Checks that `entry` is the next one to apply (index = applied + 1),
    /// without changing anything.
    pub fn check_next(&self, entry: &Entry) -> Result<(), StateMachineError> {
        let expected = self.last_applied.index.next();
        if entry.index != expected {
            return Err(StateMachineError::OutOfOrder { expected, got: entry.index });
        }
        Ok(())
    }

    /// Records `entry` as applied. Call after [`check_next`](Self::check_next)
    /// succeeded and the entry's effects are in place.
    pub fn advance(&mut self, entry: &Entry) {
        assert_eq!(
            entry.index,
            self.last_applied.index.next(),
            "invariant: entries are applied at consecutive indices (check_next first)"
        );
        self.last_applied = entry.log_id();
        if let EntryPayload::Membership(m) = &entry.payload {
            self.membership = m.clone();
        }
    }

    /// Metadata for a snapshot taken now.
    pub fn snapshot_meta(&self) -> SnapshotMeta {
        SnapshotMeta { last_log_id: self.last_applied, membership: self.membership.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{LogIndex, NodeId, Term};

    #[test]
    fn advance_tracks_index_term_and_membership() {
        let mut a = AppliedState::default();
        let m = Membership::new([NodeId(1), NodeId(2)]);
        a.check_next(&Entry::new(Term(1), LogIndex(1), EntryPayload::Noop)).unwrap();
        a.advance(&Entry::new(Term(1), LogIndex(1), EntryPayload::Noop));
        a.advance(&Entry::new(Term(2), LogIndex(2), EntryPayload::Membership(m.clone())));
        assert_eq!(a.last_applied(), LogId::new(Term(2), LogIndex(2)));
        assert_eq!(a.membership(), &m);
        assert_eq!(a.snapshot_meta().last_log_id.index, LogIndex(2));
    }

    #[test]
    fn check_next_rejects_gaps_and_repeats() {
        let a = AppliedState::from_meta(&SnapshotMeta {
            last_log_id: LogId::new(Term(1), LogIndex(5)),
            membership: Membership::default(),
        });
        for bad in [4, 5, 7] {
            let err = a.check_next(&Entry::new(Term(1), LogIndex(bad), EntryPayload::Noop)).unwrap_err();
            assert!(matches!(
                err,
                StateMachineError::OutOfOrder { expected: LogIndex(6), got } if got == LogIndex(bad)
            ));
        }
        a.check_next(&Entry::new(Term(1), LogIndex(6), EntryPayload::Noop)).unwrap();
    }
}
