/* embedded: the Prometheus ebb carries inside — a scraper feeding the
 * bounded in-memory store, and Prometheus's HTTP query API over it — as one
 * piece that `ebb metrics` serves alone and `ebb up` serves beside the
 * router and the autoscaler (design.md §3; docs/scrape.md, docs/promql.md).
 *
 * Use:
 *     embedded_prom_init(&ep, loop, &cfg, err, sizeof err);
 *     embedded_prom_add_target(&ep, "http://127.0.0.1:8000/metrics", labels, n, &t, err, ...);
 *     ... in an HTTP handler: if (embedded_prom_handle(&ep, req)) return;
 *     embedded_prom_stop(&ep, on_stopped);   then embedded_prom_release(&ep)
 */
#ifndef EBB_PROM_EMBEDDED_H
#define EBB_PROM_EMBEDDED_H

#include <stdbool.h>
#include <uv.h>

#include "base/buf.h"
#include "http/fetch.h"
#include "http/server.h"
#include "prom/scrape.h"
#include "promql/api.h"
#include "promql/store.h"

struct embedded_prom_config {
    struct store_limits store;      /* series, samples, bytes, retention */
    struct promql_limits query;     /* per query */
    struct scrape_config scrape;    /* targets, body size, sample limit */
    unsigned scrape_interval_ms;    /* default for targets added with 0 */
    unsigned gc_interval_ms;        /* how often retention is applied */
};

void embedded_prom_config_defaults(struct embedded_prom_config *cfg);

struct embedded_prom {
    uv_loop_t *loop;
    struct embedded_prom_config cfg;
    struct fetcher fetcher;
    struct store store;
    struct scraper scraper;
    struct promql_api api;
    uv_timer_t gc_timer;
    unsigned closing; /* parts still closing */
    uint64_t append_errors;
    void (*on_stopped)(struct embedded_prom *ep);
    void *data; /* the owner's */
};

/* Sets everything up on loop; nothing is scraped until a target is added.
 * 0 or a negative errno with a message in err. */
int embedded_prom_init(struct embedded_prom *ep, uv_loop_t *loop,
                       const struct embedded_prom_config *cfg, char *err, size_t errlen);

/* Scrapes url every interval_ms (0: the configured default) with these
 * target labels (job, instance, pod, ...; copied). 0 or a negative errno
 * with a message in err. */
int embedded_prom_add_target(struct embedded_prom *ep, const char *url,
                             const struct prom_label *labels, size_t nlabels,
                             unsigned interval_ms, struct scrape_target **out, char *err,
                             size_t errlen);

/* Answers /api/v1/... (the query API), /api/v1/targets, /-/ready and
 * /-/healthy; false for any other path. */
bool embedded_prom_handle(struct embedded_prom *ep, struct http_req *req);

/* Its own metrics (store size, rejections, targets up), appended to out. */
int embedded_prom_metrics(struct embedded_prom *ep, struct buf *out);

/* Stops scraping, closes its handles, then on_stopped; release after. */
void embedded_prom_stop(struct embedded_prom *ep, void (*on_stopped)(struct embedded_prom *ep));
void embedded_prom_release(struct embedded_prom *ep);

#endif
