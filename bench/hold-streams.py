#!/usr/bin/env python3
"""hold-streams: opens N streaming requests to one server and holds them open,
sampling the memory of the processes given with --pid while it does.

Used by bench-router to measure what idle streams cost a proxy. Each stream is
one connection carrying one POST of --body (which should ask for a long SSE
stream); the response head must be 200 and text/event-stream, after which
every byte is read and counted (a stream that is not read would fill the
proxy's buffers, which is another test). Connections are opened in waves so
that no server's accept backlog overflows.

Memory is VmRSS and VmHWM from /proc/PID/status (KiB), summed over the pids
(a proxy may be several processes):
  base    before the first connection
  half    once half of the streams have their response head
  full    once every stream has its head (or the head deadline passed)
  held    --hold seconds later, the streams still open (growth while idle)
  after   1 s after every connection was closed
and, over the hold, the SSE events/s the streams received and the CPU the
pids used (percent of one core). Prints one line:
  HOLD n=... opened=... heads=... ok=... events_per_s=... cpu_pct=... open_s=... heads_s=...
       base_kib=... half_kib=... half_n=... full_kib=... held_kib=... after_kib=...
       hwm_kib=... errors=... first_error=...
With --complete each response is read to its end (the body should ask for a
finite stream) and the connection is then kept open, idle: "heads" counts
complete responses, and "held" is the memory idle keep-alive connections keep
after one response each.
Exit status 0 even when streams failed: the caller judges the counts.
"""
import argparse
import asyncio
import os
import resource
import sys
import time


def cpu_s(pids):
    """utime + stime of pids, in seconds."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def mem_kib(pids):
    rss = hwm = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    return rss, hwm


class Stream:
    __slots__ = ("reader", "writer", "status", "head", "events", "error", "task")

    def __init__(self):
        self.reader = self.writer = self.task = None
        self.status = 0
        self.head = False
        self.events = 0
        self.error = None


async def run_stream(s, host, port, request, heads_seen, complete):
    try:
        s.reader, s.writer = await asyncio.open_connection(host, port)
        s.writer.write(request)
        await s.writer.drain()
        head = await s.reader.readuntil(b"\r\n\r\n")
        first = head.split(b"\r\n", 1)[0].split()
        s.status = int(first[1]) if len(first) > 1 else 0
        s.head = not complete
        if not complete:
            heads_seen()
        if s.status != 200 or b"text/event-stream" not in head.lower():
            s.error = f"status {s.status}"
            if complete:
                heads_seen()
            return
        tail = b""
        while True:
            data = await s.reader.read(65536)
            if not data:
                s.error = s.error or "closed by the server"
                if complete and not s.head:
                    heads_seen()
                return
            s.events += data.count(b"data: ")
            tail = (tail + data)[-5:]
            if complete and not s.head and tail == b"0\r\n\r\n":
                # The whole (chunked) response is in: the connection now
                # idles, kept alive, until the end of the run.
                s.head = True
                heads_seen()
                await asyncio.Event().wait()
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a stream that failed is counted, not fatal
        s.error = f"{type(e).__name__}: {e}"
        if not s.head:
            heads_seen()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/v1/completions")
    ap.add_argument("--body", required=True)
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--pid", type=int, action="append", default=[])
    ap.add_argument("--wave", type=int, default=500, help="connections opened at once")
    ap.add_argument("--head-deadline", type=float, default=30, help="seconds to wait for heads")
    ap.add_argument("--hold", type=float, default=5, help="seconds to hold once all are open")
    ap.add_argument("--complete", action="store_true",
                    help="read each response to its end, then keep the connection open, idle")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    body = a.body.encode()
    request = (f"POST {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    out = {"n": a.n}
    out["base_kib"], _ = mem_kib(a.pid)
    streams = [Stream() for _ in range(a.n)]
    heads = 0
    half = asyncio.Event()
    allh = asyncio.Event()

    def heads_seen():
        nonlocal heads
        heads += 1
        if heads * 2 >= a.n:
            half.set()
        if heads >= a.n:
            allh.set()

    t0 = time.monotonic()
    for i in range(0, a.n, a.wave):
        wave = streams[i:i + a.wave]
        for s in wave:
            s.task = asyncio.create_task(run_stream(s, a.host, a.port, request, heads_seen, a.complete))
        # Let this wave connect before the next one (the accept backlog is finite).
        await asyncio.sleep(0)
        deadline = time.monotonic() + 5
        while any(s.writer is None and s.error is None for s in wave) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    out["opened"] = sum(1 for s in streams if s.writer is not None)
    out["open_s"] = round(time.monotonic() - t0, 2)

    try:
        await asyncio.wait_for(half.wait(), a.head_deadline)
    except asyncio.TimeoutError:
        pass
    out["half_n"] = heads
    out["half_kib"], _ = mem_kib(a.pid)
    try:
        await asyncio.wait_for(allh.wait(), max(0.1, a.head_deadline - (time.monotonic() - t0)))
    except asyncio.TimeoutError:
        pass
    out["heads_s"] = round(time.monotonic() - t0, 2)
    out["heads"] = heads
    out["full_kib"], _ = mem_kib(a.pid)
    events_full = sum(s.events for s in streams)
    cpu0 = cpu_s(a.pid)
    t_hold = time.monotonic()
    await asyncio.sleep(a.hold)
    held_s = time.monotonic() - t_hold
    out["held_kib"], out["hwm_kib"] = mem_kib(a.pid)
    out["events_per_s"] = round((sum(s.events for s in streams) - events_full) / held_s)
    out["cpu_pct"] = round((cpu_s(a.pid) - cpu0) / held_s * 100, 1)
    out["ok"] = sum(1 for s in streams if s.status == 200 and s.error is None and s.events > 0
                    and s.head)
    errors = [s.error for s in streams if s.error]
    out["errors"] = len(errors)
    out["first_error"] = (errors[0] if errors else "none").replace(" ", "_")

    for s in streams:
        s.task.cancel()
        if s.writer is not None:
            s.writer.transport.abort()
    await asyncio.gather(*(s.task for s in streams), return_exceptions=True)
    await asyncio.sleep(1)
    out["after_kib"], _ = mem_kib(a.pid)
    keys = ["n", "opened", "heads", "ok", "events_per_s", "cpu_pct", "open_s", "heads_s", "base_kib", "half_kib", "half_n",
            "full_kib", "held_kib", "after_kib", "hwm_kib", "errors", "first_error"]
    print("HOLD " + " ".join(f"{k}={out[k]}" for k in keys))
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
