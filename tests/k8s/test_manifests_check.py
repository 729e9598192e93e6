#!/usr/bin/env python3
"""deploy/kubernetes/: every ScaledObject there passes `ebb autoscaler --check`
(exit 0, no warnings, the in-cluster Prometheus as its serverAddress), and
ScaledObjects sit in files of their own so that --check can read those files
whole. The directory is globbed, so a new file is covered."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from ebbtest import check, done  # noqa: E402

ebb = sys.argv[1]
deploy = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "kubernetes")
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"  # the tutorial's, in-cluster
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}


def kinds(path):
    """The kind of each document (a top-level `kind:` line; the C test reads
    the same files with ebb's YAML reader, this only sorts them)."""
    text = open(path).read()
    docs = re.split(r"(?m)^---\s*$", text)
    return [m.group(1) for d in docs for m in [re.search(r"(?m)^kind:\s*(\S+)", d)] if m]


files = sorted(glob.glob(os.path.join(deploy, "*.yaml")))
check("deploy/kubernetes has manifests", len(files) >= 7, files)
so_files = []
for f in files:
    k = kinds(f)
    name = os.path.basename(f)
    if "ScaledObject" in k:
        check(f"{name}: ScaledObjects in a file of their own (--check reads whole files)",
              set(k) <= KEDA_KINDS, k)
        so_files.append(f)
check("at least one ScaledObject file", len(so_files) >= 1, files)

for f in so_files:
    name = os.path.basename(f)
    r = subprocess.run([ebb, "autoscaler", "--check", "-f", f], capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    check(f"{name}: ebb autoscaler --check exits 0", r.returncode == 0 and "ok:" in r.stdout, out[-1500:])
    check(f"{name}: no warnings", re.search(r"ok: .* 0 warnings", r.stdout) is not None, out[-800:])
    addrs = re.findall(r'serverAddress: "([^"]*)"', r.stdout)
    check(f"{name}: every trigger asks the in-cluster Prometheus",
          len(addrs) >= 1 and all(a == PROMETHEUS for a in addrs), addrs)
    check(f"{name}: scales the tutorial's Deployment",
          "scaleTargetRef: apps/v1 Deployment vllm-llama3-deployment-vllm" in r.stdout, out[-800:])

# The check can fail: a ScaledObject file with a mistake in it is refused.
bad = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ebb-manifests-{os.getpid()}.yaml")
with open(so_files[0]) as src, open(bad, "w") as dst:
    dst.write(src.read().replace("maxReplicaCount: 2", "maxReplicaCount: two"))
try:
    r = subprocess.run([ebb, "autoscaler", "--check", "-f", bad], capture_output=True, text=True, timeout=30)
finally:
    os.unlink(bad)
check("a broken copy is refused (exit 1, the field named)",
      r.returncode == 1 and "spec.maxReplicaCount" in r.stderr + r.stdout, r.stderr[-500:])
done()
