/* ebb up: the tutorial's whole system in one process — router, autoscaler,
 * local replicas and an embedded Prometheus — from ScaledObject and
 * LocalDeployment files. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "base/opts.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "up/up.h"

#define FILES_MAX 256

static const char summary[] =
    "Runs the tutorial's system on one machine, in one process: the OpenAI-compatible\n"
    "router on --port (30080), replicas of each LocalDeployment as local processes,\n"
    "KEDA's and the HPA's decisions for each ScaledObject, and a Prometheus-compatible\n"
    "store scraping the replicas and the router, with its query API, the autoscaler's\n"
    "status (/status, /hpa) and /metrics on --control-port (9090). The tutorial's\n"
    "ScaledObjects work unchanged: their prometheus triggers are answered by the\n"
    "embedded store (or by --prometheus URL).\n"
    "\n"
    "Beyond the tutorial's system: a request at zero replicas is held by the router and\n"
    "wakes the autoscaler at once (no 503, no wait for the next poll); a scale-down\n"
    "drains the replica with the fewest requests in flight before stopping it; no\n"
    "replica outlives ebb, even if it is killed.";

static const char epilog[] =
    "examples:\n"
    "  ebb up -f examples/tutorial/values-20-keda-scale-to-zero.yaml \\\n"
    "         -f examples/local/vllm-llama3-deployment-vllm.yaml\n"
    "  curl http://localhost:30080/v1/completions -H 'Content-Type: application/json' \\\n"
    "       -d '{\"model\": \"meta-llama/Llama-3.1-8B-Instruct\", \"prompt\": \"Once upon a time,\"}'\n"
    "  curl -G http://localhost:9090/api/v1/query --data-urlencode 'query=vllm:num_requests_waiting'\n"
    "  ebb get hpa -w --server http://localhost:9090\n";

struct up_cmd {
    struct config cfg;
    struct up up;
    uv_signal_t sigterm, sigint;
};

static void on_up_stopped(struct up *u)
{
    struct up_cmd *c = u->data;
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct up_cmd *c = s->data;
    log_info("received %s: finishing in-flight requests, then stopping the replicas",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    up_stop(&c->up, on_up_stopped);
}

int cmd_up(int argc, char **argv)
{
    struct up_config uc;
    up_config_defaults(&uc);
    const char *files[FILES_MAX];
    struct opt_list file_list = {files, 0, FILES_MAX};
    const char *log_level = "info";
    int down_window = uc.as.down_stabilization;
    double scrape_interval = uc.prom.scrape_interval_ms / 1000.0;
    double retention = (double)uc.prom.store.retention_ms / 1000.0;
    int store_max_mib = (int)(uc.prom.store.max_bytes >> 20);
    const struct opt opts[] = {
        {"f,file", OPT_LIST, &file_list, "FILE",
         "a manifest: ScaledObject, TriggerAuthentication, LocalDeployment", 0, 0, NULL},
        {"host", OPT_STRING, &uc.host, "ADDR", "address every port binds to", 0, 0, NULL},
        {"port", OPT_INT, &uc.router.port, "PORT", "the router's port (the tutorial's 30080)", 1,
         65535, NULL},
        {"control-port", OPT_INT, &uc.control_port, "PORT",
         "query API, status and metrics (the tutorial's Prometheus is on 9090)", 1, 65535, NULL},
        {"prometheus", OPT_STRING, &uc.prometheus_url, "URL",
         "answer triggers from this Prometheus instead of the embedded store", 0, 0, NULL},
        {"scrape-interval", OPT_DOUBLE, &scrape_interval, "SECONDS",
         "how often the embedded store scrapes replicas and the router", 0.05, 3600, NULL},
        {"retention", OPT_DOUBLE, &retention, "SECONDS", "how much history the embedded store keeps",
         1, 86400 * 7, NULL},
        {"store-max-mib", OPT_INT, &store_max_mib, "MIB",
         "memory for the embedded store's series and samples; past it a series gives up its "
         "oldest samples",
         1, 1 << 20, NULL},
        {"hpa-sync-period", OPT_DOUBLE, &uc.as.hpa_sync_period, "SECONDS",
         "how often the HPA decides 1 <-> N", 0.05, 3600, NULL},
        {"horizontal-pod-autoscaler-downscale-stabilization", OPT_INT, &down_window, "SECONDS",
         "scale-down window when the ScaledObject sets no behavior", 0, 3600, NULL},
        {"keda-strict", OPT_FLAG, &uc.as.keda_strict, NULL,
         "a query returning several series is an error, as in KEDA", 0, 0, NULL},
        {"on-no-backend", OPT_CHOICE, &uc.router.on_no_backend, NULL,
         "at zero replicas: hold requests, or 503 as production-stack", 0, 0, "hold|503"},
        {"hold-timeout", OPT_DOUBLE, &uc.router.hold_timeout, "SECONDS",
         "longest a request is held waiting for a replica", 0, 86400, NULL},
        {"shutdown-grace", OPT_DOUBLE, &uc.router.shutdown_grace, "SECONDS",
         "after SIGTERM, how long in-flight requests may take", 0, 86400, NULL},
        {"log-dir", OPT_STRING, &uc.log_dir, "DIR",
         "replica log files go here (default: each LocalDeployment's logDir)", 0, 0, NULL},
        {"log-level", OPT_CHOICE, &log_level, NULL, "log verbosity", 0, 0,
         "error|warning|info|debug"},
    };
    const struct opts_spec spec = {"ebb up", "ebb up -f FILE [-f FILE...] [flags]", summary, opts,
                                   ARRAY_SIZE(opts), epilog};
    int rc = opts_parse(&spec, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (file_list.n == 0) {
        fprintf(stderr, "ebb up: no manifest: give -f FILE (see --help)\n");
        return 2;
    }
    uc.as.down_stabilization = down_window;
    uc.prom.scrape_interval_ms = (unsigned)(scrape_interval * 1000);
    uc.prom.store.retention_ms = (int64_t)(retention * 1000);
    uc.prom.store.max_bytes = (size_t)store_max_mib << 20;
    enum log_level lvl;
    log_level_parse(log_level, &lvl);
    log_set_level(lvl);
    log_set_name("up");
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    struct up_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return 1;
    config_init(&c->cfg);
    int code = 1;
    if (config_load_run(&c->cfg, file_list.items, file_list.n, "ebb up") == 0) {
        uv_loop_t *loop = uv_default_loop();
        char err[512];
        uv_signal_init(loop, &c->sigterm);
        uv_signal_init(loop, &c->sigint);
        c->sigterm.data = c->sigint.data = c;
        uv_signal_start(&c->sigterm, on_signal, SIGTERM);
        uv_signal_start(&c->sigint, on_signal, SIGINT);
        code = 0;
        if (up_start(&c->up, loop, &c->cfg, &uc, err, sizeof(err)) < 0) {
            fprintf(stderr, "ebb up: %s\n", err);
            code = 1;
        } else {
            log_info("router on http://%s:%d, query API and status on http://%s:%d", uc.host,
                     uc.router.port, uc.host, uc.control_port);
        }
        c->up.data = c;
        if (code)
            up_stop(&c->up, on_up_stopped);
        uv_run(loop, UV_RUN_DEFAULT);
        up_release(&c->up);
        if (uv_loop_close(loop))
            log_error("event loop closed with handles still open");
    }
    config_release(&c->cfg);
    free(c);
    return code;
}
