//! Config parsing under hostile input (issue #15): random text, and the
//! shipped example with random byte edits, never panic the parser or the
//! validator; whatever parses and validates survives a TOML round trip
//! unchanged. Peer specs from the command line (`id=host:port`) likewise.
//!
//! Config parsing is fuzzed here with proptest rather than as a cargo-fuzz
//! target: raft-cluster links RocksDB, and a libFuzzer build of it would
//! recompile RocksDB's C++ for every fuzz run. Seeded: rerun a failure with
//! the printed PROPTEST_RNG_SEED.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use raft_cluster::{NodeConfig, PeerConfig};

const EXAMPLE: &str = include_str!("../../raft-cli/node.example.toml");
const DEFAULT_SEED: u64 = 20261204;

fn seeded(cases: u32) -> Config {
    let seed = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    eprintln!("config_fuzz: PROPTEST_RNG_SEED={seed}");
    Config { cases, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() }
}

/// Parse, validate, and if both pass, round-trip.
fn check(text: &str) -> Result<(), TestCaseError> {
    let Ok(config) = NodeConfig::from_toml_str(text) else { return Ok(()) };
    if config.validate().is_err() {
        return Ok(());
    }
    let again = NodeConfig::from_toml_str(&config.to_toml_string().expect("a valid config serializes"))
        .expect("a serialized config parses");
    prop_assert_eq!(again, config);
    Ok(())
}

#[test]
fn the_example_parses_and_validates() {
    let config = NodeConfig::from_toml_str(EXAMPLE).expect("the shipped example parses");
    config.validate().expect("the shipped example is valid");
    check(EXAMPLE).unwrap();
}

#[test]
fn random_text_never_panics_the_parser() {
    proptest!(seeded(512), |(text in "\\PC{0,400}")| { check(&text)?; });
}

#[test]
fn edited_examples_never_panic_and_round_trip_when_valid() {
    proptest!(seeded(512), |(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8))| {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        check(&String::from_utf8_lossy(&bytes))?;
    });
}

#[test]
fn peer_specs_never_panic() {
    proptest!(seeded(512), |(spec in "\\PC{0,60}")| {
        if let Ok(p) = PeerConfig::parse(&spec) {
            prop_assert!(spec.contains('='), "{:?} parsed without '='", spec);
            prop_assert_eq!(p.addr.as_str(), p.addr.trim());
        }
    });
}
