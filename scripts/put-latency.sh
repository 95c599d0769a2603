#!/usr/bin/env bash
# Where a single client's put spends its time (issue #13): runs a 3-node
# cluster on loopback twice, first with `--in-memory` logs (no fsync
# anywhere: what is left is the gRPC legs and the processing), then with
# RocksDB; drives its leader with one closed-loop client (puts, then
# linearizable gets) and prints each node's mean synced-write time from its
# /metrics, next to a lone fdatasync and three at once on the same disk.
#
#   scripts/put-latency.sh [/path/to/raft-cli]     (default: a release build)
#
# DUR (default 5s) is each measured run. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [[ -z $bin ]]; then
    cargo build --release -q -p raft-cli
    bin="${CARGO_TARGET_DIR:-target}/release/raft-cli"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/put-latency.XXXXXX")"
source scripts/lib/local-cluster.sh
trap 'cluster_stop; rm -rf "$work"' EXIT

run() { # label, extra node args...
    local label=$1; shift
    cluster_start "$bin" "$work" -- --metrics-listen "127.0.0.1:2589{i}" "$@" || exit 1
    local leader=$cluster_leader
    for rr in 0 1; do
        local args=(bench --target raft --endpoints "$leader" --clients 1 --conns 1 --read-ratio "$rr"
            --key-size 16 --value-size 128 -w json)
        "$bin" "${args[@]}" --duration 1s >/dev/null
        "$bin" "${args[@]}" --duration "${DUR:-5s}" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%-8s %-4s p50 %.3f ms  p99 %.3f ms  %5.0f ops/s" % (sys.argv[1], ("put", "get")[int(sys.argv[2])],
      d["latency"]["p50_ms"], d["latency"]["p99_ms"], d["throughput_ops_per_s"]))' "$label" "$rr"
    done
    for i in 1 2 3; do
        curl -s "127.0.0.1:2589$i/metrics" | python3 -c '
import sys
vals = {}
for line in sys.stdin:
    if line.startswith("raft_fsync_duration_seconds_sum") or line.startswith("raft_fsync_duration_seconds_count"):
        vals[line.split("{")[0].rsplit("_", 1)[1]] = float(line.split()[-1])
role = "leader" if sys.argv[3] == sys.argv[2] else "follower"
if vals.get("count"):
    print("%-8s node %s (%s): %d synced writes, mean %.3f ms" % (sys.argv[1], sys.argv[2], role, vals["count"],
          vals["sum"] / vals["count"] * 1000))' "$label" "$i" "${leader: -1}"
    done
    cluster_stop
}

run in-memory --in-memory
run rocksdb
python3 - "$work" <<'EOF'
import os, statistics, sys, threading, time
work = sys.argv[1]
def appender(i, out):
    f = os.open(os.path.join(work, "floor-%d.log" % i), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for _ in range(300):
        t = time.perf_counter(); os.write(f, b"x" * 200); os.fdatasync(f); out.append(time.perf_counter() - t)
    os.close(f)
for n in (1, 3):
    lat = []
    threads = [threading.Thread(target=appender, args=(i, lat)) for i in range(n)]
    [t.start() for t in threads]; [t.join() for t in threads]
    print("disk     fdatasync of a 200 B append, %d at once: p50 %.3f ms" % (n, statistics.median(lat) * 1000))
EOF
