/* router: life cycle, the backend registry, health probes and engine stats
 * scraping. The request path is in proxy.c; local endpoints and metrics in
 * local.c. See router.h. */
#include "router/router.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

static const double hold_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

void router_config_defaults(struct router_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 30080;
    cfg->routing_logic = "least-loaded";
    cfg->on_no_backend = "hold";
    cfg->hold_max_requests = 1000;
    cfg->hold_max_mib = 256;
    cfg->hold_timeout = 300; /* Knative's activator holds for the revision timeout, 300 s */
    cfg->connect_timeout = 3;
    cfg->response_header_timeout = 600;
    cfg->health_check_interval = 1;
    cfg->engine_stats_interval = 1;
    cfg->request_stats_window = 60;
    cfg->shutdown_grace = 30;
    cfg->prefix_max_entries = 100000;
    cfg->max_body_mib = 32;
    cfg->client_read_timeout = 30;
    cfg->client_keepalive_timeout = 75; /* longer than clients' pools keep idle connections */
    cfg->client_send_timeout = 60;
}

/* --- parsing the static configuration ----------------------------------- */

/* Splits "http://host:port" (or "http://[v6]:port") into host and port.
 * 0 or -EINVAL with a message. */
static int parse_url(const char *url, char *host, size_t hostlen, int *port, char *err,
                     size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "backend URL \"%s\" must start with http:// (https is not supported "
                 "for backends)", url);
        return -EINVAL;
    }
    const char *h = url + 7;
    size_t hl = strcspn(h, "/");
    if (h[hl] == '/' && h[hl + 1] != '\0') {
        snprintf(err, errlen, "backend URL \"%s\" must not have a path", url);
        return -EINVAL;
    }
    const char *name = h, *portp = NULL;
    size_t namelen = hl, portlen = 0;
    if (h[0] == '[') {
        const char *close = memchr(h, ']', hl);
        if (!close || (close + 1 < h + hl && close[1] != ':')) {
            snprintf(err, errlen, "backend URL \"%s\" has a malformed [IPv6] host", url);
            return -EINVAL;
        }
        name = h + 1;
        namelen = (size_t)(close - name);
        if (close + 1 < h + hl)
            portp = close + 2;
    } else {
        const char *colon = memchr(h, ':', hl);
        if (colon) {
            namelen = (size_t)(colon - h);
            portp = colon + 1;
        }
    }
    if (portp)
        portlen = (size_t)(h + hl - portp);
    if (namelen == 0 || namelen >= hostlen) {
        snprintf(err, errlen, "backend URL \"%s\" has no valid host", url);
        return -EINVAL;
    }
    memcpy(host, name, namelen);
    host[namelen] = '\0';
    *port = 80;
    if (portp) {
        char portstr[8];
        int64_t v;
        if (portlen == 0 || portlen >= sizeof(portstr)) {
            snprintf(err, errlen, "backend URL \"%s\" has an invalid port", url);
            return -EINVAL;
        }
        memcpy(portstr, portp, portlen);
        portstr[portlen] = '\0';
        if (parse_int64(portstr, &v) || v < 1 || v > 65535) {
            snprintf(err, errlen, "backend URL \"%s\" has an invalid port", url);
            return -EINVAL;
        }
        *port = (int)v;
    }
    return 0;
}

/* Splits a comma-separated list into a malloc'd copy and pointers into it.
 * Returns the count, or -EINVAL if an item is empty or there are too many. */
static int split_list(const char *s, char **storage, char **items, int max)
{
    *storage = strdup(s ? s : "");
    if (!*storage)
        return -ENOMEM;
    int n = 0;
    char *p = *storage;
    if (!*p)
        return 0;
    while (p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p || n == max)
            return -EINVAL;
        items[n++] = p;
        p = comma ? comma + 1 : NULL;
    }
    return n;
}

int router_known_model(const struct router *r, const char *model)
{
    for (size_t i = 0; i < r->nknown; i++) {
        if (strcmp(r->known_models[i], model) == 0)
            return (int)i;
    }
    return -1;
}

size_t router_incoming_slot(struct router *r, const char *model)
{
    struct router_metrics *m = &r->metrics;
    for (size_t i = 0; i < m->nincoming; i++) {
        if (strcmp(m->incoming_models[i], model) == 0)
            return i;
    }
    if (m->nincoming < ROUTER_MAX_KNOWN_MODELS) {
        char *copy = strdup(model);
        if (copy) {
            m->incoming_models[m->nincoming] = copy;
            m->incoming[m->nincoming] = 0;
            return m->nincoming++;
        }
    }
    return ROUTER_MAX_KNOWN_MODELS; /* model="other" */
}

/* A known model's vllm:num_incoming_requests_total series exists from the
 * start, at 0: then the first request after a scrape is an increase that
 * rate() sees. production-stack creates the series on the first request,
 * so a request held at zero replicas (counted once, never retried) would
 * leave rate() at 0 and the tutorial's keepalive trigger inactive. */
void router_model_add(struct router *r, const char *model)
{
    if (router_known_model(r, model) >= 0 || r->nknown == ROUTER_MAX_KNOWN_MODELS)
        return;
    char *copy = strdup(model);
    if (copy)
        r->known_models[r->nknown++] = copy;
    router_incoming_slot(r, model);
}

static int parse_aliases(struct router *r, char *err, size_t errlen)
{
    char *storage, *items[ROUTER_MAX_ALIASES];
    int n = split_list(r->cfg.static_aliases, &storage, items, ROUTER_MAX_ALIASES);
    if (n < 0) {
        free(storage);
        snprintf(err, errlen, "--static-aliases must be \"alias:model,...\" with at most %d "
                 "entries, got \"%s\"", ROUTER_MAX_ALIASES, r->cfg.static_aliases);
        return -EINVAL;
    }
    for (int i = 0; i < n; i++) {
        char *colon = strchr(items[i], ':');
        /* Model names may contain ':' themselves; the alias is before the first. */
        if (!colon || colon == items[i] || !colon[1]) {
            snprintf(err, errlen, "--static-aliases entry \"%s\" must be alias:model", items[i]);
            free(storage);
            return -EINVAL;
        }
        *colon = '\0';
        r->aliases[r->naliases].alias = strdup(items[i]);
        r->aliases[r->naliases].model = strdup(colon + 1);
        r->naliases++;
    }
    free(storage);
    return 0;
}

static int add_static_backends(struct router *r, char *err, size_t errlen)
{
    char *bstore = NULL, *mstore = NULL, *urls[256], *models[256];
    int rc = 0;
    int nb = split_list(r->cfg.static_backends, &bstore, urls, 256);
    int nm = split_list(r->cfg.static_models, &mstore, models, 256);
    if (nb < 0 || nm < 0) {
        snprintf(err, errlen, "--static-backends and --static-models are comma-separated lists "
                 "without empty items");
        rc = -EINVAL;
    } else if (nb != nm) {
        snprintf(err, errlen, "--static-backends has %d URLs but --static-models has %d models: "
                 "give one model per backend", nb, nm);
        rc = -EINVAL;
    }
    for (int i = 0; i < nb && !rc; i++) {
        const char *m = models[i];
        rc = router_backend_add(r, urls[i], &m, 1, err, errlen);
    }
    /* Configured models are "known" from the start, as production-stack's
     * static mode (PS#889): a request for one with no backend is held. */
    for (int i = 0; i < nm && !rc; i++)
        router_model_add(r, models[i]);
    free(bstore);
    free(mstore);
    return rc;
}

/* --- backends ------------------------------------------------------------ */

struct rbackend *router_backend_find(struct router *r, const char *url)
{
    for (struct rbackend *rb = r->backends; rb; rb = rb->next) {
        if (!rb->removing && strcmp(rb->b.url, url) == 0)
            return rb;
    }
    return NULL;
}

int router_backend_add(struct router *r, const char *url, const char *const *models,
                       size_t nmodels, char *err, size_t errlen)
{
    char normalized[256];
    snprintf(normalized, sizeof(normalized), "%s", url);
    size_t ul = strlen(normalized);
    if (ul && normalized[ul - 1] == '/')
        normalized[ul - 1] = '\0';
    if (router_backend_find(r, normalized)) {
        snprintf(err, errlen, "backend \"%s\" is already registered", normalized);
        return -EEXIST;
    }
    if (nmodels == 0 || nmodels > BACKEND_MAX_MODELS) {
        snprintf(err, errlen, "backend \"%s\" needs 1 to %d models", normalized,
                 BACKEND_MAX_MODELS);
        return -EINVAL;
    }
    struct rbackend *rb = calloc(1, sizeof(*rb));
    if (!rb) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    struct backend *b = &rb->b;
    snprintf(b->url, sizeof(b->url), "%s", normalized);
    int rc = parse_url(b->url, b->host, sizeof(b->host), &b->port, err, errlen);
    if (!rc) {
        rc = upstream_pool_init(&rb->pool, r->loop, b->host, b->port, &r->upstream);
        if (rc)
            snprintf(err, errlen, "cannot resolve backend host \"%s\"", b->host);
    }
    if (rc) {
        free(rb);
        return -EINVAL;
    }
    rb->pool.data = rb;
    rb->router = r;
    router_backend_metrics_init(rb);
    b->url_hash = hash64(b->url, strlen(b->url), 0);
    uuid4(b->id);
    for (size_t i = 0; i < nmodels; i++) {
        b->models[i] = strdup(models[i]);
        router_model_add(r, models[i]);
    }
    b->nmodels = nmodels;
    b->state = BACKEND_READY;
    b->waiting = b->running = -1;
    b->added_at = wall_time();
    rb->qps_window_start = (double)uv_hrtime() / 1e9;
    rb->next = r->backends;
    r->backends = rb;
    r->nbackends++;
    log_info("backend %s added (%s%s), ready", b->url, models[0], nmodels > 1 ? ", ..." : "");
    for (size_t i = 0; i < nmodels; i++)
        router_dispatch_held(r, models[i]);
    return 0;
}

void router_backend_ready(struct router *r, struct rbackend *rb)
{
    if (rb->b.state == BACKEND_READY || rb->removing)
        return;
    rb->b.state = BACKEND_READY;
    log_info("backend %s is ready again", rb->b.url);
    for (size_t i = 0; i < rb->b.nmodels; i++)
        router_dispatch_held(r, rb->b.models[i]);
}

int router_backend_drain(struct router *r, const char *url)
{
    struct rbackend *rb = router_backend_find(r, url);
    if (!rb)
        return -ENOENT;
    rb->b.state = BACKEND_DRAINING;
    log_info("backend %s draining: %u requests in flight", url, rb->b.inflight);
    if (rb->b.inflight == 0 && r->on_drained)
        r->on_drained(r, &rb->b, r->hooks_ud);
    return 0;
}

static void free_backend(struct rbackend *rb)
{
    for (size_t i = 0; i < rb->b.nmodels; i++)
        free(rb->b.models[i]);
    free(rb);
}

static void on_pool_closed(struct upstream_pool *p)
{
    free_backend(p->data);
}

int router_backend_remove(struct router *r, const char *url)
{
    struct rbackend *rb = router_backend_find(r, url);
    if (!rb)
        return -ENOENT;
    for (struct rbackend **pp = &r->backends; *pp; pp = &(*pp)->next) {
        if (*pp == rb) {
            *pp = rb->next;
            break;
        }
    }
    r->nbackends--;
    rb->removing = true;
    rb->b.state = BACKEND_DOWN;
    log_info("backend %s removed (%u requests were in flight)", url, rb->b.inflight);
    /* In-flight exchanges on its connections are ended by their owners;
     * the pool (and the backend with it) is freed when the last closes. */
    upstream_pool_close(&rb->pool, on_pool_closed);
    return 0;
}

/* --- active health probes and engine stats ------------------------------ */

struct probe {
    struct rbackend *rb;
    struct upstream_conn *conn;
    int status;
    bool scrape;
    struct buf body;
};

static void probe_head(void *ud, const struct http_parser *resp)
{
    struct probe *pr = ud;
    pr->status = resp->status;
}

static void probe_body(void *ud, const char *at, size_t len)
{
    struct probe *pr = ud;
    buf_append(&pr->body, at, len); /* bounded by the buf's limit; the rest is ignored */
}

/* The value of the first sample of metric name in a text exposition, or -1. */
static double scrape_value(const char *text, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nlen) == 0 && (p[nlen] == '{' || p[nlen] == ' ')) {
            const char *sp = strchr(p, ' ');
            const char *brace_end = p[nlen] == '{' ? strchr(p, '}') : NULL;
            if (brace_end)
                sp = strchr(brace_end, ' ');
            double v;
            char tmp[64];
            if (!sp)
                return -1;
            size_t i = 0;
            for (sp++; *sp && *sp != '\n' && *sp != ' ' && i + 1 < sizeof(tmp); sp++)
                tmp[i++] = *sp;
            tmp[i] = '\0';
            return parse_double(tmp, &v) == 0 ? v : -1;
        }
    }
    return -1;
}

static void probe_done(void *ud, enum upstream_error err)
{
    struct probe *pr = ud;
    struct rbackend *rb = pr->rb;
    struct router *r = rb->router;
    bool ok = err == UPSTREAM_OK && pr->status == 200;
    if (pr->scrape) {
        rb->scraping = false;
        if (ok) {
            rb->b.waiting = scrape_value(pr->body.data ? pr->body.data : "", "vllm:num_requests_waiting");
            rb->b.running = scrape_value(pr->body.data ? pr->body.data : "", "vllm:num_requests_running");
            rb->b.inflight_at_scrape = rb->b.inflight;
        } else {
            rb->b.waiting = rb->b.running = -1;
        }
    } else {
        rb->probing = false;
        if (ok && !rb->removing && rb->b.state == BACKEND_DOWN)
            router_backend_ready(r, rb);
    }
    buf_release(&pr->body);
    free(pr);
}

static const struct upstream_callbacks probe_callbacks = {probe_head, probe_body, probe_done};

static void send_probe(struct rbackend *rb, bool scrape)
{
    struct probe *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return;
    pr->rb = rb;
    pr->scrape = scrape;
    buf_init(&pr->body, 4 * 1024 * 1024);
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nhost: %s:%d\r\nuser-agent: ebb-router\r\n\r\n",
                     scrape ? "/metrics" : "/health", rb->b.host, rb->b.port);
    pr->conn = upstream_send(&rb->pool, req, (size_t)n, NULL, 0, &probe_callbacks, pr, 5000);
    if (!pr->conn) {
        buf_release(&pr->body);
        free(pr);
        return;
    }
    if (scrape)
        rb->scraping = true;
    else
        rb->probing = true;
}

static void on_health_timer(uv_timer_t *t)
{
    struct router *r = t->data;
    for (struct rbackend *rb = r->backends; rb; rb = rb->next) {
        if (rb->b.state == BACKEND_DOWN && !rb->probing && !rb->removing)
            send_probe(rb, false);
    }
}

static void on_stats_timer(uv_timer_t *t)
{
    struct router *r = t->data;
    for (struct rbackend *rb = r->backends; rb; rb = rb->next) {
        if (rb->b.state != BACKEND_DOWN && !rb->scraping && !rb->removing)
            send_probe(rb, true);
    }
}

/* --- life cycle ---------------------------------------------------------- */

int router_init(struct router *r, uv_loop_t *loop, const struct router_config *cfg, char *err,
                size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->loop = loop;
    r->cfg = *cfg;
    r->started_at = wall_time();
    enum routing_logic logic;
    if (routing_logic_parse(cfg->routing_logic, &logic)) {
        snprintf(err, errlen, "--routing-logic must be least-loaded, roundrobin, session or "
                 "prefixaware, got \"%s\"", cfg->routing_logic);
        return -EINVAL;
    }
    if (logic == ROUTING_SESSION && (!cfg->session_key || !*cfg->session_key)) {
        snprintf(err, errlen, "--routing-logic session needs --session-key");
        return -EINVAL;
    }
    policy_init(&r->policy, logic);
    if (logic == ROUTING_PREFIXAWARE && prefix_init(&r->prefix, (size_t)cfg->prefix_max_entries)) {
        snprintf(err, errlen, "--prefix-max-entries: cannot allocate %d entries",
                 cfg->prefix_max_entries);
        return -ENOMEM;
    }
    struct hold_limits hl = {
        .max_requests = (size_t)cfg->hold_max_requests,
        .max_bytes = (size_t)cfg->hold_max_mib * 1024 * 1024,
        .max_wait = strcmp(cfg->on_no_backend, "503") == 0 ? 0 : cfg->hold_timeout,
    };
    hold_init(&r->hold, &hl);
    upstream_config_defaults(&r->upstream);
    r->upstream.connect_timeout_ms = (unsigned)(cfg->connect_timeout * 1000);
    prom_histogram_init(&r->metrics.hold_seconds, hold_buckets, ARRAY_SIZE(hold_buckets),
                        r->metrics.hold_cells);
    buf_init(&r->scratch, 16 * 1024 * 1024);
    int rc = parse_aliases(r, err, errlen);
    if (!rc)
        rc = add_static_backends(r, err, errlen);
    if (rc)
        return rc;

    struct http_server_config hc;
    http_server_config_defaults(&hc);
    hc.host = cfg->host;
    hc.port = cfg->port;
    hc.max_body_bytes = (size_t)cfg->max_body_mib * 1024 * 1024;
    hc.read_timeout_ms = (unsigned)(cfg->client_read_timeout * 1000);
    hc.keepalive_timeout_ms = (unsigned)(cfg->client_keepalive_timeout * 1000);
    hc.send_timeout_ms = (unsigned)(cfg->client_send_timeout * 1000);
    if (cfg->max_connections)
        hc.max_connections = cfg->max_connections;
    http_server_init(&r->http, loop, &hc, router_handle, r);
    uv_timer_init(loop, &r->hold_timer);
    uv_timer_init(loop, &r->health_timer);
    uv_timer_init(loop, &r->stats_timer);
    uv_timer_init(loop, &r->grace_timer);
    r->hold_timer.data = r->health_timer.data = r->stats_timer.data = r->grace_timer.data = r;
    r->handles_ready = true;
    return 0;
}

int router_start(struct router *r)
{
    int err = http_server_listen(&r->http);
    if (err)
        return err;
    uint64_t hc = (uint64_t)(r->cfg.health_check_interval * 1000);
    uv_timer_start(&r->health_timer, on_health_timer, hc, hc);
    if (r->cfg.engine_stats_interval > 0) {
        uint64_t si = (uint64_t)(r->cfg.engine_stats_interval * 1000);
        uv_timer_start(&r->stats_timer, on_stats_timer, 0, si);
    }
    log_info("routing on http://%s:%d (%s, %u backends, no backend: %s)", r->cfg.host, r->cfg.port,
             routing_logic_name(r->policy.logic), r->nbackends,
             strcmp(r->cfg.on_no_backend, "503") == 0 ? "503 as production-stack" : "hold");
    return 0;
}

static void on_http_empty(struct http_server *s)
{
    struct router *r = s->ud;
    uv_timer_stop(&r->grace_timer);
    if (r->on_stopped) {
        void (*cb)(struct router *) = r->on_stopped;
        r->on_stopped = NULL;
        cb(r);
    }
}

static void on_grace_expired(uv_timer_t *t)
{
    struct router *r = t->data;
    log_warn("shutdown grace period of %g s is over: closing %u requests", r->cfg.shutdown_grace,
             r->nreqs);
    http_server_close_all(&r->http);
}

void router_stop(struct router *r, void (*on_stopped)(struct router *r))
{
    if (r->stopping)
        return;
    r->stopping = true;
    r->on_stopped = on_stopped;
    log_info("shutting down: %u requests in flight, %zu held", r->nreqs, r->hold.count);
    uv_timer_stop(&r->health_timer);
    uv_timer_stop(&r->stats_timer);
    uv_timer_start(&r->grace_timer, on_grace_expired, (uint64_t)(r->cfg.shutdown_grace * 1000), 0);
    http_server_shutdown(&r->http, on_http_empty);
}

void router_release(struct router *r)
{
    rreq_free_all(r);
    while (r->backends)
        router_backend_remove(r, r->backends->b.url);
    if (r->handles_ready) {
        uv_close((uv_handle_t *)&r->hold_timer, NULL);
        uv_close((uv_handle_t *)&r->health_timer, NULL);
        uv_close((uv_handle_t *)&r->stats_timer, NULL);
        uv_close((uv_handle_t *)&r->grace_timer, NULL);
        r->handles_ready = false;
    }
    http_server_release(&r->http);
    hold_release(&r->hold);
    prefix_release(&r->prefix);
    for (size_t i = 0; i < r->metrics.nincoming; i++)
        free(r->metrics.incoming_models[i]);
    for (size_t i = 0; i < r->naliases; i++) {
        free(r->aliases[i].alias);
        free(r->aliases[i].model);
    }
    for (size_t i = 0; i < r->nknown; i++)
        free(r->known_models[i]);
    buf_release(&r->scratch);
}
