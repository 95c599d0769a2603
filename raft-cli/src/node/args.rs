//! `raft-cli node` flags and how they combine with `--config node.toml`.
//!
//! The file gives a complete configuration; any flag given on the command
//! line overrides the file's value. Without a file, `--id`, `--listen`,
//! `--peers` and `--data-dir` (or `--in-memory`) are required.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::Args;
use raft_cluster::{InitialClusterState, NodeConfig, PeerConfig, TlsPaths};

use crate::exit::{CliError, CliResult};
use crate::logging::LogFormat;

/// Flags of `raft-cli node`.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// TOML config file (keys as in NodeConfig); flags override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// This node's id (non-zero, one of --peers).
    #[arg(long)]
    pub id: Option<u64>,
    /// Address the gRPC services listen on.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Every voter, this node included.
    #[arg(long, value_name = "ID=HOST:PORT,...", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Directory of the node's RocksDB store (created if missing).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Cluster name recorded at bootstrap and checked at every start.
    #[arg(long)]
    pub cluster_id: Option<String>,
    /// Milliseconds per Raft tick.
    #[arg(long, value_name = "MS")]
    pub tick_ms: Option<u64>,
    /// Election timeout base in ticks (randomized in [T, 2T)).
    #[arg(long, value_name = "TICKS")]
    pub election_ticks: Option<u64>,
    /// Leader heartbeat interval in ticks.
    #[arg(long, value_name = "TICKS")]
    pub heartbeat_ticks: Option<u64>,
    /// Snapshot once this many entries were applied since the last one (0: never; default 100000, as etcd's --snapshot-count).
    #[arg(long, value_name = "ENTRIES")]
    pub snapshot_threshold: Option<u64>,
    /// Keep the log in memory instead of RocksDB (everything is lost on exit).
    #[arg(long)]
    pub in_memory: bool,
    /// Serve the Admin SetPartition fault injection (testing only; without
    /// this flag, or `enable_fault_injection = true` in the file, the node
    /// refuses it with PERMISSION_DENIED).
    #[arg(long)]
    pub enable_fault_injection: bool,
    /// Start on an empty data directory as a new member of an existing
    /// cluster (after `raft-cli members add-learner ID ADDR`): no bootstrap,
    /// and no vote until `raft-cli members promote ID`. Use it for a node
    /// whose data directory was wiped or replaced.
    #[arg(long)]
    pub join: bool,
    /// `new` (default): an empty data directory is bootstrapped unless a
    /// configured peer reports that the cluster exists. `existing`: never
    /// bootstrap an empty data directory (use --join).
    #[arg(long, value_name = "new|existing")]
    pub initial_cluster_state: Option<InitialClusterState>,
    /// Mutual TLS files: the global --tls-cert/--tls-key/--tls-ca, put here
    /// by the dispatcher; they override the file's `[tls]` table.
    #[arg(skip)]
    pub tls: Option<TlsPaths>,
    /// Serve Prometheus metrics at http://ADDR/metrics (TOML `metrics_listen`).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
    /// Serve the live web view of the cluster at http://ADDR/ (TOML `web_listen`).
    #[arg(long, value_name = "HOST:PORT")]
    pub web: Option<String>,
    /// Promote a learner to voter only once it is within this many entries
    /// of the leader's log (default 1000); a promotion of a learner further
    /// behind is refused with reason "lagging" (thesis §4.2.1).
    #[arg(long, value_name = "ENTRIES")]
    pub max_promote_lag: Option<u64>,
    /// Log line format (filter with RUST_LOG, e.g. RUST_LOG=debug or RUST_LOG=raft_core=trace).
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormat,
}

impl NodeArgs {
    /// The node configuration: the file (if any) with flags applied on top, validated.
    pub fn resolve(&self) -> CliResult<NodeConfig> {
        let mut config = match &self.config {
            Some(path) => NodeConfig::load(path)
                .with_context(|| format!("cannot use config file {}", path.display()))
                .map_err(CliError::usage)?,
            None => self.from_flags()?,
        };
        self.apply_overrides(&mut config)?;
        config.validate().context("invalid node configuration").map_err(CliError::usage)?;
        Ok(config)
    }

    fn from_flags(&self) -> CliResult<NodeConfig> {
        let missing = |flag: &str| CliError::usage(anyhow!("{flag} is required (or give a --config file)"));
        let id = self.id.ok_or_else(|| missing("--id"))?;
        let listen = self.listen.clone().ok_or_else(|| missing("--listen"))?;
        if self.peers.is_empty() {
            return Err(missing("--peers"));
        }
        let data_dir = match (&self.data_dir, self.in_memory) {
            (Some(dir), _) => dir.clone(),
            (None, true) => PathBuf::from("in-memory"),
            (None, false) => return Err(missing("--data-dir (or --in-memory)")),
        };
        Ok(NodeConfig::new(id, listen, self.parsed_peers()?, data_dir))
    }

    fn parsed_peers(&self) -> CliResult<Vec<PeerConfig>> {
        self.peers.iter().map(|p| PeerConfig::parse(p).context("invalid --peers").map_err(CliError::usage)).collect()
    }

    fn apply_overrides(&self, c: &mut NodeConfig) -> CliResult {
        if let Some(id) = self.id {
            c.node_id = id;
        }
        if let Some(listen) = &self.listen {
            c.listen_addr = listen.clone();
        }
        if !self.peers.is_empty() {
            c.peers = self.parsed_peers()?;
        }
        if let Some(dir) = &self.data_dir {
            c.data_dir = dir.clone();
        }
        if let Some(cluster) = &self.cluster_id {
            c.cluster_id = cluster.clone();
        }
        if let Some(v) = self.tick_ms {
            c.tick_interval_ms = v;
        }
        if let Some(v) = self.election_ticks {
            c.election_ticks = v;
        }
        if let Some(v) = self.heartbeat_ticks {
            c.heartbeat_ticks = v;
        }
        if let Some(v) = self.snapshot_threshold {
            c.snapshot_threshold = v;
        }
        if self.enable_fault_injection {
            c.enable_fault_injection = true;
        }
        if self.join {
            c.join = true;
        }
        if let Some(state) = self.initial_cluster_state {
            c.initial_cluster_state = state;
        }
        if let Some(tls) = &self.tls {
            c.tls = Some(tls.clone());
        }
        if let Some(addr) = &self.metrics_listen {
            c.metrics_listen = Some(addr.clone());
        }
        if let Some(addr) = &self.web {
            c.web_listen = Some(addr.clone());
        }
        if let Some(lag) = self.max_promote_lag {
            c.max_promote_lag = lag;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: NodeArgs,
    }

    fn parse(line: &str) -> NodeArgs {
        Wrap::try_parse_from(std::iter::once("node").chain(line.split_whitespace())).unwrap().args
    }

    const PEERS: &str = "--peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003";

    #[test]
    fn flags_alone_make_a_config() {
        let a = parse(&format!("--id 2 --listen 127.0.0.1:7002 {PEERS} --data-dir d --tick-ms 50 --cluster-id x"));
        let c = a.resolve().unwrap();
        assert_eq!((c.node_id, c.listen_addr.as_str(), c.peers.len()), (2, "127.0.0.1:7002", 3));
        assert_eq!((c.tick_interval_ms, c.cluster_id.as_str()), (50, "x"));
    }

    #[test]
    fn missing_required_flags_are_usage_errors_naming_the_flag() {
        let err = parse(&format!("--listen 127.0.0.1:7002 {PEERS} --data-dir d")).resolve().unwrap_err();
        assert_eq!(err.code, Exit::Usage);
        assert!(err.to_string().contains("--id"), "{err}");
        let err = parse(&format!("--id 1 --listen 127.0.0.1:7001 {PEERS}")).resolve().unwrap_err();
        assert!(err.to_string().contains("--data-dir"), "{err}");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let file = NodeConfig::new(
            1,
            "127.0.0.1:7001",
            vec![PeerConfig::parse("1=127.0.0.1:7001").unwrap(), PeerConfig::parse("2=127.0.0.1:7002").unwrap()],
            PathBuf::from("data/1"),
        );
        std::fs::write(&path, file.to_toml_string().unwrap()).unwrap();
        let a = parse(&format!("--config {} --id 2 --listen 127.0.0.1:7002 --election-ticks 20", path.display()));
        let c = a.resolve().unwrap();
        assert_eq!((c.node_id, c.listen_addr.as_str(), c.election_ticks), (2, "127.0.0.1:7002", 20));
        assert_eq!(c.data_dir, PathBuf::from("data/1"), "values without a flag come from the file");
    }

    #[test]
    fn join_and_initial_cluster_state_reach_the_config() {
        let base = format!("--id 1 --listen 127.0.0.1:7001 {PEERS} --data-dir d");
        let c = parse(&base).resolve().unwrap();
        assert!(!c.join);
        assert_eq!(c.initial_cluster_state, InitialClusterState::New);
        let c = parse(&format!("{base} --join --initial-cluster-state existing")).resolve().unwrap();
        assert!(c.join);
        assert_eq!(c.initial_cluster_state, InitialClusterState::Existing);
        assert!(Wrap::try_parse_from(
            std::iter::once("node").chain(format!("{base} --initial-cluster-state old").split_whitespace())
        )
        .is_err());
    }

    #[test]
    fn max_promote_lag_comes_from_the_flag_or_the_file() {
        let base = format!("--id 1 --listen 127.0.0.1:7001 {PEERS} --data-dir d");
        let c = parse(&format!("{base} --max-promote-lag 5")).resolve().unwrap();
        assert_eq!((c.max_promote_lag, c.core_config().max_promote_lag), (5, 5));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let mut file = parse(&base).resolve().unwrap();
        file.max_promote_lag = 9;
        std::fs::write(&path, file.to_toml_string().unwrap()).unwrap();
        assert_eq!(parse(&format!("--config {}", path.display())).resolve().unwrap().max_promote_lag, 9);
        let flag_wins = parse(&format!("--config {} --max-promote-lag 3", path.display())).resolve().unwrap();
        assert_eq!(flag_wins.max_promote_lag, 3);
        let err = parse(&format!("{base} --max-promote-lag 0")).resolve().unwrap_err();
        assert_eq!(err.code, Exit::Usage, "zero is invalid: {err}");
    }

    #[test]
    fn fault_injection_is_off_unless_asked_for() {
        let base = format!("--id 1 --listen 127.0.0.1:7001 {PEERS} --data-dir d");
        assert!(!parse(&base).resolve().unwrap().enable_fault_injection);
        let on = parse(&format!("{base} --enable-fault-injection")).resolve().unwrap();
        assert!(on.enable_fault_injection);
    }

    #[test]
    fn metrics_and_web_addresses_come_from_flags_or_the_file() {
        let base = format!("--id 1 --listen 127.0.0.1:7001 {PEERS} --data-dir d");
        let c = parse(&base).resolve().unwrap();
        assert_eq!((c.metrics_listen, c.web_listen), (None, None));
        let c = parse(&format!("{base} --metrics-listen 127.0.0.1:9101 --web 127.0.0.1:8080")).resolve().unwrap();
        assert_eq!(c.metrics_listen.as_deref(), Some("127.0.0.1:9101"));
        assert_eq!(c.web_listen.as_deref(), Some("127.0.0.1:8080"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let mut file =
            NodeConfig::new(1, "127.0.0.1:7001", vec![PeerConfig::parse("1=127.0.0.1:7001").unwrap()], "d".into());
        file.metrics_listen = Some("127.0.0.1:9102".into());
        std::fs::write(&path, file.to_toml_string().unwrap()).unwrap();
        let c = parse(&format!("--config {}", path.display())).resolve().unwrap();
        assert_eq!(c.metrics_listen.as_deref(), Some("127.0.0.1:9102"));
    }

    #[test]
    fn the_shipped_example_config_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/node.example.toml");
        let c = parse(&format!("--config {path}")).resolve().unwrap();
        assert_eq!((c.node_id, c.peers.len(), c.cluster_id.as_str()), (1, 3, "default"));
    }

    #[test]
    fn an_unreadable_config_file_is_a_usage_error() {
        let err = parse("--config /nonexistent/node.toml").resolve().unwrap_err();
        assert_eq!(err.code, Exit::Usage);
        assert!(err.to_string().contains("/nonexistent/node.toml"), "{err}");
    }

    #[test]
    fn an_id_outside_the_peer_list_is_rejected() {
        let err = parse(&format!("--id 9 --listen 127.0.0.1:7009 {PEERS} --data-dir d")).resolve().unwrap_err();
        assert_eq!(err.code, Exit::Usage);
    }
}
