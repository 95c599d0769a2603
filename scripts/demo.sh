#!/usr/bin/env bash
# The quick-start demo: installs missing system packages, builds raft-cli in
# release mode and runs `raft-cli demo`. Extra arguments go to the demo
# (for example: scripts/demo.sh --nodes 5 --chaos).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec cargo run --release -q -p raft-cli -- demo "$@"
