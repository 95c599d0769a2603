//! [`NodeTask`]: the loop that owns a node.
//!
//! ```text
//! loop {
//!     wait for: shutdown | tick | peer message | client request | report
//!     drain the queues (bounded by limits.max_batch_requests)   -- batching
//!     while the core has a Ready:
//!         send Ready.messages                                   -- pipelined
//!         persist snapshot + entries + hard state (blocking thread, synced)
//!         send Ready.persisted_messages                         -- after fsync
//!         apply committed entries, answer writes by (index, term)
//!         serve ReadIndex reads whose index is applied
//!         advance; if the core hints, start a snapshot (blocking thread)
//!     publish status
//! }
//! ```
//! No lock is held across an await: the only awaits are the channel waits
//! and the blocking-thread storage calls, which own their data.

use std::collections::BTreeSet;
use std::sync::Arc;

use raft_core::{Membership, Message, MessageBody, NodeId, ProposeError, RaftNode, Role, Term};
use raft_rpc::StagedSnapshot;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{interval, MissedTickBehavior};
use tracing::{debug, info, Span};

use super::config_log::ConfigLog;
use super::fence::IncarnationFence;
use super::inbound_snapshot::{Checked, InboundSnapshots};
use super::local_snapshot::{LocalSnapshots, SnapshotDone};
use super::member_change::PendingChanges;
use super::peers::PeerDirectory;
use super::pending::{PendingReads, PendingWrites};
use super::{ReadMode, Request};
use crate::config::NodeConfig;
use crate::error::{ClientError, ClusterError};
use crate::event::{EventKind, NodeEvent};
use crate::fsm::NodeStateMachine;
use crate::log_cache::LogCache;
use crate::metrics::NodeMetrics;
use crate::status::NodeStatus;
use crate::store::{NodeStore, SharedStore};
use crate::transport::{Report, Reporter, Transport};

/// A loop turn at least this long is logged.
const STALL_WARNING: std::time::Duration = std::time::Duration::from_millis(50);

/// The receiving ends the task reads from.
pub(crate) struct Inputs<M: NodeStateMachine> {
    /// Peer messages with the sender's incarnation (0: unstamped).
    pub(crate) peers: mpsc::Receiver<(Message, u64)>,
    /// InstallSnapshot messages whose data the gRPC server staged to a file.
    pub(crate) staged: mpsc::Receiver<(Message, StagedSnapshot)>,
    pub(crate) requests: mpsc::Receiver<Request<M>>,
    pub(crate) reports: mpsc::Receiver<Report>,
    /// Snapshots from the leader whose check finished.
    pub(crate) checked: mpsc::Receiver<Checked>,
    /// Local snapshots whose job finished.
    pub(crate) snapshots_done: mpsc::Receiver<SnapshotDone>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Everything the node task owns.
pub(crate) struct NodeTask<M: NodeStateMachine> {
    pub(crate) id: NodeId,
    pub(crate) config: Arc<NodeConfig>,
    pub(crate) raft: RaftNode<SharedStore>,
    pub(crate) store: Arc<dyn NodeStore>,
    /// The newest durable entries, which the core reads through its
    /// `SharedStore`; updated here after each write (see `crate::log_cache`).
    pub(crate) log_cache: Arc<std::sync::Mutex<LogCache>>,
    pub(crate) sm: M,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) reporter: Reporter,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) status: watch::Sender<NodeStatus>,
    pub(crate) writes: PendingWrites<M::Response>,
    pub(crate) reads: PendingReads<M::Query, M::QueryResult>,
    /// Membership as of the applied index (what a local snapshot records).
    pub(crate) applied_membership: Membership,
    /// Where the configuration in effect sits in the log.
    pub(crate) configs: ConfigLog,
    /// Peer addresses and the links the transport holds.
    pub(crate) peers: PeerDirectory,
    /// What the links were last computed for (see `sync_peers`).
    pub(crate) peers_synced: Option<(raft_core::LogIndex, bool, Role, Term)>,
    /// Membership changes proposed and not yet answered.
    pub(crate) changes: PendingChanges,
    /// Role and term seen at the end of the previous Ready.
    pub(crate) last_role: Role,
    pub(crate) last_term: Term,
    /// Peers the transport reported unreachable and that have not spoken
    /// since.
    pub(crate) down: BTreeSet<NodeId>,
    /// The longest loop turn so far (see `NodeStatus::longest_stall`).
    pub(crate) longest_stall: std::time::Duration,
    /// Snapshots from the leader being checked before the core sees them.
    pub(crate) inbound_snapshots: InboundSnapshots,
    /// The local snapshot being taken off the node task, if any.
    pub(crate) local_snapshots: LocalSnapshots,
    /// Slots of outgoing snapshot transfers (`MAX_CONCURRENT_SNAPSHOT_SENDS`).
    pub(crate) snapshot_sends: Arc<tokio::sync::Semaphore>,
    /// Drops traffic from wiped-and-restarted peers (see `fence`).
    pub(crate) fence: IncarnationFence,
    /// What `/metrics` shows (see `crate::metrics`).
    pub(crate) metrics: Arc<NodeMetrics>,
    pub(crate) span: Span,
}

impl<M: NodeStateMachine> NodeTask<M> {
    /// Runs until shutdown or a fatal error, then fails whatever is pending
    /// and closes the store.
    pub(crate) async fn run(mut self, mut inputs: Inputs<M>) -> Result<(), ClusterError> {
        let result = self.run_loop(&mut inputs).await;
        let reason = match &result {
            Ok(()) => "shutdown".to_string(),
            Err(e) => format!("fatal: {e}"),
        };
        if let Err(e) = &result {
            tracing::error!(parent: &self.span, error = %e, "node stopping on fatal error");
        }
        inputs.requests.close();
        inputs.peers.close();
        while let Ok(req) = inputs.requests.try_recv() {
            reject(req, ClientError::ShuttingDown);
        }
        // Proposed writes may be on followers already: unknown, not "not done".
        self.writes.fail_all(|index| ClientError::StoppedBeforeCommit { index: Some(index) });
        self.changes.fail_all(|index| ClientError::StoppedBeforeCommit { index });
        self.reads.fail_all(|| ClientError::ShuttingDown);
        let store = Arc::clone(&self.store);
        let closed = tokio::task::spawn_blocking(move || store.close()).await;
        self.emit(EventKind::Stopped { reason: reason.clone() });
        self.publish_status(false);
        info!(parent: &self.span, %reason, "node stopped");
        result?;
        match closed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ClusterError::Storage(format!("close: {e}"))),
            Err(e) => Err(ClusterError::TaskFailed(format!("close: {e}"))),
        }
    }

    async fn run_loop(&mut self, inputs: &mut Inputs<M>) -> Result<(), ClusterError> {
        let mut ticker = interval(self.config.tick_interval());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        self.sync_peers();
        self.publish_status(true);
        loop {
            tokio::select! {
                biased;
                changed = inputs.shutdown.changed() => {
                    if changed.is_err() || *inputs.shutdown.borrow() {
                        return Ok(());
                    }
                }
                _ = ticker.tick() => self.raft.tick(),
                Some((msg, inc)) = inputs.peers.recv() => self.step_stamped(msg, inc)?,
                Some((msg, staged)) = inputs.staged.recv() => self.step_staged(msg, staged)?,
                Some(req) = inputs.requests.recv() => self.handle_request(req),
                Some(report) = inputs.reports.recv() => self.handle_report(report),
                Some(checked) = inputs.checked.recv() => self.on_snapshot_checked(checked)?,
                Some(done) = inputs.snapshots_done.recv() => self.on_snapshot_done(done),
            }
            let woke = tokio::time::Instant::now();
            self.drain(inputs)?;
            while self.raft.has_ready() {
                self.handle_ready().await?;
            }
            self.inbound_snapshots.discard_unused();
            self.sync_peers();
            self.sync_fence()?;
            self.note_turn(woke.elapsed());
            self.publish_status(true);
        }
    }

    /// Records how long one loop turn kept the node from its inputs.
    fn note_turn(&mut self, took: std::time::Duration) {
        if took > self.longest_stall {
            self.longest_stall = took;
            if took >= STALL_WARNING {
                info!(parent: &self.span, took_ms = took.as_millis() as u64, "node loop busy (longest turn so far)");
            }
        }
    }

    /// Takes everything already queued so one Ready covers it (one append,
    /// one fsync for a burst of writes). Bounded so a flood cannot starve
    /// ticks.
    fn drain(&mut self, inputs: &mut Inputs<M>) -> Result<(), ClusterError> {
        let max = self.config.limits.max_batch_requests;
        for _ in 0..max {
            match inputs.requests.try_recv() {
                Ok(req) => self.handle_request(req),
                Err(_) => break,
            }
        }
        for _ in 0..self.config.limits.max_queued_messages {
            match inputs.peers.try_recv() {
                Ok((msg, inc)) => self.step_stamped(msg, inc)?,
                Err(_) => break,
            }
        }
        while let Ok(report) = inputs.reports.try_recv() {
            self.handle_report(report);
        }
        Ok(())
    }

    pub(crate) fn step(&mut self, msg: Message) -> Result<(), ClusterError> {
        if self.down.remove(&msg.from) {
            self.emit(EventKind::PeerUp { peer: msg.from });
        }
        if matches!(msg.body, MessageBody::InstallSnapshot(_)) {
            return self.check_snapshot(msg, None);
        }
        self.raft.step(msg).map_err(|e| ClusterError::Core(e.to_string()))
    }

    /// An InstallSnapshot whose data is the staged file `staged` (snapshot
    /// streams are unstamped, so the incarnation fence does not apply).
    fn step_staged(&mut self, msg: Message, staged: StagedSnapshot) -> Result<(), ClusterError> {
        if self.down.remove(&msg.from) {
            self.emit(EventKind::PeerUp { peer: msg.from });
        }
        if !matches!(msg.body, MessageBody::InstallSnapshot(_)) {
            // raft-rpc stages snapshot streams only; never fatal.
            tracing::warn!(parent: &self.span, from = %msg.from, "staged data with a message that is not a snapshot; dropped");
            return Ok(());
        }
        self.check_snapshot(msg, Some(staged))
    }

    fn handle_report(&mut self, report: Report) {
        match report {
            Report::Unreachable(peer) => {
                self.raft.report_unreachable(peer);
                if self.down.insert(peer) {
                    self.emit(EventKind::PeerDown { peer });
                }
            }
            Report::Reachable(peer) => {
                if self.down.remove(&peer) {
                    self.emit(EventKind::PeerUp { peer });
                }
            }
            Report::SnapshotStatus { peer, success } => self.raft.report_snapshot(peer, success),
        }
    }

    fn handle_request(&mut self, req: Request<M>) {
        if self.writes.len() + self.reads.len() >= self.config.limits.max_pending_requests {
            let msg =
                format!("{} requests pending (limits.max_pending_requests)", self.config.limits.max_pending_requests);
            return reject(req, ClientError::Overloaded(msg));
        }
        match req {
            Request::Propose { data, reply } => match self.raft.propose(data) {
                Ok(id) => self.writes.insert(id, reply),
                Err(e) => drop(reply.send(Err(self.propose_error(e)))),
            },
            Request::Read { query, mode: ReadMode::Stale, reply } => {
                let _ = reply.send(Ok(self.sm.query(&query)));
            }
            Request::Read { query, mode: ReadMode::Linearizable, reply } => {
                let ctx = self.reads.register(query, reply);
                if let Err(e) = self.raft.read_index(ctx) {
                    if let Some((_, reply)) = self.reads.cancel(ctx) {
                        let _ = reply.send(Err(self.propose_error(e)));
                    }
                }
            }
            Request::Campaign { reply } => {
                let r = self.raft.campaign().map_err(|e| ClientError::Rejected(ProposeError::Invalid(e.to_string())));
                let _ = reply.send(r);
            }
            Request::TransferLeader { to, reply } => {
                let _ = reply.send(self.raft.transfer_leader(to).map_err(|e| self.propose_error(e)));
            }
            Request::ChangeMembership { change, reply } => self.change_membership(change, reply),
        }
    }

    /// Maps a core refusal to a client error; NotLeader gets the leader's
    /// address.
    pub(crate) fn propose_error(&self, e: ProposeError) -> ClientError {
        match e {
            ProposeError::NotLeader { leader } => ClientError::NotLeader {
                leader,
                leader_addr: leader.and_then(|l| self.peers.addr_of(l).map(str::to_string)),
            },
            other => ClientError::Rejected(other),
        }
    }

    pub(crate) fn emit(&self, kind: EventKind) {
        debug!(parent: &self.span, event = ?kind, "node event");
        let _ = self.events.send(NodeEvent { node: self.id, term: self.raft.term(), kind });
    }

    pub(crate) fn publish_status(&self, running: bool) {
        let s = self.raft.status();
        self.metrics.observe_status(&s, self.sm.applied_index());
        let snapshot_index = s.first_index.prev();
        let status = NodeStatus {
            id: self.id,
            role: s.role,
            term: s.term,
            leader: s.leader,
            leader_addr: s.leader.and_then(|l| self.peers.addr_of(l).map(str::to_string)),
            commit: s.commit,
            applied: self.sm.applied_index(),
            first_index: s.first_index,
            last_index: s.last_index,
            snapshot_index,
            voters: s.membership.voters.iter().copied().collect(),
            config_index: self.configs.index(),
            membership: s.membership,
            matched: s.progress.iter().map(|(id, p)| (*id, p.matched)).collect(),
            next: s.progress.iter().map(|(id, p)| (*id, p.next)).collect(),
            links: self.peers.linked(),
            unreachable: self.down.iter().copied().collect(),
            running,
            longest_stall: self.longest_stall,
            incarnation: self.store.incarnation(),
            peer_incarnations: self.fence.known().clone(),
            fenced_messages: self.fence.dropped_total(),
        };
        self.status.send_if_modified(|old| {
            if status.leader.is_some() && status.leader != old.leader {
                self.metrics.leader_changed();
            }
            let changed = *old != status;
            *old = status;
            changed
        });
    }
}

/// Answers a request that will not be processed.
pub(crate) fn reject<M: NodeStateMachine>(req: Request<M>, err: ClientError) {
    match req {
        Request::Propose { reply, .. } => drop(reply.send(Err(err))),
        Request::Read { reply, .. } => drop(reply.send(Err(err))),
        Request::Campaign { reply } => drop(reply.send(Err(err))),
        Request::TransferLeader { reply, .. } => drop(reply.send(Err(err))),
        Request::ChangeMembership { reply, .. } => drop(reply.send(Err(err))),
    }
}
