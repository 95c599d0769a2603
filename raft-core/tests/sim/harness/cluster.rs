//! The simulated cluster: nodes, network, clock and the invariant checkers.
//!
//! Time is a tick counter. One [`Cluster::tick`] ticks every live node, then
//! delivers every message due by now, one at a time; after every single
//! step (a tick of one node, one delivery, one `Ready` handled) all safety
//! invariants are checked. Any violation panics with the seed and the one
//! command that replays the run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use raft_core::{Config, MemStorage, Membership, Message, NodeId, SeededRng, Storage};

use super::coverage::Coverage;
use super::network::{NetConfig, Network, SendOutcome};
use super::node_host::{CrashPoint, NodeHost, ReadResult};
use crate::invariants::{record_failure, Inv, Invariants, NodeView, Violation};

/// How many trace lines a failure report shows.
const TRACE_LINES: usize = 60;
/// A single tick may not deliver more messages than this (a message storm
/// is a bug in itself).
const MAX_STEPS_PER_TICK: u64 = 200_000;

/// Everything that defines a run besides the schedule.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Cluster size.
    pub nodes: usize,
    /// The one number that reproduces the run.
    pub seed: u64,
    /// Fault model of the network.
    pub net: NetConfig,
    /// Template for every node's config (`id` and `seed` are filled in).
    pub raft: Config,
    /// Probability that each in-flight message of a crashing node is lost.
    pub crash_drop_in_flight: f64,
    /// The command that replays this run (printed on failure).
    pub replay: String,
    /// Break the runtime on purpose: acknowledge before persisting (only for
    /// proving that the checkers catch the resulting safety violations).
    pub ack_before_persist: bool,
    /// Check that acknowledged writes are durable when they are sent.
    pub check_durability: bool,
    /// Probability that a node's `Ready` is left for later after an input
    /// (tick, message, proposal), so that several inputs reach the node
    /// between two Readies, as a runtime that batches does.
    pub batch: f64,
    /// Servers `nodes+1 ..= nodes+spares` start outside the configuration
    /// (empty membership) and may be added by membership changes.
    pub spares: usize,
}

impl SimConfig {
    /// `nodes` nodes on a reliable network; election timeout 10 ticks,
    /// heartbeat every tick (a tick stands for 100 ms), no automatic
    /// snapshots.
    pub fn new(nodes: usize, seed: u64) -> Self {
        let mut raft = Config::new(NodeId(1));
        raft.election_ticks = 10;
        raft.heartbeat_ticks = 1;
        raft.snapshot_threshold = 0;
        SimConfig {
            nodes,
            seed,
            net: NetConfig::reliable(),
            raft,
            crash_drop_in_flight: 0.5,
            ack_before_persist: false,
            check_durability: true,
            batch: 0.0,
            spares: 0,
            replay: format!("SIM_SEED={seed} cargo test -p raft-core --test sim -- replay --nocapture"),
        }
    }
}

/// SplitMix-style mixing of a seed with a salt.
pub fn derive_seed(seed: u64, salt: u64) -> u64 {
    SeededRng::new(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// The simulated cluster.
pub struct Cluster {
    /// The run's configuration.
    pub cfg: SimConfig,
    /// The servers by id.
    pub hosts: BTreeMap<NodeId, NodeHost>,
    /// The network.
    pub net: Network,
    /// The safety checkers.
    pub inv: Invariants,
    /// Current tick.
    pub now: u64,
    /// Steps taken (ticks of a node, deliveries, Readies).
    pub steps: u64,
    /// Answered reads by ctx.
    pub reads: BTreeMap<u64, ReadResult>,
    /// Crashes so far (between steps and inside Ready handling).
    pub crashes: u64,
    /// Crashes that hit inside a Ready handling.
    pub ready_crashes: u64,
    /// Membership changes the leaders accepted.
    pub membership_proposals: u64,
    /// What the run exercised.
    pub coverage: Coverage,
    /// Inputs each node took since its last Ready.
    inputs: BTreeMap<NodeId, u64>,
    /// Randomness for harness decisions (fully determined by the seed).
    pub rng: SeededRng,
    /// Nodes attached to the network (6.824-style connect/disconnect).
    connected: BTreeSet<NodeId>,
    /// Extra cut links `(from, to)` from partitions and one-way faults.
    cuts: BTreeSet<(NodeId, NodeId)>,
    trace: VecDeque<String>,
    /// `SIM_TRACE=1`: print every trace line as it happens (for replays).
    echo: bool,
}

impl Cluster {
    /// Builds and starts a fresh cluster with voters `1..=cfg.nodes`, plus
    /// `cfg.spares` servers outside the configuration.
    pub fn new(cfg: SimConfig) -> Self {
        let membership = Membership::new((1..=cfg.nodes as u64).map(NodeId));
        let ids: Vec<NodeId> = (1..=(cfg.nodes + cfg.spares) as u64).map(NodeId).collect();
        let hosts = ids
            .iter()
            .map(|&id| {
                let m = if membership.contains(id) { membership.clone() } else { Membership::default() };
                (id, NodeHost::new(id, MemStorage::new_with_membership(m)))
            })
            .collect();
        let mut c = Cluster {
            net: Network::new(cfg.net.clone(), derive_seed(cfg.seed, 0x4e45_54)),
            rng: SeededRng::new(derive_seed(cfg.seed, 0x5349_4d)),
            inv: Invariants::default(),
            hosts,
            now: 0,
            steps: 0,
            reads: BTreeMap::new(),
            crashes: 0,
            ready_crashes: 0,
            membership_proposals: 0,
            coverage: Coverage::default(),
            inputs: BTreeMap::new(),
            connected: ids.iter().copied().collect(),
            cuts: BTreeSet::new(),
            trace: VecDeque::new(),
            echo: std::env::var_os("SIM_TRACE").is_some(),
            cfg,
        };
        for id in ids.iter().copied() {
            let storage = c.hosts[&id].storage.clone();
            c.inv.register(id, &storage);
        }
        for id in ids {
            let (broken, durability) = (c.cfg.ack_before_persist, c.cfg.check_durability);
            let h = c.hosts.get_mut(&id).expect("known id");
            h.ack_before_persist = broken;
            h.check_durability = durability;
            c.start(id);
        }
        c
    }

    /// All node ids.
    pub fn ids(&self) -> Vec<NodeId> {
        self.hosts.keys().copied().collect()
    }

    /// True if `id` is running.
    pub fn is_up(&self, id: NodeId) -> bool {
        self.hosts[&id].is_up()
    }

    /// Records a line for the failure report.
    pub fn note(&mut self, line: String) {
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        let line = format!("t={} {line}", self.now);
        if self.echo {
            println!("{line}");
        }
        self.trace.push_back(line);
    }

    /// Panics with a harness-level failure, the seed and the replay command.
    pub fn fail(&self, v: impl std::fmt::Display) -> ! {
        self.fail_with(Violation::new(Inv::Harness, v.to_string()))
    }

    /// Panics with the violation, the seed and the replay command; the
    /// violation itself is kept for [`crate::invariants::take_failure`].
    pub fn fail_with(&self, v: Violation) -> ! {
        record_failure(&v);
        let trace: Vec<&str> = self.trace.iter().map(String::as_str).collect();
        panic!(
            "\nSIMULATION FAILURE (seed {}, tick {}, step {}): {v}\nreplay with: {}\nlast events:\n  {}\n",
            self.cfg.seed,
            self.now,
            self.steps,
            self.cfg.replay,
            trace.join("\n  ")
        );
    }

    fn ok<T>(&self, r: Result<T, Violation>) -> T {
        r.unwrap_or_else(|v| self.fail_with(v))
    }

    fn node_config(&self, id: NodeId) -> Config {
        let mut c = self.cfg.raft.clone();
        c.id = id;
        c.seed = derive_seed(self.cfg.seed, id.0 * 1000 + self.hosts[&id].incarnation);
        c
    }

    fn start(&mut self, id: NodeId) {
        let config = self.node_config(id);
        let host = self.hosts.get_mut(&id).expect("known id");
        let r = host.start(config, &mut self.inv);
        self.ok(r);
        self.note(format!("{id} started (incarnation {})", self.hosts[&id].incarnation));
        self.process_ready(id);
    }

    /// Crashes `id` now: its volatile state is gone, in-flight messages to
    /// and from it are lost with probability `crash_drop_in_flight`.
    pub fn crash(&mut self, id: NodeId) {
        if !self.is_up(id) {
            return;
        }
        self.hosts.get_mut(&id).expect("known id").crash();
        self.crashes += 1;
        self.net.drop_in_flight_of(id, self.cfg.crash_drop_in_flight);
        self.note(format!("{id} crashed"));
    }

    /// Makes `id` crash inside the handling of its next `Ready`.
    pub fn crash_at_next_ready(&mut self, id: NodeId, point: CrashPoint) {
        if let Some(h) = self.hosts.get_mut(&id).filter(|h| h.is_up()) {
            h.crash_at = Some(point);
            self.note(format!("{id} will crash at {point:?}"));
        }
    }

    /// Restarts a crashed node from its storage.
    pub fn restart(&mut self, id: NodeId) {
        if self.is_up(id) {
            self.crash(id);
        }
        self.start(id);
        self.check();
    }

    /// Detaches `id` from the network (all its links cut).
    pub fn disconnect(&mut self, id: NodeId) {
        self.connected.remove(&id);
        self.note(format!("{id} disconnected"));
        self.apply_links();
    }

    /// Reattaches `id` to the network.
    pub fn connect(&mut self, id: NodeId) {
        self.connected.insert(id);
        self.note(format!("{id} connected"));
        self.apply_links();
    }

    /// True if `id` is attached to the network.
    pub fn is_connected(&self, id: NodeId) -> bool {
        self.connected.contains(&id)
    }

    /// Splits the cluster: two nodes can talk only if some group holds both.
    /// A node in two groups is a bridge; a node in none is isolated.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        let ids = self.ids();
        self.cuts.clear();
        for &a in &ids {
            for &b in &ids {
                if a != b && !groups.iter().any(|g| g.contains(&a) && g.contains(&b)) {
                    self.cuts.insert((a, b));
                }
            }
        }
        self.note(format!("partition {groups:?}"));
        self.apply_links();
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        self.cuts.insert((from, to));
        self.note(format!("link {from}->{to} cut"));
        self.apply_links();
    }

    /// Reconnects everyone and removes every partition.
    pub fn heal(&mut self) {
        self.connected = self.ids().into_iter().collect();
        self.cuts.clear();
        self.note("network healed".into());
        self.apply_links();
    }

    fn apply_links(&mut self) {
        let ids = self.ids();
        let mut blocked = self.cuts.clone();
        for &a in &ids {
            for &b in &ids {
                if !self.connected.contains(&a) || !self.connected.contains(&b) {
                    blocked.insert((a, b));
                }
            }
        }
        self.net.set_blocked(blocked);
    }

    /// Changes the network's fault model.
    pub fn set_net(&mut self, net: NetConfig) {
        self.net.set_config(net);
    }

    /// Checks every invariant against the live nodes.
    pub fn check(&mut self) {
        self.steps += 1;
        let views: Vec<NodeView<'_>> = self
            .hosts
            .values()
            .filter_map(|h| {
                let st = h.node.as_ref()?.status();
                Some(NodeView { id: h.id, role: st.role, term: st.term, commit: st.commit, storage: &h.storage })
            })
            .collect();
        let r = self.inv.after_step(&views);
        drop(views);
        self.ok(r);
    }

    /// Called after every input to `id`: handles its Ready now, or (with
    /// probability `batch`) leaves it for a later step so that more inputs
    /// pile up first. `drain` and `tick` handle every Ready left over.
    pub fn after_input(&mut self, id: NodeId) {
        *self.inputs.entry(id).or_insert(0) += 1;
        if self.cfg.batch > 0.0 && self.rng.gen_bool(self.cfg.batch) {
            return;
        }
        self.process_ready(id);
    }

    /// Handles `id`'s pending `Ready`, if any, and sends what it produced.
    pub fn process_ready(&mut self, id: NodeId) {
        let host = self.hosts.get_mut(&id).expect("known id");
        if !host.node.as_ref().is_some_and(|n| n.has_ready()) {
            return;
        }
        let torn = matches!(host.crash_at, Some(CrashPoint::TornWrite { .. }));
        let r = host.handle_ready(&mut self.inv);
        let out = self.ok(r);
        if self.inputs.insert(id, 0).unwrap_or(0) >= 2 {
            self.coverage.batched_readies += 1;
        }
        self.coverage.torn_writes += u64::from(torn && out.crashed);
        self.coverage.snapshots_installed += u64::from(out.installed_snapshot);
        for n in out.notes {
            self.note(n);
        }
        if out.crashed {
            self.crashes += 1;
            self.ready_crashes += 1;
            self.net.drop_in_flight_of(id, self.cfg.crash_drop_in_flight);
            self.note(format!("{id} crashed inside Ready handling"));
        }
        for msg in out.outbox {
            self.send(msg);
        }
        for r in out.reads {
            self.reads.insert(r.ctx, r);
        }
        self.observe_flow_control(id);
        self.check();
    }

    fn send(&mut self, msg: Message) {
        let (from, to, snapshot) = (msg.from, msg.to, Network::is_snapshot(&msg));
        let outcome = self.net.send(msg, self.now);
        if outcome == SendOutcome::LinkDown && self.is_up(from) {
            let node = self.hosts.get_mut(&from).expect("known id").node();
            node.report_unreachable(to);
            if snapshot {
                node.report_snapshot(to, false);
            }
        }
    }

    fn deliver(&mut self, msg: Message, link_up: bool) {
        let (from, to, snapshot) = (msg.from, msg.to, Network::is_snapshot(&msg));
        let delivered = link_up && self.is_up(to);
        if delivered {
            let r = self.hosts.get_mut(&to).expect("known id").node().step(msg);
            if let Err(e) = r {
                self.fail(format!("{to}: step() returned a fatal error: {e}"));
            }
            self.after_input(to);
        }
        if snapshot && self.is_up(from) {
            self.hosts.get_mut(&from).expect("known id").node().report_snapshot(to, delivered);
            self.after_input(from);
        }
        self.check();
    }

    /// Delivers every message due by now and handles every pending Ready.
    /// Deliveries come first, so a node that left its Ready for later
    /// (batching) takes more messages before it gets to it.
    pub fn drain(&mut self) {
        let mut steps = 0u64;
        loop {
            let pending = self.ids().into_iter().find(|id| self.hosts[id].node.as_ref().is_some_and(|n| n.has_ready()));
            match pending {
                // Without batching, Readies go first (as they always did).
                Some(id) if self.cfg.batch == 0.0 => self.process_ready(id),
                _ => match self.net.pop_due(self.now) {
                    Some((msg, up)) => self.deliver(msg, up),
                    None => match pending {
                        Some(id) => self.process_ready(id),
                        None => return,
                    },
                },
            }
            steps += 1;
            if steps > MAX_STEPS_PER_TICK {
                self.fail(format!("more than {MAX_STEPS_PER_TICK} steps within one tick (message storm)"));
            }
        }
    }

    /// Advances time by one tick.
    pub fn tick(&mut self) {
        self.now += 1;
        for id in self.ids() {
            if let Some(node) = self.hosts.get_mut(&id).expect("known id").node.as_mut() {
                node.tick();
                self.after_input(id);
                self.check();
            }
        }
        self.drain();
    }

    /// Advances time by `n` ticks.
    pub fn run_ticks(&mut self, n: u64) {
        for _ in 0..n {
            self.tick();
        }
    }

    /// The stored log length (entries after the snapshot) of `id`.
    pub fn log_len(&self, id: NodeId) -> u64 {
        let s = &self.hosts[&id].storage;
        let (first, last) = (s.first_index().expect("mem"), s.last_index().expect("mem"));
        last.0 + 1 - first.0
    }
}
