#!/usr/bin/env bash
# Two builds of the Bridge compared in one run: both `crynux serve --relay` processes (binaries A and B, pinned to
# core 1) in front of the same relay and node (B's), one-token chats sent to them alternately (the order swapped each
# round) from core 0, and the time each spends inside itself per request (Server-Timing total − network). For checking
# that a change to the Bridge makes nothing slower: the run-to-run drift of the machine cancels out.
# Usage: scripts/bench-bridge-ab.sh CRYNUX_A CRYNUX_B [CHATS per side, default 150]
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 2; }
A=$1 B=$2 N=${3:-150}
tmp=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; sleep 2; rm -rf $tmp' EXIT
fp() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rp=$(fp); relay=http://127.0.0.1:$rp
$B relay --port $rp --data-dir $tmp/relay --dev --validation-rate 0 > $tmp/relay.log 2>&1 & pids+=($!)
sleep 1
export CRYNUX_WALLET_PASSWORD=ab
for w in node ba bb; do $B wallet new --keystore $tmp/$w.json --scrypt-n 1024 > $tmp/$w.addr; done
for w in ba bb; do curl -sf $relay/v1/dev/faucet -H 'Content-Type: application/json' -d "{\"address\":\"$(cat $tmp/$w.addr)\",\"amount\":\"1000000000000000000000000\"}" >/dev/null; done
model_dir=$(dirname $($B model fetch --quiet))
$B node --relay $relay --wallet $tmp/node.json --models $model_dir --data-dir $tmp/node > $tmp/node.log 2>&1 & pids+=($!)
sleep 3
pa=$(fp); pb=$(fp)
CRYNUX_BRIDGE_VALIDATION_RATE=0 CRYNUX_BRIDGE_LOG_LEVEL=warning taskset -c 1 $A serve --relay $relay --wallet $tmp/ba.json --offer HuggingFaceTB/SmolLM2-135M-Instruct --data-dir $tmp/a --port $pa > $tmp/a.log 2>&1 & pids+=($!)
CRYNUX_BRIDGE_VALIDATION_RATE=0 CRYNUX_BRIDGE_LOG_LEVEL=warning taskset -c 1 $B serve --relay $relay --wallet $tmp/bb.json --offer HuggingFaceTB/SmolLM2-135M-Instruct --data-dir $tmp/b --port $pb > $tmp/b.log 2>&1 & pids+=($!)
sleep 3
ka=$(grep -o 'sk-crynux-[0-9a-zA-Z]*' $tmp/a.log | head -1); kb=$(grep -o 'sk-crynux-[0-9a-zA-Z]*' $tmp/b.log | head -1)
taskset -c 0 python3 - $pa $ka $pb $kb $N <<'PY'
import sys, json, time, urllib.request, statistics
pa, ka, pb, kb, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
body = json.dumps({"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "messages": [{"role": "user", "content": "What is 2+2?"}], "max_tokens": 1, "temperature": 0}).encode()
def chat(port, key):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
        st = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))
        return float(st["total"]) - float(st["network"])
inside = {"A": [], "B": []}
for i in range(10): chat(pa, ka); chat(pb, kb)
for i in range(n):
    order = [("A", pa, ka), ("B", pb, kb)] if i % 2 == 0 else [("B", pb, kb), ("A", pa, ka)]
    for name, p, k in order: inside[name].append(chat(p, k))
for name in "AB":
    xs = sorted(inside[name]); print(name, "inside-Bridge ms: p50 %.3f p90 %.3f mean %.3f n=%d" % (statistics.median(xs), xs[int(0.9*len(xs))], statistics.mean(xs), len(xs)))
PY
