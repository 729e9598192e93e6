#!/usr/bin/env python3
"""make demo: the tutorial, end to end, on this machine, with `ebb up`.

It runs the tutorial's steps against ebb's stand-ins — `ebb engine` replicas
(a simulated vLLM, real time) in a LocalDeployment named as the tutorial's,
and the tutorial's scale-to-zero ScaledObject in a demo copy with short
timings (examples/demo/) — and shows `ebb get hpa -w` as it changes:

  1. ebb up: idle, so KEDA's rule scales the replicas to zero;
  2. the tutorial's curl at zero replicas: held by the router, a replica
     started at once, the request served (no 503);
  3. the tutorial's load (100 streaming completions, 3,000-token prompts):
     the queue drives 1 -> 2;
  4. idle: 2 -> 1 (the HPA, draining the victim), then 0 (KEDA's cooldown).

It ends with the replica timeline, requests sent and failed, and the cold
start. About 90 seconds."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from ebbtest import free_port, request, stream, tutorial_prompt, wait_until  # noqa: E402

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SO = os.path.join(ROOT, "examples", "demo", "values-20-keda-scale-to-zero-demo.yaml")
LD = os.path.join(ROOT, "examples", "local", "vllm-llama3-deployment-vllm.yaml")


def say(msg=""):
    print(msg, flush=True)


def main():
    ebb = os.path.abspath(sys.argv[1])
    env = dict(os.environ, PATH=os.path.dirname(ebb) + os.pathsep + os.environ["PATH"])
    tmp = tempfile.mkdtemp(prefix="ebb-demo-")
    port, control = 30080, 9090
    for p in (port, control):
        try:
            request("GET", p, "/health", timeout=0.5)
            port, control = free_port(), free_port()  # the tutorial's ports are taken
            break
        except OSError:
            pass
    say(f"$ ebb up -f {os.path.relpath(SO, ROOT)} -f {os.path.relpath(LD, ROOT)}")
    up = subprocess.Popen([ebb, "up", "-f", SO, "-f", LD, "--port", str(port), "--control-port", str(control),
                           "--hpa-sync-period", "1", "--horizontal-pod-autoscaler-downscale-stabilization", "5",
                           "--log-dir", os.path.join(tmp, "logs")],
                          stdout=open(os.path.join(tmp, "up.log"), "w"), stderr=subprocess.STDOUT, env=env)
    watch = None
    t_start = time.time()
    try:
        wait_until(lambda: request("GET", control, "/health")[0] == 200, 20, interval=0.1, what="ebb up")
        say(f"router on http://localhost:{port}, Prometheus API and status on http://localhost:{control}")
        say(f"(log: {tmp}/up.log)\n")
        say(f"$ ebb get hpa -w --server http://localhost:{control}     # shown as it changes, marked '|'")
        watch = subprocess.Popen([ebb, "get", "hpa", "-w", "--interval", "0.5", "--server",
                                  f"http://localhost:{control}"], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: [say("| " + line.rstrip()) for line in watch.stdout], daemon=True).start()

        def status():
            return json.loads(request("GET", control, "/status")[2])["scaledObjects"][0]

        wait_until(lambda: status()["target"]["replicas"] == 0, 20, interval=0.2, what="scale to zero")
        say("\n1. idle: no traffic, so KEDA scales the deployment to zero replicas")
        time.sleep(2)

        say("\n2. the tutorial's request, at zero replicas:")
        say(f"$ curl -X POST http://localhost:{port}/v1/completions -H \"Content-Type: application/json\" "
            "-d '{\"model\": \"meta-llama/Llama-3.1-8B-Instruct\", \"prompt\": \"Once upon a time,\", "
            "\"max_tokens\": 10}'")
        t0 = time.time()
        st, _, body = request("POST", port, "/v1/completions",
                              {"model": MODEL, "prompt": "Once upon a time,", "max_tokens": 10}, timeout=120)
        cold = time.time() - t0
        text = json.loads(body)["choices"][0]["text"] if st == 200 else body.decode()[:200]
        say(f"  -> {st} in {cold:.2f} s: held by the router while a replica started, then served: {text!r}")
        time.sleep(2)

        say("\n3. the tutorial's load generator: 100 streaming completions with 3,000-token prompts")
        say(f"$ ebb load --openai_api_base http://localhost:{port}/v1 --num-requests 100 --prompt-len 3000")
        lines = []

        def run_load():
            r = subprocess.run([ebb, "load", "--openai_api_base", f"http://localhost:{port}/v1",
                                "--num-requests", "100", "--prompt-len", "3000", "--no-progress"],
                               capture_output=True, text=True, timeout=600)
            lines.extend(r.stdout.splitlines())
            lines.append(f"(exit {r.returncode})")
        loader = threading.Thread(target=run_load)
        loader.start()
        loader.join()
        script = [l for l in lines if l.startswith(("Sending request", "Completion results"))]
        for l in script[:3]:
            say("  " + (l if len(l) < 110 else l[:107] + "..."))
        say(f"  ... ({len(script)} lines as the tutorial's script prints them)")
        rest = lines[lines.index("") + 1:] if "" in lines else lines[-8:]
        for l in rest:
            say("  " + l)
        failed_line = [l for l in lines if l.strip().startswith("failed")]
        failed = int(failed_line[0].split()[1]) if failed_line else 100

        say("\n4. idle again: the HPA drains one replica, then KEDA scales to zero after its cooldown")
        wait_until(lambda: status()["target"]["replicas"] == 0, 120, interval=0.5, what="scale to zero")
        time.sleep(1)
        events = status()["events"]
        say("\nreplica timeline:")
        for e in events:
            say(f"  {e['time'][11:19]} UTC  {e['from']} -> {e['to']}  ({e['source']}: {e['reason']})")
        total_failed = failed + (0 if st == 200 else 1)
        say(f"\nrequests: 101 sent, {total_failed} failed; cold start (request at zero -> served): {cold:.2f} s; "
            f"demo took {time.time() - t_start:.0f} s")
        return 0 if total_failed == 0 else 1
    finally:
        if watch:
            watch.terminate()
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()


if __name__ == "__main__":
    sys.exit(main())
