//! Randomized histories from a real register must pass; detectable mutations must fail;
//! on small histories the checker must agree with the brute-force reference.
//! Every test prints its base seed (fixed in CI); `LIN_SEED=<seed>` runs or reproduces another.

use raft_tests::linearizability::generate::{generate, mutate, GenConfig, Mutation};
use raft_tests::linearizability::{check, reference, Checker, History, Verdict};
use raft_tests::rng::seed_from_env_or;

/// The base seed CI runs (printed; `LIN_SEED` overrides).
const CI_SEED: u64 = 20_261_204;

fn save_on_failure(history: &History, name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("raft-lin-failures-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.json"));
    match history.save(&path) {
        Ok(()) => format!("history saved to {}", path.display()),
        Err(e) => format!("could not save history: {e}"),
    }
}

#[test]
fn generated_histories_from_a_real_register_are_linearizable() {
    let base = seed_from_env_or("LIN_SEED", CI_SEED);
    let configs = [
        GenConfig::default(),
        GenConfig { clients: 10, ops_per_client: 50, keys: 1, indeterminate: 0.02, indeterminate_applied: 0.5 },
        GenConfig { clients: 3, ops_per_client: 200, keys: 5, indeterminate: 0.1, indeterminate_applied: 0.3 },
    ];
    for i in 0..12u64 {
        let seed = base.wrapping_add(i);
        let cfg = &configs[i as usize % configs.len()];
        let history = generate(seed, cfg);
        let report = check(&history).unwrap();
        assert!(
            report.is_linearizable(),
            "seed {seed} ({cfg:?}): generated history rejected; {}\n{report}",
            save_on_failure(&history, &format!("generated-{seed}"))
        );
    }
}

#[test]
fn certainly_detectable_mutations_are_rejected() {
    let base = seed_from_env_or("LIN_SEED", CI_SEED);
    let cfg = GenConfig { clients: 4, ops_per_client: 60, keys: 2, indeterminate: 0.03, indeterminate_applied: 0.5 };
    let mut checked = 0;
    for i in 0..10u64 {
        let seed = base.wrapping_add(i);
        let history = generate(seed, &cfg);
        for mutation in [Mutation::ReadNeverWritten, Mutation::StaleRead, Mutation::ReadFromFuture] {
            let Some((mutated, what)) = mutate(&history, mutation, seed) else { continue };
            let report = Checker::with_budget(50_000_000).check(&mutated).unwrap();
            assert!(
                matches!(report.verdict(), Verdict::NotLinearizable(_)),
                "seed {seed}: {mutation:?} ({what}) not detected; {}\n{report}",
                save_on_failure(&mutated, &format!("mutated-{seed}-{mutation:?}"))
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} mutations were applicable; generator too small");
}

#[test]
fn checker_agrees_with_brute_force_on_small_histories() {
    let base = seed_from_env_or("LIN_SEED", CI_SEED);
    let cfg = GenConfig { clients: 3, ops_per_client: 3, keys: 1, indeterminate: 0.25, indeterminate_applied: 0.5 };
    let mutations = [Mutation::FlipCas, Mutation::StaleRead, Mutation::ReadNeverWritten, Mutation::ReadFromFuture];
    let (mut legal, mut illegal) = (0, 0);
    for i in 0..400u64 {
        let seed = base.wrapping_add(i);
        let original = generate(seed, &cfg);
        let candidate = match mutate(&original, mutations[i as usize % mutations.len()], seed) {
            Some((mutated, _)) if i % 3 != 0 => mutated,
            _ => original,
        };
        let expected = reference::is_linearizable(&candidate).expect("small history");
        let got = check(&candidate).unwrap();
        assert_eq!(
            got.is_linearizable(),
            expected,
            "seed {seed}: checker and reference disagree; {}\n{got}",
            save_on_failure(&candidate, &format!("differential-{seed}"))
        );
        if expected {
            legal += 1
        } else {
            illegal += 1
        }
    }
    assert!(legal > 50 && illegal > 50, "unbalanced sample: {legal} legal, {illegal} illegal");
}

#[test]
fn a_saved_failing_history_reloads_with_the_same_verdict() {
    let base = seed_from_env_or("LIN_SEED", CI_SEED);
    let history = generate(base, &GenConfig::default());
    let (mutated, _) = mutate(&history, Mutation::ReadNeverWritten, base).expect("generated history has reads");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failure.json");
    mutated.save(&path).unwrap();
    let reloaded = History::load(&path).unwrap();
    assert_eq!(check(&reloaded).unwrap(), check(&mutated).unwrap());
}
