#!/usr/bin/env python3
"""ebb router when backends fail or are missing: refused connections are
retried elsewhere, a backend killed mid-stream ends its streams cleanly,
requests are held at zero backends and served when one appears, and the
hold's limits answer 503 with Retry-After — or production-stack's 503 at
once with --on-no-backend 503."""
import json
import signal
import sys
import threading
import time

from ebbtest import (Engine, Process, Router, check, done, free_port, metrics, metric_sum, post_json, request,
                     stream, wait_until)

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there

# A backend refusing connections: retried on another, no error reaches the client.
e1 = Engine(ebb, "--time-scale", "20")
r = Router(ebb, [dead, e1.base], "--routing-logic", "roundrobin")
results = [post_json(r.port, "/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 2})[0]
           for _ in range(10)]
check("refused connections: all 10 requests succeed", results == [200] * 10, results)
m = metrics(r.port)
check("the refusing backend was retried elsewhere", m["ebb_router_retries_total"][""] >= 1, m["ebb_router_retries_total"])
check("and is marked down", m["vllm:healthy_pods_total"][f'server="{dead}"'] == 0)
check("connect errors are counted by kind", m["ebb_router_upstream_errors_total"]['kind="connect"'] >= 1)
r.stop()

# A backend killed mid-stream: the client sees a clean end; others keep serving.
e2 = Engine(ebb, "--time-scale", "5")
e3 = Engine(ebb, "--time-scale", "5")
r = Router(ebb, [e2.base, e3.base])
result = {}
t = threading.Thread(target=lambda: result.update(s=stream(r.port, "/v1/completions", {
    "model": MODEL, "prompt": "x", "max_tokens": 3000, "stream": True, "ignore_eos": True})))
t.start()
victim = wait_until(lambda: next((e for e in (e2, e3)
                                  if metric_sum(metrics(e.port), "vllm:num_requests_running") == 1), None),
                    5, what="the stream to start")
time.sleep(0.3)
victim.proc.kill()
victim.proc.wait()
t.join(timeout=20)
status, hdrs, events = result["s"]
check("killed mid-stream: the client got tokens first", len(events) > 5, len(events))
check("then a vLLM-style error event", '"error"' in events[-2][1] and "mid-stream" in events[-2][1], events[-2:])
check("then [DONE]: a clean end of the stream", events[-1][1] == "[DONE]")
survivor = e3 if victim is e2 else e2
results = [post_json(r.port, "/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 2})[0]
           for _ in range(6)]
check("the router keeps serving on the other backend", results == [200] * 6, results)
r.stop()
survivor.stop()

# Zero backends, then one appears: the request is held and then served.
port = free_port()
r = Router(ebb, [f"http://127.0.0.1:{port}"], "--health-check-interval", "0.1")
t0 = time.monotonic()
result = {}
t = threading.Thread(target=lambda: result.update(r=post_json(r.port, "/v1/completions",
                                                              {"model": MODEL, "prompt": "x", "max_tokens": 3})))
t.start()
wait_until(lambda: metric_sum(metrics(r.port), "ebb_router_held_requests") == 1, 5, what="the request to be held")
held_at = time.monotonic()
time.sleep(0.5)
eng = Process([ebb, "engine", "--port", str(port), "--time-scale", "20"], name="engine")
t.join(timeout=20)
check("zero backends, then one appears: the held request is served (200)", result.get("r", (0,))[0] == 200, result)
m = metrics(r.port)
check("it was held once and the hold time was recorded",
      m["ebb_router_held_total"][""] == 1 and m["ebb_router_hold_seconds_count"][""] == 1, m.get("ebb_router_held_total"))
check("held for about as long as the backend was missing", 0.4 <= m["ebb_router_hold_seconds_sum"][""] <= 5,
      m["ebb_router_hold_seconds_sum"])
r.stop()
eng.stop()

# Hold overflow and hold timeout: 503 with Retry-After.
r = Router(ebb, [dead], "--hold-max-requests", "2", "--hold-timeout", "1", "--health-check-interval", "0.2")
res = []
threads = [threading.Thread(target=lambda: res.append(request("POST", r.port, "/v1/completions",
                                                              {"model": MODEL, "prompt": "x"})))
           for _ in range(2)]
for th in threads:
    th.start()
wait_until(lambda: metric_sum(metrics(r.port), "ebb_router_held_requests") == 2, 5, what="2 held")
t0 = time.monotonic()
status, hdrs, data = request("POST", r.port, "/v1/completions", {"model": MODEL, "prompt": "x"})
check("hold overflow: the third request gets 503 at once", status == 503 and time.monotonic() - t0 < 0.5, status)
check("with Retry-After and production-stack's body",
      hdrs.get("retry-after") and json.loads(data) == {
          "error": f"Model '{MODEL}' is temporarily unavailable. Please try again later."}, (hdrs, data))
for th in threads:
    th.join(timeout=10)
check("hold timeout: the held requests get 503 + Retry-After after --hold-timeout",
      [x[0] for x in res] == [503, 503] and all(x[1].get("retry-after") for x in res), [x[0] for x in res])
m = metrics(r.port)
check("overflows and timeouts are counted",
      m["ebb_router_hold_overflows_total"][""] == 1 and m["ebb_router_hold_timeouts_total"][""] == 2)
r.stop()

# --on-no-backend 503: production-stack's answer, byte for byte.
r = Router(ebb, [dead], "--on-no-backend", "503")
status, hdrs, data = request("POST", r.port, "/v1/completions", {"model": MODEL, "prompt": "x"})
check("--on-no-backend 503: 503 at once", status == 503)
check("byte-compatible body",
      data == ("{\"error\":\"Model '%s' is temporarily unavailable. Please try again later.\"}" % MODEL).encode(), data)
status, hdrs, data = request("POST", r.port, "/v1/completions", {"model": "other", "prompt": "x"})
check("an unknown model is still 404, byte-compatible",
      status == 404 and data == b"{\"error\":\"Model 'other' not found. Available models can be listed at /v1/models.\"}",
      data)
r.stop()
e1.stop()
done()
