//! The benchmark's final numbers.

use std::time::Duration;

use serde_json::{json, Value};

use super::histogram::Histogram;
use super::load::LoadResult;
use super::target::Target;
use crate::output::{Report, Table};

/// Throughput and latency of one run.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// The system loaded.
    pub target: Target,
    /// Concurrent clients.
    pub clients: usize,
    /// Connection groups asked for (`--conns`, at most `clients`).
    pub conns: usize,
    /// gRPC connections actually open when the load began.
    pub connections: usize,
    /// Unmeasured warm-up before the run.
    pub warmup: Duration,
    /// Key and value sizes in bytes.
    pub key_size: usize,
    /// Value size in bytes.
    pub value_size: usize,
    /// Fraction of reads requested.
    pub read_ratio: f64,
    /// Reads were stale and spread over the members (`--stale-reads`).
    pub stale_reads: bool,
    /// What was measured.
    pub result: LoadResult,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn latency_json(h: &Histogram) -> Value {
    json!({
        "count": h.count(),
        "mean_ms": ms(h.mean()),
        "p50_ms": ms(h.quantile(0.50)),
        "p90_ms": ms(h.quantile(0.90)),
        "p99_ms": ms(h.quantile(0.99)),
        "max_ms": ms(h.max()),
    })
}

impl BenchReport {
    /// Successful operations per second.
    pub fn throughput(&self) -> f64 {
        let secs = self.result.elapsed.as_secs_f64();
        if secs == 0.0 {
            return 0.0;
        }
        self.result.ok_ops() as f64 / secs
    }
}

impl Report for BenchReport {
    fn human(&self) -> String {
        let r = &self.result;
        let mut out = format!(
            "{}: {} ok operations ({} failed) in {:.1}s with {} clients over {} connections \
             (after {:.1}s warm-up){}: {:.0} ops/s\n",
            self.target.name(),
            r.ok_ops(),
            r.failed_ops(),
            r.elapsed.as_secs_f64(),
            self.clients,
            self.connections,
            self.warmup.as_secs_f64(),
            if self.stale_reads { ", stale reads spread over the members" } else { "" },
            self.throughput()
        );
        let mut table = Table::new(["latency", "count", "p50", "p90", "p99", "max"]);
        let all = r.all();
        for (name, h) in [("reads", &r.reads), ("writes", &r.writes), ("all", &all)] {
            if h.count() == 0 {
                continue;
            }
            let cell = |d: Duration| format!("{:.2}ms", ms(d));
            table.row([
                name.to_string(),
                h.count().to_string(),
                cell(h.quantile(0.5)),
                cell(h.quantile(0.9)),
                cell(h.quantile(0.99)),
                cell(h.max()),
            ]);
        }
        out.push_str(&table.render());
        for (e, n) in &r.errors {
            out.push_str(&format!("error x{n}: {e}\n"));
        }
        out
    }

    fn json(&self) -> Value {
        let r = &self.result;
        let errors: serde_json::Map<String, Value> = r.errors.iter().map(|(e, n)| (e.clone(), json!(n))).collect();
        json!({
            "target": self.target.name(),
            "clients": self.clients,
            "conns": self.conns,
            "connections": self.connections,
            "warmup_s": self.warmup.as_secs_f64(),
            "key_size": self.key_size,
            "value_size": self.value_size,
            "read_ratio": self.read_ratio,
            "stale_reads": self.stale_reads,
            "elapsed_s": r.elapsed.as_secs_f64(),
            "ok_ops": r.ok_ops(),
            "failed_ops": r.failed_ops(),
            "throughput_ops_per_s": self.throughput(),
            "latency": latency_json(&r.all()),
            "reads": latency_json(&r.reads),
            "writes": latency_json(&r.writes),
            "errors": errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> BenchReport {
        let mut result = LoadResult { elapsed: Duration::from_secs(2), ..Default::default() };
        for ms in 1..=100 {
            result.writes.record(Duration::from_millis(ms));
        }
        result.errors.insert("timeout".into(), 3);
        BenchReport {
            target: Target::Raft,
            clients: 8,
            conns: 2,
            connections: 2,
            warmup: Duration::from_secs(1),
            key_size: 16,
            value_size: 128,
            read_ratio: 0.0,
            stale_reads: false,
            result,
        }
    }

    #[test]
    fn throughput_counts_only_successes() {
        assert_eq!(report().throughput(), 50.0);
    }

    #[test]
    fn human_and_json_carry_the_same_percentiles() {
        let r = report();
        let text = r.human();
        assert!(text.contains("100 ok operations (3 failed)"), "{text}");
        assert!(text.contains("8 clients over 2 connections (after 1.0s warm-up)"), "{text}");
        assert!(text.contains("error x3: timeout"), "{text}");
        let json = r.json();
        assert_eq!(json["ok_ops"], 100);
        assert_eq!((json["conns"].clone(), json["connections"].clone()), (json!(2), json!(2)));
        let p99 = json["latency"]["p99_ms"].as_f64().unwrap();
        assert!((99.0..100.0).contains(&p99), "p99 {p99}");
        assert!(text.contains(&format!("{p99:.2}ms")), "{text}");
        assert_eq!(json["reads"]["count"], 0);
    }
}
