#!/usr/bin/env python3
"""`ebb up`: the tutorial end to end on one machine, with short timings (the
demo copy of the scale-to-zero ScaledObject: two triggers, min 0, max 2,
pollingInterval 1, cooldownPeriod 10, keepalive window 10 s) and `ebb engine`
replicas:

- idle at start: scaled to zero;
- the tutorial's curl at zero replicas: held, a replica started at once
  (ScaleFromZero in the same loop turn as the request), then served: 200;
- the tutorial's curl -G to :9090/api/v1/query answers from the embedded store;
- the tutorial's burst (streaming, 3,000-token prompts) drives 1 -> 2; every
  request succeeds and every stream ends with [DONE], through the scale-down
  that drains a replica;
- idle: back to zero; SIGTERM: exit 0, no replica left.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from ebbtest import Process, free_port_range, check, done, free_port, request, stream, tutorial_prompt, wait_until

ebb = os.path.abspath(sys.argv[1])
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
tmp = tempfile.mkdtemp(prefix="ebb-up-")
base = free_port_range(2)
ld = os.path.join(tmp, "deployment.yaml")
with open(ld, "w") as f:
    f.write(f"""apiVersion: ebb/v1alpha1
kind: LocalDeployment
metadata: {{name: vllm-llama3-deployment-vllm}}
spec:
  replicas: 1
  model: {MODEL}
  command: ["{ebb}", "engine", "--port", "${{PORT}}", "--model", "${{MODEL}}", "--time-scale", "1"]
  basePort: {base}
  logDir: {tmp}/logs
  readinessProbe: {{httpGet: {{path: /health}}, periodSeconds: 1}}
  terminationGracePeriodSeconds: 20
""")
port, control = free_port(), free_port()
up = Process([ebb, "up", "-f", os.path.join(root, "examples", "demo", "values-20-keda-scale-to-zero-demo.yaml"),
              "-f", ld, "--port", str(port), "--control-port", str(control), "--hpa-sync-period", "1",
              "--horizontal-pod-autoscaler-downscale-stabilization", "3"], name="up")


def status():
    return json.loads(request("GET", control, "/status")[2])["scaledObjects"][0]


def replicas():
    return status()["target"]["replicas"]


def replica_pids():
    out = subprocess.run(["pgrep", "-f", f"^{ebb} engine --port ({base}|{base + 1}) "], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


try:
    wait_until(lambda: request("GET", control, "/health")[0] == 200, 20, interval=0.1, what="ebb up")
    wait_until(lambda: replicas() == 0, 20, interval=0.1, what="idle to scale to zero")
    check("idle at start: scaled to zero (initialCooldownPeriod 0)", status()["lastDecision"]["reason"] == "ScaleToZero")
    wait_until(lambda: not replica_pids(), 20, interval=0.1, what="the replica to stop")

    # The tutorial's curl, verbatim but for the port, at zero replicas.
    t0 = time.time()
    r = subprocess.run(["curl", "-s", "-X", "POST", f"http://localhost:{port}/v1/completions",
                        "-H", "Content-Type: application/json", "-d",
                        '{"model": "meta-llama/Llama-3.1-8B-Instruct", "prompt": "Once upon a time,", '
                        '"max_tokens": 10}'], capture_output=True, text=True, timeout=60)
    took = time.time() - t0
    body = json.loads(r.stdout)
    check(f"the tutorial's curl at zero replicas: held, then served ({took:.2f} s)",
          body.get("usage", {}).get("completion_tokens") == 10, r.stdout[:300])
    ev = [e for e in status()["events"] if e["from"] == 0 and e["to"] == 1]
    check("the held request scaled 0 -> 1 at once, not at the next poll",
          ev and ev[-1]["reason"] == "ScaleFromZero (requests held)", status()["events"])

    # The tutorial's Prometheus query, against the embedded store.
    def waiting_series():
        r = subprocess.run(["curl", "-sG", f"http://localhost:{control}/api/v1/query", "--data-urlencode",
                            "query=vllm:num_requests_waiting"], capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout)["data"]["result"]
    res = wait_until(waiting_series, 10, interval=0.2, what="the replica's series in the store")
    check("the tutorial's curl -G .../api/v1/query answers from the embedded store",
          res[0]["metric"]["__name__"] == "vllm:num_requests_waiting" and
          res[0]["metric"]["pod"] == "vllm-llama3-deployment-vllm-0", res)

    # The tutorial's burst: 100 streaming completions with 3,000-token prompts.
    results = [None] * 100

    def one(i):
        try:
            s, _, events = stream(port, "/v1/completions", {"model": MODEL, "prompt": tutorial_prompt(i, 3000),
                                                           "max_tokens": 80, "stream": True}, timeout=180)
            results[i] = (s, events)
        except Exception as e:  # counted as a failure below
            results[i] = (0, repr(e))
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(100)]
    for t in threads:
        t.start()
    wait_until(lambda: replicas() == 2, 60, interval=0.2, what="the burst to scale 1 -> 2")
    check("the tutorial's burst scales 1 -> 2 (HPA, s0-prometheus above target)",
          any(e["to"] == 2 and e["source"] == "hpa" for e in status()["events"]), status()["events"])
    for t in threads:
        t.join(timeout=240)
    ok = [r for r in results if r and r[0] == 200 and r[1] and r[1][-1][1] == "[DONE]" and
          not any('"error"' in data for _, data in r[1])]
    check("all 100 streams succeed and end with [DONE], none cut", len(ok) == 100,
          [r for r in results if r not in ok][:3])

    # Idle: 2 -> 1 by the HPA (draining the victim). One long stream keeps
    # going meanwhile; when the keepalive window has passed without a new
    # request, KEDA scales 1 -> 0 while that stream still runs: its replica is
    # drained, so the stream finishes whole before the replica is stopped.
    wait_until(lambda: replicas() == 1, 60, interval=0.2, what="the HPA to scale 2 -> 1")
    long_result = []
    t_long = threading.Thread(target=lambda: long_result.append(stream(
        port, "/v1/completions", {"model": MODEL, "prompt": "a long story", "max_tokens": 4000,
                                  "ignore_eos": True, "stream": True}, timeout=180)), daemon=True)
    t_long.start()
    wait_until(lambda: replicas() == 0, 90, interval=0.2, what="idle to scale to zero again")
    check("KEDA scaled 1 -> 0 while the long stream was still running", t_long.is_alive())
    t_long.join(timeout=120)
    s, _, ev = long_result[0] if long_result else (0, None, [])
    check("the draining replica finished the stream: 4,000 tokens and [DONE], not cut",
          s == 200 and ev and ev[-1][1] == "[DONE]" and len(ev) >= 4000, (s, len(ev), ev[-2:] if ev else None))
    downs = [(e["from"], e["to"], e["source"]) for e in status()["events"] if e["to"] < e["from"]]
    check("idle: back down to zero (2 -> 1 by the HPA, then KEDA's scale to zero)",
          (2, 1, "hpa") in downs and downs[-1][1] == 0, downs)
    _, _, m = request("GET", port, "/metrics")
    check("the router counted every request (vllm:num_incoming_requests_total 102)",
          f'vllm:num_incoming_requests_total{{model="{MODEL}"}} 102.0'.encode() in m)
finally:
    up.signal(signal.SIGTERM)
    try:
        code = up.wait(60)
    except subprocess.TimeoutExpired:
        code = up.stop()
out = up.output()
check("SIGTERM: exit 0, sanitizers quiet", code == 0 and not any(
    s in out for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:")), out[-3000:])
time.sleep(0.5)
check("no replica left running", not replica_pids(), replica_pids())

# ebb up killed with SIGKILL: its replicas die with it (PR_SET_PDEATHSIG). This
# one keeps 2 s of history (the store applies retention every 10 s).
so_min1 = os.path.join(root, "examples", "tutorial", "values-20-keda.yaml")  # min 1: a replica stays
up = Process([ebb, "up", "-f", so_min1, "-f", ld, "--port", str(free_port()), "--control-port", str(control),
              "--retention", "2", "--store-max-mib", "64"], name="up-killed")
wait_until(lambda: json.loads(request("GET", control, "/status")[2])["scaledObjects"][0]["target"]
           ["readyReplicas"] == 1, 30, interval=0.1, what="a ready replica")
time.sleep(24)
_, _, body = request("GET", control, "/api/v1/query?query=max(count_over_time(up%5B1m%5D))")
kept = float(json.loads(body)["data"]["result"][0]["value"][1])
check("--retention 2: the store keeps at most 2 s and a gc interval of samples (1 s scrapes)",
      kept <= 13, kept)
pids = replica_pids()
check("the tutorial's first ScaledObject, unchanged, runs one replica", len(pids) == 1, pids)
up.signal(signal.SIGKILL)
up.wait(10)
wait_until(lambda: not replica_pids(), 5, interval=0.05, what="the replica to die with ebb")
check("ebb up SIGKILLed: its replica died with it, nothing orphaned", not replica_pids())
shutil.rmtree(tmp, ignore_errors=True)
done()
