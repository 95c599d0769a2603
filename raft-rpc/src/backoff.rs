//! Exponential backoff with jitter for reconnects and retries. The jitter
//! keeps nodes that lost a peer at the same moment from retrying in lockstep.
//! It needs no reproducibility (it only spaces out retries), so its seed may
//! come from the clock.

use std::time::Duration;

/// Delays of `base * 2^attempt`, capped at `max`, each drawn uniformly from
/// its upper half.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    /// xorshift64 state; invariant: never 0.
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max: max.max(base), attempt: 0, rng: seed() }
    }

    /// The delay before the next attempt; grows with every call until
    /// [`Backoff::reset`].
    pub(crate) fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(20)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = exp / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if nanos == 0 { 0 } else { self.next_u64() % (nanos + 1) };
        half + Duration::from_nanos(jitter)
    }

    /// Back to the base delay (after a success).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// A non-zero seed from the clock, the process id and a counter.
pub(crate) fn seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mix = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finaliser, then force non-zero for xorshift.
    let mut z = mix.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(5) && first <= Duration::from_millis(10), "{first:?}");
        for _ in 0..30 {
            let d = b.next_delay();
            assert!(d <= Duration::from_millis(100), "{d:?} above the cap");
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_millis(50), "capped delay keeps its lower half: {late:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(10));
    }
}
