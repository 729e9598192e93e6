#!/usr/bin/env python3
"""make demo (for now): start `ebb engine`, send it the tutorial's load
(example-10-load-generator.py: 100 streaming completions, --prompt-len 3000,
max_tokens 80, all at once), watch vllm:num_requests_waiting rise and drain,
and print what happened. The engine runs 10x faster than real time so the
burst that takes ~12 s on an H100 takes ~1.2 s here."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from ebbtest import Engine, metrics, metric_sum, stream, tutorial_prompt  # noqa: E402

SCALE = 10
N = 100
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ebb = sys.argv[1]
    print(f"starting: ebb engine --model {MODEL} --time-scale {SCALE}")
    eng = Engine(ebb, "--time-scale", str(SCALE))
    print(f"engine ready on {eng.base} (a simulated Llama-3.1-8B on one H100, {SCALE}x real time)\n")
    print(f"sending the tutorial's burst: {N} streaming completions, prompt-len 3000, max_tokens 80")

    samples, stop = [], threading.Event()

    def sampler():
        while not stop.is_set():
            m = metrics(eng.port)
            samples.append((time.monotonic(), metric_sum(m, "vllm:num_requests_waiting"),
                            metric_sum(m, "vllm:num_requests_running"),
                            metric_sum(m, "vllm:kv_cache_usage_perc")))
            time.sleep(0.05)

    results = [None] * N

    def one(i):
        t0 = time.monotonic()
        try:
            status, _, events = stream(eng.port, "/v1/completions", {
                "model": MODEL, "prompt": tutorial_prompt(i, 3000), "echo": False, "temperature": 0,
                "max_tokens": 80, "stream": True, "stream_options": {"include_usage": True}})
            usage = json.loads(events[-2][1])["usage"] if len(events) >= 2 else {}
            results[i] = (status, events[0][0] - t0, events[-1][0] - t0, usage.get("completion_tokens", 0))
        except Exception as e:  # counted as a failure in the summary
            results[i] = (str(e), 0, 0, 0)

    st = threading.Thread(target=sampler)
    st.start()
    t_start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    last_print = 0
    while any(t.is_alive() for t in threads):
        time.sleep(0.05)
        if samples and time.monotonic() - last_print >= 0.2:
            _, w, r, kv = samples[-1]
            bar = "#" * int(w / 2)
            print(f"  t={time.monotonic() - t_start:5.2f}s  waiting={int(w):3d}  running={int(r):3d}  "
                  f"kv={kv * 100:4.1f}%  {bar}")
            last_print = time.monotonic()
    wall = time.monotonic() - t_start
    time.sleep(0.2)
    stop.set()
    st.join()

    ok = [r for r in results if r[0] == 200]
    ttft = [r[1] for r in ok]
    e2e = [r[2] for r in ok]
    toks = sum(r[3] for r in ok)
    peak = max(s[1] for s in samples)
    m = metrics(eng.port)
    eng.stop()
    print("\nwhat happened")
    print(f"  requests: {len(results)} sent, {len(ok)} ok, {len(results) - len(ok)} failed")
    print(f"  peak vllm:num_requests_waiting: {int(peak)} (the tutorial's ScaledObject threshold is 5)")
    print(f"  queue drained to {int(samples[-1][1])} waiting, {int(samples[-1][2])} running")
    print(f"  TTFT p50/p90/p99: {pct(ttft, 50):.3f} / {pct(ttft, 90):.3f} / {pct(ttft, 99):.3f} s "
          f"(x{SCALE} = {pct(ttft, 50) * SCALE:.1f} / {pct(ttft, 90) * SCALE:.1f} / "
          f"{pct(ttft, 99) * SCALE:.1f} s on a real H100)")
    print(f"  e2e p50/p99: {pct(e2e, 50):.3f} / {pct(e2e, 99):.3f} s; output {toks} tokens in "
          f"{wall:.2f} s ({toks / wall:.0f} tokens/s at {SCALE}x)")
    print(f"  engine counters: prompt_tokens_total={int(metric_sum(m, 'vllm:prompt_tokens_total'))} "
          f"generation_tokens_total={int(metric_sum(m, 'vllm:generation_tokens_total'))} "
          f"preemptions={int(metric_sum(m, 'vllm:num_preemptions_total'))}")
    print("\none replica queues this burst for seconds: that is what the autoscaler "
          "(coming next) scales on.")
    return 0 if len(ok) == N else 1


if __name__ == "__main__":
    sys.exit(main())
