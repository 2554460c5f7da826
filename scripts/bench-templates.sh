#!/usr/bin/env bash
# Chat-template speed: crynux-swift vs jinja2 (transformers' renderer), same template, same conversation,
# same machine, in one run. Each side is run RUNS times; every run prints medians over ITERATIONS renders.
# Usage: scripts/bench-templates.sh [TEMPLATE] [RUNS] [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
template=${1:-Tests/CrynuxSDKTests/Fixtures/chat-templates/Qwen-Qwen3-0.6B.jinja}
runs=${2:-5}
iterations=${3:-2000}
conversation=Benchmarks/conversation-20.json
python3 -c "import jinja2" 2>/dev/null || pip install -q "jinja2==3.1.6"
swift build -c release --package-path Benchmarks/TemplateBench >/dev/null
bin=$(swift build -c release --package-path Benchmarks/TemplateBench --show-bin-path)/template-bench
# Both must produce the same prompt before their speed means anything.
swift_len=$("$bin" "$template" "$conversation" 3 | python3 -c "import json,sys; print(json.load(sys.stdin)['output_bytes'])")
py_len=$(python3 Benchmarks/template_bench.py "$template" "$conversation" 3 | python3 -c "import json,sys; print(json.load(sys.stdin)['output_bytes'])")
[ "$swift_len" = "$py_len" ] || { echo "outputs differ in length ($swift_len vs $py_len)" >&2; exit 1; }
echo "template: $template ($(wc -c <"$template") bytes), conversation: 20 messages with tools, prompt: $swift_len bytes"
for i in $(seq "$runs"); do
  "$bin" "$template" "$conversation" "$iterations"
  python3 Benchmarks/template_bench.py "$template" "$conversation" "$iterations"
done | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
by = {}
for r in rows: by.setdefault(r["impl"], []).append(r)
print("%-40s %14s %14s" % ("implementation (median of runs)", "compile µs", "render µs"))
med = {}
for impl, rs in by.items():
    c = statistics.median(r["compile_us"] for r in rs); r_ = statistics.median(r["render_us"] for r in rs)
    med[impl] = (c, r_)
    print("%-40s %14.1f %14.1f" % (impl, c, r_))
s = [v for k, v in med.items() if k == "crynux-swift"][0]
p = [v for k, v in med.items() if k != "crynux-swift"][0]
print("speed-up vs jinja2: compile %.1fx, render %.1fx" % (p[0] / s[0], p[1] / s[1]))
'
