#!/usr/bin/env python3
"""Load generator and report for scripts/bench-bridge.sh (standard library only).

  chat    sequential one-token chat completions over one keep-alive connection per target, the targets
          interleaved request by request (A B C A B C …, the order rotated every round) so that drift in
          the network's latency falls on all of them alike; writes
          every latency in ms, and the Server-Timing entries of every response, as JSON.
  models  sequential authenticated GET /v1/models over a keep-alive connection: the per-request floor.
  report  reads the run directories the shell script filled and prints the markdown summary.
"""
import argparse
import glob
import http.client
import json
import os
import random
import re
import statistics
import sys
import time
import urllib.parse


# ----------------------------------------------------------------------------------------------- figures

def percentile(values, q):
    """Nearest-rank percentile (q in 0…1) of a non-empty list."""
    s = sorted(values)
    rank = max(1, -(-len(s) * q // 1))  # ceil(n·q), at least 1
    return s[int(min(len(s), rank)) - 1]


def figures(ms):
    return {"p50": percentile(ms, 0.50), "p99": percentile(ms, 0.99), "mean": statistics.fmean(ms), "n": len(ms)}


def median_halfwidth(x, rounds=2000, seed=1):
    """Half-width of the 95% bootstrap interval of the median of x."""
    rng = random.Random(seed)
    n = len(x)
    meds = sorted(statistics.median([x[rng.randrange(n)] for _ in range(n)]) for _ in range(rounds))
    return (meds[int(0.975 * rounds) - 1] - meds[int(0.025 * rounds)]) / 2


# ------------------------------------------------------------------------------------------------ client

class Target:
    """One keep-alive HTTP/1.1 connection to an OpenAI-compatible server."""

    def __init__(self, name, base, key):
        u = urllib.parse.urlsplit(base)
        self.name, self.host, self.port = name, u.hostname, u.port or 80
        self.prefix = u.path.rstrip("/")
        self.headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json", "Connection": "keep-alive"}
        self.conn = None
        self.reconnects = 0

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        self.conn.connect()

    def request(self, method, path, body=None):
        """(status, headers, body, elapsed ns); the connection is opened before the clock starts."""
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                t0 = time.perf_counter_ns()
                self.conn.request(method, self.prefix + path, body=body, headers=self.headers)
                resp = self.conn.getresponse()
                data = resp.read()
                t1 = time.perf_counter_ns()
                if resp.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, resp.getheaders(), data, t1 - t0
            except (http.client.HTTPException, ConnectionError, OSError):
                # A server may close an idle keep-alive connection; retry once on a fresh one (not timed).
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                self.reconnects += 1
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


def server_timing(headers):
    """{name: dur ms} from a Server-Timing header (`network;dur=512.3, total;dur=512.9`), the server's own or the one
    LiteLLM forwards from its upstream as `llm_provider-server-timing`."""
    out = {}
    for k, v in headers:
        if k.lower() in ("server-timing", "llm_provider-server-timing"):
            for entry in v.split(","):
                parts = [p.strip() for p in entry.split(";")]
                for p in parts[1:]:
                    if p.lower().startswith("dur="):
                        try:
                            out[parts[0].lower()] = float(p[4:])
                        except ValueError:
                            pass
    return out


def header_float(headers, name):
    for k, v in headers:
        if k.lower() == name:
            try:
                return float(v)
            except ValueError:
                return None
    return None


def parse_targets(specs):
    out = []
    for spec in specs:
        name, base, key = spec.split("=", 2) if spec.count("=") >= 2 else (None, None, None)
        if not name:
            sys.exit("--target is NAME=BASE_URL=KEY, got %r" % spec)
        out.append(Target(name, base, key))
    return out


def cmd_chat(args):
    targets = parse_targets(args.target)
    body = json.dumps({
        "model": args.model, "messages": [{"role": "user", "content": args.message}],
        "max_tokens": 1, "temperature": 0,
    }).encode()
    results = {t.name: {"ms": [], "timing": [], "litellm_overhead_ms": []} for t in targets}

    def one(t, record):
        status, headers, data, ns = t.request("POST", "/chat/completions", body)
        if status != 200:
            sys.exit("%s: chat completion answered %d: %s" % (t.name, status, data[:300].decode(errors="replace")))
        reply = json.loads(data)
        if not reply.get("choices"):
            sys.exit("%s: chat completion without choices: %s" % (t.name, data[:300].decode(errors="replace")))
        if record:
            r = results[t.name]
            r["ms"].append(ns / 1e6)
            r["timing"].append(server_timing(headers))
            o = header_float(headers, "x-litellm-overhead-duration-ms")
            if o is not None:
                r["litellm_overhead_ms"].append(o)

    for i in range(args.warmup):
        for t in targets:
            one(t, False)
    for i in range(args.n):
        k = i % len(targets)
        for t in targets[k:] + targets[:k]:
            one(t, True)
        if args.progress and (i + 1) % max(1, args.n // 10) == 0:
            print("  chat %d/%d" % (i + 1, args.n), file=sys.stderr, flush=True)
    for t in targets:
        results[t.name]["reconnects"] = t.reconnects
    json.dump(results, open(args.out, "w"))


def cmd_models(args):
    results = {}
    for t in parse_targets(args.target):
        ms = []
        for i in range(args.warmup + args.n):
            status, _, data, ns = t.request("GET", "/models")
            if status != 200:
                sys.exit("%s: GET /v1/models answered %d: %s" % (t.name, status, data[:300].decode(errors="replace")))
            if i >= args.warmup:
                ms.append(ns / 1e6)
        results[t.name] = {"ms": ms, "reconnects": t.reconnects}
    json.dump(results, open(args.out, "w"))


# ------------------------------------------------------------------------------------------------ report

def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def wrk_figures(text):
    """Requests/s and failures from wrk's output (None when there is no such output)."""
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if not m:
        return None
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    return {
        "rps": float(m.group(1)), "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(x) for x in err.groups()) if err else 0, "requests": int(total.group(1)) if total else 0,
    }


def memory(text):
    """VmRSS and VmHWM in MB (10^6 bytes) from a saved /proc/PID/status (several, summed)."""
    out = {}
    for key in ("VmRSS", "VmHWM"):
        kb = [int(x) for x in re.findall(r"^%s:\s+(\d+) kB" % key, text, re.M)]
        out[key] = sum(kb) * 1024 / 1e6 if kb else None
    return out


def network_line(text):
    """`network p50_ms=… p99_ms=… [mean_ms=…] n=… [samples_ms=a,b,…]` → dict, or None."""
    for line in text.splitlines():
        if line.startswith("network "):
            fields = dict(tok.split("=", 1) for tok in line.split()[1:] if "=" in tok)
            try:
                out = {"p50": float(fields["p50_ms"]), "p99": float(fields["p99_ms"]), "n": int(fields.get("n", 0))}
            except (KeyError, ValueError):
                return None
            out["mean"] = float(fields["mean_ms"]) if "mean_ms" in fields else None
            if "samples_ms" in fields:
                out["samples"] = [float(x) for x in fields["samples_ms"].split(",") if x]
            return out
    return None


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1, unit=""):
    if v is None:
        return "—"
    return ("%." + str(digits) + "f%s") % (v, unit)


def signed(v, digits=1):
    return "—" if v is None else ("%+." + str(digits) + "f") % v


def cmd_report(args):
    runs = sorted(d for d in glob.glob(os.path.join(args.dir, "run-*")) if os.path.isdir(d))
    if not runs:
        sys.exit("no runs under %s" % args.dir)
    meta = read_json(os.path.join(args.dir, "meta.json")) or {}
    per = []
    for d in runs:
        chat = read_json(os.path.join(d, "chat.json")) or {}
        run = {
            "chat": chat, "models": read_json(os.path.join(d, "models.json")) or {},
            "wrk_bridge": wrk_figures(read_text(os.path.join(d, "wrk-bridge.txt"))),
            "wrk_litellm": wrk_figures(read_text(os.path.join(d, "wrk-litellm.txt"))),
            "mem_bridge": memory(read_text(os.path.join(d, "status-bridge.txt"))),
            "mem_litellm": memory(read_text(os.path.join(d, "status-litellm.txt"))),
            "lat": {},
        }
        net = network_line(read_text(os.path.join(d, "network.txt")))
        if net:
            run["lat"]["network"] = net
        for name in ("bridge", "litellm"):
            if (chat.get(name) or {}).get("ms"):
                run["lat"][name] = figures(chat[name]["ms"])
        per.append(run)

    def row(name):
        figs = [r["lat"][name] for r in per if name in r["lat"]]
        if not figs:
            return None
        return {"p50": med(f["p50"] for f in figs), "p99": med(f["p99"] for f in figs),
                "mean": med(f.get("mean") for f in figs), "n": figs[0]["n"]}

    def added(base, top):
        """Median over runs of top − base, p50 and p99 (runs that measured both)."""
        pairs = [(r["lat"][base], r["lat"][top]) for r in per if base in r["lat"] and top in r["lat"]]
        if not pairs:
            return {"p50": None, "p99": None}
        return {k: med(t[k] - b[k] for b, t in pairs) for k in ("p50", "p99")}

    rows = {name: row(name) for name in ("network", "bridge", "litellm")}
    bridge_over, litellm_over = added("network", "bridge"), added("bridge", "litellm")

    # 95% bootstrap half-widths of the p50 differences over the pooled samples of all runs (independent
    # samples: the half-widths add in quadrature). Without the network's samples, its spread is taken as the
    # Bridge's own (marked ≈).
    def pooled(name):
        return [x for r in per for x in (((r["chat"].get(name) or {}).get("ms")) or [])]
    net_samples = [x for r in per if "network" in r["lat"] for x in r["lat"]["network"].get("samples", [])]
    hw = {name: median_halfwidth(pooled(name)) if pooled(name) else None for name in ("bridge", "litellm")}
    hw["network"] = median_halfwidth(net_samples) if net_samples else None
    ci_litellm = (hw["bridge"] ** 2 + hw["litellm"] ** 2) ** 0.5 if hw["bridge"] and hw["litellm"] else None
    ci_bridge, ci_bridge_est = None, False
    if hw["bridge"] is not None and rows["network"]:
        ci_bridge = (hw["bridge"] ** 2 + (hw["network"] if hw["network"] is not None else hw["bridge"]) ** 2) ** 0.5
        ci_bridge_est = hw["network"] is None

    # Per request, from Server-Timing where the Bridge sends it: the Bridge's own time is the response time less
    # the network's part (`network`); LiteLLM's is its response time less the Bridge's whole time (`total`, which
    # LiteLLM forwards as llm_provider-server-timing), less what the direct path spends outside the Bridge's
    # `total` too (the client's hop, its median), so that it is "through LiteLLM − direct" request by request.
    # Used only when every request of every run carries the entries.
    def own_times(name, entry):
        out = []
        for r in per:
            c = r["chat"].get(name) or {}
            timing = c.get("timing") or []
            if not c.get("ms") or len(timing) != len(c["ms"]) or any(entry not in t for t in timing):
                return None
            out.extend(ms - t[entry] for ms, t in zip(c["ms"], timing))
        return out or None
    own = own_times("bridge", "network")
    own_fig = figures(own) if own else None
    lit_own = own_times("litellm", "total")
    direct_hop = own_times("bridge", "total")
    lit_fig = figures([x - statistics.median(direct_hop) for x in lit_own]) if lit_own and direct_hop else None
    lit_self = [x for r in per for x in ((r["chat"].get("litellm") or {}).get("litellm_overhead_ms") or [])]
    lit_self_fig = figures(lit_self) if lit_self else None

    out = []
    w = out.append
    w("## Bridge overhead, %s" % meta.get("date", "?"))
    w("")
    w("%s. %d run(s) of %d sequential one-token chats per side after %d warm-up, Bridge and LiteLLM requests "
      "interleaved; medians of the runs (per-request rows: all runs pooled). Network: `crynux relay --dev --validation-rate 0` and one `crynux node` on "
      "loopback; Bridge: `crynux serve --relay` (remote mode), its own process%s; LiteLLM: %s." % (
          meta.get("machine", "?"), len(per), meta.get("chats", 0), meta.get("warmup", 0),
          ", pinned to core %s" % meta["server_core"] if meta.get("server_core") else "", meta.get("litellm", "not run")))
    w("")
    w("| one-token chat completion | p50 ms | p99 ms | mean ms |")
    w("| --- | ---: | ---: | ---: |")
    labels = [("network", "network alone: SDK client → relay (`crynux bench client`)"),
              ("bridge", "Bridge: client → Bridge → network"),
              ("litellm", "LiteLLM proxy → Bridge")]
    for key, label in labels:
        r = rows[key]
        w("| %s | %s | %s | %s |" % ((label, fmt(r["p50"]), fmt(r["p99"]), fmt(r["mean"])) if r else (label, "not measured", "", "")))
    w("")

    def pm(v, ci, est=False):
        return "" if v is None or ci is None else " (±%s%.1f)" % ("≈" if est else "", ci)
    w("| added latency | p50 ms | p99 ms |")
    w("| --- | ---: | ---: |")
    w("| Bridge over the network alone | %s%s | %s |" % (
        signed(bridge_over["p50"]), pm(bridge_over["p50"], ci_bridge, ci_bridge_est), signed(bridge_over["p99"])))
    w("| LiteLLM over the Bridge | %s%s | %s |" % (
        signed(litellm_over["p50"]), pm(litellm_over["p50"], ci_litellm), signed(litellm_over["p99"])))
    if own_fig:
        w("| Bridge, per request: response time − its Server-Timing `network` | %s | %s |" % (fmt(own_fig["p50"], 3), fmt(own_fig["p99"], 3)))
        if direct_hop:
            # own = (total − network) + (response time − total): inside the Bridge, and the hop to it.
            inside = figures([o - h for o, h in zip(own, direct_hop)])
            w("| … of which inside the Bridge (`total` − `network`) | %s | %s |" % (fmt(inside["p50"], 3), fmt(inside["p99"], 3)))
    if lit_fig:
        w("| LiteLLM, per request: response time − the Bridge's `total` (less the direct path's hop) | %s | %s |" % (
            fmt(lit_fig["p50"], 3), fmt(lit_fig["p99"], 3)))
    if lit_self_fig:
        w("| LiteLLM's self-reported overhead (`x-litellm-overhead-duration-ms`) | %s | %s |" % (fmt(lit_self_fig["p50"], 3), fmt(lit_self_fig["p99"], 3)))
    # The ratio from the per-request figures where both exist, else from the differences of percentiles.
    precise = own_fig is not None and lit_fig is not None
    bridge_p50, bridge_p99 = (own_fig["p50"], own_fig["p99"]) if precise else (bridge_over["p50"], bridge_over["p99"])
    lit_p50, lit_p99 = (lit_fig["p50"], lit_fig["p99"]) if precise else (litellm_over["p50"], litellm_over["p99"])

    def ratio(a, b):
        if a is None or b is None:
            return "—"
        if b <= 0 or a <= 0:
            return "n/a (%s ≤ 0)" % ("Bridge's" if b <= 0 else "LiteLLM's")
        return ("%.0f×" if a / b >= 10 else "%.1f×") % (a / b)
    noisy = not precise and (
        (ci_bridge is not None and bridge_p50 is not None and abs(bridge_p50) <= ci_bridge) or
        (ci_litellm is not None and lit_p50 is not None and abs(lit_p50) <= ci_litellm))
    w("| ratio LiteLLM / Bridge%s | %s | %s |" % (
        " (per-request figures)" if precise else " (within noise: a difference is inside its ±)" if noisy else "",
        ratio(lit_p50, bridge_p50), ratio(lit_p99, bridge_p99)))
    w("")

    wb = med(r["wrk_bridge"]["rps"] for r in per if r["wrk_bridge"])
    wl = med(r["wrk_litellm"]["rps"] for r in per if r["wrk_litellm"])
    bad = sum((r[k] or {}).get("non2xx", 0) + (r[k] or {}).get("socket_errors", 0) for r in per for k in ("wrk_bridge", "wrk_litellm"))

    def models_fig(name, k):
        return med(figures(r["models"][name]["ms"])[k] for r in per if (r["models"].get(name) or {}).get("ms"))
    w("| authenticated `GET /v1/models` | requests/s (%s) | one at a time: p50 ms | p99 ms |" % meta.get("wrk", "wrk"))
    w("| --- | ---: | ---: | ---: |")
    w("| Bridge | %s | %s | %s |" % (fmt(wb, 0), fmt(models_fig("bridge", "p50"), 3), fmt(models_fig("bridge", "p99"), 3)))
    if wl is not None or models_fig("litellm", "p50") is not None:
        w("| LiteLLM proxy | %s | %s | %s |" % (fmt(wl, 0), fmt(models_fig("litellm", "p50"), 3), fmt(models_fig("litellm", "p99"), 3)))
        if wb and wl:
            w("| ratio Bridge / LiteLLM | %.0f× | | |" % (wb / wl))
    w("")
    mb = {k: med(r["mem_bridge"][k] for r in per) for k in ("VmRSS", "VmHWM")}
    ml = {k: med(r["mem_litellm"][k] for r in per) for k in ("VmRSS", "VmHWM")}
    w("| resident memory after the runs | VmRSS MB | VmHWM (peak) MB |")
    w("| --- | ---: | ---: |")
    w("| Bridge process | %s | %s |" % (fmt(mb["VmRSS"]), fmt(mb["VmHWM"])))
    if ml["VmRSS"] is not None:
        w("| LiteLLM proxy process | %s | %s |" % (fmt(ml["VmRSS"]), fmt(ml["VmHWM"])))
    w("")

    if own_fig:
        g1 = ("met" if own_fig["p50"] <= 1 else "not met") + " (%.3f ms, from Server-Timing)" % own_fig["p50"]
    elif bridge_over["p50"] is None:
        g1 = "not measured (no network-alone baseline in this build)"
    elif ci_bridge is not None and ci_bridge > 1:
        g1 = "not resolved by subtraction: %+.1f ms ± %.1f ms" % (bridge_over["p50"], ci_bridge)
    else:
        g1 = ("met" if bridge_over["p50"] <= 1 else "not met") + " (%+.1f ms)" % bridge_over["p50"]
    g2 = "not measured" if wb is None else ("met" if wb >= 20000 else "not met") + " (%.0f)" % wb
    g3 = "not measured" if mb["VmHWM"] is None else ("met" if mb["VmHWM"] < 60 else "not met") + " (peak %.1f MB)" % mb["VmHWM"]
    w("Goals: added p50 ≤ 1 ms: %s; ≥ 20 000 authenticated `GET /v1/models`/s: %s; Bridge < 60 MB resident: %s." % (g1, g2, g3))
    if hw["bridge"] is not None:
        w("")
        w("Resolution: the p50 of the Bridge's %d chats is known to ±%.1f ms (95%% bootstrap); a difference of two "
          "such medians carries about √2 times that." % (len(pooled("bridge")), hw["bridge"]))
    if bad:
        w("")
        w("**wrk saw %d non-2xx responses or socket errors: its requests/s are not clean.**" % bad)
    for n in meta.get("notes") or []:
        w("")
        w("Note: " + n)
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if args.save:
        os.makedirs(os.path.dirname(args.save) or ".", exist_ok=True)
        with open(args.save, "w") as f:
            f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("chat")
    c.add_argument("--target", action="append", required=True, help="NAME=BASE_URL=KEY (BASE_URL ends in /v1)")
    c.add_argument("--n", type=int, default=200)
    c.add_argument("--warmup", type=int, default=10)
    c.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    c.add_argument("--message", default="What is 2+2?")
    c.add_argument("--progress", action="store_true")
    c.add_argument("--out", required=True)
    m = sub.add_parser("models")
    m.add_argument("--target", action="append", required=True)
    m.add_argument("--n", type=int, default=2000)
    m.add_argument("--warmup", type=int, default=200)
    m.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    r.add_argument("--save")
    args = p.parse_args()
    {"chat": cmd_chat, "models": cmd_models, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    main()
