#!/usr/bin/env python3
"""`ebb autoscaler --check`: the tutorial's ScaledObjects load unchanged; a bad
file is refused with file:line:col, the field and what was expected."""
import os
import subprocess
import sys
import tempfile

from ebbtest import check, done

ebb = sys.argv[1]
root = os.path.join(os.path.dirname(__file__), "..", "..")
ex = lambda *p: os.path.join(root, "examples", *p)

for so in ["values-20-keda.yaml", "values-20-keda-scale-to-zero.yaml"]:
    r = subprocess.run([ebb, "autoscaler", "--check", "-f", ex("tutorial", so), "-f",
                        ex("local", "vllm-llama3-deployment-vllm.yaml"), "--local"],
                       capture_output=True, text=True, timeout=30)
    check(f"the tutorial's {so} loads unchanged (exit 0)", r.returncode == 0 and "ok:" in r.stdout,
          r.stdout[-500:] + r.stderr[-500:])
    check(f"{so}: the query is understood", "vllm:num_requests_waiting" in r.stdout)

with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    f.write("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\nspec:\n"
            "  scaleTargetRef:\n    name: d\n  triggers:\n  - type: prometheus\n    metadata:\n"
            "      serverAddress: http://p:9090\n      query: up\n      threshold: five\n")
r = subprocess.run([ebb, "autoscaler", "--check", "-f", f.name], capture_output=True, text=True, timeout=30)
os.unlink(f.name)
want = f"{f.name}:13:18: spec.triggers[0].metadata.threshold:"
check("a bad threshold: exit 1 with file:line:col and the field", r.returncode == 1 and want in r.stderr + r.stdout,
      (r.returncode, r.stderr[-500:]))
r = subprocess.run([ebb, "autoscaler"], capture_output=True, text=True, timeout=30)
check("no file: exit 2 and a clear message", r.returncode == 2 and "no manifest: give -f FILE" in r.stderr, r.stderr)
# Live, the targets must be LocalDeployments: the tutorial's file alone names
# a Kubernetes Deployment, so nothing starts and the error says where.
r = subprocess.run([ebb, "autoscaler", "-f", ex("tutorial", "values-20-keda.yaml")], capture_output=True, text=True, timeout=30)
check("live without the LocalDeployment: exit 1, scaleTargetRef named, nothing started",
      r.returncode == 1 and "scaleTargetRef" in r.stderr and "nothing was started" in r.stderr, r.stderr[-800:])
done()
