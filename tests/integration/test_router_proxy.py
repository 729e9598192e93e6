#!/usr/bin/env python3
"""ebb router in front of ebb engines: forwarding, streaming, production-stack's
error bodies, /v1/models, /engines, /metrics, routing logics, and a client
hang-up cancelling its upstream request."""
import json
import socket
import subprocess
import sys
import threading
import time

from ebbtest import (Engine, Router, check, done, metrics, metric_sum, post_json, promtool_check, request,
                     run_threads, stream, wait_until)

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
e1 = Engine(ebb, "--time-scale", "20")
e2 = Engine(ebb, "--time-scale", "20")
r = Router(ebb, [e1.base, e2.base])
port = r.port

# The configured model's counter is there before any request, at 0, so that
# rate() sees the first request (a series born at 1 shows no increase).
m0 = metrics(port)
check("vllm:num_incoming_requests_total exists at 0 before the first request",
      m0.get("vllm:num_incoming_requests_total", {}).get(f'model="{MODEL}"') == 0, m0.get("vllm:num_incoming_requests_total"))

# The tutorial's request through the router.
status, body = post_json(port, "/v1/completions", {"model": MODEL, "prompt": "Once upon a time,", "max_tokens": 10})
check("completion through the router", status == 200 and body["usage"]["completion_tokens"] == 10, body)
direct = post_json(e1.port, "/v1/completions", {"model": MODEL, "prompt": "Once upon a time,", "max_tokens": 10})[1]
check("same text as the engine gives directly", body["choices"][0]["text"] == direct["choices"][0]["text"])

status, hdrs, data = request("POST", port, "/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 1},
                             headers={"X-Request-Id": "rid-123"})
check("X-Request-Id is passed upstream (the engine's id is cmpl-<it>)", json.loads(data)["id"] == "cmpl-rid-123")
check("and returned to the client", hdrs.get("x-request-id") == "rid-123", hdrs)
status, hdrs, data = request("POST", port, "/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 1})
rid = hdrs.get("x-request-id", "")
check("a missing X-Request-Id is generated (uuid4)", len(rid) == 36 and rid[14] == "4", rid)
check("hop-by-hop headers are not relayed", "connection" not in hdrs and "keep-alive" not in hdrs, hdrs)

status, hdrs, events = stream(port, "/v1/chat/completions", {
    "model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20, "stream": True,
    "stream_options": {"include_usage": True}})
check("streaming chat through the router: 200 text/event-stream",
      status == 200 and hdrs["content-type"].startswith("text/event-stream"), hdrs)
check("every event relayed, ending in [DONE]", len(events) == 1 + 20 + 1 + 1 and events[-1][1] == "[DONE]",
      len(events))
status, hdrs, events = stream(port, "/v1/completions", {
    "model": MODEL, "prompt": "x", "max_tokens": 200, "stream": True, "ignore_eos": True})
# 200 decode steps of 5.5 ms at --time-scale 20 take ~55 ms: relayed as they
# come, the events spread over about that; buffered whole, they would not.
check("events arrive spread out, not buffered whole", events[-2][0] - events[0][0] > 0.03,
      events[-2][0] - events[0][0])

# production-stack's flat error bodies, exactly.
for name, body, want_status, want in [
    ("invalid JSON", b"{nope", 400, {"error": "Invalid request: request body must be valid JSON."}),
    ("JSON not an object", b"[1]", 400, {"error": "Invalid request: request body must be a JSON object."}),
    ("missing model", b'{"prompt":"x"}', 400, {"error": "Invalid request: missing 'model' in request body."}),
    ("unknown model", b'{"model":"gpt-9","prompt":"x"}', 404,
     {"error": "Model 'gpt-9' not found. Available models can be listed at /v1/models."}),
]:
    status, hdrs, data = request("POST", port, "/v1/completions", body)
    check(f"{name}: {want_status} {want['error'][:40]}...", status == want_status and json.loads(data) == want,
          f"{status} {data}")
    check(f"{name}: carries X-Request-Id", "x-request-id" in hdrs)
status, hdrs, data = request("GET", port, "/v1/completions")
check("GET on a proxied path: 405", status == 405)
status, hdrs, data = request("GET", port, "/nope")
check("unknown path: 404", status == 404)

# Local endpoints.
status, _, data = request("GET", port, "/v1/models")
models = json.loads(data)
check("/v1/models: the union of backends' models, once", [m["id"] for m in models["data"]] == [MODEL], models)
status, _, data = request("GET", port, "/engines")
engines = json.loads(data)
check("/engines lists both engines with uuid ids",
      len(engines) == 2 and all(len(e["engine_id"]) == 36 and e["serving_models"] == [MODEL] for e in engines),
      engines)
status, _, data = request("GET", port, "/health")
check("/health", status == 200 and json.loads(data) == {"status": "healthy"})
status, _, data = request("GET", port, "/version")
check("/version", status == 200 and "version" in json.loads(data))
status, _, data = request("POST", port, "/sleep")
check("/sleep without ?id=: 400 as production-stack",
      status == 400 and json.loads(data) == {"error": "Invalid request: missing target Engine Id."})
eid = engines[0]["engine_id"]
status, _, data = request("POST", port, f"/sleep?id={eid}&level=1")
check("/sleep?id= reaches that engine", status == 200)
status, _, data = request("GET", port, f"/is_sleeping?id={eid}")
check("/is_sleeping?id= reports it", json.loads(data) == {"is_sleeping": True})
request("POST", port, f"/wake_up?id={eid}")

# Metrics: production-stack's names, counted before the availability check.
status, hdrs, data = request("GET", port, "/metrics")
m = metrics(port)
check("vllm:num_incoming_requests_total counts every validated request, even the 404",
      m["vllm:num_incoming_requests_total"][f'model="{MODEL}"'] >= 5 and
      m["vllm:num_incoming_requests_total"]['model="gpt-9"'] == 1, m["vllm:num_incoming_requests_total"])
check("vllm:healthy_pods_total per server", sum(m["vllm:healthy_pods_total"].values()) == 2)
ok, detail = promtool_check(data)
check("promtool check metrics: parses, and only production-stack's own names draw lint", ok, detail)

# Least-loaded spreads a burst over both engines.
before = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
run_threads([lambda i=i: stream(port, "/v1/completions", {"model": MODEL, "prompt": f"burst {i}", "max_tokens": 50,
                                                          "stream": True, "ignore_eos": True}) for i in range(40)])
after = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
share = [a - b for a, b in zip(after, before)]
check("least-loaded: a burst of 40 is spread (each engine gets 12..28)", all(12 <= s <= 28 for s in share), share)

# A client that hangs up cancels its upstream request (the engine aborts it).
aborted_before = sum(v for k, v in metrics(e1.port).get("vllm:request_success_total", {}).items() if "abort" in k) + \
    sum(v for k, v in metrics(e2.port).get("vllm:request_success_total", {}).items() if "abort" in k)
s = socket.create_connection(("127.0.0.1", port))
body = json.dumps({"model": MODEL, "prompt": "x", "max_tokens": 5000, "stream": True, "ignore_eos": True})
s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
s.recv(4096)
time.sleep(0.2)
s.close()


def aborted_now():
    return sum(v for e in (e1, e2) for k, v in metrics(e.port).get("vllm:request_success_total", {}).items()
               if "abort" in k)


wait_until(lambda: aborted_now() == aborted_before + 1, 5, what="the engine to abort the request")
check("client hang-up: the engine aborted the upstream request", True)
check("router in-flight back to 0", metric_sum(metrics(port), "vllm:num_requests_running") == 0)
r.stop()

# Session stickiness: one user's requests always reach the same engine.
r = Router(ebb, [e1.base, e2.base], "--routing-logic", "session", "--session-key", "x-user-id")
placements = {}
# 24 users: with random ports in the URLs, all landing on one engine has a
# chance of 2^-23.
for user in [f"user-{i}" for i in range(24)]:
    seen = set()
    for k in range(3):
        before = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
        post_json(r.port, "/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 1},
                  headers={"x-user-id": user})
        after = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
        seen.add(0 if after[0] > before[0] else 1)
    placements[user] = seen
check("session: every user stays on one engine", all(len(s) == 1 for s in placements.values()), placements)
check("session: users are spread over both engines", len({next(iter(s)) for s in placements.values()}) == 2,
      placements)
r.stop()

# Round robin alternates.
r = Router(ebb, [e1.base, e2.base], "--routing-logic", "roundrobin")
before = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
for i in range(10):
    post_json(r.port, "/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 1})
after = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
check("roundrobin: 10 requests split 5/5", [a - b for a, b in zip(after, before)] == [5, 5])
r.stop()

# Prefix-aware: prompts sharing a long prefix go where that prefix went.
r = Router(ebb, [e1.base, e2.base], "--routing-logic", "prefixaware", "--prefix-max-entries", "1000")
placements = {}
for family in ["system prompt A " * 30, "another document B " * 30]:
    seen = set()
    for k in range(4):
        before = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
        post_json(r.port, "/v1/chat/completions", {"model": MODEL, "max_tokens": 1,
                                                    "messages": [{"role": "system", "content": family},
                                                                 {"role": "user", "content": f"question {k}"}]})
        after = [metric_sum(metrics(e.port), "vllm:request_success_total") for e in (e1, e2)]
        seen.add(0 if after[0] > before[0] else 1)
    placements[family[:10]] = seen
check("prefixaware: each shared prefix stays on one engine", all(len(v) == 1 for v in placements.values()),
      placements)
r.stop()

# Aliases rewrite the model.
r = Router(ebb, [e1.base], "--static-aliases", "llama:" + MODEL, models=[MODEL])
status, body = post_json(r.port, "/v1/completions", {"model": "llama", "prompt": "x", "max_tokens": 1})
check("--static-aliases: the alias is sent as the model", status == 200 and body["model"] == MODEL, body)
r.stop()
e1.stop()
e2.stop()
done()
