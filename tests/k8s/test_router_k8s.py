#!/usr/bin/env python3
"""ebb router --service-discovery k8s against fake_apiserver.py (a stand-in
kube-apiserver speaking the real protocol) and real `ebb engine` processes,
each on its own loopback address (127.0.0.2, 127.0.0.3, ...: all of 127/8 is
local on Linux) and the same port, as pods with those IPs.

Checked: requests reach the Ready pods only (not-ready pods, pods outside the
label selector get nothing); a pod that becomes Ready is added, one that
stops being Ready is drained, a terminating pod finishes its in-flight
stream and gets nothing new, a deleted pod is removed; a pod deleted during
a watch gap is removed after the re-list (the production-stack bug, PS#1091);
models come from each pod's /v1/models, and a pod whose /v1/models does not
answer yet is asked again with back-off; the API server answering 401 or
gone: the known pods keep serving, one warning, recovery logged; bad flags:
clear errors and exit codes; a clean exit under the sanitizers."""
import atexit
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from ebbtest import (Process, check, done, free_port, metrics, post_json, request, stream,  # noqa: E402
                     wait_until)

ebb = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "router-k8s-test-token"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
MODEL2 = "Qwen/Qwen2.5-7B-Instruct"
tmp = tempfile.mkdtemp(prefix="ebb-router-k8s-")
atexit.register(shutil.rmtree, tmp, True)

# ---------- the fake API server ----------

api = Process([sys.executable, os.path.join(HERE, "fake_apiserver.py"), "--dir", tmp, "--token", TOKEN],
              name="apiserver")
api_port = int(wait_until(lambda: next((l.split()[1] for l in api.output().splitlines()
                                        if l.startswith("PORT ")), None), 60, what="the fake API server"))
tls = ssl.create_default_context(cafile=os.path.join(tmp, "ca.crt"))


def ctl(**op):
    conn = http.client.HTTPSConnection("127.0.0.1", api_port, timeout=10, context=tls)
    try:
        conn.request("POST", "/_control", body=json.dumps(op), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        out = json.loads(r.read())
        if r.status != 200 or "error" in out:
            raise RuntimeError(f"control {op}: {r.status} {out}")
        return out
    finally:
        conn.close()


kubeconfig = os.path.join(tmp, "kubeconfig")
with open(kubeconfig, "w") as f:
    f.write(f"""apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: {{cluster: fake, user: router, namespace: default}}
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:{api_port}
    certificate-authority: ca.crt
users:
- name: router
  user:
    token: {TOKEN}
""")

# ---------- engines on 127.0.0.N, all on one port ----------


def common_port(ips):
    """A port free on every address now."""
    for _ in range(50):
        port = free_port()
        try:
            for ip in ips:
                with socket.socket() as s:
                    s.bind((ip, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on all the addresses")


def get(ip, port, path):
    conn = http.client.HTTPConnection(ip, port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


IPS = [f"127.0.0.{i}" for i in range(2, 10)]
PORT = common_port(IPS)
engines = {}


def start_engine(ip, model=MODEL, wait=True):
    e = Process([ebb, "engine", "--host", ip, "--port", str(PORT), "--model", model, "--time-scale", "5"],
                name=f"engine-{ip}")
    engines[ip] = e
    if wait:
        wait_until(lambda: get(ip, PORT, "/health")[0] == 200, 20, what=f"engine on {ip}")
    return e


def engine_metric(ip, name):
    _, body = get(ip, PORT, "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def served(ip):
    return engine_metric(ip, "vllm:request_success_total")


def url(ip):
    return f"http://{ip}:{PORT}"


# ---------- bad flags first: nothing to clean up ----------


def run(*flags, timeout=20):
    r = subprocess.run([ebb, "router", *flags], capture_output=True, timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode()


K8S = ["--service-discovery", "k8s", "--k8s-port", str(PORT)]
rc, out = run("--help")
check("--help documents the k8s flags", rc == 0 and all(f in out for f in (
    "--k8s-namespace", "--k8s-label-selector", "--k8s-port", "--kubeconfig", "static|k8s")), out)
check("--help no longer says k8s is missing", "not yet in this build" not in out)
rc, out = run(*K8S, "--kubeconfig", kubeconfig)
check("k8s without --k8s-label-selector: exit 2 naming the flag", rc == 2 and "--k8s-label-selector" in out,
      f"rc={rc} {out}")
rc, out = run(*K8S, "--k8s-label-selector", "app=vllm", "--kubeconfig", os.path.join(tmp, "missing"))
check("a kubeconfig that does not exist: exit 1 naming the file",
      rc == 1 and os.path.join(tmp, "missing") in out, f"rc={rc} {out}")
rc, out = run(*K8S, "--k8s-label-selector", "app=vllm", "--kubeconfig", kubeconfig, "--k8s-namespace", "Bad/NS")
check("an invalid namespace: exit 2", rc == 2 and "--k8s-namespace" in out, f"rc={rc} {out}")
rc, out = run(*K8S, "--k8s-label-selector", "app=vllm", "--kubeconfig", kubeconfig,
              "--static-backends", "http://127.0.0.1:1", "--static-models", MODEL)
check("static backends with k8s discovery: exit 2", rc == 2 and "--static-backends" in out, f"rc={rc} {out}")
rc, out = run("--k8s-label-selector", "app=vllm", "--static-backends", "http://127.0.0.1:1",
              "--static-models", MODEL)
check("a k8s flag with static discovery: exit 2", rc == 2 and "--service-discovery k8s" in out, f"rc={rc} {out}")
rc, out = run(*K8S, "--k8s-port", "0", "--k8s-label-selector", "app=vllm")
check("--k8s-port 0: exit 2", rc == 2, f"rc={rc} {out}")

# ---------- the pods ----------

P1, P2, P3, P4, P5, P6, P7, P8 = IPS
for ip in (P1, P2, P3, P5):
    start_engine(ip)
start_engine(P4, MODEL2)
VLLM = {"app": "vllm"}
ctl(op="add_pod", name="p1", labels=VLLM, ready=True, ip=P1)
ctl(op="add_pod", name="p2", labels=VLLM, ready=True, ip=P2)
ctl(op="add_pod", name="p3", labels=VLLM, ready=False, ip=P3)
ctl(op="add_pod", name="p4", labels=VLLM, ready=True, ip=P4)
ctl(op="add_pod", name="other", labels={"app": "other"}, ready=True, ip=P5)

rport = free_port()
router = Process([ebb, "router", "--port", str(rport), *K8S, "--k8s-label-selector", "app=vllm",
                  "--kubeconfig", kubeconfig, "--routing-logic", "roundrobin",
                  "--health-check-interval", "0.2"], name="router")


def backends():
    """{url: state} of the router's backends, from its /metrics."""
    out = {}
    for labels, _ in metrics(rport).get("ebb_router_backend_up", {}).items():
        kv = dict(p.split("=", 1) for p in labels.split(","))
        out[kv["server"].strip('"')] = kv["state"].strip('"')
    return out


def wait_check(pred, timeout, what, detail=lambda: ""):
    """A check that may take up to timeout seconds to come true."""
    try:
        wait_until(pred, timeout, what=what)
    except TimeoutError:
        pass
    check(what, pred(), detail())


def wait_backends(want, what, timeout=15):
    wait_check(lambda: backends() == want, timeout, what, lambda: f"got {backends()}, want {want}")


def complete(model=MODEL, n=1):
    return [post_json(rport, "/v1/completions", {"model": model, "prompt": "hi", "max_tokens": 2})[0]
            for _ in range(n)]


wait_backends({url(P1): "ready", url(P2): "ready", url(P4): "ready"},
              "the Ready pods are the backends; the not-ready and unselected pods are not")
before = {ip: served(ip) for ip in (P1, P2, P3, P4, P5)}
results = complete(n=12)
after = {ip: served(ip) for ip in (P1, P2, P3, P4, P5)}
delta = {ip: after[ip] - before[ip] for ip in after}
check("12 requests for the model: all 200", results == [200] * 12, results)
check("served by the two Ready pods of that model", delta[P1] == 6 and delta[P2] == 6, delta)
check("the not-ready pod, the unselected pod and the other model's pod got nothing",
      delta[P3] == 0 and delta[P5] == 0 and delta[P4] == 0, delta)
status, body = post_json(rport, "/v1/completions", {"model": MODEL2, "prompt": "hi", "max_tokens": 2})
check("a request for the second model (read from its pod's /v1/models) is served", status == 200, body)
check("by the pod that serves it", served(P4) - after[P4] == 1)
status, _, data = request("GET", rport, "/v1/models")
ids = sorted(m["id"] for m in json.loads(data)["data"])
check("the router's /v1/models lists both models", ids == sorted([MODEL, MODEL2]), ids)
m = metrics(rport)
check("vllm:healthy_pods_total counts the three pods",
      sum(m["vllm:healthy_pods_total"].values()) == 3, m["vllm:healthy_pods_total"])

# A pod becomes Ready: added.
ctl(op="modify_pod", name="p3", ready=True)
wait_backends({url(P1): "ready", url(P2): "ready", url(P3): "ready", url(P4): "ready"},
              "a pod that becomes Ready is added")
before = served(P3)
complete(n=9)
check("and gets its share of the requests", served(P3) - before == 3, served(P3) - before)

# A pod stops being Ready: no new requests.
ctl(op="modify_pod", name="p2", ready=False)
wait_backends({url(P1): "ready", url(P3): "ready", url(P4): "ready"},
              "a pod that stops being Ready is drained and, with nothing in flight, removed")
before = served(P2)
complete(n=6)
check("it gets no new requests", served(P2) == before)
ctl(op="modify_pod", name="p2", ready=True)
wait_backends({url(P1): "ready", url(P2): "ready", url(P3): "ready", url(P4): "ready"},
              "Ready again: routed again")

# Label selector: a pod relabelled into it is added.
ctl(op="modify_pod", name="other", labels=VLLM)
wait_backends({url(P1): "ready", url(P2): "ready", url(P3): "ready", url(P4): "ready", url(P5): "ready"},
              "a pod relabelled to match the selector is added")
# Out of it: the API server sends the watch a DELETED.
ctl(op="modify_pod", name="other", labels={"app": "other"})
wait_backends({url(P1): "ready", url(P2): "ready", url(P3): "ready", url(P4): "ready"},
              "a pod relabelled out of the selector is removed")


def long_stream():
    """Starts a stream that runs a few seconds; returns (thread, result, the engine's address)."""
    result = {}
    t = threading.Thread(target=lambda: result.update(s=stream(rport, "/v1/completions", {
        "model": MODEL, "prompt": "x", "max_tokens": 2500, "stream": True, "ignore_eos": True})))
    t.start()
    busy = wait_until(lambda: next((ip for ip in (P1, P2, P3)
                                    if engine_metric(ip, "vllm:num_requests_running") == 1), None),
                      10, what="the stream to start")
    return t, result, busy


def stream_whole(t, result):
    t.join(timeout=60)
    status, _, events = result["s"]
    texts = [e for _, e in events]
    return status == 200 and texts[-1] == "[DONE]" and not any('"error"' in e for e in texts) \
        and len(texts) > 2000, (status, len(texts), texts[-2:])


POD_OF = {P1: "p1", P2: "p2", P3: "p3"}
ALL4 = {url(P1): "ready", url(P2): "ready", url(P3): "ready", url(P4): "ready"}

# Not Ready for a moment with a stream in flight, then Ready again: the
# backend drains, then serves again; the stream is not disturbed.
t, result, busy = long_stream()
ctl(op="modify_pod", name=POD_OF[busy], ready=False)
wait_check(lambda: backends().get(url(busy)) == "draining", 10,
           "not Ready with a stream in flight: draining, not removed", backends)
ctl(op="modify_pod", name=POD_OF[busy], ready=True)
wait_backends(ALL4, "Ready again before the stream ended: the same backend serves again")
check("its backend was kept, not added anew", f"pod {POD_OF[busy]} ready again: {url(busy)}" in router.output(),
      router.output()[-1500:])
ok, detail = stream_whole(t, result)
check("and the stream ran to its end", ok, detail)

# A terminating pod finishes its in-flight stream and gets nothing new.
t, result, busy = long_stream()
name = POD_OF[busy]
ctl(op="modify_pod", name=name, terminating=True)
wait_check(lambda: backends().get(url(busy)) == "draining", 10,
           "a terminating pod with a stream in flight is draining", backends)
before = served(busy)
results = complete(n=6)
check("new requests go elsewhere", results == [200] * 6 and served(busy) == before, (results, served(busy)))
check("the stream was still running meanwhile", t.is_alive())
ok, detail = stream_whole(t, result)
check("the in-flight stream finished whole", ok, detail)
rest = {url(ip): "ready" for ip in (P1, P2, P3, P4) if ip != busy}
wait_backends(rest, "the drained pod is removed once its stream ended")
ctl(op="delete_pod", name=name)
time.sleep(0.3)
check("its deletion changes nothing more", backends() == rest, backends())
engines[busy].stop()

# A deleted pod is removed at once.
left = [ip for ip in (P1, P2, P3) if ip != busy]
gone, keep = left
ctl(op="delete_pod", name=POD_OF[gone])
wait_backends({url(keep): "ready", url(P4): "ready"}, "a deleted pod is removed")

# A Ready pod whose /v1/models does not answer yet is asked again with back-off.
ctl(op="add_pod", name="p6", labels=VLLM, ready=True, ip=P6)
time.sleep(1.5)
check("a pod whose /v1/models fails is not routed to", url(P6) not in backends(), backends())
start_engine(P6)
wait_backends({url(keep): "ready", url(P4): "ready", url(P6): "ready"},
              "it is added once /v1/models answers (asked again with back-off)", timeout=20)
check("the failure was logged with the pod's name", "pod p6: " + url(P6) + "/v1/models" in router.output(),
      router.output()[-2000:])

# A pod deleted during a watch gap: the re-list removes it (production-stack's bug).
ctl(op="expire", delete=["p6"])
wait_backends({url(keep): "ready", url(P4): "ready"}, "a pod deleted in a watch gap is removed after the re-list")
before = served(P6)
complete(n=4)
check("and gets no requests", served(P6) == before)

# The API server refuses us (401): the known pods keep serving.


def outage_warnings():
    return [l for l in router.output().splitlines() if " warn " in l and "cannot list the pods" in l]


ctl(op="set_token", token="rotated-away")
ctl(op="cut")
wait_check(lambda: outage_warnings() and "HTTP 401" in outage_warnings()[0], 10,
           "the API server answering 401: a warning that names it", outage_warnings)
results = complete(n=4)
check("API answering 401: the known pods keep serving", results == [200] * 4, results)
ctl(op="add_pod", name="p7", labels=VLLM, ready=True, ip=P7)  # not seen while refused
# Never answers /v1/models: at the end the router stops with its retry pending.
ctl(op="add_pod", name="p8", labels=VLLM, ready=True, ip=P8)
time.sleep(1.5)
check("one warning per outage, not one per retry", len(outage_warnings()) == 1, outage_warnings())
check("the pod added meanwhile is not known yet", url(P7) not in backends(), backends())
ctl(op="set_token", token=TOKEN)
start_engine(P7)
wait_backends({url(keep): "ready", url(P4): "ready", url(P7): "ready"},
              "the token works again: the re-list finds the pod added meanwhile", timeout=40)
wait_check(lambda: "pods listed again" in router.output(), 5, "the recovery was logged",
           lambda: router.output()[-2000:])

# The API server is gone: the known pods keep serving, no crash.
api.proc.kill()
api.proc.wait()
wait_check(lambda: len(outage_warnings()) == 2, 10, "the API server gone: a second outage, one more warning",
           outage_warnings)
results = complete(n=4)
check("API server gone: the known pods keep serving", results == [200] * 4, results)
time.sleep(1.0)
check("the router is still running, with one warning for the outage",
      router.proc.poll() is None and len(outage_warnings()) == 2, outage_warnings())

rc = router.stop()
out = router.output()
report = any(s in out for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:"))
check("the router exits 0 on SIGTERM with no sanitizer report", rc == 0 and not report,
      f"rc={rc}\n{out[-3000:]}")
for ip, e in engines.items():
    if e.proc.poll() is None:
        e.stop()
done()
