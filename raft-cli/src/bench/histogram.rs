//! A fixed-size log-linear latency histogram (the HdrHistogram idea, small).
//!
//! Values are microseconds. Each power of two is split into
//! [`SUB_BUCKETS`] equal buckets, so a reported percentile is within 1/128
//! (< 0.8%) of the true value while memory stays constant however many
//! operations a benchmark records. The maximum is kept exactly.

use std::time::Duration;

/// Linear sub-buckets per power of two (2^7 = 128: < 0.8% relative error).
const SUB_BITS: u32 = 7;
const SUB_BUCKETS: u64 = 1 << SUB_BITS;
/// Powers of two covered: up to 2^40 µs (about 12 days), far beyond any timeout.
const MAGNITUDES: usize = 41 - SUB_BITS as usize;
const BUCKETS: usize = (SUB_BUCKETS as usize) * (MAGNITUDES + 1);

/// Latency histogram over microseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    /// `counts[bucket_of(v)]` counts recorded values `v`; the sum of all counts is `total`.
    counts: Vec<u64>,
    /// Number of values recorded.
    total: u64,
    /// Largest value recorded (exact).
    max: u64,
    /// Sum of all values, for the mean.
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], total: 0, max: 0, sum: 0 }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB_BUCKETS {
        return v as usize;
    }
    let magnitude = 63 - v.leading_zeros() - SUB_BITS + 1; // >= 1
    let sub = (v >> (magnitude - 1)) - SUB_BUCKETS; // in [0, SUB_BUCKETS)
    let index = magnitude as usize * SUB_BUCKETS as usize + sub as usize;
    index.min(BUCKETS - 1)
}

/// The highest value that falls in `bucket` (reported percentiles never under-state).
fn bucket_high(bucket: usize) -> u64 {
    let magnitude = (bucket / SUB_BUCKETS as usize) as u32;
    let sub = (bucket % SUB_BUCKETS as usize) as u64;
    if magnitude == 0 {
        return sub;
    }
    let low = (SUB_BUCKETS + sub) << (magnitude - 1);
    low + (1u64 << (magnitude - 1)) - 1
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket_of(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
        self.sum += u128::from(us);
    }

    /// Adds every value recorded in `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The exact maximum.
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max)
    }

    /// The mean, or zero when empty.
    pub fn mean(&self) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros((self.sum / u128::from(self.total)) as u64)
    }

    /// The value at quantile `q` in `[0, 1]` (upper bound of its bucket, capped at the max).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(bucket_high(bucket).min(self.max));
            }
        }
        self.max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for us in 1..=100 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.quantile(0.5), Duration::from_micros(50));
        assert_eq!(h.quantile(0.99), Duration::from_micros(99));
        assert_eq!(h.max(), Duration::from_micros(100));
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn large_values_stay_within_one_percent() {
        let mut h = Histogram::default();
        for ms in 1..=1000u64 {
            h.record(Duration::from_micros(ms * 1000 + 7));
        }
        for (q, expect_us) in [(0.5, 500_007.0), (0.9, 900_007.0), (0.99, 990_007.0)] {
            let got = h.quantile(q).as_micros() as f64;
            assert!((got - expect_us).abs() / expect_us < 0.01, "q={q}: {got} vs {expect_us}");
            assert!(got >= expect_us, "percentiles never under-state: {got} < {expect_us}");
        }
    }

    #[test]
    fn buckets_are_contiguous_and_monotonic() {
        let mut last = 0;
        for v in (0..2_000_000u64).step_by(997) {
            let b = bucket_of(v);
            assert!(b >= last, "bucket order broke at {v}");
            assert!(bucket_high(b) >= v, "value {v} above its bucket's high {}", bucket_high(b));
            last = b;
        }
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Histogram::default(), Histogram::default(), Histogram::default());
        for us in 0..5000u64 {
            let d = Duration::from_micros(us * 37 % 100_000);
            if us % 2 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            all.record(d);
        }
        a.merge(&b);
        for q in [0.1, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
        assert_eq!(a.mean(), all.mean());
        assert_eq!(a.max(), all.max());
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.99), Duration::ZERO);
        assert_eq!(h.mean(), Duration::ZERO);
    }

    #[test]
    fn huge_values_land_in_the_last_bucket_without_panicking() {
        let mut h = Histogram::default();
        h.record(Duration::from_secs(u64::MAX / 2_000_000));
        assert_eq!(h.count(), 1);
        assert!(h.quantile(1.0) <= h.max());
    }
}
