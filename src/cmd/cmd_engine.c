/* ebb engine: run the simulated vLLM engine until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "base/opts.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "engine/engine.h"

static const char summary[] =
    "A simulated vLLM engine: vLLM's OpenAI-compatible API (completions and chat,\n"
    "streaming or not), its /metrics, and its V1 scheduler (continuous batching,\n"
    "chunked prefill, 16-token KV blocks, recompute preemption) driven by a timing\n"
    "model of Llama-3.1-8B on one H100. For tests, demos and benchmarks without GPUs.\n"
    "\n"
    "Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models,\n"
    "GET /health, GET /version, GET /metrics, GET /load, POST /sleep?level=1|2,\n"
    "POST /wake_up, GET /is_sleeping.";

static const char epilog[] =
    "examples:\n"
    "  ebb engine --port 8000 --model meta-llama/Llama-3.1-8B-Instruct\n"
    "  ebb engine --time-scale 20        # the same model, 20x faster than real time\n"
    "  ebb engine --time-scale 0         # timing model off: as fast as the CPU allows\n"
    "  ebb engine --startup-delay 60     # port opens after 60 s, like a warm vLLM pod\n"
    "\n"
    "SIGTERM or SIGINT: stop accepting connections, let in-flight requests finish\n"
    "(up to --shutdown-grace seconds), then exit 0.\n";

struct engine_cmd {
    struct engine engine;
    uv_signal_t sigterm, sigint;
    int exit_code;
};

static void on_stopped(struct engine *e)
{
    struct engine_cmd *c = (struct engine_cmd *)e;
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    engine_release(e);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct engine_cmd *c = s->data;
    log_info("received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    engine_stop(&c->engine, on_stopped);
}

int cmd_engine(int argc, char **argv)
{
    struct engine_config cfg;
    engine_config_defaults(&cfg);
    const char *log_level = "info";
    const char *env_key = getenv("VLLM_API_KEY");
    if (env_key && *env_key)
        cfg.api_key = env_key;
    const struct opt opts[] = {
        {"host", OPT_STRING, &cfg.host, "ADDR", "address to listen on", 0, 0, NULL},
        {"port", OPT_INT, &cfg.port, "PORT", "port to listen on", 1, 65535, NULL},
        {"model", OPT_STRING, &cfg.model, "NAME", "model path or id, as vllm serve takes it", 0, 0,
         NULL},
        {"served-model-name", OPT_STRING, &cfg.served_model_name, "NAMES",
         "comma-separated names the API accepts; the first labels metrics (default: --model)", 0,
         0, NULL},
        {"api-key", OPT_STRING, &cfg.api_key, "KEY",
         "require 'Authorization: Bearer KEY' on /v1/* (also $VLLM_API_KEY)", 0, 0, NULL},
        {"max-model-len", OPT_INT, &cfg.max_model_len, "TOKENS",
         "context length: prompt + max_tokens above it is a 400", 16, 16777216, NULL},
        {"max-num-seqs", OPT_INT, &cfg.max_num_seqs, "N", "most requests running in one step", 1,
         65536, NULL},
        {"max-num-batched-tokens", OPT_INT, &cfg.max_num_batched_tokens, "TOKENS",
         "token budget of one step", 1, 16777216, NULL},
        {"no-enable-chunked-prefill", OPT_FLAG, &cfg.no_chunked_prefill, NULL,
         "turn chunked prefill off: a prompt must fit one step's budget", 0, 0, NULL},
        {"num-gpu-blocks", OPT_INT, &cfg.num_gpu_blocks, "N",
         "KV cache size in 16-token blocks (0: derive from the memory flags)", 0, 1 << 28, NULL},
        {"gpu-memory-utilization", OPT_DOUBLE, &cfg.gpu_memory_utilization, "FRACTION",
         "share of GPU memory vLLM may use", 0.01, 1, NULL},
        {"gpu-memory-gib", OPT_DOUBLE, &cfg.gpu_memory_gib, "GIB", "GPU memory", 1, 1e6, NULL},
        {"model-weights-gib", OPT_DOUBLE, &cfg.model_weights_gib, "GIB",
         "memory the weights take", 0, 1e6, NULL},
        {"activation-gib", OPT_DOUBLE, &cfg.activation_gib, "GIB",
         "memory for activations and CUDA graphs", 0, 1e6, NULL},
        {"step-base-ms", OPT_DOUBLE, &cfg.timing.step_base_ms, "MS",
         "timing model: fixed cost of one step", 0, 1e6, NULL},
        {"prefill-ms-per-token", OPT_DOUBLE, &cfg.timing.prefill_ms_per_token, "MS",
         "timing model: cost of each prompt token in a step", 0, 1e6, NULL},
        {"kv-bytes-per-token", OPT_DOUBLE, &cfg.timing.kv_bytes_per_token, "BYTES",
         "KV cache bytes per token (Llama-3.1-8B: 131072)", 1, 1e9, NULL},
        {"mem-bandwidth-gbps", OPT_DOUBLE, &cfg.timing.mem_bandwidth_gbps, "GB/S",
         "timing model: HBM bandwidth for reading KV while decoding", 0, 1e6, NULL},
        {"time-scale", OPT_DOUBLE, &cfg.time_scale, "X",
         "run X times faster than real time; 0 turns the timing model off", 0, 1e6, NULL},
        {"startup-delay", OPT_DOUBLE, &cfg.startup_delay, "SECONDS",
         "keep the port closed this long, as vLLM does while loading", 0, 86400, NULL},
        {"wake-up-delay", OPT_DOUBLE, &cfg.wake_up_delay, "SECONDS", "how long /wake_up takes", 0,
         3600, NULL},
        {"shutdown-grace", OPT_DOUBLE, &cfg.shutdown_grace, "SECONDS",
         "after SIGTERM, how long in-flight requests may take", 0, 86400, NULL},
        {"output-len-min", OPT_INT, &cfg.output_len_min, "TOKENS",
         "shortest natural output (simulated EOS) when max_tokens allows", 1, 16777216, NULL},
        {"output-len-max", OPT_INT, &cfg.output_len_max, "TOKENS",
         "longest natural output (simulated EOS)", 1, 16777216, NULL},
        {"error-format", OPT_CHOICE, &cfg.error_format, NULL,
         "error body: vLLM >= 0.10.1 {\"error\":{...}} or the older flat one", 0, 0, "v1|legacy"},
        {"vllm-version", OPT_STRING, &cfg.vllm_version, "VERSION", "what /version reports", 0, 0,
         NULL},
        {"max-body-mib", OPT_INT, &cfg.max_body_mib, "MIB", "largest request body accepted", 1,
         4096, NULL},
        {"enable-request-id-headers", OPT_FLAG, &cfg.enable_request_id_headers, NULL,
         "echo X-Request-Id on responses, as vLLM's flag of the same name", 0, 0, NULL},
        {"log-level", OPT_CHOICE, &log_level, NULL, "log verbosity", 0, 0,
         "error|warning|info|debug"},
    };
    const struct opts_spec spec = {"ebb engine", "ebb engine [flags]", summary, opts,
                                   ARRAY_SIZE(opts), epilog};
    int rc = opts_parse(&spec, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    enum log_level lvl;
    log_level_parse(log_level, &lvl);
    log_set_level(lvl);
    log_set_name("engine");

    signal(SIGPIPE, SIG_IGN);
    cfg.max_connections = http_server_max_connections(raise_fd_limit(), 1);
    struct engine_cmd *c = calloc(1, sizeof(*c));
    if (!c) {
        fprintf(stderr, "ebb engine: out of memory\n");
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    char err[512];
    if (engine_init(&c->engine, loop, &cfg, err, sizeof(err))) {
        fprintf(stderr, "ebb engine: %s\n", err);
        engine_release(&c->engine);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
        free(c);
        return 2;
    }
    uv_signal_init(loop, &c->sigterm);
    uv_signal_init(loop, &c->sigint);
    c->sigterm.data = c->sigint.data = c;
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    int lerr = engine_start(&c->engine, on_stopped);
    if (lerr) {
        fprintf(stderr, "ebb engine: cannot listen on %s:%d: %s\n", cfg.host, cfg.port,
                uv_strerror(lerr));
        c->exit_code = 1;
        engine_stop(&c->engine, on_stopped);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (c->engine.exit_code)
        c->exit_code = c->engine.exit_code;
    int close_rc = uv_loop_close(loop);
    if (close_rc)
        log_error("event loop closed with handles still open: %s", uv_strerror(close_rc));
    int code = c->exit_code;
    free(c);
    log_info("exited");
    return code;
}
