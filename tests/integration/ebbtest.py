"""Shared helpers for ebb's integration tests: start real processes on
127.0.0.1, talk HTTP to them, and always stop them.

Stdlib only (the tests run on a bare Debian 12 with python3). Each test file
is a script: it runs its checks in order, prints one line per check, and
exits non-zero on the first failure, after stopping every process it started.
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import http.client

_procs = []
_checks = 0


def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(n):
    """n consecutive ports that bind now, below the ephemeral range (whose
    ports outgoing connections take at any moment): for a LocalDeployment's
    basePort, whose replica i listens on basePort + i."""
    import random
    for _ in range(200):
        base = random.randrange(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} free consecutive ports")


def _stop_all():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


atexit.register(_stop_all)


def check(name, cond, detail=""):
    """One named check. A failure stops the test with the name and detail."""
    global _checks
    if not cond:
        print(f"not ok - {name}" + (f": {detail}" if detail else ""), flush=True)
        _stop_all()
        sys.exit(1)
    _checks += 1
    print(f"ok - {name}", flush=True)


def done():
    print(f"{_checks} checks passed", flush=True)


class Process:
    """A child process with its output in a temporary log file."""

    def __init__(self, args, env=None, name=None):
        self.name = name or os.path.basename(args[0])
        self.log = tempfile.NamedTemporaryFile(prefix=f"{self.name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        _procs.append(self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def wait_until(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class Engine(Process):
    """`ebb engine` on a free port."""

    def __init__(self, ebb, *flags, env=None, wait=True):
        self.port = free_port()
        super().__init__([ebb, "engine", "--port", str(self.port), *flags], env=env, name="engine")
        self.base = f"http://127.0.0.1:{self.port}"
        if wait:
            self.wait_ready()

    def stop(self, timeout=10):
        """Stops the engine and checks it exited 0 with no sanitizer report."""
        rc = super().stop(timeout)
        out = self.output()
        report = any(s in out for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:"))
        check(f"engine on port {self.port} exited cleanly", rc == 0 and not report,
              f"rc={rc}\n{out[-3000:]}")
        return rc

    def wait_ready(self, timeout=20):
        wait_until(lambda: request("GET", self.port, "/health")[0] == 200, timeout,
                   what=f"engine on port {self.port}")


class Router(Process):
    """`ebb router` on a free port, in front of the given backend URLs."""

    def __init__(self, ebb, backends, *flags, models=None, wait=True):
        self.port = free_port()
        models = models or ["meta-llama/Llama-3.1-8B-Instruct"] * len(backends)
        super().__init__([ebb, "router", "--port", str(self.port), "--static-backends", ",".join(backends),
                          "--static-models", ",".join(models), *flags], name="router")
        if wait:
            wait_until(lambda: request("GET", self.port, "/health")[0] == 200, 20,
                       what=f"router on port {self.port}")

    def stop(self, timeout=10):
        rc = super().stop(timeout)
        out = self.output()
        report = any(s in out for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:"))
        check(f"router on port {self.port} exited cleanly", rc == 0 and not report,
              f"rc={rc}\n{out[-3000:]}")
        return rc


def request(method, port, path, body=None, headers=None, timeout=30):
    """One HTTP request. Returns (status, headers dict with lower-case keys, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def post_json(port, path, body, headers=None, timeout=60):
    status, hdrs, data = request("POST", port, path, body, headers, timeout)
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, data


def stream(port, path, body, timeout=120, on_event=None):
    """POSTs a streaming request and reads the SSE events as they arrive.
    Returns (status, headers, events [(monotonic time, data string)])."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        events = []
        buf = b""
        while True:
            try:
                chunk = r.read1(65536)
            except (http.client.IncompleteRead, ConnectionError):
                break  # the server cut the stream; the events so far tell how far it got
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                raw, buf = buf.split(b"\n\n", 1)
                line = raw.decode()
                if not line.startswith("data: "):
                    raise ValueError(f"bad SSE framing: {line!r}")
                events.append((time.monotonic(), line[6:]))
                if on_event:
                    on_event(line[6:])
        return r.status, hdrs, events
    finally:
        conn.close()


def metrics(port):
    """Scrapes /metrics into {name: {labels string: value}}."""
    status, _, data = request("GET", port, "/metrics")
    out = {}
    for line in data.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        if "{" in name_labels:
            name, labels = name_labels.split("{", 1)
            labels = labels.rstrip("}")
        else:
            name, labels = name_labels, ""
        out.setdefault(name, {})[labels] = float(value)
    return out


def metric_sum(m, name):
    return sum(m.get(name, {}).values())


# promtool's lint findings that come from names ebb must keep because vLLM or
# production-stack define them: ':' in every vllm: name (reserved for
# recording rules by convention), and production-stack's gauge
# vllm:healthy_pods_total, whose name ends in _total.
INHERENT_FINDINGS = (
    "metric names should not contain ':'",
    'vllm:healthy_pods_total non-counter metrics should not have "_total" suffix',
)


def promtool_check(body):
    """Runs `promtool check metrics` on an exposition. Returns (ok, detail):
    ok when it parses and every lint finding is an inherent one."""
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode()
    if r.returncode not in (0, 3):  # 1: a parse error
        return False, out[-2000:]
    findings = [l.strip() for l in out.splitlines() if l.strip()]
    bad = [f for f in findings if not any(f.endswith(i) for i in INHERENT_FINDINGS)]
    return not bad, "\n".join(bad[:10])


def tutorial_prompt(i, prompt_len):
    """The prompt of the tutorial's load generator (example-10-load-generator.py)."""
    return f"Prompt {i} with dummy text " + "Hi " * prompt_len + "how are you?"


def run_threads(fns):
    """Runs the callables concurrently; returns their results in order."""
    results = [None] * len(fns)
    errors = []

    def wrap(i, fn):
        try:
            results[i] = fn()
        except Exception as e:  # reported below with the index
            errors.append((i, e))

    threads = [threading.Thread(target=wrap, args=(i, f)) for i, f in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(fns)} failed, first: {errors[0]}")
    return results
