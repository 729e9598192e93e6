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
- every resource alike, under /api/v1 and /apis/GROUP/VERSION, namespaced
  (/namespaces/NS/RES) or across namespaces (/RES, lists and watches only):
  pods, deployments, keda.sh scaledobjects, coordination.k8s.io leases,
  events, anything else;
- a collection: GET list with labelSelector (k=v, k!=v, k), and watch
  (watch=1, resourceVersion, allowWatchBookmarks, timeoutSeconds) as a
  chunked stream of JSON lines {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|
  ERROR","object":...}; a resourceVersion older than the compacted history
  gets 410 Gone (HTTP 410 for a list, an ERROR event for a watch, as the real
  server); an object relabelled into or out of a watch's selector is ADDED
  or DELETED for that watch, as the real server's watch cache sends them;
  POST creates (201; 409 AlreadyExists; generateName);
- an object: GET; PUT with optimistic concurrency (a stale
  metadata.resourceVersion: 409 Conflict, as the real server); PATCH with
  application/merge-patch+json (or strategic-merge-patch+json, applied as a
  merge patch; other content types: 415); DELETE; its /status subresource
  (PUT and PATCH there write the status only, and writes of the object keep
  its status, for kinds with a status subresource);
- deployments|statefulsets/NAME/scale: GET, and PATCH with
  application/merge-patch+json (other content types: 415), as autoscaling/v1
  Scale objects; the write is a MODIFIED event of the deployment;
- every POST, PUT, PATCH and DELETE is recorded (method, path, content type,
  body).

What it does not do: field selectors, protobuf, server-side apply, watch
caches per resource (one resourceVersion counter for everything, as etcd
has), admission, RBAC (one token is all-powerful), client certificates.

The test drives it with POST /_control (no auth), a JSON body {"op":...}:
add_pod, modify_pod, delete_pod, add_deployment, put_object (create or
replace, watches told), delete_object, get_object, list_objects, bump (someone
else writes an object: the next stale PUT conflicts), expire (compact the
history; watches get ERROR 410 and end; optional "delete": pods deleted in
the gap; object paths may be named too), cut (watch connections closed mid-stream, no final chunk),
bookmark, inject (a raw line on the watches), script (the next request whose
path starts with "prefix", and whose method is "method" if given, gets "status" and "body" as given, or with "cut"
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
    "objects": {},  # object path (no subresource) -> object, with kind and apiVersion
    "history": [],  # (rv, line, obj, collection): watch lines, in order
    "expire_gen": 0,
    "cut_gen": 0,
    "script": [],
    "records": [],
    "bumps": {},
    "stats": {"lists": 0, "watches": 0, "unauthorized": 0, "requests": 0},
}

# resource -> (kind, has a status subresource)
KINDS = {
    "pods": ("Pod", True), "deployments": ("Deployment", True),
    "statefulsets": ("StatefulSet", True), "scaledobjects": ("ScaledObject", True),
    "leases": ("Lease", False), "events": ("Event", False),
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


class Ref:
    """A request path taken apart: /api/v1[/namespaces/NS]/RES[/NAME[/SUB]] or
    /apis/GROUP/VERSION[/namespaces/NS]/RES[/NAME[/SUB]]."""

    def __init__(self, path):
        segs = [x for x in path.split("/") if x]
        self.ok = False
        if len(segs) >= 3 and segs[0] == "api":
            self.group, self.gv, rest = "", segs[1], segs[2:]
        elif len(segs) >= 4 and segs[0] == "apis":
            self.group, self.gv, rest = segs[1], segs[1] + "/" + segs[2], segs[3:]
        else:
            return
        self.ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            self.ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            return
        self.res = rest[0]
        self.name = rest[1] if len(rest) > 1 else None
        self.sub = rest[2] if len(rest) > 2 else None
        self.ok = True

    def prefix(self):
        return ("/api/" if not self.group else "/apis/") + self.gv

    def key(self, name=None, ns=None):
        """The object path: where the object is stored."""
        return "%s/namespaces/%s/%s/%s" % (self.prefix(), ns or self.ns or NS, self.res,
                                           name or self.name)

    def collection(self):
        return (self.gv, self.res, self.ns)

    def qualified(self):
        return self.res + ("." + self.group if self.group else "")


def object_key(path):
    r = Ref(path)
    return r.key() if r.ok and r.name else path


def in_collection(coll, obj_coll):
    gv, res, ns = coll
    return gv == obj_coll[0] and res == obj_coll[1] and (ns is None or ns == obj_coll[2])


def record_event(kind, obj, key, old=None):
    """Appends a watch event for obj (whose resourceVersion is set), stored at
    key; old: the object before a MODIFIED, for watches with a selector."""
    r = Ref(key)
    line = json.dumps({"type": kind, "object": obj}, separators=(",", ":"))
    state["history"].append((int(obj["metadata"]["resourceVersion"]), line, obj,
                             (r.gv, r.res, r.ns), old))
    lock.notify_all()


def store(key, obj, kind="MODIFIED"):
    """Writes obj at key with a new resourceVersion and tells the watches."""
    obj = json.loads(json.dumps(obj))
    obj["metadata"]["resourceVersion"] = next_rv()
    old = state["objects"].get(key)
    state["objects"][key] = obj
    record_event(kind, obj, key, old)
    return obj


def create(ref, obj):
    md = obj.setdefault("metadata", {})
    if not md.get("name") and md.get("generateName"):
        md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
    md["namespace"] = ref.ns or md.get("namespace") or NS
    md.setdefault("uid", str(uuid.uuid4()))
    md.setdefault("creationTimestamp", now_rfc3339())
    if "kind" not in obj:
        obj["kind"] = KINDS.get(ref.res, (ref.res.capitalize(), False))[0]
    obj.setdefault("apiVersion", ref.gv)
    return store(ref.key(md["name"], md["namespace"]), obj, "ADDED")


def delete(key):
    obj = state["objects"].pop(key)
    obj = json.loads(json.dumps(obj))
    obj["metadata"]["resourceVersion"] = next_rv()
    record_event("DELETED", obj, key)
    return obj


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def pod_key(name, ns=None):
    return "/api/v1/namespaces/%s/pods/%s" % (ns or NS, name)


def make_pod(name, labels, ready=True, ip=None, ns=None):
    n = sum(1 for k in state["objects"] if "/pods/" in k) + 1
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": ns or NS, "uid": str(uuid.uuid4()),
                     "resourceVersion": "", "labels": labels or {},
                     "creationTimestamp": now_rfc3339()},
        "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:latest"}]},
        "status": {"phase": "Running", "podIP": ip or "10.0.0.%d" % n,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "vllm", "ready": ready}]},
    }


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
        pod = make_pod(req["name"], req.get("labels"), req.get("ready", True), req.get("ip"),
                       req.get("namespace"))
        pod = store(pod_key(req["name"], req.get("namespace")), pod, "ADDED")
        return {"rv": pod["metadata"]["resourceVersion"]}
    if op == "modify_pod":
        key = pod_key(req["name"], req.get("namespace"))
        pod = json.loads(json.dumps(st["objects"][key]))
        if "labels" in req:
            pod["metadata"]["labels"] = req["labels"]
        if "ready" in req:
            pod["status"]["containerStatuses"][0]["ready"] = req["ready"]
        if req.get("terminating"):
            pod["metadata"]["deletionTimestamp"] = now_rfc3339()
        pod = store(key, pod)
        return {"rv": pod["metadata"]["resourceVersion"]}
    if op == "delete_pod":
        pod = delete(pod_key(req["name"], req.get("namespace")))
        return {"rv": pod["metadata"]["resourceVersion"]}
    if op == "expire":
        # Watches end with ERROR 410 first; then the pods (or object paths)
        # named are deleted in the gap and the history is compacted past them.
        st["expire_gen"] += 1
        lock.notify_all()
        for name in req.get("delete", []):
            delete(name if name.startswith("/") else pod_key(name))
        st["compacted"] = st["rv"]  # the newest version is still good to watch from
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
        st["history"].append((int(rv), line, None, None, None))
        lock.notify_all()
        return {"rv": rv}
    if op == "inject":
        st["history"].append((st["rv"], req["line"], "raw", None, None))
        lock.notify_all()
        return {}
    if op == "script":
        st["script"].append(req)
        return {}
    if op == "set_token":
        st["token"] = req["token"]
        return {}
    if op == "add_deployment":
        ns = req.get("namespace") or NS
        d = {"kind": "Deployment", "apiVersion": "apps/v1",
             "metadata": {"name": req["name"], "namespace": ns, "uid": str(uuid.uuid4()),
                          "creationTimestamp": now_rfc3339()},
             "spec": {"replicas": req.get("replicas", 1),
                      "selector": {"matchLabels": {"app": req["name"]}}},
             "status": {"replicas": req.get("replicas", 1)}}
        store("/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, req["name"]), d, "ADDED")
        return {}
    if op == "put_object":
        # Creates or replaces the object at path (a /status suffix is the
        # object's); watches see ADDED or MODIFIED.
        key = object_key(req["path"])
        obj = req["obj"]
        obj.setdefault("metadata", {})
        r = Ref(key)
        if r.ok:
            obj["metadata"].setdefault("name", r.name)
            obj["metadata"].setdefault("namespace", r.ns)
        old = st["objects"].get(key, {}).get("metadata", {})  # an update keeps these
        obj["metadata"].setdefault("uid", old.get("uid") or str(uuid.uuid4()))
        obj["metadata"].setdefault("creationTimestamp", old.get("creationTimestamp") or
                                   now_rfc3339())
        obj = store(key, obj, "MODIFIED" if key in st["objects"] else "ADDED")
        return {"rv": obj["metadata"]["resourceVersion"]}
    if op == "delete_object":
        obj = delete(object_key(req["path"]))
        return {"rv": obj["metadata"]["resourceVersion"]}
    if op == "get_object":
        return {"obj": st["objects"].get(object_key(req["path"]))}
    if op == "list_objects":
        # Every stored object whose path starts with prefix, by path.
        return {"objects": {k: v for k, v in st["objects"].items()
                            if k.startswith(req.get("prefix", "/"))}}
    if op == "bump":
        # Someone else writes the object (req["times"] times, on the next
        # reads' heels): a PUT carrying the version read before fails with 409.
        st["bumps"][object_key(req["path"])] = req.get("times", 1)
        return {}
    if op == "records":
        return {"records": st["records"]}
    if op == "reset":
        st.update(objects={}, history=[], script=[], records=[], bumps={},
                  token=st["first_token"], compacted=0,
                  stats={"lists": 0, "watches": 0, "unauthorized": 0, "requests": 0})
        st["cut_gen"] += 1  # watches of the test before end
        lock.notify_all()
        return {}
    if op == "stats":
        pods = sorted(k.rsplit("/", 1)[1] for k in st["objects"]
                      if k.startswith("/api/v1/namespaces/%s/pods/" % NS))
        return dict(st["stats"], rv=st["rv"], pods=pods)
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
                if path.startswith(s["prefix"]) and s.get("method", self.command) == self.command:
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
        ref = Ref(u.path)
        if not ref.ok:
            return self.send_json(404, status(404, "NotFound", "the server could not find the "
                                              "requested resource"))
        if method in ("PATCH", "PUT", "POST", "DELETE"):
            with lock:
                state["records"].append({"method": method, "path": self.path,
                                         "content_type": self.headers.get("Content-Type", ""),
                                         "body": body.decode(errors="replace")})
        if ref.name is None:
            if method == "GET":
                return self.watch(ref, q) if q.get("watch") in ("1", "true") else \
                    self.list(ref, q)
            if method == "POST":
                return self.create(ref, body)
            return self.send_json(405, status(405, "MethodNotAllowed", "method not allowed"))
        if ref.sub == "scale" and ref.res in ("deployments", "statefulsets"):
            return self.scale(method, ref, body)
        if ref.sub not in (None, "status"):
            return self.send_json(404, status(404, "NotFound", "the server could not find the "
                                              "requested resource"))
        return self.object(method, ref, body)

    def not_found(self, ref):
        return self.send_json(404, status(404, "NotFound", '%s "%s" not found'
                                          % (ref.qualified(), ref.name),
                                          {"name": ref.name, "group": ref.group,
                                           "kind": ref.res}))

    def list(self, ref, q):
        with lock:
            state["stats"]["lists"] += 1
            rv = q.get("resourceVersion")
            if rv and rv != "0" and int(rv) < state["compacted"]:
                return self.send_json(410, status(410, "Expired", "too old resource version: "
                                                  "%s (%d)" % (rv, state["compacted"])))
            items = []
            for key, o in state["objects"].items():
                r = Ref(key)
                if (in_collection(ref.collection(), (r.gv, r.res, r.ns))
                        and selector_match(q.get("labelSelector"),
                                           o["metadata"].get("labels") or {})):
                    o = dict(o)
                    o.pop("kind", None)
                    o.pop("apiVersion", None)
                    items.append(o)
            out = {"kind": KINDS.get(ref.res, (ref.res.capitalize(), False))[0] + "List",
                   "apiVersion": ref.gv,
                   "metadata": {"resourceVersion": str(state["rv"])}, "items": items}
        self.send_json(200, out)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, ref, q):
        sel = q.get("labelSelector")
        coll = ref.collection()
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
                _, line, obj, where, old = state["history"][cursor]
                cursor += 1
            if obj is None or obj == "raw":
                self.chunk(line.encode() + b"\n")
                continue
            if not in_collection(coll, where):
                continue
            now_in = selector_match(sel, obj["metadata"].get("labels") or {})
            was_in = now_in if old is None else selector_match(
                sel, old["metadata"].get("labels") or {})
            if now_in and not was_in:  # relabelled into the selector: ADDED, as the real server
                line = json.dumps({"type": "ADDED", "object": obj}, separators=(",", ":"))
            elif was_in and not now_in:  # out of it: DELETED
                line = json.dumps({"type": "DELETED", "object": obj}, separators=(",", ":"))
            elif not now_in:
                continue
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

    def parse_body(self, body):
        try:
            obj = json.loads(body)
            assert isinstance(obj, dict)
            return obj
        except Exception:
            self.send_json(400, status(400, "BadRequest", "the body is not a JSON object"))
            return None

    def conflict(self, ref):
        return self.send_json(409, status(
            409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been '
            "modified; please apply your changes to the latest version and try again"
            % (ref.qualified(), ref.name), {"name": ref.name, "group": ref.group,
                                            "kind": ref.res}))

    def create(self, ref, body):
        obj = self.parse_body(body)
        if obj is None:
            return
        with lock:
            md = obj.get("metadata") or {}
            name = md.get("name")
            if name and ref.key(name, ref.ns or md.get("namespace")) in state["objects"]:
                return self.send_json(409, status(
                    409, "AlreadyExists", '%s "%s" already exists' % (ref.qualified(), name),
                    {"name": name, "group": ref.group, "kind": ref.res}))
            if not name and not md.get("generateName"):
                return self.send_json(422, status(422, "Invalid", "metadata.name: Required "
                                                  "value: name or generateName is required"))
            if KINDS.get(ref.res, ("", False))[1]:
                obj.pop("status", None)  # a kind with a status subresource starts without one
            out = create(ref, obj)
        self.send_json(201, out)

    def object(self, method, ref, body):
        """GET, PUT, PATCH and DELETE of one object or its /status."""
        key = ref.key()
        with lock:
            obj = state["objects"].get(key)
            if obj is None:
                return self.not_found(ref)
            if method == "GET":
                out = json.loads(json.dumps(obj))
                if state["bumps"].get(key):
                    # A concurrent writer moves the object on after this read.
                    state["bumps"][key] -= 1
                    obj["metadata"]["resourceVersion"] = next_rv()
                return self.send_json(200, out)
            if method == "DELETE":
                return self.send_json(200, delete(key))
            has_status = KINDS.get(ref.res, ("", False))[1]
            if method == "PUT":
                new = self.parse_body(body)
                if new is None:
                    return
                if (new.get("metadata") or {}).get("resourceVersion") != \
                        obj["metadata"]["resourceVersion"]:
                    return self.conflict(ref)
            elif method == "PATCH":
                ctype = self.headers.get("Content-Type", "")
                if ctype not in ("application/merge-patch+json",
                                 "application/strategic-merge-patch+json"):
                    return self.send_json(415, status(
                        415, "UnsupportedMediaType", "the body of the request was in an unknown "
                        "format - accepted media types include: application/json-patch+json, "
                        "application/merge-patch+json, application/apply-patch+yaml"))
                patch = self.parse_body(body)
                if patch is None:
                    return
                want = (patch.get("metadata") or {}).get("resourceVersion")
                if want and want != obj["metadata"]["resourceVersion"]:
                    return self.conflict(ref)
                new = merge_patch(json.loads(json.dumps(obj)), patch)
            else:
                return self.send_json(405, status(405, "MethodNotAllowed", "method not allowed"))
            if ref.sub == "status":
                # The status subresource writes the status and nothing else.
                new = dict(json.loads(json.dumps(obj)), status=new.get("status"))
            elif has_status:
                new["status"] = obj.get("status")
            for k in ("name", "namespace", "uid", "creationTimestamp"):
                new.setdefault("metadata", {})[k] = obj["metadata"].get(k)
            new.setdefault("kind", obj.get("kind"))
            new.setdefault("apiVersion", obj.get("apiVersion"))
            out = store(key, new)
        self.send_json(200, out)

    def scale(self, method, ref, body):
        key = ref.key()
        with lock:
            d = state["objects"].get(key)
            if not d:
                return self.send_json(404, status(404, "NotFound", '%s "%s" not found'
                                                  % (ref.qualified(), ref.name),
                                                  {"name": ref.name, "group": ref.group,
                                                   "kind": ref.res}))
            if method == "PATCH":
                ctype = self.headers.get("Content-Type", "")
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
                d = json.loads(json.dumps(d))
                d["spec"]["replicas"] = replicas
                d.setdefault("status", {})["replicas"] = replicas
                d = store(key, d)
            elif method != "GET":
                return self.send_json(405, status(405, "MethodNotAllowed", "method not allowed"))
            md = d["metadata"]
            sel = ",".join("%s=%s" % kv for kv in sorted(
                d["spec"].get("selector", {}).get("matchLabels", {}).items()))
            out = {"kind": "Scale", "apiVersion": "autoscaling/v1",
                   "metadata": {"name": md["name"], "namespace": md["namespace"],
                                "uid": md["uid"], "resourceVersion": md["resourceVersion"],
                                "creationTimestamp": md["creationTimestamp"]},
                   "spec": {"replicas": d["spec"]["replicas"]},
                   "status": {"replicas": d.get("status", {}).get("replicas", 0),
                              "selector": sel}}
        self.send_json(200, out)

    def do_GET(self):
        self.handle_one("GET")

    def do_PATCH(self):
        self.handle_one("PATCH")

    def do_PUT(self):
        self.handle_one("PUT")

    def do_POST(self):
        self.handle_one("POST")

    def do_DELETE(self):
        self.handle_one("DELETE")


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
    # P-256 keys: made in milliseconds where RSA takes a second or more on a
    # busy machine, with many of these servers starting at once in the suite.
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    run("req", "-x509", *ec, "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=fake-apiserver-ca")
    run("req", *ec, "-nodes", "-keyout", "server.key", "-out", "server.csr",
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
