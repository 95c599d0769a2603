//! Errors of the process and fault harness.

use std::path::PathBuf;

use thiserror::Error;

use crate::linearizability::HistoryError;
use crate::netns::NetnsError;

/// A node id as the harness names nodes (`--id`), 1-based.
pub type NodeId = u64;

/// Something the harness could not do. Messages say what to do about it.
#[derive(Debug, Error)]
pub enum HarnessError {
    /// The node binary is missing.
    #[error(
        "binary `{name}` not found (looked in: {searched}); build it first with `cargo build -p raft-cli` \
         using the same profile as the tests, or point RAFT_CLI_BIN at it"
    )]
    BinaryNotFound {
        /// The binary's file name.
        name: String,
        /// The directories searched, comma-separated.
        searched: String,
    },
    /// The node binary does not match the current sources.
    #[error(
        "binary {bin} is stale: {why}; rebuild it with `cargo build -p raft-cli` using the same profile and \
         target folder as the tests (`cargo test --workspace` does this by itself)"
    )]
    StaleBinary {
        /// The binary.
        bin: PathBuf,
        /// Which source is newer, or why freshness could not be shown.
        why: String,
    },
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No node with this id in the cluster.
    #[error("no node {0} in this cluster")]
    UnknownNode(NodeId),
    /// A node exited while it was expected to be running.
    #[error("node {id} exited ({status}); its log is {log}; last lines:\n{tail}")]
    NodeExited {
        /// The node.
        id: NodeId,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// A node did not accept connections in time.
    #[error("node {id} did not accept connections on {addr} within {waited_ms} ms; its log is {log}")]
    NotReady {
        /// The node.
        id: NodeId,
        /// The address probed.
        addr: String,
        /// How long the harness waited.
        waited_ms: u128,
        /// Its log file.
        log: PathBuf,
    },
    /// The operation does not apply to the node's current state.
    #[error("node {id}: cannot {action} while it is {state}")]
    WrongState {
        /// The node.
        id: NodeId,
        /// What was attempted.
        action: &'static str,
        /// Its current state.
        state: String,
    },
    /// Port allocation kept colliding.
    #[error("could not allocate {wanted} free loopback ports: {reason}")]
    Ports {
        /// How many were needed.
        wanted: usize,
        /// Why it failed.
        reason: String,
    },
    /// A SIGSTOPped node never showed state T in /proc.
    #[error("node {id} (pid {pid}) was sent SIGSTOP but /proc says its state is {state}, not T")]
    NotStopped {
        /// The node.
        id: NodeId,
        /// Its pid.
        pid: u32,
        /// The state letter seen last.
        state: String,
    },
    /// A node exited without the harness killing it, or logged a panic.
    #[error("node {id} failed on its own: {what}; its log is {log}")]
    NodeFailed {
        /// The node.
        id: NodeId,
        /// The exits or the panic line.
        what: String,
        /// Its log file.
        log: PathBuf,
    },
    /// A cluster size outside the supported range.
    #[error("cluster size {0} is outside 1..={max}", max = crate::cluster::MAX_NODES)]
    ClusterSize(usize),
    /// A network fault was requested on a cluster without network namespaces.
    #[error("network faults need the cluster to run in network namespaces (Network::Namespaces)")]
    NoNamespaces,
    /// Nodes join only loopback clusters (the namespaces are made at start).
    #[error("a node can join only a loopback cluster (namespaces are created for the starting nodes)")]
    JoinOnNamespaces,
    /// A namespace operation failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// Saving or loading a history failed.
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl HarnessError {
    /// An [`HarnessError::Io`] with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io { context: context.into(), source }
    }
}
