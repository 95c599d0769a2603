//! The command line: one clap-derived enum with a variant per command.
//!
//! Argument structs live beside the code that uses them (`node::NodeArgs`,
//! `demo::DemoArgs`, ...); this file only assembles them and dispatches.

use clap::{Parser, Subcommand};

use crate::exit::CliResult;
use crate::{bench, client, demo, node};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  a negative answer (key not found, CAS mismatch) or a failed check (the demo lost a write)
  2  usage error or invalid input
  3  cluster unavailable or timed out: the outcome of a write is unknown

Start here: `raft-cli demo` runs a narrated 3-node cluster; kill -9 any of its nodes and watch it recover.";

/// Run, watch, use and load a Raft-replicated key-value store.
#[derive(Debug, Parser)]
#[command(name = "raft-cli", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one cluster member in the foreground (gRPC server + RocksDB store).
    Node(node::NodeArgs),
    Demo(demo::DemoArgs),
    /// Closed-loop load generator: throughput and latency percentiles.
    Bench(bench::BenchArgs),
    #[command(flatten)]
    Client(client::ClientCommand),
}

impl Cli {
    /// Parses `std::env::args`; on bad flags prints clap's message and exits 2
    /// (0 for `--help`/`--version`).
    pub fn parse_or_exit() -> Self {
        Cli::parse()
    }

    /// Runs the chosen command to completion.
    pub fn run(self) -> CliResult {
        match self.command {
            Command::Node(args) => node::run(args),
            Command::Demo(args) => demo::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Client(cmd) => client::run(cmd),
        }
    }
}

/// A multi-threaded tokio runtime for the commands that need one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the tokio runtime")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_documented_command_parses() {
        let lines = [
            "raft-cli node --id 1 --listen 127.0.0.1:7001 --peers 1=127.0.0.1:7001,2=127.0.0.1:7002 --data-dir d",
            "raft-cli node --config node.toml --log-format json",
            "raft-cli demo --nodes 5 --chaos --duration 30s --keep --base-port 9001",
            "raft-cli put k v",
            "raft-cli get k --stale --output json",
            "raft-cli delete k --endpoints 127.0.0.1:1,127.0.0.1:2",
            "raft-cli cas k --expect old new",
            "raft-cli cas k --expect-absent new",
            "raft-cli scan pre --limit 10",
            "raft-cli status",
            "raft-cli transfer-leader --to 2",
            "raft-cli bench --clients 8 --duration 2s --key-size 8 --value-size 32 --read-ratio 0.5 --local 3",
        ];
        for line in lines {
            let args = line.split_whitespace();
            if let Err(e) = Cli::try_parse_from(args) {
                panic!("{line}: {e}");
            }
        }
    }

    #[test]
    fn cas_needs_exactly_one_expectation() {
        assert!(Cli::try_parse_from(["raft-cli", "cas", "k", "new"]).is_err());
        assert!(Cli::try_parse_from(["raft-cli", "cas", "k", "--expect", "a", "--expect-absent", "new"]).is_err());
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        let err = Cli::try_parse_from(["raft-cli", "put", "k"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["raft-cli", "demo", "--duration", "soon"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
