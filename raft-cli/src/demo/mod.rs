//! `raft-cli demo`: the project's front door.
//!
//! It starts a cluster of real `raft-cli node` processes on loopback, drives
//! a small write workload, narrates what the nodes report on their Watch
//! streams, survives (and optionally causes) crashes and pauses, and at the
//! end proves that no acknowledged write was lost by reading every key back
//! from every node.
//!
//! Pieces: [`supervisor`] owns the processes, [`narrator`] turns events into
//! text, [`workload`] writes and remembers acknowledgements, [`chaos`] plans
//! faults, [`verify`] settles and checks, [`summary`] reports. This module
//! runs the event loop that connects them ([`session`]).

mod acklog;
mod args;
mod chaos;
mod cluster_io;
mod event;
mod members_tour;
mod narrator;
mod session;
mod summary;
mod supervisor;
mod timeline;
mod tls;
mod verify;
mod workload;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::{bail, Context};

pub use args::DemoArgs;
pub use chaos::fresh_seed;
pub use supervisor::{LaunchPlan, Supervisor};

use crate::exit::{CliError, CliResult};
use crate::output::print;

/// Flags every demo node gets: fast ticks so elections take about a second.
/// The cluster id stays the default one so plain `raft-cli put k v` reaches the demo.
pub const DEMO_NODE_FLAGS: [&str; 6] = ["--tick-ms", "50", "--election-ticks", "10", "--heartbeat-ticks", "2"];

/// The demo's node flags: [`DEMO_NODE_FLAGS`] plus fault injection, which
/// `--chaos` partitions with (Admin SetPartition) and which a user may use
/// by hand while the demo runs.
fn demo_node_args() -> Vec<String> {
    DEMO_NODE_FLAGS.iter().map(|s| s.to_string()).chain(std::iter::once("--enable-fault-injection".into())).collect()
}

/// `node id -> 127.0.0.1:(base_port + id - 1)` for ids `1..=nodes`.
pub fn loopback_addrs(nodes: u64, base_port: u16) -> anyhow::Result<BTreeMap<u64, SocketAddr>> {
    let last = u64::from(base_port) + nodes - 1;
    if base_port == 0 || last > u64::from(u16::MAX) {
        bail!("--base-port {base_port} with {nodes} nodes needs ports {base_port}..={last}: pick a base port between 1 and {}", u64::from(u16::MAX) + 1 - nodes);
    }
    Ok((1..=nodes).map(|id| (id, SocketAddr::from(([127, 0, 0, 1], (last - nodes + id) as u16)))).collect())
}

/// Runs the demo; exit 1 when an acknowledged write is missing at the end.
pub fn run(args: DemoArgs) -> CliResult {
    // `--members` adds one node, started later with --join.
    let extra = u64::from(args.members);
    let addrs = loopback_addrs(args.nodes + extra, args.base_port).map_err(CliError::usage)?;
    let joiners = if args.members { [args.nodes + 1].into() } else { Default::default() };
    let dir = tempfile::Builder::new().prefix("raft-demo-").tempdir().context("cannot create a temp directory")?;
    let mut extra_args = demo_node_args();
    if args.tls {
        let tls = tls::make(dir.path())?;
        extra_args.extend(tls.node_args.iter().cloned());
        eprintln!("{}", tls.hint());
        cluster_io::use_tls(tls.client);
    }
    let plan = LaunchPlan {
        exe: std::env::current_exe().context("cannot find the raft-cli executable")?,
        addrs,
        root: dir.path().to_path_buf(),
        extra_args,
        joiners,
    };
    plan.check_ports_free().map_err(CliError::usage)?;
    let runtime = crate::cli::runtime()?;
    let result = runtime.block_on(async {
        let nodes = plan.addrs.iter().map(|(id, a)| (*id, a.to_string())).collect();
        let mut session = session::Session::new(args.clone(), plan);
        if let Some(listen) = &args.web {
            session = session.with_web(start_web(listen, nodes, args.output).await?);
        }
        session.run().await
    });
    let passed = matches!(&result, Ok(summary) if summary.writes_acked > 0 && summary.verified());
    // A failed run keeps its node logs and RocksDB directories to look at.
    let kept = if keep_data(args.keep, passed) { Some(dir.keep()) } else { None };
    let where_kept =
        kept.as_ref().map(|d| format!(" (node logs and data kept in {})", d.display())).unwrap_or_default();
    let mut summary = result.map_err(|e| e.context(format!("the demo failed{where_kept}")))?;
    summary.kept_data = kept;
    print(args.output, &summary);
    if summary.writes_acked == 0 {
        return Err(CliError::negative(anyhow::anyhow!(
            "the cluster acknowledged no write, so the demo proves nothing: see the node logs{where_kept}"
        )));
    }
    if !summary.verified() {
        return Err(CliError::negative(anyhow::anyhow!(
            "{} acknowledged writes failed verification (see the summary above){where_kept}",
            summary.problems.len()
        )));
    }
    Ok(())
}

/// Starts the web view with the demo's controls and says where it is.
async fn start_web(
    listen: &str,
    nodes: BTreeMap<u64, String>,
    output: crate::output::OutputFormat,
) -> anyhow::Result<session::WebHook> {
    let (controls, end, processes) = crate::web::controls::channel();
    let options = crate::web::WebOptions {
        listen: listen.to_string(),
        nodes,
        cluster_id: cluster_io::CLUSTER_ID.to_string(),
        controls: Some((controls, processes)),
    };
    let server = crate::web::start(options).await?;
    let line =
        format!("web view: http://{}/ (buttons kill, pause, partition and heal nodes; write a key)", server.addr);
    match output {
        crate::output::OutputFormat::Human => println!("{line}"),
        crate::output::OutputFormat::Json => eprintln!("{line}"),
    }
    Ok(session::WebHook { end, feed: server.feed })
}

/// Whether to keep the demo's folder: when asked to, and whenever the run failed.
fn keep_data(requested: bool, passed: bool) -> bool {
    requested || !passed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_keeps_its_folder_even_without_keep() {
        assert!(keep_data(false, false), "failed verification keeps the data");
        assert!(keep_data(true, true) && keep_data(true, false));
        assert!(!keep_data(false, true), "a passing run cleans up");
    }

    #[test]
    fn nodes_get_consecutive_loopback_ports() {
        let addrs = loopback_addrs(3, 7001).unwrap();
        let got: Vec<String> = addrs.values().map(|a| a.to_string()).collect();
        assert_eq!(got, ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]);
    }

    #[test]
    fn ports_past_65535_are_refused_with_a_fix() {
        let err = loopback_addrs(3, 65534).unwrap_err().to_string();
        assert!(err.contains("pick a base port between 1 and 65533"), "{err}");
        assert!(loopback_addrs(3, 65533).is_ok());
    }
}
