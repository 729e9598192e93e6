/* embedded: scraper -> store -> query API, as one piece (embedded.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "prom/embedded.h"
#include "prom/expo.h"
#include "prom/query.h"

#define TARGETS_OUT_MAX (16u << 20)

void embedded_prom_config_defaults(struct embedded_prom_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    store_limits_defaults(&cfg->store);
    promql_limits_defaults(&cfg->query);
    scrape_config_defaults(&cfg->scrape);
    cfg->scrape_interval_ms = SCRAPE_INTERVAL_MS;
    cfg->gc_interval_ms = 10000;
}

/* The scraper's sink: every sample into the store. A refused sample (a
 * limit, an out-of-order time) is counted; the scrape goes on. */
static int sink_append(void *ud, const struct prom_label *labels, size_t n, int64_t t_ms, double v)
{
    struct embedded_prom *ep = ud;
    int rc = store_append(&ep->store, labels, n, t_ms, v);
    if (rc < 0)
        ep->append_errors++;
    return rc;
}

static void on_gc(uv_timer_t *t)
{
    struct embedded_prom *ep = t->data;
    store_gc(&ep->store, (int64_t)(wall_time() * 1000));
}

int embedded_prom_init(struct embedded_prom *ep, uv_loop_t *loop,
                       const struct embedded_prom_config *cfg, char *err, size_t errlen)
{
    memset(ep, 0, sizeof(*ep));
    ep->loop = loop;
    ep->cfg = *cfg;
    int rc = store_init(&ep->store, &cfg->store);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the metrics store: %s", strerror(-rc));
        return rc;
    }
    rc = fetcher_init(&ep->fetcher, loop);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the HTTP client: %s", strerror(-rc));
        store_release(&ep->store);
        return rc;
    }
    struct scrape_sink sink = {sink_append, ep};
    rc = scraper_init(&ep->scraper, loop, &ep->fetcher, &cfg->scrape, &sink);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the scraper: %s", strerror(-rc));
        ep->fetcher.data = NULL;
        fetcher_close(&ep->fetcher, NULL);
        store_release(&ep->store);
        return rc;
    }
    promql_api_init(&ep->api, &ep->store, &cfg->query);
    uv_timer_init(loop, &ep->gc_timer);
    ep->gc_timer.data = ep;
    uv_timer_start(&ep->gc_timer, on_gc, cfg->gc_interval_ms, cfg->gc_interval_ms);
    return 0;
}

int embedded_prom_add_target(struct embedded_prom *ep, const char *url,
                             const struct prom_label *labels, size_t nlabels,
                             unsigned interval_ms, struct scrape_target **out, char *err,
                             size_t errlen)
{
    struct scrape_target_config tc = {
        .url = url,
        .labels = labels,
        .nlabels = nlabels,
        .interval_ms = interval_ms ? interval_ms : ep->cfg.scrape_interval_ms,
    };
    return scrape_target_add(&ep->scraper, &tc, out, err, errlen);
}

/* ---- /api/v1/targets, as Prometheus shows its active targets ---------- */

struct targets_ctx {
    struct buf *out;
    bool first;
    int err;
};

static int json_str(struct buf *b, const char *s)
{
    return buf_append_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

static void target_json(void *ud, const struct scrape_target_status *st)
{
    struct targets_ctx *c = ud;
    struct buf *b = c->out;
    const char *job = "";
    int err = buf_append_str(b, c->first ? "{" : ",{");
    c->first = false;
    err |= buf_append_str(b, "\"discoveredLabels\":{},\"labels\":{");
    for (size_t i = 0; i < st->nlabels; i++) {
        if (strcmp(st->labels[i].name, "job") == 0)
            job = st->labels[i].value;
        err |= buf_append_str(b, i ? "," : "");
        err |= json_str(b, st->labels[i].name);
        err |= buf_append_str(b, ":");
        err |= json_str(b, st->labels[i].value);
    }
    err |= buf_append_str(b, "},\"scrapePool\":");
    err |= json_str(b, job);
    err |= buf_append_str(b, ",\"scrapeUrl\":");
    err |= json_str(b, st->url);
    err |= buf_append_str(b, ",\"globalUrl\":");
    err |= json_str(b, st->url);
    err |= buf_append_str(b, ",\"lastError\":");
    err |= json_str(b, st->last_error);
    char t[32] = "0001-01-01T00:00:00Z";
    if (st->last_scrape_ms > 0)
        prom_rfc3339((double)st->last_scrape_ms / 1000.0, t, sizeof(t));
    static const char *const health[] = {"unknown", "up", "down"};
    err |= buf_appendf(b, ",\"lastScrape\":\"%s\",\"lastScrapeDuration\":%.6f,\"health\":\"%s\","
                          "\"scrapeInterval\":\"%gs\",\"scrapeTimeout\":\"%gs\"}",
                       t, st->last_duration_s, health[st->health], st->interval_ms / 1000.0,
                       st->timeout_ms / 1000.0);
    c->err |= err;
}

static void respond_targets(struct embedded_prom *ep, struct http_req *req)
{
    struct buf out = BUF_INIT(TARGETS_OUT_MAX);
    struct targets_ctx c = {&out, true, 0};
    c.err |= buf_append_str(&out, "{\"status\":\"success\",\"data\":{\"activeTargets\":[");
    scrape_foreach_target(&ep->scraper, target_json, &c);
    c.err |= buf_append_str(&out, "],\"droppedTargets\":[]}}");
    if (c.err) {
        static const char msg[] = "{\"status\":\"error\",\"errorType\":\"internal\","
                                  "\"error\":\"the target list is too large\"}";
        http_respond(req, 500, "application/json", NULL, msg, sizeof(msg) - 1);
    } else {
        http_respond(req, 200, "application/json", NULL, out.data, out.len);
    }
    buf_release(&out);
}

bool embedded_prom_handle(struct embedded_prom *ep, struct http_req *req)
{
    if (http_req_path_is(req, "/-/ready") || http_req_path_is(req, "/-/healthy")) {
        static const char ok[] = "Prometheus Server is Ready.\n";
        http_respond(req, 200, "text/plain; charset=utf-8", NULL, ok, sizeof(ok) - 1);
        return true;
    }
    if (http_req_path_is(req, "/api/v1/targets")) {
        respond_targets(ep, req);
        return true;
    }
    return promql_api_handle(&ep->api, req);
}

/* ---- own metrics --------------------------------------------------------- */

struct up_ctx {
    unsigned up, down, unknown;
};

static void count_up(void *ud, const struct scrape_target_status *st)
{
    struct up_ctx *c = ud;
    if (st->health == SCRAPE_UP)
        c->up++;
    else if (st->health == SCRAPE_DOWN)
        c->down++;
    else
        c->unknown++;
}

int embedded_prom_metrics(struct embedded_prom *ep, struct buf *out)
{
    struct store_stats s;
    store_stats(&ep->store, &s);
    struct up_ctx up = {0};
    scrape_foreach_target(&ep->scraper, count_up, &up);
    int err = 0;
    err |= prom_family(out, "ebb_store_series", "gauge", "Series held by the embedded store.");
    err |= prom_sample(out, "ebb_store_series", NULL, (double)s.series);
    err |= prom_family(out, "ebb_store_samples", "gauge", "Samples held by the embedded store.");
    err |= prom_sample(out, "ebb_store_samples", NULL, (double)s.samples);
    err |= prom_family(out, "ebb_store_bytes", "gauge",
                       "Bytes of labels, samples and index in the embedded store.");
    err |= prom_sample(out, "ebb_store_bytes", NULL, (double)s.bytes);
    err |= prom_family(out, "ebb_store_sample_bytes", "gauge",
                       "Of ebb_store_bytes, the compressed sample chunks'.");
    err |= prom_sample(out, "ebb_store_sample_bytes", NULL, (double)s.sample_bytes);
    err |= prom_family(out, "ebb_store_rejected_samples_total", "counter",
                       "Samples the store refused (a limit, or older than the series' last).");
    err |= prom_sample(out, "ebb_store_rejected_samples_total", NULL, (double)s.rejected);
    err |= prom_family(out, "ebb_scrape_targets", "gauge", "Scrape targets by health.");
    err |= prom_sample(out, "ebb_scrape_targets", "health=\"down\"", up.down);
    err |= prom_sample(out, "ebb_scrape_targets", "health=\"unknown\"", up.unknown);
    err |= prom_sample(out, "ebb_scrape_targets", "health=\"up\"", up.up);
    return err ? -ENOBUFS : 0;
}

/* ---- stopping ------------------------------------------------------------ */

static void part_closed(struct embedded_prom *ep)
{
    if (--ep->closing == 0 && ep->on_stopped)
        ep->on_stopped(ep);
}

static void on_gc_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void on_fetcher_closed(struct fetcher *f)
{
    part_closed(f->data);
}

static void on_scraper_closed(struct scraper *s)
{
    struct embedded_prom *ep = (struct embedded_prom *)((char *)s -
                                                        offsetof(struct embedded_prom, scraper));
    /* The scraper's fetches are done; now the fetcher itself. */
    ep->fetcher.data = ep;
    fetcher_close(&ep->fetcher, on_fetcher_closed);
    part_closed(ep);
}

void embedded_prom_stop(struct embedded_prom *ep, void (*on_stopped)(struct embedded_prom *ep))
{
    ep->on_stopped = on_stopped;
    ep->closing = 3; /* gc timer, scraper, fetcher */
    uv_close((uv_handle_t *)&ep->gc_timer, on_gc_closed);
    scraper_close(&ep->scraper, on_scraper_closed);
}

void embedded_prom_release(struct embedded_prom *ep)
{
    store_release(&ep->store);
}
