#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time (default 60 s
# each) and fails if any input crashes one. Crashing inputs are copied to
# fuzz/corpus/<target>/crash-<sha1> so that `cargo test -p raft-fuzz` replays
# them from then on (commit them with the fix).
#
#   scripts/fuzz.sh [--budget SECONDS] [TARGET...]
#
# Uses the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# coverage flags, and --sanitizer none because AddressSanitizer needs a
# nightly runtime (the code is safe Rust; libFuzzer still catches panics,
# aborts, timeouts and runaway memory via -rss_limit_mb).
set -euo pipefail
budget=60
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --budget) budget="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "[fuzz] installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^raft-fuzz$')
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/raft-fuzz.XXXXXX")"
export RUSTC_BOOTSTRAP=1
failed=0
for t in "${targets[@]}"; do
    echo "[fuzz] $t for ${budget}s (new inputs in $work/$t, seeds from fuzz/corpus/$t)" >&2
    mkdir -p "$work/$t"
    set +e
    cargo fuzz run --fuzz-dir fuzz --features libfuzzer --sanitizer none "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$budget" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$work/$t.log" 2>&1
    rc=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo "?")
    if [[ $rc -ne 0 ]]; then
        failed=1
        echo "[fuzz] $t FAILED (exit $rc) after $runs runs; log: $work/$t.log" >&2
        for a in fuzz/artifacts/"$t"/*; do
            [[ -f "$a" ]] || continue
            cp "$a" "fuzz/corpus/$t/crash-$(sha1sum "$a" | cut -c1-16)"
            echo "[fuzz]   kept $a as a regression input in fuzz/corpus/$t/" >&2
        done
    else
        echo "[fuzz] $t: 0 crashes in ${budget}s, $runs runs" >&2
    fi
done
exit $failed
