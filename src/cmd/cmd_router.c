/* ebb router: the OpenAI-compatible router, until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "base/opts.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "router/router.h"

static const char summary[] =
    "An OpenAI-compatible router in front of vLLM engines, compatible with the vLLM\n"
    "production-stack router (same flags where they overlap, same metrics, same error\n"
    "bodies) and better where its users complain: a request for a known model with no\n"
    "ready backend is held until one is ready instead of failing with 503; upstream\n"
    "connections are pooled, with connect and response-header timeouts; a failure\n"
    "before anything reached a backend is retried on another; a backend that dies\n"
    "mid-stream ends its streams cleanly; a slow client slows its upstream instead of\n"
    "growing memory; a client that hangs up cancels its upstream request.\n"
    "\n"
    "Proxied (POST, JSON body with \"model\"): /v1/completions, /v1/chat/completions,\n"
    "/v1/embeddings, /tokenize, /detokenize, /v1/rerank, /rerank, /v1/score, /score,\n"
    "/v1/responses, /v1/audio/speech, /v1/messages, /v1/images/generations.\n"
    "Engine control (?id=<engine_id>): /sleep, /wake_up, /is_sleeping.\n"
    "Local: /v1/models, /engines, /health, /version, /metrics.";

static const char epilog[] =
    "examples:\n"
    "  ebb router --static-backends http://localhost:8000,http://localhost:8001 \\\n"
    "             --static-models meta-llama/Llama-3.1-8B-Instruct,meta-llama/Llama-3.1-8B-Instruct\n"
    "  ebb router ... --routing-logic session --session-key x-user-id\n"
    "  ebb router ... --on-no-backend 503     # production-stack's behaviour at zero replicas\n";

struct router_cmd {
    struct router router;
    uv_signal_t sigterm, sigint;
};

static void on_stopped(struct router *r)
{
    struct router_cmd *c = (struct router_cmd *)r;
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    router_release(r);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct router_cmd *c = s->data;
    log_info("received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    router_stop(&c->router, on_stopped);
}

int cmd_router(int argc, char **argv)
{
    struct router_config cfg;
    router_config_defaults(&cfg);
    const char *log_level = "info";
    const char *discovery = "static";
    const struct opt opts[] = {
        {"host", OPT_STRING, &cfg.host, "ADDR", "address to listen on", 0, 0, NULL},
        {"port", OPT_INT, &cfg.port, "PORT", "port to listen on (the tutorial's port-forward uses 30080)",
         1, 65535, NULL},
        {"service-discovery", OPT_CHOICE, &discovery, NULL,
         "where backends come from (k8s: not yet in this build)", 0, 0, "static"},
        {"static-backends", OPT_STRING, &cfg.static_backends, "URLS",
         "comma-separated backend URLs, e.g. http://localhost:8000", 0, 0, NULL},
        {"static-models", OPT_STRING, &cfg.static_models, "MODELS",
         "comma-separated model names, one per backend", 0, 0, NULL},
        {"static-aliases", OPT_STRING, &cfg.static_aliases, "ALIASES",
         "alias:model pairs; a request for alias is sent as model", 0, 0, NULL},
        {"routing-logic", OPT_CHOICE, &cfg.routing_logic, NULL,
         "how a backend is chosen (see below)", 0, 0, "least-loaded|roundrobin|session|prefixaware"},
        {"session-key", OPT_STRING, &cfg.session_key, "NAME",
         "header (or body field) holding the session id, for --routing-logic session", 0, 0, NULL},
        {"on-no-backend", OPT_CHOICE, &cfg.on_no_backend, NULL,
         "a known model with no ready backend: hold the request, or 503 as production-stack", 0,
         0, "hold|503"},
        {"hold-max-requests", OPT_INT, &cfg.hold_max_requests, "N",
         "most requests held per model; more get 503 + Retry-After", 0, 1000000, NULL},
        {"hold-max-mib", OPT_INT, &cfg.hold_max_mib, "MIB",
         "most request-body bytes held, all models together", 0, 65536, NULL},
        {"hold-timeout", OPT_DOUBLE, &cfg.hold_timeout, "SECONDS",
         "longest a request is held before 503 + Retry-After", 0, 86400, NULL},
        {"connect-timeout", OPT_DOUBLE, &cfg.connect_timeout, "SECONDS",
         "upstream connect timeout", 0.001, 3600, NULL},
        {"response-header-timeout", OPT_DOUBLE, &cfg.response_header_timeout, "SECONDS",
         "longest wait for an upstream's response head (0: none)", 0, 86400, NULL},
        {"health-check-interval", OPT_DOUBLE, &cfg.health_check_interval, "SECONDS",
         "how often a down backend's /health is probed", 0.01, 3600, NULL},
        {"engine-stats-interval", OPT_DOUBLE, &cfg.engine_stats_interval, "SECONDS",
         "how often backends' /metrics are scraped for least-loaded (0: never)", 0, 3600, NULL},
        {"request-stats-window", OPT_DOUBLE, &cfg.request_stats_window, "SECONDS",
         "window for vllm:current_qps and vllm:avg_latency", 1, 86400, NULL},
        {"shutdown-grace", OPT_DOUBLE, &cfg.shutdown_grace, "SECONDS",
         "after SIGTERM, how long in-flight requests may take", 0, 86400, NULL},
        {"prefix-max-entries", OPT_INT, &cfg.prefix_max_entries, "N",
         "prefixaware: prompt prefixes remembered, least recently used forgotten first", 1,
         100000000, NULL},
        {"client-read-timeout", OPT_DOUBLE, &cfg.client_read_timeout, "SECONDS",
         "time a client has to send a whole request (a slow-loris guard)", 0.01, 86400, NULL},
        {"client-keepalive-timeout", OPT_DOUBLE, &cfg.client_keepalive_timeout, "SECONDS",
         "how long an idle client connection is kept open", 0.01, 86400, NULL},
        {"client-send-timeout", OPT_DOUBLE, &cfg.client_send_timeout, "SECONDS",
         "a client that takes no response bytes this long is dropped (its upstream request too)",
         0.01, 86400, NULL},
        {"max-body-mib", OPT_INT, &cfg.max_body_mib, "MIB", "largest request body accepted", 1,
         4096, NULL},
        {"log-level", OPT_CHOICE, &log_level, NULL, "log verbosity", 0, 0,
         "critical|error|warning|info|debug|trace"},
    };
    const struct opts_spec spec = {"ebb router", "ebb router [flags]", summary, opts,
                                   ARRAY_SIZE(opts), epilog};
    int rc = opts_parse(&spec, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    enum log_level lvl;
    log_level_parse(log_level, &lvl);
    log_set_level(lvl);
    log_set_name("router");
    if (!cfg.static_backends || !cfg.static_models) {
        fprintf(stderr, "ebb router: --service-discovery static needs --static-backends and "
                        "--static-models\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    /* Each client may need an upstream connection too: two descriptors. */
    cfg.max_connections = http_server_max_connections(raise_fd_limit(), 2);
    struct router_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    char err[512];
    int code = 0;
    if (router_init(&c->router, loop, &cfg, err, sizeof(err))) {
        fprintf(stderr, "ebb router: %s\n", err);
        router_release(&c->router);
        code = 2;
    } else {
        uv_signal_init(loop, &c->sigterm);
        uv_signal_init(loop, &c->sigint);
        c->sigterm.data = c->sigint.data = c;
        uv_signal_start(&c->sigterm, on_signal, SIGTERM);
        uv_signal_start(&c->sigint, on_signal, SIGINT);
        int lerr = router_start(&c->router);
        if (lerr) {
            fprintf(stderr, "ebb router: cannot listen on %s:%d: %s\n", cfg.host, cfg.port,
                    uv_strerror(lerr));
            code = 1;
            router_stop(&c->router, on_stopped);
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop))
        log_error("event loop closed with handles still open");
    free(c);
    return code;
}
