//! Which membership is in effect: the latest [`Membership`] entry in the
//! log, committed or not (thesis §4.1), else the snapshot's (or bootstrap)
//! membership. Truncating the log past a membership entry reverts to the
//! previous one.

use crate::types::{LogIndex, Membership};

/// The membership entries of the log after the snapshot, plus the base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipLog {
    /// Membership as of the snapshot (or bootstrap).
    base: Membership,
    /// `(index, membership)` of membership entries after the snapshot.
    /// Invariant: indices strictly increase.
    entries: Vec<(LogIndex, Membership)>,
}

impl MembershipLog {
    /// Starts from the snapshot/bootstrap membership.
    pub fn new(base: Membership) -> Self {
        MembershipLog { base, entries: Vec::new() }
    }

    /// The membership in effect.
    pub fn effective(&self) -> &Membership {
        self.entries.last().map(|(_, m)| m).unwrap_or(&self.base)
    }

    /// The membership the latest entry replaced (the base if the log holds
    /// no membership entry).
    pub fn previous(&self) -> &Membership {
        match self.entries.len() {
            0 | 1 => &self.base,
            n => &self.entries[n - 2].1,
        }
    }

    /// Index of the latest membership entry, if any is in the log.
    pub fn latest_index(&self) -> Option<LogIndex> {
        self.entries.last().map(|(i, _)| *i)
    }

    /// A membership entry at `index` was appended.
    pub fn push(&mut self, index: LogIndex, membership: Membership) {
        debug_assert!(
            self.entries.last().is_none_or(|(i, _)| *i < index),
            "membership entries must be pushed in index order"
        );
        self.entries.push((index, membership));
    }

    /// The log was truncated from `index` on: entries there are gone.
    pub fn truncate_from(&mut self, index: LogIndex) {
        self.entries.retain(|(i, _)| *i < index);
    }

    /// A snapshot at `index` with `membership` replaced the log up to
    /// `index`; later entries (a kept suffix) stay.
    pub fn reset_to_snapshot(&mut self, index: LogIndex, membership: Membership) {
        self.base = membership;
        self.entries.retain(|(i, _)| *i > index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeId;

    fn m(ids: &[u64]) -> Membership {
        Membership::new(ids.iter().map(|&i| NodeId(i)))
    }

    #[test]
    fn latest_entry_takes_effect_and_truncation_reverts() {
        // thesis §4.1: a server uses the latest configuration in its log.
        let mut log = MembershipLog::new(m(&[1, 2, 3]));
        log.push(LogIndex(5), m(&[1, 2, 3, 4]));
        assert_eq!(log.effective(), &m(&[1, 2, 3, 4]));
        assert_eq!(log.previous(), &m(&[1, 2, 3]));
        log.truncate_from(LogIndex(5));
        assert_eq!(log.effective(), &m(&[1, 2, 3]));
    }

    #[test]
    fn snapshot_replaces_base_and_keeps_later_entries() {
        let mut log = MembershipLog::new(m(&[1]));
        log.push(LogIndex(2), m(&[1, 2]));
        log.push(LogIndex(9), m(&[1, 2, 3]));
        log.reset_to_snapshot(LogIndex(5), m(&[1, 2]));
        assert_eq!(log.latest_index(), Some(LogIndex(9)));
        log.truncate_from(LogIndex(6));
        assert_eq!(log.effective(), &m(&[1, 2]));
    }
}
