//! One simulated server: a `RaftNode` (volatile), its `MemStorage`
//! (durable: it survives a crash) and its state machine (volatile), plus the
//! runtime loop that handles a `Ready` exactly as `ready.rs` prescribes.
//!
//! A crash can be scheduled at a `Ready` boundary: before the write (the
//! Ready's writes and its `persisted_messages` are lost, its `messages` may
//! already be out), in the middle of the write (torn: a prefix of the
//! entries survives, the hard state only if every entry did), after the
//! write (the acknowledgements are lost), or after sending but before
//! `advance`. Whatever `persisted_messages` acknowledge is checked to be
//! durable at the moment they are sent (`invariants/durability.rs`).

use raft_core::{Config, Entry, LogIndex, MemStorage, Message, NodeId, RaftNode, ReadState, Ready, Storage, Term};

use super::state_machine::SimStateMachine;
use crate::invariants::{Inv, Invariants, Violation};

/// Where, within the handling of its next `Ready`, a node crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// After `messages` went out, before anything was written.
    BeforePersist,
    /// In the middle of the write: the storage keeps the snapshot only if
    /// `keep_permille >= 500`, then the first `len * keep_permille / 1000`
    /// entries, then the hard state only if every entry was written and
    /// `hard_state` (etcd's doc.go order: entries, then hard state).
    TornWrite {
        /// Share of the Ready's entries that reach the disk, in ‰.
        keep_permille: u64,
        /// Whether the hard state is written when every entry was.
        hard_state: bool,
    },
    /// After the write, before `persisted_messages` went out.
    AfterPersist,
    /// After sending and applying, before `advance`.
    BeforeAdvance,
}

/// A read whose ReadState arrived and whose index the state machine reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// The node that served it.
    pub node: NodeId,
    /// The caller's token.
    pub ctx: u64,
    /// The read index the leader confirmed.
    pub index: LogIndex,
    /// The state machine's applied index when the read was answered.
    pub applied: LogIndex,
    /// The state machine's digest when the read was answered.
    pub digest: u64,
}

/// What handling one `Ready` produced.
#[derive(Default)]
pub struct ReadyOutcome {
    /// Messages to hand to the network, in order.
    pub outbox: Vec<Message>,
    /// Reads answered.
    pub reads: Vec<ReadResult>,
    /// The node crashed while handling it.
    pub crashed: bool,
    /// Trace lines worth keeping.
    pub notes: Vec<String>,
    /// A snapshot from the leader was installed (and the write completed).
    pub installed_snapshot: bool,
}

/// One server of the simulated cluster.
pub struct NodeHost {
    /// Its id.
    pub id: NodeId,
    /// The protocol state; `None` while crashed.
    pub node: Option<RaftNode<MemStorage>>,
    /// Durable storage (shared with the node, survives crashes).
    pub storage: MemStorage,
    /// The state machine (rebuilt on restart).
    pub sm: SimStateMachine,
    /// How many times it was started.
    pub incarnation: u64,
    /// A crash scheduled inside the next `Ready` handling.
    pub crash_at: Option<CrashPoint>,
    /// ReadStates waiting for the state machine to catch up.
    pending_reads: Vec<ReadState>,
    /// A deliberately broken runtime (for testing the checkers end to end):
    /// `persisted_messages` go out even when the write is lost in a crash.
    pub ack_before_persist: bool,
    /// Check that acknowledged writes are durable (off only to show that
    /// the protocol-level checkers catch a broken runtime on their own).
    pub check_durability: bool,
}

fn contract(detail: String) -> Violation {
    Violation::new(Inv::ReadyContract, detail)
}

impl NodeHost {
    /// A host with fresh bootstrap storage, not yet started.
    pub fn new(id: NodeId, storage: MemStorage) -> Self {
        let snap = storage.snapshot().expect("MemStorage reads cannot fail");
        NodeHost {
            id,
            node: None,
            sm: SimStateMachine::new(snap.meta.membership),
            storage,
            incarnation: 0,
            crash_at: None,
            pending_reads: Vec::new(),
            ack_before_persist: false,
            check_durability: true,
        }
    }

    /// True while running.
    pub fn is_up(&self) -> bool {
        self.node.is_some()
    }

    /// The running node. Panics if crashed (a harness bug).
    pub fn node(&mut self) -> &mut RaftNode<MemStorage> {
        let id = self.id;
        self.node.as_mut().unwrap_or_else(|| panic!("harness used crashed node {id}"))
    }

    /// Drops everything volatile.
    pub fn crash(&mut self) {
        self.node = None;
        self.crash_at = None;
        self.pending_reads.clear();
    }

    /// Starts (or restarts) the node from its storage: the state machine is
    /// restored from the stored snapshot and replayed up to the node's
    /// applied index from the stored log.
    pub fn start(&mut self, mut config: Config, inv: &mut Invariants) -> Result<(), Violation> {
        self.incarnation += 1;
        config.id = self.id;
        let snap = self.storage.snapshot().expect("MemStorage reads cannot fail");
        self.sm = SimStateMachine::from_bytes(&snap.data, &snap.meta.membership).map_err(contract)?;
        let node = RaftNode::new(config, self.storage.clone())
            .map_err(|e| contract(format!("{} failed to restart from its storage: {e}", self.id)))?;
        let st = node.status();
        inv.on_restart(self.id, st.term, st.commit, &self.storage)?;
        inv.on_restore(self.id, st.term, snap.meta.last_log_id.index, snap.meta.last_log_id.term, self.sm.digest)?;
        if st.applied > self.sm.applied {
            let entries = self.storage.entries(self.sm.applied.next(), st.applied.next(), None).map_err(|e| {
                contract(format!("{} reports applied {} but storage lacks it: {e}", self.id, st.applied))
            })?;
            for e in &entries {
                self.apply(e, st.term, inv)?;
            }
        }
        self.node = Some(node);
        Ok(())
    }

    fn apply(&mut self, entry: &Entry, node_term: Term, inv: &mut Invariants) -> Result<(), Violation> {
        if entry.index != self.sm.applied.next() {
            return Err(contract(format!(
                "{} was handed committed entry {} but has applied up to {}",
                self.id,
                entry.log_id(),
                self.sm.applied
            )));
        }
        self.sm.apply(entry);
        inv.on_apply(self.id, node_term, entry, self.sm.digest, &self.sm.membership)
    }

    /// Takes one `Ready` and handles it (persist, send, apply, advance),
    /// honouring a scheduled crash.
    pub fn handle_ready(&mut self, inv: &mut Invariants) -> Result<ReadyOutcome, Violation> {
        let mut out = ReadyOutcome::default();
        let id = self.id;
        let node = self.node();
        let (role, term) = (node.role(), node.term());
        let ready = node.ready().map_err(|e| contract(format!("{id}: ready() failed: {e}")))?;
        inv.on_ready(id, role, term, &ready, &self.storage)?;
        note_events(id, &ready, &mut out.notes);
        out.outbox.extend(ready.messages.iter().cloned());
        if self.ack_before_persist {
            self.acknowledge(&ready, inv, &mut out)?;
        }
        match self.crash_at {
            Some(CrashPoint::BeforePersist) => {
                self.crash();
                out.crashed = true;
                return Ok(out);
            }
            Some(CrashPoint::TornWrite { keep_permille, hard_state }) => {
                self.persist_torn(&ready, term, keep_permille, hard_state, inv, &mut out.notes)?;
                self.crash();
                out.crashed = true;
                return Ok(out);
            }
            _ => {}
        }
        self.persist(&ready, term, inv)?;
        out.installed_snapshot = ready.snapshot.is_some();
        if self.crash_at == Some(CrashPoint::AfterPersist) {
            self.crash();
            out.crashed = true;
            return Ok(out);
        }
        if !self.ack_before_persist {
            self.acknowledge(&ready, inv, &mut out)?;
        }
        for e in &ready.committed_entries {
            self.apply(e, term, inv)?;
        }
        self.pending_reads.extend(ready.read_states.iter().cloned());
        self.serve_reads(&mut out.reads);
        if let Some(hint) = ready.snapshot_hint {
            self.take_snapshot(hint, &mut out.notes)?;
        }
        if self.crash_at == Some(CrashPoint::BeforeAdvance) {
            self.crash();
            out.crashed = true;
            return Ok(out);
        }
        self.node().advance(ready).map_err(|e| contract(format!("{id}: advance() failed: {e}")))?;
        Ok(out)
    }

    /// Step 4: hands `persisted_messages` out, after checking that what they
    /// acknowledge is durable.
    fn acknowledge(&mut self, ready: &Ready, inv: &mut Invariants, out: &mut ReadyOutcome) -> Result<(), Violation> {
        if self.check_durability {
            inv.on_acknowledged(self.id, ready, &self.storage)?;
        }
        out.outbox.extend(ready.persisted_messages.iter().cloned());
        Ok(())
    }

    /// A crash in the middle of the write: only a prefix of it survives.
    fn persist_torn(
        &mut self,
        ready: &Ready,
        term: Term,
        keep_permille: u64,
        hard_state: bool,
        inv: &mut Invariants,
        notes: &mut Vec<String>,
    ) -> Result<(), Violation> {
        if ready.snapshot.is_some() && keep_permille < 500 {
            notes.push(format!("{} torn write: nothing reached the disk", self.id));
            return Ok(());
        }
        let keep = ready.entries.len() * keep_permille.min(1000) as usize / 1000;
        let all = keep == ready.entries.len();
        let partial = Ready {
            snapshot: ready.snapshot.clone(),
            truncate_from: ready.truncate_from.filter(|_| keep > 0),
            entries: ready.entries[..keep].to_vec(),
            hard_state: ready.hard_state.filter(|_| all && hard_state),
            ..Default::default()
        };
        notes.push(format!(
            "{} torn write: {keep} of {} entries, hard state {}",
            self.id,
            ready.entries.len(),
            if partial.hard_state.is_some() { "saved" } else { "lost" }
        ));
        self.persist(&partial, term, inv)
    }

    /// Step 1 and 2 of the Ready contract: snapshot, truncate + append, hard state.
    fn persist(&mut self, ready: &Ready, term: Term, inv: &mut Invariants) -> Result<(), Violation> {
        let id = self.id;
        let before = self.storage.rl().hard_state();
        if let Some(snap) = &ready.snapshot {
            let restored = SimStateMachine::from_bytes(&snap.data, &snap.meta.membership).map_err(contract)?;
            if restored.applied != snap.meta.last_log_id.index {
                return Err(contract(format!(
                    "{id}: snapshot meta {} but state at {}",
                    snap.meta.last_log_id, restored.applied
                )));
            }
            if restored.applied < self.sm.applied {
                return Err(contract(format!(
                    "{id} asked to install snapshot {} below its applied index {}",
                    snap.meta.last_log_id, self.sm.applied
                )));
            }
            self.storage.wl().apply_snapshot(snap.clone());
            self.sm = restored;
            inv.on_restore(id, term, snap.meta.last_log_id.index, snap.meta.last_log_id.term, self.sm.digest)?;
        }
        if let Some(from) = ready.truncate_from {
            if ready.entries.first().map(|e| e.index) != Some(from) {
                return Err(contract(format!(
                    "{id}: truncate_from {from} without entries starting there (first entry {:?})",
                    ready.entries.first().map(Entry::log_id)
                )));
            }
        }
        if let Some(first) = ready.entries.first() {
            let last = self.storage.last_index().expect("MemStorage reads cannot fail");
            if first.index > last.next() {
                return Err(contract(format!("{id}: entries start at {} leaving a gap after {last}", first.index)));
            }
            if first.index <= last
                && ready.truncate_from.is_none()
                && first.index > crate::harness::snapshot_index(&self.storage)
            {
                let stored = self.storage.term(first.index).ok();
                if stored != Some(first.term) {
                    return Err(contract(format!(
                        "{id}: entry {} overwrites stored term {stored:?} without truncate_from",
                        first.log_id()
                    )));
                }
            }
            self.storage.wl().append(&ready.entries);
        }
        if let Some(hs) = ready.hard_state {
            self.storage.wl().set_hard_state(hs);
        }
        inv.on_persisted(id, before, ready, &self.storage)
    }

    fn serve_reads(&mut self, out: &mut Vec<ReadResult>) {
        let applied = self.sm.applied;
        let (done, wait): (Vec<ReadState>, Vec<ReadState>) =
            self.pending_reads.drain(..).partition(|r| r.index <= applied);
        self.pending_reads = wait;
        out.extend(done.into_iter().map(|r| ReadResult {
            node: self.id,
            ctx: r.ctx,
            index: r.index,
            applied,
            digest: self.sm.digest,
        }));
    }

    /// Snapshot hint: snapshot the applied state and compact the log.
    fn take_snapshot(&mut self, hint: LogIndex, notes: &mut Vec<String>) -> Result<(), Violation> {
        let index = self.sm.applied;
        if index <= crate::harness::snapshot_index(&self.storage) {
            return Ok(());
        }
        self.storage
            .wl()
            .create_snapshot(index, self.sm.membership.clone(), self.sm.to_bytes())
            .map_err(|e| contract(format!("{}: create_snapshot at {index} failed: {e}", self.id)))?;
        notes.push(format!("{} snapshot at {index} (hint {hint})", self.id));
        Ok(())
    }

    /// The node's term, if running.
    pub fn term(&self) -> Option<Term> {
        self.node.as_ref().map(|n| n.term())
    }
}

fn note_events(id: NodeId, ready: &Ready, notes: &mut Vec<String>) {
    for ev in &ready.events {
        notes.push(format!("{id} {ev:?}"));
    }
    if let Some(from) = ready.truncate_from {
        notes.push(format!("{id} truncates from {from}"));
    }
    if let Some(s) = &ready.snapshot {
        notes.push(format!("{id} installs snapshot {}", s.meta.last_log_id));
    }
}
