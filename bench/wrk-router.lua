-- wrk script for bench-router's small, non-streaming requests: POSTs
-- WRK_BODY (a /v1/completions body with "model", which the router parses to
-- route) and at the end prints one machine-readable line, latencies in
-- microseconds (bench-router compares proxies that add tens of them).
--
-- Environment: WRK_BODY (required); WRK_DELAY_MS (optional): each connection
-- waits this long on average after a response before its next request, which
-- paces the load at about connections / (delay + latency) requests per second. wrk starts the
-- latency clock when it writes the request, after the wait, so paced runs
-- measure latency below saturation rather than queueing at it.
--
-- As in wrk-post.lua, there is no response() callback (it would make the
-- client the bottleneck).

local body = os.getenv("WRK_BODY")
if not body or body == "" then
    error("WRK_BODY is not set")
end
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0") or 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body

if delay_ms > 0 then
    -- wrk looks for a global delay() once per thread: only defined when
    -- pacing. Uniform in [0, 2 x WRK_DELAY_MS] (whole milliseconds, wrk's
    -- unit), so that connections drift apart instead of firing in lockstep
    -- bursts after wrk opens them all at once.
    math.randomseed(os.time())
    function delay()
        return math.random(0, 2 * delay_ms)
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "WRK requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d "
            .. "timeout=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
        summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
        e.status, e.timeout, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), latency.max))
end
