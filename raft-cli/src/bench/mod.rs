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
mod target;

use std::io::IsTerminal;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use raft_rpc::AdminClient;
use tokio::time::Instant;

use args::bench_key;
pub use args::BenchArgs;
use load::{run_load, LoadShape, OpRequest, Stop};
use progress::Progress;
use report::BenchReport;
pub use target::Target;
use target::{read_consistency, Clients};

use crate::client::{classify, client_config};
use crate::demo::{loopback_addrs, LaunchPlan, Supervisor, DEMO_NODE_FLAGS};
use crate::exit::{CliError, CliResult};
use crate::output::{print, OutputFormat};

/// How long a `--local` cluster gets to elect its first leader.
const LOCAL_STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// Runs the benchmark.
pub fn run(args: BenchArgs) -> CliResult {
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async move {
        let Some(n) = args.local else { return bench(&args, args.endpoints.clone()).await };
        if args.target != Target::Raft {
            return Err(CliError::usage(anyhow::anyhow!(
                "--local starts this project's nodes; it cannot be combined with --target etcd"
            )));
        }
        let dir = tempfile::Builder::new().prefix("raft-bench-").tempdir().context("cannot create a temp directory")?;
        let plan = LaunchPlan {
            exe: std::env::current_exe().context("cannot find the raft-cli executable")?,
            addrs: loopback_addrs(n, args.base_port).map_err(CliError::usage)?,
            root: dir.path().to_path_buf(),
            extra_args: DEMO_NODE_FLAGS.iter().map(|s| s.to_string()).collect(),
            joiners: Default::default(),
        };
        plan.check_ports_free().map_err(CliError::usage)?;
        let endpoints: Vec<String> = plan.addrs.values().map(|a| a.to_string()).collect();
        let mut sup = Supervisor::new(plan);
        for id in sup.ids() {
            sup.spawn(id)?;
        }
        eprintln!("started {n} local nodes at {}; waiting for a leader", endpoints.join(","));
        // The local nodes run with the default cluster id, whatever RAFT_CLUSTER_ID says.
        // The local cluster is plaintext: no TLS towards it.
        let args = BenchArgs { cluster_id: crate::client::DEFAULT_CLUSTER_ID.to_owned(), tls: None, ..args.clone() };
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
    let config = client_config(crate::client::DEFAULT_CLUSTER_ID, Duration::from_secs(1));
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
    let fail = |e| classify(e, &endpoints, args.timeout);
    if args.stale_reads && args.target != Target::Raft {
        return Err(CliError::usage(anyhow::anyhow!("--stale-reads applies to --target raft only")));
    }
    let (clients, connections) = Clients::connect(args, &endpoints).await?;
    let consistency = read_consistency(args);
    let conns = args.conns.min(args.clients) as usize;
    let clients = Arc::new(clients);
    let (key_size, value) = (args.key_size as usize, Arc::new(vec![b'x'; args.value_size as usize]));
    let op = move |req: OpRequest| {
        let clients = clients.clone();
        let value = value.clone();
        async move {
            let key = bench_key(req.key_draw, key_size);
            clients.run(req.client, req.kind, key, &value, consistency).await.map_err(|e| first_words(&e.to_string()))
        }
    };
    let shape = |stop| LoadShape {
        clients: args.clients as usize,
        stop,
        read_ratio: args.read_ratio,
        seed: crate::demo::fresh_seed(),
    };
    let visible = args.output == OutputFormat::Human && std::io::stderr().is_terminal();
    if !args.warmup.is_zero() {
        if visible {
            eprintln!("warming up for {}", crate::duration::format_duration(args.warmup));
        }
        run_load(shape(Stop::After(args.warmup)), op.clone(), Arc::new(AtomicU64::new(0))).await;
    }
    let stop = match args.total {
        Some(n) => Stop::Ops(n),
        None => Stop::After(args.duration),
    };
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(args.duration, done.clone(), visible && args.total.is_none());
    let result = run_load(shape(stop), op, done).await;
    progress.finish();
    let report = BenchReport {
        target: args.target,
        clients: args.clients as usize,
        conns,
        connections,
        warmup: args.warmup,
        key_size,
        value_size: args.value_size as usize,
        read_ratio: args.read_ratio,
        stale_reads: args.stale_reads,
        result,
    };
    print(args.output, &report);
    let (ok, failed) = (report.result.ok_ops(), report.result.failed_ops());
    if ok == 0 {
        return Err(fail(raft_rpc::ClientError::Unavailable("no operation succeeded".into())));
    }
    if failed > 0 {
        // The numbers above are not those of a healthy cluster: say so in the exit code.
        return Err(CliError::negative(anyhow::anyhow!(
            "{failed} of {} operations failed (see the errors above)",
            ok + failed
        )));
    }
    Ok(())
}

/// Error texts are grouped in the report; keep the part before details like addresses and timings.
fn first_words(message: &str) -> String {
    message.split(':').take(2).collect::<Vec<_>>().join(":").chars().take(80).collect()
}
