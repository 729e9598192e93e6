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
#include "router/discovery_k8s.h"
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
    "Local: /v1/models, /engines, /health, /version, /metrics.\n"
    "\n"
    "Backends come from flags (--service-discovery static) or from Kubernetes\n"
    "(--service-discovery k8s): the pods of --k8s-namespace matching\n"
    "--k8s-label-selector, listed and watched. A pod is routed to at\n"
    "http://<podIP>:<k8s-port> once every container is ready, it has an IP and no\n"
    "deletion is pending, and its /v1/models has answered (its data[].id are the\n"
    "models it serves; $VLLM_API_KEY is sent if set). A pod that stops being ready\n"
    "or starts terminating gets no new requests and finishes the ones it has; a\n"
    "deleted pod is removed. If the API server is unreachable the known pods keep\n"
    "serving, and pods deleted meanwhile are removed when it answers again.\n"
    "Credentials: in a pod (KUBERNETES_SERVICE_HOST set) its service account,\n"
    "unless --kubeconfig is given; else --kubeconfig, $KUBECONFIG or ~/.kube/config.\n"
    "It needs get, list and watch on pods.";

static const char epilog[] =
    "examples:\n"
    "  ebb router --static-backends http://localhost:8000,http://localhost:8001 \\\n"
    "             --static-models meta-llama/Llama-3.1-8B-Instruct,meta-llama/Llama-3.1-8B-Instruct\n"
    "  ebb router ... --routing-logic session --session-key x-user-id\n"
    "  ebb router ... --on-no-backend 503     # production-stack's behaviour at zero replicas\n"
    "  ebb router --service-discovery k8s --k8s-namespace default \\\n"
    "             --k8s-label-selector environment=production,release=vllm --k8s-port 8000\n";

struct router_cmd {
    struct router router; /* first: on_stopped gets it */
    struct k8s_discovery k8s;
    bool k8s_open;
    uv_signal_t sigterm, sigint;
};

static void on_stopped(struct router *r)
{
    struct router_cmd *c = (struct router_cmd *)r;
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    router_release(r);
}

/* Discovery stops first: nothing adds or drains backends while the router
 * finishes its requests. */
static void stop(struct router_cmd *c)
{
    if (c->k8s_open)
        k8s_discovery_close(&c->k8s, NULL);
    c->k8s_open = false;
    router_stop(&c->router, on_stopped);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct router_cmd *c = s->data;
    log_info("received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop(c);
}

/* The flags of one discovery mode given with the other: a usage error. */
static int check_discovery_flags(const char *discovery, const struct router_config *cfg,
                                 const struct k8s_discovery_config *k)
{
    bool k8s = strcmp(discovery, "k8s") == 0;
    const char *misplaced = NULL;
    if (k8s && cfg->static_backends)
        misplaced = "--static-backends";
    else if (k8s && cfg->static_models)
        misplaced = "--static-models";
    else if (!k8s && k->label_selector)
        misplaced = "--k8s-label-selector";
    else if (!k8s && k->namespace)
        misplaced = "--k8s-namespace";
    else if (!k8s && k->kubeconfig)
        misplaced = "--kubeconfig";
    if (misplaced) {
        fprintf(stderr, "ebb router: %s is for --service-discovery %s\n", misplaced,
                k8s ? "static" : "k8s");
        return 2;
    }
    if (!k8s && (!cfg->static_backends || !cfg->static_models)) {
        fprintf(stderr, "ebb router: --service-discovery static needs --static-backends and "
                        "--static-models\n");
        return 2;
    }
    if (k8s && !k->label_selector) {
        fprintf(stderr, "ebb router: --service-discovery k8s needs --k8s-label-selector (the "
                        "engines' pods, e.g. app=vllm)\n");
        return 2;
    }
    char err[512];
    if (k8s && k8s_discovery_check(k, err, sizeof(err)) < 0) {
        fprintf(stderr, "ebb router: %s\n", err);
        return 2;
    }
    return 0;
}

/* Reads the Kubernetes configuration and starts watching pods. 0, or the
 * exit code after printing why. */
static int start_k8s(struct router_cmd *c, uv_loop_t *loop, const struct k8s_discovery_config *k)
{
    char err[1024];
    int rc = k8s_discovery_init(&c->k8s, loop, &c->router, k, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ebb router: %s\n", err);
        k8s_discovery_release(&c->k8s);
        return 1;
    }
    c->k8s_open = true;
    rc = k8s_discovery_start(&c->k8s);
    if (rc < 0) {
        fprintf(stderr, "ebb router: cannot start the Kubernetes discovery: %s\n", strerror(-rc));
        return 1;
    }
    return 0;
}

int cmd_router(int argc, char **argv)
{
    struct router_config cfg;
    router_config_defaults(&cfg);
    const char *log_level = "info";
    const char *discovery = "static";
    struct k8s_discovery_config k8s = {.port = 8000, .api_key = getenv("VLLM_API_KEY")};
    const struct opt opts[] = {
        {"host", OPT_STRING, &cfg.host, "ADDR", "address to listen on", 0, 0, NULL},
        {"port", OPT_INT, &cfg.port, "PORT", "port to listen on (the tutorial's port-forward uses 30080)",
         1, 65535, NULL},
        {"service-discovery", OPT_CHOICE, &discovery, NULL,
         "where backends come from: these flags, or Kubernetes pods (see above)", 0, 0,
         "static|k8s"},
        {"static-backends", OPT_STRING, &cfg.static_backends, "URLS",
         "comma-separated backend URLs, e.g. http://localhost:8000", 0, 0, NULL},
        {"static-models", OPT_STRING, &cfg.static_models, "MODELS",
         "comma-separated model names, one per backend", 0, 0, NULL},
        {"static-aliases", OPT_STRING, &cfg.static_aliases, "ALIASES",
         "alias:model pairs; a request for alias is sent as model", 0, 0, NULL},
        {"k8s-namespace", OPT_STRING, &k8s.namespace, "NS",
         "k8s: the pods' namespace (default: the kubeconfig context's, or the router pod's own)",
         0, 0, NULL},
        {"k8s-label-selector", OPT_STRING, &k8s.label_selector, "SELECTOR",
         "k8s: the engines' pods, as kubectl -l takes it (e.g. app=vllm); required", 0, 0, NULL},
        {"k8s-port", OPT_INT, &k8s.port, "PORT", "k8s: the port the engines listen on in each pod",
         1, 65535, NULL},
        {"kubeconfig", OPT_STRING, &k8s.kubeconfig, "FILE",
         "k8s: the kubeconfig to use (default: the pod's service account in a cluster, else "
         "$KUBECONFIG or ~/.kube/config)", 0, 0, NULL},
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
    rc = check_discovery_flags(discovery, &cfg, &k8s);
    if (rc)
        return rc;

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
    } else if (strcmp(discovery, "k8s") == 0) {
        code = start_k8s(c, loop, &k8s);
        if (code && c->k8s_open)
            k8s_discovery_close(&c->k8s, NULL);
        if (code)
            router_release(&c->router);
    }
    if (!code) {
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
            stop(c);
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop))
        log_error("event loop closed with handles still open");
    free(c);
    return code;
}
