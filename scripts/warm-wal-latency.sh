#!/usr/bin/env bash
# A single client's put once the WAL has had time to recycle (issue #13's
# RocksDB lever): for each round and build, starts a fresh 3-node cluster on
# loopback, pre-writes with 64 clients of 4 KiB values for WARM (default
# 12s), then drives the leader with one client for DUR (default 5s) and
# prints its p50/p99 and each node's mean synced write over that run (from
# /metrics). Compare builds within one run; stops what it started.
#
#   scripts/warm-wal-latency.sh "label=/path/raft-cli ..." ROUNDS
set -euo pipefail
[[ $# -eq 2 ]] || { sed -n '2,10p' "$0"; exit 2; }
read -ra specs <<<"$1"; rounds=$2
cd "$(dirname "$0")/.."
work="$(mktemp -d "${TMPDIR:-/tmp}/warm-wal.XXXXXX")"
source scripts/lib/local-cluster.sh
trap 'cluster_stop; rm -rf "$work"' EXIT

fsync_totals() { # node id -> "count sum"
    curl -s "127.0.0.1:2589$1/metrics" |
        awk '/^raft_fsync_duration_seconds_sum/ { s = $NF } /^raft_fsync_duration_seconds_count/ { c = $NF } END { print c + 0, s + 0 }'
}

for r in $(seq "$rounds"); do
    for spec in "${specs[@]}"; do
        label=${spec%%=*}; bin=${spec#*=}
        cluster_start "$bin" "$work" -- --metrics-listen "127.0.0.1:2589{i}" || exit 1
        leader=$cluster_leader
        "$bin" bench --target raft --endpoints "$leader" --clients 64 --conns 8 --key-size 16 --value-size 4096 \
            --duration "${WARM:-12s}" -w json >/dev/null
        declare -A count0 sum0
        for i in 1 2 3; do read -r count0[$i] sum0[$i] < <(fsync_totals "$i"); done
        put=$("$bin" bench --target raft --endpoints "$leader" --clients 1 --conns 1 --key-size 16 --value-size 128 \
            --duration "${DUR:-5s}" -w json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("p50 %.3f ms p99 %.3f ms" % (d["latency"]["p50_ms"], d["latency"]["p99_ms"]))')
        writes=""
        for i in 1 2 3; do
            read -r count sum < <(fsync_totals "$i")
            writes+=$(python3 -c 'import sys; c, s = float(sys.argv[1]), float(sys.argv[2]); print(" node %s %.3f" % (sys.argv[3], s / max(1, c) * 1000))' \
                "$((count - count0[$i]))" "$(python3 -c "print(${sum} - ${sum0[$i]})")" "$i")
        done
        echo "$label round $r: 1-client put $put; mean synced write ms:$writes; data dir $(du -sh "$work/d-1" | cut -f1)"
        cluster_stop
    done
done
