#!/usr/bin/env python3
"""`ebb autoscaler --kubernetes` against fake_apiserver.py (a stand-in for
kube-apiserver: TLS, tokens, list/watch, /scale, /status, 409) and a fake
Prometheus whose answers the test sets per query (or fails with 500).

One autoscaler process watches every namespace; each scenario uses its own
ScaledObject and Deployment, so they do not disturb one another:
load 1 -> N and back; scale to zero and from zero; the status KEDA writes
(conditions, lastActiveTime, originalReplicaCount, ...); an invalid object
(Ready=False ScaledObjectCheckFailed, nothing scaled); a spec change; a
status-only change (no reset); the pause annotations; a deleted object (no
more scaling); the API server failing (401s after a token change, 500s, cut
watches) and Prometheus failing (no scale to zero, recovery after); a 409 on
a status write (read again, retried); a clean SIGTERM exit.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from ebbtest import Process, check, done, free_port, request, wait_until  # noqa: E402
import k8stest  # noqa: E402
from k8stest import (FakeAPI, FakeProm, cond, dep_path, put_so, replicas, scale_patches,  # noqa: E402
                     so_obj, so_path, so_status, stays, stop_clean, wait_replicas)

ebb = os.path.abspath(sys.argv[1])
tmp = tempfile.mkdtemp(prefix="ebb-k8s-as-")
TOKEN = "first-token"

prom = FakeProm()
PROM = prom.url
api = FakeAPI(tmp, TOKEN)
ctl = api.ctl
kubeconfig = api.kubeconfig
k8stest.ctl = ctl
k8stest.PROM = PROM

try:
    # ---------- --help and usage ----------
    r = subprocess.run([ebb, "autoscaler", "--help"], capture_output=True, text=True, timeout=10)
    check("--help explains --kubernetes, --kubeconfig and --namespace",
          r.returncode == 0 and all(f in r.stdout for f in ("--kubernetes", "--kubeconfig",
                                                             "--namespace")), r.stdout[-400:])
    r = subprocess.run([ebb, "autoscaler", "--namespace", "x"], capture_output=True, text=True,
                       timeout=10)
    check("--namespace without --kubernetes is a usage error", r.returncode == 2, r.stderr)

    # Objects that exist before ebb starts: listed at start.
    ctl("add_deployment", name="web", replicas=1)
    put_so(so_obj("web", "q_web", minReplicaCount=1, maxReplicaCount=5))

    port = free_port()
    asc = Process([ebb, "autoscaler", "--kubernetes", "--kubeconfig", kubeconfig,
                   "--port", str(port), "--hpa-sync-period", "1",
                   "--horizontal-pod-autoscaler-downscale-stabilization", "2",
                   "--log-level", "debug"], name="autoscaler")
    wait_until(lambda: request("GET", port, "/health")[0] == 200, 30, interval=0.1,
               what="the autoscaler's control port")

    # ---------- 1 -> N on load, and back ----------
    wait_until(lambda: cond(so_status("web"), "Ready").get("status") == "True"
               and "originalReplicaCount" in so_status("web"), 20,
               what="web-so's status Ready=True after a first read of the target")
    st = so_status("web")
    check("status: scaleTargetKind, scaleTargetGVKR, externalMetricNames, hpaName as KEDA",
          st.get("scaleTargetKind") == "apps/v1.Deployment"
          and st.get("scaleTargetGVKR") == {"group": "apps", "version": "v1",
                                            "kind": "Deployment", "resource": "deployments"}
          and st.get("externalMetricNames") == ["s0-prometheus"]
          and st.get("hpaName") == "keda-hpa-web-so", json.dumps(st))
    check("status: originalReplicaCount is the replicas ebb found",
          st.get("originalReplicaCount") == 1, json.dumps(st))
    check("status: conditions Ready, Active, Fallback, Paused with reasons and messages",
          [c["type"] for c in st["conditions"]] == ["Ready", "Active", "Fallback", "Paused"]
          and all(c.get("reason") and c.get("message") for c in st["conditions"]),
          json.dumps(st))
    prom.values["q_web"] = 20
    check("load: the Deployment's /scale is PATCHed 1 -> 4 (ceil(20/5))",
          wait_replicas("web", 4, 20, "web at 4"), str(replicas("web")))
    p = scale_patches("web")
    check("the write is a merge patch of spec.replicas on /scale",
          p and p[0]["content_type"] == "application/merge-patch+json"
          and json.loads(p[0]["body"]) == {"spec": {"replicas": 4}}, json.dumps(p[:1]))
    wait_until(lambda: so_status("web").get("lastActiveTime"), 10, what="lastActiveTime")
    st = so_status("web")
    check("status: Active=True ScalerActive and lastActiveTime while the trigger is active",
          cond(st, "Active").get("status") == "True"
          and cond(st, "Active").get("reason") == "ScalerActive"
          and st.get("lastActiveTime", "").endswith("Z"), json.dumps(st))
    prom.values["q_web"] = 0
    check("idle: back to minReplicaCount 1 after the stabilization window",
          wait_replicas("web", 1, 30, "web back at 1"), str(replicas("web")))

    # ---------- a status-only change keeps the state ----------
    obj = ctl("get_object", path=so_path("web-so"))["obj"]
    obj["status"]["somebodyElse"] = "was here"
    ctl("put_object", path=so_path("web-so"), obj=obj)
    time.sleep(1.5)
    check("a status-only change does not reset the object",
          "default/web-so changed" not in asc.output(), asc.output()[-600:])

    # ---------- a spec change takes effect ----------
    put_so(so_obj("web", "q_web", minReplicaCount=1, maxReplicaCount=2))
    prom.values["q_web"] = 20
    check("a spec change (maxReplicaCount 2) takes effect: 1 -> 2, not 4",
          wait_replicas("web", 2, 20, "web at 2") and stays("web", 2, 3), str(replicas("web")))
    check("the spec change restarted that object's state (logged)",
          "default/web-so changed; its state starts again" in asc.output())
    prom.values["q_web"] = 0

    # ---------- scale to zero and from zero, in another namespace ----------
    ctl("add_deployment", name="zero", namespace="team-a", replicas=1)
    put_so(so_obj("zero", "q_zero", ns="team-a", minReplicaCount=0, maxReplicaCount=3,
                  cooldownPeriod=2))
    check("idle at minReplicaCount 0: scaled to zero after cooldownPeriod",
          wait_replicas("zero", 0, 20, "zero at 0", ns="team-a"), str(replicas("zero", "team-a")))
    try:
        wait_until(lambda: cond(so_status("zero", "team-a"), "Active").get("status") == "False"
                   and so_status("zero", "team-a").get("originalReplicaCount") == 1, 10,
                   what="zero-so's status")
    except TimeoutError:
        pass
    st = so_status("zero", "team-a")
    check("the object of namespace team-a got its own status (Active False, original 1)",
          cond(st, "Active").get("status") == "False" and st.get("originalReplicaCount") == 1,
          json.dumps(st))
    prom.values["q_zero"] = 3
    check("activity at zero: scaled from zero to 1",
          wait_replicas("zero", 1, 20, "zero at 1", ns="team-a"))

    # ---------- the same name in two namespaces ----------
    ctl("add_deployment", name="web", namespace="team-a", replicas=1)
    put_so(so_obj("web", "q_web_a", ns="team-a", minReplicaCount=1, maxReplicaCount=3))
    prom.values["q_web_a"] = 12
    check("team-a/web-so beside default/web-so: each scales its own namespace's web",
          wait_replicas("web", 3, 20, "team-a/web at 3", ns="team-a")
          and not [p for p in scale_patches("web") if json.loads(p["body"])["spec"]["replicas"] == 3],
          "%s %s" % (replicas("web", "team-a"), replicas("web")))
    prom.values["q_web_a"] = 0

    # ---------- Prometheus failing: no scale to zero ----------
    prom.values["q_zero"] = 0
    prom.fail = True
    check("Prometheus failing: no scale to zero on errors (cooldown passed twice)",
          stays("zero", 1, 5, ns="team-a"), str(replicas("zero", "team-a")))
    wait_until(lambda: cond(so_status("zero", "team-a"), "Ready").get("reason") == "TriggerError",
               10, what="Ready TriggerError")
    check("status: Ready=False TriggerError while the trigger fails",
          cond(so_status("zero", "team-a"), "Ready").get("status") == "False")
    prom.fail = False
    check("Prometheus back: idle scales to zero again",
          wait_replicas("zero", 0, 20, "zero at 0 again", ns="team-a"))

    # ---------- an invalid object ----------
    ctl("add_deployment", name="bad", replicas=2)
    bad = so_obj("bad", "q_bad")
    bad["spec"]["triggers"][0]["metadata"]["threshold"] = "five"
    put_so(bad)
    wait_until(lambda: cond(so_status("bad"), "Ready").get("status") == "False", 15,
               what="bad-so Ready=False")
    c = cond(so_status("bad"), "Ready")
    check("invalid: Ready=False ScaledObjectCheckFailed with the decoder's message",
          c.get("reason") == "ScaledObjectCheckFailed" and "threshold" in c.get("message", ""),
          json.dumps(c))
    check("invalid: logged with its namespace/name",
          "scaledobject default/bad-so is invalid" in asc.output())
    prom.values["q_bad"] = 100
    check("invalid: nothing scaled", stays("bad", 2, 3) and not scale_patches("bad"))
    bad["spec"]["triggers"][0]["metadata"]["threshold"] = "50"
    put_so(bad)
    check("fixed: the object runs (100/50 -> 2 stays, Ready=True)",
          wait_until(lambda: cond(so_status("bad"), "Ready").get("status") == "True", 15,
                     what="bad-so fixed"))

    # ---------- pause annotations ----------
    ctl("add_deployment", name="pause", replicas=1)
    put_so(so_obj("pause", "q_pause", minReplicaCount=1, maxReplicaCount=5,
                  annotations={"autoscaling.keda.sh/paused-replicas": "3"}))
    check("paused-replicas: 3 -> the target is set to 3",
          wait_replicas("pause", 3, 15, "pause at 3"))
    prom.values["q_pause"] = 25
    check("paused-replicas: it stays there whatever the metric", stays("pause", 3, 3))
    st = so_status("pause")
    check("status: Paused=True ScaledObjectPaused and pausedReplicaCount 3",
          cond(st, "Paused").get("status") == "True"
          and cond(st, "Paused").get("reason") == "ScaledObjectPaused"
          and st.get("pausedReplicaCount") == 3, json.dumps(st))
    put_so(so_obj("pause", "q_pause", minReplicaCount=1, maxReplicaCount=5,
                  annotations={"autoscaling.keda.sh/paused": "true"}))
    check("paused: true stops where it is (3, with a metric asking for 5)", stays("pause", 3, 4))
    put_so(so_obj("pause", "q_pause", minReplicaCount=1, maxReplicaCount=5))
    check("unpaused: scaling resumes (-> 5)", wait_replicas("pause", 5, 20, "pause at 5"))
    wait_until(lambda: cond(so_status("pause"), "Paused").get("status") == "False", 10,
               what="Paused=False")
    check("status: Paused=False after the annotation is removed", True)

    # ---------- a 409 on the status write ----------
    wait_until(lambda: cond(so_status("pause"), "Active").get("status") == "True", 20,
               what="pause-so Active=True in its status")
    before = [r for r in ctl("records")["records"]
              if r["method"] == "PUT" and r["path"] == so_path("pause-so") + "/status"]
    ctl("bump", path=so_path("pause-so"), times=2)
    prom.values["q_pause"] = 0  # Active True -> False: a status change
    wait_until(lambda: cond(so_status("pause"), "Active").get("status") == "False", 20,
               what="pause-so Active=False written despite 409s")
    after = [r for r in ctl("records")["records"]
             if r["method"] == "PUT" and r["path"] == so_path("pause-so") + "/status"]
    check("a 409 on the status write: read again and retried until written",
          len(after) - len(before) >= 3, "%d PUTs" % (len(after) - len(before)))

    # ---------- the API server failing ----------
    ctl("add_deployment", name="api", replicas=1)
    put_so(so_obj("api", "q_api", minReplicaCount=0, maxReplicaCount=3, cooldownPeriod=2))
    prom.values["q_api"] = 3
    wait_until(lambda: cond(so_status("api"), "Active").get("status") == "True", 15,
               what="api-so active")
    ctl("set_token", token="rotated-token")  # every request of ebb now gets 401
    prom.values["q_api"] = 0
    check("401s: no scale to zero while the target cannot be read", stays("api", 1, 5),
          str(replicas("api")))
    check("401s: logged, the informer retrying",
          "HTTP 401" in asc.output() and "cannot read Deployment api" in asc.output())
    ctl("set_token", token=TOKEN)
    check("the token works again: scaling recovers (idle -> 0)",
          wait_replicas("api", 0, 30, "api at 0"))
    prom.values["q_api"] = 3
    wait_replicas("api", 1, 20, "api at 1")
    for _ in range(20):
        ctl("script", prefix=dep_path("api"), status=500,
            body='{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd down",'
                 '"reason":"InternalError","code":500}')
    prom.values["q_api"] = 0
    check("500s on the target: no scale to zero", stays("api", 1, 4), str(replicas("api")))
    check("500s are logged", "etcd down" in asc.output())
    ctl("cut")
    check("after the 500s and a cut watch, scaling recovers (idle -> 0)",
          wait_replicas("api", 0, 40, "api at 0 again"))
    prom.values["q_api"] = 3
    check("the objects keep working across the re-list: 0 -> 1",
          wait_replicas("api", 1, 20, "api at 1 again"))

    # ---------- deleted: no more scaling ----------
    ctl("delete_object", path=so_path("api-so"))
    time.sleep(1.5)
    n = len(scale_patches("api"))
    prom.values["q_api"] = 50
    check("deleted: the Deployment is left as it is, and no longer scaled",
          stays("api", 1, 4) and len(scale_patches("api")) == n)
    check("deleted: logged", "default/api-so was deleted" in asc.output())

    st, _, body = request("GET", port, "/status")
    names = [o["name"] for o in json.loads(body)["scaledObjects"]]
    check("/status lists the cluster's objects, without the deleted one",
          "web-so" in names and "zero-so" in names and "api-so" not in names, str(names))

    stop_clean(asc, "SIGTERM: exit 0, no sanitizer report")

    # ---------- -f files with --kubernetes, and --namespace ----------
    ctl("add_deployment", name="filedep", namespace="files", replicas=1)
    sofile = os.path.join(tmp, "so.yaml")
    with open(sofile, "w") as f:
        f.write(f"""apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: file-so, namespace: files}}
spec:
  scaleTargetRef: {{name: filedep}}
  pollingInterval: 1
  minReplicaCount: 1
  maxReplicaCount: 3
  triggers:
  - type: prometheus
    metadata: {{serverAddress: "{PROM}", query: q_file, threshold: "5"}}
""")
    port2 = free_port()
    asc = Process([ebb, "autoscaler", "--kubernetes", "--kubeconfig", kubeconfig,
                   "--namespace", "nothing-here", "-f", sofile, "--port", str(port2),
                   "--hpa-sync-period", "1"], name="autoscaler-files")
    wait_until(lambda: request("GET", port2, "/health")[0] == 200, 30, interval=0.1,
               what="the second autoscaler's control port")
    prom.values["q_file"] = 12
    check("-f with --kubernetes: the file's ScaledObject scales its Deployment 1 -> 3",
          wait_replicas("filedep", 3, 20, "filedep at 3", ns="files"),
          str(replicas("filedep", "files")))
    st, _, body = request("GET", port2, "/status")
    names = [o["name"] for o in json.loads(body)["scaledObjects"]]
    check("--namespace: only that namespace's objects (none) beside the file's",
          names == ["file-so"], str(names))
    check("--namespace: the informer watches that namespace only (logged)",
          "(/tmp" in asc.output() and "), nothing-here" in asc.output(), asc.output()[-800:])
    stop_clean(asc, "SIGTERM: exit 0, no sanitizer report (files and cluster together)")
    done()
except Exception:
    if "asc" in globals():
        sys.stderr.write(asc.output()[-4000:])
    raise
finally:
    api.kill()
    api.wait()
    prom.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
