# Sourced by scripts/ab-bench.sh and scripts/put-latency.sh: a 3-node
# cluster of one raft-cli build on loopback ports 25791-25793.
#
#   cluster_start BIN WORK [ENV=VALUE...] -- [node args...]
#                            starts the nodes (data and logs under WORK; a
#                            `{i}` in a node arg becomes the node's id) and
#                            sets $cluster_leader to the leader's endpoint
#                            once one is elected (call it directly, not in
#                            $(...): the pids must reach cluster_stop)
#   cluster_stop             stops every node started (also on EXIT if the
#                            caller traps it)

cluster_peers="1=127.0.0.1:25791,2=127.0.0.1:25792,3=127.0.0.1:25793"
cluster_endpoints="127.0.0.1:25791,127.0.0.1:25792,127.0.0.1:25793"
cluster_pids=()

cluster_stop() {
    for p in "${cluster_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${cluster_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    cluster_pids=()
}

# The endpoint of the node that reports itself leader, or nothing.
cluster_leader_of() {
    "$1" status --cluster -w json --endpoints "$cluster_endpoints" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
nodes = d if isinstance(d, list) else d.get("members", d.get("nodes", []))
print(next((n.get("endpoint") or n.get("address") for n in nodes if n.get("role") == "leader"), ""))'
}

cluster_start() {
    local bin=$1 work=$2 envs=()
    shift 2
    while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
    [[ $# -gt 0 ]] && shift
    rm -rf "$work"/d-*
    for i in 1 2 3; do
        env "${envs[@]}" "$bin" node --id "$i" --listen "127.0.0.1:2579$i" --peers "$cluster_peers" \
            --data-dir "$work/d-$i" "${@//\{i\}/$i}" >"$work/n$i.log" 2>&1 &
        cluster_pids+=($!)
    done
    cluster_leader=""
    local deadline=$((SECONDS + 30))
    until [[ -n $cluster_leader ]]; do
        ((SECONDS < deadline)) || { echo "no leader within 30 s (logs in $work)" >&2; return 1; }
        sleep 0.1; cluster_leader=$(cluster_leader_of "$bin" || true)
    done
}
