//! One Jepsen-style run: start real nodes, drive concurrent clients while a
//! seeded nemesis breaks processes or the network, heal, and then ask three
//! questions — does the cluster serve again within a bound, does every node
//! hold the same data once caught up, and was everything the clients saw
//! linearizable?
//!
//! Why in the library: the process-fault and partition tests differ only in
//! cluster size, network and fault kinds; the run itself (and its evidence: the
//! history, the schedule, the nemesis log and the checker's report, all saved in
//! the [`RunDir`]) is the same.

mod error;
pub mod floors;
pub mod membership;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::JepsenError;

use crate::append::{check_appends, run_appenders, AppendConfig, AppendStats};
use crate::cluster::{ClusterConfig, Network, ProcessCluster};
use crate::error::NodeId;
use crate::history::HistoryRecorder;
use crate::linearizability::{check, History, Verdict};
use crate::nemesis::{ClusterTarget, FaultKind, Nemesis, Schedule, ScheduleConfig};
use crate::probe::{disagreements, ClusterProbe, NodeValues};
use crate::rundir::RunDir;
use crate::workload::{client_config, Workload, WorkloadConfig, WorkloadStats};

/// Cluster id the nodes are started with (and the clients send).
pub const CLUSTER_ID: &str = "jepsen";

/// Client ids outside the workload's range: setup, recovery and final reads.
const SETUP_CLIENT: u64 = 1_000;
const RECOVERY_CLIENT: u64 = 1_001;
const FINAL_CLIENT: u64 = 1_002;
/// First client id of the appenders (the register clients start at 1).
const APPEND_CLIENTS: u64 = 500;
/// Node `id`'s stale reads are recorded as client `NODE_READ_CLIENTS + id`.
const NODE_READ_CLIENTS: u64 = 2_000;

/// Environment variable: soak for this many seconds (repeated runs with seeds
/// `seed, seed+1, ...`) instead of the single CI run.
pub const SOAK_ENV: &str = "JEPSEN_SOAK_SECS";

/// Environment variable that fixes the seed (printed by every run).
pub const SEED_ENV: &str = "JEPSEN_SEED";

/// Parameters of a run.
#[derive(Clone, Debug)]
pub struct JepsenConfig {
    /// Test name (run folder prefix).
    pub name: String,
    /// Number of nodes.
    pub nodes: usize,
    /// Loopback or namespaces.
    pub network: Network,
    /// Fault kinds the nemesis draws from.
    pub kinds: Vec<FaultKind>,
    /// Fault steps per run.
    pub steps: usize,
    /// How long each fault lasts (`lo..hi` ms).
    pub hold_ms: (u64, u64),
    /// Quiet time after each heal (`lo..hi` ms).
    pub recover_ms: (u64, u64),
    /// Concurrent clients.
    pub clients: usize,
    /// Keys.
    pub keys: usize,
    /// Seeds the schedule and the clients.
    pub seed: u64,
    /// Extra `raft-cli node` arguments (timing, snapshots).
    pub node_args: Vec<String>,
    /// Bound on "serves again" and "caught up" after the faults heal, measured
    /// from the last heal (and from each quorum-loss heal).
    pub recovery_timeout: Duration,
    /// Clients appending to the set keys (`s*`), see [`crate::append`].
    pub append_clients: usize,
    /// Set keys.
    pub append_keys: usize,
    /// Floor: operations the workload clients completed in the whole run.
    pub min_completed: usize,
    /// Floor: operations completed while some fault was in force.
    pub min_completed_under_fault: usize,
}

impl JepsenConfig {
    /// Defaults for `nodes` nodes on `network` with faults of `kinds`.
    pub fn new(name: &str, nodes: usize, network: Network, kinds: &[FaultKind], seed: u64) -> Self {
        let node_args = ["--cluster-id", CLUSTER_ID, "--tick-ms", "50", "--election-ticks", "10"]
            .iter()
            .chain(&["--snapshot-threshold", "300"])
            .map(|s| s.to_string())
            .collect();
        JepsenConfig {
            name: name.into(),
            nodes,
            network,
            kinds: kinds.to_vec(),
            steps: 8,
            hold_ms: (1000, 3000),
            recover_ms: (1000, 2000),
            clients: 8,
            keys: 12,
            seed,
            node_args,
            recovery_timeout: Duration::from_secs(20),
            append_clients: 2,
            append_keys: 2,
            min_completed: 2000,
            min_completed_under_fault: 300,
        }
    }
}

/// What a passing run measured.
#[derive(Clone, Debug)]
pub struct JepsenReport {
    /// The seed.
    pub seed: u64,
    /// Client outcome counts.
    pub stats: WorkloadStats,
    /// Appender outcome counts.
    pub appends: AppendStats,
    /// Faults applied (every scheduled step; a skipped one fails the run).
    pub faults_applied: usize,
    /// Operations the clients completed.
    pub completed: usize,
    /// Of those, completed while a fault was in force.
    pub completed_under_fault: usize,
    /// Operations in the checked history.
    pub operations: usize,
    /// From the last heal (the end of the schedule) to the first acknowledged
    /// write after the clients stopped; at most the clients' operation timeout
    /// plus the time to serve again.
    pub recovery: Duration,
    /// Time the checker took.
    pub check_time: Duration,
    /// Whole run, cluster start to verdict.
    pub elapsed: Duration,
}

impl std::fmt::Display for JepsenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {}: linearizable, {} ops checked in {:.1?}; {} faults applied; {} ops completed, {} of them \
             under a fault; served again {:.1?} after the last heal; run took {:.1?}; {}; {}",
            self.seed,
            self.operations,
            self.check_time,
            self.faults_applied,
            self.completed,
            self.completed_under_fault,
            self.recovery,
            self.elapsed,
            self.stats,
            self.appends
        )
    }
}

/// Runs once with `config.seed`, or — when `$JEPSEN_SOAK_SECS` is set — again
/// and again with seeds `seed, seed+1, ...` until that many seconds have
/// passed. Stops at the first failing run.
pub fn run_suite(config: &JepsenConfig) -> Result<Vec<JepsenReport>, (u64, JepsenError)> {
    let soak = std::env::var(SOAK_ENV).ok().and_then(|s| s.parse::<u64>().ok()).map(Duration::from_secs);
    let start = Instant::now();
    let mut reports = Vec::new();
    let mut cfg = config.clone();
    loop {
        eprintln!("{}: run {} with seed {} ({}={})", cfg.name, reports.len() + 1, cfg.seed, SEED_ENV, cfg.seed);
        let report = run_once(&cfg).map_err(|e| (cfg.seed, e))?;
        eprintln!("{}: {report}", cfg.name);
        reports.push(report);
        match soak {
            Some(limit) if start.elapsed() < limit => cfg.seed = cfg.seed.wrapping_add(1),
            _ => return Ok(reports),
        }
    }
}

/// One run. The run folder is kept (and printed) if it fails.
pub fn run_once(config: &JepsenConfig) -> Result<JepsenReport, JepsenError> {
    let mut run = RunDir::create(&config.name)?;
    let result = start_and_drive(&run, config);
    if result.is_err() {
        run.keep();
    }
    result
}

fn start_and_drive(run: &RunDir, config: &JepsenConfig) -> Result<JepsenReport, JepsenError> {
    let start = Instant::now();
    let mut cc = ClusterConfig::new(config.nodes);
    cc.network = config.network;
    cc.extra_args = config.node_args.clone();
    let mut cluster = ProcessCluster::start(&cc, run)?;
    let mut report = match cluster.netns().map(|n| n.client_namespace()) {
        // Clients (and the tokio threads they run on) live in the client namespace.
        Some(ns) => crate::netns::run_in_namespace(&ns, || drive(run, config, &mut cluster))??,
        None => drive(run, config, &mut cluster)?,
    };
    report.elapsed = start.elapsed();
    Ok(report)
}

fn drive(run: &RunDir, config: &JepsenConfig, cluster: &mut ProcessCluster) -> Result<JepsenReport, JepsenError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(JepsenError::Runtime)?;
    let mut endpoints = BTreeMap::new();
    for id in cluster.node_ids() {
        endpoints.insert(id, format!("http://{}", cluster.addr(id)?));
    }
    let probe = ClusterProbe::new(endpoints, client_config(CLUSTER_ID));
    let recorder = Arc::new(HistoryRecorder::new());
    let mut keys = WorkloadConfig::new(config.clients, config.keys, config.seed, CLUSTER_ID).key_names();
    keys.extend(append_config(config).key_names());
    rt.block_on(probe.write_until_served(&recorder, SETUP_CLIENT, &keys[0], "setup", config.recovery_timeout))?;

    let phase = faults_under_load(run, config, cluster, &rt, &probe, recorder.clone())?;
    let timeout = config.recovery_timeout;
    rt.block_on(probe.write_until_served(&recorder, RECOVERY_CLIENT, &keys[0], "recovery", timeout))?;
    let recovery = phase.healed.elapsed();
    let final_reads = rt.block_on(async {
        probe.wait_caught_up(config.recovery_timeout).await?;
        let reads = probe.read_all(&recorder, FINAL_CLIENT, &keys).await?;
        probe.wait_caught_up(config.recovery_timeout).await?;
        let per_node = probe.read_every_node(&recorder, NODE_READ_CLIENTS, &keys).await?;
        Ok::<_, JepsenError>((reads, per_node))
    });
    cluster.check_no_crashes()?;
    let history = recorder.history();
    run.save_history("clients", &history)?;
    let (reads, per_node) = final_reads?;

    let check_time = verify_history(run, &history, reads, &per_node)?;
    let folder = run.path().to_path_buf();
    let windows: Vec<floors::Window> = phase
        .nemesis_windows
        .iter()
        .map(|w| floors::Window {
            fault: w.fault.clone(),
            start: recorder.at(w.start),
            end: recorder.at(w.end),
            quorum_loss: w.quorum_loss,
        })
        .collect();
    let bound = u64::try_from(config.recovery_timeout.as_nanos()).unwrap_or(u64::MAX);
    let mut quorum = floors::writes_during_quorum_loss(&history, &windows);
    quorum.extend(floors::unserved_after_quorum_loss(&history, &windows, bound));
    if !quorum.is_empty() {
        return Err(JepsenError::QuorumLoss { details: quorum.join("\n"), run: folder });
    }
    let report = JepsenReport {
        seed: config.seed,
        stats: phase.stats,
        appends: phase.appends,
        faults_applied: windows.len(),
        completed: floors::completed(&history, SETUP_CLIENT),
        completed_under_fault: floors::completed_under_fault(&history, SETUP_CLIENT, &windows),
        operations: history.operations.len(),
        recovery,
        check_time,
        elapsed: Duration::ZERO,
    };
    check_floors(config, &report, phase.skipped).map_err(|what| JepsenError::Floor { what, run: folder })?;
    Ok(report)
}

/// The floors of [`floors`] that need the whole report.
fn check_floors(config: &JepsenConfig, r: &JepsenReport, skipped: usize) -> Result<(), String> {
    if skipped > 0 || r.faults_applied != config.steps {
        return Err(format!("{} of {} faults applied ({skipped} skipped)", r.faults_applied, config.steps));
    }
    if r.completed < config.min_completed {
        return Err(format!("only {} operations completed (floor {})", r.completed, config.min_completed));
    }
    if r.completed_under_fault < config.min_completed_under_fault {
        let floor = config.min_completed_under_fault;
        return Err(format!("only {} operations completed under a fault (floor {floor})", r.completed_under_fault));
    }
    if r.recovery > config.recovery_timeout {
        return Err(format!(
            "served again {:.1?} after the last heal (bound {:?})",
            r.recovery, config.recovery_timeout
        ));
    }
    Ok(())
}

fn append_config(config: &JepsenConfig) -> AppendConfig {
    AppendConfig {
        clients: config.append_clients,
        keys: config.append_keys,
        first_client_id: APPEND_CLIENTS,
        seed: config.seed,
        client: client_config(CLUSTER_ID),
    }
}

/// What the fault phase leaves behind.
struct FaultPhase {
    stats: WorkloadStats,
    appends: AppendStats,
    /// When the last fault was healed.
    healed: Instant,
    nemesis_windows: Vec<crate::nemesis::FaultWindow>,
    /// Steps whose fault could not be applied.
    skipped: usize,
}

/// The workload runs on the runtime while the nemesis runs its schedule on this
/// thread; returns once every fault is healed and every client has stopped,
/// with the client counts, the fault windows and the moment the last fault was
/// healed.
fn faults_under_load(
    run: &RunDir,
    config: &JepsenConfig,
    cluster: &mut ProcessCluster,
    rt: &tokio::runtime::Runtime,
    probe: &ClusterProbe,
    recorder: Arc<HistoryRecorder>,
) -> Result<FaultPhase, JepsenError> {
    let mut sc = ScheduleConfig::new(cluster.node_ids(), config.steps, &config.kinds);
    sc.hold_ms = config.hold_ms;
    sc.recover_ms = config.recover_ms;
    let schedule = Schedule::random(config.seed, &sc);
    run.write("nemesis.json", &schedule.to_json())?;

    let wc = WorkloadConfig::new(config.clients, config.keys, config.seed, CLUSTER_ID);
    let stop = Arc::new(AtomicBool::new(false));
    let workload = rt.spawn(Workload::new(wc, probe.endpoint_list(), recorder.clone()).run(stop.clone()));
    let appenders = rt.spawn(run_appenders(append_config(config), probe.endpoint_list(), recorder, stop.clone()));
    let handle = rt.handle().clone();
    let find_leader = || leader_now(&handle, probe);
    let mut nemesis = Nemesis::new(schedule);
    let nemesis_result = nemesis.run(&mut ClusterTarget::new(cluster, find_leader));
    let healed = Instant::now();
    let log: String = nemesis.events().iter().map(|e| format!("{e}\n")).collect();
    run.write("nemesis.log", &log)?;
    stop.store(true, Ordering::Relaxed);
    let stats = rt.block_on(workload).expect("invariant: the workload task does not panic");
    let appends = rt.block_on(appenders).expect("invariant: the appender task does not panic");
    nemesis_result?;
    Ok(FaultPhase {
        stats: stats?,
        appends: appends?,
        healed,
        nemesis_windows: nemesis.windows().to_vec(),
        skipped: nemesis.skipped(),
    })
}

/// The current leader, asked on the runtime (whose threads may live in the
/// client namespace) from the nemesis thread.
fn leader_now(handle: &tokio::runtime::Handle, probe: &ClusterProbe) -> Option<NodeId> {
    let (tx, rx) = std::sync::mpsc::channel();
    let probe = probe.clone();
    handle.spawn(async move {
        let _ = tx.send(probe.leader().await);
    });
    rx.recv_timeout(Duration::from_secs(10)).ok().flatten()
}

/// Keys where a caught-up node differs from another or from the final
/// linearizable read.
/// The end-of-run checks every Jepsen run makes: the history is
/// linearizable (the verdict is kept in `check.txt`), the nodes agree with
/// the final reads, and no acknowledged append is missing. Returns how long
/// the linearizability check took.
pub(crate) fn verify_history(
    run: &RunDir,
    history: &History,
    reads: BTreeMap<String, Option<String>>,
    per_node: &NodeValues,
) -> Result<Duration, JepsenError> {
    let check_start = Instant::now();
    let verdict = check(history)?;
    let check_time = check_start.elapsed();
    run.write("check.txt", &verdict.to_string())?;
    let folder = run.path().to_path_buf();
    match verdict.verdict() {
        Verdict::Linearizable => {}
        Verdict::NotLinearizable(_) => {
            return Err(JepsenError::NotLinearizable { report: verdict.to_string(), run: folder })
        }
        Verdict::Unknown { .. } => return Err(JepsenError::Unknown { report: verdict.to_string(), run: folder }),
    }
    let divergent = divergence(&reads, per_node);
    if !divergent.is_empty() {
        return Err(JepsenError::Divergence { details: divergent.join("\n"), run: folder });
    }
    let set_reads = reads.into_iter().filter(|(k, _)| k.starts_with('s')).collect();
    let lost = check_appends(history, &set_reads);
    if !lost.is_empty() {
        return Err(JepsenError::LostAppends { details: lost.join("\n"), run: folder });
    }
    Ok(check_time)
}

fn divergence(reads: &BTreeMap<String, Option<String>>, per_node: &NodeValues) -> Vec<String> {
    let mut out = disagreements(per_node);
    for (key, value) in reads {
        let Some(nodes) = per_node.get(key) else { continue };
        if nodes.values().any(|v| v != value) {
            out.push(format!("{key:?}: final linearizable read {value:?}, nodes {nodes:?}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> JepsenReport {
        JepsenReport {
            seed: 1,
            stats: WorkloadStats::default(),
            appends: AppendStats::default(),
            faults_applied: 8,
            completed: 5_000,
            completed_under_fault: 1_000,
            operations: 5_000,
            recovery: Duration::from_secs(1),
            check_time: Duration::ZERO,
            elapsed: Duration::ZERO,
        }
    }

    fn config() -> JepsenConfig {
        JepsenConfig::new("t", 3, Network::Loopback, FaultKind::PROCESS, 1)
    }

    #[test]
    fn a_run_that_did_its_work_clears_the_floors() {
        check_floors(&config(), &report(), 0).unwrap();
    }

    #[test]
    fn a_skipped_or_missing_fault_fails_the_run() {
        let err = check_floors(&config(), &report(), 1).unwrap_err();
        assert!(err.contains("(1 skipped)"), "{err}");
        let r = JepsenReport { faults_applied: 7, ..report() };
        assert!(check_floors(&config(), &r, 0).unwrap_err().contains("7 of 8 faults applied"));
    }

    #[test]
    fn too_little_work_or_a_slow_recovery_fails_the_run() {
        let r = JepsenReport { completed: 1, ..report() };
        assert!(check_floors(&config(), &r, 0).unwrap_err().contains("only 1 operations completed"));
        let r = JepsenReport { completed_under_fault: 0, ..report() };
        assert!(check_floors(&config(), &r, 0).unwrap_err().contains("under a fault"));
        let r = JepsenReport { recovery: Duration::from_secs(21), ..report() };
        assert!(check_floors(&config(), &r, 0).unwrap_err().contains("after the last heal"));
    }
}
