#!/usr/bin/env python3
"""ebb engine speaks vLLM's OpenAI-compatible API: shapes, SSE framing, usage,
ids, models, health, version, auth and sleep mode (vllm-stack-spec.md §4)."""
import json
import subprocess
import sys

from ebbtest import (Engine, check, done, post_json, request, stream, metrics, metric_sum)

ebb = sys.argv[1]
MODEL = "meta-llama/Llama-3.1-8B-Instruct"

eng = Engine(ebb, "--time-scale", "50")
port = eng.port

# The tutorial's own curl, verbatim (curl is a Debian package the tests install).
out = subprocess.run(
    ["curl", "-sS", "-X", "POST", f"http://localhost:{port}/v1/completions",
     "-H", "Content-Type: application/json",
     "-d", '{\n  "model": "meta-llama/Llama-3.1-8B-Instruct",\n  "prompt": "Once upon a time,",\n'
           '  "max_tokens": 10\n}'],
    capture_output=True, text=True, timeout=30)
body = json.loads(out.stdout)
check("tutorial curl: a text_completion", body["object"] == "text_completion", out.stdout)
check("tutorial curl: id is cmpl-<hex>", body["id"].startswith("cmpl-") and len(body["id"]) == 37, body["id"])
check("tutorial curl: model echoed", body["model"] == MODEL)
choice = body["choices"][0]
check("tutorial curl: finish_reason length at max_tokens 10", choice["finish_reason"] == "length")
check("tutorial curl: usage counts 6 prompt + 10 completion tokens",
      body["usage"] == {"prompt_tokens": 6, "total_tokens": 16, "completion_tokens": 10,
                        "prompt_tokens_details": None}, body["usage"])
check("tutorial curl: text has 10 words (one token each)", len(choice["text"].split()) == 10, choice["text"])
check("tutorial curl: vLLM's null fields present",
      all(k in body for k in ("service_tier", "system_fingerprint", "kv_transfer_params"))
      and choice["logprobs"] is None and choice["stop_reason"] is None)

status, again = post_json(port, "/v1/completions", {"model": MODEL, "prompt": "Once upon a time,", "max_tokens": 10})
check("same prompt, same text (deterministic)", again["choices"][0]["text"] == choice["text"])

# Streaming completions with include_usage.
status, hdrs, events = stream(port, "/v1/completions", {
    "model": MODEL, "prompt": "Once upon a time,", "max_tokens": 5, "stream": True,
    "stream_options": {"include_usage": True}})
check("stream: 200 text/event-stream", status == 200 and hdrs["content-type"].startswith("text/event-stream"),
      hdrs)
check("stream: chunked transfer", hdrs.get("transfer-encoding") == "chunked")
check("stream: ends with [DONE]", events[-1][1] == "[DONE]")
chunks = [json.loads(d) for _, d in events[:-1]]
token_chunks = [c for c in chunks if c["choices"]]
check("stream: one chunk per token", len(token_chunks) == 5, len(token_chunks))
check("stream: token chunks carry usage null", all("usage" in c and c["usage"] is None for c in token_chunks))
check("stream: only the last token chunk has finish_reason",
      [c["choices"][0]["finish_reason"] for c in token_chunks] == [None] * 4 + ["length"])
check("stream: usage chunk has empty choices",
      chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {"prompt_tokens": 6, "total_tokens": 11,
                                                              "completion_tokens": 5}, chunks[-1])
check("stream: all chunks share one id", len({c["id"] for c in chunks}) == 1)

# Chat, non-streaming and streaming.
status, chat = post_json(port, "/v1/chat/completions", {
    "model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 7})
check("chat: chat.completion with assistant message",
      status == 200 and chat["object"] == "chat.completion" and
      chat["choices"][0]["message"]["role"] == "assistant", chat)
check("chat: id is chatcmpl-", chat["id"].startswith("chatcmpl-"))
check("chat: template tokens counted (Hello ~ 36 prompt tokens)",
      33 <= chat["usage"]["prompt_tokens"] <= 39, chat["usage"])
check("chat: 7 completion tokens", chat["usage"]["completion_tokens"] == 7)

status, hdrs, events = stream(port, "/v1/chat/completions", {
    "model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3,
    "stream": True})
chunks = [json.loads(d) for _, d in events[:-1]]
check("chat stream: first delta is the role",
      chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}, chunks[0])
check("chat stream: then one content delta per token",
      [list(c["choices"][0]["delta"]) for c in chunks[1:]] == [["content"]] * 3)
check("chat stream: last has finish_reason", chunks[-1]["choices"][0]["finish_reason"] == "length")
check("chat stream: no usage chunk without include_usage", all(c["choices"] for c in chunks))

# Chat without max_tokens stops at the simulated EOS with "stop".
status, chat = post_json(port, "/v1/chat/completions", {
    "model": MODEL, "messages": [{"role": "user", "content": "Tell me a story"}]})
check("chat without max_tokens ends with stop", chat["choices"][0]["finish_reason"] == "stop", chat["choices"][0])
check("natural length within the default 128..512",
      128 <= chat["usage"]["completion_tokens"] <= 512, chat["usage"])

# X-Request-Id becomes the id, as vLLM does.
status, body = post_json(port, "/v1/completions", {"prompt": "x", "max_tokens": 1},
                         headers={"X-Request-Id": "abc-123"})
check("X-Request-Id becomes cmpl-<id>", body["id"] == "cmpl-abc-123", body["id"])
check("missing model defaults to the served model", body["model"] == MODEL)

# Models, health, version, load.
status, _, data = request("GET", port, "/v1/models")
models = json.loads(data)
card = models["data"][0]
check("/v1/models lists the model with vLLM's card",
      models["object"] == "list" and card["id"] == MODEL and card["owned_by"] == "vllm"
      and card["max_model_len"] == 131072 and card["root"] == MODEL
      and card["permission"][0]["object"] == "model_permission", card)
status, _, data = request("GET", port, "/health")
check("/health is 200 with an empty body", status == 200 and data == b"")
status, _, data = request("GET", port, "/version")
check("/version reports a vLLM version", status == 200 and json.loads(data) == {"version": "0.11.0"})
status, _, data = request("GET", port, "/load")
check("/load reports server_load", json.loads(data) == {"server_load": 0})

# Metrics agree with the usage returned so far.
m = metrics(port)
gen = metric_sum(m, "vllm:generation_tokens_total")
check("generation_tokens_total counts every token served", gen == 10 + 10 + 5 + 7 + 3 + chat["usage"]["completion_tokens"] + 1, gen)
check("request_success_total by reason",
      m["vllm:request_success_total"]['engine="0",finished_reason="length",model_name="%s"' % MODEL] == 6 and
      m["vllm:request_success_total"]['engine="0",finished_reason="stop",model_name="%s"' % MODEL] == 1,
      m["vllm:request_success_total"])

# Sleep mode: while asleep nothing is scheduled; wake_up resumes.
status, _, _ = request("POST", port, "/sleep?level=1")
check("/sleep answers 200", status == 200)
status, _, data = request("GET", port, "/is_sleeping")
check("/is_sleeping is true", json.loads(data) == {"is_sleeping": True})
import threading
result = {}
t = threading.Thread(target=lambda: result.update(r=post_json(port, "/v1/completions", {"prompt": "x", "max_tokens": 2})))
t.start()
import time
time.sleep(0.3)
m = metrics(port)
check("asleep: a new request waits", metric_sum(m, "vllm:num_requests_waiting") == 1)
check("asleep: engine_sleep_state shows level 1",
      m["vllm:engine_sleep_state"]['engine="0",model_name="%s",sleep_state="weights_offloaded"' % MODEL] == 1)
status, _, _ = request("POST", port, "/wake_up")
t.join(timeout=10)
check("/wake_up resumes: the waiting request completes", result.get("r", (0,))[0] == 200, result)
status, _, data = request("GET", port, "/is_sleeping")
check("/is_sleeping is false after wake_up", json.loads(data) == {"is_sleeping": False})
eng.stop()

# Auth and served names.
eng = Engine(ebb, "--api-key", "sekret", "--served-model-name", "llama,alias", "--time-scale", "0")
status, body = post_json(eng.port, "/v1/completions", {"model": "llama", "prompt": "x", "max_tokens": 1})
check("--api-key: no key is 401 {\"error\":\"Unauthorized\"}", status == 401 and body == {"error": "Unauthorized"})
status, body = post_json(eng.port, "/v1/completions", {"model": "llama", "prompt": "x", "max_tokens": 1},
                         headers={"Authorization": "Bearer wrong"})
check("--api-key: a wrong key is 401", status == 401)
status, body = post_json(eng.port, "/v1/completions", {"model": "alias", "prompt": "x", "max_tokens": 1},
                         headers={"Authorization": "Bearer sekret"})
check("--api-key: the right key is 200; a second served name works", status == 200 and body["model"] == "alias")
status, _, _ = request("GET", eng.port, "/health")
check("--api-key: /health stays open", status == 200)
status, _, _ = request("GET", eng.port, "/metrics")
check("--api-key: /metrics stays open", status == 200)
m = metrics(eng.port)
check("metrics are labelled with the first served name",
      'engine="0",model_name="llama"' in m["vllm:num_requests_running"])
eng.stop()
done()
