#!/usr/bin/env python3
"""Start-up, shutdown and disconnects: the port refuses connections during
--startup-delay; SIGTERM lets in-flight streams finish and exits 0; a client
that hangs up mid-stream aborts its request (finished_reason="abort")."""
import json
import signal
import socket
import sys
import threading
import time

from ebbtest import Engine, check, done, metrics, request, stream, wait_until, metric_sum

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"

# Start-up delay: connection refused, then /health 200.
t0 = time.monotonic()
eng = Engine(ebb, "--startup-delay", "1.5", wait=False)
time.sleep(0.5)
refused = False
try:
    socket.create_connection(("127.0.0.1", eng.port), timeout=1).close()
except ConnectionRefusedError:
    refused = True
check("during --startup-delay the port refuses connections", refused)
eng.wait_ready(timeout=20)
check("after the delay /health is 200", time.monotonic() - t0 >= 1.4)
eng.stop()

# Client disconnect mid-stream aborts the request in the scheduler.
eng = Engine(ebb, "--time-scale", "1")
s = socket.create_connection(("127.0.0.1", eng.port), timeout=10)
body = json.dumps({"model": MODEL, "prompt": "Once upon a time", "max_tokens": 2000, "stream": True,
                   "ignore_eos": True})
s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
          f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
got = s.recv(4096)
check("stream starts", got.startswith(b"HTTP/1.1 200"), got[:100])
time.sleep(0.2)
m = metrics(eng.port)
check("the request is running", metric_sum(m, "vllm:num_requests_running") == 1)
s.close()


def aborted():
    m = metrics(eng.port)
    return (metric_sum(m, "vllm:num_requests_running") == 0 and
            m["vllm:request_success_total"][f'engine="0",finished_reason="abort",model_name="{MODEL}"'] == 1)


wait_until(aborted, 5, what="abort to be counted")
check("hang-up aborts: running back to 0, counted as finished_reason=abort", True)
m = metrics(eng.port)
check("KV blocks freed after the abort", metric_sum(m, "vllm:kv_cache_usage_perc") == 0)

# SIGTERM drains: streams in flight finish, new connections are refused, exit 0.
results = []


def long_stream():
    results.append(stream(eng.port, "/v1/completions",
                          {"model": MODEL, "prompt": "x", "max_tokens": 100, "stream": True, "ignore_eos": True}))


threads = [threading.Thread(target=long_stream) for _ in range(3)]
for t in threads:
    t.start()
wait_until(lambda: metric_sum(metrics(eng.port), "vllm:num_requests_running") == 3, 5, what="3 running")
eng.signal(signal.SIGTERM)
time.sleep(0.2)
refused = False
try:
    socket.create_connection(("127.0.0.1", eng.port), timeout=1).close()
except ConnectionRefusedError:
    refused = True
check("after SIGTERM new connections are refused", refused)
for t in threads:
    t.join(timeout=30)
complete = [r for r in results if r[0] == 200 and r[2] and r[2][-1][1] == "[DONE]"
            and len(r[2]) == 101]
check("in-flight streams finished whole after SIGTERM", len(complete) == 3, [len(r[2]) for r in results])
rc = eng.wait(timeout=10)
check("exit code 0 after draining", rc == 0, eng.output()[-2000:])

# The grace period bounds the drain.
eng = Engine(ebb, "--time-scale", "1", "--shutdown-grace", "0.5")
results = []
t = threading.Thread(target=lambda: results.append(stream(
    eng.port, "/v1/completions", {"prompt": "x", "max_tokens": 5000, "stream": True, "ignore_eos": True})))
t.start()
wait_until(lambda: metric_sum(metrics(eng.port), "vllm:num_requests_running") == 1, 5, what="running")
t0 = time.monotonic()
eng.signal(signal.SIGTERM)
rc = eng.wait(timeout=10)
t.join(timeout=10)
check("--shutdown-grace bounds the drain and still exits 0", rc == 0 and time.monotonic() - t0 < 3,
      eng.output()[-2000:])
check("the cut stream got some tokens but no [DONE]",
      len(results) == 1 and results[0][2] and results[0][2][-1][1] != "[DONE]", results)
done()
