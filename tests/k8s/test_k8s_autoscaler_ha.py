#!/usr/bin/env python3
"""`ebb autoscaler --kubernetes` as a highly available deployment runs it:
two replicas electing a leader on a coordination.k8s.io Lease, Kubernetes
Events for its decisions, and pod deletion costs from the router's in-flight
counts before a scale-down. Against fake_apiserver.py (a stand-in for
kube-apiserver), a fake Prometheus and a fake router /metrics (k8stest.py).

- only the replica holding the Lease scales; the other waits;
- the leader's SIGTERM gives the Lease up: the other leads within about a
  retry period, and scales;
- a leader that cannot renew (its token revoked) stops scaling and exits 1
  within the renew deadline; the Lease then expires and nobody scales twice;
- Events on the ScaledObject: ScaledObjectReady, SuccessfulRescale (1 -> N),
  KEDAScaleTargetDeactivated (N -> 0), a repeat counted, not re-sent;
- before a scale-down the pods get controller.kubernetes.io/pod-deletion-cost
  = their in-flight requests at the router (not Ready: -1), and only then
  is /scale PATCHed; with the router unreachable the scale-down goes on.
"""
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from ebbtest import Process, check, done, free_port, request, wait_until  # noqa: E402
import k8stest  # noqa: E402
from k8stest import (FakeAPI, FakeProm, FakeRouter, dep_path, put_so, replicas,  # noqa: E402
                     scale_patches, so_obj, stays, stop_clean, wait_replicas)

ebb = os.path.abspath(sys.argv[1])
tmp = tempfile.mkdtemp(prefix="ebb-k8s-ha-")
TOKEN = "ha-token"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/default/leases/ebb-autoscaler"
COST = "controller.kubernetes.io/pod-deletion-cost"

prom = FakeProm()
router = FakeRouter()
api = FakeAPI(tmp, TOKEN)
ctl = k8stest.ctl = api.ctl
k8stest.PROM = prom.url


def autoscaler(name, *extra, kubeconfig=None):
    port = free_port()
    p = Process([ebb, "autoscaler", "--kubernetes", "--kubeconfig", kubeconfig or api.kubeconfig,
                 "--port", str(port), "--hpa-sync-period", "1",
                 "--horizontal-pod-autoscaler-downscale-stabilization", "1",
                 "--leader-elect-lease-duration", "3", "--leader-elect-renew-deadline", "2",
                 "--leader-elect-retry-period", "0.5", "--router", router.url, *extra],
                name=name, env=dict(os.environ, POD_NAME=name))
    p.port = port
    wait_until(lambda: request("GET", port, "/health")[0] == 200, 30, interval=0.1,
               what=name + "'s control port")
    return p


def holder():
    obj = ctl("get_object", path=LEASE)["obj"]
    return (obj or {}).get("spec", {}).get("holderIdentity")


def events(reason=None):
    objs = ctl("list_objects", prefix="/api/v1/namespaces/default/events/")["objects"].values()
    return [e for e in objs if reason is None or e.get("reason") == reason]


def pod_cost(name):
    obj = ctl("get_object", path="/api/v1/namespaces/default/pods/" + name)["obj"]
    return ((obj or {}).get("metadata", {}).get("annotations") or {}).get(COST)


def scaled_lines(p):
    return [l for l in p.output().splitlines() if "scaled from" in l]


a = b = None
try:
    ctl("add_deployment", name="web", replicas=1)
    put_so(so_obj("web", "q_web", minReplicaCount=0, maxReplicaCount=4, cooldownPeriod=2))

    # ---------- one leader ----------
    prom.values["q_web"] = 20
    a = autoscaler("as-a")
    wait_until(lambda: holder() == "as-a", 15, interval=0.1, what="as-a holding the Lease")
    b = autoscaler("as-b")
    check("the first replica holds the Lease (holderIdentity is $POD_NAME)", holder() == "as-a")
    check("the leader scales 1 -> 4", wait_replicas("web", 4, 20, "web at 4"), str(replicas("web")))
    time.sleep(1)
    check("the follower does not scale (nothing in its log)", not scaled_lines(b),
          "\n".join(scaled_lines(b)))
    check("/metrics: ebb_autoscaler_leading is 1 on the leader, 0 on the follower",
          "\nebb_autoscaler_leading 1.0\n" in request("GET", a.port, "/metrics")[2].decode()
          and "\nebb_autoscaler_leading 0.0\n" in request("GET", b.port, "/metrics")[2].decode(),
          [l for p in (a, b) for l in request("GET", p.port, "/metrics")[2].decode().splitlines()
           if "leading" in l])
    check("the follower says it waits for the Lease",
          "scaling starts once this replica leads" in b.output() and "became leader" not in b.output(),
          b.output()[-800:])

    # ---------- Events ----------
    wait_until(lambda: events("SuccessfulRescale"), 10, what="a SuccessfulRescale Event")
    ev = events("SuccessfulRescale")[0]
    check("Event: SuccessfulRescale on the ScaledObject, as the HPA records it",
          ev["involvedObject"]["kind"] == "ScaledObject" and ev["involvedObject"]["name"] == "web-so"
          and ev["involvedObject"].get("uid") and ev["type"] == "Normal"
          and ev["message"].startswith("New size: 4; reason: ")
          and ev["source"]["component"] == "ebb-autoscaler", json.dumps(ev))
    check("Event: ScaledObjectReady when the object was taken on", events("ScaledObjectReady"))

    # ---------- hand-over on SIGTERM ----------
    t0 = time.monotonic()
    stop_clean(a, "the leader stops on SIGTERM: exit 0, no sanitizer report")
    lease = ctl("get_object", path=LEASE)["obj"]["spec"]
    wait_until(lambda: holder() == "as-b", 5, interval=0.05, what="as-b holding the Lease")
    took = time.monotonic() - t0
    check("the other replica leads at once, not after the lease expires (%.1f s)" % took, took < 3)
    check("the Lease counts the transition", ctl("get_object", path=LEASE)["obj"]["spec"].get(
        "leaseTransitions", 0) >= 1, json.dumps(lease))

    # ---------- deletion cost before a scale-down ----------
    for i, ip in enumerate(["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"]):
        ctl("add_pod", name="web-%d" % i, labels={"app": "web"}, ip=ip, ready=(i != 3))
    ctl("add_pod", name="other-0", labels={"app": "other"}, ip="10.1.0.9")
    router.inflight = {"http://10.1.0.1:8000": 7, "http://10.1.0.2:8000": 0,
                       "http://10.1.0.3:8000": 2, "http://10.1.0.9:8000": 5}
    prom.values["q_web"] = 8  # ceil(8/5) = 2
    check("the new leader scales 4 -> 2", wait_replicas("web", 2, 20, "web at 2"),
          str(replicas("web")))
    # The line follows the PATCH's answer, which can come after the API shows 2.
    try:
        wait_until(lambda: scaled_lines(b), 5, what="the scaled line")
    except TimeoutError:
        pass
    check("the new leader's log says so", scaled_lines(b), b.output()[-800:])
    costs = {n: pod_cost(n) for n in ("web-0", "web-1", "web-2", "web-3", "other-0")}
    check("deletion costs = in-flight requests at the router; not Ready: -1; other pods untouched",
          costs == {"web-0": "7", "web-1": "0", "web-2": "2", "web-3": "-1", "other-0": None},
          json.dumps(costs))
    recs = ctl("records")["records"]
    order = [i for i, r in enumerate(recs) if r["method"] == "PATCH" and "/pods/web-" in r["path"]]
    down = [i for i, r in enumerate(recs) if r["method"] == "PATCH" and r["path"] == dep_path("web")
            + "/scale" and json.loads(r["body"])["spec"]["replicas"] == 2]
    check("the pods are annotated before /scale is PATCHed down",
          order and down and max(order) < down[0], "%s %s" % (order, down))
    check("the annotation is a merge patch", all(
        recs[i]["content_type"] == "application/merge-patch+json"
        and json.loads(recs[i]["body"]) == {"metadata": {"annotations": {COST: costs[
            recs[i]["path"].rsplit("/", 1)[1]]}}} for i in order), json.dumps([recs[i] for i in order]))

    # The router unreachable: the scale-down goes on, without costs.
    router.shutdown()
    prom.values["q_web"] = 0
    check("router unreachable: still scaled to zero after the cooldown",
          wait_replicas("web", 0, 30, "web at 0"), str(replicas("web")))
    check("router unreachable: a warning says the ReplicaSet chooses",
          "the router's in-flight counts are unavailable" in b.output(), b.output()[-1000:])
    wait_until(lambda: events("KEDAScaleTargetDeactivated"), 10, what="a Deactivated Event")
    evs = events("KEDAScaleTargetDeactivated")
    check("Event: KEDAScaleTargetDeactivated for 1 -> 0 (the HPA took 2 -> 1 first)", any(
        e["message"].startswith("Deactivated Deployment default/web from 1 to 0 (ScaleToZero)") for e in evs),
        json.dumps(evs))
    n_before = len(events())
    put_so(so_obj("web", "q_web", minReplicaCount=0, maxReplicaCount=4, cooldownPeriod=2,
                  pollingInterval=2))  # a spec change: ScaledObjectReady again
    wait_until(lambda: any(e.get("count", 1) >= 2 for e in events("ScaledObjectReady")), 10,
               what="ScaledObjectReady counted twice")
    check("a repeated Event is counted (PATCH), not created again", len(events()) == n_before,
          "%d -> %d" % (n_before, len(events())))

    # ---------- a leader that cannot renew exits ----------
    ctl("set_token", token="revoked")  # every request of as-b now gets 401
    t0 = time.monotonic()
    rc = b.wait(15)
    check("a leader that cannot renew stops and exits 1 (%.1f s; renew deadline 2 s)"
          % (time.monotonic() - t0), rc == 1 and "lost the lease default/ebb-autoscaler" in b.output(),
          b.output()[-800:])
    out = b.output()
    check("no sanitizer report after losing the Lease",
          "AddressSanitizer" not in out and "runtime error" not in out and "LeakSanitizer" not in out,
          out[-1500:])
    ctl("set_token", token=TOKEN)
    n = len(scale_patches("web"))
    c = autoscaler("as-c")
    wait_until(lambda: holder() == "as-c", 15, interval=0.1,
               what="as-c holding the Lease after as-b's expired")
    prom.values["q_web"] = 3
    check("the next replica leads once the lost Lease expired, and scales 0 -> 1",
          wait_replicas("web", 1, 20, "web at 1") and len(scale_patches("web")) > n)
    stop_clean(c, "as-c stops clean")
    done()
except Exception:
    for p in (a, b):
        if p:
            sys.stderr.write(p.output()[-3000:])
    raise
finally:
    api.kill()
    api.wait()
    prom.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
