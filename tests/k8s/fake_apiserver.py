#!/usr/bin/env python3
"""fake_apiserver: a stand-in for kube-apiserver in ebb's tests.

No real API server can run on the machines that run these tests, so this
server speaks the parts of the real protocol that ebb's Kubernetes client
uses, as kube-apiserver speaks them:

- HTTPS with a CA and a server certificate for 127.0.0.1 made at start with
  `openssl` (in --dir: ca.crt is the CA a client must trust);
- bearer tokens: a request without `Authorization: Bearer <token>` gets a 401
  with a Status body, as the real server;
- JSON bodies shaped as the Kubernetes API returns them: objects with
  apiVersion, kind and metadata (name, namespace, uid, resourceVersion,
  creationTimestamp); lists (PodList) with metadata.resourceVersion and items;
  errors as Status objects ({"kind":"Status","apiVersion":"v1","status":
  "Failure","message":...,"reason":"Expired","code":410});
- pods: GET list with labelSelector (k=v, k!=v, k), and watch (watch=1,
  resourceVersion, allowWatchBookmarks, timeoutSeconds) as a chunked stream
  of JSON lines {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":...};
  a resourceVersion older than the compacted history gets 410 Gone (HTTP 410
  for a list, an ERROR event for a watch, as the real server);
- deployments/NAME/scale: GET, and PATCH with application/merge-patch+json
  (other content types: 415); the bodies are recorded;
- any other object path (e.g. keda.sh scaledobjects and their /status): GET,
  and PUT with optimistic concurrency (a stale metadata.resourceVersion: 409
  Conflict, as the real server).

What it does not do: field selectors, protobuf, server-side apply, watch
caches per resource (one resourceVersion counter for everything, as etcd
has), admission, RBAC (one token is all-powerful), client certificates.

The test drives it with POST /_control (no auth), a JSON body {"op":...}:
add_pod, modify_pod, delete_pod, add_deployment, put_object, bump (someone
else writes an object: the next stale PUT conflicts), expire (compact the
history; watches get ERROR 410 and end; optional "delete": pods deleted in
the gap), cut (watch connections closed mid-stream, no final chunk),
bookmark, inject (a raw line on the watches), script (the next request whose
path starts with "prefix" gets "status" and "body" as given, or with "cut"
a closed connection), set_token, records (the PATCH/PUT bodies received),
stats, reset (everything back to the start, between tests).

Usage: fake_apiserver.py --dir DIR --token TOKEN; it prints "PORT <n>" on
its first line once it listens on 127.0.0.1, and runs until killed.
"""
import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

NS = "default"
lock = threading.Condition()
state = {
    "rv": 100,
    "compacted": 0,  # resourceVersions below this are gone (410)
    "token": "",
    "pods": {},  # name -> pod
    "deployments": {},  # name -> deployment
    "objects": {},  # path -> object
    "history": [],  # (rv, line, kind): watch lines of pods, in order
    "expire_gen": 0,
    "cut_gen": 0,
    "script": [],
    "records": [],
    "stats": {"lists": 0, "watches": 0, "unauthorized": 0, "requests": 0},
}


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def next_rv():
    state["rv"] += 1
    return str(state["rv"])


def status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def make_pod(name, labels, ready=True, ip=None):
    n = len(state["pods"]) + 1
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": NS, "uid": str(uuid.uuid4()),
                     "resourceVersion": "", "labels": labels or {},
                     "creationTimestamp": now_rfc3339()},
        "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:latest"}]},
        "status": {"phase": "Running", "podIP": ip or "10.0.0.%d" % n,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "vllm", "ready": ready}]},
    }


def record_event(kind, pod):
    """Appends a watch event for pod (whose resourceVersion is set)."""
    line = json.dumps({"type": kind, "object": pod}, separators=(",", ":"))
    state["history"].append((int(pod["metadata"]["resourceVersion"]), line, pod))
    lock.notify_all()


def selector_match(sel, labels):
    if not sel:
        return True
    for term in sel.split(","):
        term = term.strip()
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v.lstrip("="):
                return False
        elif term and term not in labels:
            return False
    return True


def control(req):
    op = req.get("op")
    st = state
    if op == "add_pod":
        pod = make_pod(req["name"], req.get("labels"), req.get("ready", True), req.get("ip"))
        pod["metadata"]["resourceVersion"] = next_rv()
        st["pods"][req["name"]] = pod
        record_event("ADDED", pod)
        return {"rv": pod["metadata"]["resourceVersion"]}
    if op == "modify_pod":
        pod = json.loads(json.dumps(st["pods"][req["name"]]))
        if "labels" in req:
            pod["metadata"]["labels"] = req["labels"]
        if "ready" in req:
            pod["status"]["containerStatuses"][0]["ready"] = req["ready"]
        if req.get("terminating"):
            pod["metadata"]["deletionTimestamp"] = now_rfc3339()
        pod["metadata"]["resourceVersion"] = next_rv()
        st["pods"][req["name"]] = pod
        record_event("MODIFIED", pod)
        return {"rv": pod["metadata"]["resourceVersion"]}
    if op == "delete_pod":
        pod = st["pods"].pop(req["name"])
        pod = json.loads(json.dumps(pod))
        pod["metadata"]["resourceVersion"] = next_rv()
        record_event("DELETED", pod)
        return {"rv": pod["metadata"]["resourceVersion"]}
    if op == "expire":
        # Watches end with ERROR 410 first; then the pods named are deleted
        # in the gap and the history is compacted past them.
        st["expire_gen"] += 1
        lock.notify_all()
        for name in req.get("delete", []):
            pod = st["pods"].pop(name)
            pod["metadata"]["resourceVersion"] = next_rv()
            record_event("DELETED", pod)
        st["compacted"] = st["rv"] + 1
        st["history"] = []
        return {}
    if op == "cut":
        st["cut_gen"] += 1
        lock.notify_all()
        return {}
    if op == "bookmark":
        rv = next_rv()
        line = json.dumps({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                          "metadata": {"resourceVersion": rv}}})
        st["history"].append((int(rv), line, None))
        lock.notify_all()
        return {"rv": rv}
    if op == "inject":
        st["history"].append((st["rv"], req["line"], "raw"))
        lock.notify_all()
        return {}
    if op == "script":
        st["script"].append(req)
        return {}
    if op == "set_token":
        st["token"] = req["token"]
        return {}
    if op == "add_deployment":
        d = {"kind": "Deployment", "apiVersion": "apps/v1",
             "metadata": {"name": req["name"], "namespace": NS, "uid": str(uuid.uuid4()),
                          "resourceVersion": next_rv(), "creationTimestamp": now_rfc3339()},
             "spec": {"replicas": req.get("replicas", 1),
                      "selector": {"matchLabels": {"app": req["name"]}}},
             "status": {"replicas": req.get("replicas", 1)}}
        st["deployments"][req["name"]] = d
        return {}
    if op == "put_object":
        obj = req["obj"]
        obj.setdefault("metadata", {})["resourceVersion"] = next_rv()
        st["objects"][req["path"]] = obj
        return {"rv": obj["metadata"]["resourceVersion"]}
    if op == "bump":
        # Someone else writes the object (req["times"] times, on the next
        # reads' heels): a PUT carrying the version read before fails with 409.
        st.setdefault("bumps", {})[req["path"]] = req.get("times", 1)
        return {}
    if op == "records":
        return {"records": st["records"]}
    if op == "reset":
        st.update(pods={}, deployments={}, objects={}, history=[], script=[], records=[],
                  bumps={}, token=st["first_token"], compacted=0,
                  stats={"lists": 0, "watches": 0, "unauthorized": 0, "requests": 0})
        st["cut_gen"] += 1  # watches of the test before end
        lock.notify_all()
        return {}
    if op == "stats":
        return dict(st["stats"], rv=st["rv"], pods=sorted(st["pods"]))
    return {"error": "unknown op %r" % op}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_APISERVER_LOG"):
            sys.stderr.write("fake_apiserver: " + (fmt % args) + "\n")

    def send_json(self, code, obj, raw=None):
        body = raw.encode() if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorized(self):
        want = "Bearer " + state["token"]
        if self.headers.get("Authorization") == want:
            return True
        with lock:
            state["stats"]["unauthorized"] += 1
        self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        return False

    def scripted(self, path):
        with lock:
            for i, s in enumerate(state["script"]):
                if path.startswith(s["prefix"]):
                    del state["script"][i]
                    break
            else:
                return False
        if s.get("cut"):
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return True
        self.send_json(s["status"], None, raw=s["body"])
        return True

    def handle_one(self, method):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        body = self.read_body() if method in ("PATCH", "PUT", "POST") else b""
        if u.path == "/_control":
            with lock:
                out = control(json.loads(body))
            return self.send_json(200, out)
        with lock:
            state["stats"]["requests"] += 1
        if not self.authorized() or self.scripted(u.path):
            return
        parts = u.path.strip("/").split("/")
        if u.path == "/api/v1/namespaces/%s/pods" % NS and method == "GET":
            return self.watch(q) if q.get("watch") in ("1", "true") else self.list_pods(q)
        if (len(parts) == 8 and parts[:3] == ["apis", "apps", "v1"] and parts[5] == "deployments"
                and parts[7] == "scale"):
            return self.scale(method, parts[6], body)
        return self.generic(method, u.path, body)

    def list_pods(self, q):
        with lock:
            state["stats"]["lists"] += 1
            rv = q.get("resourceVersion")
            if rv and rv != "0" and int(rv) < state["compacted"]:
                return self.send_json(410, status(410, "Expired", "too old resource version: "
                                                  "%s (%d)" % (rv, state["compacted"])))
            items = []
            for p in state["pods"].values():
                if selector_match(q.get("labelSelector"), p["metadata"]["labels"]):
                    p = dict(p)
                    p.pop("kind")
                    p.pop("apiVersion")
                    items.append(p)
            out = {"kind": "PodList", "apiVersion": "v1",
                   "metadata": {"resourceVersion": str(state["rv"])}, "items": items}
        self.send_json(200, out)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, q):
        sel = q.get("labelSelector")
        deadline = time.time() + min(int(q.get("timeoutSeconds", "1800")), 1800)
        with lock:
            state["stats"]["watches"] += 1
            start = int(q.get("resourceVersion") or state["rv"])
            expire_gen, cut_gen = state["expire_gen"], state["cut_gen"]
            expired = start < state["compacted"]
            cursor = 0
            while cursor < len(state["history"]) and state["history"][cursor][0] <= start:
                cursor += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if expired:
            self.send_expired(start)
            return
        while True:
            with lock:
                while (cursor >= len(state["history"]) and expire_gen == state["expire_gen"]
                       and cut_gen == state["cut_gen"] and time.time() < deadline):
                    lock.wait(max(0.0, min(0.2, deadline - time.time())))
                if cut_gen != state["cut_gen"]:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if expire_gen != state["expire_gen"]:
                    break
                if cursor >= len(state["history"]):
                    break  # the timeout: a clean end
                _, line, obj = state["history"][cursor]
                cursor += 1
            if obj is None or obj == "raw" or selector_match(sel, obj["metadata"]["labels"]):
                self.chunk(line.encode() + b"\n")
        if expire_gen != state["expire_gen"]:
            self.send_expired(start)
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_expired(self, rv):
        ev = {"type": "ERROR", "object": status(410, "Expired", "too old resource version: %s (%d)"
                                                % (rv, state["compacted"]))}
        self.chunk(json.dumps(ev).encode() + b"\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def scale(self, method, name, body):
        with lock:
            d = state["deployments"].get(name)
            if not d:
                return self.send_json(404, status(404, "NotFound", 'deployments.apps "%s" not found'
                                                  % name, {"name": name, "group": "apps",
                                                           "kind": "deployments"}))
            if method == "PATCH":
                ctype = self.headers.get("Content-Type", "")
                state["records"].append({"method": method, "path": self.path,
                                         "content_type": ctype, "body": body.decode()})
                if ctype != "application/merge-patch+json":
                    return self.send_json(415, status(415, "UnsupportedMediaType",
                                                      "the body of the request was in an unknown "
                                                      "format - accepted media types include: "
                                                      "application/merge-patch+json"))
                try:
                    patch = json.loads(body)
                    replicas = patch["spec"]["replicas"]
                    assert isinstance(replicas, int) and replicas >= 0
                except Exception:
                    return self.send_json(422, status(422, "Invalid", "invalid scale patch"))
                d["spec"]["replicas"] = replicas
                d["status"]["replicas"] = replicas
                d["metadata"]["resourceVersion"] = next_rv()
            elif method != "GET":
                return self.send_json(405, status(405, "MethodNotAllowed", "method not allowed"))
            md = d["metadata"]
            out = {"kind": "Scale", "apiVersion": "autoscaling/v1",
                   "metadata": {"name": md["name"], "namespace": NS, "uid": md["uid"],
                                "resourceVersion": md["resourceVersion"],
                                "creationTimestamp": md["creationTimestamp"]},
                   "spec": {"replicas": d["spec"]["replicas"]},
                   "status": {"replicas": d["status"]["replicas"], "selector": "app=" + name}}
        self.send_json(200, out)

    def generic(self, method, path, body):
        with lock:
            obj = state["objects"].get(path)
            segs = path.rstrip("/").split("/")
            name = segs[-2] if segs[-1] in ("status", "scale") else segs[-1]
            if obj is None:
                return self.send_json(404, status(404, "NotFound", '"%s" not found' % name))
            if method == "GET":
                out = json.loads(json.dumps(obj))
                if state.get("bumps", {}).get(path):
                    # A concurrent writer moves the object on after this read.
                    state["bumps"][path] -= 1
                    obj["metadata"]["resourceVersion"] = next_rv()
                return self.send_json(200, out)
            if method != "PUT":
                return self.send_json(405, status(405, "MethodNotAllowed", "method not allowed"))
            state["records"].append({"method": method, "path": path, "body": body.decode(),
                                     "content_type": self.headers.get("Content-Type", "")})
            try:
                new = json.loads(body)
                rv = new["metadata"]["resourceVersion"]
            except Exception:
                return self.send_json(400, status(400, "BadRequest", "invalid object"))
            if rv != obj["metadata"]["resourceVersion"]:
                return self.send_json(409, status(
                    409, "Conflict", 'Operation cannot be fulfilled on scaledobjects.keda.sh "%s": '
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again" % name, {"name": name, "group": "keda.sh",
                                                     "kind": "scaledobjects"}))
            new["metadata"]["resourceVersion"] = next_rv()
            state["objects"][path] = new
        self.send_json(200, new)

    def do_GET(self):
        self.handle_one("GET")

    def do_PATCH(self):
        self.handle_one("PATCH")

    def do_PUT(self):
        self.handle_one("PUT")

    def do_POST(self):
        self.handle_one("POST")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that refuses the certificate or hangs up is part of the
        # tests; only say so when asked.
        if os.environ.get("FAKE_APISERVER_LOG"):
            super().handle_error(request, client_address)


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=d,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=fake-apiserver-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--token", required=True)
    a = ap.parse_args()
    state["token"] = state["first_token"] = a.token
    if not os.path.exists(os.path.join(a.dir, "server.crt")):
        make_certs(a.dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(a.dir, "server.crt"), os.path.join(a.dir, "server.key"))
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    print("PORT %d" % httpd.server_address[1], flush=True)
    # Die with the test: a test that crashes or is killed must not leave this
    # server holding the test runner's output pipe open.
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)
    threading.Thread(target=watch_parent, daemon=True).start()
    httpd.serve_forever()


if __name__ == "__main__":
    main()
