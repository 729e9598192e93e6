#!/usr/bin/env python3
"""Cross-check of ebb's text-format parser against Debian's Prometheus 2.42:
every body here (the rules below and the fuzz corpus) is served on loopback
as a target of its own, one real Prometheus scrapes them all, and a target is
up exactly when textparse accepts its body, with as many samples.

Known differences are listed in KNOWN and reported, not failed: ebb refuses a
NUL byte inside a label value (Prometheus keeps it; a C string cannot), and
its limits (labels per series, line and value length) are ones Prometheus
does not have by default. Usage: crosscheck_prometheus.py VERDICT_EXE CORPUS_DIR
Fails without a prometheus binary (scripts/install-deps installs it): nothing is skipped."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

RULES = [
    # accepted
    b"foo 1\n", b"foo 1", b"", b"vllm:num_requests_waiting{model_name=\"m\"} 3\n", b"_x 1\n:y 2\n",
    b"x{b=\"1\",a=\"2\",Z=\"3\"} 1", b"x{a=\"q\\\"b\\\\c\\nd\\te\"} 1", b"x{a=\"l1\nl2\"} 1\ny 2\n",
    b"x{a=\"h\xc3\xa9\"} 1", b"x{a=\"\"} 1", b"x{a=\"1\",} 1", b"x{a=\"1\" b=\"2\"} 1", b"x{a=\"1\"b=\"2\"}3",
    b"x { a = \"1\" ,\tb= \"2\" , } 1 \t\n", b"x{} 1", b"x{}1\nfoo1.5\n",
    b"a 1e3\nb 1E-3\nc .5\nd 5.\ne -0\nf +3\ng 007\n", b"a +Inf\nb -Inf\nc inf\nd -infinity\ne INF\n",
    b"a NaN\nb nan\n", b"a 1e-400\n", b"a 1 1700000000000\nb 2 \t 0 \n", b"\n\nx 1\n\t\n \t# c\ny 2",
    b"# hello\n#\n#no blank\n# HELPER x\n# TYPE\n#  TYPEx y\nx 1",
    b"# HELP x Some help.\n# TYPE x gauge\n# HELP y\n# HELP z \nx 1", b"#\t TYPE x\tcounter\nx 1",
    b"# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
    b"x 1\n\0garbage{{{\n", b"# a\0b\nx 1\n", b"x{__meta=\"1\"} 1",
    b"x{a=\"1\"} 1\nx{a=\"1\"} 2\n", b"x 1 0\n", b"x{a=\"\",a=\"1\"} 1\n", b"x{a=\"b\0\"} 1\n",
    b"#a\0b\nx 1\n", b"# \0b\nx 1\n", b"x 1\n \0y 1\n", b"# HELP x a\0b\nx 1\n", b"x 1 \0\n",
    # rejected
    b"x 1\n  y 1\n", b"\tx 1\n", b"x 1\r\n", b"x 1 5\r\n", b"x 1\n\r\n", b"1x 1\n", b"{a=\"b\"} 1\n", b"x{1a=\"b\"} 1", b"x{a:b=\"c\"} 1",
    b"x{\"a\"=\"b\"} 1", b"x{a=b} 1", b"x{a='b'} 1", b"x{a=\"b} 1", b"x{a=\"b\\\n\"} 1", b"x{a=\"\xff\"} 1",
    b"x{a=\"\xc0\xaf\"} 1", b"x{,a=\"1\"} 1", b"x{a=\"1\",,b=\"2\"} 1", b"x{a=\"1\",a=\"2\"} 1",
    b"x{__name__=\"y\"} 1", b"x\n", b"x{a=\"b\"}\n", b"x {a=\"1\"} {b=\"2\"} 1", b"x true", b"x 1_0",
    b"x 0x1p3", b"x 0x10", b"x +NaN", b"x infin", b"x 1e", b"x 1e400", b"x 1 -5", b"x 1 1.5",
    b"x 1 9223372036854775808", b"x 1 2 3", b"# TYPE x foo\n", b"# TYPE x  counter\n",
    b"# TYPE x counter \n", b"# TYPE x\n", b"# TYPE 1x counter\n", b"# TYPE x counter\r\n",
    b"# HELP x bad \xff\n", b"a 1\n\n# c\nb{ 2\nc 3 x\n",
]


def known(body, verdict):
    if verdict.startswith("ERR") and ("NUL byte" in verdict or "longer than" in verdict
                                      or "more than" in verdict):
        return True
    return False


def main():
    verdict_exe, corpus = sys.argv[1], sys.argv[2]
    if not shutil.which("prometheus"):
        print("not ok - no prometheus binary on PATH (scripts/install-deps installs Debian's)")
        return 1
    tmp = tempfile.mkdtemp(prefix="ebb-crosscheck-")
    cases = []  # (name, body)
    for i, b in enumerate(RULES):
        cases.append((f"rule{i}", b))
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as f:
            data = f.read()
        cases.append((f"corpus-{name}", data[1:]))
    paths = []
    for i, (name, body) in enumerate(cases):
        p = os.path.join(tmp, f"case{i}")
        with open(p, "wb") as f:
            f.write(body)
        paths.append(p)
    out = subprocess.run([verdict_exe] + paths, capture_output=True, check=True, timeout=60).stdout
    ours = {}
    for line in out.decode("utf-8", "replace").splitlines():
        path, v, detail = line.split("\t", 2)
        ours[os.path.basename(path)] = v + " " + detail

    bodies = {f"/case{i}": body for i, (_, body) in enumerate(cases)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        prom_port = s.getsockname()[1]
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n")
        for i in range(len(cases)):
            f.write(f"  - job_name: case{i}\n    metrics_path: /case{i}\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp}/prometheus.yml",
                             f"--storage.tsdb.path={tmp}/data", f"--web.listen-address=127.0.0.1:{prom_port}",
                             "--log.level=error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs = {}
    counts = {}
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(theirs) < len(cases):
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/targets?state=active",
                                            timeout=5) as r:
                    doc = json.load(r)
            except OSError:
                continue
            for t in doc["data"]["activeTargets"]:
                if t["health"] in ("up", "down"):
                    theirs[t["scrapePool"]] = (t["health"], t["lastError"])
        # How many samples each body held, by Prometheus's count.
        q = urllib.parse.quote("scrape_samples_scraped")
        with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}", timeout=5) as r:
            for series in json.load(r)["data"]["result"]:
                counts[series["metric"]["job"]] = int(float(series["value"][1]))
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    failed = 0
    agree = 0
    for i, (name, body) in enumerate(cases):
        key = f"case{i}"
        if key not in theirs:
            print(f"FAIL {name}: prometheus never scraped it")
            failed += 1
            continue
        health, err = theirs[key]
        v = ours[key]
        if (health == "up") == v.startswith("OK"):
            if health == "up" and counts.get(key) != int(v.split()[1]):
                print(f"FAIL {name} {body[:80]!r}: prometheus read {counts.get(key)} samples; ebb {v}")
                failed += 1
                continue
            agree += 1
            continue
        tag = "KNOWN" if known(body, v) else "FAIL"
        failed += tag == "FAIL"
        print(f"{tag} {name} {body[:80]!r}: prometheus {health} {err!r}; ebb {v}")
    print(f"{agree} of {len(cases)} bodies: the same verdict (and sample count) as Prometheus 2.42")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
