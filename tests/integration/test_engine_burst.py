#!/usr/bin/env python3
"""The tutorial's load against one engine: 100 streaming completions with
~3,000-token prompts and 80 output tokens, all at once (as
example-10-load-generator.py sends them). vllm:num_requests_waiting must rise
well above the ScaledObject's threshold of 5 and drain to 0, and TTFTs must
follow the timing model. Run 10x faster than real time."""
import json
import sys
import threading
import time

from ebbtest import (Engine, check, done, metrics, metric_sum, run_threads, stream, tutorial_prompt)

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SCALE = 10.0
N = 100

eng = Engine(ebb, "--time-scale", str(SCALE))
port = eng.port

samples = []
stop = threading.Event()


def sampler():
    while not stop.is_set():
        m = metrics(port)
        samples.append((time.monotonic(), metric_sum(m, "vllm:num_requests_waiting"),
                        metric_sum(m, "vllm:num_requests_running")))
        time.sleep(0.02)


st = threading.Thread(target=sampler)
st.start()
t_start = time.monotonic()


def one(i):
    body = {"model": MODEL, "prompt": tutorial_prompt(i, 3000), "echo": False, "temperature": 0,
            "max_tokens": 80, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    t0 = time.monotonic()
    status, _, events = stream(port, "/v1/completions", body)
    usage = json.loads(events[-2][1])["usage"]
    return {"status": status, "ttft": events[0][0] - t0, "e2e": events[-1][0] - t0,
            "tokens": sum(1 for _, d in events[:-1] if json.loads(d)["choices"]), "usage": usage}


results = run_threads([lambda i=i: one(i) for i in range(N)])
time.sleep(0.2)
stop.set()
st.join()

check("all 100 requests succeeded", all(r["status"] == 200 for r in results))
check("each streamed 80 tokens", all(r["tokens"] == 80 for r in results), [r["tokens"] for r in results][:10])
check("usage: ~3,011 prompt tokens each (the tutorial's prompt on Llama-3)",
      all(3005 <= r["usage"]["prompt_tokens"] <= 3016 for r in results), results[0]["usage"])
peak = max(w for _, w, _ in samples)
check("num_requests_waiting rises well above the threshold of 5", peak >= 50, f"peak {peak}")
check("num_requests_waiting drains to 0", samples[-1][1] == 0 and samples[-1][2] == 0, samples[-3:])
check("running never exceeds what KV and max_num_seqs allow", max(r for _, _, r in samples) <= 100)

# Timing model: 8,192 prompt tokens per step at 5.5 ms + 0.03 ms/token.
step = (5.5 + 0.03 * 8192) / 1000
total_prefill = sum(r["usage"]["prompt_tokens"] for r in results)
predicted_last_ttft = total_prefill / 8192 * step / SCALE
ttfts = sorted(r["ttft"] for r in results)
first_pred = (5.5 + 0.03 * 3011) / 1000 / SCALE
check("the first TTFT is about one 3,000-token prefill step",
      first_pred * 0.8 <= ttfts[0] <= first_pred * 4 + 0.05, f"{ttfts[0]:.3f}s vs {first_pred:.3f}s")
check("the last TTFT is about the whole burst's prefill time",
      0.6 * predicted_last_ttft <= ttfts[-1] <= 1.6 * predicted_last_ttft + 0.1,
      f"{ttfts[-1]:.3f}s vs {predicted_last_ttft:.3f}s")
check("TTFTs spread over the burst (queueing, not all at once)", ttfts[N // 2] > 3 * ttfts[0])

m = metrics(port)
lbl = f'engine="0",model_name="{MODEL}"'
check("the TTFT histogram counted every request", m["vllm:time_to_first_token_seconds_count"][lbl] == N)
mean_ttft = m["vllm:time_to_first_token_seconds_sum"][lbl] / N
client_mean = sum(ttfts) / N
check("engine-side mean TTFT matches what the clients saw", abs(mean_ttft - client_mean) < 0.25 * client_mean + 0.05,
      f"engine {mean_ttft:.3f}s, clients {client_mean:.3f}s")
check("prompt_tokens_total = sum of usage.prompt_tokens", m["vllm:prompt_tokens_total"][lbl] == total_prefill)
check("generation_tokens_total = 100 x 80", m["vllm:generation_tokens_total"][lbl] == N * 80)
check("queue time was observed for every request", m["vllm:request_queue_time_seconds_count"][lbl] == N)
check("ITL observed 79 times per request", m["vllm:inter_token_latency_seconds_count"][lbl] == N * 79)
check("no preemption: the burst fits the default KV cache", m["vllm:num_preemptions_total"][lbl] == 0)
eng.stop()

# A small KV cache forces preemptions (recompute), as on a smaller GPU.
eng = Engine(ebb, "--time-scale", "20", "--num-gpu-blocks", "8300", "--max-model-len", "8192")
results = run_threads([lambda i=i: stream(eng.port, "/v1/completions", {
    "prompt": tutorial_prompt(i, 3000), "max_tokens": 400, "stream": True, "ignore_eos": True})
    for i in range(50)])
m = metrics(eng.port)
check("a KV cache of 8,300 blocks forces preemptions", m["vllm:num_preemptions_total"][lbl] > 0,
      m["vllm:num_preemptions_total"])
check("every preempted request still completed with all its tokens",
      all(r[0] == 200 and len(r[2]) == 401 for r in results))
check("KV cache is empty again", metric_sum(m, "vllm:kv_cache_usage_perc") == 0)
eng.stop()
done()
