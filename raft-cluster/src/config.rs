//! [`NodeConfig`]: everything a node needs to start, loadable from TOML and
//! validated before anything touches the disk or the network.
//!
//! The config is deliberately flat and explicit: every limit the runtime
//! enforces has a field here, so an operator can read one file and know what
//! a node will refuse. Times are given in milliseconds and ticks; the core
//! itself only knows ticks.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use raft_core::NodeId;
use serde::{Deserialize, Serialize};

pub use crate::tls_config::TlsPaths;

/// One member of the static cluster: its id and the address its peer and
/// client services listen on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The member's node id (non-zero).
    pub id: u64,
    /// `host:port` the member listens on.
    pub addr: String,
}

impl PeerConfig {
    /// Parses the command-line form `id=host:port`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        let (id, addr) = s
            .split_once('=')
            .ok_or_else(|| ConfigError::BadPeer { input: s.to_string(), reason: "expected id=host:port".into() })?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| ConfigError::BadPeer { input: s.to_string(), reason: format!("{id:?} is not a node id") })?;
        Ok(PeerConfig { id, addr: addr.trim().to_string() })
    }
}

/// Explicit bounds on queues, sizes and waits. A breach is answered with a
/// clear error (see [`crate::ClientError`]), never by growing without bound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest client payload accepted for one log entry.
    pub max_entry_bytes: u64,
    /// Largest AppendEntries message, in entry bytes.
    pub max_msg_bytes: u64,
    /// AppendEntries in flight per follower.
    pub max_inflight_msgs: usize,
    /// The leader refuses writes while this many bytes are uncommitted.
    /// Also the most a disk-backed node keeps of its newest durable, not
    /// yet applied entries in memory (the log cache, so that apply does not
    /// read back what was just written; older entries are read from disk).
    pub max_uncommitted_bytes: u64,
    /// Client requests waiting for the node task (channel capacity).
    pub max_queued_requests: usize,
    /// Peer messages waiting for the node task (channel capacity), a queue
    /// separate from client requests. When it is full the gRPC server
    /// refuses the batch (RESOURCE_EXHAUSTED) rather than acknowledge it, and
    /// the sender backs off and retries (Raft retransmits, §5.3).
    pub max_queued_messages: usize,
    /// Client writes and reads awaiting commit or apply at once.
    pub max_pending_requests: usize,
    /// Client requests the node task takes from its queue before calling
    /// `ready()`: how many writes one append and one fsync can group.
    pub max_batch_requests: usize,
    /// How long a client waits for its request before getting a timeout
    /// (outcome unknown for writes).
    pub request_timeout_ms: u64,
    /// Client write payload (keys + values) admitted at once, from decode
    /// to answer; past it writes are refused with RESOURCE_EXHAUSTED.
    pub max_inflight_write_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry_bytes: 1 << 20,
            max_msg_bytes: 1 << 20,
            max_inflight_msgs: 256,
            max_uncommitted_bytes: 64 << 20,
            max_queued_requests: 4096,
            max_queued_messages: 4096,
            max_pending_requests: 16_384,
            max_batch_requests: 1024,
            request_timeout_ms: 5_000,
            max_inflight_write_bytes: 64 << 20,
        }
    }
}

/// A node's configuration. Load it with [`NodeConfig::from_toml_str`] or
/// [`NodeConfig::load`], apply command-line overrides, then
/// [`NodeConfig::validate`] (which [`crate::Node::start`] calls again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id; must appear in `peers`.
    pub node_id: u64,
    /// Where this node's gRPC services listen.
    pub listen_addr: String,
    /// Every voter of the cluster, this node included.
    pub peers: Vec<PeerConfig>,
    /// Directory holding the node's RocksDB store.
    pub data_dir: PathBuf,
    /// Name of the cluster; recorded in the store at bootstrap and checked
    /// on every later start.
    pub cluster_id: String,
    /// Milliseconds per core tick.
    #[serde(default = "default_tick_ms")]
    pub tick_interval_ms: u64,
    /// Base election timeout in ticks (randomized in `[T, 2T)`, §5.2).
    #[serde(default = "default_election_ticks")]
    pub election_ticks: u64,
    /// Leader heartbeat interval in ticks.
    #[serde(default = "default_heartbeat_ticks")]
    pub heartbeat_ticks: u64,
    /// Snapshot and compact once this many applied entries follow the last
    /// snapshot. 0 disables snapshots. Default 100 000, etcd's
    /// `--snapshot-count` default. Each snapshot serializes, writes and
    /// fsyncs the whole state; at 10 000 a node under 25 000 puts/s took
    /// one every 0.4 s, and 100 000 made the put p99 4-24 % shorter in all
    /// 16 paired runs (issue #13, README levers table). The log kept
    /// meanwhile costs disk (about 25 MB at 128 B values), not memory: the
    /// log cache drops entries once applied.
    #[serde(default = "default_snapshot_threshold")]
    pub snapshot_threshold: u64,
    /// Bounds on queues, sizes and waits.
    #[serde(default)]
    pub limits: Limits,
    /// Serve the Admin `SetPartition` fault injection (a testing tool that
    /// makes this node drop Raft traffic to and from named peers). Off by
    /// default: a production node answers it with PERMISSION_DENIED, so a
    /// stray admin call cannot partition a live cluster. `raft-cli node
    /// --enable-fault-injection` or TOML `enable_fault_injection = true`.
    #[serde(default)]
    pub enable_fault_injection: bool,
    /// Start on an empty data directory as a new member of an existing
    /// cluster: no bootstrap, no membership; the node learns its
    /// configuration from the leader and never votes before it is made a
    /// voter (`raft-cli members add-learner`, then `promote`). Ignored when
    /// the data directory was used before. `raft-cli node --join`.
    #[serde(default)]
    pub join: bool,
    /// `new` (default): an empty data directory is bootstrapped unless a
    /// configured peer reports that the cluster already exists. `existing`:
    /// an empty data directory is never bootstrapped (start with `join`).
    /// etcd's flag; `raft-cli node --initial-cluster-state`.
    #[serde(default)]
    pub initial_cluster_state: InitialClusterState,
    /// Mutual TLS for every connection the node serves or makes (the
    /// `[tls]` table; see [`TlsPaths`]). `None`: plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsPaths>,
    /// Where to serve Prometheus metrics (`GET /metrics`), e.g.
    /// `127.0.0.1:9101`; none when absent. The node runtime only collects
    /// them ([`crate::NodeMetrics`]); `raft-cli node --metrics-listen` serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    /// Where to serve the live web view of the cluster (one HTML page and
    /// its JSON/SSE API); none when absent. `raft-cli node --web`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_listen: Option<String>,
    /// A learner is promoted to voter only once its log is within this many
    /// entries of the leader's (thesis §4.2.1: a new voter that must first
    /// catch up would stall commits). `raft-cli node --max-promote-lag`.
    #[serde(default = "default_max_promote_lag")]
    pub max_promote_lag: u64,
}

/// Whether the cluster is being created (etcd's `--initial-cluster-state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialClusterState {
    /// The cluster is being created: an empty data directory may be
    /// bootstrapped (after the start-up probe).
    #[default]
    New,
    /// The cluster exists: an empty data directory is never bootstrapped.
    Existing,
}

impl std::str::FromStr for InitialClusterState {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "new" => Ok(InitialClusterState::New),
            "existing" => Ok(InitialClusterState::Existing),
            other => {
                Err(ConfigError::Parse(format!("initial cluster state {other:?}: expected \"new\" or \"existing\"")))
            }
        }
    }
}

fn default_tick_ms() -> u64 {
    100
}
fn default_election_ticks() -> u64 {
    10
}
fn default_heartbeat_ticks() -> u64 {
    1
}
fn default_snapshot_threshold() -> u64 {
    100_000
}
fn default_max_promote_lag() -> u64 {
    raft_core::Config::new(NodeId(1)).max_promote_lag
}

impl NodeConfig {
    /// A config with defaults for everything but identity and placement.
    pub fn new(node_id: u64, listen_addr: impl Into<String>, peers: Vec<PeerConfig>, data_dir: PathBuf) -> Self {
        NodeConfig {
            node_id,
            listen_addr: listen_addr.into(),
            peers,
            data_dir,
            cluster_id: "default".into(),
            tick_interval_ms: default_tick_ms(),
            election_ticks: default_election_ticks(),
            heartbeat_ticks: default_heartbeat_ticks(),
            snapshot_threshold: default_snapshot_threshold(),
            limits: Limits::default(),
            enable_fault_injection: false,
            join: false,
            initial_cluster_state: InitialClusterState::New,
            tls: None,
            metrics_listen: None,
            web_listen: None,
            max_promote_lag: default_max_promote_lag(),
        }
    }

    /// Parses a TOML document (unknown keys are an error).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
        Self::from_toml_str(&text)
    }

    /// Serializes to TOML (for `--print-config` and tests).
    pub fn to_toml_string(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        NodeId(self.node_id)
    }

    /// The tick period.
    pub fn tick_interval(&self) -> Duration {
        Duration::from_millis(self.tick_interval_ms)
    }

    /// How long a client waits before a timeout error.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.request_timeout_ms)
    }

    /// Peer id to address, this node included.
    pub fn peer_map(&self) -> BTreeMap<NodeId, String> {
        self.peers.iter().map(|p| (NodeId(p.id), p.addr.clone())).collect()
    }

    /// The address of `id`, if it is a member.
    pub fn addr_of(&self, id: NodeId) -> Option<&str> {
        self.peers.iter().find(|p| p.id == id.0).map(|p| p.addr.as_str())
    }

    /// The loaded TLS material of the `[tls]` table, if any (read from
    /// disk on every call; errors name the file).
    pub fn tls(&self) -> Result<Option<raft_rpc::TlsConfig>, ConfigError> {
        self.tls.as_ref().map(TlsPaths::load).transpose()
    }

    /// Checks every rule but the data directory: ids, addresses, timing,
    /// limits, and that the TLS files (if any) load.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_members()?;
        self.validate_timing()?;
        self.validate_limits()?;
        self.tls()?;
        self.core_config().validate().map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    fn validate_members(&self) -> Result<(), ConfigError> {
        if self.node_id == 0 {
            return Err(ConfigError::Invalid("node_id 0 is reserved; ids start at 1".into()));
        }
        if self.cluster_id.trim().is_empty() {
            return Err(ConfigError::Invalid("cluster_id must not be empty".into()));
        }
        parse_addr("listen_addr", &self.listen_addr)?;
        let mut ids = HashSet::new();
        let mut addrs = HashSet::new();
        for p in &self.peers {
            if p.id == 0 {
                return Err(ConfigError::Invalid("peer id 0 is reserved; ids start at 1".into()));
            }
            if !ids.insert(p.id) {
                return Err(ConfigError::DuplicatePeerId(p.id));
            }
            let addr = parse_addr(&format!("address of peer {}", p.id), &p.addr)?;
            if !addrs.insert(addr) {
                return Err(ConfigError::DuplicateAddress(p.addr.clone()));
            }
        }
        if !ids.contains(&self.node_id) {
            return Err(ConfigError::SelfNotInPeers(self.node_id));
        }
        Ok(())
    }

    fn validate_timing(&self) -> Result<(), ConfigError> {
        if self.tick_interval_ms == 0 {
            return Err(ConfigError::Invalid("tick_interval_ms must be at least 1".into()));
        }
        if self.heartbeat_ticks == 0 {
            return Err(ConfigError::Invalid("heartbeat_ticks must be at least 1".into()));
        }
        if self.heartbeat_ticks >= self.election_ticks {
            return Err(ConfigError::HeartbeatNotShorter {
                heartbeat_ticks: self.heartbeat_ticks,
                election_ticks: self.election_ticks,
            });
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let checks: [(&str, u64); 9] = [
            ("max_entry_bytes", l.max_entry_bytes),
            ("max_msg_bytes", l.max_msg_bytes),
            ("max_inflight_msgs", l.max_inflight_msgs as u64),
            ("max_queued_requests", l.max_queued_requests as u64),
            ("max_queued_messages", l.max_queued_messages as u64),
            ("max_pending_requests", l.max_pending_requests as u64),
            ("max_batch_requests", l.max_batch_requests as u64),
            ("request_timeout_ms", l.request_timeout_ms),
            ("max_inflight_write_bytes", l.max_inflight_write_bytes),
        ];
        if let Some((name, _)) = checks.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Invalid(format!("limits.{name} must be at least 1")));
        }
        Ok(())
    }

    /// Checks that `data_dir` exists (creating it if needed) and is writable
    /// by writing and removing a probe file.
    pub fn check_data_dir(&self) -> Result<(), ConfigError> {
        let dir = &self.data_dir;
        let fail = |reason: String| ConfigError::DataDir { path: dir.clone(), reason };
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create: {e}")))?;
        let probe = dir.join(".raft-write-probe");
        std::fs::write(&probe, b"probe").map_err(|e| fail(format!("not writable: {e}")))?;
        std::fs::remove_file(&probe).map_err(|e| fail(format!("cannot remove probe file: {e}")))?;
        Ok(())
    }

    /// The raft-core configuration derived from this one.
    pub fn core_config(&self) -> raft_core::Config {
        let mut c = raft_core::Config::new(self.id());
        c.election_ticks = self.election_ticks;
        c.heartbeat_ticks = self.heartbeat_ticks;
        c.max_inflight_msgs = self.limits.max_inflight_msgs;
        c.max_msg_bytes = self.limits.max_msg_bytes;
        c.max_inflight_bytes = c.max_inflight_bytes.max(self.limits.max_msg_bytes);
        c.max_uncommitted_bytes = self.limits.max_uncommitted_bytes;
        c.max_entry_bytes = self.limits.max_entry_bytes;
        c.snapshot_threshold = self.snapshot_threshold;
        c.max_promote_lag = self.max_promote_lag;
        c
    }
}

fn parse_addr(what: &str, addr: &str) -> Result<SocketAddr, ConfigError> {
    addr.parse().map_err(|_| ConfigError::BadAddress { what: what.to_string(), addr: addr.to_string() })
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        reason: String,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("invalid config file: {0}")]
    Parse(String),
    /// A `--peer id=addr` flag is malformed.
    #[error("invalid peer {input:?}: {reason}")]
    BadPeer {
        /// The flag value.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// An address is not `ip:port`.
    #[error("{what} {addr:?} is not a socket address (ip:port)")]
    BadAddress {
        /// Which address.
        what: String,
        /// Its text.
        addr: String,
    },
    /// Two peers share an id.
    #[error("peer id {0} appears more than once in peers")]
    DuplicatePeerId(u64),
    /// Two peers share an address.
    #[error("address {0} is used by more than one peer")]
    DuplicateAddress(String),
    /// `node_id` is not among the peers.
    #[error("this node (id {0}) is missing from peers; list every member, this node included")]
    SelfNotInPeers(u64),
    /// Heartbeats must come more often than elections time out.
    #[error("heartbeat_ticks ({heartbeat_ticks}) must be smaller than election_ticks ({election_ticks})")]
    HeartbeatNotShorter {
        /// Configured heartbeat.
        heartbeat_ticks: u64,
        /// Configured election timeout.
        election_ticks: u64,
    },
    /// The data directory cannot be created or written.
    #[error("data dir {path}: {reason}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A file of the `[tls]` table cannot be read or used (the message
    /// names the file and what is wrong with it).
    #[error("invalid [tls] config: {0}")]
    Tls(raft_rpc::TlsError),
    /// Any other out-of-range value.
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[cfg(test)]
#[path = "config_test.rs"]
mod tests;
