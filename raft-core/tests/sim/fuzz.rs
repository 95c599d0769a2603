//! The randomized schedule: a chaos phase (proposals, reads, transfers,
//! partitions of every shape, crashes at and between Ready boundaries,
//! restarts, lossy network) with every invariant checked after every step,
//! then a liveness phase: the network heals with a majority up, and a leader
//! must be elected and a fresh proposal committed within
//! [`LIVENESS_TICKS`].
//!
//! Everything is drawn from one `SeededRng`, so a seed is a complete
//! reproduction.

use std::collections::BTreeMap;

use raft_core::{LogIndex, NodeId, SeededRng, Storage};

use crate::harness::electability::{disruptors, electable, must_elect};
use crate::harness::{derive_seed, Cluster, CrashPoint, NetConfig, SimConfig};
use crate::invariants::{Inv, Violation};
use crate::summary::{hash_words, RunSummary};

/// A healed cluster with a majority up must elect a leader and commit a new
/// entry on every live node within this many ticks (20 s at 100 ms a tick;
/// election timeouts are 10..20 ticks, with pre-vote two rounds each).
pub const LIVENESS_TICKS: u64 = 200;

/// The shape of a run, drawn from its seed.
struct Plan {
    chaos_ticks: u64,
    fault_rate: f64,
    propose_rate: f64,
    /// Chance per tick of a random membership change at the leader.
    membership_rate: f64,
    /// Membership changes keep at least this many voters.
    min_voters: usize,
}

fn build(seed: u64, nodes: usize, rng: &mut SeededRng) -> (SimConfig, Plan) {
    let mut cfg = SimConfig::new(nodes, seed);
    cfg.replay = format!("SIM_SEED={seed} SIM_NODES={nodes} cargo test -p raft-core --test sim -- replay --nocapture");
    cfg.net = match rng.gen_range(0, 4) {
        0 => NetConfig::reliable(),
        1 => NetConfig::delayed(),
        _ => NetConfig::unreliable(),
    };
    if rng.gen_bool(0.3) {
        cfg.net.drop_rate = rng.gen_range(0, 30) as f64 / 100.0;
    }
    if rng.gen_bool(0.25) {
        // Short timeouts against multi-tick delays: many competing elections.
        cfg.raft.election_ticks = rng.gen_range(3, 6);
    }
    cfg.raft.pre_vote = rng.gen_bool(0.7);
    cfg.raft.check_quorum = rng.gen_bool(0.7);
    cfg.raft.snapshot_threshold = [0, 5, 20, 60][rng.gen_range(0, 4) as usize];
    cfg.raft.max_msg_bytes = [256, 4096, 1 << 20][rng.gen_range(0, 3) as usize];
    cfg.raft.max_inflight_msgs = [1, 4, 256][rng.gen_range(0, 3) as usize];
    if rng.gen_bool(0.25) {
        // A byte window smaller than a few messages: the byte bound, not
        // the count, is what stops the pipeline (RunSummary::bytes_capped).
        cfg.raft.max_inflight_msgs = 256;
        // Not below ~4 entries: a window of one entry per round trip cannot
        // catch a far-behind follower up within LIVENESS_TICKS (seed 7500229).
        cfg.raft.max_inflight_bytes = [300, 1000, 3000][rng.gen_range(0, 3) as usize];
        cfg.raft.max_msg_bytes = cfg.raft.max_inflight_bytes / [1, 2, 4][rng.gen_range(0, 3) as usize];
    }
    // Most runs batch: several inputs reach a node between two Readies.
    cfg.batch = [0.0, 0.3, 0.6, 0.9][rng.gen_range(0, 4) as usize];
    let plan = Plan {
        chaos_ticks: rng.gen_range(150, 300),
        fault_rate: rng.gen_range(2, 12) as f64 / 100.0,
        propose_rate: rng.gen_range(10, 80) as f64 / 100.0,
        membership_rate: 0.0,
        min_voters: 1 + rng.gen_range(0, 2) as usize,
    };
    let mut plan = plan;
    if rng.gen_bool(0.6) {
        // Two spare servers to add; changes every ~10..30 ticks.
        cfg.spares = 2;
        plan.membership_rate = rng.gen_range(3, 10) as f64 / 100.0;
    }
    (cfg, plan)
}

fn pick(rng: &mut SeededRng, ids: &[NodeId]) -> Option<NodeId> {
    (!ids.is_empty()).then(|| ids[rng.gen_range(0, ids.len() as u64) as usize])
}

/// A random two-way split (majority/minority or any other sizes); with
/// `bridge`, one node sits in both halves and sees everyone while the halves
/// do not see each other.
fn split(c: &mut Cluster, rng: &mut SeededRng, bridge: bool) {
    let mut shuffled = c.ids();
    shuffle(rng, &mut shuffled);
    if !bridge {
        let cut = rng.gen_range(1, shuffled.len() as u64) as usize;
        c.partition(&[shuffled[..cut].to_vec(), shuffled[cut..].to_vec()]);
        return;
    }
    let b = shuffled[0];
    let half = 1 + (shuffled.len() - 1) / 2;
    let mut left = shuffled[1..half].to_vec();
    let mut right = shuffled[half..].to_vec();
    left.push(b);
    right.push(b);
    c.partition(&[left, right]);
}

/// Injects one random fault or operator action.
fn inject_fault(c: &mut Cluster, rng: &mut SeededRng) {
    let ids = c.ids();
    let up: Vec<NodeId> = ids.iter().copied().filter(|id| c.is_up(*id)).collect();
    let down: Vec<NodeId> = ids.iter().copied().filter(|id| !c.is_up(*id)).collect();
    let leader = c.connected_leader();
    match rng.gen_range(0, 12) {
        0 | 1 => c.heal(),
        2 => split(c, rng, false),
        3 => {
            if let Some(l) = leader {
                let rest: Vec<NodeId> = ids.iter().copied().filter(|id| *id != l).collect();
                c.partition(&[vec![l], rest]);
            }
        }
        4 => split(c, rng, true),
        5 => {
            if let (Some(a), Some(b)) = (pick(rng, &ids), pick(rng, &ids)) {
                if a != b {
                    c.cut_one_way(a, b);
                }
            }
        }
        6 => {
            if let Some(id) = pick(rng, &up) {
                c.crash(id);
            }
        }
        7 => {
            if let Some(id) = pick(rng, &up) {
                let torn =
                    CrashPoint::TornWrite { keep_permille: rng.gen_range(0, 1001), hard_state: rng.gen_bool(0.5) };
                let point = [CrashPoint::BeforePersist, torn, CrashPoint::AfterPersist, CrashPoint::BeforeAdvance]
                    [rng.gen_range(0, 4) as usize];
                c.crash_at_next_ready(id, point);
            }
        }
        8 | 9 => {
            if let Some(id) = pick(rng, &down) {
                c.restart(id);
            }
        }
        10 => {
            if let (Some(l), Some(to)) = (leader, pick(rng, &ids)) {
                if l != to {
                    let _ = c.transfer_leader(l, to);
                }
            }
        }
        _ => {
            if let Some(id) = pick(rng, &up) {
                c.campaign(id);
            }
        }
    }
}

fn shuffle(rng: &mut SeededRng, v: &mut [NodeId]) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// One chaos tick: maybe propose, maybe read, maybe inject a fault.
fn chaos_tick(
    c: &mut Cluster,
    rng: &mut SeededRng,
    plan: &Plan,
    counter: &mut u64,
    faults: &mut u64,
    reads: &mut BTreeMap<u64, LogIndex>,
) {
    if rng.gen_bool(plan.propose_rate) {
        let target = c.connected_leader().or_else(|| pick(rng, &c.ids()));
        if let Some(id) = target.filter(|id| c.is_up(*id)) {
            *counter += 1;
            let len = rng.gen_range(1, 48) as usize;
            let mut data = format!("cmd-{counter}-").into_bytes();
            data.resize(data.len() + len, b'a' + (*counter % 26) as u8);
            let _ = c.propose(id, data);
        }
    }
    if rng.gen_bool(0.05) {
        if let Some(l) = c.connected_leader() {
            *counter += 1;
            let committed_before = c.inv.applied().keys().next_back().copied().unwrap_or_default();
            if c.read_index(l, *counter).is_ok() {
                reads.insert(*counter, committed_before);
            }
        }
    }
    if rng.gen_bool(plan.fault_rate) {
        *faults += 1;
        inject_fault(c, rng);
    }
    if plan.membership_rate > 0.0 && rng.gen_bool(plan.membership_rate) {
        if let Some(l) = c.connected_leader() {
            c.random_membership_change(l, rng, plan.min_voters);
        }
    }
    c.tick();
}

/// Heals the network, brings a majority (or more) up, and requires a leader
/// and a freshly committed entry on every live node within the bound.
fn liveness(c: &mut Cluster, rng: &mut SeededRng) -> u64 {
    for h in c.hosts.values_mut() {
        h.crash_at = None;
    }
    c.heal();
    // Raft's timing requirement (§5.6): broadcast time << election timeout.
    // Schedules with 3..5-tick timeouts recover on an undelayed network; with
    // 2-tick delays they would (legitimately) split votes for a long time.
    let sane_timing = c.cfg.raft.election_ticks >= 10;
    c.set_net(if sane_timing { NetConfig::delayed() } else { NetConfig::reliable() });
    let ids = c.ids();
    for id in &ids {
        if !c.is_up(*id) {
            c.restart(*id);
        }
    }
    // Connections are re-established: what was in flight is lost. Besides,
    // electability is decided from the servers' states, and a message still
    // in flight from a server that is down (or from its previous
    // incarnation) could change them after the decision: in sim seed
    // 25001858 (5 nodes) the joint configuration {2,4,5} -> {2,4} reached n5
    // from n2 after n2 was crashed here, and C_new needs n2.
    for id in &ids {
        c.net.drop_in_flight_of(*id, 1.0);
    }
    // Crash a random few, as long as some server can still win an election
    // (harness/electability.rs: a majority of every configuration up is not
    // enough, sim seed 13028606). Whoever wins then has a majority of each
    // of its voter sets behind it, enough to commit.
    let configs = c.candidate_configs();
    let mut order = ids.clone();
    shuffle(rng, &mut order);
    let mut down: Vec<NodeId> = Vec::new();
    for id in order.into_iter().take(rng.gen_range(0, ids.len() as u64 / 2 + 1) as usize) {
        let mut without = down.clone();
        without.push(id);
        if must_elect(&c.server_views(&without), c.cfg.raft.pre_vote) {
            down.push(id);
            c.crash(id);
        }
    }
    let views = c.server_views(&[]);
    let can_win = electable(&views);
    for v in &views {
        c.note(format!(
            "{}: reachable {} promotable {} last {} voters {:?} outgoing {:?}",
            v.id, v.reachable, v.promotable, v.last_log, v.membership.voters, v.membership.outgoing
        ));
    }
    let disrupting = disruptors(&views);
    c.note(format!(
        "liveness phase: {down:?} down, network healed, configurations {configs:?}, electable {can_win:?}, disruptors {disrupting:?}"
    ));
    let mut start = c.now;
    let mut proposed: Option<raft_core::LogId> = None;
    while c.now - start < LIVENESS_TICKS {
        c.tick();
        if !down.is_empty() && !must_elect(&c.server_views(&[]), c.cfg.raft.pre_vote) {
            // The states moved after the decision: a live leader replicated
            // a configuration that needs servers that are down (sim seed
            // 25019434, 5 nodes: C_old,new with C_new = {1,2,5,7} while 5
            // and 7 were down). Raft cannot elect until they return (thesis
            // §4.3), so they return, and the bound counts from there. A
            // working leader is always electable itself, so this fires only
            // when no leader could make progress. Likewise, without PreVote,
            // when a server that cannot win disrupts every one that can
            // (`disruptors`, sim seed 23016167).
            c.note(format!("no server can win an election undisrupted: {down:?} restart"));
            for id in std::mem::take(&mut down) {
                c.restart(id);
            }
            start = c.now;
        }
        let leader = c.connected_leader();
        if let Some(p) = proposed {
            let rec = c.inv.applied().get(&p.index).map(|r| r.term);
            let newer_leader = leader.and_then(|l| c.hosts[&l].term()).is_some_and(|t| t > p.term);
            // Every live member of the leader's configuration applied it.
            let members = leader.map(|l| c.live_members(&c.hosts[&l].node.as_ref().expect("up").status().membership));
            let done = members.is_some_and(|ms| ms.iter().all(|id| c.hosts[id].sm.applied >= p.index));
            if (rec.is_some() && rec != Some(p.term)) || (rec.is_none() && newer_leader) {
                proposed = None; // lost with its leader's term; propose again
            } else if done {
                return c.now - start;
            }
        }
        if proposed.is_none() {
            if let Some(l) = leader {
                proposed = c.propose(l, format!("liveness-{}", c.cfg.seed).into_bytes()).ok();
            }
        }
    }
    let live = ids.len() - down.len();
    for id in &ids {
        if let Some(n) = c.hosts[id].node.as_ref() {
            let st = n.status();
            let line = format!(
                "{id}: {:?} term {} vote {:?} last {} commit {} voters {:?} outgoing {:?} learners {:?}",
                st.role,
                st.term.0,
                st.vote,
                st.last_index,
                st.commit,
                st.membership.voters,
                st.membership.outgoing,
                st.membership.learners
            );
            c.note(line);
            if st.role == raft_core::Role::Leader {
                c.note(format!("{id}: progress {:?}", st.progress));
            }
        }
    }
    c.fail_with(Violation::new(Inv::Liveness, format!(
        "liveness: healed cluster ({live} of {} up) did not elect a leader and commit on all live nodes within {LIVENESS_TICKS} ticks (leaders: {:?}, proposal: {proposed:?})",
        ids.len(),
        c.leaders()
    )))
}

/// Runs the full schedule for `seed` on `nodes` nodes.
pub fn run(seed: u64, nodes: usize) -> RunSummary {
    run_with(seed, nodes, None)
}

/// Like [`run`], with a broken runtime that acknowledges writes before they
/// are durable, and frequent crashes: this must end in a detected violation
/// (a self-test of the checkers). `check_durability` says whether the
/// Durability check runs (it catches this at once) or only the protocol-level
/// properties do.
pub fn run_broken(seed: u64, nodes: usize, check_durability: bool) -> RunSummary {
    run_with(seed, nodes, Some(check_durability))
}

fn run_with(seed: u64, nodes: usize, broken_runtime: Option<bool>) -> RunSummary {
    let mut rng = SeededRng::new(derive_seed(seed, 0x4655_5a5a));
    let (mut cfg, mut plan) = build(seed, nodes, &mut rng);
    if let Some(check_durability) = broken_runtime {
        cfg.ack_before_persist = true;
        cfg.check_durability = check_durability;
        cfg.spares = 0;
        plan.membership_rate = 0.0;
        plan.fault_rate = 0.4;
    }
    let mut c = Cluster::new(cfg);
    let (mut counter, mut faults) = (0u64, 0u64);
    let mut reads = BTreeMap::new();
    for _ in 0..plan.chaos_ticks {
        chaos_tick(&mut c, &mut rng, &plan, &mut counter, &mut faults, &mut reads);
    }
    let liveness_ticks = liveness(&mut c, &mut rng);
    check_reads(&c, &reads);
    let s = RunSummary {
        seed,
        nodes,
        steps: c.steps,
        ticks: c.now,
        liveness_ticks,
        applied: c.hosts.values().map(|h| h.sm.applied).max().unwrap_or_default(),
        messages: c.net.stats.sent,
        faults,
        crashes: (c.crashes, c.ready_crashes),
        installs: c.net.stats.by_kind.get("InstallSnapshot").copied().unwrap_or(0),
        snapshots_installed: c.coverage.snapshots_installed,
        reads: c.reads.len(),
        leader_terms: c.inv.leaders_by_term().len(),
        membership: (c.membership_proposals, c.inv.membership_commits),
        joint_and_wipes: (c.inv.joint_commits, c.coverage.wipes),
        batched_readies: c.coverage.batched_readies,
        torn_writes: c.coverage.torn_writes,
        bytes_capped: c.coverage.bytes_capped,
        state_hash: state_hash(&c),
    };
    // Every run, whatever its schedule, elected a leader and committed.
    if s.leader_terms == 0 || s.applied.0 == 0 {
        c.fail(format!("run did nothing: {} leader terms, applied {}", s.leader_terms, s.applied));
    }
    s
}

/// A hash of everything durable and applied on every node, plus the
/// network counters: two runs of one seed must agree on it.
fn state_hash(c: &Cluster) -> u64 {
    let mut words = vec![c.now, c.steps, c.net.stats.sent, c.net.stats.delivered, c.net.stats.bytes];
    for h in c.hosts.values() {
        let hs = h.storage.rl().hard_state();
        let last = h.storage.last_index().expect("MemStorage reads cannot fail");
        let snap = crate::harness::snapshot_index(&h.storage);
        let up = h.node.as_ref().map(|n| n.status());
        words.extend([h.id.0, hs.term.0, hs.vote.map_or(0, |v| v.0), hs.commit.0, last.0, snap.0]);
        words.extend([h.sm.applied.0, h.sm.digest, u64::from(up.is_some())]);
        words.extend(up.map(|st| [st.term.0, st.commit.0, st.role as u64]).into_iter().flatten());
    }
    hash_words(words)
}

/// Linearizable reads (§8, thesis §6.4): every served read saw at least
/// everything that some node had applied when the read was requested, and
/// was answered from the agreed state at its applied index.
fn check_reads(c: &Cluster, started: &BTreeMap<u64, LogIndex>) {
    for (ctx, r) in &c.reads {
        let Some(&committed_before) = started.get(ctx) else { continue };
        if r.index < committed_before {
            c.fail_with(Violation::new(
                Inv::ReadIndex,
                format!(
                    "read {ctx} served by {} at index {} but {committed_before} was committed before it started",
                    r.node, r.index
                ),
            ));
        }
        let agreed = c.inv.applied().get(&r.applied).map(|rec| rec.digest);
        if agreed != Some(r.digest) {
            c.fail_with(Violation::new(
                Inv::ReadIndex,
                format!("read {ctx} answered from state {:#x} at {}, agreed state is {agreed:?}", r.digest, r.applied),
            ));
        }
    }
}

/// The cluster size a seed runs with when none is forced.
pub fn nodes_for(seed: u64) -> usize {
    [3, 5, 7][(derive_seed(seed, 0x4e4f_4445) % 3) as usize]
}
