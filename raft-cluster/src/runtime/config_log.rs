//! [`ConfigLog`]: where the configuration in effect sits in the log.
//!
//! The core knows the effective membership but not the index of its entry,
//! which the operator needs (`Members`: "config index, committed or not").
//! The runtime sees every entry it persists, every truncation and every
//! installed snapshot, so it mirrors the core's bookkeeping with the same
//! [`MembershipLog`] (thesis §4.1: the latest configuration in the log is in
//! effect, committed or not; truncating past it reverts to the previous one).

use raft_core::membership_log::MembershipLog;
use raft_core::{Entry, EntryPayload, LogIndex, SnapshotMeta, Storage};

use crate::error::ClusterError;
use crate::store::SharedStore;

/// Entries read per storage call while scanning the log at start-up.
const SCAN_CHUNK_BYTES: u64 = 4 << 20;

/// The log's configuration entries, with their indices.
pub(crate) struct ConfigLog {
    log: MembershipLog,
    /// Index of the snapshot the base configuration comes from: the base's
    /// own entry was compacted at or before it.
    base_index: LogIndex,
}

impl ConfigLog {
    /// Scans the stored log after the snapshot described by `meta`, as the
    /// core does when it restarts.
    pub(crate) fn load(store: &SharedStore, meta: &SnapshotMeta) -> Result<Self, ClusterError> {
        let fail = |e: raft_core::StorageError| ClusterError::Storage(format!("scanning configurations: {e}"));
        let mut configs =
            ConfigLog { log: MembershipLog::new(meta.membership.clone()), base_index: meta.last_log_id.index };
        let mut next = store.first_index().map_err(fail)?;
        let end = store.last_index().map_err(fail)?.next();
        while next < end {
            let batch = store.entries(next, end, Some(SCAN_CHUNK_BYTES)).map_err(fail)?;
            let Some(last) = batch.last().map(|e| e.index) else { break };
            configs.on_append(None, &batch);
            next = last.next();
        }
        Ok(configs)
    }

    /// Entries persisted by a Ready, after truncating from `truncate_from`.
    pub(crate) fn on_append(&mut self, truncate_from: Option<LogIndex>, entries: &[Entry]) {
        if let Some(from) = truncate_from {
            self.log.truncate_from(from);
        }
        if let Some(first) = entries.first() {
            // Appending at `first` replaces whatever the log held from there.
            self.log.truncate_from(first.index);
        }
        for e in entries {
            if let EntryPayload::Membership(m) = &e.payload {
                self.log.push(e.index, m.clone());
            }
        }
    }

    /// A snapshot replaced the log up to `meta.last_log_id`.
    pub(crate) fn on_snapshot(&mut self, meta: &SnapshotMeta) {
        self.log.reset_to_snapshot(meta.last_log_id.index, meta.membership.clone());
        self.base_index = meta.last_log_id.index;
    }

    /// The configuration in effect (the core's own copy is authoritative;
    /// this one is compared with it in tests).
    #[cfg(test)]
    pub(crate) fn effective(&self) -> &raft_core::Membership {
        self.log.effective()
    }

    /// Its entry's index (for a configuration that came with a snapshot:
    /// the snapshot's index).
    pub(crate) fn index(&self) -> LogIndex {
        self.log.latest_index().unwrap_or(self.base_index)
    }
}

#[cfg(test)]
mod tests {
    use raft_core::{Membership, NodeId, Term};

    use super::*;

    fn config_entry(index: u64, voters: &[u64]) -> Entry {
        let m = Membership::new(voters.iter().map(|&v| NodeId(v)));
        Entry::new(Term(1), LogIndex(index), EntryPayload::Membership(m))
    }

    fn empty() -> ConfigLog {
        ConfigLog { log: MembershipLog::new(Membership::new([NodeId(1)])), base_index: LogIndex(0) }
    }

    #[test]
    fn the_latest_configuration_entry_is_in_effect_and_an_overwrite_reverts_it() {
        // thesis §4.1: in effect as soon as it is in the log; a new leader
        // overwriting it restores the previous configuration.
        let mut c = empty();
        c.on_append(None, &[Entry::new(Term(1), LogIndex(1), EntryPayload::Noop), config_entry(2, &[1, 2])]);
        assert_eq!((c.index(), c.effective().voters.len()), (LogIndex(2), 2));
        c.on_append(None, &[Entry::new(Term(2), LogIndex(2), EntryPayload::Noop)]);
        assert_eq!((c.index(), c.effective().voters.len()), (LogIndex(0), 1));
        c.on_append(None, &[config_entry(3, &[1, 3])]);
        c.on_append(Some(LogIndex(3)), &[]);
        assert_eq!(c.index(), LogIndex(0));
    }

    #[test]
    fn a_snapshot_configuration_reports_the_snapshot_index() {
        let mut c = empty();
        let meta = SnapshotMeta {
            last_log_id: raft_core::LogId::new(Term(3), LogIndex(40)),
            membership: Membership::new([NodeId(1), NodeId(2)]),
        };
        c.on_snapshot(&meta);
        assert_eq!((c.index(), c.effective().voters.len()), (LogIndex(40), 2));
    }
}
