/* scrape: Prometheus's scrape loop on libuv and fetch. See scrape.h.
 *
 * A scrape reads the body twice: first to check all of it (Prometheus
 * appends nothing of a body that fails to parse: it rolls back), then to
 * hand the samples to the sink. Each target remembers the series of its
 * last scrape in a small hash table, which is what its staleness markers are
 * written for: a series by its labels as scraped, without the target's (the
 * same for all its series, added again for a marker) and without those with
 * an empty value (which the target's labels drop), so with the target's
 * labels applied one entry is one stored series. Those label sets are
 * shared by all targets (replicas of one model expose the same ~370), and
 * so are their strings. */
#include "prom/scrape.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "http/server.h"

#define EXPORTED "exported_"

/* A label set as scraped (see above), one for all the targets' series
 * that have it, counted by them; in the scraper's table. One allocation:
 * the struct and the pairs; the strings are the scraper's shared ones
 * (struct scraper's strs). */
struct labelset {
    struct labelset *next; /* hash chain */
    uint64_t hash;
    uint32_t refs;
    uint16_t n;
    struct prom_label labels[];
};

/* A series remembered for staleness: a slot of its target's table (open
 * addressing by the set's hash), its label set and the scrape it was last
 * seen in. Kept small: 100 replicas of vLLM's metrics are 37,000. */
struct series {
    struct labelset *set; /* NULL: a free slot */
    uint32_t seen;  /* the low bits of the scrape's number: only "this one or not" matters */
    bool stale_ok; /* false for a sample with its own timestamp: no marker then */
};

struct scrape_target {
    struct scrape_target *next, *prev;
    struct scraper *s;
    uv_timer_t timer;
    char *url;
    struct prom_label *labels; /* sorted; strings in one block after them */
    size_t nlabels;
    unsigned interval_ms, timeout_ms;
    char timeout_header[64];
    struct fetch *inflight;
    int64_t t_ms;      /* timestamp of the scrape in flight */
    int64_t prev_t_ms; /* the one before: an on-time scrape is stamped prev + interval */
    uint64_t due;      /* loop time the next scrape is due at */
    uint64_t start_ns; /* uv_hrtime() when it started */
    uint64_t iter;     /* scrapes started */
    struct series *slots; /* nslots, a power of two, at most 3/4 used */
    size_t nslots, nseries;
    bool busy; /* in a fetch callback: removal waits for its end */
    bool removed;
    /* status */
    enum scrape_health health;
    int64_t last_t_ms;
    double last_duration_s;
    size_t last_samples;
    char last_error[256];
    unsigned long long scrapes_total, failures_total, sink_errors_total;
};

static const char *const report_names[] = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
};
#define NREPORT (sizeof(report_names) / sizeof(report_names[0]))

static int64_t real_clock_ms(void *ud)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const struct scraper *s)
{
    return s->cfg.clock_ms(s->cfg.clock_ud);
}

void scrape_config_defaults(struct scrape_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_targets = SCRAPE_MAX_TARGETS;
    cfg->max_series = SCRAPE_MAX_SERIES;
    cfg->max_body = SCRAPE_MAX_BODY;
}

/* ---- labels ---- */

static const char *label_get(const struct prom_label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].name, name))
            return l[i].value;
    return NULL;
}

int scrape_labels_apply(const struct prom_label *scraped, size_t n, const struct prom_label *target,
                        size_t nt, struct prom_label *out, size_t cap, char *names,
                        size_t names_cap)
{
    /* Prometheus's resolveConflictingExposedLabels: the clashing pairs,
     * shortest name first (stable), each renamed with "exported_" until
     * the name is neither scraped, a target label, nor taken by an earlier
     * one. */
    struct prom_label conf[SCRAPE_MAX_TARGET_LABELS];
    size_t nc = 0, used = 0, k = 0;
    if (nt > SCRAPE_MAX_TARGET_LABELS)
        return -E2BIG;
    for (size_t i = 0; i < nt; i++) {
        const char *v = label_get(scraped, n, target[i].name);
        if (v && *v)
            conf[nc++] = (struct prom_label){target[i].name, v};
    }
    for (size_t i = 1; i < nc; i++) {
        struct prom_label x = conf[i];
        size_t j = i;
        while (j > 0 && strlen(conf[j - 1].name) > strlen(x.name)) {
            conf[j] = conf[j - 1];
            j--;
        }
        conf[j] = x;
    }
    for (size_t i = 0; i < nc; i++) {
        const char *prev = conf[i].name;
        for (;;) {
            size_t len = strlen(EXPORTED) + strlen(prev);
            if (used + len + 1 > names_cap)
                return -E2BIG;
            char *name = names + used;
            snprintf(name, len + 1, "%s%s", EXPORTED, prev);
            prev = name;
            used += len + 1;
            bool taken = label_get(scraped, n, name) || label_get(target, nt, name) ||
                         label_get(conf, i, name);
            if (!taken) {
                conf[i].name = name;
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!*scraped[i].value || label_get(target, nt, scraped[i].name))
            continue;
        if (k == cap)
            return -E2BIG;
        out[k++] = scraped[i];
    }
    for (size_t i = 0; i < nt + nc; i++) {
        const struct prom_label *l = i < nt ? &target[i] : &conf[i - nt];
        if (!*l->value)
            continue;
        if (k == cap)
            return -E2BIG;
        out[k++] = *l;
    }
    prom_labels_sort(out, k);
    return (int)k;
}

/* ---- the series of a target ---- */

static uint64_t labels_hash(const struct prom_label *l, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        h = hash64(l[i].name, strlen(l[i].name) + 1, h);
        h = hash64(l[i].value, strlen(l[i].value) + 1, h);
    }
    return h;
}

static bool labels_equal(const struct prom_label *a, size_t na, const struct prom_label *b,
                         size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value))
            return false;
    return true;
}

/* Frees a label set with its references to the strings (NULL ones, of a
 * set half made, are ignored). */
static void labelset_free(struct scraper *s, struct labelset *set)
{
    for (size_t i = 0; i < set->n; i++) {
        strtab_put(&s->strs, set->labels[i].name);
        strtab_put(&s->strs, set->labels[i].value);
    }
    free(set);
}

/* Drops one reference to a label set; the last frees it. */
static void labelset_put(struct scraper *s, struct labelset *set)
{
    if (--set->refs)
        return;
    struct labelset **pp = &s->sets[set->hash & (s->nsets_buckets - 1)];
    while (*pp != set)
        pp = &(*pp)->next;
    *pp = set->next;
    s->nsets--;
    labelset_free(s, set);
}

/* Doubles the index once it holds as many sets as chains; a failed growth
 * leaves longer chains, not an error (as strtab's). */
static void labelsets_grow(struct scraper *s)
{
    size_t nb = s->nsets_buckets ? s->nsets_buckets * 2 : 256;
    struct labelset **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < s->nsets_buckets; i++) {
        struct labelset *e = s->sets[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(s->sets);
    s->sets = b;
    s->nsets_buckets = nb;
}

/* The scraper's label set equal to l, made if need be, with one more
 * reference; NULL if out of memory. */
static struct labelset *labelset_get(struct scraper *s, const struct prom_label *l, size_t n)
{
    uint64_t h = labels_hash(l, n);
    if (s->nsets_buckets) {
        for (struct labelset *e = s->sets[h & (s->nsets_buckets - 1)]; e; e = e->next) {
            if (e->hash == h && labels_equal(e->labels, e->n, l, n)) {
                e->refs++;
                return e;
            }
        }
    }
    if (s->nsets >= s->nsets_buckets)
        labelsets_grow(s);
    if (n > UINT16_MAX || !s->nsets_buckets)
        return NULL;
    struct labelset *e = malloc(sizeof(*e) + n * sizeof(struct prom_label));
    if (!e)
        return NULL;
    e->hash = h;
    e->refs = 1;
    e->n = 0;
    for (size_t i = 0; i < n; i++) {
        e->labels[i].name = strtab_get(&s->strs, l[i].name);
        e->labels[i].value = strtab_get(&s->strs, l[i].value);
        e->n++;
        if (!e->labels[i].name || !e->labels[i].value) {
            labelset_free(s, e);
            return NULL;
        }
    }
    e->next = s->sets[h & (s->nsets_buckets - 1)];
    s->sets[h & (s->nsets_buckets - 1)] = e;
    s->nsets++;
    return e;
}

/* The slot of set in a table of cap slots: where it is, or the free one
 * where it would go. */
static struct series *slot_of(struct series *slots, size_t cap, const struct labelset *set)
{
    size_t i = set->hash & (cap - 1);
    while (slots[i].set && slots[i].set != set)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Empties slot i, moving back the ones after it that a lookup could no
 * longer reach past the hole (linear probing's deletion). */
static void slot_clear(struct series *slots, size_t cap, size_t i)
{
    size_t j = i;
    for (;;) {
        slots[i].set = NULL;
        for (;;) {
            j = (j + 1) & (cap - 1);
            if (!slots[j].set)
                return;
            size_t home = slots[j].set->hash & (cap - 1);
            /* It stays if its home is cyclically in (i, j]. */
            if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                continue;
            break;
        }
        slots[i] = slots[j];
        i = j;
    }
}

/* Moves the series into a fresh table of cap slots. */
static int slots_rebuild(struct scrape_target *t, size_t cap)
{
    struct series *v = calloc(cap, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i].set)
            *slot_of(v, cap, t->slots[i].set) = t->slots[i];
    free(t->slots);
    t->slots = v;
    t->nslots = cap;
    return 0;
}

/* Marks the series seen in scrape t->iter, adding it if new. 1 if it was
 * not in the previous scrape (scrape_series_added), 0, or -ENOMEM. Like
 * Prometheus, a series whose sample has its own timestamp counts as added
 * but gets no staleness marker. */
static int series_seen(struct scrape_target *t, const struct prom_label *l, size_t n, bool stale_ok)
{
    if ((t->nseries + 1) * 4 > t->nslots * 3 &&
        slots_rebuild(t, t->nslots ? t->nslots * 2 : 64))
        return -ENOMEM;
    struct labelset *set = labelset_get(t->s, l, n);
    if (!set)
        return -ENOMEM;
    struct series *e = slot_of(t->slots, t->nslots, set);
    int added = !e->set;
    if (added) {
        e->set = set;
        t->nseries++;
    } else {
        labelset_put(t->s, set); /* the slot holds its reference */
    }
    e->seen = (uint32_t)t->iter;
    e->stale_ok = stale_ok;
    return added;
}

static void sink_append(struct scrape_target *t, const struct prom_label *l, size_t n, int64_t t_ms,
                        double v)
{
    if (t->s->sink.append(t->s->sink.ud, l, n, t_ms, v) < 0)
        t->sink_errors_total++;
}

/* Writes a staleness marker at t_ms for every series not seen in scrape
 * `keep` and forgets it; keep = 0 ends them all. */
static void series_end(struct scrape_target *t, uint64_t keep, int64_t t_ms)
{
    struct scraper *s = t->s;
    for (size_t i = 0; i < t->nslots;) {
        struct series *e = &t->slots[i];
        if (!e->set || (keep && e->seen == (uint32_t)keep)) {
            i++;
            continue;
        }
        int n = e->stale_ok ? scrape_labels_apply(e->set->labels, e->set->n, t->labels,
                                                  t->nlabels, s->scratch, s->scratch_cap,
                                                  s->names, s->names_cap)
                            : 0;
        if (n > 0)
            sink_append(t, s->scratch, (size_t)n, t_ms, prom_stale_nan());
        labelset_put(s, e->set);
        slot_clear(t->slots, t->nslots, i); /* slot i may hold another now: looked at again */
        t->nseries--;
    }
    if (!t->nseries) {
        free(t->slots);
        t->slots = NULL;
        t->nslots = 0;
    }
}

/* ---- one scrape ---- */

/* The five report series, with the target's labels. */
static void report(struct scrape_target *t, int64_t t_ms, const double v[NREPORT])
{
    struct scraper *s = t->s;
    for (size_t i = 0; i < NREPORT; i++) {
        struct prom_label name = {"__name__", report_names[i]};
        int n = scrape_labels_apply(&name, 1, t->labels, t->nlabels, s->scratch, s->scratch_cap,
                                    s->names, s->names_cap);
        if (n > 0)
            sink_append(t, s->scratch, (size_t)n, t_ms, v[i]);
    }
}

__attribute__((format(printf, 3, 4))) static const char *why(char *buf, size_t n, const char *fmt,
                                                             ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return buf;
}

/* Pass 1: the whole body must parse, within the limits, the target's
 * labels included. *total gets the samples read (up to an error, as
 * Prometheus counts them). */
static const char *check_body(struct scrape_target *t, const char *body, size_t len, size_t *total,
                              char *errbuf, size_t errlen)
{
    struct scraper *s = t->s;
    struct textparse_limits lim = s->cfg.parse;
    lim.max_samples = 0;
    struct textparse p;
    struct textparse_sample smp;
    int rc;
    if (textparse_init(&p, body, len, &lim))
        return why(errbuf, errlen, "out of memory");
    *total = 0;
    while ((rc = textparse_next(&p, &smp)) == 1) {
        (*total)++;
        if (scrape_labels_apply(smp.labels, smp.n, t->labels, t->nlabels, s->scratch,
                                s->scratch_cap, s->names, s->names_cap) < 0)
            break;
    }
    const char *err = NULL;
    if (rc == 1)
        err = why(errbuf, errlen, "line %u: too many labels with the target's", smp.line);
    else if (rc < 0)
        err = why(errbuf, errlen, "%s", textparse_error(&p));
    else if (s->cfg.sample_limit && *total > s->cfg.sample_limit)
        err = why(errbuf, errlen, "sample limit exceeded: %zu samples, the limit is %zu", *total,
                  s->cfg.sample_limit);
    else if (*total > s->cfg.max_series)
        err = why(errbuf, errlen, "too many series: %zu samples, at most %zu series per target",
                  *total, s->cfg.max_series);
    textparse_release(&p);
    return err;
}

/* Pass 2: the samples to the sink; the series seen are remembered. */
static const char *append_body(struct scrape_target *t, const char *body, size_t len, size_t *added,
                               char *errbuf, size_t errlen)
{
    struct scraper *s = t->s;
    struct textparse_limits lim = s->cfg.parse;
    lim.max_samples = 0;
    struct textparse p;
    struct textparse_sample smp;
    const char *err = NULL;
    if (textparse_init(&p, body, len, &lim))
        return why(errbuf, errlen, "out of memory");
    *added = 0;
    while (!err && textparse_next(&p, &smp) == 1) {
        /* Checked in pass 1. */
        int n = scrape_labels_apply(smp.labels, smp.n, t->labels, t->nlabels, s->scratch,
                                    s->scratch_cap, s->names, s->names_cap);
        if (n < 0)
            break;
        sink_append(t, s->scratch, (size_t)n, smp.has_t ? smp.t_ms : t->t_ms, smp.v);
        size_t k = 0; /* textparse sorts the labels; dropping some keeps the order */
        for (size_t i = 0; i < smp.n && k < s->own_cap; i++)
            if (*smp.labels[i].value)
                s->own[k++] = smp.labels[i];
        int r = series_seen(t, s->own, k, !smp.has_t);
        if (r < 0)
            err = why(errbuf, errlen, "out of memory");
        else
            *added += (size_t)r;
    }
    textparse_release(&p);
    return err;
}

static void finish_remove(struct scrape_target *t);

static void scrape_done(struct scrape_target *t, const char *err, long status, const char *body,
                        size_t len)
{
    char errbuf[256];
    size_t total = 0, added = 0;
    t->busy = true;
    if (!err && status != 200)
        err = why(errbuf, sizeof(errbuf), "server returned HTTP status %ld %s", status,
                  http_status_reason((int)status));
    if (!err)
        err = check_body(t, body, len, &total, errbuf, sizeof(errbuf));
    if (!err)
        err = append_body(t, body, len, &added, errbuf, sizeof(errbuf));
    /* Series of the last scrape not seen in this one end now; after a
     * failure, all of them. */
    series_end(t, err ? 0 : t->iter, t->t_ms);
    double secs = (double)(uv_hrtime() - t->start_ns) / 1e9;
    double v[NREPORT] = {err ? 0 : 1, secs, (double)total, (double)total, err ? 0 : (double)added};
    report(t, t->t_ms, v);

    enum scrape_health was = t->health;
    t->health = err ? SCRAPE_DOWN : SCRAPE_UP;
    t->last_t_ms = t->t_ms;
    t->last_duration_s = secs;
    t->last_samples = total;
    t->scrapes_total++;
    snprintf(t->last_error, sizeof(t->last_error), "%s", err ? err : "");
    if (err)
        t->failures_total++;
    if (err && was != SCRAPE_DOWN)
        log_warn("scrape: target \"%s\" is down: %s", t->url, err);
    else if (!err && was == SCRAPE_DOWN)
        log_info("scrape: target \"%s\" is up again", t->url);
    t->busy = false;
    if (t->removed && !t->s->closing)
        finish_remove(t);
}

static void on_fetched(void *ud, const struct fetch_result *r)
{
    struct scrape_target *t = ud;
    t->inflight = NULL;
    scrape_done(t, r->err, r->status, r->body, r->len);
}

static void on_tick(uv_timer_t *timer);

/* The next tick at the next due time of the target's schedule (a repeating
 * libuv timer restarts from when its callback ran, so its lateness would
 * add up); a schedule fallen behind by more than an interval skips ahead,
 * as a ticker drops ticks. */
static void schedule_next(struct scrape_target *t)
{
    uint64_t now = uv_now(t->s->loop);
    t->due += t->interval_ms;
    if (t->due <= now)
        t->due += (now - t->due) / t->interval_ms * t->interval_ms + t->interval_ms;
    uv_timer_start(&t->timer, on_tick, t->due - now, 0);
}

/* The scrape's timestamp: the clock, unless it is within the tolerance
 * (scrape.h) of one interval after the last one, which is then used
 * instead: Prometheus's timestamp alignment. Regular timestamps are what
 * the store keeps as runs. */
static int64_t scrape_timestamp(struct scrape_target *t)
{
    int64_t now = now_ms(t->s), aligned = t->prev_t_ms + (int64_t)t->interval_ms;
    int64_t tolerance = t->interval_ms / 100;
    if (tolerance < SCRAPE_TIMESTAMP_TOLERANCE_MS)
        tolerance = SCRAPE_TIMESTAMP_TOLERANCE_MS;
    if (t->prev_t_ms && t->interval_ms > 100 * SCRAPE_TIMESTAMP_TOLERANCE_MS &&
        now - aligned <= tolerance && aligned - now <= tolerance)
        now = aligned;
    t->prev_t_ms = now;
    return now;
}

static void on_tick(uv_timer_t *timer)
{
    struct scrape_target *t = timer->data;
    schedule_next(t);
    if (t->inflight)
        return; /* still running (the timeout is at most the interval): skip, as a ticker does */
    static const char accept[] = "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1";
    const char *headers[] = {accept, t->timeout_header};
    struct fetch_request rq = {
        .url = t->url,
        .headers = headers,
        .n_headers = 2,
        .timeout_ms = (long)t->timeout_ms,
        .max_body = t->s->cfg.max_body,
    };
    t->iter++;
    t->t_ms = scrape_timestamp(t);
    t->start_ns = uv_hrtime();
    int err = fetch_start(t->s->fetcher, &rq, on_fetched, t, &t->inflight);
    if (err) {
        char buf[128];
        t->inflight = NULL;
        scrape_done(t, why(buf, sizeof(buf), "cannot start the request: %s", strerror(-err)), 0,
                    NULL, 0);
    }
}

/* ---- targets ---- */

/* The end of scraper_close, once no target is left: the scratch space
 * goes last, as a fetch callback that closed the scraper may still be
 * using it until it returns. */
static void scraper_closed(struct scraper *s)
{
    free(s->scratch);
    free(s->own);
    s->own = NULL;
    free(s->names);
    s->scratch = NULL;
    s->names = NULL;
    free(s->sets); /* empty: every target has put its sets */
    s->sets = NULL;
    s->nsets_buckets = 0;
    strtab_release(&s->strs);
    if (s->on_closed)
        s->on_closed(s);
}

static void on_target_closed(uv_handle_t *h)
{
    struct scrape_target *t = h->data;
    struct scraper *s = t->s;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i].set)
            labelset_put(s, t->slots[i].set);
    free(t->slots);
    free(t->url);
    free(t->labels);
    free(t);
    s->nclosing--;
    if (s->closing && !s->nclosing)
        scraper_closed(s);
}

static void target_unlink_close(struct scrape_target *t)
{
    struct scraper *s = t->s;
    if (t->prev)
        t->prev->next = t->next;
    else
        s->targets = t->next;
    if (t->next)
        t->next->prev = t->prev;
    s->ntargets--;
    s->nclosing++;
    uv_close((uv_handle_t *)&t->timer, on_target_closed);
}

/* Removal proper: staleness markers for every series the target wrote,
 * its report series included, later than its last scrape. */
static void finish_remove(struct scrape_target *t)
{
    if (t->scrapes_total) {
        int64_t when = now_ms(t->s);
        if (when <= t->last_t_ms)
            when = t->last_t_ms + 1;
        series_end(t, 0, when);
        double v[NREPORT];
        for (size_t i = 0; i < NREPORT; i++)
            v[i] = prom_stale_nan();
        report(t, when, v);
    }
    target_unlink_close(t);
}

void scrape_target_remove(struct scrape_target *t)
{
    if (t->removed || t->s->closing)
        return;
    t->removed = true;
    if (t->inflight) {
        fetch_cancel(t->inflight);
        t->inflight = NULL;
    }
    uv_timer_stop(&t->timer);
    if (!t->busy)
        finish_remove(t);
}

/* host[:port] of an http(s) URL, for the default "instance" label. */
static void url_hostport(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, n, "%.*s", (int)len, p);
}

static int target_labels_copy(struct scrape_target *t, const struct scrape_target_config *tc,
                              char *err, size_t errlen)
{
    char instance[256] = "";
    bool has_instance = label_get(tc->labels, tc->nlabels, "instance") != NULL;
    if (!has_instance)
        url_hostport(tc->url, instance, sizeof(instance));
    size_t n = tc->nlabels + !has_instance;
    size_t bytes = n * sizeof(struct prom_label) + strlen(instance) + sizeof("instance") + 1;
    for (size_t i = 0; i < tc->nlabels; i++)
        bytes += strlen(tc->labels[i].name) + strlen(tc->labels[i].value) + 2;
    t->labels = malloc(bytes);
    if (!t->labels)
        return -ENOMEM;
    char *p = (char *)&t->labels[n];
    for (size_t i = 0; i < n; i++) {
        const char *name = i < tc->nlabels ? tc->labels[i].name : "instance";
        const char *value = i < tc->nlabels ? tc->labels[i].value : instance;
        size_t ln = strlen(name) + 1, lv = strlen(value) + 1;
        t->labels[i].name = memcpy(p, name, ln);
        t->labels[i].value = memcpy(p + ln, value, lv);
        p += ln + lv;
    }
    t->nlabels = n;
    prom_labels_sort(t->labels, n);
    return 0;
}

static int check_target(const struct scraper *s, const struct scrape_target_config *tc, char *err,
                        size_t errlen)
{
    char dummy[1];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (s->ntargets >= s->cfg.max_targets) {
        snprintf(err, errlen, "too many targets: at most %u", s->cfg.max_targets);
        return -ENOSPC;
    }
    if (!tc->url || (strncmp(tc->url, "http://", 7) && strncmp(tc->url, "https://", 8))) {
        snprintf(err, errlen, "target url \"%s\" is not http:// or https://",
                 tc->url ? tc->url : "");
        return -EINVAL;
    }
    unsigned interval = tc->interval_ms ? tc->interval_ms : SCRAPE_INTERVAL_MS;
    if (tc->timeout_ms > interval) {
        snprintf(err, errlen,
                 "target \"%s\": scrape timeout %u ms is greater than the interval %u ms", tc->url,
                 tc->timeout_ms, interval);
        return -EINVAL;
    }
    if (tc->nlabels + 1 > SCRAPE_MAX_TARGET_LABELS) {
        snprintf(err, errlen, "target \"%s\": more than %d labels", tc->url,
                 SCRAPE_MAX_TARGET_LABELS - 1);
        return -EINVAL;
    }
    for (size_t i = 0; i < tc->nlabels; i++) {
        const struct prom_label *l = &tc->labels[i];
        if (!l->name || !l->value || !textparse_label_name_ok(l->name) ||
            !strncmp(l->name, "__", 2) ||
            strlen(l->name) >
                (s->cfg.parse.max_name_len ? s->cfg.parse.max_name_len : TEXTPARSE_MAX_NAME_LEN)) {
            snprintf(err, errlen, "target \"%s\": \"%s\" is not a label name for a target", tc->url,
                     l->name ? l->name : "");
            return -EINVAL;
        }
        if (label_get(tc->labels, i, l->name)) {
            snprintf(err, errlen, "target \"%s\": label \"%s\" is given twice", tc->url, l->name);
            return -EINVAL;
        }
    }
    return 0;
}

int scrape_target_add(struct scraper *s, const struct scrape_target_config *tc,
                      struct scrape_target **out, char *err, size_t errlen)
{
    if (s->closing)
        return -ESHUTDOWN;
    int rc = check_target(s, tc, err, errlen);
    if (rc)
        return rc;
    struct scrape_target *t = calloc(1, sizeof(*t));
    if (!t || !(t->url = strdup(tc->url)) || target_labels_copy(t, tc, err, errlen)) {
        if (t)
            free(t->url);
        free(t);
        return -ENOMEM;
    }
    t->s = s;
    t->interval_ms = tc->interval_ms ? tc->interval_ms : SCRAPE_INTERVAL_MS;
    t->timeout_ms = tc->timeout_ms ? tc->timeout_ms : t->interval_ms;
    snprintf(t->timeout_header, sizeof(t->timeout_header),
             "X-Prometheus-Scrape-Timeout-Seconds: %g", t->timeout_ms / 1000.0);
    uv_timer_init(s->loop, &t->timer);
    t->timer.data = t;
    /* Prometheus's offset: a phase in the interval fixed by the target's
     * identity, so that targets spread out and keep their phase. */
    uint64_t delay = 0;
    if (!s->cfg.no_jitter) {
        uint64_t h = labels_hash(t->labels, t->nlabels) ^ hash64(t->url, strlen(t->url), 0);
        uint64_t iv = t->interval_ms, offset = h % iv;
        uint64_t phase = (uint64_t)now_ms(s) % iv;
        delay = (offset + iv - phase) % iv;
    }
    t->due = uv_now(s->loop) + delay;
    uv_timer_start(&t->timer, on_tick, delay, 0);
    /* Appended, so that scrape_foreach_target lists in order of adding. */
    t->next = NULL;
    struct scrape_target **pp = &s->targets, *prev = NULL;
    while (*pp) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    t->prev = prev;
    *pp = t;
    s->ntargets++;
    if (out)
        *out = t;
    return 0;
}

void scrape_foreach_target(struct scraper *s,
                           void (*cb)(void *ud, const struct scrape_target_status *st), void *ud)
{
    for (struct scrape_target *t = s->targets; t; t = t->next) {
        if (t->removed)
            continue;
        struct scrape_target_status st = {
            .url = t->url,
            .labels = t->labels,
            .nlabels = t->nlabels,
            .interval_ms = t->interval_ms,
            .timeout_ms = t->timeout_ms,
            .health = t->health,
            .last_scrape_ms = t->last_t_ms,
            .last_duration_s = t->last_duration_s,
            .last_error = t->last_error,
            .last_samples = t->last_samples,
            .series = t->nseries,
            .scrapes_total = t->scrapes_total,
            .failures_total = t->failures_total,
            .sink_errors_total = t->sink_errors_total,
        };
        cb(ud, &st);
    }
}

/* ---- the scraper ---- */

int scraper_init(struct scraper *s, uv_loop_t *loop, struct fetcher *f,
                 const struct scrape_config *cfg, const struct scrape_sink *sink)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->fetcher = f;
    if (cfg)
        s->cfg = *cfg;
    else
        scrape_config_defaults(&s->cfg);
    if (!s->cfg.max_targets)
        s->cfg.max_targets = SCRAPE_MAX_TARGETS;
    if (!s->cfg.max_series)
        s->cfg.max_series = SCRAPE_MAX_SERIES;
    if (!s->cfg.max_body)
        s->cfg.max_body = SCRAPE_MAX_BODY;
    if (!s->cfg.clock_ms)
        s->cfg.clock_ms = real_clock_ms;
    s->sink = *sink;
    strtab_init(&s->strs);
    size_t max_labels = s->cfg.parse.max_labels ? s->cfg.parse.max_labels : TEXTPARSE_MAX_LABELS;
    size_t max_name =
        s->cfg.parse.max_name_len ? s->cfg.parse.max_name_len : TEXTPARSE_MAX_NAME_LEN;
    /* A sample's labels with the target's and their "exported_" copies; a
     * copy's name grows by one "exported_" per label it could clash with. */
    s->scratch_cap = max_labels + 2 * SCRAPE_MAX_TARGET_LABELS;
    s->names_cap =
        SCRAPE_MAX_TARGET_LABELS * (max_name + (sizeof(EXPORTED) - 1) * (s->scratch_cap + 1) + 1);
    s->scratch = calloc(s->scratch_cap, sizeof(*s->scratch));
    s->own_cap = max_labels;
    s->own = calloc(s->own_cap, sizeof(*s->own));
    s->names = malloc(s->names_cap);
    if (!s->scratch || !s->own || !s->names) {
        free(s->scratch);
        free(s->own);
        free(s->names);
        return -ENOMEM;
    }
    return 0;
}

void scraper_close(struct scraper *s, void (*on_closed)(struct scraper *s))
{
    s->closing = true;
    s->on_closed = on_closed;
    while (s->targets) {
        struct scrape_target *t = s->targets;
        if (t->inflight) {
            fetch_cancel(t->inflight);
            t->inflight = NULL;
        }
        t->removed = true;
        uv_timer_stop(&t->timer);
        target_unlink_close(t);
    }
    if (!s->nclosing)
        scraper_closed(s);
}
