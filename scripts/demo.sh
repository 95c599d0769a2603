#!/usr/bin/env bash
# The quick-start demo: installs missing system packages, builds the
# workspace exactly as scripts/test.sh does (so the two quick-start commands
# share one build, and RocksDB's C++ is compiled once), then runs
# `raft-cli demo`. Extra arguments go to the demo, for example:
#   scripts/demo.sh --nodes 5 --chaos --duration 2m
#   scripts/demo.sh --web 127.0.0.1:8080   # live view at http://127.0.0.1:8080/ (runs 1h; Ctrl+C stops)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "demo: building (the first build compiles RocksDB from source: ~15-30 min on 2 cores)" >&2
cargo test --workspace --no-run -q
target=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exec "${target:-target}/debug/raft-cli" demo "$@"
