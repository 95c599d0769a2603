//! Replays the fuzz corpus as plain tests (stable toolchain, no libFuzzer):
//! every file under `corpus/<target>/` goes through its target, which must
//! not panic; `seed-*` files must still be accepted as valid, and must be
//! exactly what `raft_fuzz::seeds` generates (regenerate them with
//! `FUZZ_WRITE_SEEDS=1 cargo test -p raft-fuzz --test corpus`). Crashes
//! found by `scripts/fuzz.sh` are kept as `corpus/<target>/crash-*`.

use std::fs;
use std::path::PathBuf;

use raft_fuzz::TARGETS;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target)
}

#[test]
fn seeds_are_accepted_and_match_the_committed_corpus() {
    let write = std::env::var_os("FUZZ_WRITE_SEEDS").is_some();
    for (target, name, bytes) in raft_fuzz::seeds::all() {
        let (_, run) = TARGETS.iter().find(|(t, _)| *t == target).expect("seed for a known target");
        assert!(run(&bytes), "seed {target}/{name} is no longer accepted by its target");
        let path = corpus_dir(target).join(format!("seed-{name}"));
        if write {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &bytes).unwrap();
        }
        let committed = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (regenerate the seeds)", path.display()));
        assert_eq!(committed, bytes, "{} differs from the generated seed (regenerate the seeds)", path.display());
    }
}

#[test]
fn every_corpus_file_runs_without_panicking() {
    let mut ran = 0;
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target} has no corpus");
        for path in files {
            let bytes = fs::read(&path).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
            ran += 1;
        }
    }
    println!("replayed {ran} corpus inputs");
}

#[test]
fn mutated_seeds_never_panic() {
    // A cheap, deterministic stand-in for fuzzing in CI: every seed with each
    // single byte flipped, and every prefix of it. Seeded by construction.
    for (target, name, bytes) in raft_fuzz::seeds::all() {
        let (_, run) = TARGETS.iter().find(|(t, _)| *t == target).unwrap();
        for i in 0..bytes.len() {
            let mut m = bytes.clone();
            m[i] ^= 0xff;
            let outcome = std::panic::catch_unwind(|| run(&m));
            assert!(outcome.is_ok(), "{target}/{name} with byte {i} flipped panicked");
            let outcome = std::panic::catch_unwind(|| run(&bytes[..i]));
            assert!(outcome.is_ok(), "{target}/{name} cut to {i} bytes panicked");
        }
    }
}
