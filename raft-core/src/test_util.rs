//! Test helpers: node construction, a MemStorage "runtime" that handles a
#![allow(dead_code)]
//! Ready, and a tiny deterministic cluster that passes messages in FIFO
//! order (no randomness; the seeded simulator lives in `tests/sim`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::Config;
use crate::message::{Message, MessageBody};
use crate::node::RaftNode;
use crate::ready::{Event, ReadState, Ready};
use crate::storage::MemStorage;
use crate::types::{Entry, EntryPayload, LogIndex, Membership, NodeId, Role, Term};

pub type Node = RaftNode<MemStorage>;

pub fn ids(v: &[u64]) -> Vec<NodeId> {
    v.iter().map(|&i| NodeId(i)).collect()
}

pub fn membership(v: &[u64]) -> Membership {
    Membership::new(ids(v))
}

/// Voters plus learners.
pub fn with_learners(voters: &[u64], learners: &[u64]) -> Membership {
    Membership { learners: ids(learners).into_iter().collect(), ..membership(voters) }
}

/// Election timeout 10, heartbeat 1, everything on.
pub fn config(id: u64) -> Config {
    Config::new(NodeId(id))
}

pub fn node_with(cfg: Config, voters: &[u64]) -> Node {
    RaftNode::new(cfg, MemStorage::new_with_membership(membership(voters))).expect("valid node")
}

pub fn node(id: u64, voters: &[u64]) -> Node {
    node_with(config(id), voters)
}

/// Does what a runtime does with a Ready against MemStorage: install, write.
pub fn persist(store: &MemStorage, rd: &Ready) {
    let mut core = store.wl();
    if let Some(s) = &rd.snapshot {
        core.apply_snapshot(s.clone());
    }
    if let Some(t) = rd.truncate_from {
        assert_eq!(rd.entries.first().map(|e| e.index), Some(t), "truncate_from must match the first entry");
    }
    core.append(&rd.entries);
    if let Some(hs) = rd.hard_state {
        core.set_hard_state(hs);
    }
}

/// ready() + persist + advance; returns the Ready for inspection.
pub fn handle_ready(n: &mut Node) -> Ready {
    let rd = n.ready().expect("ready");
    let store = n.storage().clone();
    persist(&store, &rd);
    n.advance(rd.clone()).expect("advance");
    rd
}

pub fn noop(term: u64, index: u64) -> Entry {
    Entry::new(Term(term), LogIndex(index), EntryPayload::Noop)
}

pub fn normal(term: u64, index: u64, data: &[u8]) -> Entry {
    Entry::new(Term(term), LogIndex(index), EntryPayload::Normal(data.to_vec().into()))
}

/// A store preloaded with `entries` and a hard state at `term`.
pub fn store_with_log(voters: &[u64], term: u64, entries: &[Entry]) -> MemStorage {
    let s = MemStorage::new_with_membership(membership(voters));
    s.wl().append(entries);
    s.wl().set_hard_state(crate::types::HardState { term: Term(term), vote: None, commit: LogIndex(0) });
    s
}

pub fn msg(from: u64, to: u64, term: u64, body: MessageBody) -> Message {
    Message { from: NodeId(from), to: NodeId(to), term: Term(term), body }
}

/// A few nodes wired together by a FIFO queue.
pub struct Cluster {
    pub nodes: BTreeMap<NodeId, Node>,
    pub queue: VecDeque<Message>,
    /// Nodes whose incoming and outgoing messages are dropped.
    pub isolated: BTreeSet<NodeId>,
    /// Messages delivered so far.
    pub delivered: usize,
    pub applied: BTreeMap<NodeId, Vec<Entry>>,
    pub read_states: BTreeMap<NodeId, Vec<ReadState>>,
    pub events: BTreeMap<NodeId, Vec<Event>>,
}

impl Cluster {
    pub fn new(voters: &[u64]) -> Self {
        Self::with_config(voters, config)
    }

    pub fn with_config(voters: &[u64], cfg: impl Fn(u64) -> Config) -> Self {
        let nodes = voters.iter().map(|&id| (NodeId(id), node_with(cfg(id), voters))).collect();
        Cluster {
            nodes,
            queue: VecDeque::new(),
            isolated: BTreeSet::new(),
            delivered: 0,
            applied: BTreeMap::new(),
            read_states: BTreeMap::new(),
            events: BTreeMap::new(),
        }
    }

    pub fn node(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&NodeId(id)).expect("node exists")
    }

    /// Handles every pending Ready once, queueing their messages.
    pub fn process_readies(&mut self) -> bool {
        let mut any = false;
        for (id, n) in self.nodes.iter_mut() {
            if !n.has_ready() {
                continue;
            }
            any = true;
            let rd = handle_ready(n);
            self.applied.entry(*id).or_default().extend(rd.committed_entries.iter().cloned());
            self.read_states.entry(*id).or_default().extend(rd.read_states.iter().cloned());
            self.events.entry(*id).or_default().extend(rd.events.iter().cloned());
            for m in rd.messages.into_iter().chain(rd.persisted_messages) {
                self.queue.push_back(m);
            }
        }
        any
    }

    /// Delivers everything queued now (FIFO), dropping isolated traffic.
    pub fn deliver_all(&mut self) {
        let batch: Vec<Message> = self.queue.drain(..).collect();
        for m in batch {
            if self.isolated.contains(&m.from) || self.isolated.contains(&m.to) {
                continue;
            }
            if let Some(n) = self.nodes.get_mut(&m.to) {
                self.delivered += 1;
                n.step(m).expect("step");
            }
        }
    }

    /// Runs readies and deliveries until nothing moves (bounded).
    pub fn stabilize(&mut self) {
        for _ in 0..1000 {
            let any = self.process_readies();
            if !any && self.queue.is_empty() {
                return;
            }
            self.deliver_all();
        }
        panic!("cluster did not stabilize within 1000 rounds");
    }

    /// Ticks every node once, then stabilizes.
    pub fn tick_all(&mut self) {
        for n in self.nodes.values_mut() {
            n.tick();
        }
        self.stabilize();
    }

    /// Campaigns `id` and stabilizes; asserts it won.
    pub fn elect(&mut self, id: u64) {
        self.node(id).campaign().expect("campaign");
        self.stabilize();
        assert_eq!(self.node(id).role(), Role::Leader, "node {id} should have won the election");
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.nodes.values().find(|n| n.role() == Role::Leader).map(|n| n.id())
    }

    pub fn applied_data(&self, id: u64) -> Vec<Vec<u8>> {
        self.applied
            .get(&NodeId(id))
            .map(|v| {
                v.iter()
                    .filter_map(|e| match &e.payload {
                        EntryPayload::Normal(d) => Some(d.to_vec()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Makes `n` leader by feeding it the pre-vote and vote grants of `voters`,
/// then handles the Ready (persisting the noop) and returns that Ready.
pub fn elect_manually(n: &mut Node, voters: &[u64]) -> Ready {
    n.campaign().expect("campaign");
    let me = n.id().0;
    if n.role() == Role::PreCandidate {
        let t = n.term().0 + 1;
        for &v in voters {
            let body = MessageBody::RequestVoteResponse(crate::message::RequestVoteResponse {
                pre_vote: true,
                granted: true,
                retry_next_term: false,
            });
            n.step(msg(v, me, t, body)).expect("step");
        }
    }
    if n.role() == Role::Candidate {
        let t = n.term().0;
        for &v in voters {
            let body = MessageBody::RequestVoteResponse(crate::message::RequestVoteResponse {
                pre_vote: false,
                granted: true,
                retry_next_term: false,
            });
            n.step(msg(v, me, t, body)).expect("step");
        }
    }
    assert_eq!(n.role(), Role::Leader, "manual election must win");
    handle_ready(n)
}

/// An acknowledgement from `from` to `to`.
pub fn ack(from: u64, to: u64, term: u64, match_index: u64) -> Message {
    msg(
        from,
        to,
        term,
        MessageBody::AppendEntriesResponse(crate::message::AppendEntriesResponse {
            result: crate::message::AppendResult::Success { match_index: LogIndex(match_index) },
            read_round: 0,
        }),
    )
}

/// An AppendEntries from leader `from` to `to`.
pub fn append(from: u64, to: u64, term: u64, prev: (u64, u64), entries: Vec<Entry>, commit: u64) -> Message {
    msg(
        from,
        to,
        term,
        MessageBody::AppendEntries(crate::message::AppendEntries {
            prev_log_id: crate::types::LogId::new(Term(prev.0), LogIndex(prev.1)),
            entries,
            leader_commit: LogIndex(commit),
            read_round: 0,
        }),
    )
}

/// The AppendEntries bodies among `msgs` addressed to `to`.
pub fn appends_to(msgs: &[Message], to: u64) -> Vec<crate::message::AppendEntries> {
    msgs.iter()
        .filter(|m| m.to == NodeId(to))
        .filter_map(|m| match &m.body {
            MessageBody::AppendEntries(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}
