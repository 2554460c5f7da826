#!/usr/bin/env python3
"""The competitor: jinja2 configured exactly as transformers renders chat templates (the environment of
scripts/gen-jinja-features.py). Prints one JSON line of medians in microseconds, like template-bench.
Usage: template_bench.py TEMPLATE CONVERSATION [ITERATIONS]
"""
import importlib.util
import json
import os
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "..", "scripts", "gen-jinja-features.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

source = open(sys.argv[1], encoding="utf-8").read()
conversation = json.load(open(sys.argv[2], encoding="utf-8"))
iterations = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
messages = [{k: v for k, v in m.items() if v is not None} for m in conversation["messages"]]

compile_times = []
template = None
for _ in range(max(1, iterations // 10)):  # jinja2 compiles to Python bytecode: slow, so fewer rounds
    t = time.perf_counter_ns()
    template = gen.env.from_string(source)
    compile_times.append(time.perf_counter_ns() - t)
render_times = []
out = ""
for _ in range(iterations):
    t = time.perf_counter_ns()
    out = template.render(messages=messages, tools=conversation["tools"], documents=None, add_generation_prompt=True,
                          bos_token="", eos_token="<|im_end|>")
    render_times.append(time.perf_counter_ns() - t)
print(json.dumps({"impl": "jinja2 %s (transformers setup)" % gen.jinja2.__version__,
                  "compile_us": statistics.median(compile_times) / 1000, "render_us": statistics.median(render_times) / 1000,
                  "output_bytes": len(out.encode())}))
