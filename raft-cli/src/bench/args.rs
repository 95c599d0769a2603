//! Flags of `raft-cli bench`.

use std::time::Duration;

use clap::Args;

use super::target::Target;
use crate::duration::parse_duration;
use crate::output::OutputFormat;

/// Largest key or value the benchmark will generate (the server's entry limit is 1 MiB).
pub const MAX_ITEM_BYTES: usize = 512 * 1024;
/// Most concurrent clients.
pub const MAX_CLIENTS: usize = 4096;

/// `raft-cli bench`: closed-loop load against a running cluster, or a local one with `--local N`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Concurrent clients, each with one request in flight (etcd's benchmark: --clients, default 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=MAX_CLIENTS as u64))]
    pub clients: u64,
    /// gRPC connections the clients share, round-robin (etcd's benchmark: --conns, default 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=MAX_CLIENTS as u64))]
    pub conns: u64,
    /// How long to measure (ignored with --total).
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    pub duration: Duration,
    /// Measure exactly this many operations instead of running for --duration.
    #[arg(long, value_name = "OPS", value_parser = clap::value_parser!(u64).range(1..))]
    pub total: Option<u64>,
    /// Run the same load unmeasured for this long first (connections, leader, caches warm up).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Key size in bytes (keys are drawn from 10,000 distinct keys).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(8..=MAX_ITEM_BYTES as u64))]
    pub key_size: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(0..=MAX_ITEM_BYTES as u64))]
    pub value_size: u64,
    /// Fraction of operations that are (linearizable) reads, 0.0 to 1.0.
    #[arg(long, default_value_t = 0.0, value_parser = parse_ratio)]
    pub read_ratio: f64,
    /// Reads are stale (served by the member the client talks to, with no
    /// ReadIndex round) and the connections are spread over all --endpoints
    /// instead of following the leader: the ceiling of any follower-read
    /// scheme (issue #13). This cluster only.
    #[arg(long)]
    pub stale_reads: bool,
    /// What to load: this cluster, or an etcd cluster at --endpoints (for side-by-side comparisons).
    #[arg(long, value_enum, default_value_t = Target::Raft)]
    pub target: Target,
    /// Cluster members to load (the global --endpoints; ignored with --local).
    #[arg(skip)]
    pub endpoints: Vec<String>,
    /// The cluster id (the global --cluster-id).
    #[arg(skip)]
    pub cluster_id: String,
    /// Start a cluster of N node processes (like the demo) and load it instead.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=7))]
    pub local: Option<u64>,
    /// First port of the --local cluster.
    #[arg(long, default_value_t = 7101)]
    pub base_port: u16,
    /// Per-request timeout, the global --timeout (a timed-out request counts as failed).
    #[arg(skip)]
    pub timeout: Duration,
    /// Output format of the final report, the global -w/--output.
    #[arg(skip)]
    pub output: OutputFormat,
    /// Mutual TLS towards a running cluster (the global --tls-cert,
    /// --tls-key, --tls-ca); not used with --local or --target etcd.
    #[arg(skip)]
    pub tls: Option<raft_rpc::TlsConfig>,
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("{r} is outside 0.0..=1.0"));
    }
    Ok(r)
}

/// Distinct keys the benchmark draws from.
pub const KEY_SPACE: u64 = 10_000;

/// Key number `draw % KEY_SPACE`, zero-padded to exactly `size` bytes.
pub fn bench_key(draw: u64, size: usize) -> Vec<u8> {
    let n = draw % KEY_SPACE;
    let mut key = format!("b{n:0>width$}", width = size.saturating_sub(1)).into_bytes();
    key.truncate(size);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_requested_size_and_a_bounded_space() {
        assert_eq!(bench_key(42, 16), b"b000000000000042".to_vec());
        assert_eq!(bench_key(42 + KEY_SPACE, 16), bench_key(42, 16));
        assert_eq!(bench_key(9999, 8).len(), 8);
    }

    #[test]
    fn ratio_must_be_a_fraction() {
        assert_eq!(parse_ratio("0.25"), Ok(0.25));
        assert!(parse_ratio("1.5").is_err());
        assert!(parse_ratio("x").is_err());
    }
}
