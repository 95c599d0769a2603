//! [`RaftNode`]: one Raft participant as a deterministic state machine.
//!
//! The node's behaviour is spread over a few files by concern, all as plain
//! `impl RaftNode` blocks over the same fields: `election.rs` (pre-vote,
//! vote, role changes), `replication.rs` (the leader's side of
//! AppendEntries, commit), `follower.rs` (the follower's side, snapshot
//! install), `step.rs` (message validation and term rules) and
//! `ready_flow.rs` (building a [`crate::Ready`] and `advance`). This file holds the
//! state and the client-facing API.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::config::{Config, ConfigError};
use crate::error::{Error, ProposeError};
use crate::membership_log::MembershipLog;
use crate::message::{Message, MessageBody};
use crate::progress::{Progress, ProgressState};
use crate::raft_log::RaftLog;
use crate::read_only::ReadOnly;
use crate::ready::{Event, ReadState, SoftState};
use crate::rng::SeededRng;
use crate::status::{PeerProgress, Status};
use crate::storage::Storage;
use crate::types::{Entry, EntryPayload, HardState, LogId, LogIndex, Membership, NodeId, Role, Term};

/// A leader transfer in progress (thesis §3.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transfer {
    /// The transferee.
    pub to: NodeId,
    /// Ticks since the transfer started; aborted at the election timeout.
    pub elapsed: u64,
    /// TimeoutNow already went out.
    pub timeout_now_sent: bool,
}

/// One Raft node. See the crate documentation for the driving loop.
#[derive(Debug)]
pub struct RaftNode<S: Storage> {
    pub(crate) cfg: Config,
    pub(crate) rng: SeededRng,
    pub(crate) log: RaftLog<S>,
    /// Latest term seen (Figure 2). Never decreases.
    pub(crate) term: Term,
    /// Vote cast in `term`.
    pub(crate) vote: Option<NodeId>,
    /// Last log id of the candidate `vote` went to (ours when we voted for
    /// ourselves). `None` when we have not voted in `term` in this process
    /// (a vote restored from disk has no log id): we then give no retry
    /// hint for a taken vote (`vote_retry.rs`). Memory only.
    pub(crate) vote_log: Option<LogId>,
    pub(crate) role: Role,
    /// The leader of `term`, once known.
    pub(crate) leader: Option<NodeId>,
    pub(crate) members: MembershipLog,
    /// Leader only: progress of every other member. Invariant: keys are the
    /// effective membership minus this node, plus members removed by the
    /// latest configuration entry that have not acknowledged it yet (a dead
    /// removed peer stays until the next configuration change or leader).
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    /// (Pre-)candidate only: votes received in this round.
    pub(crate) votes: BTreeMap<NodeId, bool>,
    pub(crate) election_elapsed: u64,
    pub(crate) heartbeat_elapsed: u64,
    /// Drawn from `[T, 2T)` at every timer reset (§5.2).
    pub(crate) randomized_timeout: u64,
    pub(crate) transfer: Option<Transfer>,
    pub(crate) reads: ReadOnly,
    /// Leader only: `(index, bytes)` of entries proposed in this term and
    /// not yet committed (back-pressure accounting).
    pub(crate) uncommitted: VecDeque<(LogIndex, u64)>,
    pub(crate) uncommitted_bytes: u64,
    pub(crate) msgs: Vec<Message>,
    pub(crate) persisted_msgs: Vec<Message>,
    pub(crate) events: Vec<Event>,
    pub(crate) read_states: Vec<ReadState>,
    /// Hard state last handed out in a Ready.
    pub(crate) prev_hard_state: HardState,
    /// Hard state the runtime reported durable (via `advance`).
    pub(crate) persisted_hard_state: HardState,
    pub(crate) prev_soft_state: SoftState,
    /// Applied index at the last snapshot hint.
    pub(crate) hint_at: LogIndex,
}

impl<S: Storage> RaftNode<S> {
    /// Restores a node from `storage` (hard state, snapshot membership and
    /// the membership entries after it). It starts as a follower.
    pub fn new(config: Config, storage: S) -> Result<Self, Error> {
        config.validate()?;
        let init = storage.initial_state()?;
        let hs = init.hard_state;
        let mut log = RaftLog::new(storage, hs.commit)?;
        restore_applied(&mut log, config.applied)?;
        let mut members = MembershipLog::new(init.membership);
        scan_membership(&log, &mut members, config.max_msg_bytes)?;
        let prev_hard_state = HardState { commit: log.committed(), ..hs };
        let mut node = RaftNode {
            rng: SeededRng::new(config.seed),
            cfg: config,
            log,
            term: hs.term,
            vote: hs.vote,
            vote_log: None,
            role: Role::Follower,
            leader: None,
            members,
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: 0,
            transfer: None,
            reads: ReadOnly::default(),
            uncommitted: VecDeque::new(),
            uncommitted_bytes: 0,
            msgs: Vec::new(),
            persisted_msgs: Vec::new(),
            events: Vec::new(),
            read_states: Vec::new(),
            prev_hard_state,
            persisted_hard_state: hs,
            prev_soft_state: SoftState { role: Role::Follower, leader: None, term: hs.term },
            hint_at: LogIndex(0),
        };
        node.reset_timers();
        tracing::info!(
            node = node.id().0,
            term = node.term.0,
            last_index = node.log.last_index().0,
            commit = node.log.committed().0,
            "raft node restored"
        );
        Ok(node)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    /// Its role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Its current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// The leader it knows of in its term.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The storage it reads from.
    pub fn storage(&self) -> &S {
        self.log.storage()
    }

    /// Proposes `data` for the replicated log. Only appends to the unstable
    /// log: the append messages go out with the next [`RaftNode::ready`], so
    /// proposals between two `ready` calls are batched.
    pub fn propose(&mut self, data: impl Into<Bytes>) -> Result<LogId, ProposeError> {
        self.check_can_propose()?;
        let data = data.into();
        let size = data.len() as u64;
        if size > self.cfg.max_entry_bytes {
            return Err(ProposeError::EntryTooLarge { size, limit: self.cfg.max_entry_bytes });
        }
        let limit = self.cfg.max_uncommitted_bytes;
        let entry_bytes = size + crate::types::ENTRY_OVERHEAD_BYTES;
        if limit > 0 && self.uncommitted_bytes > 0 && self.uncommitted_bytes + entry_bytes > limit {
            return Err(ProposeError::Backpressure { pending: self.uncommitted_bytes });
        }
        Ok(self.append_entry(EntryPayload::Normal(data)))
    }

    /// Asks for a linearizable read point (§6.4). The answer arrives as a
    /// [`ReadState`] in a later Ready once leadership is confirmed.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader { leader: self.leader });
        }
        if !self.committed_in_term() {
            // §6.4 step 1: a new leader learns the commit index only once an
            // entry of its own term commits.
            self.reads.defer(ctx);
        } else {
            self.register_read(ctx);
        }
        Ok(())
    }

    /// Hands leadership to `to` (thesis §3.10): proposals are refused while
    /// the transfer runs; it is aborted after an election timeout.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader { leader: self.leader });
        }
        if to == self.id() {
            return Ok(());
        }
        if !self.members.effective().voters.contains(&to) {
            return Err(ProposeError::Invalid(format!("transferee {to} is not a voter")));
        }
        if self.transfer.is_some_and(|t| t.to == to) {
            return Ok(());
        }
        tracing::info!(node = self.id().0, term = self.term.0, to = to.0, "leader transfer started");
        self.transfer = Some(Transfer { to, elapsed: 0, timeout_now_sent: false });
        self.events.push(Event::TransferStarted { to });
        self.maybe_send_timeout_now(to);
        Ok(())
    }

    /// A message to `peer` could not be delivered: stop pipelining to it.
    pub fn report_unreachable(&mut self, peer: NodeId) {
        if let Some(pr) = self.progress.get_mut(&peer) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
            }
        }
    }

    /// The InstallSnapshot to `peer` finished (`success`) or failed. Either
    /// way the peer goes back to probing; it is paused until it answers or
    /// the next heartbeat.
    pub fn report_snapshot(&mut self, peer: NodeId, success: bool) {
        if let Some(pr) = self.progress.get_mut(&peer) {
            if pr.state == ProgressState::Snapshot {
                if !success {
                    pr.pending_snapshot = LogIndex(0);
                }
                pr.become_probe();
                pr.probe_sent = true;
            }
        }
    }

    /// The node's state now.
    pub fn status(&self) -> Status {
        let mut progress: BTreeMap<NodeId, PeerProgress> = self
            .progress
            .iter()
            .map(|(&id, p)| {
                let peer = PeerProgress {
                    matched: p.matched,
                    next: p.next,
                    state: p.state,
                    inflight_messages: p.inflights.count(),
                    inflight_bytes: p.inflights.bytes(),
                    log_lost: p.log_lost,
                };
                (id, peer)
            })
            .collect();
        if self.role == Role::Leader {
            let me = PeerProgress {
                matched: self.log.persisted(),
                next: self.log.last_index().next(),
                state: ProgressState::Replicate,
                log_lost: false,
                inflight_messages: 0,
                inflight_bytes: 0,
            };
            progress.insert(self.id(), me);
        }
        Status {
            id: self.id(),
            role: self.role,
            term: self.term,
            leader: self.leader,
            vote: self.vote,
            commit: self.log.committed(),
            applied: self.log.applied(),
            first_index: self.log.first_index().unwrap_or(LogIndex(0)),
            last_index: self.log.last_index(),
            // The term at the last index is in memory or in the store's
            // index; a store that cannot say reports the lowest term.
            last_term: self.log.last_log_id().map_or(Term(0), |id| id.term),
            promotable: self.promotable(),
            membership: self.members.effective().clone(),
            membership_committed: self.members.latest_index().is_none_or(|i| i <= self.log.committed()),
            progress,
        }
    }

    // ---- shared helpers -------------------------------------------------

    /// The configuration in effect (latest in the log, thesis §4.1); every
    /// quorum decision goes through [`crate::quorum`]'s `joint_*` functions
    /// over it, so a joint configuration needs both majorities (§4.3).
    pub(crate) fn config(&self) -> &Membership {
        self.members.effective()
    }

    /// A voter (of either half of a joint configuration, thesis §4.3) may
    /// campaign; learners and removed nodes may not. Thesis
    /// §4.2.2: "a server that is not part of its own latest configuration
    /// should still start new elections, as it might still be needed until
    /// the C_new entry is committed"; so while the latest membership entry
    /// is uncommitted, a voter of the configuration before it may campaign
    /// too (its own vote does not count: votes are tallied over the voters
    /// of its latest configuration, and it steps down once that commits).
    /// Without this, a removed voter holding the longest log refuses every
    /// other candidate and the cluster never elects (sim seeds 5301006 and
    /// 7400559 of core-sim).
    pub(crate) fn promotable(&self) -> bool {
        let me = self.id();
        let pending = self.members.latest_index().is_some_and(|i| i > self.log.committed());
        self.config().is_voter(me) || (pending && self.members.previous().is_voter(me))
    }

    pub(crate) fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote, commit: self.log.committed() }
    }

    pub(crate) fn soft_state(&self) -> SoftState {
        SoftState { role: self.role, leader: self.leader, term: self.term }
    }

    pub(crate) fn committed_in_term(&self) -> bool {
        self.log.term(self.log.committed()).is_ok_and(|t| t == self.term)
    }

    pub(crate) fn reset_timers(&mut self) {
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        let t = self.cfg.election_ticks;
        self.randomized_timeout = self.rng.gen_range(t, 2 * t);
    }

    /// A message that may go out at once.
    pub(crate) fn send(&mut self, to: NodeId, body: MessageBody) {
        self.msgs.push(Message { from: self.id(), to, term: self.term, body });
    }

    /// A reply with an explicit term. It waits for persistence whenever the
    /// node has state that is not yet durable: the reply may promise it
    /// (votes, acknowledgements; §5.1, thesis §3.8).
    pub(crate) fn respond(&mut self, to: NodeId, term: Term, body: MessageBody) {
        let msg = Message { from: self.id(), to, term, body };
        let hs_dirty = (self.term, self.vote) != (self.persisted_hard_state.term, self.persisted_hard_state.vote);
        if hs_dirty || self.log.has_unpersisted() {
            self.persisted_msgs.push(msg);
        } else {
            self.msgs.push(msg);
        }
    }

    pub(crate) fn check_can_propose(&self) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader { leader: self.leader });
        }
        if let Some(t) = self.transfer {
            return Err(ProposeError::TransferInProgress { to: t.to });
        }
        Ok(())
    }

    /// Leader: appends a new entry of its term to the unstable log.
    pub(crate) fn append_entry(&mut self, payload: EntryPayload) -> LogId {
        let index = self.log.last_index().next();
        let entry = Entry::new(self.term, index, payload);
        let size = entry.size_bytes();
        self.uncommitted.push_back((index, size));
        self.uncommitted_bytes += size;
        let membership = match &entry.payload {
            EntryPayload::Membership(m) => Some(m.clone()),
            _ => None,
        };
        self.log.append(vec![entry]);
        if let Some(m) = membership {
            tracing::info!(node = self.id().0, term = self.term.0, index = index.0, ?m, "membership entry appended");
            self.members.push(index, m);
            self.sync_progress();
        }
        tracing::trace!(node = self.id().0, term = self.term.0, index = index.0, "entry appended");
        LogId::new(self.term, index)
    }

    /// Leader: the peers to replicate to. Every other member, plus the
    /// members the latest configuration entry removed that have not yet
    /// acknowledged it: a removed server must receive the entry that
    /// removes it, or it keeps seeing itself as a voter and campaigning
    /// (thesis §4.2.2). Departing peers never count toward a quorum. A new
    /// leader (no progress yet) only picks them up while the removal is
    /// uncommitted, so a decommissioned server is not contacted forever.
    pub(crate) fn replication_targets(&self) -> BTreeSet<NodeId> {
        let me = self.id();
        let effective = self.members.effective();
        let mut targets: BTreeSet<NodeId> = effective.members().filter(|&id| id != me).collect();
        if let Some(index) = self.members.latest_index() {
            let uncommitted = index > self.log.committed();
            let departing = self.members.previous().members().filter(|&id| id != me && !effective.contains(id));
            targets.extend(departing.filter(|id| self.progress.get(id).map_or(uncommitted, |p| p.matched < index)));
        }
        targets
    }

    /// Leader: a departing peer (see [`Self::replication_targets`]) that
    /// holds the entry removing it is no longer replicated to once that
    /// entry is committed, after a last heartbeat that tells it so: until
    /// it knows the removal committed it may campaign (thesis §4.2.2, see
    /// [`Self::promotable`]).
    pub(crate) fn maybe_release_departed(&mut self, peer: NodeId) {
        let Some(index) = self.members.latest_index() else { return };
        let done = self.progress.get(&peer).is_some_and(|p| p.matched >= index) && self.log.committed() >= index;
        if done && !self.members.effective().contains(peer) {
            tracing::info!(node = self.id().0, term = self.term.0, peer = peer.0, "removed peer has its removal");
            self.send_heartbeat(peer);
            self.progress.remove(&peer);
        }
    }

    /// Leader: makes the progress map match [`Self::replication_targets`].
    pub(crate) fn sync_progress(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let members = self.replication_targets();
        self.progress.retain(|id, _| members.contains(id));
        let next = self.log.last_index();
        for id in members {
            self.progress
                .entry(id)
                .or_insert_with(|| Progress::new(next, self.cfg.max_inflight_msgs, self.cfg.max_inflight_bytes));
        }
        if let Some(t) = self.transfer {
            if !self.progress.contains_key(&t.to) {
                self.transfer = None;
            }
        }
    }
}

/// Applies [`Config::applied`]: 0 keeps the snapshot index; anything else
/// must lie between the snapshot index and the durable commit index.
fn restore_applied<S: Storage>(log: &mut RaftLog<S>, applied: LogIndex) -> Result<(), Error> {
    if applied == LogIndex(0) {
        return Ok(());
    }
    let (snapshot, commit) = (log.applied(), log.committed());
    if applied < snapshot || applied > commit {
        return Err(ConfigError::AppliedOutOfRange { applied, snapshot, commit }.into());
    }
    log.restore_applied(applied);
    Ok(())
}

/// Replays the membership entries after the snapshot (thesis §4.1: the
/// latest configuration in the log is in effect, committed or not).
fn scan_membership<S: Storage>(log: &RaftLog<S>, members: &mut MembershipLog, chunk: u64) -> Result<(), Error> {
    let mut next = log.first_index()?;
    let end = log.last_index().next();
    while next < end {
        let batch = log.entries(next, end, Some(chunk))?;
        let Some(last) = batch.last().map(|e| e.index) else { break };
        for e in batch {
            if let EntryPayload::Membership(m) = e.payload {
                members.push(e.index, m);
            }
        }
        next = last.next();
    }
    Ok(())
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
