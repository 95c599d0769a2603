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
  1  a negative answer (key not found, CAS mismatch) or a failed check (the demo lost a write, bench operations failed)
  2  usage error or invalid input (bad flags, a malformed endpoint, bad hex/base64), or a TLS refusal
     (a certificate missing, expired or from another CA; TLS files that do not load): nothing was applied
  3  cluster unavailable or timed out, or a malformed reply to a write: the outcome of a write is unknown
  4  `node` refused to bootstrap an empty data directory of an existing cluster (rejoin with --join)

Connection flags (--endpoints, --cluster-id, --timeout, -w/--output, --value-encoding/--hex) go before or
after the command and read RAFT_ENDPOINTS, RAFT_CLUSTER_ID, RAFT_TIMEOUT, RAFT_OUTPUT, RAFT_VALUE_ENCODING.
Mutual TLS: --tls-cert, --tls-key, --tls-ca (RAFT_TLS_CERT, RAFT_TLS_KEY, RAFT_TLS_CA) on `node` and every
client command; `raft-cli demo --tls` makes its own throwaway CA and certificates.

Start here: `raft-cli demo` runs a narrated 3-node cluster; kill -9 any of its nodes and watch it recover.";

/// Run, watch, use and load a Raft-replicated key-value store.
#[derive(Debug, Parser)]
#[command(name = "raft-cli", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    conn: client::Connection,
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
        let conn = self.conn;
        match self.command {
            Command::Node(mut args) => {
                args.tls = conn.tls_files()?.map(|f| raft_cluster::TlsPaths { cert: f.cert, key: f.key, ca: f.ca });
                node::run(args)
            }
            Command::Demo(mut args) => {
                args.output = conn.output;
                demo::run(args)
            }
            Command::Bench(mut args) => {
                args.tls = conn.tls()?;
                args.cluster_id = conn.cluster_id().to_owned();
                args.endpoints = conn.endpoints;
                args.timeout = conn.timeout;
                args.output = conn.output;
                bench::run(args)
            }
            Command::Client(cmd) => client::run(cmd, conn),
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
            "raft-cli -w json --endpoints 127.0.0.1:1 get k",
            "raft-cli --hex put k 00ff",
            "raft-cli put k - --value-encoding base64",
            "raft-cli scan --from a --to b --stale",
            "raft-cli status --cluster",
            "raft-cli status --watch --interval 500ms --count 3",
            "raft-cli node --id 1 --listen 127.0.0.1:7001 --peers 1=127.0.0.1:7001 --in-memory --metrics-listen 127.0.0.1:9101 --web 127.0.0.1:8080",
            "raft-cli demo --web 127.0.0.1:8080",
            "raft-cli transfer-leader --to 2 --no-wait",
            "raft-cli bench --total 100 --warmup 1s --conns 2",
            "raft-cli delete k --endpoints 127.0.0.1:1,127.0.0.1:2",
            "raft-cli cas k --expect old new",
            "raft-cli cas k --expect-absent new",
            "raft-cli scan pre --limit 10",
            "raft-cli status",
            "raft-cli transfer-leader --to 2",
            "raft-cli bench --clients 8 --duration 2s --key-size 8 --value-size 32 --read-ratio 0.5 --local 3",
            "raft-cli demo --output json",
            "raft-cli demo --tls --duration 5s",
            "raft-cli --tls-cert c.crt --tls-key c.key --tls-ca ca.crt get k",
            "raft-cli node --id 1 --listen 127.0.0.1:7001 --peers 1=127.0.0.1:7001 --in-memory --tls-cert n.crt --tls-key n.key --tls-ca ca.crt",
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
    fn connection_flags_are_global() {
        for line in ["raft-cli --endpoints 127.0.0.1:9 get k", "raft-cli get k --endpoints 127.0.0.1:9"] {
            let cli = Cli::try_parse_from(line.split_whitespace()).unwrap();
            assert_eq!(cli.conn.endpoints, ["127.0.0.1:9"], "{line}");
        }
        let cli = Cli::try_parse_from(["raft-cli", "-w", "json", "status"]).unwrap();
        assert_eq!(cli.conn.output, crate::output::OutputFormat::Json);
    }

    #[test]
    fn node_keeps_its_own_cluster_id_flag() {
        let cli = Cli::try_parse_from(["raft-cli", "node", "--cluster-id", "c7"]).unwrap();
        let Command::Node(args) = cli.command else { panic!("not node") };
        assert_eq!(args.cluster_id.as_deref(), Some("c7"));
        let cli = Cli::try_parse_from(["raft-cli", "node"]).unwrap();
        let Command::Node(args) = cli.command else { panic!("not node") };
        assert_eq!(args.cluster_id, None, "no default leaks in from the clients' --cluster-id");
    }

    #[test]
    fn malformed_endpoints_are_usage_errors() {
        for bad in ["localhost", "127.0.0.1:notaport", "127.0.0.1:99999", ":7001", "ftp://h:1", "a b:1"] {
            let err = Cli::try_parse_from(["raft-cli", "get", "k", "--endpoints", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        assert!(Cli::try_parse_from(["raft-cli", "get", "k", "--endpoints", "http://node-1.local:7001/"]).is_ok());
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        let err = Cli::try_parse_from(["raft-cli", "put", "k"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["raft-cli", "demo", "--duration", "soon"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
