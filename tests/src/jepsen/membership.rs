//! Membership changes under load (issue #14): the same clients, checks and
//! evidence as a fault run ([`super`]), but the "nemesis" changes who the
//! cluster is. Every step is the operator's procedure from the README: a new
//! node joins as a learner (`--join`), is promoted once caught up (thesis
//! §4.2.1), old voters are removed (the leader too: it hands leadership over
//! first, §3.10), and a wiped node comes back only as a new learner.
//!
//! The run passes only if every step completed, no node crashed, the
//! clients kept completing operations while the changes were made, every
//! final member holds the same data as a final linearizable read, every
//! acknowledged append survived, and the whole history is linearizable.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft_core::NodeId as CoreId;
use raft_rpc::MemberChange;

use super::{floors, verify_history, JepsenError, APPEND_CLIENTS, CLUSTER_ID};
use super::{FINAL_CLIENT, NODE_READ_CLIENTS, RECOVERY_CLIENT, SETUP_CLIENT};
use crate::append::{run_appenders, AppendConfig};
use crate::cluster::{ClusterConfig, ProcessCluster};
use crate::error::NodeId;
use crate::history::HistoryRecorder;
use crate::operator::Operator;
use crate::probe::ClusterProbe;
use crate::rng::Rng;
use crate::rundir::RunDir;
use crate::workload::{client_config, Workload, WorkloadConfig, WorkloadStats};

/// How long one membership change may take (leader changes included).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a learner may take to catch up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
/// A learner within this many entries of the leader is promoted.
const PROMOTE_LAG: u64 = 50;
/// Operations the clients must complete between two steps (load goes on).
const OPS_BETWEEN_STEPS: usize = 100;

/// One membership step. A `None` target means "whoever leads when the step
/// starts".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberStep {
    /// Start `new` empty with `--join`, add it as a learner, wait until it
    /// caught up, promote it, remove `old`, stop `old`.
    Replace {
        /// The voter replaced (`None`: the leader).
        old: Option<NodeId>,
        /// A fresh id.
        new: NodeId,
    },
    /// Like `Replace`, of the leader if it is one of `among`, else of the
    /// lowest of `among` still voting (so that a plan can replace a given
    /// set of nodes, the leader among them, whoever leads).
    ReplaceOneOf {
        /// The candidates for replacement.
        among: Vec<NodeId>,
        /// A fresh id.
        new: NodeId,
    },
    /// Remove a running voter, add it back as a learner, promote it once
    /// caught up.
    RemoveReadd {
        /// The voter (`None`: the leader).
        id: Option<NodeId>,
    },
    /// Kill a voter and wipe its data directory, remove it, add it back as
    /// a learner, start it with `--join`, promote it once caught up.
    WipeRejoin {
        /// The voter (`None`: the leader).
        id: Option<NodeId>,
    },
}

impl MemberStep {
    /// A seeded plan of `steps` steps over a cluster of voters `1..=nodes`:
    /// each step picks a kind and a target (the leader half of the time); a
    /// replacement takes the next fresh id.
    pub fn random_plan(seed: u64, nodes: usize, steps: usize) -> Vec<MemberStep> {
        let mut rng = Rng::new(seed);
        let mut voters: Vec<NodeId> = (1..=nodes as NodeId).collect();
        let mut next_id = nodes as NodeId + 1;
        let mut plan = Vec::new();
        for _ in 0..steps {
            let target = if rng.chance(0.5) { None } else { Some(voters[rng.index(voters.len())]) };
            let step = match rng.index(3) {
                0 => {
                    let new = next_id;
                    next_id += 1;
                    MemberStep::Replace { old: target, new }
                }
                1 => MemberStep::RemoveReadd { id: target },
                _ => MemberStep::WipeRejoin { id: target },
            };
            // A replacement of a named voter is known now; one of the leader
            // is resolved at run time, so later steps name only ids that
            // certainly remain.
            if let MemberStep::Replace { old, new } = &step {
                match old {
                    Some(o) => voters.retain(|v| v != o),
                    None => voters.clear(),
                }
                voters.push(*new);
                if voters.len() == 1 {
                    // Any original voter may have been the leader: name only the new one.
                    voters = vec![*new];
                }
            }
            plan.push(step);
        }
        plan
    }

    /// Ids this plan starts that are not in `1..=nodes`.
    fn fresh_ids(plan: &[MemberStep]) -> Vec<NodeId> {
        plan.iter()
            .filter_map(|s| match s {
                MemberStep::Replace { new, .. } | MemberStep::ReplaceOneOf { new, .. } => Some(*new),
                _ => None,
            })
            .collect()
    }
}

/// Parameters of a membership run.
#[derive(Clone, Debug)]
pub struct MembershipConfig {
    /// Test name (run folder prefix).
    pub name: String,
    /// Voters at the start (`1..=nodes`).
    pub nodes: usize,
    /// The steps, in order.
    pub plan: Vec<MemberStep>,
    /// Concurrent register clients.
    pub clients: usize,
    /// Register keys.
    pub keys: usize,
    /// Clients appending to set keys.
    pub append_clients: usize,
    /// Set keys.
    pub append_keys: usize,
    /// Seeds the clients (and the plan, for random plans).
    pub seed: u64,
    /// Extra `raft-cli node` arguments.
    pub node_args: Vec<String>,
    /// Bound on "serves again" and "caught up" at the end.
    pub recovery_timeout: Duration,
    /// Floor: operations completed while a step was in progress.
    pub min_completed_during_changes: usize,
}

impl MembershipConfig {
    /// Defaults for `nodes` voters and `plan`.
    pub fn new(name: &str, nodes: usize, plan: Vec<MemberStep>, seed: u64) -> Self {
        let node_args = ["--cluster-id", CLUSTER_ID, "--tick-ms", "50", "--election-ticks", "10"]
            .iter()
            .chain(&["--snapshot-threshold", "300"])
            .map(|s| s.to_string())
            .collect();
        MembershipConfig {
            name: name.into(),
            nodes,
            plan,
            clients: 6,
            keys: 10,
            append_clients: 2,
            append_keys: 2,
            seed,
            node_args,
            recovery_timeout: Duration::from_secs(30),
            min_completed_during_changes: 200,
        }
    }
}

/// What a passing run measured.
#[derive(Clone, Debug)]
pub struct MembershipReport {
    /// The seed.
    pub seed: u64,
    /// The steps as made (targets resolved).
    pub steps: Vec<String>,
    /// How many steps removed the node that was leading.
    pub leader_removals: usize,
    /// The voters at the end.
    pub final_voters: Vec<NodeId>,
    /// Client outcome counts.
    pub stats: WorkloadStats,
    /// Acknowledged appends.
    pub appends_acked: u64,
    /// Operations completed in the run / while a step was in progress.
    pub completed: usize,
    /// See `completed`.
    pub completed_during_changes: usize,
    /// Operations in the checked history.
    pub operations: usize,
    /// Checker time.
    pub check_time: Duration,
    /// Whole run.
    pub elapsed: Duration,
}

impl std::fmt::Display for MembershipReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {}: linearizable, {} ops checked in {:.1?}; {} steps ({}), {} of them removing the leader; final \
             voters {:?}; {} ops completed, {} while a change was in progress; {} appends acknowledged; run took \
             {:.1?}; {}",
            self.seed,
            self.operations,
            self.check_time,
            self.steps.len(),
            self.steps.join(", "),
            self.leader_removals,
            self.final_voters,
            self.completed,
            self.completed_during_changes,
            self.appends_acked,
            self.elapsed,
            self.stats
        )
    }
}

/// One run; the run folder is kept (and named in the error) if it fails.
pub fn run_membership(config: &MembershipConfig) -> Result<MembershipReport, JepsenError> {
    let start = Instant::now();
    let mut run = RunDir::create(&config.name)?;
    let result = drive(&run, config);
    if result.is_err() {
        run.keep();
    }
    result.map(|r| MembershipReport { elapsed: start.elapsed(), ..r })
}

/// The live parts of a run.
struct Ctx<'a> {
    run: &'a RunDir,
    cluster: ProcessCluster,
    rt: tokio::runtime::Runtime,
    operator: Operator,
    addrs: BTreeMap<NodeId, SocketAddr>,
    recorder: Arc<HistoryRecorder>,
}

fn drive(run: &RunDir, config: &MembershipConfig) -> Result<MembershipReport, JepsenError> {
    let mut cc = ClusterConfig::new(config.nodes);
    cc.extra_args = config.node_args.clone();
    let cluster = ProcessCluster::start(&cc, run)?;
    let mut addrs = BTreeMap::new();
    for id in cluster.node_ids() {
        addrs.insert(id, cluster.addr(id)?);
    }
    let fresh = MemberStep::fresh_ids(&config.plan);
    for (id, port) in fresh.iter().zip(crate::ports::free_ports(fresh.len())?) {
        addrs.insert(*id, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port));
    }
    // The clients know every address the cluster will ever have, as an
    // operator's client configuration would list the planned machines.
    let endpoints: BTreeMap<NodeId, String> = addrs.iter().map(|(id, a)| (*id, format!("http://{a}"))).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(JepsenError::Runtime)?;
    let operator = Operator::new(endpoints.clone(), client_config(CLUSTER_ID));
    let recorder = Arc::new(HistoryRecorder::new());
    let mut ctx = Ctx { run, cluster, rt, operator, addrs, recorder: recorder.clone() };

    let probe = ClusterProbe::new(endpoints.clone(), client_config(CLUSTER_ID));
    let wc = WorkloadConfig::new(config.clients, config.keys, config.seed, CLUSTER_ID);
    let mut keys = wc.key_names();
    let ac = append_config_for(config);
    keys.extend(ac.key_names());
    ctx.rt.block_on(probe.write_until_served(&recorder, SETUP_CLIENT, &keys[0], "setup", config.recovery_timeout))?;

    let stop = Arc::new(AtomicBool::new(false));
    let all: Vec<String> = endpoints.values().cloned().collect();
    let workload = ctx.rt.spawn(Workload::new(wc, all.clone(), recorder.clone()).run(stop.clone()));
    let appenders = ctx.rt.spawn(run_appenders(ac, all, recorder.clone(), stop.clone()));
    let steps = run_steps(&mut ctx, config);
    stop.store(true, Ordering::Relaxed);
    let stats = ctx.rt.block_on(workload).expect("invariant: the workload task does not panic");
    let appends = ctx.rt.block_on(appenders).expect("invariant: the appender task does not panic");
    let (made, windows, leader_removals) = steps?;
    let (stats, appends) = (stats?, appends?);
    run.write("membership.log", &made.join("\n"))?;
    verify(&mut ctx, config, &keys, made, windows, leader_removals, stats, appends.acked)
}

fn append_config_for(config: &MembershipConfig) -> AppendConfig {
    AppendConfig {
        clients: config.append_clients,
        keys: config.append_keys,
        first_client_id: APPEND_CLIENTS,
        seed: config.seed,
        client: client_config(CLUSTER_ID),
    }
}

type Steps = (Vec<String>, Vec<floors::Window>, usize);

/// Runs the plan; returns what was done, the windows the steps took (in
/// recorder time) and how many removed the leader.
fn run_steps(ctx: &mut Ctx<'_>, config: &MembershipConfig) -> Result<Steps, JepsenError> {
    let mut made = Vec::new();
    let mut windows = Vec::new();
    let mut leader_removals = 0;
    for step in &config.plan {
        wait_for_ops(ctx, OPS_BETWEEN_STEPS)?;
        let (voters, leader) = ctx.rt.block_on(ctx.operator.voters(CHANGE_TIMEOUT))?;
        let began = Instant::now();
        let target = match step {
            MemberStep::Replace { old, .. } => old.unwrap_or(leader),
            MemberStep::ReplaceOneOf { among, .. } if among.contains(&leader) => leader,
            MemberStep::ReplaceOneOf { among, .. } => {
                let left = among.iter().copied().filter(|id| voters.contains(id)).min();
                left.ok_or_else(|| JepsenError::Floor {
                    what: format!("{step:?}: none of them is a voter any more (voters {voters:?})"),
                    run: ctx.run.path().to_path_buf(),
                })?
            }
            MemberStep::RemoveReadd { id } | MemberStep::WipeRejoin { id } => id.unwrap_or(leader),
        };
        let what = match step {
            MemberStep::Replace { new, .. } | MemberStep::ReplaceOneOf { new, .. } => {
                replace(ctx, target, *new)?;
                format!("replace {target} by {new}")
            }
            MemberStep::RemoveReadd { .. } => {
                remove_readd(ctx, target, &voters)?;
                format!("remove and re-add {target}")
            }
            MemberStep::WipeRejoin { .. } => {
                wipe_rejoin(ctx, target)?;
                format!("wipe and rejoin {target}")
            }
        };
        let what = if target == leader {
            leader_removals += 1;
            format!("{what} (the leader)")
        } else {
            what
        };
        eprintln!("{}: {what} took {:.1?}", config.name, began.elapsed());
        let (start, end) = (ctx.recorder.at(began), ctx.recorder.at(Instant::now()));
        windows.push(floors::Window { fault: what.clone(), start, end, quorum_loss: false });
        made.push(what);
    }
    Ok((made, windows, leader_removals))
}

/// Waits until the clients completed `n` more operations (load goes on).
fn wait_for_ops(ctx: &Ctx<'_>, n: usize) -> Result<(), JepsenError> {
    let target = ctx.recorder.len() + n;
    let deadline = Instant::now() + CHANGE_TIMEOUT;
    while ctx.recorder.len() < target {
        if Instant::now() >= deadline {
            let what = format!("{n} client operations between membership steps");
            return Err(crate::probe::ProbeError::Timeout { what, waited: CHANGE_TIMEOUT, last: String::new() }.into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn change(ctx: &Ctx<'_>, change: MemberChange) -> Result<(), JepsenError> {
    Ok(ctx.rt.block_on(ctx.operator.change(change, CHANGE_TIMEOUT))?)
}

/// Adds `id` as a learner, waits until it caught up, promotes it.
fn add_and_promote(ctx: &Ctx<'_>, id: NodeId) -> Result<(), JepsenError> {
    let address = ctx.addrs[&id].to_string();
    change(ctx, MemberChange::AddLearner { id: CoreId(id), address })?;
    ctx.rt.block_on(ctx.operator.wait_caught_up(id, PROMOTE_LAG, CATCH_UP_TIMEOUT))?;
    change(ctx, MemberChange::Promote { id: CoreId(id) })
}

fn replace(ctx: &mut Ctx<'_>, old: NodeId, new: NodeId) -> Result<(), JepsenError> {
    ctx.cluster.join_node(new, ctx.addrs[&new], ctx.run)?;
    add_and_promote(ctx, new)?;
    change(ctx, MemberChange::Remove { id: CoreId(old), step_down: false })?;
    ctx.cluster.retire(old)?;
    Ok(())
}

fn remove_readd(ctx: &mut Ctx<'_>, id: NodeId, voters: &[NodeId]) -> Result<(), JepsenError> {
    debug_assert!(voters.contains(&id), "the plan removes voters only");
    change(ctx, MemberChange::Remove { id: CoreId(id), step_down: false })?;
    add_and_promote(ctx, id)
}

fn wipe_rejoin(ctx: &mut Ctx<'_>, id: NodeId) -> Result<(), JepsenError> {
    ctx.cluster.retire(id)?;
    ctx.cluster.wipe_data(id, ctx.run)?;
    change(ctx, MemberChange::Remove { id: CoreId(id), step_down: false })?;
    let address = ctx.addrs[&id].to_string();
    change(ctx, MemberChange::AddLearner { id: CoreId(id), address })?;
    ctx.cluster.join_node(id, ctx.addrs[&id], ctx.run)?;
    ctx.rt.block_on(ctx.operator.wait_caught_up(id, PROMOTE_LAG, CATCH_UP_TIMEOUT))?;
    change(ctx, MemberChange::Promote { id: CoreId(id) })
}

#[allow(clippy::too_many_arguments)]
fn verify(
    ctx: &mut Ctx<'_>,
    config: &MembershipConfig,
    keys: &[String],
    steps: Vec<String>,
    windows: Vec<floors::Window>,
    leader_removals: usize,
    stats: WorkloadStats,
    appends_acked: u64,
) -> Result<MembershipReport, JepsenError> {
    let recorder = &ctx.recorder;
    let members = ctx.cluster.node_ids();
    let endpoints = members.iter().map(|id| (*id, format!("http://{}", ctx.addrs[id]))).collect();
    let probe = ClusterProbe::new(endpoints, client_config(CLUSTER_ID));
    let timeout = config.recovery_timeout;
    let final_reads = ctx.rt.block_on(async {
        probe.write_until_served(recorder, RECOVERY_CLIENT, &keys[0], "recovery", timeout).await?;
        probe.wait_caught_up(timeout).await?;
        let reads = probe.read_all(recorder, FINAL_CLIENT, keys).await?;
        probe.wait_caught_up(timeout).await?;
        let per_node = probe.read_every_node(recorder, NODE_READ_CLIENTS, keys).await?;
        Ok::<_, JepsenError>((reads, per_node))
    });
    let (mut final_voters, _) = ctx.rt.block_on(ctx.operator.voters(timeout))?;
    final_voters.sort_unstable();
    ctx.cluster.check_no_crashes()?;
    let history = recorder.history();
    ctx.run.save_history("clients", &history)?;
    let (reads, per_node) = final_reads?;
    let folder = ctx.run.path().to_path_buf();
    if final_voters != members {
        let what = format!("final voters {final_voters:?}, running nodes {members:?}");
        return Err(JepsenError::Floor { what, run: folder });
    }
    let check_time = verify_history(ctx.run, &history, reads, &per_node)?;
    let completed = floors::completed(&history, SETUP_CLIENT);
    let completed_during_changes = floors::completed_under_fault(&history, SETUP_CLIENT, &windows);
    if completed_during_changes < config.min_completed_during_changes {
        let floor = config.min_completed_during_changes;
        let what = format!("only {completed_during_changes} operations completed during the changes (floor {floor})");
        return Err(JepsenError::Floor { what, run: folder });
    }
    Ok(MembershipReport {
        seed: config.seed,
        steps,
        leader_removals,
        final_voters,
        stats,
        appends_acked,
        completed,
        completed_during_changes,
        operations: history.operations.len(),
        check_time,
        elapsed: Duration::ZERO,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_plan_is_a_function_of_its_seed_and_names_only_voters_that_remain() {
        for seed in 0..200 {
            let plan = MemberStep::random_plan(seed, 3, 8);
            assert_eq!(plan, MemberStep::random_plan(seed, 3, 8), "same seed, same plan");
            let fresh = MemberStep::fresh_ids(&plan);
            assert!(fresh.iter().enumerate().all(|(i, id)| *id == 4 + i as NodeId), "fresh ids in order: {fresh:?}");
            // Ids below `floor` may have been replaced as "the leader".
            let (mut gone, mut floor) = (Vec::new(), 1);
            for step in &plan {
                let named = match step {
                    MemberStep::Replace { old, .. } => *old,
                    MemberStep::RemoveReadd { id } | MemberStep::WipeRejoin { id } => *id,
                    MemberStep::ReplaceOneOf { .. } => unreachable!("random plans name one target"),
                };
                if let Some(id) = named {
                    assert!(
                        !gone.contains(&id) && id >= floor,
                        "seed {seed}: {step:?} names a departed node: {plan:?}"
                    );
                }
                if let MemberStep::Replace { old, new } = step {
                    match old {
                        Some(o) => gone.push(*o),
                        None => floor = *new,
                    }
                }
            }
        }
    }
}
