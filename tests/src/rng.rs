//! A tiny seeded generator (SplitMix64) so every randomized test and fault
//! schedule is reproducible from the one seed it prints.

/// SplitMix64 (Steele, Lea, Flood 2014): fast, small, statistically fine for tests.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`. Panics if the range is empty (a caller bug).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo < hi, "Rng::range needs a non-empty range, got {lo}..{hi}");
        lo + self.next_u64() % (hi - lo)
    }

    /// An index in `0..len`. Panics if `len` is zero (a caller bug).
    pub fn index(&mut self, len: usize) -> usize {
        self.range(0, len as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
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
