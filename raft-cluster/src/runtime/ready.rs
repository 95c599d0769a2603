//! One turn of the Ready loop, in the order [`raft_core::Ready`] prescribes.

use std::sync::Arc;

use raft_core::{Event, Ready, Role, Snapshot};
use raft_rpc::StagedSnapshot;
use tracing::{info, trace};

use super::task::NodeTask;
use crate::error::{ClientError, ClusterError};
use crate::event::EventKind;
use crate::fsm::NodeStateMachine;
use crate::snapshot_read::restore_job_from;
use crate::store::{NodeStore, PersistBatch};

impl<M: NodeStateMachine> NodeTask<M> {
    /// Persists, sends, applies and advances one Ready.
    pub(crate) async fn handle_ready(&mut self) -> Result<(), ClusterError> {
        let mut rd = self.raft.ready().map_err(|e| ClusterError::Core(e.to_string()))?;
        self.report_core_events(&rd);
        self.configs.on_append(rd.truncate_from, &rd.entries);
        // Step 3 may precede step 2: a leader sends appends while its own
        // write is in flight (thesis §10.2.1).
        for msg in std::mem::take(&mut rd.messages) {
            self.send_message(msg);
        }
        let (persisted, from_file) = self.persist(rd).await?;
        rd = persisted;
        if let Some(mut snapshot) = rd.snapshot.take() {
            self.restore_snapshot(&mut snapshot, from_file).await?;
            rd.snapshot = Some(snapshot);
        }
        // Votes and append acknowledgements promise durable state (§5.1,
        // thesis §3.8): only now may they go out.
        for msg in std::mem::take(&mut rd.persisted_messages) {
            self.send_message(msg);
        }
        self.apply_committed(&rd.committed_entries)?;
        for rs in &rd.read_states {
            self.reads.confirm(rs.ctx, rs.index);
        }
        self.serve_reads();
        let hint = rd.snapshot_hint;
        self.raft.advance(rd).map_err(|e| ClusterError::Core(e.to_string()))?;
        if hint.is_some() {
            self.start_snapshot()?;
        }
        Ok(())
    }

    /// Step 1 and 2: install the leader's snapshot and write entries plus
    /// hard state as one batch, on a blocking thread so the runtime's worker
    /// threads never wait on the disk. The task awaits the write, which
    /// keeps writes in Ready order. A snapshot received into a staging file
    /// is installed from it (a rename for a disk store); the flag returned
    /// says so, and that its data is not in the Ready.
    async fn persist(&mut self, mut rd: Ready) -> Result<(Ready, bool), ClusterError> {
        let batch = PersistBatch {
            hard_state: rd.hard_state,
            truncate_from: rd.truncate_from,
            entries: std::mem::take(&mut rd.entries),
            sync: rd.must_sync,
        };
        let snapshot = rd.snapshot.take();
        let staged = snapshot.as_ref().and_then(|s| self.inbound_snapshots.take_staged(s.meta.last_log_id));
        let from_file = staged.is_some();
        if batch.is_empty() && snapshot.is_none() {
            rd.entries = batch.entries;
            return Ok((rd, false));
        }
        if snapshot.is_none() && (!batch.sync || self.store.writes_in_memory()) {
            // Only the commit index moved (no entries, term or vote: the
            // core asks for no sync), or the store is memory: the write is
            // a memtable insert and a buffered log write (or a map insert),
            // cheaper than the two thread hops of a blocking-pool round trip
            // that would otherwise sit between every commit and its apply
            // (issue #13).
            self.store.write(&batch).map_err(|e| ClusterError::Storage(format!("write: {e}")))?;
            self.cache_written(&batch, false);
            rd.entries = batch.entries;
            return Ok((rd, false));
        }
        trace!(parent: &self.span, entries = batch.entries.len(), sync = batch.sync, "persisting");
        let store = Arc::clone(&self.store);
        let (batch, snapshot, synced) =
            tokio::task::spawn_blocking(move || write_ready(&*store, batch, snapshot, staged))
                .await
                .map_err(|e| ClusterError::TaskFailed(format!("storage thread: {e}")))??;
        if let Some(took) = synced {
            self.metrics.observe_fsync(took);
        }
        self.cache_written(&batch, snapshot.is_some());
        rd.entries = batch.entries;
        rd.snapshot = snapshot;
        Ok((rd, from_file))
    }

    /// Tells the log cache what the store now holds: `batch` was written,
    /// after a snapshot was installed if `installed` (which changed the
    /// store's log in ways a batch does not describe).
    fn cache_written(&self, batch: &PersistBatch, installed: bool) {
        let mut cache = self.log_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if installed {
            cache.clear();
        }
        cache.on_write(batch.truncate_from, &batch.entries);
    }

    /// Loads a snapshot received from the leader into the state machine:
    /// streamed from the store's file if it was staged (its data is not in
    /// `snapshot`), else from the data the message carried. The state is
    /// read on a blocking thread into a new machine that then replaces ours
    /// (`restore_job`): the node task waits as it does for a disk write, but
    /// no async worker thread is held for the length of a large restore.
    async fn restore_snapshot(&mut self, snapshot: &mut Snapshot, from_file: bool) -> Result<(), ClusterError> {
        let last_log_id = snapshot.meta.last_log_id;
        let index = last_log_id.index;
        let job = self.sm.restore_job();
        let blocking_failed = |e: tokio::task::JoinError| ClusterError::TaskFailed(format!("restore thread: {e}"));
        let (restored, bytes) = if from_file {
            let stored =
                self.store.open_snapshot().map_err(|e| ClusterError::Storage(format!("open snapshot: {e}")))?;
            if stored.meta != snapshot.meta {
                return Err(ClusterError::Storage(format!(
                    "the store holds snapshot {} after installing {last_log_id}",
                    stored.meta.last_log_id
                )));
            }
            let len = stored.len;
            let restored =
                tokio::task::spawn_blocking(move || restore_job_from(job, stored)).await.map_err(blocking_failed)??;
            (restored, len)
        } else {
            let (meta, data) = (snapshot.meta.clone(), std::mem::take(&mut snapshot.data));
            let (restored, data) = tokio::task::spawn_blocking(move || (job(&meta, &mut &data[..]), data))
                .await
                .map_err(blocking_failed)?;
            let len = data.len() as u64;
            snapshot.data = data;
            (restored.map_err(ClusterError::StateMachine)?, len)
        };
        self.sm = restored;
        self.applied_membership = snapshot.meta.membership.clone();
        self.configs.on_snapshot(&snapshot.meta);
        self.writes.fail_through(index, |index| ClientError::LeadershipLost { index });
        self.changes.fail_all(|i| ClientError::LeadershipLost { index: i.unwrap_or(index) });
        info!(parent: &self.span, %index, bytes, from_file, "installed snapshot from leader");
        self.metrics.snapshot_received(bytes);
        self.emit(EventKind::SnapshotInstalled { last_log_id });
        Ok(())
    }

    /// Turns the core's narration into node events, and reacts to losing
    /// leadership: pending writes may or may not commit under the next
    /// leader, unconfirmed reads never will be confirmed.
    fn report_core_events(&mut self, rd: &Ready) {
        for ev in &rd.events {
            let kind = match ev {
                Event::ElectionStarted { term, pre_vote } => {
                    self.metrics.election_started(*pre_vote);
                    EventKind::ElectionStarted { term: *term, pre_vote: *pre_vote }
                }
                Event::BecameLeader { votes, .. } => {
                    self.metrics.election_won();
                    EventKind::LeaderElected { votes: votes.clone() }
                }
                Event::BecameFollower { leader, .. } => {
                    EventKind::RoleChanged { role: Role::Follower, leader: *leader }
                }
                Event::LostQuorum { .. } => EventKind::LostQuorum,
                Event::Committed { index, term } => EventKind::Committed { index: *index, entry_term: *term },
                Event::TransferStarted { to } => EventKind::LeaderTransfer { to: *to },
            };
            self.emit(kind);
        }
        let Some(soft) = rd.soft_state else { return };
        if soft.term != self.last_term {
            let from = self.last_term;
            self.last_term = soft.term;
            self.span.record("term", soft.term.0);
            self.emit(EventKind::TermChanged { from });
        }
        if soft.role != self.last_role {
            if self.last_role == Role::Leader {
                self.writes.fail_all(|index| ClientError::LeadershipLost { index });
                let leader = soft.leader;
                let leader_addr = leader.and_then(|l| self.peers.addr_of(l).map(str::to_string));
                self.reads.fail_unconfirmed(|| ClientError::NotLeader { leader, leader_addr: leader_addr.clone() });
            }
            self.last_role = soft.role;
            if !matches!(soft.role, Role::Leader | Role::Follower) {
                self.emit(EventKind::RoleChanged { role: soft.role, leader: soft.leader });
            }
        }
    }
}

/// What [`write_ready`] hands back: its inputs, so the Ready can be
/// returned to the core intact, and how long a synced write took.
type Written = (PersistBatch, Option<Snapshot>, Option<std::time::Duration>);

/// The blocking half of [`NodeTask::persist`].
fn write_ready(
    store: &dyn NodeStore,
    batch: PersistBatch,
    snapshot: Option<Snapshot>,
    staged: Option<StagedSnapshot>,
) -> Result<Written, ClusterError> {
    let installed = match (&snapshot, &staged) {
        (Some(snap), Some(file)) => store.install_staged(&snap.meta, file.path(), file.len(), file.crc32()),
        (Some(snap), None) => store.install_snapshot(snap),
        (None, _) => Ok(()),
    };
    installed.map_err(|e| ClusterError::Storage(format!("install snapshot: {e}")))?;
    // A staged file not renamed into the store is deleted here.
    drop(staged);
    let mut synced = None;
    if !batch.is_empty() {
        let started = std::time::Instant::now();
        store.write(&batch).map_err(|e| ClusterError::Storage(format!("write: {e}")))?;
        synced = batch.sync.then(|| started.elapsed());
    }
    Ok((batch, snapshot, synced))
}
