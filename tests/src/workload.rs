//! [`Workload`]: concurrent KV clients that hammer a cluster with put,
//! linearizable get and compare-and-swap on a few keys, recording every
//! operation in a [`HistoryRecorder`] for the linearizability checker.
//!
//! Why it looks like this (after Jepsen's register workloads):
//! - every written value is unique (`c<client>-<n>`), so a read names the one
//!   write it observed and the checker cannot confuse two writes;
//! - a few keys only (each an independent register, checked alone), so every
//!   key sees real contention, yet few enough operations per key that the
//!   checker's search stays cheap;
//! - an operation's fate is recorded honestly: completed with its result,
//!   *indeterminate* when the client cannot know whether it happened (outcome
//!   unknown, malformed reply), and *failed* (dropped) only when the client
//!   library says it certainly did not happen. Reads that fail are dropped too:
//!   a read that returned nothing constrains nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use raft_rpc::{ClientConfig, ClientError, Consistency, KvClient};

use crate::history::{HistoryRecorder, PendingOp};
use crate::linearizability::{Op, Output};
use crate::rng::Rng;

/// Parameters of a [`Workload`].
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// Concurrent clients (each its own session and client id).
    pub clients: usize,
    /// Number of keys, named `k0`, `k1`, ...
    pub keys: usize,
    /// Seeds every client's choice of operations.
    pub seed: u64,
    /// First client id; client `i` uses `first_client_id + i` (must be non-zero).
    pub first_client_id: u64,
    /// Per-client pause between operations (`lo..hi` ms), so histories stay checkable.
    pub think_ms: (u64, u64),
    /// Fraction of operations that are linearizable reads.
    pub read_fraction: f64,
    /// Fraction of operations that are compare-and-swaps (the rest are puts).
    pub cas_fraction: f64,
    /// Client library settings (cluster id, timeouts).
    pub client: ClientConfig,
}

impl WorkloadConfig {
    /// `clients` clients on `keys` keys of cluster `cluster_id`, with short client
    /// timeouts so faults turn into indeterminate operations rather than stalls.
    pub fn new(clients: usize, keys: usize, seed: u64, cluster_id: &str) -> Self {
        WorkloadConfig {
            clients,
            keys,
            seed,
            first_client_id: 1,
            think_ms: (0, 10),
            read_fraction: 0.45,
            cas_fraction: 0.25,
            client: client_config(cluster_id),
        }
    }

    /// The key names.
    pub fn key_names(&self) -> Vec<String> {
        (0..self.keys).map(|i| format!("k{i}")).collect()
    }
}

/// Client settings for tests: retries within a few seconds, then give up.
pub fn client_config(cluster_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new(cluster_id);
    c.connect_timeout = Duration::from_millis(500);
    c.request_timeout = Duration::from_millis(1500);
    c.operation_timeout = Duration::from_secs(6);
    c
}

/// Outcome counts of one kind of operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Completed with a result.
    pub ok: u64,
    /// Certainly not applied (dropped from the history).
    pub failed: u64,
    /// Outcome unknown.
    pub indeterminate: u64,
}

impl OpCounts {
    fn add(&mut self, o: &OpCounts) {
        self.ok += o.ok;
        self.failed += o.failed;
        self.indeterminate += o.indeterminate;
    }
}

/// What the clients did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadStats {
    /// Puts.
    pub puts: OpCounts,
    /// Linearizable gets.
    pub gets: OpCounts,
    /// Compare-and-swaps.
    pub cas: OpCounts,
    /// Compare-and-swaps that completed and succeeded.
    pub cas_succeeded: u64,
}

impl WorkloadStats {
    fn merge(&mut self, o: &WorkloadStats) {
        self.puts.add(&o.puts);
        self.gets.add(&o.gets);
        self.cas.add(&o.cas);
        self.cas_succeeded += o.cas_succeeded;
    }

    /// Completed operations of every kind.
    pub fn completed(&self) -> u64 {
        self.puts.ok + self.gets.ok + self.cas.ok
    }
}

impl std::fmt::Display for WorkloadStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let row = |c: &OpCounts| format!("{} ok, {} failed, {} indeterminate", c.ok, c.failed, c.indeterminate);
        write!(
            f,
            "puts: {}; gets: {}; cas: {} ({} succeeded)",
            row(&self.puts),
            row(&self.gets),
            row(&self.cas),
            self.cas_succeeded
        )
    }
}

/// The client driver. Construct, then [`Workload::run`] until `stop` is set.
#[derive(Debug)]
pub struct Workload {
    config: WorkloadConfig,
    endpoints: Vec<String>,
    recorder: Arc<HistoryRecorder>,
}

impl Workload {
    /// Clients for the cluster at `endpoints`, recording into `recorder`.
    pub fn new(config: WorkloadConfig, endpoints: Vec<String>, recorder: Arc<HistoryRecorder>) -> Self {
        Workload { config, endpoints, recorder }
    }

    /// Runs every client as its own task until `stop` is set; each finishes its
    /// operation in flight (bounded by the client's operation timeout).
    pub async fn run(self, stop: Arc<AtomicBool>) -> Result<WorkloadStats, ClientError> {
        let keys = Arc::new(self.config.key_names());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.config.clients as u64 {
            let id = self.config.first_client_id + i;
            let kv = KvClient::with_client_id(&self.endpoints, self.config.client.clone(), id)?;
            let client = Client {
                id,
                kv,
                rng: Rng::new(self.config.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                keys: keys.clone(),
                last_seen: vec![None; keys.len()],
                written: 0,
                recorder: self.recorder.clone(),
                config: self.config.clone(),
            };
            tasks.spawn(client.run(stop.clone()));
        }
        let mut total = WorkloadStats::default();
        while let Some(joined) = tasks.join_next().await {
            let stats = joined.expect("invariant: workload client tasks do not panic");
            total.merge(&stats);
        }
        Ok(total)
    }
}

/// One client session.
struct Client {
    id: u64,
    kv: KvClient,
    rng: Rng,
    keys: Arc<Vec<String>>,
    /// The last value this client saw per key: a plausible CAS expectation.
    last_seen: Vec<Option<String>>,
    written: u64,
    recorder: Arc<HistoryRecorder>,
    config: WorkloadConfig,
}

impl Client {
    async fn run(mut self, stop: Arc<AtomicBool>) -> WorkloadStats {
        let mut stats = WorkloadStats::default();
        while !stop.load(Ordering::Relaxed) {
            let k = self.rng.index(self.keys.len());
            let roll = self.rng.range(0, 1_000_000) as f64 / 1_000_000.0;
            if roll < self.config.read_fraction {
                self.get(k, &mut stats).await;
            } else if roll < self.config.read_fraction + self.config.cas_fraction {
                self.cas(k, &mut stats).await;
            } else {
                self.put(k, &mut stats).await;
            }
            let (lo, hi) = self.config.think_ms;
            if hi > lo {
                // Pacing, not waiting for a condition: keeps per-key histories small.
                tokio::time::sleep(Duration::from_millis(self.rng.range(lo, hi))).await;
            }
        }
        stats
    }

    fn next_value(&mut self) -> String {
        self.written += 1;
        format!("c{}-{}", self.id, self.written)
    }

    async fn get(&mut self, k: usize, stats: &mut WorkloadStats) {
        let key = self.keys[k].clone();
        let pending = self.recorder.invoke(self.id, Op::Get { key: key.clone() });
        match self.kv.get(key.as_bytes(), Consistency::Linearizable).await {
            Ok(v) => {
                let v = v.map(utf8);
                self.last_seen[k] = v.clone();
                self.recorder.complete(pending, Output::Value(v));
                stats.gets.ok += 1;
            }
            Err(_) => {
                // A read changes nothing: dropping a failed one is always sound.
                self.recorder.failed(pending);
                stats.gets.failed += 1;
            }
        }
    }

    async fn put(&mut self, k: usize, stats: &mut WorkloadStats) {
        let key = self.keys[k].clone();
        let value = self.next_value();
        let pending = self.recorder.invoke(self.id, Op::Put { key: key.clone(), value: value.clone() });
        match self.kv.put(key.as_bytes(), value.as_bytes()).await {
            Ok(_) => {
                self.last_seen[k] = Some(value);
                self.recorder.complete(pending, Output::Ok);
                stats.puts.ok += 1;
            }
            Err(e) => resolve_write_error(&self.recorder, pending, &e, &mut stats.puts),
        }
    }

    async fn cas(&mut self, k: usize, stats: &mut WorkloadStats) {
        let key = self.keys[k].clone();
        // Mostly the last value seen (likely to succeed); sometimes "absent".
        let expected = if self.rng.chance(0.1) { None } else { self.last_seen[k].clone() };
        let new = self.next_value();
        let op = Op::Cas { key: key.clone(), expected: expected.clone(), new: new.clone() };
        let pending = self.recorder.invoke(self.id, op);
        let result = self.kv.compare_and_swap(key.as_bytes(), expected.map(String::into_bytes), new.as_bytes()).await;
        match result {
            Ok(r) => {
                self.last_seen[k] = if r.succeeded { Some(new) } else { r.previous.map(utf8) };
                self.recorder.complete(pending, Output::Cas(r.succeeded));
                stats.cas.ok += 1;
                stats.cas_succeeded += u64::from(r.succeeded);
            }
            Err(e) => resolve_write_error(&self.recorder, pending, &e, &mut stats.cas),
        }
    }
}

/// Records a failed write as indeterminate or failed, per the client's error.
pub fn resolve_write_error(recorder: &HistoryRecorder, pending: PendingOp, e: &ClientError, counts: &mut OpCounts) {
    if write_may_have_applied(e) {
        recorder.indeterminate(pending);
        counts.indeterminate += 1;
    } else {
        recorder.failed(pending);
        counts.failed += 1;
    }
}

/// Whether a write that ended in `e` may have been applied. The client library
/// promises that only [`ClientError::Unknown`] may hide an applied write; a
/// malformed reply is treated as unknown too (the request did reach a node).
pub fn write_may_have_applied(e: &ClientError) -> bool {
    matches!(e, ClientError::Unknown(_) | ClientError::Protocol(_))
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unknown_outcomes_keep_a_write_in_the_history() {
        assert!(write_may_have_applied(&ClientError::Unknown("timeout".into())));
        assert!(write_may_have_applied(&ClientError::Protocol("garbled".into())));
        assert!(!write_may_have_applied(&ClientError::Unavailable("no leader".into())));
        assert!(!write_may_have_applied(&ClientError::InvalidArgument("too big".into())));
    }

    #[test]
    fn failed_writes_are_dropped_and_unknown_ones_stay_indeterminate() {
        let r = HistoryRecorder::new();
        let mut counts = OpCounts::default();
        let a = r.invoke(1, Op::Put { key: "k".into(), value: "a".into() });
        resolve_write_error(&r, a, &ClientError::Unavailable("down".into()), &mut counts);
        let b = r.invoke(1, Op::Put { key: "k".into(), value: "b".into() });
        resolve_write_error(&r, b, &ClientError::Unknown("lost".into()), &mut counts);
        assert_eq!(counts, OpCounts { ok: 0, failed: 1, indeterminate: 1 });
        let h = r.history();
        assert_eq!(h.operations.len(), 1);
        assert_eq!(h.operations[0].complete, None);
    }

    #[test]
    fn keys_are_named_by_index() {
        let c = WorkloadConfig::new(2, 3, 7, "default");
        assert_eq!(c.key_names(), ["k0", "k1", "k2"]);
    }
}
