//! Seeded randomness for tests and fault schedules, so every run is
//! reproducible from the one seed it prints. The generator is raft-core's
//! [`SeededRng`] (SplitMix64); this wrapper adds the test-side helpers.

use raft_core::SeededRng;

/// raft-core's SplitMix64 with the helpers the harness needs.
#[derive(Clone, Debug)]
pub struct Rng(SeededRng);

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(SeededRng::new(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `lo..hi`. Panics if the range is empty (a caller bug).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0.gen_range(lo, hi)
    }

    /// An index in `0..len`. Panics if `len` is zero (a caller bug).
    pub fn index(&mut self, len: usize) -> usize {
        self.range(0, len as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.gen_bool(p)
    }
}

/// A seed for a randomized test: `$name` from the environment if set (to
/// reproduce a failure), else derived from the clock. Printed either way.
pub fn seed_from_env(name: &str) -> u64 {
    let seed = match std::env::var(name).ok().and_then(|s| s.parse().ok()) {
        Some(seed) => seed,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5EED),
    };
    eprintln!("seed: {name}={seed}");
    seed
}

/// A seed for a test that CI runs: `$name` if set, else the fixed `default`
/// (so CI runs are reproducible as they are); printed either way.
pub fn seed_from_env_or(name: &str, default: u64) -> u64 {
    let seed = std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    eprintln!("seed: {name}={seed}");
    seed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_sequence() {
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
    }

    #[test]
    fn range_stays_inside_bounds() {
        let mut r = Rng::new(1);
        assert!((0..1000).map(|_| r.range(5, 9)).all(|x| (5..9).contains(&x)));
    }
}
