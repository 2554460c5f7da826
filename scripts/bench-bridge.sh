#!/usr/bin/env bash
# The Bridge's own overhead, on loopback, each server in its own process:
#   - latency of a one-token chat completion (max_tokens 1, temperature 0), sequential, p50/p99/mean:
#     (a) the network alone — the SDK client straight to the relay (`crynux bench client`),
#     (b) the Bridge (`crynux serve --relay`) in front of the same network,
#     (c) LiteLLM's proxy (PyPI, one worker, no database) in front of that Bridge;
#     Bridge overhead = (b) − (a), LiteLLM overhead = (c) − (b), and their ratio; and, per request, from the
#     Bridge's Server-Timing (network;dur, total;dur): its own time (response − network) and LiteLLM's (response −
#     the Bridge's total, less the direct path's hop), which polling does not blur;
#   - authenticated GET /v1/models: requests/s under wrk (-t1 -c32) and one-at-a-time latency, Bridge and LiteLLM;
#   - resident memory (VmRSS, VmHWM) of the Bridge and LiteLLM processes after the runs.
# The network is `crynux relay --dev --validation-rate 0` and one `crynux node` with the bundled model. With two or
# more cores the Bridge and LiteLLM (and the SDK client of (a)) run on core 1, the load generators on core 0.
# Everything is measured RUNS times (default 3) with CHATS chats per side (default 200, after WARMUP=10);
# the summary (markdown, medians of the runs) goes to stdout, and with --save to Benchmarks/results/bridge-DATE.md.
# --no-litellm skips LiteLLM; if it cannot be installed or started the script says so and reports the Bridge alone.
# Environment: CRYNUX (a crynux binary; default: build the release one), WARMUP, WRK_DURATION (10s),
# WRK_CONNECTIONS (32), MODELS_N (2000 one-at-a-time GET /v1/models), LITELLM_VERSION (1.106.2), NODE_POLL_MS
# (the node's poll interval, where `crynux node` has --poll-ms; default: the node's own), KEEP_TMP=1 (keep the
# logs and raw samples).
# Usage: scripts/bench-bridge.sh [--save] [--no-litellm] [RUNS] [CHATS]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

save=0 use_litellm=1 positional=()
for arg in "$@"; do
  case $arg in
    --save) save=1 ;;
    --no-litellm) use_litellm=0 ;;
    -h | --help) sed -n '2,/^# Usage/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "unknown option $arg (see --help)" >&2; exit 2 ;;
    *) positional+=("$arg") ;;
  esac
done
runs=${positional[0]:-3}
chats=${positional[1]:-200}
warmup=${WARMUP:-10}
wrk_duration=${WRK_DURATION:-10s}
wrk_connections=${WRK_CONNECTIONS:-32}
models_n=${MODELS_N:-2000}
litellm_version=${LITELLM_VERSION:-1.106.2}
model_id=HuggingFaceTB/SmolLM2-135M-Instruct
message="What is 2+2?"
[[ $runs =~ ^[1-9][0-9]*$ && $chats =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ ]] || { echo "RUNS and CHATS must be positive integers" >&2; exit 2; }

log() { echo "[bench-bridge] $*" >&2; }
die() { log "error: $*"; exit 1; }

# Settings of the caller's own Bridge must not leak into this one.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^CRYNUX_BRIDGE_' || true)

if [ -z "${CRYNUX:-}" ]; then
  swift build -c release -Xswiftc -enable-testing >/dev/null
  CRYNUX="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/crynux"
fi
[ -x "$CRYNUX" ] || die "no crynux binary at $CRYNUX"
command -v curl >/dev/null || die "curl is needed"
if ! command -v wrk >/dev/null; then
  log "installing wrk (apt)"
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; } || die "cannot install wrk"
fi

# The network-alone baseline needs `crynux bench client`.
have_bench_client=0
if "$CRYNUX" bench client --help 2>/dev/null | grep -q "crynux bench client --relay"; then have_bench_client=1; fi

# Cores: servers on 1, load generators on 0 (nothing pinned on a single core).
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  server_core=1 pin_server=(taskset -c 1) pin_client=(taskset -c 0)
else
  server_core="" pin_server=() pin_client=()
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-bridge.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; then
    for f in "$tmp"/*.log; do
      [ -s "$f" ] || continue
      log "last lines of $(basename "$f"):"
      tail -n 15 "$f" | sed 's/^/    /' >&2
    done
  fi
  # Newest first, each given 5 s (the node quits the network while the relay is still up), then SIGKILL.
  local i pid n
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for n in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${KEEP_TMP:-}" ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_until SECONDS PID WHAT COMMAND…: runs COMMAND every 0.2 s until it succeeds; fails if PID dies or time is up.
wait_until() {
  local seconds=$1 pid=$2 what=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what: the process exited"
    [ "$SECONDS" -lt "$deadline" ] || die "$what: not ready after ${seconds}s"
    sleep 0.2
  done
}

chat_body=$(python3 -c 'import json, sys; print(json.dumps({"model": sys.argv[1], "messages": [{"role": "user", "content": sys.argv[2]}], "max_tokens": 1, "temperature": 0}))' "$model_id" "$message")
# chat_ok BASE KEY: one chat completion that answers 200 with a choice.
chat_ok() {
  curl -sf --max-time 120 "$1/chat/completions" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$chat_body" |
    python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin).get("choices") else 1)'
}

# cpu_ticks PID…: the machine's busy CPU ticks since boot, and those of PIDs and their finished children.
cpu_ticks() {
  python3 - "$@" <<'PY'
import sys
busy = sum(int(x) for i, x in enumerate(open("/proc/stat").readline().split()[1:]) if i in (0, 1, 2, 5, 6))
own = 0
for pid in sys.argv[1:]:
    try:
        fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        own += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    except (OSError, IndexError):
        pass
print(busy, own)
PY
}
notes=()
load_start=$(cut -d' ' -f1 /proc/loadavg)
read -r busy_start own_start < <(cpu_ticks $$)
seconds_start=$SECONDS

# 1. The model, the relay, the wallets.
model_path=$("$CRYNUX" model fetch --quiet) || die "crynux model fetch failed"
model_dir=$(dirname "$model_path")
[ -f "$model_dir/manifest.json" ] || die "no manifest.json beside $model_path"

relay_port=$(free_port)
relay="http://127.0.0.1:$relay_port"
log "relay on $relay"
"$CRYNUX" relay --port "$relay_port" --data-dir "$tmp/relay" --dev --validation-rate 0 >"$tmp/relay.log" 2>&1 &
relay_pid=$!
pids+=("$relay_pid")
wait_until 30 "$relay_pid" "relay" curl -sf "$relay/v1/now"

export CRYNUX_WALLET_PASSWORD="bench-$$-$RANDOM"
new_wallet() {
  local address
  address=$("$CRYNUX" wallet new --keystore "$tmp/$1.json" --scrypt-n 1024) || die "crynux wallet new failed"
  [[ $address =~ ^0x[0-9a-fA-F]{40}$ ]] || die "unexpected wallet address: $address"
  echo "$address"
}
fund() {
  curl -sf --max-time 10 "$relay/v1/dev/faucet" -H 'Content-Type: application/json' \
    -d "{\"address\": \"$1\", \"amount\": \"1000000000000000000000000\"}" | grep -q '"success"' || die "the faucet did not fund $1"
}
new_wallet node >/dev/null
bridge_address=$(new_wallet bridge)
client_address=$(new_wallet client)
fund "$bridge_address"
fund "$client_address"

# 2. One node; it has joined when the relay counts it active.
node_args=(node --relay "$relay" --wallet "$tmp/node.json" --models "$model_dir" --data-dir "$tmp/node")
if [ -n "${NODE_POLL_MS:-}" ]; then
  "$CRYNUX" node --help 2>/dev/null | grep -q -- --poll-ms || die "NODE_POLL_MS is set but this crynux node has no --poll-ms"
  node_args+=(--poll-ms "$NODE_POLL_MS")
fi
"$CRYNUX" "${node_args[@]}" >"$tmp/node.log" 2>&1 &
node_pid=$!
pids+=("$node_pid")
node_active() { curl -sf "$relay/v1/network/nodes/number" | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["data"]["active_nodes"] >= 1 else 1)'; }
wait_until 120 "$node_pid" "node (joining the relay)" node_active

# 3. The Bridge in remote mode.
bridge_port=$(free_port)
bridge="http://127.0.0.1:$bridge_port/v1"
log "Bridge on http://127.0.0.1:$bridge_port${server_core:+ (core $server_core)}"
CRYNUX_BRIDGE_VALIDATION_RATE=0 CRYNUX_BRIDGE_LOG_LEVEL=warning ${pin_server[@]+"${pin_server[@]}"} \
  "$CRYNUX" serve --relay "$relay" --wallet "$tmp/bridge.json" --offer "$model_id" --data-dir "$tmp/bridge" --port "$bridge_port" \
  >"$tmp/bridge.log" 2>&1 &
bridge_pid=$!
pids+=("$bridge_pid")
wait_until 30 "$bridge_pid" "Bridge" curl -sf "http://127.0.0.1:$bridge_port/health"
wait_until 10 "$bridge_pid" "Bridge (first API key file)" test -s "$tmp/bridge/first-api-key"
bridge_key=$(cat "$tmp/bridge/first-api-key")
[ -n "$bridge_key" ] || die "no API key in $tmp/bridge/first-api-key"
log "first chat through the Bridge"
wait_until 120 "$bridge_pid" "Bridge (first chat completion)" chat_ok "$bridge" "$bridge_key"

# 4. LiteLLM's proxy in front of the Bridge.
litellm_pid="" litellm_key="" litellm_desc="not run"
start_litellm() {
  local venv=$root/.venv-bench
  if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != sys.argv[1])" "$litellm_version" 2>/dev/null ||
    [ ! -x "$venv/bin/litellm" ]; then
    log "installing LiteLLM's proxy $litellm_version into .venv-bench (PyPI)"
    { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } &&
      "$venv/bin/pip" install -q "litellm[proxy]==$litellm_version" >"$tmp/pip.log" 2>&1 || {
      notes+=("LiteLLM's proxy $litellm_version could not be installed from PyPI here (pip: $(tail -n 1 "$tmp/pip.log" 2>/dev/null)); only the Bridge was measured.")
      return 1
    }
  fi
  local port
  port=$(free_port)
  litellm_key="sk-bench-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  # One model routed to the Bridge; a master key so that every request is authenticated; no database; every
  # callback, telemetry, spend log and background health check that the settings can turn off, off.
  cat >"$tmp/litellm.yaml" <<EOF
model_list:
  - model_name: $model_id
    litellm_params:
      model: openai/$model_id
      api_base: $bridge
      api_key: $bridge_key
litellm_settings:
  telemetry: false
  set_verbose: false
  json_logs: false
  turn_off_message_logging: true
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings:
  master_key: $litellm_key
  disable_spend_logs: true
  disable_error_logs: true
  background_health_checks: false
EOF
  log "LiteLLM's proxy $litellm_version on http://127.0.0.1:$port${server_core:+ (core $server_core)}"
  env -u DATABASE_URL LITELLM_LOG=ERROR LITELLM_MODE=PRODUCTION LITELLM_LOCAL_MODEL_COST_MAP=True DISABLE_ADMIN_UI=True NO_DOCS=True \
    ${pin_server[@]+"${pin_server[@]}"} "$venv/bin/litellm" --config "$tmp/litellm.yaml" --host 127.0.0.1 --port "$port" --num_workers 1 \
    >"$tmp/litellm.log" 2>&1 &
  litellm_pid=$!
  pids+=("$litellm_pid")
  litellm="http://127.0.0.1:$port/v1"
  local deadline=$((SECONDS + 180))
  until curl -sf "http://127.0.0.1:$port/health/liveliness" >/dev/null 2>&1; do
    if ! kill -0 "$litellm_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      notes+=("LiteLLM's proxy $litellm_version did not start here ($(grep -v '^\s*$' "$tmp/litellm.log" | tail -n 1 | cut -c1-200)); only the Bridge was measured.")
      return 1
    fi
    sleep 0.5
  done
  if ! chat_ok "$litellm" "$litellm_key"; then
    notes+=("LiteLLM's proxy $litellm_version started but could not complete a chat through the Bridge; only the Bridge was measured.")
    return 1
  fi
  litellm_desc="LiteLLM proxy $litellm_version (PyPI), one worker, no database, callbacks and spend logs off"
}
if [ "$use_litellm" = 1 ]; then
  if ! start_litellm; then
    log "LITELLM NOT MEASURED: ${notes[-1]}"
    if [ -n "$litellm_pid" ]; then kill -TERM "$litellm_pid" 2>/dev/null || true; fi
    litellm_pid=""
  fi
else
  notes+=("LiteLLM skipped (--no-litellm).")
fi

# 5. The network alone: the SDK client straight to the relay, in a process of its own (on the Bridge's core).
net_cmd=()
if [ "$have_bench_client" = 1 ]; then
  net_cmd=(bench client --relay "$relay" --wallet "$tmp/client.json" --count "$chats" --warmup "$warmup" --message "$message" --model "$model_id")
else
  log "network-only latency: not available in this build (no \`crynux bench client\`)"
  notes+=("Network-only latency: not available in this build (no \`crynux bench client\`), so the Bridge's added latency over the network could not be computed.")
fi

targets=(--target "bridge=$bridge=$bridge_key")
if [ -n "$litellm_pid" ]; then targets+=(--target "litellm=$litellm=$litellm_key"); fi

# tree_status PID: /proc status of PID and its descendants.
tree_status() {
  local pid=$1 child
  cat "/proc/$pid/status"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do tree_status "$child"; done
}

for run in $(seq "$runs"); do
  d=$tmp/run-$run
  mkdir -p "$d"
  if [ ${#net_cmd[@]} -gt 0 ]; then
    log "run $run/$runs: network alone, $chats chats"
    timeout $((chats * 30 + 300)) ${pin_server[@]+"${pin_server[@]}"} "$CRYNUX" "${net_cmd[@]}" >"$d/network.txt" 2>"$tmp/network.log" ||
      die "crynux bench client failed"
    grep '^network ' "$d/network.txt" >&2 || die "crynux bench client printed no 'network …' line"
  fi
  log "run $run/$runs: chats through the Bridge${litellm_pid:+ and LiteLLM}, $chats each, interleaved"
  timeout $((chats * 60 + 600)) ${pin_client[@]+"${pin_client[@]}"} python3 scripts/bench_bridge_load.py chat "${targets[@]}" \
    --n "$chats" --warmup "$warmup" --model "$model_id" --message "$message" --progress --out "$d/chat.json" ||
    die "the chat load generator failed"
  log "run $run/$runs: GET /v1/models one at a time ($models_n each)"
  timeout 600 ${pin_client[@]+"${pin_client[@]}"} python3 scripts/bench_bridge_load.py models "${targets[@]}" --n "$models_n" --out "$d/models.json" ||
    die "the /v1/models load generator failed"
  log "run $run/$runs: wrk -t1 -c$wrk_connections -d$wrk_duration on GET /v1/models"
  ${pin_client[@]+"${pin_client[@]}"} wrk -t1 -c"$wrk_connections" -d2s -H "Authorization: Bearer $bridge_key" "$bridge/models" >/dev/null
  ${pin_client[@]+"${pin_client[@]}"} wrk -t1 -c"$wrk_connections" -d"$wrk_duration" -H "Authorization: Bearer $bridge_key" "$bridge/models" >"$d/wrk-bridge.txt"
  grep -E 'Requests/sec|Non-2xx|Socket errors' "$d/wrk-bridge.txt" | sed 's/^/  Bridge: /' >&2
  if [ -n "$litellm_pid" ]; then
    ${pin_client[@]+"${pin_client[@]}"} wrk -t1 -c"$wrk_connections" -d2s -H "Authorization: Bearer $litellm_key" "$litellm/models" >/dev/null
    ${pin_client[@]+"${pin_client[@]}"} wrk -t1 -c"$wrk_connections" -d"$wrk_duration" -H "Authorization: Bearer $litellm_key" "$litellm/models" >"$d/wrk-litellm.txt"
    grep -E 'Requests/sec|Non-2xx|Socket errors' "$d/wrk-litellm.txt" | sed 's/^/  LiteLLM: /' >&2
  fi
  sleep 1
  cat "/proc/$bridge_pid/status" >"$d/status-bridge.txt"
  if [ -n "$litellm_pid" ]; then tree_status "$litellm_pid" >"$d/status-litellm.txt"; fi
  kill -0 "$bridge_pid" 2>/dev/null || die "the Bridge exited during run $run"
done

# What the rest of the machine used meanwhile (a build, another benchmark) skews every figure above.
read -r busy_end own_end < <(cpu_ticks $$ ${pids[@]+"${pids[@]}"})
foreign=$(python3 -c 'import os, sys; b0, o0, b1, o1, s = map(int, sys.argv[1:]); print("%.0f" % (max(0, (b1 - b0) - (o1 - o0)) / os.sysconf("SC_CLK_TCK") / max(1, s) * 100))' \
  "$busy_start" "$own_start" "$busy_end" "$own_end" $((SECONDS - seconds_start)))
if [ "$foreign" -gt 10 ]; then
  notes+=("**Other processes on this machine used ${foreign}% of a core on average during the run: the figures are skewed; run again on an idle machine.**")
  log "warning: other processes used ${foreign}% of a core on average during the run"
else
  notes+=("Other processes on this machine used ${foreign}% of a core on average during the run.")
fi
notes+=("1-minute load average $load_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end (this run's own processes included; anything else running on the machine skews the figures).")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
python3 - "$tmp/meta.json" "$(date -u +%Y-%m-%d)" "$(nproc) cores ($cpu), crynux $revision" "$chats" "$warmup" \
  "$server_core" "$litellm_desc" "wrk -t1 -c$wrk_connections -d$wrk_duration${server_core:+, wrk on core 0}" ${notes[@]+"${notes[@]}"} <<'EOF'
import json, sys
path, date, machine, chats, warmup, core, litellm, wrk, *notes = sys.argv[1:]
json.dump({"date": date, "machine": machine, "chats": int(chats), "warmup": int(warmup),
           "server_core": core, "litellm": litellm, "wrk": wrk, "notes": notes}, open(path, "w"))
EOF
report_args=(report --dir "$tmp")
if [ "$save" = 1 ]; then
  mkdir -p Benchmarks/results
  report_args+=(--save "Benchmarks/results/bridge-$(date -u +%Y%m%d).md")
fi
python3 scripts/bench_bridge_load.py "${report_args[@]}"
if [ "$save" = 1 ]; then log "saved Benchmarks/results/bridge-$(date -u +%Y%m%d).md"; fi
