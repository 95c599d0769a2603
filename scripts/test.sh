#!/usr/bin/env bash
# The project's test command: installs missing system packages, then runs
# every test in the workspace. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec cargo test --workspace "$@"
