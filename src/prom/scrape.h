/* scrape: Prometheus's scrape loop, for a set of targets that may change at
 * run time, on the libuv loop, over fetch (libcurl multi).
 *
 * Every interval each target's /metrics body is fetched and read with
 * textparse; its samples go to a sink (the embedded store, later) with the
 * target's labels applied as Prometheus applies them with honor_labels
 * false (a scraped label that clashes with a target label is kept as
 * "exported_<name>"), the scrape's timestamp when a sample has none, and
 * the five series Prometheus writes per scrape: up, scrape_duration_seconds,
 * scrape_samples_scraped, scrape_samples_post_metric_relabeling and
 * scrape_series_added.
 *
 * Staleness is Prometheus's: a series of the previous scrape that is absent
 * from this one gets a staleness marker (prom_stale_nan()) at this scrape's
 * time; a failed scrape (no connection, timeout, status other than 200, a
 * body too large, a parse error, a limit) writes up 0 and markers for all
 * of the target's series, and nothing of the body; samples with their own
 * timestamp are not tracked. Removing a target writes markers for all its
 * series and its five report series (Prometheus waits two intervals first,
 * in case the target comes back; ebb's pool removes a replica for good).
 *
 * Bounded: targets, target labels, series remembered per target, response
 * bytes, and textparse's limits per line. See docs/scrape.md. */
#ifndef EBB_PROM_SCRAPE_H
#define EBB_PROM_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/fetch.h"
#include "prom/labels.h"
#include "prom/strtab.h"
#include "prom/textparse.h"

#define SCRAPE_MAX_TARGETS 1024
#define SCRAPE_MAX_TARGET_LABELS 32
#define SCRAPE_MAX_SERIES 100000    /* per target */
#define SCRAPE_MAX_BODY (16u << 20) /* bytes of one response */
#define SCRAPE_INTERVAL_MS 1000
/* An on-time scrape is stamped exactly one interval after the last if the
 * clock is within a tolerance of it, for intervals over 100 times
 * SCRAPE_TIMESTAMP_TOLERANCE_MS, as Prometheus does with its
 * --scrape.timestamp-tolerance (2 ms). The tolerance here is 1% of the
 * interval, at least that: 10 ms at 1 s. Prometheus runs a goroutine per
 * target; ebb scrapes every target from one loop, which starts a scrape a
 * few ms late whenever it is answering a query or reading another body,
 * and a stamp off the schedule costs the store ~60 bits on each of the
 * target's series (three changes of distance, a run broken). */
#define SCRAPE_TIMESTAMP_TOLERANCE_MS 2

/* Where samples go. */
struct scrape_sink {
    /* One sample; labels sorted by name, __name__ included, target labels
     * applied. t in ms. The labels are valid during the call only. A
     * negative return is counted in the target's status, and the scrape
     * goes on. */
    int (*append)(void *ud, const struct prom_label *labels, size_t n, int64_t t_ms, double v);
    void *ud;
};

struct scrape_config {
    unsigned max_targets;
    size_t max_series;   /* per target, remembered for staleness; a body with more samples fails */
    size_t max_body;     /* bytes of a response; a longer one fails the scrape */
    size_t sample_limit; /* Prometheus's sample_limit: more samples fail the scrape; 0: none */
    struct textparse_limits parse; /* max_samples is not used: see sample_limit */
    bool no_jitter; /* scrape a new target at once, not at its offset in the interval */
    /* Wall clock in ms since the epoch, for timestamps; NULL: the real one. */
    int64_t (*clock_ms)(void *ud);
    void *clock_ud;
};

/* The defaults above, textparse's default limits, jitter on. */
void scrape_config_defaults(struct scrape_config *cfg);

struct scrape_target_config {
    const char *url; /* http:// or https:// */
    /* job, instance, and others (pod, namespace, ...); copied. Names must
     * be label names not starting "__". Without "instance", the URL's
     * host:port is the instance, as in Prometheus. */
    const struct prom_label *labels;
    size_t nlabels;
    unsigned interval_ms; /* 0: 1000 */
    unsigned timeout_ms;  /* 0: the interval; never more than it */
};

enum scrape_health { SCRAPE_UNKNOWN = 0, SCRAPE_UP, SCRAPE_DOWN };

/* A target as /api/v1/targets shows it. Valid during the callback only. */
struct scrape_target_status {
    const char *url;
    const struct prom_label *labels; /* sorted by name */
    size_t nlabels;
    unsigned interval_ms, timeout_ms;
    enum scrape_health health;
    int64_t last_scrape_ms; /* start of the last finished scrape; 0 before the first */
    double last_duration_s;
    const char *last_error; /* "" after a scrape that went well */
    size_t last_samples;    /* scrape_samples_scraped of the last scrape */
    size_t series;          /* series remembered for staleness */
    unsigned long long scrapes_total, failures_total, sink_errors_total;
};

struct scrape_target;
struct labelset;

struct scraper {
    uv_loop_t *loop;
    struct fetcher *fetcher;
    struct scrape_config cfg;
    struct scrape_sink sink;
    struct scrape_target *targets; /* intrusive list */
    unsigned ntargets;
    unsigned nclosing; /* targets whose timer is closing */
    bool closing;
    void (*on_closed)(struct scraper *s);
    /* Scratch for one sample's labels, shared: the loop runs one callback
     * at a time. */
    struct prom_label *scratch;
    size_t scratch_cap;
    struct prom_label *own; /* a sample's own labels, as a series is remembered */
    size_t own_cap;
    char *names; /* "exported_..." names */
    size_t names_cap;
    struct labelset **sets; /* the targets' series' label sets, shared: chains by hash */
    size_t nsets_buckets, nsets;
    struct strtab strs; /* the label strings of those sets */
};

/* Sets up a scraper on loop, fetching with f (the caller's; it must outlive
 * the scraper). cfg may be NULL for the defaults; cfg and sink are copied.
 * 0 or -ENOMEM. */
int scraper_init(struct scraper *s, uv_loop_t *loop, struct fetcher *f,
                 const struct scrape_config *cfg, const struct scrape_sink *sink);

/* Adds a target; its first scrape is within one interval (at once with
 * no_jitter). *out (may be NULL) is the handle for scrape_target_remove.
 * 0, -EINVAL (a bad URL, label, interval or timeout) or -ENOSPC (too many
 * targets), with the reason in err (errlen bytes, may be NULL), or -ENOMEM. */
int scrape_target_add(struct scraper *s, const struct scrape_target_config *tc,
                      struct scrape_target **out, char *err, size_t errlen);

/* Stops scraping t, cancels its scrape in flight, writes staleness markers
 * for all its series (if it was ever scraped) and frees it once its timer
 * has closed. t must not be used afterwards. */
void scrape_target_remove(struct scrape_target *t);

/* Calls cb for every target, in the order they were added. */
void scrape_foreach_target(struct scraper *s,
                           void (*cb)(void *ud, const struct scrape_target_status *st), void *ud);

/* Stops everything without staleness markers (Prometheus writes none on
 * shutdown either), cancels the scrapes in flight, frees the targets and
 * then calls on_closed (may be NULL) from the loop. The fetcher is left
 * open. */
void scraper_close(struct scraper *s, void (*on_closed)(struct scraper *s));

/* The labels a scraped series is stored with (pure): scraped (sorted, as
 * textparse gives them) with target (sorted) applied as Prometheus's
 * honor_labels false does: target labels win; a scraped label they
 * override is kept as "exported_<name>" (more "exported_" until the name is
 * free); labels with an empty value are dropped. Writes at most cap labels,
 * sorted, to out; new names go to names (names_cap bytes), which out points
 * into. Returns how many, or -E2BIG. */
int scrape_labels_apply(const struct prom_label *scraped, size_t n, const struct prom_label *target,
                        size_t nt, struct prom_label *out, size_t cap, char *names,
                        size_t names_cap);

#endif
