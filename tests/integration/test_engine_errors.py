#!/usr/bin/env python3
"""Bad input never wins: malformed HTTP and JSON, wrong types, missing fields,
huge values, oversized bodies and headers, unknown paths and methods each get
the right 4xx with a vLLM-style body, and the engine keeps serving."""
import json
import socket
import sys

from ebbtest import Engine, check, done, metric_sum, metrics, post_json, request, wait_until

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
eng = Engine(ebb, "--time-scale", "0", "--max-body-mib", "1", "--max-model-len", "4096")
port = eng.port


def raw(data, read_timeout=5):
    """Sends raw bytes and returns everything the server answers until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else None


def vllm_error(body, status, needle):
    e = body.get("error") if isinstance(body, dict) else None
    return (isinstance(e, dict) and e.get("code") == status and needle in e.get("message", "")
            and e.get("type") in ("BadRequestError", "NotFoundError") and "param" in e)


cases = [
    ("malformed JSON", "/v1/completions", b'{"model": "x", "prompt": ', 400, "not valid JSON"),
    ("wrong type for prompt", "/v1/completions", {"prompt": 5}, 400, "'prompt' must be"),
    ("missing prompt", "/v1/completions", {"model": MODEL}, 400, "'prompt' is a required field"),
    ("missing messages", "/v1/chat/completions", {"model": MODEL}, 400, "'messages' is a required field"),
    ("negative max_tokens", "/v1/completions", {"prompt": "x", "max_tokens": -5}, 400,
     "max_tokens must be at least 1, got -5."),
    ("huge max_tokens", "/v1/completions", {"prompt": "x", "max_tokens": 10**12}, 400, "max_tokens must be at most"),
    ("prompt + max_tokens over max-model-len", "/v1/completions", {"prompt": "x", "max_tokens": 4095}, 400,
     "This model's maximum context length is 4096 tokens. However, you requested 4097 tokens"),
    ("prompt alone over max-model-len", "/v1/completions", {"prompt": "Hi " * 5000}, 400,
     "maximum context length is 4096 tokens"),
    ("unknown model", "/v1/completions", {"model": "gpt-4o", "prompt": "x"}, 404, "The model `gpt-4o` does not exist."),
    ("n = 2", "/v1/completions", {"prompt": "x", "n": 2}, 400, "n must be 1"),
    ("stream_options without stream", "/v1/chat/completions",
     {"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}}, 400,
     "Stream options can only be defined"),
]
for name, path, body, want, needle in cases:
    status, resp = post_json(port, path, body)
    check(f"{name}: {want} with a vLLM error body", status == want and vllm_error(resp, want, needle),
          f"{status} {resp}")

status, hdrs, data = request("GET", port, "/nope")
check("unknown path: 404 {\"detail\":\"Not Found\"}", status == 404 and json.loads(data) == {"detail": "Not Found"})
status, hdrs, data = request("GET", port, "/v1/completions")
check("wrong method: 405", status == 405 and json.loads(data) == {"detail": "Method Not Allowed"})
status, hdrs, data = request("DELETE", port, "/health")
check("DELETE /health: 405", status == 405)

big = json.dumps({"prompt": "x" * (1024 * 1024 + 10)})
status, hdrs, data = request("POST", port, "/v1/completions", big)
check("body over --max-body-mib: 413", status == 413, status)

resp = raw(b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
check("headers over 64 KiB: 431", status_of(resp) == 431, resp[:80])

resp = raw(b"GET /health HTTP/1.1\r\nHost : a\r\n\r\n")
check("space before a header colon: 400", status_of(resp) == 400, resp[:80])
resp = raw(b"POST /v1/completions HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
check("Content-Length with chunked: 400", status_of(resp) == 400, resp[:80])
resp = raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage")
check("TLS hello / binary garbage: 400 and close", status_of(resp) == 400, resp[:80])
resp = raw(b"GET / HTTP/1.1\r\nHost: a\r\n")  # never finished: the read timeout is 30 s; the
check("half a request then silence: nothing sent yet", resp == b"")  # client gives up first

resp = raw(b"POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n", 1)
check("Expect: 100-continue is answered", resp.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), resp[:60])

# Pipelined requests are answered in order on one connection.
resp = raw(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /version HTTP/1.1\r\nHost: a\r\n\r\n"
           b"GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
parts = resp.split(b"HTTP/1.1 ")[1:]
check("pipelining: three answers in order", [p[:3] for p in parts] == [b"200", b"200", b"404"], resp[:300])

# Chunked request bodies are accepted.
body = b'{"prompt":"x","max_tokens":1}'
resp = raw(b"POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
check("chunked request body: 200", status_of(resp) == 200, resp[:120])

# A hostile X-Request-Id cannot break the JSON it is echoed in.
status, hdrs, data = request("POST", port, "/v1/completions", {"prompt": "x", "max_tokens": 2},
                             headers={"X-Request-Id": 'a"b\\c'})
check("X-Request-Id with quote and backslash: still valid JSON", json.loads(data)["id"] == 'cmpl-a"b\\c', data[:100])
status, hdrs, data = request("GET", port, "/v1/completions")
check("405 carries Allow", status == 405 and hdrs.get("allow") == "POST", hdrs)

# A client that never reads a long stream: the engine gives up on it when
# it is 4 MiB behind, counts an abort, and closes the connection.
big = Engine(ebb, "--time-scale", "0")
s = socket.create_connection(("127.0.0.1", big.port))
# A small but not tiny window: the engine still gets 4 MiB ahead at once,
# and reading what is left afterwards does not take minutes.
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
body = json.dumps({"prompt": "x", "max_tokens": 100000, "stream": True, "ignore_eos": True})
s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
wait_until(lambda: metric_sum(metrics(big.port), "vllm:num_requests_running") == 0 and
           metrics(big.port)["vllm:request_success_total"][f'engine="0",finished_reason="abort",model_name="{MODEL}"'] >= 1,
           20, what="the engine to abort the stalled stream")
s.settimeout(10)
got = b""
try:
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += chunk
except OSError:
    pass
s.close()
check("a client that never reads: aborted and its connection closed (no hang)", not got.endswith(b"0\r\n\r\n"),
      got[-100:])
big.stop()

# The legacy error envelope is selectable.
eng2 = Engine(ebb, "--time-scale", "0", "--error-format", "legacy")
status, resp = post_json(eng2.port, "/v1/completions", {"model": "nope", "prompt": "x"})
check("--error-format legacy: flat object/error body",
      status == 404 and resp.get("object") == "error" and resp.get("code") == 404 and "message" in resp, resp)
eng2.stop()

# Still healthy after all of that, and clean exit.
status, _, _ = request("GET", port, "/health")
check("still serving after bad input", status == 200)
rc = eng.stop()
check("clean exit 0 after SIGTERM", rc == 0, f"rc={rc}\n{eng.output()[-2000:]}")
check("no sanitizer report", "ERROR: AddressSanitizer" not in eng.output() and "runtime error" not in eng.output(),
      eng.output()[-3000:])

# Bad flags are refused before anything starts.
import subprocess
for args, needle in [(["--port", "99999"], "--port must be an integer from 1 to 65535"),
                     (["--time-scale", "fast"], "--time-scale must be a number"),
                     (["--bogus"], 'unknown flag "--bogus"'),
                     (["--num-gpu-blocks", "10"], "larger than the maximum number of tokens"),
                     (["--gpu-memory-gib", "1000000", "--kv-bytes-per-token", "1", "--max-model-len", "16",
                       "--port", "0x"], "--port must be an integer")]:
    r = subprocess.run([ebb, "engine", *args], capture_output=True, text=True, timeout=10)
    check(f"bad flag {args[0]}: exit 2 with a clear message", r.returncode == 2 and needle in r.stderr, r.stderr)

# --startup-delay with the port already taken: exits 1 by itself, no hang.
busy = Engine(ebb, "--time-scale", "0")
r = subprocess.run([ebb, "engine", "--port", str(busy.port), "--startup-delay", "0.2"], capture_output=True,
                   text=True, timeout=20)
check("delayed bind on a busy port: exit 1 with a clear message",
      r.returncode == 1 and "cannot listen" in r.stderr, (r.returncode, r.stderr[-500:]))
busy.stop()
done()
