//! The simulated network: every message gets a random delay (in ticks), may
//! be lost or duplicated, and is reordered by the delays. Links can be cut
//! one way or both ways, which is how partitions, isolated leaders, bridge
//! nodes and one-way links are all expressed.
//!
//! Determinism: all randomness comes from one `SeededRng`, the queue is a
//! `BTreeMap` keyed by `(deliver_at, sequence)`, and nothing reads a clock.

use std::collections::{BTreeMap, BTreeSet};

use raft_core::{Message, MessageBody, NodeId, SeededRng};

/// How unfriendly the network is.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// Smallest delay in ticks (0 = delivered within the same tick).
    pub min_delay: u64,
    /// Largest ordinary delay in ticks (inclusive).
    pub max_delay: u64,
    /// Probability that a message is silently lost.
    pub drop_rate: f64,
    /// Probability that a message is delivered twice.
    pub dup_rate: f64,
    /// Probability that a message takes a long detour (heavy reordering).
    pub long_delay_rate: f64,
    /// Largest long-detour delay in ticks.
    pub long_delay_max: u64,
}

impl NetConfig {
    /// Every message arrives, once, within the tick it was sent.
    pub fn reliable() -> Self {
        NetConfig { min_delay: 0, max_delay: 0, drop_rate: 0.0, dup_rate: 0.0, long_delay_rate: 0.0, long_delay_max: 0 }
    }

    /// Lossy and reordering, in the spirit of the 6.824 "unreliable" network:
    /// 10% loss, some duplicates, delays up to 2 ticks and occasional long
    /// detours of up to 7 ticks.
    pub fn unreliable() -> Self {
        NetConfig {
            min_delay: 0,
            max_delay: 2,
            drop_rate: 0.1,
            dup_rate: 0.05,
            long_delay_rate: 0.05,
            long_delay_max: 7,
        }
    }

    /// Delays and reordering but no loss (used once a run is healing).
    pub fn delayed() -> Self {
        NetConfig { min_delay: 0, max_delay: 2, drop_rate: 0.0, dup_rate: 0.0, long_delay_rate: 0.0, long_delay_max: 0 }
    }
}

/// What happened to a sent message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Queued for delivery (possibly twice).
    Queued,
    /// The link is cut: the transport would notice the failure.
    LinkDown,
    /// Silently lost.
    Lost,
}

/// Counters over every message handed to the network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages the nodes sent (whatever became of them).
    pub sent: u64,
    /// Sum of `Message::size_bytes` over sent messages.
    pub bytes: u64,
    /// Messages delivered to a live node.
    pub delivered: u64,
    /// Messages lost, cut or addressed to a crashed node.
    pub dropped: u64,
    /// Sent messages by kind.
    pub by_kind: BTreeMap<&'static str, u64>,
}

/// The in-flight message queue plus the link table.
pub struct Network {
    cfg: NetConfig,
    rng: SeededRng,
    /// Keyed by (tick at which it may be delivered, send sequence).
    queue: BTreeMap<(u64, u64), Message>,
    seq: u64,
    /// Directed links that are cut: `(from, to)`.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Counters since the last [`Network::reset_stats`].
    pub stats: NetStats,
}

impl Network {
    /// A network whose randomness is fully determined by `seed`.
    pub fn new(cfg: NetConfig, seed: u64) -> Self {
        Network {
            cfg,
            rng: SeededRng::new(seed),
            queue: BTreeMap::new(),
            seq: 0,
            blocked: BTreeSet::new(),
            stats: NetStats::default(),
        }
    }

    /// Changes the fault model for messages sent from now on.
    pub fn set_config(&mut self, cfg: NetConfig) {
        self.cfg = cfg;
    }

    /// The current fault model.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// Zeroes the counters.
    pub fn reset_stats(&mut self) {
        self.stats = NetStats::default();
    }

    /// Replaces the set of cut directed links.
    pub fn set_blocked(&mut self, blocked: BTreeSet<(NodeId, NodeId)>) {
        self.blocked = blocked;
    }

    /// True if `from` can currently reach `to`.
    pub fn link_up(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.contains(&(from, to))
    }

    /// Hands a message to the network at tick `now`.
    pub fn send(&mut self, msg: Message, now: u64) -> SendOutcome {
        self.stats.sent += 1;
        self.stats.bytes += msg.size_bytes();
        *self.stats.by_kind.entry(msg.kind()).or_insert(0) += 1;
        if !self.link_up(msg.from, msg.to) {
            self.stats.dropped += 1;
            return SendOutcome::LinkDown;
        }
        if self.cfg.drop_rate > 0.0 && self.rng.gen_bool(self.cfg.drop_rate) {
            self.stats.dropped += 1;
            return SendOutcome::Lost;
        }
        let copies = if self.cfg.dup_rate > 0.0 && self.rng.gen_bool(self.cfg.dup_rate) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.draw_delay();
            self.seq += 1;
            self.queue.insert((now + delay, self.seq), msg.clone());
        }
        SendOutcome::Queued
    }

    fn draw_delay(&mut self) -> u64 {
        if self.cfg.long_delay_rate > 0.0 && self.rng.gen_bool(self.cfg.long_delay_rate) {
            return self.rng.gen_range(self.cfg.max_delay, self.cfg.long_delay_max.max(self.cfg.max_delay) + 1);
        }
        if self.cfg.max_delay <= self.cfg.min_delay {
            return self.cfg.min_delay;
        }
        self.rng.gen_range(self.cfg.min_delay, self.cfg.max_delay + 1)
    }

    /// Takes the next message due at or before `now`, if any. A message whose
    /// link was cut while it was in flight is dropped here (the returned
    /// flag is false) so that a partition also catches in-flight traffic.
    pub fn pop_due(&mut self, now: u64) -> Option<(Message, bool)> {
        let key = *self.queue.keys().next()?;
        if key.0 > now {
            return None;
        }
        let msg = self.queue.remove(&key).expect("key was just read");
        let up = self.link_up(msg.from, msg.to);
        if up {
            self.stats.delivered += 1;
        } else {
            self.stats.dropped += 1;
        }
        Some((msg, up))
    }

    /// Drops every in-flight message to or from `id` with probability `p`
    /// (what a crash does to the connections of the crashed node).
    pub fn drop_in_flight_of(&mut self, id: NodeId, p: f64) {
        let keys: Vec<(u64, u64)> =
            self.queue.iter().filter(|(_, m)| m.from == id || m.to == id).map(|(k, _)| *k).collect();
        for k in keys {
            if p >= 1.0 || self.rng.gen_bool(p) {
                self.queue.remove(&k);
                self.stats.dropped += 1;
            }
        }
    }

    /// The messages in flight, in delivery order.
    pub fn in_flight_messages(&self) -> impl Iterator<Item = &Message> {
        self.queue.values()
    }

    /// Number of messages in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// True if the message is an InstallSnapshot (whose fate the transport
    /// reports back to the sender).
    pub fn is_snapshot(msg: &Message) -> bool {
        matches!(msg.body, MessageBody::InstallSnapshot(_))
    }
}
