//! `raft-cli bench`: a closed-loop load generator.
//!
//! Each of `--clients` sessions keeps one request in flight against the
//! cluster (leader-following, like any client), so the numbers are what
//! clients see. `--local N` starts a cluster of real node processes first,
//! exactly as the demo does, and stops it afterwards.

mod args;
mod histogram;
mod load;
mod progress;
mod report;

use std::io::IsTerminal;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use raft_rpc::{AdminClient, Consistency, KvClient};
use tokio::sync::Mutex;
use tokio::time::Instant;

use args::bench_key;
pub use args::BenchArgs;
use load::{run_load, LoadShape, OpKind, OpRequest};
use progress::Progress;
use report::BenchReport;

use crate::client::{classify, client_config};
use crate::demo::{loopback_addrs, LaunchPlan, Supervisor, DEMO_NODE_FLAGS};
use crate::exit::{CliError, CliResult};
use crate::output::{print, OutputFormat};

/// How long a `--local` cluster gets to elect its first leader.
const LOCAL_STARTUP_LIMIT: Duration = Duration::from_secs(60);
const CLUSTER_ID: &str = "default";

/// Runs the benchmark.
pub fn run(args: BenchArgs) -> CliResult {
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async move {
        let Some(n) = args.local else { return bench(&args, args.endpoints.clone()).await };
        let dir = tempfile::Builder::new().prefix("raft-bench-").tempdir().context("cannot create a temp directory")?;
        let plan = LaunchPlan {
            exe: std::env::current_exe().context("cannot find the raft-cli executable")?,
            addrs: loopback_addrs(n, args.base_port).map_err(CliError::usage)?,
            root: dir.path().to_path_buf(),
            extra_args: DEMO_NODE_FLAGS.iter().map(|s| s.to_string()).collect(),
        };
        plan.check_ports_free().map_err(CliError::usage)?;
        let endpoints: Vec<String> = plan.addrs.values().map(|a| a.to_string()).collect();
        let mut sup = Supervisor::new(plan);
        for id in sup.ids() {
            sup.spawn(id)?;
        }
        eprintln!("started {n} local nodes at {}; waiting for a leader", endpoints.join(","));
        let result = match wait_for_leader(&endpoints).await {
            Ok(()) => bench(&args, endpoints).await,
            Err(e) => Err(e),
        };
        sup.stop_all(Duration::from_secs(10)).await;
        result
    })
}

async fn wait_for_leader(endpoints: &[String]) -> CliResult {
    let deadline = Instant::now() + LOCAL_STARTUP_LIMIT;
    let config = client_config(CLUSTER_ID, Duration::from_secs(1));
    loop {
        for ep in endpoints {
            if let Ok(admin) = AdminClient::connect(ep, config.clone()).await {
                if let Ok(status) = admin.status().await {
                    if status.leader.is_some() {
                        return Ok(());
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(CliError::unavailable(anyhow::anyhow!(
                "the local cluster elected no leader within {}s (see the node logs)",
                LOCAL_STARTUP_LIMIT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn bench(args: &BenchArgs, endpoints: Vec<String>) -> CliResult {
    let config = client_config(CLUSTER_ID, args.timeout);
    let mut sessions = Vec::with_capacity(args.clients as usize);
    for _ in 0..args.clients {
        let kv = KvClient::new(&endpoints, config.clone()).map_err(|e| classify(e, &endpoints, args.timeout))?;
        sessions.push(Arc::new(Mutex::new(kv)));
    }
    let sessions = Arc::new(sessions);
    let (key_size, value) = (args.key_size as usize, Arc::new(vec![b'x'; args.value_size as usize]));
    let op = move |req: OpRequest| {
        let sessions = sessions.clone();
        let value = value.clone();
        async move {
            let mut kv = sessions[req.client].lock().await;
            let key = bench_key(req.key_draw, key_size);
            let outcome = match req.kind {
                OpKind::Read => kv.get(key, Consistency::Linearizable).await.map(|_| ()),
                OpKind::Write => kv.put(key, value.to_vec()).await.map(|_| ()),
            };
            outcome.map_err(|e| first_words(&e.to_string()))
        }
    };
    let shape = LoadShape {
        clients: args.clients as usize,
        duration: args.duration,
        read_ratio: args.read_ratio,
        seed: crate::demo::fresh_seed(),
    };
    let done = Arc::new(AtomicU64::new(0));
    let visible = args.output == OutputFormat::Human && std::io::stderr().is_terminal();
    let progress = Progress::start(args.duration, done.clone(), visible);
    let result = run_load(shape, op, done).await;
    progress.finish();
    let report = BenchReport {
        clients: args.clients as usize,
        key_size,
        value_size: args.value_size as usize,
        read_ratio: args.read_ratio,
        result,
    };
    print(args.output, &report);
    if report.result.ok_ops() == 0 {
        return Err(classify(
            raft_rpc::ClientError::Unavailable("no operation succeeded".into()),
            &endpoints,
            args.timeout,
        ));
    }
    Ok(())
}

/// Error texts are grouped in the report; keep the part before details like addresses and timings.
fn first_words(message: &str) -> String {
    message.split(':').take(2).collect::<Vec<_>>().join(":").chars().take(80).collect()
}
