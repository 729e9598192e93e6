#!/usr/bin/env python3
"""`ebb metrics` against Debian's real Prometheus, scraping the same live
targets: two `ebb engine` replicas whose load changes between phases, one
stopped mid-test. Both scrape every second; at chosen times (when the
engines have been steady for longer than every query's window, so both
hold the same values whatever their scrape phase) a fixed list of queries —
the tutorial's, the Grafana dashboard's (vllm-stack-spec.md §2) and edge
cases: counter rates, histogram quantiles, missing series, staleness after
a target stops — is evaluated by both at the same timestamp, and the answers
must agree: the same series, values within floating-point tolerance."""
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse

from ebbtest import Engine, Process, check, done, free_port, request, stream, wait_until

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
WINDOW = 10  # seconds: the longest range in the queries below
tmp = tempfile.mkdtemp(prefix="ebb-metrics-diff-")

e0 = Engine(ebb, "--time-scale", "20")
e1 = Engine(ebb, "--time-scale", "20")
targets = [f"127.0.0.1:{e0.port}", f"127.0.0.1:{e1.port}"]

prom_port = free_port()
with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
    f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: ebb\n    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n")
prom = Process(["prometheus", f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{prom_port}"], name="prometheus")
ebb_port = free_port()
mine = Process([ebb, "metrics", "--port", str(ebb_port), "--job", "ebb"] +
               sum((["--scrape", f"http://{t}/metrics"] for t in targets), []), name="ebb-metrics")


def api(port, path, **params):
    status, _, body = request("GET", port, f"{path}?{urllib.parse.urlencode(params)}")
    return status, json.loads(body)


wait_until(lambda: request("GET", prom_port, "/-/ready")[0] == 200, 60, interval=0.2, what="Prometheus")
wait_until(lambda: request("GET", ebb_port, "/-/ready")[0] == 200, 20, interval=0.1, what="ebb metrics")

QUERIES = [
    # the tutorial's
    "vllm:num_requests_waiting",
    "sum(vllm:num_requests_waiting)",
    "sum(rate(vllm:num_requests_waiting[10s]) > bool 0)",
    # Grafana-dashboard shapes (vllm-stack-spec.md §2)
    "sum by (instance) (vllm:num_requests_running)",
    "rate(vllm:prompt_tokens_total[10s])",
    "sum(increase(vllm:generation_tokens_total[10s]))",
    "histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[10s])))",
    "avg(vllm:kv_cache_usage_perc)",
    "vllm:request_success_total",
    "sum by (finished_reason) (vllm:request_success_total)",
    # functions and operators
    "max_over_time(vllm:num_requests_waiting[10s])",
    "avg_over_time(vllm:num_requests_running[10s])",
    "count(up)",
    "up",
    "up == 0",
    "vllm:num_requests_waiting > bool 3",
    "vllm:num_requests_waiting > 3",
    # which of tied series topk keeps follows each one's internal order
    "count(topk(1, vllm:num_requests_waiting))",
    "sum(topk(1, vllm:num_requests_waiting))",
    "clamp_max(vllm:num_requests_waiting, 2)",
    "vllm:prompt_tokens_total - vllm:prompt_tokens_total offset 5s",
    "irate(vllm:generation_tokens_total[10s])",
    "delta(vllm:num_requests_waiting[10s])",
    # how many scrapes fall in a window depends on the scrape phase: 9 or 10
    "count_over_time(up[10s]) > bool 5",
    "vllm:num_requests_waiting / on(instance) vllm:num_requests_running",
    "absent(vllm:no_such_metric)",
    "absent(up)",
    "scalar(sum(up))",
    "vector(1) + 1",
    "vllm:no_such_metric",
]


def same_value(a, b):
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return fa == fb or abs(fa - fb) <= 1e-9 * max(abs(fa), abs(fb))


def compare(t, phase):
    bad = []
    for q in QUERIES:
        s1, a = api(prom_port, "/api/v1/query", query=q, time=f"{t:.3f}")
        s2, b = api(ebb_port, "/api/v1/query", query=q, time=f"{t:.3f}")
        if s1 != s2 or a["status"] != b["status"]:
            bad.append((q, "status", s1, s2, a, b))
            continue
        if a["status"] != "success":
            continue
        da, db = a["data"], b["data"]
        if da["resultType"] != db["resultType"]:
            bad.append((q, "type", da["resultType"], db["resultType"]))
            continue
        if da["resultType"] == "scalar":
            if not same_value(da["result"][1], db["result"][1]):
                bad.append((q, da["result"], db["result"]))
            continue
        ra = {json.dumps(r["metric"], sort_keys=True): r["value"][1] for r in da["result"]}
        rb = {json.dumps(r["metric"], sort_keys=True): r["value"][1] for r in db["result"]}
        if ra.keys() != rb.keys() or any(not same_value(ra[k], rb[k]) for k in ra):
            bad.append((q, ra, rb))
    check(f"{phase}: {len(QUERIES)} queries agree with Prometheus at the same time", not bad,
          json.dumps(bad, indent=1)[:4000])


def steady_then_compare(phase):
    # Long enough for every window to hold only the steady values, and for
    # both to have scraped them at least twice.
    time.sleep(WINDOW + 3)
    compare(time.time() - 1, phase)


try:
    # Phase 1: idle engines.
    wait_until(lambda: api(prom_port, "/api/v1/query", query="up")[1]["data"]["result"], 30, interval=0.2,
               what="Prometheus's first scrape")
    steady_then_compare("idle")

    # Phase 2: traffic done, then a queue held at engine 0 (asleep), engine 1 idle.
    for i in range(6):
        stream(e1.port, "/v1/completions", {"model": MODEL, "prompt": f"hello {i}", "max_tokens": 8,
                                            "stream": True})
    request("POST", e0.port, "/sleep?level=1")
    held = [threading.Thread(target=stream, args=(e0.port, "/v1/completions", {
        "model": MODEL, "prompt": f"queued {i}", "max_tokens": 4, "stream": True}), daemon=True)
        for i in range(7)]
    for h in held:
        h.start()
    wait_until(lambda: [r for r in api(ebb_port, "/api/v1/query", query="vllm:num_requests_waiting")[1]
                        ["data"]["result"] if r["value"][1] == "7"], 20, interval=0.2, what="a queue of 7")
    steady_then_compare("a queue of 7 at one engine, counters moved")

    # Phase 3: engine 1 stops: its series go stale in both, up becomes 0.
    e1.stop()
    steady_then_compare("one target stopped (staleness)")
    _, r = api(ebb_port, "/api/v1/query", query="vllm:num_requests_running")
    check("the stopped engine's series are gone, not stuck at their last value",
          len(r["data"]["result"]) == 1, r)

    # A range query over the whole test agrees too (step 5 s, aligned).
    end = time.time() - 1
    start = end - 20
    for q in ["sum(vllm:num_requests_waiting)", "up"]:
        a = api(prom_port, "/api/v1/query_range", query=q, start=f"{start:.3f}", end=f"{end:.3f}", step="5")[1]
        b = api(ebb_port, "/api/v1/query_range", query=q, start=f"{start:.3f}", end=f"{end:.3f}", step="5")[1]
        ra = {json.dumps(r["metric"], sort_keys=True): r["values"] for r in a["data"]["result"]}
        rb = {json.dumps(r["metric"], sort_keys=True): r["values"] for r in b["data"]["result"]}
        # Points in the seconds right after a change may differ with the
        # scrape phase; compare only points both hold with the same value
        # count, and require most to agree.
        agree = sum(1 for k in ra if k in rb for pa, pb in zip(ra[k], rb[k]) if pa == pb)
        total = sum(len(v) for v in ra.values())
        check(f"range query {q}: the same series, {agree} of {total} points equal",
              ra.keys() == rb.keys() and agree >= total - 2 * len(ra), (ra, rb))
    request("POST", e0.port, "/wake_up")
finally:
    code = mine.stop()
    prom.stop()
    shutil.rmtree(tmp, ignore_errors=True)
out = mine.output()
check("ebb metrics exits 0, sanitizers quiet", code == 0 and not any(
    s in out for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:")), out[-2000:])
e0.stop()
done()
