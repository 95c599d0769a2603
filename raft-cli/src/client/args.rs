//! Flags of the client commands (`put`, `get`, `delete`, `cas`, `scan`,
//! `status`, `transfer-leader`, `members`) and the global connection flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use raft_rpc::{TlsConfig, TlsFiles};

use crate::duration::parse_duration;
use crate::exit::{CliError, CliResult};
use crate::output::OutputFormat;
use crate::values::ValueEncoding;

/// The demo's default addresses, so `raft-cli demo` in one terminal and
/// `raft-cli put k v` in another just work.
pub const DEFAULT_ENDPOINTS: &str = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";

/// The cluster id clients send when neither `--cluster-id` nor `RAFT_CLUSTER_ID` is set.
pub const DEFAULT_CLUSTER_ID: &str = "default";

/// Where the cluster is and how to talk to it. Every flag is global (it may
/// come before or after the command, as with etcdctl) and has an
/// environment variable.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Cluster members to try (any member works: requests follow the leader).
    #[arg(long, global = true, env = "RAFT_ENDPOINTS", value_name = "HOST:PORT,...", value_delimiter = ',',
          default_value = DEFAULT_ENDPOINTS, value_parser = parse_endpoint)]
    pub endpoints: Vec<String>,
    /// The cluster's id (nodes refuse requests for another cluster) [default: default].
    #[arg(long, global = true, env = "RAFT_CLUSTER_ID")]
    pub cluster_id: Option<String>,
    /// Give up (exit 3) when no answer came within this time.
    #[arg(long, global = true, env = "RAFT_TIMEOUT", value_name = "DURATION", value_parser = parse_duration,
          default_value = "5s")]
    pub timeout: Duration,
    /// Output format (etcdctl's -w/--write-out).
    #[arg(
        short = 'w',
        long,
        visible_alias = "write-out",
        global = true,
        env = "RAFT_OUTPUT",
        value_enum,
        default_value_t
    )]
    pub output: OutputFormat,
    /// How values are written on the command line and printed: utf8 (raw bytes), hex or base64.
    #[arg(long, global = true, env = "RAFT_VALUE_ENCODING", value_enum, default_value_t)]
    pub value_encoding: ValueEncoding,
    /// Shorthand for --value-encoding hex (wins over it).
    #[arg(long, global = true)]
    pub hex: bool,
    /// Mutual TLS: this party's certificate (PEM), presented to the nodes
    /// (for `node`: to clients and peers). Needs --tls-key and --tls-ca.
    #[arg(long, global = true, env = "RAFT_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Mutual TLS: the private key of --tls-cert (PEM).
    #[arg(long, global = true, env = "RAFT_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: the cluster's CA certificate (PEM); the other side must chain to it.
    #[arg(long, global = true, env = "RAFT_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
}

impl Connection {
    /// The cluster id to send.
    pub fn cluster_id(&self) -> &str {
        self.cluster_id.as_deref().unwrap_or(DEFAULT_CLUSTER_ID)
    }

    /// The TLS files given, if any: all three flags or none (a usage error
    /// otherwise, exit 2).
    pub fn tls_files(&self) -> CliResult<Option<TlsFiles>> {
        match (&self.tls_cert, &self.tls_key, &self.tls_ca) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(ca)) => Ok(Some(TlsFiles { cert: cert.clone(), key: key.clone(), ca: ca.clone() })),
            _ => Err(CliError::usage(anyhow::anyhow!(
                "mutual TLS needs all of --tls-cert, --tls-key and --tls-ca (or RAFT_TLS_CERT, RAFT_TLS_KEY, RAFT_TLS_CA)"
            ))),
        }
    }

    /// The loaded TLS material, if TLS flags were given; a file that cannot
    /// be read or used is a usage error (exit 2) naming the file.
    pub fn tls(&self) -> CliResult<Option<TlsConfig>> {
        let Some(files) = self.tls_files()? else { return Ok(None) };
        TlsConfig::load(&files).map(Some).map_err(|e| CliError::usage(anyhow::anyhow!(e)))
    }

    /// The value encoding in effect (`--hex` included).
    pub fn encoding(&self) -> ValueEncoding {
        if self.hex {
            ValueEncoding::Hex
        } else {
            self.value_encoding
        }
    }
}

/// `host:port` or `http://host:port` with a numeric port: anything else is a
/// usage error (exit 2) at once, instead of a connect timeout later.
pub fn parse_endpoint(text: &str) -> Result<String, String> {
    let s = text.trim();
    let rest = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://")).unwrap_or(s);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let bad = |why: &str| format!("invalid endpoint {text:?}: {why} (expected HOST:PORT, e.g. 127.0.0.1:7001)");
    if s.contains("://") && !(s.starts_with("http://") || s.starts_with("https://")) {
        return Err(bad("only http:// is supported"));
    }
    let Some((host, port)) = rest.rsplit_once(':') else { return Err(bad("no port")) };
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
    if !host_ok {
        return Err(bad("bad host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad("the port must be a number from 1 to 65535")),
    }
    if tonic::transport::Endpoint::from_shared(format!("http://{rest}")).is_err() {
        return Err(bad("not a valid address"));
    }
    Ok(s.to_owned())
}

/// A value argument: literal text in the chosen encoding, or `-` for stdin.
pub const VALUE_HELP: &str = "The value (in --value-encoding; `-` reads it from stdin)";

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Set KEY to VALUE (exit 0 once committed by a majority); VALUE `-` reads stdin.
    Put {
        /// The key.
        key: String,
        #[arg(help = VALUE_HELP, allow_hyphen_values = true)]
        value: String,
    },
    /// Print the value of KEY (exit 1 if absent).
    Get {
        /// The key.
        key: String,
        /// Read the answering node's local copy without confirming leadership (may be stale).
        #[arg(long)]
        stale: bool,
    },
    /// Remove KEY (exit 1 if it was absent).
    Delete {
        /// The key.
        key: String,
    },
    /// Compare-and-swap: set KEY to NEW only if it holds --expect OLD (or is absent with --expect-absent); exit 1 on mismatch.
    #[command(group = clap::ArgGroup::new("expectation").required(true).args(["expect", "expect_absent"]))]
    Cas {
        /// The key.
        key: String,
        /// The value to store when the expectation holds (in --value-encoding; `-` reads stdin).
        #[arg(allow_hyphen_values = true)]
        new: String,
        /// The value KEY must currently hold (in --value-encoding).
        #[arg(long, value_name = "OLD", allow_hyphen_values = true)]
        expect: Option<String>,
        /// KEY must currently be absent.
        #[arg(long)]
        expect_absent: bool,
    },
    /// List keys starting with PREFIX, or in [--from, --to), in key order.
    Scan {
        /// The key prefix ("" or omitted: every key).
        #[arg(conflicts_with_all = ["from", "to"])]
        prefix: Option<String>,
        /// First key of the range (inclusive).
        #[arg(long, value_name = "KEY")]
        from: Option<String>,
        /// End of the range (exclusive; omitted: unbounded).
        #[arg(long, value_name = "KEY")]
        to: Option<String>,
        /// At most this many pairs.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Read the answering node's local copy without confirming leadership (may be stale).
        #[arg(long)]
        stale: bool,
    },
    /// Show every endpoint's view: role, term, leader, commit, applied, log (exit 3 if one is unreachable).
    Status {
        /// Ask the first endpoint that answers for the members and show all of them.
        #[arg(long)]
        cluster: bool,
        /// Redraw the table every --interval until Ctrl+C (unreachable nodes do not stop it).
        #[arg(long)]
        watch: bool,
        /// Time between refreshes of --watch.
        #[arg(long, value_parser = crate::duration::parse_duration, default_value = "1s", requires = "watch")]
        interval: std::time::Duration,
        /// Stop --watch after this many refreshes.
        #[arg(long, requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
    /// Ask the leader to hand leadership to node --to (thesis §3.10) and wait until it leads.
    TransferLeader {
        /// The node that should become leader.
        #[arg(long)]
        to: u64,
        /// Return once the transfer has started instead of waiting for it to complete.
        #[arg(long)]
        no_wait: bool,
    },
    /// List or change the cluster's members (thesis §4): list, add-learner, promote, remove.
    Members {
        #[command(subcommand)]
        action: MembersCommand,
    },
}

/// `members` subcommands. Changes go to the leader (requests follow it) and
/// exit 0 once the new configuration is committed.
#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Show the configuration: ID, ADDRESS, ROLE, LEADER, MATCH, LAG (progress from the leader).
    List,
    /// Add node ID, reachable at ADDR (host:port), as a non-voting learner that receives the log.
    AddLearner {
        /// The new member's node id (not 0, not a member yet).
        id: u64,
        /// Where its peer and client services listen (host:port).
        #[arg(value_parser = parse_member_address)]
        addr: String,
    },
    /// Make learner ID a voter (refused while it lags too far behind).
    Promote {
        /// The learner's node id.
        id: u64,
    },
    /// Remove member ID. Removing the leader hands leadership to the most caught-up voter first.
    Remove {
        /// The member's node id.
        id: u64,
        /// When ID is the leader: remove it at once and let it step down after the change commits.
        #[arg(long)]
        no_transfer: bool,
    },
}

/// A member address: what the server accepts (`host:port`, at most
/// `raft_rpc::MAX_MEMBER_ADDR_BYTES`); anything else is exit 2 before
/// anything is sent.
fn parse_member_address(text: &str) -> Result<String, String> {
    raft_rpc::members::check_member_address(text)?;
    Ok(text.to_owned())
}
