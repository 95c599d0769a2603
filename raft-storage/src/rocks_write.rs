//! The write side of [`RocksStore`]: every change is one RocksDB
//! `WriteBatch`, so a crash leaves the old state or the new one.

use raft_core::{HardState, LogId, LogIndex, Membership, NodeId, Snapshot, SnapshotMeta, Term};

use crate::batch::{Plan, WriteBatch};
use crate::error::StoreError;
use crate::identity::Identity;
use crate::incarnation::PeerIncarnations;
use crate::layout::{log_key, peer_incarnation_key, seal, HARD_STATE_KEY, IDENTITY_KEY, SNAPSHOT_KEY};
use crate::rocks_store::{Cached, RocksStore};
use crate::snapshot_files::SnapshotRecord;
use crate::store::RaftStore;

/// Past every real log key: the exclusive end of "delete the rest of the log".
const END_OF_LOG: u64 = u64::MAX;

impl RocksStore {
    /// Builds the RocksDB batch for a validated plan, and the term at its new
    /// last index.
    fn encode_plan(&self, st: &Cached, plan: &Plan<'_>) -> Result<(rocksdb::WriteBatch, Term), StoreError> {
        let (log, meta) = (self.cf_log(), self.cf_meta());
        let mut wb = rocksdb::WriteBatch::default();
        if let Some(from) = plan.delete_from {
            wb.delete_range_cf(log, log_key(from.get()), log_key(END_OF_LOG));
        }
        for entry in plan.entries {
            let key = log_key(entry.index.get());
            wb.put_cf(log, key, seal(&key, entry)?);
        }
        if let Some(hs) = &plan.hard_state {
            wb.put_cf(meta, HARD_STATE_KEY, seal(HARD_STATE_KEY, hs)?);
        }
        let last_term = match plan.entries.last() {
            Some(entry) => entry.term,
            // Only a truncation: the new last entry is below the cut, untouched.
            None if plan.delete_from.is_some() => self.term_in(st, plan.new_last)?,
            None => st.last_term,
        };
        Ok((wb, last_term))
    }

    /// Durably writes a snapshot record (and the batch around it), then
    /// deletes the data file of the record it replaces. `prepare` validates
    /// against the current state and fills the batch; if it refuses, the new
    /// data file is deleted.
    fn commit_snapshot(
        &self,
        record: SnapshotRecord,
        prepare: impl FnOnce(&Cached, &mut rocksdb::WriteBatch) -> Result<Cached, StoreError>,
    ) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        let mut wb = rocksdb::WriteBatch::default();
        let prepared = {
            let st = self.read_state();
            prepare(&st, &mut wb).and_then(|next| Ok((next, seal(SNAPSHOT_KEY, &record)?)))
        };
        let (mut next, sealed) = match prepared {
            Ok(p) => p,
            Err(e) => {
                if let Some(name) = &record.file {
                    self.snapshots.remove(name);
                }
                return Err(e);
            }
        };
        wb.put_cf(self.cf_meta(), SNAPSHOT_KEY, sealed);
        next.snapshot = record;
        let old = {
            let mut st = self.write_state();
            self.commit(wb, true)?;
            std::mem::replace(&mut *st, next).snapshot
        };
        if let Some(name) = old.file {
            self.snapshots.remove(&name);
        }
        Ok(())
    }

    /// Installs a leader's snapshot (Figure 13, rules 6–7) whose data file
    /// `make_record` writes or adopts, once the snapshot is known to be
    /// newer than the stored one: the log is kept after a matching entry,
    /// else dropped, and the commit index rises to the snapshot's.
    pub(crate) fn install_with(
        &self,
        meta: &SnapshotMeta,
        make_record: impl FnOnce() -> Result<SnapshotRecord, StoreError>,
    ) -> Result<(), StoreError> {
        let requested = meta.last_log_id;
        let check_newer = |st: &Cached| {
            let current = st.snapshot.meta.last_log_id;
            if requested.index <= current.index {
                return Err(StoreError::StaleSnapshot { requested, current });
            }
            Ok(())
        };
        check_newer(&self.read_state())?;
        let record = make_record()?;
        let (log, meta_cf) = (self.cf_log(), self.cf_meta());
        self.commit_snapshot(record, |st, wb| {
            check_newer(st)?;
            let index = requested.index;
            // Figure 13 rule 6: keep the suffix after a matching entry; rule 7: else drop the log.
            let keep = index <= st.last_index && self.term_in(st, index)? == requested.term;
            let mut next = st.clone();
            let end = if keep { index.next().get() } else { END_OF_LOG };
            wb.delete_range_cf(log, log_key(0), log_key(end));
            if !keep {
                next.last_index = index;
                next.last_term = requested.term;
            }
            next.hard_state = HardState { commit: st.hard_state.commit.max(index), ..st.hard_state };
            wb.put_cf(meta_cf, HARD_STATE_KEY, seal(HARD_STATE_KEY, &next.hard_state)?);
            Ok(next)
        })
    }
}

impl RaftStore for RocksStore {
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        let st = self.read_state().clone();
        let plan = batch.plan(&st.bounds())?;
        if plan.entries.is_empty() && plan.delete_from.is_none() && plan.hard_state.is_none() {
            return Ok(());
        }
        let (wb, last_term) = self.encode_plan(&st, &plan)?;
        let apply = |st: &mut Cached| {
            st.last_index = plan.new_last;
            st.last_term = last_term;
            if let Some(hs) = plan.hard_state {
                st.hard_state = hs;
            }
        };
        if plan.delete_from.is_some() {
            // Readers must not see entries vanish under the bounds they checked.
            let mut st = self.write_state();
            self.commit(wb, batch.sync)?;
            apply(&mut st);
        } else {
            self.commit(wb, batch.sync)?;
            apply(&mut self.write_state());
        }
        Ok(())
    }

    fn install_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.install_with(&snapshot.meta, || self.snapshots.write(&snapshot.meta, &snapshot.data))
    }

    fn create_snapshot(&self, index: LogIndex, membership: Membership, data: Vec<u8>) -> Result<(), StoreError> {
        let check = |st: &Cached| -> Result<Term, StoreError> {
            if index < st.first_index() {
                return Err(StoreError::Compacted { requested: index, first_index: st.first_index() });
            }
            let term = self.term_in(st, index)?;
            if index > st.hard_state.commit {
                return Err(StoreError::SnapshotNotCommitted { index, commit: st.hard_state.commit });
            }
            Ok(term)
        };
        let term = check(&self.read_state())?;
        let meta = SnapshotMeta { last_log_id: LogId::new(term, index), membership };
        let record = self.snapshots.write(&meta, &data)?;
        let log = self.cf_log();
        self.commit_snapshot(record, |st, wb| {
            // Committed entries never change, so the term read above still holds.
            if check(st)? != term {
                return Err(StoreError::corrupted(
                    format!("log entry {}", index.get()),
                    "committed entry changed term",
                ));
            }
            wb.delete_range_cf(log, log_key(0), log_key(index.next().get()));
            Ok(st.clone())
        })
    }

    fn bootstrap(&self, membership: Membership) -> Result<(), StoreError> {
        if membership.voters.is_empty() {
            return Err(StoreError::EmptyMembership);
        }
        let record =
            SnapshotRecord { meta: SnapshotMeta { last_log_id: LogId::default(), membership }, ..Default::default() };
        self.commit_snapshot(record, |st, _wb| if is_empty(st) { Ok(st.clone()) } else { Err(StoreError::NotEmpty) })
    }

    fn is_empty(&self) -> bool {
        is_empty(&self.read_state())
    }

    fn identity(&self) -> Option<Identity> {
        self.read_state().identity.clone()
    }

    fn ensure_identity(&self, identity: &Identity) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        if !identity.check_against(self.read_state().identity.as_ref())? {
            return Ok(());
        }
        let mut wb = rocksdb::WriteBatch::default();
        wb.put_cf(self.cf_meta(), IDENTITY_KEY, seal(IDENTITY_KEY, identity)?);
        self.commit(wb, true)?;
        self.write_state().identity = Some(identity.clone());
        Ok(())
    }

    fn incarnation(&self) -> u64 {
        self.read_state().incarnation
    }

    fn peer_incarnations(&self) -> PeerIncarnations {
        self.read_state().peer_incarnations.clone()
    }

    fn set_peer_incarnation(&self, peer: NodeId, incarnation: Option<u64>) -> Result<(), StoreError> {
        if incarnation == Some(0) {
            return Err(StoreError::Backend("incarnation 0 cannot be remembered".into()));
        }
        let _writer = self.lock_writer();
        let key = peer_incarnation_key(peer.0);
        let mut wb = rocksdb::WriteBatch::default();
        match incarnation {
            Some(inc) => wb.put_cf(self.cf_meta(), &key, seal(&key, &inc)?),
            None => wb.delete_cf(self.cf_meta(), &key),
        }
        self.commit(wb, true)?;
        let peers = &mut self.write_state().peer_incarnations;
        match incarnation {
            Some(inc) => peers.insert(peer, inc),
            None => peers.remove(&peer),
        };
        Ok(())
    }
}

fn is_empty(st: &Cached) -> bool {
    st.last_index == LogIndex(0) && st.snapshot == SnapshotRecord::default() && st.hard_state == HardState::default()
}
