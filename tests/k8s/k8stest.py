"""k8stest: what the Python tests of ebb on Kubernetes share.

FakeAPI starts fake_apiserver.py (a stand-in for kube-apiserver, see its
docstring) with a kubeconfig for it; FakeProm is a Prometheus whose answer
the test sets per query (or fails with 500); FakeRouter serves a /metrics
with the router's in-flight series per backend. The helpers below read the
cluster through the fake server's control endpoint: `ctl` must be set to a
FakeAPI's ctl (k8stest.ctl = api.ctl) before they are used.
"""
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from ebbtest import check, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ctl = None


class _Server:
    """An HTTP server on 127.0.0.1 in a thread, with handler class h."""

    def __init__(self, h):
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), h)
        self.srv.daemon_threads = True
        self.srv.owner = self
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def shutdown(self):
        self.srv.shutdown()


def _send(h, code, body, ctype):
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


class _PromHandler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        p = self.server.owner
        p.queries += 1
        q = parse_qs(urlsplit(self.path).query).get("query", [""])[0]
        if p.fail:
            return _send(self, 500, b'{"status":"error","error":"down"}', "application/json")
        v = p.values.get(q, 0)
        _send(self, 200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [time.time(), str(v)]}]}}).encode(), "application/json")


class FakeProm(_Server):
    """A Prometheus query API: values[query] (0 when unset), or 500 when fail."""

    def __init__(self):
        self.values, self.fail, self.queries = {}, False, 0
        super().__init__(_PromHandler)


class _RouterHandler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        r = self.server.owner
        r.scrapes += 1
        lines = ["# TYPE vllm:num_requests_running gauge"]
        for url, n in r.inflight.items():
            lines.append('vllm:num_requests_running{server="%s"} %d' % (url, n))
        _send(self, 200, ("\n".join(lines) + "\n").encode(), "text/plain; version=0.0.4")


class FakeRouter(_Server):
    """The router's /metrics: inflight[url] requests in flight per backend."""

    def __init__(self):
        self.inflight, self.scrapes = {}, 0
        super().__init__(_RouterHandler)


class FakeAPI:
    """fake_apiserver.py in tmp with token, and a kubeconfig (self.kubeconfig) for it."""

    def __init__(self, tmp, token):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_apiserver.py"),
                                      "--dir", tmp, "--token", token],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])
        self.ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.crt"))
        self.kubeconfig = os.path.join(tmp, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: {{cluster: fake, user: u}}
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:{self.port}
    certificate-authority: {tmp}/ca.crt
users:
- name: u
  user:
    token: {token}
""")

    def ctl(self, op, **kw):
        body = json.dumps(dict(op=op, **kw)).encode()
        req = urllib.request.Request("https://127.0.0.1:%d/_control" % self.port, data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
            return json.loads(r.read())

    def kill(self):
        self.proc.kill()

    def wait(self):
        self.proc.wait()


def dep_path(name, ns="default"):
    return "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, name)


def so_path(name, ns="default"):
    return "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/%s" % (ns, name)


def replicas(name, ns="default"):
    return ctl("get_object", path=dep_path(name, ns))["obj"]["spec"]["replicas"]


def so_status(name, ns="default"):
    """The status of the ScaledObject NAME-so."""
    obj = ctl("get_object", path=so_path(name + "-so", ns))["obj"]
    return (obj or {}).get("status") or {}


def cond(st, type_):
    for c in st.get("conditions", []):
        if c["type"] == type_:
            return c
    return {}


def scale_patches(name, ns="default"):
    return [r for r in ctl("records")["records"]
            if r["method"] == "PATCH" and r["path"] == dep_path(name, ns) + "/scale"]


def so_obj(name, query, ns="default", target=None, annotations=None, prom=None, **spec):
    s = {"scaleTargetRef": {"name": target or name}, "pollingInterval": 1,
         "triggers": [{"type": "prometheus", "metadata": {
             "serverAddress": prom or PROM, "query": query, "threshold": "5"}}]}
    s.update(spec)
    md = {"name": name + "-so", "namespace": ns}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": md, "spec": s}


PROM = None  # the default serverAddress of so_obj: set to a FakeProm's url


def put_so(obj):
    md = obj["metadata"]
    return ctl("put_object", path=so_path(md["name"], md["namespace"]), obj=obj)


def wait_replicas(name, n, timeout, what, ns="default"):
    try:
        wait_until(lambda: replicas(name, ns) == n, timeout, interval=0.2, what=what)
        return True
    except TimeoutError:
        return False


def stays(name, n, seconds, ns="default"):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if replicas(name, ns) != n:
            return False
        time.sleep(0.2)
    return True


def stop_clean(proc, what):
    proc.signal(signal.SIGTERM)
    rc = proc.wait(30)
    out = proc.output()
    check(what, rc == 0 and "ERROR: AddressSanitizer" not in out and "runtime error" not in out
          and "LeakSanitizer" not in out, out[-1500:])
