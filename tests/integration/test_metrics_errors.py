#!/usr/bin/env python3
"""`ebb metrics` and bad input: bad flags, a target serving garbage, a target
that never answers, a bad query, and a store at its series limit -> clear
errors, up 0 with the reason, bounded memory, and the API keeps answering."""
import json
import socket
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ebbtest import Engine, Process, check, done, free_port, request, wait_until

ebb = sys.argv[1]

for args, want in [(["--scrape", "ftp://127.0.0.1:1/metrics"], "--scrape ftp://127.0.0.1:1/metrics"),
                   (["--scrape", "http://127.0.0.1:1/metrics", "--max-series", "0"], "--max-series"),
                   (["--nope"], "unknown flag")]:
    r = subprocess.run([ebb, "metrics", "--port", str(free_port()), *args], capture_output=True, text=True,
                       timeout=30)
    check(f"bad flags {args}: exit 2, the flag named", r.returncode == 2 and want in r.stderr, r.stderr)


class Garbage(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"this is { not the text format\n\x00\x01"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


garbage = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
threading.Thread(target=garbage.serve_forever, daemon=True).start()
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)  # accepts (the kernel does) and never answers
eng = Engine(ebb, "--time-scale", "0")

port = free_port()
urls = [f"http://127.0.0.1:{garbage.server_address[1]}/metrics", f"http://127.0.0.1:{silent.getsockname()[1]}/metrics",
        f"http://127.0.0.1:{eng.port}/metrics"]
m = Process([ebb, "metrics", "--port", str(port)] + sum((["--scrape", u] for u in urls), []), name="ebb-metrics")
wait_until(lambda: request("GET", port, "/-/ready")[0] == 200, 20, interval=0.1, what="ebb metrics")


def targets():
    return json.loads(request("GET", port, "/api/v1/targets")[2])["data"]["activeTargets"]


wait_until(lambda: all(t["health"] != "unknown" for t in targets()), 10, interval=0.2, what="every target scraped")
t = {x["scrapeUrl"]: x for x in targets()}
check("a target serving garbage is down, with the parse error and its line",
      t[urls[0]]["health"] == "down" and "line 1" in t[urls[0]]["lastError"], t[urls[0]])
check("a target that never answers is down with a timeout", t[urls[1]]["health"] == "down" and
      "timed out" in t[urls[1]]["lastError"], t[urls[1]])


def query(q):
    status, _, body = request("GET", port, "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    return status, json.loads(body)


s, up = query("up")
vals = {r["metric"]["instance"]: r["value"][1] for r in up["data"]["result"]}
check("up is 0 for both bad targets",
      vals.get(f"127.0.0.1:{garbage.server_address[1]}") == "0" and
      vals.get(f"127.0.0.1:{silent.getsockname()[1]}") == "0", vals)
s, bad = query("sum(rate(vllm:num_requests_waiting[1m])")
check("a malformed query: 400, errorType bad_data, the position named",
      s == 400 and bad["errorType"] == "bad_data" and "1:" in bad["error"], bad)
s, unsup = query("label_replace(up, 'a', '$1', 'job', '(.*)')")
check("a function outside the subset: a clear error naming it, never a wrong answer",
      s != 200 and "label_replace" in unsup["error"], unsup)
code = m.stop()
out = m.output()
check("ebb metrics exits 0, sanitizers quiet", code == 0 and not any(
    x in out for x in ("AddressSanitizer", "LeakSanitizer", "runtime error:")), out[-2000:])

# A store at its limit: new series are refused and counted, the rest goes on.
port = free_port()
small = Process([ebb, "metrics", "--port", str(port), "--max-series", "50", "--scrape", urls[2]], name="small")
wait_until(lambda: request("GET", port, "/-/ready")[0] == 200, 20, interval=0.1, what="ebb metrics")


def store_stat(name):
    _, _, body = request("GET", port, "/metrics")
    line = [l for l in body.decode().splitlines() if l.startswith(name + " ")]
    return float(line[0].split()[1]) if line else None


wait_until(lambda: store_stat("ebb_store_rejected_samples_total"), 10, interval=0.2, what="rejections")
check("--max-series 50 holds: 50 series at most, the rest counted as rejected",
      store_stat("ebb_store_series") <= 50 and store_stat("ebb_store_rejected_samples_total") > 0)
check("the chunks' bytes are some of the store's bytes",
      0 < store_stat("ebb_store_sample_bytes") < store_stat("ebb_store_bytes"))
check("and the API still answers", request("GET", port, "/api/v1/query?query=count(up)")[0] == 200)
small.stop()
eng.stop()
garbage.shutdown()
silent.close()
done()
