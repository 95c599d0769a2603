//! The closed loop: `clients` tasks, each issuing one operation at a time
//! until the deadline, timing every operation.
//!
//! Closed-loop means offered load adapts to the cluster (a slow cluster gets
//! fewer requests), so the latency reported is what a client sees at the
//! throughput reported, not queueing inside the generator.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use raft_core::SeededRng;
use tokio::time::Instant;

use super::histogram::Histogram;

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// A linearizable get.
    Read,
    /// A put.
    Write,
}

/// When the loop ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// After this much time (operations in flight finish).
    After(Duration),
    /// After exactly this many operations, over all clients.
    Ops(u64),
}

/// Load shape.
#[derive(Clone, Copy, Debug)]
pub struct LoadShape {
    /// Concurrent clients, each with one operation in flight.
    pub clients: usize,
    /// How long to run.
    pub stop: Stop,
    /// Fraction of operations that are reads, in `[0, 1]`.
    pub read_ratio: f64,
    /// Seed for the read/write choice and key choice.
    pub seed: u64,
}

/// What one operation is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct OpRequest {
    /// Which client issues it.
    pub client: usize,
    /// Read or write.
    pub kind: OpKind,
    /// A random number for the operation to pick its key with.
    pub key_draw: u64,
}

/// Everything measured.
#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    /// Latencies of successful reads.
    pub reads: Histogram,
    /// Latencies of successful writes.
    pub writes: Histogram,
    /// Failed operations by error text.
    pub errors: BTreeMap<String, u64>,
    /// Wall time from the first operation to the last completion.
    pub elapsed: Duration,
}

impl LoadResult {
    /// Successful operations of both kinds.
    pub fn ok_ops(&self) -> u64 {
        self.reads.count() + self.writes.count()
    }

    /// Failed operations.
    pub fn failed_ops(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Latencies of every successful operation.
    pub fn all(&self) -> Histogram {
        let mut h = self.reads.clone();
        h.merge(&self.writes);
        h
    }
}

/// Runs the closed loop. `op` performs one operation; `done` counts completions
/// (for a progress bar) as they happen.
pub async fn run_load<F, Fut>(shape: LoadShape, op: F, done: Arc<AtomicU64>) -> LoadResult
where
    F: Fn(OpRequest) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let start = Instant::now();
    let (deadline, budget) = match shape.stop {
        Stop::After(d) => (Some(start + d), u64::MAX),
        Stop::Ops(n) => (None, n),
    };
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(shape.clients);
    for client in 0..shape.clients {
        let op = op.clone();
        let done = done.clone();
        let issued = issued.clone();
        let seed = shape.seed ^ (client as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        tasks.push(tokio::spawn(async move {
            let mut rng = SeededRng::new(seed);
            let mut part = LoadResult::default();
            // Claim an operation from the budget before issuing it, so that
            // exactly `budget` run in total whatever the interleaving.
            while deadline.is_none_or(|d| Instant::now() < d) && issued.fetch_add(1, Ordering::Relaxed) < budget {
                let kind = if rng.gen_bool(shape.read_ratio) { OpKind::Read } else { OpKind::Write };
                let req = OpRequest { client, kind, key_draw: rng.next_u64() };
                let began = Instant::now();
                let result = op(req).await;
                let took = began.elapsed();
                match (result, kind) {
                    (Ok(()), OpKind::Read) => part.reads.record(took),
                    (Ok(()), OpKind::Write) => part.writes.record(took),
                    (Err(e), _) => *part.errors.entry(e).or_default() += 1,
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            part
        }));
    }
    let mut total = LoadResult::default();
    for task in tasks {
        if let Ok(part) = task.await {
            total.reads.merge(&part.reads);
            total.writes.merge(&part.writes);
            for (e, n) in part.errors {
                *total.errors.entry(e).or_default() += n;
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_operation_is_timed_and_counted_by_kind() {
        let shape = LoadShape { clients: 4, stop: Stop::After(Duration::from_millis(300)), read_ratio: 0.5, seed: 1 };
        let done = Arc::new(AtomicU64::new(0));
        let result = run_load(
            shape,
            |req: OpRequest| async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                if req.key_draw % 10 == 0 {
                    Err("busy".to_string())
                } else {
                    Ok(())
                }
            },
            done.clone(),
        )
        .await;
        assert_eq!(result.ok_ops() + result.failed_ops(), done.load(Ordering::Relaxed));
        assert!(result.reads.count() > 0 && result.writes.count() > 0, "both kinds ran");
        assert!(result.errors.get("busy").copied().unwrap_or(0) > 0, "errors are tallied by text");
        assert!(result.all().quantile(0.5) >= Duration::from_millis(2));
        assert!(result.elapsed >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn read_ratio_zero_issues_only_writes() {
        let shape = LoadShape { clients: 2, stop: Stop::After(Duration::from_millis(100)), read_ratio: 0.0, seed: 5 };
        let result = run_load(
            shape,
            |_req: OpRequest| async move {
                tokio::task::yield_now().await;
                Ok(())
            },
            Arc::new(AtomicU64::new(0)),
        )
        .await;
        assert_eq!(result.reads.count(), 0);
        assert!(result.writes.count() > 0);
    }

    #[tokio::test]
    async fn a_total_runs_exactly_that_many_operations() {
        let shape = LoadShape { clients: 7, stop: Stop::Ops(100), read_ratio: 0.3, seed: 9 };
        let done = Arc::new(AtomicU64::new(0));
        let result = run_load(shape, |_req: OpRequest| async move { Ok(()) }, done.clone()).await;
        assert_eq!(result.ok_ops(), 100);
        assert_eq!(done.load(Ordering::Relaxed), 100);
    }
}
