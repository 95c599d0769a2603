#!/usr/bin/env bash
# Side-by-side benchmark: a 3-member etcd and a 3-node cluster of ours, on
# loopback, data on the same disk, driven by the same closed-loop generator
# (`raft-cli bench --target etcd|raft`), in one run. Also measures the floor
# in the same window (fdatasync of a small append, alone and three at once
# as three members on one disk do, loopback round trip) and
# each system's server CPU per 1,000 operations.
#
#   scripts/bench-vs-etcd.sh [--duration 10s] [--warmup 2s] [--clients "1 16 64 256"]
#                            [--workloads "put get mixed"] [--out FILE]
#
# Installs etcd from Debian's packages when missing (root), builds raft-cli in
# release mode unless RAFT_CLI points at a binary, and stops everything it
# started on exit. The table goes to stdout and, with --out, to FILE as
# Markdown; raw JSON lines stay in the work folder (printed at the end).
set -euo pipefail

duration=10s
warmup=2s
clients_list="1 16 64 256"
workloads="put get mixed"
out=""
key_size=16
value_size=128
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --clients) clients_list="$2"; shift 2 ;;
        --workloads) workloads="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench-vs-etcd.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    # The data folders can be large; logs and results stay.
    rm -rf "$work"/etcd-? "$work"/raft-?
}
trap cleanup EXIT
log() { echo "[bench-vs-etcd] $*" >&2; }

# ---- prerequisites -----------------------------------------------------------
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
    log "installing etcd from Debian's packages"
    if [[ $(id -u) -ne 0 ]]; then echo "etcd is missing and installing it needs root" >&2; exit 1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server etcd-client >&2
fi
if [[ -z "${RAFT_CLI:-}" ]]; then
    log "building raft-cli (release)"
    (cd "$root" && cargo build --release -q -p raft-cli)
    RAFT_CLI="${CARGO_TARGET_DIR:-$root/target}/release/raft-cli"
fi
[[ -x "$RAFT_CLI" ]] || { echo "no raft-cli binary at $RAFT_CLI" >&2; exit 1; }

# ---- start etcd --------------------------------------------------------------
etcd_cluster="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
etcd_eps="127.0.0.1:23791,127.0.0.1:23792,127.0.0.1:23793"
etcd_pids=()
for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$work/etcd-$i" \
        --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
        --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
        --initial-cluster "$etcd_cluster" --initial-cluster-state new --initial-cluster-token bench-vs-etcd \
        >"$work/etcd-$i.log" 2>&1 &
    pids+=($!); etcd_pids+=($!)
done

# ---- start ours --------------------------------------------------------------
raft_peers="1=127.0.0.1:24791,2=127.0.0.1:24792,3=127.0.0.1:24793"
raft_eps="127.0.0.1:24791,127.0.0.1:24792,127.0.0.1:24793"
raft_pids=()
for i in 1 2 3; do
    "$RAFT_CLI" node --id "$i" --listen "127.0.0.1:2479$i" --peers "$raft_peers" --data-dir "$work/raft-$i" \
        >"$work/raft-$i.log" 2>&1 &
    pids+=($!); raft_pids+=($!)
done

wait_until() { # seconds, description, command...
    local limit=$1 what=$2; shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then echo "timed out after ${limit}s waiting for $what (logs in $work)" >&2; exit 1; fi
        sleep 0.2
    done
}
etcd_leader() {
    etcdctl --endpoints="$etcd_eps" endpoint status -w json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["Status"]["header"]["member_id"] == s["Status"]["leader"]:
        print(s["Endpoint"].replace("http://", "")); break
else:
    sys.exit(1)'
}
raft_leader() {
    "$RAFT_CLI" status --cluster -w json --endpoints "$raft_eps" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
nodes = doc if isinstance(doc, list) else doc.get("members", doc.get("nodes", []))
for n in nodes:
    if n.get("role") == "leader":
        print(n.get("endpoint") or n.get("address")); break
else:
    sys.exit(1)'
}
wait_until 60 "an etcd leader" etcd_leader
wait_until 60 "a leader of ours" raft_leader
etcd_at="$(etcd_leader)"
raft_at="$(raft_leader)"
log "etcd leader at $etcd_at, our leader at $raft_at; work folder $work"

# ---- the floor ---------------------------------------------------------------
floor_json="$(python3 - "$work" <<'EOF'
import os, socket, statistics, sys, threading, time
work = sys.argv[1]
path = os.path.join(work, "floor.log")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
lat = []
for _ in range(300):
    t = time.perf_counter(); os.write(fd, b"x" * 200); os.fdatasync(fd); lat.append(time.perf_counter() - t)
os.close(fd)
# Three appenders at once, each on its own file (three members of a cluster
# fsyncing their logs on one disk, as both systems do here).
par = []
def appender(i):
    f = os.open(os.path.join(work, "floor-%d.log" % i), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for _ in range(300):
        t = time.perf_counter(); os.write(f, b"x" * 200); os.fdatasync(f); par.append(time.perf_counter() - t)
    os.close(f)
threads = [threading.Thread(target=appender, args=(i,)) for i in range(3)]
[t.start() for t in threads]; [t.join() for t in threads]
# Loopback round trip between two processes (as between two nodes), each
# reply read in full before the next request.
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
if (child := os.fork()) == 0:
    c, _ = srv.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while (d := c.recv(64)):
        c.sendall(d)
    os._exit(0)
cl = socket.create_connection(srv.getsockname()); cl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def recv_exactly(n):
    got = 0
    while got < n:
        got += len(cl.recv(n - got))
rtt = []
for _ in range(2000):
    t = time.perf_counter(); cl.sendall(b"p" * 64); recv_exactly(64); rtt.append(time.perf_counter() - t)
cl.close(); os.waitpid(child, 0)
ms = lambda v: round(statistics.median(v) * 1000, 3)
print('{"fdatasync_p50_ms": %s, "fdatasync_3_p50_ms": %s, "rtt_p50_ms": %s}' % (ms(lat), ms(par), ms(rtt)))
EOF
)"
echo "$floor_json" >"$work/floor.json"
log "floor: $floor_json"

# ---- the runs ----------------------------------------------------------------
cpu_ticks() { # pids... -> utime+stime in clock ticks, summed
    local total=0 p f
    for p in "$@"; do
        read -ra f <"/proc/$p/stat"
        total=$((total + f[13] + f[14]))
    done
    echo "$total"
}
results="$work/results.jsonl"
: >"$results"
run_one() { # system workload clients
    local system=$1 workload=$2 clients=$3 endpoint ratio conns before after
    case "$workload" in put) ratio=0.0 ;; get) ratio=1.0 ;; mixed) ratio=0.9 ;; esac
    conns=$((clients < 8 ? clients : 8))
    if [[ $system == etcd ]]; then endpoint=$etcd_at; set -- "${etcd_pids[@]}"; else endpoint=$raft_at; set -- "${raft_pids[@]}"; fi
    # Warm-up outside the CPU window, then the measured run.
    "$RAFT_CLI" bench --target "$system" --endpoints "$endpoint" --clients "$clients" --conns "$conns" \
        --duration "$warmup" --read-ratio "$ratio" --key-size $key_size --value-size $value_size -w json >/dev/null
    before=$(cpu_ticks "$@")
    "$RAFT_CLI" bench --target "$system" --endpoints "$endpoint" --clients "$clients" --conns "$conns" \
        --duration "$duration" --read-ratio "$ratio" --key-size $key_size --value-size $value_size -w json \
        >"$work/run.json"
    after=$(cpu_ticks "$@")
    python3 - "$system" "$workload" "$clients" "$((after - before))" "$(getconf CLK_TCK)" "$work/run.json" >>"$results" <<'EOF'
import json, sys
system, workload, clients, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = json.load(open(sys.argv[6]))
ops = r["ok_ops"]
print(json.dumps({
    "system": system, "workload": workload, "clients": clients,
    "ops_per_s": r["throughput_ops_per_s"], "ok_ops": ops, "failed_ops": r["failed_ops"],
    "p50_ms": r["latency"]["p50_ms"], "p99_ms": r["latency"]["p99_ms"],
    "cpu_s_per_1k_ops": (ticks / hz) / ops * 1000 if ops else None,
}))
EOF
    log "$system $workload x$clients: $(tail -1 "$results")"
}
for workload in $workloads; do
    for c in $clients_list; do
        # Alternate the order so neither system always runs on a warmer disk.
        if ((c % 2)); then run_one etcd "$workload" "$c"; run_one raft "$workload" "$c"
        else run_one raft "$workload" "$c"; run_one etcd "$workload" "$c"; fi
    done
done

# ---- the table ---------------------------------------------------------------
table="$(python3 - "$results" "$work/floor.json" "$duration" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
floor = json.load(open(sys.argv[2]))
by = {(r["system"], r["workload"], r["clients"]): r for r in rows}
print("| workload | clients | ours ops/s | etcd ops/s | ratio | ours p50 / p99 ms | etcd p50 / p99 ms | ours CPU-s/1k ops | etcd CPU-s/1k ops |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
keys = sorted({(r["workload"], r["clients"]) for r in rows}, key=lambda k: (["put", "get", "mixed"].index(k[0]), k[1]))
for w, c in keys:
    o, e = by.get(("raft", w, c)), by.get(("etcd", w, c))
    if not o or not e:
        continue
    ratio = o["ops_per_s"] / e["ops_per_s"] if e["ops_per_s"] else float("nan")
    cpu = lambda r: "%.3f" % r["cpu_s_per_1k_ops"] if r["cpu_s_per_1k_ops"] is not None else "-"
    print(f"| {w} | {c} | {o['ops_per_s']:,.0f} | {e['ops_per_s']:,.0f} | {ratio:.2f}x | "
          f"{o['p50_ms']:.2f} / {o['p99_ms']:.2f} | {e['p50_ms']:.2f} / {e['p99_ms']:.2f} | {cpu(o)} | {cpu(e)} |")
print()
three = floor.get("fdatasync_3_p50_ms")
print(f"Floor in the same window: fdatasync of a 200 B append p50 {floor['fdatasync_p50_ms']} ms "
      + (f"({three} ms with three appenders at once, one file each), " if three is not None else ", ")
      + f"loopback TCP round trip p50 {floor['rtt_p50_ms']} ms. Runs of {sys.argv[3]} each, 16 B keys "
      f"(10,000 distinct), 128 B values; get = linearizable; mixed = 90 % gets.")
EOF
)"
echo "$table"
if [[ -n "$out" ]]; then echo "$table" >"$out"; fi
if grep -q '"failed_ops": [1-9]' "$results"; then log "some operations failed: see $results"; fi
log "raw results: $results (folder $work is kept)"
