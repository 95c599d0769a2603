//! Flags of the client commands (`put`, `get`, `delete`, `cas`, `scan`,
//! `status`, `transfer-leader`).

use std::time::Duration;

use clap::{Args, Subcommand};

use crate::duration::parse_duration;
use crate::output::OutputFormat;

/// The demo's default addresses, so `raft-cli demo` in one terminal and
/// `raft-cli put k v` in another just work.
pub const DEFAULT_ENDPOINTS: &str = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";

/// Where the cluster is and how to talk to it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Cluster members to try (any member works: requests follow the leader).
    #[arg(long, env = "RAFT_ENDPOINTS", value_name = "HOST:PORT,...", value_delimiter = ',', default_value = DEFAULT_ENDPOINTS)]
    pub endpoints: Vec<String>,
    /// The cluster's id (nodes refuse requests for another cluster).
    #[arg(long, env = "RAFT_CLUSTER_ID", default_value = "default")]
    pub cluster_id: String,
    /// Give up (exit 3) when no answer came within this time.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub timeout: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Set KEY to VALUE (exit 0 once committed by a majority).
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Print the value of KEY (exit 1 if absent).
    Get {
        /// The key.
        key: String,
        /// Read the answering node's local copy without confirming leadership (may be stale).
        #[arg(long)]
        stale: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// Remove KEY (exit 1 if it was absent).
    Delete {
        /// The key.
        key: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Compare-and-swap: set KEY to NEW only if it holds --expect OLD (or is absent with --expect-absent); exit 1 on mismatch.
    #[command(group = clap::ArgGroup::new("expectation").required(true).args(["expect", "expect_absent"]))]
    Cas {
        /// The key.
        key: String,
        /// The value to store when the expectation holds.
        new: String,
        /// The value KEY must currently hold.
        #[arg(long, value_name = "OLD")]
        expect: Option<String>,
        /// KEY must currently be absent.
        #[arg(long)]
        expect_absent: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// List keys starting with PREFIX, in key order.
    Scan {
        /// The key prefix ("" for every key).
        prefix: String,
        /// At most this many pairs.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        conn: Connection,
    },
    /// Show every endpoint's view: role, term, leader, commit, applied, log.
    Status {
        #[command(flatten)]
        conn: Connection,
    },
    /// Ask the leader to hand leadership to node --to (thesis §3.10).
    TransferLeader {
        /// The node that should become leader.
        #[arg(long)]
        to: u64,
        #[command(flatten)]
        conn: Connection,
    },
}

impl ClientCommand {
    /// The connection flags every client command has.
    pub fn connection(&self) -> &Connection {
        match self {
            ClientCommand::Put { conn, .. }
            | ClientCommand::Get { conn, .. }
            | ClientCommand::Delete { conn, .. }
            | ClientCommand::Cas { conn, .. }
            | ClientCommand::Scan { conn, .. }
            | ClientCommand::Status { conn }
            | ClientCommand::TransferLeader { conn, .. } => conn,
        }
    }
}
