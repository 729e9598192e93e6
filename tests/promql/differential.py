#!/usr/bin/env python3
"""Differential test: ebb's PromQL against Debian's Prometheus 2.42.

The same samples (deterministic, seeded) are backfilled into a Prometheus
TSDB with promtool and loaded into ebb's store (promql_file); both answer
the same /api/v1 requests, instant queries at aligned and unaligned times,
range queries with several steps, series/labels/values and errors. The
answers must be equal byte for byte, except that an instant vector's
series may come in any order (Prometheus gives them none) and that the
transcendental functions (exp, logarithms, trigonometry, ^), computed with glibc's
libm here and Go's math there, may differ in the last binary digit.

Skipped (exit 77) when prometheus or promtool is not installed."""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from ebbtest import Process, check, done, free_port, wait_until  # noqa: E402

if not shutil.which("prometheus") or not shutil.which("promtool"):
    print("skip: prometheus or promtool not installed")
    sys.exit(77)

promql_file = sys.argv[1]
T0 = 1700000000
N = 121  # 30 minutes of 15 s scrapes


def samples():
    rnd = random.Random(7)
    out = []

    def series(name, labels, vals):
        ls = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        out.extend(f"{name}{{{ls}}} {v!r} {T0 + i * 15}" for i, v in enumerate(vals) if v is not None)

    for inst in "abc":
        v, vals = 0, []
        for i in range(N):
            v = 0 if (inst == "b" and i == 60) else v + rnd.randint(0, 20)
            vals.append(None if inst == "c" and 40 <= i < 60 else v)
        series("http_requests_total", {"instance": inst, "job": "api"}, vals)
        series("queue_depth", {"instance": inst},
               [rnd.choice([0, 1, 2.5, 7, -3, 1e-7, 123456.789]) for _ in range(N)])
        series("rnd", {"instance": inst},
               [rnd.choice([rnd.uniform(-1, 1), rnd.uniform(-1e6, 1e6), rnd.lognormvariate(0, 5), 0.5, 3.0])
                for _ in range(N)])
        counts = [0, 0, 0, 0]
        bucket_vals = {le: [] for le in ("0.1", "0.5", "1", "+Inf")}
        for i in range(N):
            x = rnd.randint(0, 3)
            counts = [c + (rnd.randint(0, 3) if k >= x else 0) for k, c in enumerate(counts)]
            for k, le in enumerate(bucket_vals):
                bucket_vals[le].append(sum(counts[:k + 1]))
        for le, vals in bucket_vals.items():
            series("latency_seconds_bucket", {"instance": inst, "le": le}, vals)
    return out


QUERIES = """
http_requests_total
http_requests_total offset 1m
http_requests_total offset -2m
rate(http_requests_total[1m])
rate(http_requests_total[5m])
rate(http_requests_total[45s])
increase(http_requests_total[2m])
increase(http_requests_total[30m])
irate(http_requests_total[1m])
delta(queue_depth[2m])
idelta(queue_depth[1m])
sum(rate(http_requests_total[1m]))
sum by (instance) (rate(http_requests_total[5m]))
sum(rate(http_requests_total[1m]) > bool 0)
sum without (job) (rate(http_requests_total[1m]))
avg(queue_depth)
avg by (instance) (rnd)
max(queue_depth) / min(queue_depth)
count(queue_depth > 1)
topk(2, queue_depth)
bottomk(1, rate(http_requests_total[1m]))
quantile(0.3, rnd)
stddev(rnd)
stdvar(rate(http_requests_total[1m]))
group(queue_depth)
histogram_quantile(0.95, sum by (le) (rate(latency_seconds_bucket[1m])))
histogram_quantile(0.5, rate(latency_seconds_bucket[5m]))
histogram_quantile(0.99, sum by (le, instance) (increase(latency_seconds_bucket[2m])))
avg_over_time(rnd[2m])
sum_over_time(rnd[5m])
min_over_time(queue_depth[5m])
max_over_time(queue_depth[5m])
count_over_time(http_requests_total[5m])
stddev_over_time(rnd[5m])
stdvar_over_time(queue_depth[5m])
quantile_over_time(0.9, rnd[5m])
last_over_time(queue_depth[5m])
present_over_time(http_requests_total[1m])
changes(queue_depth[5m])
resets(http_requests_total[30m])
abs(rnd)
clamp(rnd, -0.5, 0.5)
clamp_min(queue_depth, 2)
clamp_max(queue_depth, 2)
round(rnd, 0.01)
ceil(rnd)
floor(rnd)
sqrt(rnd)
exp(queue_depth)
ln(rnd)
log2(rnd)
log10(rnd)
sgn(rnd)
sin(rnd)
atan(rnd)
deg(rnd)
absent(nonexistent{job="x"})
absent(http_requests_total)
absent_over_time(nonexistent[1m])
vector(time())
scalar(sum(queue_depth))
time()
http_requests_total / ignoring(job) queue_depth
rate(http_requests_total[1m]) / on(instance) group_left queue_depth
queue_depth * on(instance) group_right http_requests_total
http_requests_total * on(instance) group_left(le) latency_seconds_bucket{le="+Inf"}
queue_depth > 2
2 < queue_depth
queue_depth == bool 7
queue_depth and on(instance) http_requests_total
queue_depth or on(instance) rate(http_requests_total[1m])
queue_depth unless on(instance) http_requests_total{instance="c"}
-queue_depth
rnd ^ 2
rnd % 0.3
rnd atan2 2
1 - queue_depth
sort_desc(queue_depth)
1 / 3
1e-8 * 3
"hello"
http_requests_total[1m]
latency_seconds_bucket{le=~"0.*", instance!="a"}
{__name__=~"queue.*|http.*", instance="b"}
deriv(rnd[5m])
predict_linear(http_requests_total[5m], 3600)
timestamp(http_requests_total offset 1m)
timestamp((rnd))
timestamp(sum(rnd))
count_values("v", queue_depth)
count_values by (instance) ("v", queue_depth * 0.1)
hour(rnd)
day_of_week(rnd * 1000)
days_in_month(queue_depth * 1e6)
year(rnd * 1e12)
minute()
topk(0, rnd) - on() rnd
rnd - on() topk(0, rnd)
clamp(-(rnd * 0), 0, 1)
rnd + on() rnd
"""

LIBM = ("exp(", "ln(", "log2(", "log10(", "sin(", "atan(", "rnd ^", "sqrt(")


def requests():
    qs = [q for q in QUERIES.strip().split("\n") if q]
    out = []
    for q in qs:
        for t in (T0 + 900, T0 + 907.5, T0 + 1800, T0 + 2100, T0 + 60, T0 + 1234.567):
            out.append(("/api/v1/query", {"query": q, "time": str(t)}))
    for q in qs[:40]:
        if "[1m]" not in q and q.endswith("]"):
            continue
        for s, e, st in ((T0, T0 + 1800, 60), (T0 - 300, T0 + 2400, 37), (T0 + 100.5, T0 + 700, 15)):
            out.append(("/api/v1/query_range", {"query": q, "start": str(s), "end": str(e), "step": str(st)}))
    out += [("/api/v1/series", {"match[]": "http_requests_total"}),
            ("/api/v1/series", {"match[]": '{instance="a"}', "start": str(T0), "end": str(T0 + 100)}),
            ("/api/v1/labels", {}), ("/api/v1/label/instance/values", {}),
            ("/api/v1/label/__name__/values", {}), ("/api/v1/labels", {"match[]": "queue_depth"}),
            ("/api/v1/query", {"query": "sum("}), ("/api/v1/query", {"query": "up", "time": "abc"}),
            ("/api/v1/query_range", {"query": "up", "start": "10", "end": "5", "step": "1"}),
            ("/api/v1/query_range", {"query": "up", "start": "0", "end": "100000", "step": "1"}),
            ("/api/v1/query_range", {"query": "up", "start": "0", "end": "11000", "step": "1"}),
            ("/api/v1/query_range", {"query": "up", "start": "0", "end": "10", "step": "0"}),
            ("/api/v1/query_range", {"query": "up", "end": "10", "step": "1"}),
            ("/api/v1/query_range", {"query": "up", "start": "0", "end": "10", "step": "x"}),
            ("/api/v1/query_range", {"query": "up[1m]", "start": "0", "end": "10", "step": "1"}),
            ("/api/v1/query", {"query": "rate(up)"}), ("/api/v1/query", {"query": "1 > 2"}),
            ("/api/v1/series", {}), ("/api/v1/label/a-b/values", {}),
            ("/api/v1/query", {"query": 'x{a=~"a++"}'})]
    return [(p, urllib.parse.urlencode(a)) for p, a in out]


def canonical(body, libm):
    d = json.loads(body)
    if d.get("status") == "error" and "parse error" in d.get("error", ""):
        d["error"] = "parse error"  # where and how a parse error is worded differs
    data = d.get("data")
    if isinstance(data, dict) and data.get("resultType") in ("vector", "matrix"):
        if libm:
            for s in data["result"]:
                for p in s.get("values") or [s["value"]]:
                    p[1] = float(p[1])
        data["result"] = sorted(data["result"], key=lambda s: json.dumps(s["metric"], sort_keys=True))
    return d


def close(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b) or abs(a - b) <= 4.5e-16 * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


tmp = tempfile.mkdtemp(prefix="ebb-promql-diff-")
try:
    data = os.path.join(tmp, "data.om")
    with open(data, "w") as f:
        f.write("\n".join(samples()) + "\n# EOF\n")
    r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", data, f"{tmp}/tsdb"],
                       capture_output=True, timeout=60)
    check("promtool backfills the samples", r.returncode == 0, r.stderr.decode()[-2000:])
    with open(f"{tmp}/prometheus.yml", "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    port = free_port()
    prom = Process(["prometheus", f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/tsdb",
                    f"--web.listen-address=127.0.0.1:{port}"], name="prometheus")
    wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2).status == 200, 60,
               interval=0.2, what="Prometheus to be ready")
    reqs = requests()
    r = subprocess.run([promql_file, data], input="".join(f"{p}\t{q}\n" for p, q in reqs).encode(),
                       capture_output=True, timeout=120)
    check("ebb answers every request", r.returncode == 0, r.stderr.decode()[-2000:])
    ebb = r.stdout.decode().split("\n")
    diffs = []
    for (path, q), line in zip(reqs, ebb):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?{q}", timeout=30) as resp:
                pstatus, pbody = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            pstatus, pbody = e.code, e.read().decode()
        estatus, ebody = line.split("\t", 1)
        libm = any(x in urllib.parse.unquote_plus(q) for x in LIBM)
        if int(estatus) != pstatus or not close(canonical(ebody, libm), canonical(pbody, libm)):
            diffs.append(f"{path}?{urllib.parse.unquote_plus(q)}\n  ebb  {estatus} {ebody[:400]}\n"
                         f"  prom {pstatus} {pbody[:400]}")
    print(f"{len(reqs)} requests compared, {len(diffs)} differ")
    check("ebb answers as Prometheus 2.42 does", not diffs, "\n".join(diffs[:10]))
    prom.stop()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done()
