#!/usr/bin/env python3
"""`ebb load` against real processes on 127.0.0.1: the tutorial's invocation
and lines, counts that match the engine's /metrics, --json, --rate with
--duration, --trace, failures by kind (connect, HTTP status, an error event
mid-stream, a cut stream, timeouts) and usage errors."""
import http.server
import json
import os
import pty
import signal
import subprocess
import sys
import tempfile
import threading
import time

from ebbtest import (Engine, Router, check, done, free_port, metric_sum, metrics, post_json,
                     tutorial_prompt, wait_until)

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def load(*flags, timeout=120):
    """Runs `ebb load`; returns (exit code, stdout, stderr)."""
    r = subprocess.run([ebb, "load", "--no-progress", *flags], capture_output=True, text=True,
                       timeout=timeout)
    check(f"ebb load {' '.join(flags)[:60]}: no sanitizer report",
          not any(s in r.stderr for s in SANITIZER), r.stderr[-3000:])
    return r.returncode, r.stdout, r.stderr


def load_json(*flags):
    rc, out, err = load("--json", *flags)
    try:
        return rc, json.loads(out), err
    except ValueError:
        check("--json prints one JSON object", False, out[-2000:] + err[-2000:])


def counts_add_up(s):
    req = s["requests"]
    return (req["ok"] + req["failed"] == req["total"]
            and sum(req["failed_by_kind"].values()) == req["failed"]
            and sum(req["http_status"].values()) == req["failed_by_kind"]["http"]
            and s["ttft_ms"]["count"] == req["ok"] and s["e2e_ms"]["count"] == req["ok"])


e = Engine(ebb, "--time-scale", "20")
base = f"http://127.0.0.1:{e.port}/v1"

# --- The tutorial's invocation, as its step 6 runs the script.
m0 = metrics(e.port)
rc, out, err = load("--openai_api_base", base, "--num-requests", "20", "--prompt-len", "3000")
check("the tutorial's invocation succeeds (exit 0)", rc == 0, err[-2000:])
lines = out.splitlines()
sending = [l for l in lines if l.startswith("Sending request ")]
results = [l for l in lines if l.startswith("Completion results for request ")]
check("prints 'Sending request {i} to model {m}' for i = 0..19, in order",
      sending == [f"Sending request {i} to model {MODEL}" for i in range(20)], sending[:3])
check("then 'Completion results for request {i}: <text>' for i = 0..19, in order",
      [l.split(":", 1)[0] for l in results] == [f"Completion results for request {i}" for i in range(20)],
      results[:3])
check("the script's lines come first, all sends before any result",
      lines[:40] == sending + results, lines[:3])
status, body = post_json(e.port, "/v1/completions", {"model": MODEL, "prompt": tutorial_prompt(3, 3000),
                                                      "echo": False, "temperature": 0, "max_tokens": 80})
check("a result line's text is the completion of the script's prompt (request 3)",
      status == 200 and results[3] == "Completion results for request 3: " + body["choices"][0]["text"],
      (results[3][:80], body))
check("a summary follows: 20 ok, 0 failed", "  ok     20\n  failed 0\n" in out, out[-800:])
m1 = metrics(e.port)
ok_delta = metric_sum(m1, "vllm:request_success_total") - metric_sum(m0, "vllm:request_success_total")
check("the engine counted 20 + 1 successful requests (vllm:request_success_total)", ok_delta == 21, ok_delta)

# --- Through the router, as the tutorial runs it (port-forward to the router service).
e2 = Engine(ebb, "--time-scale", "20")
router = Router(ebb, [e.base, e2.base], "--routing-logic", "roundrobin")
m0, n0 = metrics(router.port), metrics(e2.port)
rc, out, err = load("--openai_api_base", f"http://127.0.0.1:{router.port}/v1", "--num-requests", "10",
                    "--prompt-len", "300")
m1, n1 = metrics(router.port), metrics(e2.port)
check("through ebb router: the script's lines, 10 ok",
      rc == 0 and "Completion results for request 9: " in out and "  ok     10\n" in out, err[-1000:])
check("the router counted 10 incoming requests (vllm:num_incoming_requests_total)",
      metric_sum(m1, "vllm:num_incoming_requests_total") - metric_sum(m0, "vllm:num_incoming_requests_total") == 10)
check("roundrobin: the second engine served 5 of them",
      metric_sum(n1, "vllm:request_success_total") - metric_sum(n0, "vllm:request_success_total") == 5)
router.stop()
e2.stop()

# --- --json: the counts add up and match the engine's /metrics.
m0 = metrics(e.port)
rc, s, err = load_json("--openai-api-base", base, "--num-requests", "12", "--prompt-len", "500")
m1 = metrics(e.port)
check("--json: one object, exit 0, counts add up", rc == 0 and counts_add_up(s), s)
check("--json: 12 ok", s["requests"]["ok"] == 12 and s["requests"]["failed"] == 0, s["requests"])
delta = lambda name: metric_sum(m1, name) - metric_sum(m0, name)
check("requests reported = vllm:request_success_total's increase",
      delta("vllm:request_success_total") == s["requests"]["ok"], delta("vllm:request_success_total"))
check("prompt tokens reported = vllm:prompt_tokens_total's increase",
      delta("vllm:prompt_tokens_total") == s["tokens"]["prompt"], (delta("vllm:prompt_tokens_total"), s["tokens"]))
check("output tokens reported = vllm:generation_tokens_total's increase (12 x 80)",
      delta("vllm:generation_tokens_total") == s["tokens"]["output"] == 12 * 80, s["tokens"])
check("TTFT <= e2e, ITL samples are there", s["ttft_ms"]["p50"] <= s["e2e_ms"]["p50"]
      and s["itl_ms"]["count"] > 0 and s["tokens"]["output_per_s"] > 0, s)

# --- Chat.
rc, s, err = load_json("--openai-api-base", base, "--endpoint", "chat", "--num-requests", "4",
                       "--prompt-len", "10", "--max-tokens", "7")
check("--endpoint chat: 4 ok, 7 output tokens each", rc == 0 and s["requests"]["ok"] == 4
      and s["tokens"]["output"] == 28 and s["endpoint"] == "chat", s)

# --- --rate with --duration: about rate x duration requests.
rc, s, err = load_json("--openai-api-base", base, "--rate", "20", "--duration", "2", "--seed", "7",
                       "--prompt-len", "100", "--max-tokens", "16")
n = s["requests"]["total"]
check("--rate 20 --duration 2 sends about 40 requests (Poisson: within 40 +- 15)", rc == 0 and 25 <= n <= 55, n)
check("--rate: the run lasts about the duration", 1.5 <= s["duration_s"] <= 3.5, s["duration_s"])
rc2, s2, _ = load_json("--openai-api-base", base, "--rate", "20", "--duration", "2", "--seed", "7",
                       "--prompt-len", "100", "--max-tokens", "16")
check("--seed: the same seed sends the same number of requests", s2["requests"]["total"] == n,
      (n, s2["requests"]["total"]))
rc, s, err = load_json("--openai-api-base", base, "--rate", "1000", "--num-requests", "30",
                       "--concurrency", "4", "--prompt-len", "10", "--max-tokens", "8")
check("--rate with --num-requests: exactly that many, --concurrency caps without failing",
      rc == 0 and s["requests"]["ok"] == 30, s["requests"])
rc, s, err = load_json("--openai-api-base", base, "--duration", "1", "--concurrency", "3",
                       "--prompt-len", "10", "--max-tokens", "8")
check("--duration alone: a closed loop that keeps sending for the duration",
      rc == 0 and s["mode"] == "closed" and s["requests"]["ok"] > 10, s["requests"])

# --- --trace replays a JSONL file: arrivals, prompt and output lengths.
with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
    trace = [(0.0, 100, 5), (0.1, 250, 12), (0.3, 40, 3), (0.6, 1000, 20)]
    for a, p, o in trace:
        f.write(json.dumps({"arrival": a, "prompt_tokens": p, "output_tokens": o}) + "\n")
m0 = metrics(e.port)
rc, s, err = load_json("--openai-api-base", base, "--trace", f.name)
m1 = metrics(e.port)
check("--trace: every entry sent and ok", rc == 0 and s["requests"]["ok"] == 4 and s["mode"] == "trace", s)
check("--trace: the engine saw the trace's prompt tokens", delta("vllm:prompt_tokens_total") == 1390,
      delta("vllm:prompt_tokens_total"))
check("--trace: and its output tokens", delta("vllm:generation_tokens_total") == 40 == s["tokens"]["output"],
      (delta("vllm:generation_tokens_total"), s["tokens"]))
check("--trace: arrivals are kept (the run lasts past the last one)", s["duration_s"] >= 0.6, s["duration_s"])
with open(f.name, "a") as g:
    g.write('{"arrival": 0.1, "prompt_tokens": 5, "output_tokens": 1}\n')
rc, out, err = load("--openai-api-base", base, "--trace", f.name)
check("a bad trace line: exit 2 and where it is", rc == 2 and f"{f.name}:5: arrivals must not go back in time" in err,
      err)
os.unlink(f.name)

# --- Failures by kind.
dead = f"http://127.0.0.1:{free_port()}/v1"
rc, s, err = load_json("--openai-api-base", dead, "--model", MODEL, "--num-requests", "5")
check("a dead port: 5 connect failures, exit 1",
      rc == 1 and s["requests"]["failed_by_kind"]["connect"] == 5 and counts_add_up(s), (rc, s))
rc, out, err = load("--openai-api-base", dead, "--num-requests", "5")
check("a dead port without --model: cannot list the models, exit 1",
      rc == 1 and "cannot list the models at" in err, err)

small = Engine(ebb, "--max-model-len", "4096")
rc, s, err = load_json("--openai-api-base", f"http://127.0.0.1:{small.port}/v1", "--num-requests", "3",
                       "--prompt-len", "10000")
check("the tutorial's --prompt-len 10000 over a 4096 context: HTTP 400 for each, exit 1",
      rc == 1 and s["requests"]["http_status"] == {"400": 3} and counts_add_up(s), s["requests"])
check("the reason is shown", "HTTP 400: " in err and "context length" in err.lower(), err[-600:])
rc, s, err = load_json("--openai-api-base", f"http://127.0.0.1:{small.port}/v1", "--num-requests", "2",
                       "--prompt-len", "10", "--max-tokens", "2000", "--timeout", "0.3")
check("--timeout: a request still streaming is a timeout, exit 1",
      rc == 1 and s["requests"]["failed_by_kind"]["timeout"] == 2, s["requests"])

# SIGINT: in-flight requests are cancelled, the summary still comes, exit 1.
p = subprocess.Popen([ebb, "load", "--json", "--openai-api-base", f"http://127.0.0.1:{small.port}/v1",
                      "--num-requests", "4", "--prompt-len", "10", "--max-tokens", "3000"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
# Once the requests are running (SIGINT is handled from then on).
wait_until(lambda: metric_sum(metrics(small.port), "vllm:num_requests_running") >= 1, 30,
           what="ebb load's requests running")
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=30)
s = json.loads(out) if out.strip() else {}
check("SIGINT: the summary says interrupted, the requests in flight cancelled, exit 1",
      p.returncode == 1 and s.get("interrupted") is True and counts_add_up(s)
      and s["requests"]["failed_by_kind"]["cancelled"] >= 1
      and s["requests"]["ok"] + s["requests"]["failed_by_kind"]["cancelled"] == 4, (p.returncode, out, err[-1000:]))
check("SIGINT: no sanitizer report", not any(x in err for x in SANITIZER), err[-3000:])
small.stop()


class Fake(http.server.BaseHTTPRequestHandler):
    """Two models; a prompt naming a behaviour gets it."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_stream(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "model-a"}, {"id": "model-b"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        tok = b'data: {"choices":[{"index":0,"text":" hi"}]}\r\n\r\n'
        if req["model"] == "error-event":
            self.send_stream(tok + b'data: {"error":{"message":"engine died","code":500}}\r\n\r\ndata: [DONE]\r\n\r\n')
        elif req["model"] == "hang":
            time.sleep(3)  # no head in time
            self.close_connection = True
        elif req["model"] == "cut":
            self.send_stream(tok + tok)  # no [DONE]
        else:
            self.send_stream(tok + tok + b"data: [DONE]\r\n\r\n")
        if req["model"] == "close":
            self.close_connection = True  # without saying "Connection: close"


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
threading.Thread(target=srv.serve_forever, daemon=True).start()
fake = f"http://127.0.0.1:{srv.server_address[1]}/v1/"
rc, out, err = load("--openai_api_base", fake, "--num-requests", "2", "--prompt-len", "1")
want = ["Sending request 0 to model model-a", "Sending request 1 to model model-a",
        "Completion results for request 0:  hi hi", "Completion results for request 1:  hi hi",
        "Sending request 0 to model model-b", "Sending request 1 to model model-b",
        "Completion results for request 0:  hi hi", "Completion results for request 1:  hi hi"]
check("every model of /v1/models in turn, as the script's loop (CRLF events)",
      rc == 0 and out.splitlines()[:8] == want, out[:600])
rc, s, err = load_json("--openai-api-base", fake, "--model", "error-event", "--num-requests", "3")
check("an error event mid-stream is a stream_error failure, exit 1",
      rc == 1 and s["requests"]["failed_by_kind"]["stream_error"] == 3, s["requests"])
check("with the server's message", "error event mid-stream: engine died" in err, err)
rc, s, err = load_json("--openai-api-base", fake, "--model", "cut", "--num-requests", "2")
check("a stream with no [DONE] is incomplete, exit 1",
      rc == 1 and s["requests"]["failed_by_kind"]["incomplete"] == 2, s["requests"])
check("failed requests add no tokens", s["tokens"]["output"] == 0, s["tokens"])
rc, s, err = load_json("--openai-api-base", fake, "--model", "x", "--num-requests", "2")
check("no usage chunk: output tokens are the token events",
      rc == 0 and s["tokens"]["output"] == 4 and s["tokens"]["usage_reports"] == 0, s["tokens"])
rc, s, err = load_json("--openai-api-base", fake, "--model", "close", "--rate", "1000",
                       "--num-requests", "6", "--concurrency", "1")
check("a pooled connection the server closed is retried once on a new one: 6 ok",
      rc == 0 and s["requests"]["ok"] == 6, (s["requests"], err[-500:]))
rc, out, err = load("--openai-api-base", fake, "--model", "hang", "--num-requests", "2", "--timeout", "0.3")
check("the burst goes on when a head never comes: 2 timeouts, exit 1",
      rc == 1 and "Sending request 1 to model hang" in out and "timeout 2" in out, out[-600:])
srv.shutdown()

# --- The progress bar: drawn on stderr when it is a terminal, never otherwise.
flags = ["load", "--openai-api-base", base, "--rate", "20", "--duration", "1", "--prompt-len", "10",
         "--max-tokens", "8"]
r = subprocess.run([ebb, *flags], capture_output=True, text=True, timeout=60)
check("no progress bar when stderr is not a terminal", r.returncode == 0 and "\r[" not in r.stderr, r.stderr[-500:])
master, slave = pty.openpty()
p = subprocess.Popen([ebb, *flags], stdout=subprocess.PIPE, stderr=slave, text=True)
os.close(slave)
tty = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break  # EIO: the child closed the terminal
    if not chunk:
        break
    tty += chunk
out, _ = p.communicate(timeout=60)
os.close(master)
check("a progress bar on a terminal, cleared at the end, the summary on stdout",
      p.returncode == 0 and b"\r[" in tty and b"in flight" in tty and tty.endswith(b"\r\x1b[K")
      and "summary:" in out, (tty[-300:], out[-300:]))

# --- Usage errors: exit 2 with a clear message.
for flags, want in [
    (["--rate", "-1"], '--rate must be a number from 0 to 1e+06, got "-1"'),
    (["--num-requests", "0"], '--num-requests must be an integer from 1 to 100000000, got "0"'),
    (["--num-requests", "many"], 'got "many"'),
    (["--bogus"], "bogus"),
    (["--duration", "5"], "--duration without --rate is a closed loop: give --concurrency"),
    (["--trace", "/nonexistent.jsonl"], 'cannot open "/nonexistent.jsonl"'),
    (["--openai-api-base", "https://x/v1"], "must be an http://host[:port][/path] URL"),
    (["--endpoint", "embeddings"], "--endpoint must be one of completions|chat"),
]:
    rc, out, err = load(*flags)
    check(f"usage error {flags}: exit 2, says {want[:40]!r}", rc == 2 and want in err, (rc, err))
rc, out, err = load("--help")
check("--help exits 0 and explains the exit status", rc == 0 and "1 when some failed" in out, out[-500:])

e.stop()
done()
