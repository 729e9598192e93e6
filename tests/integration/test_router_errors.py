#!/usr/bin/env python3
"""Bad input never wins against ebb router: oversized heads and bodies,
slow-loris clients, pipelined garbage, and a client that never reads a long
stream — the right 4xx or a closed connection, bounded memory, no crash."""
import json
import socket
import sys
import time

from ebbtest import Engine, Router, check, done, metrics, metric_sum, post_json, request, wait_until

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
eng = Engine(ebb, "--time-scale", "0")
r = Router(ebb, [eng.base], "--client-read-timeout", "1", "--client-send-timeout", "2", "--max-body-mib", "1")
port = r.port


def raw(data, timeout=5, linger=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if linger:
            time.sleep(linger)
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


resp = raw(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
check("headers over 64 KiB: 431", status_of(resp) == 431, resp[:60])
status, hdrs, data = request("POST", port, "/v1/completions", json.dumps({"model": MODEL, "prompt": "x" * (1 << 21)}))
check("body over --max-body-mib: 413, read by the client", status == 413, status)

t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"model\"")
closed = s.recv(100) == b""
elapsed = time.monotonic() - t0
s.close()
check("slow-loris: an unfinished request is closed after --client-read-timeout", closed and 0.8 < elapsed < 5,
      elapsed)

# A trickling client (one byte every 0.2 s) must not reset the deadline.
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
closed_at = None
for ch in b"POST /v1/completions HTTP/1.1\r\nHost: a\r\n":
    try:
        s.sendall(bytes([ch]))
    except OSError:
        closed_at = time.monotonic() - t0
        break
    time.sleep(0.2)
    s.setblocking(False)
    try:
        if s.recv(100) == b"":
            closed_at = time.monotonic() - t0
            break
    except BlockingIOError:
        pass
    s.setblocking(True)
s.close()
check("slow-loris trickle: the read deadline runs from the first byte", closed_at and closed_at < 3, closed_at)

# HTTP/1.0 clients get no chunked encoding; the close ends the body.
body10 = json.dumps({"model": MODEL, "prompt": "x", "max_tokens": 3, "stream": True}).encode()
resp = raw(f"POST /v1/completions HTTP/1.0\r\nContent-Length: {len(body10)}\r\n\r\n".encode() + body10)
check("HTTP/1.0 stream: no transfer-encoding, events then close",
      b"transfer-encoding" not in resp.lower() and resp.rstrip().endswith(b"data: [DONE]"), resp[-200:])

resp = raw(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\nGARBAGE GARBAGE\r\n\r\n")
parts = resp.split(b"HTTP/1.1 ")[1:]
check("pipelined garbage: the good request is answered, then 400 and close",
      [p[:3] for p in parts] == [b"200", b"400"], resp[:200])
resp = raw(b"\x00\x01\x02\x03" * 100)
check("binary garbage: 400", status_of(resp) == 400)

# A flood of pipelined requests on one connection is answered in order and bounded.
flood = b"".join(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n" for _ in range(500))
resp = raw(flood + b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", timeout=10)
check("500 pipelined requests all answered", resp.count(b"HTTP/1.1 200") == 501, resp.count(b"HTTP/1.1 200"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# A client that never reads a long stream: the router pauses its upstream
# instead of buffering. The engine (timing off) could produce megabytes a second.
base_rss = rss_kb(r.pid)
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
body = json.dumps({"model": MODEL, "prompt": "x", "stream": True, "ignore_eos": True,
                   "max_tokens": 120000})
s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
time.sleep(3)
grown = rss_kb(r.pid) - base_rss
check("a client that never reads: router memory stays bounded (< 16 MiB growth)", grown < 16 * 1024, f"{grown} KiB")
gen = metric_sum(metrics(eng.port), "vllm:generation_tokens_total")
check("and the engine was slowed or stopped, not streaming 120k tokens into a buffer", gen < 120000, gen)
s.close()
wait_until(lambda: metric_sum(metrics(eng.port), "vllm:num_requests_running") == 0, 10, what="the stream to end")

# A client that never reads is dropped after --client-send-timeout, and its
# upstream request is aborted with it.
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
body = json.dumps({"model": MODEL, "prompt": "x", "stream": True, "ignore_eos": True, "max_tokens": 120000})
s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
wait_until(lambda: metric_sum(metrics(port), "vllm:num_requests_running") == 1, 5, what="the stream to start")
wait_until(lambda: metric_sum(metrics(port), "vllm:num_requests_running") == 0, 10,
           what="the router to drop the client that never reads")
check("a client that never reads is dropped after --client-send-timeout", True)
s.close()

status, body = post_json(port, "/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 2})
check("still serving after all of that", status == 200)
r.stop()
eng.stop()
done()
