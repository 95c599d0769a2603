//! In-process write throughput, in the shape of openraft's in-memory
//! benchmark (issue #13, point 4): 3 Raft nodes in ONE process, memory
//! stores, the in-process transport (no gRPC, no disk), empty payloads, and
//! closed-loop clients (each awaits its write before sending the next),
//! proposing straight to the leader's [`NodeClient`] (no retry/forward
//! helper). What is left is the node itself: the request channel and reply
//! oneshot, the node task's Ready loop, the core, replication between tasks,
//! apply, and tokio scheduling. The state machine is a no-op (answers
//! `()`), so no payload decode or map insert is measured either.
//!
//! Targets from #13 (2 cores): >= 1.0M puts/s at 256 clients and >= 1.3M at
//! 1024; openraft's own bench does about 0.67M and 0.87M on this kind of
//! machine. CPU is the whole process (clients included, as in openraft's),
//! from `/proc/self/stat` utime+stime (USER_HZ = 100 on Linux); "cores used"
//! is that CPU over the wall time (below 2 when other load shares the cores).
//!
//! `nice cargo bench -p raft-cluster --bench inprocess_puts`; `BENCH_SECS`
//! (default 5, per data point, after a 1 s warm-up), `BENCH_CLIENTS`
//! (default "1 64 256 1024"), `BENCH_THREADS` (tokio workers, default: the
//! number of CPUs). Each data point gets a fresh cluster. A failed write is
//! counted and reported, as is any term change during the point (an
//! election would make the figure meaningless).

use std::io::Read;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft_cluster::{
    ClusterOptions, LocalCluster, NodeClient, NodeStateMachine, RestoreJob, SnapshotCheck, SnapshotJob,
};
use raft_cluster::{StoreKind, TransportKind};
use raft_core::{Entry, EntryPayload, LogIndex, NodeId, SnapshotMeta};

const DEADLINE: Duration = Duration::from_secs(10);
const WARMUP: Duration = Duration::from_secs(1);
const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const STOPPING: u8 = 2;

/// Applies nothing; answers every normal entry with `()`.
#[derive(Default)]
struct Noop {
    applied: LogIndex,
}

impl NodeStateMachine for Noop {
    type Response = ();
    type Query = ();
    type QueryResult = LogIndex;

    fn apply(&mut self, entry: &Entry) -> Result<Option<()>, String> {
        self.applied = entry.index;
        Ok(matches!(entry.payload, EntryPayload::Normal(_)).then_some(()))
    }
    fn applied_index(&self) -> LogIndex {
        self.applied
    }
    fn query(&self, _: &()) -> LogIndex {
        self.applied
    }
    fn snapshot_job(&self) -> Result<SnapshotJob, String> {
        Ok(Box::new(|| Ok(Vec::new())))
    }
    fn restore(&mut self, meta: &SnapshotMeta, _: &mut dyn Read) -> Result<(), String> {
        self.applied = meta.last_log_id.index;
        Ok(())
    }
    #[allow(clippy::type_complexity)]
    fn restore_job(&self) -> RestoreJob<Self> {
        Box::new(|meta: &SnapshotMeta, _: &mut dyn Read| Ok(Noop { applied: meta.last_log_id.index }))
    }
    fn snapshot_check(&self) -> SnapshotCheck {
        Arc::new(|_: &SnapshotMeta, _: &mut dyn Read| Ok(()))
    }
}

/// Process CPU time (user + system) so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, i.e. the 12th and 13th after it.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// What one client saw while the measuring window was open.
#[derive(Default)]
struct ClientTally {
    latencies_ns: Vec<u64>,
    failed: u64,
    failed_total: u64,
    first_error: Option<String>,
}

async fn client_loop(client: NodeClient<Noop>, phase: Arc<AtomicU8>) -> ClientTally {
    let mut t = ClientTally::default();
    loop {
        let p = phase.load(Ordering::Relaxed);
        if p == STOPPING {
            return t;
        }
        let start = Instant::now();
        let r = client.propose(Vec::new()).await;
        let took = start.elapsed().as_nanos() as u64;
        let measuring = p == MEASURING && phase.load(Ordering::Relaxed) == MEASURING;
        match r {
            Ok(()) if measuring => t.latencies_ns.push(took),
            Ok(()) => {}
            Err(e) => {
                t.failed_total += 1;
                t.failed += measuring as u64;
                t.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

struct Point {
    clients: usize,
    puts: u64,
    wall: Duration,
    cpu: Duration,
    p50: Duration,
    p99: Duration,
    failed: u64,
    failed_total: u64,
    term_changes: u64,
    first_error: Option<String>,
}

async fn run_point(clients: usize, secs: f64) -> Point {
    let opts = ClusterOptions {
        nodes: 3,
        store: StoreKind::Memory,
        transport: TransportKind::InProcess,
        // 10 ms ticks, heartbeat every 30 ms, election timeout 1-2 s: a
        // loaded follower loop must not start an election mid-run.
        tick_interval_ms: 10,
        heartbeat_ticks: 3,
        election_ticks: 100,
        snapshot_threshold: 0,
        ..ClusterOptions::default()
    };
    let cluster = LocalCluster::start(opts, Arc::new(|_| Noop::default())).await.expect("cluster starts");
    // Elect node 1 now rather than after a 1-2 s timeout; the wait below
    // (with a deadline) is what synchronizes.
    if let Err(e) = cluster.client(NodeId(1)).expect("node 1 runs").campaign().await {
        eprintln!("campaign on node 1 failed ({e}); waiting for an election instead");
    }
    let leader = cluster.wait_for_leader(DEADLINE).await.expect("a leader is elected");
    let client = cluster.client(leader).expect("leader runs");
    client.propose(Vec::new()).await.expect("a first write commits");
    let term_at_start = client.status().term;

    let phase = Arc::new(AtomicU8::new(WARMING));
    let tasks: Vec<_> = (0..clients).map(|_| tokio::spawn(client_loop(client.clone(), Arc::clone(&phase)))).collect();
    tokio::time::sleep(WARMUP).await;
    let (wall0, cpu0) = (Instant::now(), cpu_time());
    phase.store(MEASURING, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    phase.store(STOPPING, Ordering::Relaxed);
    let (wall, cpu) = (wall0.elapsed(), cpu_time().saturating_sub(cpu0));

    let mut lat = Vec::new();
    let (mut failed, mut failed_total, mut first_error) = (0, 0, None);
    for t in tasks {
        let t = t.await.expect("client task");
        lat.extend(t.latencies_ns);
        failed += t.failed;
        failed_total += t.failed_total;
        first_error = first_error.or(t.first_error);
    }
    let term_changes = cluster.ids().iter().filter_map(|id| cluster.status(*id)).map(|s| s.term.0).max().unwrap_or(0)
        - term_at_start.0;
    if let Err(e) = cluster.shutdown().await {
        eprintln!("cluster shutdown: {e}");
    }
    lat.sort_unstable();
    let pct = |q: f64| {
        Duration::from_nanos(
            lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0),
        )
    };
    Point {
        clients,
        puts: lat.len() as u64,
        wall,
        cpu,
        p50: pct(0.50),
        p99: pct(0.99),
        failed,
        failed_total,
        term_changes,
        first_error,
    }
}

fn fmt_latency(d: Duration) -> String {
    match d.as_micros() {
        us if us < 10_000 => format!("{us} µs"),
        us => format!("{:.1} ms", us as f64 / 1000.0),
    }
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let clients: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .unwrap_or_else(|_| "1 64 256 1024".into())
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter_map(|s| s.parse().ok())
        .collect();
    let threads: usize = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().expect("runtime");

    println!(
        "Setup: 3 Raft nodes in one process, memory store (MemNodeStore), in-process transport (LocalNetwork), \
         0-byte payload, no-op state machine, closed-loop clients on the leader's NodeClient, \
         {threads} tokio worker threads, {secs} s per point after {} s warm-up, fresh cluster per point, \
         CPU = whole process ({} build).\n",
        WARMUP.as_secs(),
        if cfg!(debug_assertions) { "DEBUG" } else { "release" }
    );
    println!(
        "| clients | puts/s | p50 latency | p99 latency | CPU-s per 1k puts | cores used | failed | term changes |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in clients {
        let p = rt.block_on(run_point(n, secs));
        let rate = p.puts as f64 / p.wall.as_secs_f64();
        let cpu_per_k = if p.puts == 0 { f64::NAN } else { p.cpu.as_secs_f64() * 1000.0 / p.puts as f64 };
        println!(
            "| {} | {:.0} | {} | {} | {:.4} | {:.2} | {} | {} |",
            p.clients,
            rate,
            fmt_latency(p.p50),
            fmt_latency(p.p99),
            cpu_per_k,
            p.cpu.as_secs_f64() / p.wall.as_secs_f64(),
            p.failed,
            p.term_changes
        );
        if let Some(e) = p.first_error {
            eprintln!("  {} clients: {} writes failed in all (first: {e})", p.clients, p.failed_total);
        }
    }
}
