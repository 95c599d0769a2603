#!/usr/bin/env bash
# The project's test command: installs missing system packages, then runs
# every test in the workspace. Extra arguments go to `cargo test`.
#
# Tests that cannot run here (e.g. the network-namespace and Jepsen partition
# tests when not root) pass but record why in <target>/test-skips/; this
# script prints them after the run, so a skip is never mistaken for a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
skips="${CARGO_TARGET_DIR:-target}/test-skips"
rm -rf "$skips"
status=0
cargo test --workspace "$@" || status=$?
if [ -d "$skips" ] && [ -n "$(ls -A "$skips")" ]; then
    echo
    echo "SKIPPED: $(ls "$skips" | wc -l) test(s) did not run here:"
    sed 's/^/  SKIPPED /' "$skips"/*
else
    echo "skips: none"
fi
exit "$status"
