#!/usr/bin/env bash
# The relay at scale: signed HTTP requests against `crynux relay --dev --validation-rate 0` holding 10^3, 10^4, 10^5
# and 10^6 finished tasks of history. The relay runs on core 0 (taskset), the load generator (`crynux bench relay`,
# the SDK's signing client) on core 1. History is written straight into the database by `crynux bench relay-history`
# (paid, finished LLM tasks with their ledger rows and events; cached in $WORK), then each run works on a fresh copy:
#   start-up     exec → first answer of GET /v1/now
#   lifecycle    8 nodes and 16 creators run 400 whole tasks at once (create, dispatch, the node's read and score,
#                validation, upload, result read): latency of each step, and whole tasks/s
#   create       2,000 signed creations one at a time (p50, p99), then 10,000 with 32 in flight (creations/s)
#   get          2,000 signed task reads one at a time
#   RSS          the relay's resident set after all of it
# Medians over RUNS runs per size. Usage: scripts/bench-relay.sh [RUNS]   (SIZES="1000 10000" to pick sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
sizes=${SIZES:-"1000 10000 100000 1000000"}
work=${WORK:-$HOME/.cache/crynux/bench-relay}
swift build -c release -Xswiftc -enable-testing >/dev/null
crynux="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/crynux"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
mkdir -p "$work"
out="$work/results.jsonl"
: >"$out"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work/run"
}
trap cleanup EXIT

for n in $sizes; do
  base="$work/history-$n"
  if [ ! -f "$base/done" ]; then
    rm -rf "$base"
    echo "writing $n tasks of history into $base"
    "$crynux" bench relay-history --data-dir "$base" --tasks "$n"
    touch "$base/done"
  fi
  for run in $(seq "$runs"); do
    rm -rf "$work/run"
    cp -r "$base" "$work/run"
    sync
    start=$(date +%s.%N)
    taskset -c 0 "$crynux" relay --dev --validation-rate 0 --data-dir "$work/run" --port "$port" >"$work/relay.log" 2>&1 &
    pid=$!
    until curl -sf "$url/v1/now" >/dev/null; do sleep 0.005; done
    up=$(python3 -c "import sys; print($(date +%s.%N) - $start)")
    echo "{\"size\": $n, \"run\": $run, \"op\": \"startup\", \"seconds\": $up}" >>"$out"
    echo "{\"size\": $n, \"run\": $run, \"op\": \"rss_start\", \"kb\": $(awk '/VmRSS/ {print $2}' /proc/$pid/status)}" >>"$out"
    {
      taskset -c 1 "$crynux" bench relay --relay "$url" --creates 0 --lifecycle-tasks 400 --nodes 8 --creators 16
      taskset -c 1 "$crynux" bench relay --relay "$url" --creates 2000 --concurrency 1 --reads 2000
      taskset -c 1 "$crynux" bench relay --relay "$url" --creates 10000 --concurrency 32 --creators 16
    } | sed "s/^{/{\"size\": $n, \"run\": $run, /" >>"$out"
    echo "{\"size\": $n, \"run\": $run, \"op\": \"rss_end\", \"kb\": $(awk '/VmRSS/ {print $2}' /proc/$pid/status)}" >>"$out"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    echo "size $n run $run done (start-up ${up} s)"
  done
done

python3 - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sizes = sorted({r["size"] for r in rows})
def med(size, op, key, concurrency=None):
    v = [r[key] for r in rows if r["size"] == size and r["op"] == op and (concurrency is None or r.get("concurrency") == concurrency)]
    return statistics.median(v) if v else float("nan")
cols = [
    ("create p50 ms", lambda s: med(s, "create", "p50_ms", 1)), ("create p99 ms", lambda s: med(s, "create", "p99_ms", 1)),
    ("creates/s (32 in flight)", lambda s: med(s, "create", "per_s", 32)),
    ("get p50 ms", lambda s: med(s, "get", "p50_ms")), ("get p99 ms", lambda s: med(s, "get", "p99_ms")),
    ("score p50 ms", lambda s: med(s, "lifecycle_score", "p50_ms")), ("score p99 ms", lambda s: med(s, "lifecycle_score", "p99_ms")),
    ("upload p50 ms", lambda s: med(s, "lifecycle_upload", "p50_ms")), ("upload p99 ms", lambda s: med(s, "lifecycle_upload", "p99_ms")),
    ("validate p50 ms", lambda s: med(s, "lifecycle_validate", "p50_ms")),
    ("whole tasks/s (8 nodes, 16 creators)", lambda s: med(s, "lifecycle_tasks", "per_s")),
    ("start-up s", lambda s: med(s, "startup", "seconds")),
    ("RSS at start MB", lambda s: med(s, "rss_start", "kb") / 1024), ("RSS after MB", lambda s: med(s, "rss_end", "kb") / 1024),
]
print("| history (tasks) | " + " | ".join(f"{s:,}" for s in sizes) + " |")
print("| --- | " + " | ".join("---:" for _ in sizes) + " |")
for name, f in cols:
    print(f"| {name} | " + " | ".join(f"{f(s):.2f}" if f(s) < 100 else f"{f(s):.0f}" for s in sizes) + " |")
first, last = sizes[0], sizes[-1]
print(f"\ncreate p50 at {last:,} / at {first:,}: {med(last, 'create', 'p50_ms', 1) / med(first, 'create', 'p50_ms', 1):.2f}x")
EOF
