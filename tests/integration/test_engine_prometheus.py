#!/usr/bin/env python3
"""The engine's /metrics passes `promtool check metrics`, and Debian's
Prometheus, started here on loopback, scrapes it so that the tutorial's query
vllm:num_requests_waiting works."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from ebbtest import (Engine, Process, check, done, free_port, promtool_check, request, stream, tutorial_prompt,
                     wait_until)

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
eng = Engine(ebb, "--time-scale", "20")

# Some traffic first, so histograms and counters are non-trivial.
stream(eng.port, "/v1/completions", {"prompt": "Once upon a time,", "max_tokens": 20, "stream": True})
stream(eng.port, "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5,
                                          "stream": True})
status, hdrs, body = request("GET", eng.port, "/metrics")
check("/metrics content type is the 0.0.4 text format",
      hdrs["content-type"] == "text/plain; version=0.0.4; charset=utf-8", hdrs["content-type"])
# promtool 2.42 lints names with ':' (reserved for recording rules by
# convention), and vLLM's names all have one: real vLLM draws the same lint.
# So: the exposition must parse, every finding must be that one, and with
# ':' renamed the output must pass with no finding at all.
ok, detail = promtool_check(body)
check("promtool check metrics: parses, and only vLLM's ':' names draw lint", ok, detail)
renamed = body.replace(b"vllm:", b"vllm_")
r = subprocess.run(["promtool", "check", "metrics"], input=renamed, capture_output=True, timeout=30)
check("promtool check metrics passes with ':' renamed", r.returncode == 0 and not (r.stdout + r.stderr).strip(),
      (r.stdout + r.stderr).decode()[-2000:])
for name in ["vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc",
             "vllm:num_preemptions_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
             "vllm:request_success_total", "vllm:time_to_first_token_seconds_bucket",
             "vllm:inter_token_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
             "vllm:request_queue_time_seconds_bucket"]:
    check(f"exposes {name}", f"\n{name}{{".encode() in body)

# Debian's Prometheus scrapes the engine every second.
tmp = tempfile.mkdtemp(prefix="ebb-prom-")
prom_port = free_port()
with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
    f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vllm
    static_configs:
      - targets: ['127.0.0.1:{eng.port}']
        labels: {{pod: vllm-llama3-deployment-vllm-0, namespace: default}}
""")
prom = Process(["prometheus", f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{prom_port}"], name="prometheus")


def query(q):
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


try:
    res = wait_until(lambda: query("vllm:num_requests_waiting")["data"]["result"], 60,
                     interval=0.5, what="Prometheus to scrape the engine")
    check("Prometheus answers the tutorial's query", len(res) == 1, res)
    metric = res[0]["metric"]
    check("the series carries vLLM's labels and the target's",
          metric["__name__"] == "vllm:num_requests_waiting" and metric["model_name"] == MODEL
          and metric["engine"] == "0" and metric["pod"] == "vllm-llama3-deployment-vllm-0", metric)
    check("the value is a string number, as Prometheus returns it", res[0]["value"][1] == "0")
    up = query("up")["data"]["result"]
    check("the scrape is healthy (up == 1)", up and up[0]["value"][1] == "1", up)

    # Queued requests are visible through Prometheus: hold the engine asleep so
    # the queue stays up for at least one scrape, deterministically.
    request("POST", eng.port, "/sleep?level=1")
    burst = [threading.Thread(target=stream, args=(eng.port, "/v1/completions", {
        "prompt": tutorial_prompt(i, 3000), "max_tokens": 10, "stream": True})) for i in range(20)]
    for b in burst:
        b.start()
    seen = wait_until(lambda: [r for r in query("vllm:num_requests_waiting")["data"]["result"]
                               if float(r["value"][1]) > 5], 30, interval=0.5,
                      what="a waiting queue above 5 in Prometheus")
    check("Prometheus sees the waiting queue above 5", seen)
    request("POST", eng.port, "/wake_up")
    for b in burst:
        b.join(timeout=120)
    zero = wait_until(lambda: [r for r in query("vllm:num_requests_waiting")["data"]["result"]
                               if float(r["value"][1]) == 0], 30, interval=0.5, what="the queue to drain")
    check("and then drained to 0", zero)
    rate = wait_until(lambda: query("sum(rate(vllm:generation_tokens_total[30s])) > 0")["data"]["result"], 30,
                      interval=0.5, what="a generation rate")
    check("rate() over the engine's counters works", rate)
finally:
    prom.stop()
    shutil.rmtree(tmp, ignore_errors=True)
eng.stop()
done()
