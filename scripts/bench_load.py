#!/usr/bin/env python3
"""Closed-loop load generator and report for scripts/bench-load.sh (standard library only).

For each concurrency level C and each target (crynux serve's Bridge, llama-server, or just one of them), C threads
each send non-streamed POST /v1/chat/completions back to back over their own keep-alive connection until REQUESTS
requests (default max(24, 6·C)) have been issued and answered; before that, each thread sends one warm-up request
that is not counted. Every target gets the same prompts in the same issue order (a fixed list of 32 short
questions, round robin). The order of the targets alternates by level and by run, so drift falls on both.
Figures per (target, level): requests/s and generated tokens/s (over the wall time from the first send to the last
completion), p50 and p99 latency (nearest rank), errors; RUNS sweeps, reported as medians, with every run's raw
figures in --out-json.

  scripts/bench_load.py --crynux http://127.0.0.1:8080/v1 --crynux-key-file DIR/serve/first-api-key \\
      --llama http://127.0.0.1:8081/v1 --levels 1 4 8 16 --runs 3
  scripts/bench_load.py --llama http://127.0.0.1:8081/v1 --levels 1 4 --requests 8 --runs 1   # one target only
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"

PROMPTS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "How many legs does a spider have?",
    "What is the boiling point of water in Celsius?",
    "Who wrote Romeo and Juliet?",
    "What is the largest planet in our solar system?",
    "Give me a synonym for happy.",
    "What is 12 times 12?",
    "Which ocean is the largest?",
    "What language is spoken in Brazil?",
    "Name a fruit that is yellow.",
    "How many days are in a leap year?",
    "What gas do plants absorb from the air?",
    "What is the opposite of cold?",
    "Who painted the Mona Lisa?",
    "What is the chemical symbol for gold?",
    "How many continents are there?",
    "What is the square root of 81?",
    "Name a musical instrument with strings.",
    "What is the fastest land animal?",
    "In which country are the pyramids of Giza?",
    "What do bees make?",
    "How many minutes are in an hour?",
    "What is the freezing point of water in Fahrenheit?",
    "Name an animal that lives in the sea.",
    "What color is the sky on a clear day?",
    "What is the main ingredient of bread?",
    "Which planet is known as the red planet?",
    "Translate 'thank you' into Spanish.",
    "What is the tallest mountain on Earth?",
    "How many sides does a hexagon have?",
    "Suggest a name for a pet cat.",
]
assert len(PROMPTS) == 32 and len(set(PROMPTS)) == 32

CRYNUX, LLAMA = "crynux serve", "llama-server"


# ----------------------------------------------------------------------------------------------- figures

def percentile(values, q):
    """Nearest-rank percentile (q in 0…1) of a non-empty list."""
    s = sorted(values)
    rank = max(1, -(-len(s) * q // 1))  # ceil(n·q), at least 1
    return s[int(min(len(s), rank)) - 1]


def median_or_nan(values):
    """Median of the values that are not None; NaN when there are none."""
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else float("nan")


def ratio(a, b):
    """a / b, NaN when either is missing or b is 0."""
    return a / b if a == a and b == b and b else float("nan")


# ------------------------------------------------------------------------------------------------ client

class Target:
    """An OpenAI-compatible server: name, host, port, path prefix and request headers."""

    def __init__(self, name, base, key):
        u = urllib.parse.urlsplit(base)
        self.name, self.host, self.port = name, u.hostname, u.port or 80
        self.prefix = u.path.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        if key:
            self.headers["Authorization"] = "Bearer " + key


def chat_body(prompt, max_tokens):
    """The JSON body of one non-streamed chat completion."""
    return json.dumps({"model": MODEL, "messages": [{"role": "user", "content": prompt}],
                       "temperature": 0, "max_tokens": max_tokens}).encode()


class Client:
    """One thread's keep-alive HTTP/1.1 connection to a target."""

    def __init__(self, target, timeout):
        self.target, self.timeout, self.conn = target, timeout, None

    def close(self):
        """Closes the connection, if open."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def chat(self, body):
        """(send time, done time, completion tokens, error text or None); never raises."""
        t = self.target
        if self.conn is None:
            try:
                self.conn = http.client.HTTPConnection(t.host, t.port, timeout=self.timeout)
                self.conn.connect()
            except OSError as e:
                self.close()
                now = time.perf_counter()
                return now, now, 0, "connect: %s" % e
        t0 = time.perf_counter()
        try:
            self.conn.request("POST", t.prefix + "/chat/completions", body=body, headers=t.headers)
            resp = self.conn.getresponse()
            data = resp.read()
            t1 = time.perf_counter()
            if resp.getheader("connection", "").lower() == "close":
                self.close()
        except (http.client.HTTPException, OSError) as e:
            self.close()
            return t0, time.perf_counter(), 0, "%s: %s" % (type(e).__name__, e)
        if resp.status != 200:
            return t0, t1, 0, "HTTP %d: %s" % (resp.status, data[:200].decode(errors="replace"))
        try:
            reply = json.loads(data)
            tokens = int((reply.get("usage") or {}).get("completion_tokens") or 0)
            if not reply.get("choices"):
                return t0, t1, tokens, "no choices: %s" % data[:200].decode(errors="replace")
        except (ValueError, AttributeError) as e:
            return t0, t1, 0, "bad JSON: %s" % e
        return t0, t1, tokens, None


def wait_ready(target, max_tokens, timeout_s):
    """Sends one chat completion until one answers 200 (a Bridge's /health is up before its node is); exits on timeout."""
    client = Client(target, timeout=120)
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        _, _, _, error = client.chat(chat_body(PROMPTS[0], max_tokens))
        if error is None:
            client.close()
            return
        last = error
        time.sleep(1)
    client.close()
    sys.exit("%s: not answering chat completions after %ds (last: %s)" % (target.name, timeout_s, last))


# ------------------------------------------------------------------------------------------------- load

def load(target, concurrency, requests, max_tokens, timeout):
    """One closed-loop measurement of `requests` requests from `concurrency` threads, after one warm-up request each."""
    bodies = [chat_body(p, max_tokens) for p in PROMPTS]
    lock = threading.Lock()
    next_index = [0]
    samples = []  # (send, done, tokens, error)
    start = threading.Barrier(concurrency)

    def worker(k):
        client = Client(target, timeout)
        client.chat(bodies[k % len(bodies)])  # warm-up: connects too; not counted, its errors ignored
        start.wait()
        while True:
            with lock:
                i = next_index[0]
                if i >= requests:
                    break
                next_index[0] = i + 1
            r = client.chat(bodies[i % len(bodies)])
            with lock:
                samples.append(r)
        client.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [s for s in samples if s[3] is None]
    errors = [s[3] for s in samples if s[3] is not None]
    row = {"requests": len(samples), "ok": len(ok), "errors": len(errors), "error_samples": sorted(set(errors))[:5]}
    if ok:
        wall = max(s[1] for s in ok) - min(s[0] for s in ok)
        ms = [(s[1] - s[0]) * 1000 for s in ok]
        tokens = sum(s[2] for s in ok)
        row.update({"wall_s": wall, "req_s": len(ok) / wall if wall > 0 else None,
                    "p50_ms": percentile(ms, 0.50), "p99_ms": percentile(ms, 0.99),
                    "completion_tokens": tokens, "tok_s": tokens / wall if wall > 0 else None,
                    "latencies_ms": [round(x, 1) for x in ms]})
    else:
        row.update({"wall_s": None, "req_s": None, "p50_ms": None, "p99_ms": None, "completion_tokens": 0, "tok_s": None,
                    "latencies_ms": []})
    return row


# ------------------------------------------------------------------------------------------------ report

def clean(x):
    """x with every NaN replaced by None (for strict JSON)."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x


def fmt(x, digits=1):
    """A number for the table; '–' for NaN/None."""
    return "–" if x is None or x != x else "%.*f" % (digits, x)


def summarize(raw, names, levels):
    """{level: {name: {req_s, p50_ms, p99_ms, tok_s (medians over runs), errors (sum)}}}."""
    out = {}
    for c in levels:
        out[c] = {}
        for n in names:
            rows = [run[str(c)][n] for run in raw]
            out[c][n] = {k: median_or_nan([r[k] for r in rows]) for k in ("req_s", "p50_ms", "p99_ms", "tok_s")}
            out[c][n]["errors"] = sum(r["errors"] for r in rows)
            out[c][n]["requests"] = sum(r["requests"] for r in rows)
    return out


def print_report(summary, names, levels, args):
    """The markdown table and the goal checks."""
    both = CRYNUX in names and LLAMA in names
    print()
    print("%d run(s), medians; non-streamed chat, max_tokens %d, temperature 0, %s; REQUESTS %s per level" % (
        args.runs, args.max_tokens, MODEL, args.requests or "max(24, 6·C)"))
    head = ["C"]
    for label in ("req/s", "p50 ms", "p99 ms", "tok/s"):
        head += ["%s %s" % (short(n), label) for n in names]
    if both:
        head += ["req/s crynux/llama", "p50 crynux/llama"]
    head += ["%s errors" % short(n) for n in names]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---:" for _ in head) + "|")
    for c in levels:
        s = summary[c]
        cells = [str(c)]
        for key, digits in (("req_s", 2), ("p50_ms", 0), ("p99_ms", 0), ("tok_s", 1)):
            cells += [fmt(s[n][key], digits) for n in names]
        if both:
            cells += [fmt(ratio(s[CRYNUX]["req_s"], s[LLAMA]["req_s"]), 2), fmt(ratio(s[CRYNUX]["p50_ms"], s[LLAMA]["p50_ms"]), 2)]
        cells += ["%d of %d" % (s[n]["errors"], s[n]["requests"]) if s[n]["errors"] else "0" for n in names]
        print("| " + " | ".join(cells) + " |")
    print()
    if both:
        if 8 in summary:
            tr = ratio(summary[8][CRYNUX]["req_s"], summary[8][LLAMA]["req_s"])
            pr = ratio(summary[8][CRYNUX]["p50_ms"], summary[8][LLAMA]["p50_ms"])
            print("goal at C=8: throughput ratio %s ≥ 1.0 %s; p50 ratio %s ≤ 1.5 %s" % (
                fmt(tr, 3), mark(tr >= 1.0), fmt(pr, 3), mark(pr <= 1.5)))
        else:
            print("goal at C=8: not measured (LEVELS has no 8)")
    if CRYNUX in names:
        series = [summary[c][CRYNUX]["req_s"] for c in levels]
        rising = all(b >= a for a, b in zip(series, series[1:]))
        print("goal crynux req/s never falls as concurrency rises: %s %s" % (
            ", ".join("C=%d %s" % (c, fmt(x, 3)) for c, x in zip(levels, series)), mark(rising)))


def short(name):
    """Column prefix of a target."""
    return {CRYNUX: "crynux", LLAMA: "llama"}.get(name, name)


def mark(ok):
    """PASS/FAIL text."""
    return "PASS" if ok else "FAIL"


# -------------------------------------------------------------------------------------------------- main

def main():
    """Parses the arguments, runs the sweeps, prints the report and writes the JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--crynux", help="crynux serve's base URL, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--crynux-key-file", help="file holding the Bridge's API key (DATA_DIR/first-api-key)")
    p.add_argument("--llama", help="llama-server's base URL, e.g. http://127.0.0.1:8081/v1 (no key)")
    p.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8, 16], help="concurrency levels")
    p.add_argument("--requests", type=int, default=0, help="measured requests per (target, level); 0: max(24, 6·C)")
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--runs", type=int, default=3, help="repeats of the whole sweep")
    p.add_argument("--timeout", type=float, default=300, help="seconds per request")
    p.add_argument("--ready-timeout", type=int, default=300, help="seconds to wait for a first 200 from each target")
    p.add_argument("--out-json", help="write the settings, per-run raw figures and medians here")
    args = p.parse_args()
    if args.runs < 1 or args.requests < 0 or args.max_tokens < 1 or not args.levels or min(args.levels) < 1:
        p.error("--runs, --max-tokens and --levels must be ≥ 1, --requests ≥ 0")

    targets = []
    if args.crynux:
        key = open(args.crynux_key_file).read().strip() if args.crynux_key_file else ""
        targets.append(Target(CRYNUX, args.crynux, key))
    if args.llama:
        targets.append(Target(LLAMA, args.llama, ""))
    if not targets:
        p.error("give --crynux and/or --llama")
    names = [t.name for t in targets]
    for t in targets:
        wait_ready(t, args.max_tokens, args.ready_timeout)

    raw = []
    for run in range(args.runs):
        per_level = {}
        for li, c in enumerate(args.levels):
            n = args.requests or max(24, 6 * c)
            order = targets if (li + run) % 2 == 0 else targets[::-1]
            per_level[str(c)] = {}
            for t in order:
                row = load(t, c, n, args.max_tokens, args.timeout)
                row["position"] = order.index(t)
                per_level[str(c)][t.name] = row
                print("run %d/%d C=%-3d %-13s %6s req/s  p50 %6s ms  p99 %6s ms  %7s tok/s  errors %d/%d%s" % (
                    run + 1, args.runs, c, t.name, fmt(row["req_s"], 2), fmt(row["p50_ms"], 0), fmt(row["p99_ms"], 0),
                    fmt(row["tok_s"], 1), row["errors"], row["requests"],
                    ("  e.g. " + row["error_samples"][0]) if row["error_samples"] else ""), file=sys.stderr, flush=True)
        raw.append(per_level)

    summary = summarize(raw, names, args.levels)
    print_report(summary, names, args.levels, args)
    if args.out_json:
        with open(args.out_json, "w") as f:
            json.dump({"settings": {"model": MODEL, "levels": args.levels, "requests": args.requests or "max(24, 6*C)",
                                    "max_tokens": args.max_tokens, "runs": args.runs, "targets": names,
                                    "prompts": PROMPTS},
                       "runs": raw,
                       "medians": clean({str(c): v for c, v in summary.items()})}, f, indent=1)
        print("raw figures: %s" % args.out_json)


if __name__ == "__main__":
    main()
