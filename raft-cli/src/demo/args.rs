//! Flags of `raft-cli demo`.

use std::time::Duration;

use clap::Args;

use crate::duration::parse_duration;
use crate::output::OutputFormat;

/// Start a local cluster as child processes and narrate elections, replication and recovery live.
///
/// Try `kill -9 <pid>` on any node from another terminal (the PIDs are
/// printed at start): the demo narrates the failure, the new election and
/// the recovery, and restarts the node so it catches up. `--chaos` does this
/// on its own schedule: it kills the leader, kills a follower, freezes a
/// node with SIGSTOP/SIGCONT and cuts the leader off from the others (each
/// node drops Raft traffic to and from the peers it is told to block, through
/// the Admin SetPartition RPC, so no root is needed), then heals it.
///
/// At the end (after --duration, or on Ctrl+C) every acknowledged write is
/// read back from every node; the demo exits 1 if any is missing.
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub struct DemoArgs {
    /// Cluster size (1 to 7; odd sizes tolerate the most failures per node).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=7))]
    pub nodes: u64,
    /// Inject faults on a seeded schedule: kill the leader, kill a follower, pause a node, partition the leader.
    #[arg(long)]
    pub chaos: bool,
    /// Narrate a membership change under load: a new node joins as a learner,
    /// is promoted to voter once caught up, and the old leader is removed.
    #[arg(long, conflicts_with = "chaos")]
    pub members: bool,
    /// Chaos seed (printed at start; reuse it to replay a schedule).
    #[arg(long, requires = "chaos")]
    pub seed: Option<u64>,
    /// How long to run before stopping and verifying (Ctrl+C stops early) [default: 60s, 1h with --web].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Keep the data directories and node logs instead of deleting them.
    #[arg(long)]
    pub keep: bool,
    /// Port of node 1; node N listens on base-port + N - 1 (127.0.0.1).
    #[arg(long, default_value_t = 7001)]
    pub base_port: u16,
    /// How long a dead node stays down before the demo restarts it.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub restart_delay: Duration,
    /// Run everything over mutual TLS with a throwaway CA and certificates
    /// made in the demo's temp directory (the client command to use them is printed).
    #[arg(long)]
    pub tls: bool,
    /// Serve the live web view at http://ADDR/ (e.g. 127.0.0.1:8080), with buttons to kill, pause,
    /// partition and heal nodes and to write a key.
    #[arg(long, value_name = "HOST:PORT")]
    pub web: Option<String>,
    /// Summary format (the narration is always text): the global -w/--output.
    #[arg(skip)]
    pub output: OutputFormat,
}

impl DemoArgs {
    /// The run length: `--duration`, else a minute, or an hour with a web
    /// view (someone is watching and clicking).
    pub fn duration(&self) -> Duration {
        self.duration.unwrap_or(if self.web.is_some() { Duration::from_secs(3600) } else { Duration::from_secs(60) })
    }
}
