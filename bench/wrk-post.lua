-- wrk script for the streaming benchmarks: POSTs the same /v1/completions
-- body to every server (nginx ignores it), and at the end prints one
-- machine-readable line that bench-stream parses.
--
-- Environment: MAX_TOKENS, the request's max_tokens (default 64).
--
-- There is deliberately no response() callback: with one, wrk hands every
-- body to Lua, and the client would cost more than the servers it measures.

local max_tokens = os.getenv("MAX_TOKENS") or "64"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"Once upon a time,",'
    .. '"max_tokens":' .. max_tokens .. ',"stream":true,"ignore_eos":true}'

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "WRK requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d "
            .. "timeout=%d p50_ms=%.1f p99_ms=%.1f\n",
        summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
        e.status, e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
