/* ebb metrics: the embedded Prometheus alone — scrape the given targets into
 * the bounded in-memory store and answer Prometheus's query API on --port. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "base/opts.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "prom/embedded.h"
#include "prom/expo.h"

#define TARGETS_MAX 1024

static const char summary[] =
    "A small Prometheus for one machine: scrapes the --scrape targets every\n"
    "--scrape-interval into a bounded in-memory store (series, samples and bytes\n"
    "capped; --retention of history; Prometheus's staleness rules) and answers\n"
    "Prometheus's HTTP query API on --port: /api/v1/query, /api/v1/query_range,\n"
    "/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values, /api/v1/targets,\n"
    "with Prometheus 2.42's PromQL semantics for the subset in docs/promql.md\n"
    "(anything else is an \"unsupported\" error, never a wrong answer). Its own\n"
    "metrics are on /metrics. `ebb up` embeds the same store.";

static const char epilog[] =
    "examples:\n"
    "  ebb metrics --scrape http://127.0.0.1:8000/metrics --scrape http://127.0.0.1:8001/metrics\n"
    "  curl -G http://localhost:9090/api/v1/query --data-urlencode 'query=vllm:num_requests_waiting'\n";

struct metrics_cmd {
    struct embedded_prom ep;
    struct http_server http;
    uv_signal_t sigterm, sigint;
    struct buf out;
    unsigned closing;
};

static void handle(struct http_req *req, void *ud)
{
    struct metrics_cmd *c = ud;
    if (embedded_prom_handle(&c->ep, req))
        return;
    if (http_req_path_is(req, "/metrics")) {
        buf_reset(&c->out);
        if (embedded_prom_metrics(&c->ep, &c->out) == 0) {
            http_respond(req, 200, PROM_CONTENT_TYPE, NULL, c->out.data, c->out.len);
            return;
        }
    }
    static const char nf[] = "404 page not found\n";
    http_respond(req, 404, "text/plain; charset=utf-8", NULL, nf, sizeof(nf) - 1);
}

static void part_closed(struct metrics_cmd *c)
{
    if (--c->closing)
        return;
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
}

static void on_ep_stopped(struct embedded_prom *ep)
{
    part_closed(ep->data);
}

static void on_http_empty(struct http_server *s)
{
    http_server_release(s);
    part_closed(s->ud);
}

static void stop_all(struct metrics_cmd *c)
{
    if (c->closing)
        return;
    c->closing = 2;
    http_server_shutdown(&c->http, on_http_empty);
    embedded_prom_stop(&c->ep, on_ep_stopped);
}

static void on_signal(uv_signal_t *s, int signum)
{
    log_info("received %s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_all(s->data);
}

/* Adds every --scrape URL with job and its host:port as instance. */
static int add_targets(struct metrics_cmd *c, const struct opt_list *urls, const char *job)
{
    for (size_t i = 0; i < urls->n; i++) {
        struct prom_label labels[] = {{"job", job}};
        char err[256];
        if (embedded_prom_add_target(&c->ep, urls->items[i], labels, 1, 0, NULL, err,
                                     sizeof(err)) < 0) {
            fprintf(stderr, "ebb metrics: --scrape %s: %s\n", urls->items[i], err);
            return -1;
        }
    }
    return 0;
}

int cmd_metrics(int argc, char **argv)
{
    struct embedded_prom_config cfg;
    embedded_prom_config_defaults(&cfg);
    const char *urls_store[TARGETS_MAX];
    struct opt_list urls = {urls_store, 0, TARGETS_MAX};
    const char *host = "127.0.0.1", *job = "ebb", *log_level = "info";
    int port = 9090, max_series = (int)cfg.store.max_series;
    int max_mib = (int)(cfg.store.max_bytes >> 20), sample_limit = 0;
    int max_samples = (int)cfg.store.max_samples_per_series;
    double interval = cfg.scrape_interval_ms / 1000.0;
    double retention = (double)cfg.store.retention_ms / 1000.0;
    const struct opt opts[] = {
        {"scrape", OPT_LIST, &urls, "URL", "a target's metrics URL, e.g. http://127.0.0.1:8000/metrics",
         0, 0, NULL},
        {"job", OPT_STRING, &job, "NAME", "the job label of the targets", 0, 0, NULL},
        {"scrape-interval", OPT_DOUBLE, &interval, "SECONDS", "how often every target is scraped",
         0.05, 3600, NULL},
        {"host", OPT_STRING, &host, "ADDR", "address to listen on", 0, 0, NULL},
        {"port", OPT_INT, &port, "PORT", "the query API's port (Prometheus's is 9090)", 1, 65535,
         NULL},
        {"retention", OPT_DOUBLE, &retention, "SECONDS", "how much history is kept", 1, 86400 * 7,
         NULL},
        {"max-series", OPT_INT, &max_series, "N", "series held at once; new ones past it are refused",
         1, 100000000, NULL},
        {"max-samples-per-series", OPT_INT, &max_samples, "N",
         "samples kept per series (a ring: the oldest goes first)", 2, 1 << 24, NULL},
        {"max-mib", OPT_INT, &max_mib, "MIB", "memory for series and samples", 1, 1 << 20, NULL},
        {"sample-limit", OPT_INT, &sample_limit, "N",
         "a scrape with more samples fails, as Prometheus's sample_limit (0: none)", 0, 100000000,
         NULL},
        {"log-level", OPT_CHOICE, &log_level, NULL, "log verbosity", 0, 0,
         "error|warning|info|debug"},
    };
    const struct opts_spec spec = {"ebb metrics", "ebb metrics --scrape URL [--scrape URL...] [flags]",
                                   summary, opts, ARRAY_SIZE(opts), epilog};
    int rc = opts_parse(&spec, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    enum log_level lvl;
    log_level_parse(log_level, &lvl);
    log_set_level(lvl);
    log_set_name("metrics");
    cfg.scrape_interval_ms = (unsigned)(interval * 1000);
    cfg.store.retention_ms = (int64_t)(retention * 1000);
    cfg.store.max_series = (size_t)max_series;
    cfg.store.max_samples_per_series = (size_t)max_samples;
    cfg.store.max_bytes = (size_t)max_mib << 20;
    cfg.scrape.sample_limit = (size_t)sample_limit;
    signal(SIGPIPE, SIG_IGN);

    struct metrics_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    char err[256];
    if (embedded_prom_init(&c->ep, loop, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "ebb metrics: %s\n", err);
        free(c);
        return 1;
    }
    c->ep.data = c;
    buf_init(&c->out, 16u << 20);
    struct http_server_config hc;
    http_server_config_defaults(&hc);
    hc.host = host;
    hc.port = port;
    hc.max_body_bytes = 1u << 20; /* POST /api/v1/query forms */
    http_server_init(&c->http, loop, &hc, handle, c);
    uv_signal_init(loop, &c->sigterm);
    uv_signal_init(loop, &c->sigint);
    c->sigterm.data = c->sigint.data = c;
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    int code = 0, lerr = http_server_listen(&c->http);
    if (lerr < 0) {
        fprintf(stderr, "ebb metrics: cannot listen on %s:%d: %s\n", host, port, uv_strerror(lerr));
        code = 1;
    } else if (add_targets(c, &urls, job) < 0) {
        code = 2;
    } else {
        log_info("query API on http://%s:%d/api/v1/query, scraping %zu target%s every %gs", host,
                 port, urls.n, urls.n == 1 ? "" : "s", interval);
    }
    if (code)
        stop_all(c);
    uv_run(loop, UV_RUN_DEFAULT);
    embedded_prom_release(&c->ep);
    buf_release(&c->out);
    if (uv_loop_close(loop))
        log_error("event loop closed with handles still open");
    free(c);
    return code;
}
