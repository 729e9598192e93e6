#!/usr/bin/env python3
"""`ebb autoscaler` live, against Debian's real Prometheus (1 s scrapes) scraping
`ebb engine` replicas that a LocalDeployment runs:

1. The tutorial's first ScaledObject shape (min 1, max 2, threshold 5 on
   vllm:num_requests_waiting; pollingInterval 1): a queue drives 1 -> 2, idle
   brings 2 -> 1 by the HPA's stabilization; `ebb get hpa` shows it. Then
   Prometheus is stopped: fallback (failureThreshold 2, replicas 2) scales to 2,
   and when Prometheus returns the replicas come back to 1.
2. The tutorial's scale-to-zero shape (two triggers, minReplicaCount 0) behind
   `ebb router`: idle goes to 0 after cooldownPeriod, a request at zero is held
   by the router and served once the autoscaler has brought a replica back;
   with Prometheus stopped there is no scale to zero on errors.
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

from ebbtest import Process, free_port_range, Router, check, done, free_port, post_json, request, stream, wait_until

ebb = os.path.abspath(sys.argv[1])
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
tmp = tempfile.mkdtemp(prefix="ebb-as-live-")


class Prometheus:
    """Debian's Prometheus on loopback scraping targets every second."""

    def __init__(self, targets, port=None):
        self.port = port or free_port()
        self.targets = targets
        self.dir = os.path.join(tmp, f"prom-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: vllm\n    static_configs:\n"
                    f"      - targets: {json.dumps(targets)}\n")
        self.start()

    def start(self):
        self.proc = Process(["prometheus", f"--config.file={self.dir}/prometheus.yml",
                             f"--storage.tsdb.path={self.dir}/data",
                             f"--web.listen-address=127.0.0.1:{self.port}"], name="prometheus")
        wait_until(lambda: request("GET", self.port, "/-/ready")[0] == 200, 60, interval=0.2,
                   what="Prometheus to be ready")

    def stop(self):
        self.proc.stop()

    def query(self, q):
        url = f"/api/v1/query?query={urllib.parse.quote(q)}"
        return json.loads(request("GET", self.port, url)[2])["data"]["result"]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class Autoscaler(Process):
    def __init__(self, files, *flags):
        self.port = free_port()
        args = [ebb, "autoscaler", "--port", str(self.port), "--hpa-sync-period", "1",
                "--horizontal-pod-autoscaler-downscale-stabilization", "3"]
        for f in files:
            args += ["-f", f]
        super().__init__(args + list(flags), name="autoscaler")
        wait_until(lambda: request("GET", self.port, "/health")[0] == 200, 20, interval=0.1,
                   what="the autoscaler's control port")

    def status(self):
        status, _, body = request("GET", self.port, "/status")
        return json.loads(body)["scaledObjects"][0]

    def replicas(self):
        return self.status()["target"]["replicas"]

    def ready(self):
        return self.status()["target"]["readyReplicas"]

    def wait_replicas(self, n, timeout, what):
        return wait_until(lambda: self.replicas() == n, timeout, interval=0.2, what=what)


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def deployment(name, base_port):
    return write(f"{name}.yaml", f"""apiVersion: ebb/v1alpha1
kind: LocalDeployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  model: {MODEL}
  command: ["{ebb}", "engine", "--port", "${{PORT}}", "--model", "${{MODEL}}", "--time-scale", "10"]
  basePort: {base_port}
  logDir: {tmp}/logs
  readinessProbe: {{httpGet: {{path: /health}}, periodSeconds: 1}}
  terminationGracePeriodSeconds: 5
""")


def get_hpa(port):
    r = subprocess.run([ebb, "get", "hpa", "--server", f"http://127.0.0.1:{port}"], capture_output=True,
                       text=True, timeout=10)
    return r.returncode, r.stdout, r.stderr


def held_burst(port, n):
    """n streaming completions that wait in the engine's queue while it sleeps."""
    threads = [threading.Thread(target=stream, args=(port, "/v1/completions", {
        "model": MODEL, "prompt": f"request {i}", "max_tokens": 5, "stream": True}), daemon=True)
        for i in range(n)]
    for t in threads:
        t.start()
    return threads


def pids_of_replicas(base):
    """Replicas of the pool at base (ports base, base + 1) still running."""
    pids = []
    for port in (base, base + 1):
        out = subprocess.run(["pgrep", "-f", f"^{ebb} engine --port {port} "], capture_output=True,
                             text=True).stdout
        pids += [int(p) for p in out.split()]
    return pids


# ---- 1. the tutorial's first shape: 1 -> 2 -> 1, and Prometheus down -------
base = free_port_range(2)
prom = Prometheus([f"127.0.0.1:{base}", f"127.0.0.1:{base + 1}"])
so1 = write("so1.yaml", f"""apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: vllm-scaledobject, namespace: default}}
spec:
  scaleTargetRef: {{name: pool-a}}
  minReplicaCount: 1
  maxReplicaCount: 2
  pollingInterval: 1
  cooldownPeriod: 360
  fallback: {{failureThreshold: 2, replicas: 2}}
  triggers:
    - type: prometheus
      metadata:
        serverAddress: {prom.url}
        metricName: vllm:num_requests_waiting
        query: vllm:num_requests_waiting
        threshold: '5'
""")
a = Autoscaler([so1, deployment("pool-a", base)])
try:
    wait_until(lambda: a.ready() == 1, 30, interval=0.2, what="replica 0 to be ready")
    check("the LocalDeployment's replica is up and ready", a.replicas() == 1 and a.ready() == 1)
    wait_until(lambda: a.status()["triggers"][0]["polled"] and a.status()["triggers"][0]["value"] == 0, 20,
               interval=0.2, what="a first query through Prometheus")
    check("the trigger reads 0 waiting through Prometheus", a.status()["triggers"][0]["error"] is None)

    watcher = Process([ebb, "get", "hpa", "-w", "--interval", "0.2", "--server", f"http://127.0.0.1:{a.port}"],
                      name="get-hpa-w")
    # A queue of 12 at replica 0 (asleep, so they wait): 12 / 5 per replica -> 2.
    request("POST", base, "/sleep?level=1")
    t0 = time.monotonic()
    burst = held_burst(base, 12)
    a.wait_replicas(2, 30, "the HPA to scale 1 -> 2")
    t_up = time.monotonic() - t0
    check(f"a queue of 12 scales 1 -> 2 ({t_up:.1f} s from the load step)", True)
    ev = [e for e in a.status()["events"] if e["to"] == 2]
    check("the scale-up event says the HPA did it and why",
          ev and ev[-1]["source"] == "hpa" and "above target" in ev[-1]["reason"], ev)
    wait_until(lambda: a.ready() == 2, 30, interval=0.2, what="replica 1 to be ready")
    # The HPA's status shows the new count from its next sync on.
    wait_until(lambda: get_hpa(a.port)[1].splitlines()[1].split()[6] == "2", 10, interval=0.2,
               what="the HPA's status to show 2 replicas")
    rc, out, err = get_hpa(a.port)
    lines = out.splitlines()
    check("`ebb get hpa` prints kubectl's header", rc == 0 and lines[0].split() ==
          ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"], out + err)
    row = lines[1].split()
    check("and the HPA's row: keda-hpa-<name>, Deployment/<target>, (avg) target 5, 1..2, 2 replicas",
          row[0] == "keda-hpa-vllm-scaledobject" and row[1] == "Deployment/pool-a" and row[2].endswith("/5")
          and row[3] == "(avg)" and row[4:7] == ["1", "2", "2"], out)

    watched = wait_until(lambda: [l.split() for l in watcher.output().splitlines()[2:]
                                  if l.split()[6:7] == ["2"]], 10, interval=0.2, what="a -w line with 2 replicas")
    check("`ebb get hpa -w` printed the change as a new row, without a header",
          watched and watched[-1][0] == "keda-hpa-vllm-scaledobject" and
          "NAME" not in watcher.output().splitlines()[1:][-1], watcher.output())
    watcher.stop()

    # Idle: the queue drains, and the HPA brings 2 -> 1 after its stabilization window.
    request("POST", base, "/wake_up")
    for t in burst:
        t.join(timeout=60)
    a.wait_replicas(1, 40, "the HPA to scale 2 -> 1 once idle")
    check("idle brings 2 -> 1 (downscale stabilization 3 s)", a.status()["events"][-1]["source"] == "hpa")
    wait_until(lambda: a.status()["target"]["statusReplicas"] == 1, 20, interval=0.2,
               what="the second replica to stop")

    # Prometheus stopped: queries fail; after failureThreshold, fallback's 2 replicas.
    prom.stop()
    a.wait_replicas(2, 30, "fallback to scale to 2 with Prometheus down")
    st = a.status()
    conds = {c["type"]: c for c in st["conditions"]}
    check("with Prometheus down, fallback applies (2 replicas, Fallback=True)",
          conds["Fallback"]["status"] == "True", conds)
    check("the trigger's error names the failure", st["triggers"][0]["error"] and
          st["triggers"][0]["errorsTotal"] >= 2, st["triggers"][0])
    _, _, m = request("GET", a.port, "/metrics")
    check("/metrics counts the errors (keda_scaler_detail_errors_total)",
          b"keda_scaler_detail_errors_total{" in m and b"keda_scaled_object_errors_total{" in m)
    prom.start()
    a.wait_replicas(1, 60, "recovery to 1 replica once Prometheus is back")
    check("Prometheus back: fallback ends and the replicas return to 1",
          {c["type"]: c for c in a.status()["conditions"]}["Fallback"]["status"] == "False")
finally:
    code = a.stop(timeout=20)
    prom.stop()
def clean_exit(p, code):
    out = p.output()
    return code == 0 and not any(s in out for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:"))


check("the autoscaler exits 0 on SIGTERM, sanitizers quiet", clean_exit(a, code), a.output()[-2000:])
time.sleep(0.5)
check("no replica is left running", not pids_of_replicas(base), pids_of_replicas(base))

# ---- 2. the scale-to-zero shape behind the router ---------------------------
base = free_port_range(2)
router = Router(ebb, [f"http://127.0.0.1:{base}"], "--health-check-interval", "0.2", "--hold-timeout", "60",
                models=[MODEL])
router_port = router.port
prom = Prometheus([f"127.0.0.1:{base}", f"127.0.0.1:{base + 1}", f"127.0.0.1:{router_port}"])
so2 = write("so2.yaml", f"""apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: vllm-scaledobject, namespace: default}}
spec:
  scaleTargetRef: {{name: pool-b}}
  minReplicaCount: 0
  maxReplicaCount: 2
  pollingInterval: 1
  cooldownPeriod: 3
  triggers:
    - type: prometheus
      metadata:
        serverAddress: {prom.url}
        metricName: vllm:num_requests_waiting
        query: vllm:num_requests_waiting
        threshold: '5'
    - type: prometheus
      metadata:
        serverAddress: {prom.url}
        metricName: vllm:incoming_keepalive
        query: sum(rate(vllm:num_incoming_requests_total[5s]) > bool 0)
        threshold: "1"
""")
a = Autoscaler([so2, deployment("pool-b", base)])
try:
    a.wait_replicas(0, 20, "idle to scale to zero")
    check("idle at start scales to 0 (initialCooldownPeriod 0)",
          a.status()["lastDecision"]["reason"] == "ScaleToZero", a.status()["lastDecision"])
    wait_until(lambda: not pids_of_replicas(base), 20, interval=0.2, what="the replica to stop")

    # Prometheus has scraped the router's counter at 0 (it exists from the start).
    wait_until(lambda: prom.query("vllm:num_incoming_requests_total"), 20, interval=0.2,
               what="Prometheus to scrape the router")
    # A request at zero: the router holds it, its counter moves, Prometheus sees
    # the rate, the autoscaler scales 0 -> 1, the router serves the request.
    t0 = time.monotonic()
    status, body = post_json(router_port, "/v1/completions",
                             {"model": MODEL, "prompt": "Hello", "max_tokens": 5}, timeout=60)
    t_served = time.monotonic() - t0
    check(f"a request at zero replicas is held and served ({t_served:.1f} s)", status == 200,
          f"{body}\n{a.output()[-3000:]}")
    check("by a replica the autoscaler brought back", a.replicas() == 1)

    # Idle again: rate()[5s] falls to 0, then cooldownPeriod, then 0.
    a.wait_replicas(0, 40, "idle to scale to zero again")
    check("idle scales 1 -> 0 after the cooldown", True)

    # Bring one back, then stop Prometheus: errors never scale to zero.
    status, body = post_json(router_port, "/v1/completions",
                             {"model": MODEL, "prompt": "Hello again", "max_tokens": 5}, timeout=60)
    check("a second request at zero is served too", status == 200, body)
    prom.stop()
    time.sleep(8)  # cooldown 3 s and the rate window 5 s, with every query failing
    check("Prometheus down: no scale to zero on errors", a.replicas() == 1)
    conds = {c["type"]: c for c in a.status()["conditions"]}
    check("the Ready condition says TriggerError", conds["Ready"]["status"] == "False" and
          conds["Ready"]["reason"] == "TriggerError", conds)
    prom.start()
    a.wait_replicas(0, 40, "scale to zero once Prometheus is back and idle")
    check("Prometheus back and idle: 1 -> 0", True)
finally:
    code = a.stop(timeout=20)
    router.stop()
    prom.stop()
check("the autoscaler exits 0 on SIGTERM (scale-to-zero run)", clean_exit(a, code), a.output()[-2000:])
shutil.rmtree(tmp, ignore_errors=True)
done()
