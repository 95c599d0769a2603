#!/usr/bin/env bash
# A/B benchmark of raft-cli builds: for each round and each build, starts a
# fresh 3-node cluster on loopback, drives its leader with `raft-cli bench`
# (one warm-up second, then the measured run) and stops it. Builds are
# alternated within a round so that machine noise hits them alike; compare
# them as ratios within one run (issue #13's levers were measured this way).
#
#   scripts/ab-bench.sh "label=/path/raft-cli[:ENV=VALUE][@--node-arg,...] ..." ROUNDS CLIENTS...
#   e.g. scripts/ab-bench.sh "old=/tmp/raft-cli-old new=target/release/raft-cli" 2 1 64 256
#        scripts/ab-bench.sh "10k=$b 100k=$b@--snapshot-threshold,100000" 3 64
#
# DUR (default 6s) is the measured run, RR (default 0) the read ratio,
# BENCH_EXTRA more `raft-cli bench` flags (e.g. --stale-reads); with
# ENDPOINTS=all the load generator gets every member, leader first (else the
# leader alone). The first build also runs the load generator, so every
# build meets the same client. Prints one line per run; stops what it started.
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n '2,17p' "$0"; exit 2; }
read -ra extra <<<"${BENCH_EXTRA:-}"
read -ra specs <<<"$1"; rounds=$2; shift 2; clients=("$@")
first=${specs[0]#*=}; first=${first%%@*}; client_bin=${first%%:*}
work="$(mktemp -d "${TMPDIR:-/tmp}/ab-bench.XXXXXX")"
source "$(dirname "$0")/lib/local-cluster.sh"
trap 'cluster_stop; rm -rf "$work"' EXIT
for r in $(seq "$rounds"); do
    for spec in "${specs[@]}"; do
        label=${spec%%=*}; rest=${spec#*=}; node_args=()
        if [[ $rest == *@* ]]; then IFS=, read -ra node_args <<<"${rest#*@}"; rest=${rest%%@*}; fi
        bin=${rest%%:*}; envs=()
        [[ $rest == *:* ]] && envs=("${rest#*:}")
        cluster_start "$bin" "$work" "${envs[@]}" -- "${node_args[@]}" || exit 1
        leader=$cluster_leader eps=$cluster_leader
        if [[ ${ENDPOINTS:-leader} == all ]]; then
            IFS=, read -ra members <<<"$cluster_endpoints"
            for m in "${members[@]}"; do [[ $m == "$leader" ]] || eps+=",$m"; done
        fi
        for c in "${clients[@]}"; do
            args=(bench --target raft --endpoints "$eps" --clients "$c" --conns 8 --read-ratio "${RR:-0}"
                --key-size 16 --value-size 128 -w json "${extra[@]}")
            "$client_bin" "${args[@]}" --duration 1s >/dev/null
            "$client_bin" "${args[@]}" --duration "${DUR:-6s}" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%s round %s clients %s: %.0f ops/s p50 %.2f ms p99 %.2f ms failed %d" % (sys.argv[1], sys.argv[2], sys.argv[3],
      d["throughput_ops_per_s"], d["latency"]["p50_ms"], d["latency"]["p99_ms"], d["failed_ops"]))' "$label" "$r" "$c"
        done
        cluster_stop
    done
done
