/* scrape: Prometheus's scrape loop, in-process. A fake target (ebb's own
 * HTTP server on 127.0.0.1, serving bodies the test sets per path), real
 * libcurl through fetch, the scraper and a recording sink on one loop.
 * Checks: target labels and timestamps attached, honor_labels clashes
 * become exported_, the report series, staleness markers (a series gone, a
 * target down, a parse error, a target removed), timeouts and body limits,
 * and that the loop closes clean. */
#include "../unit/unit.h"

#include <errno.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "http/fetch.h"
#include "http/server.h"
#include "prom/scrape.h"

/* ---- the pure label rules ---- */

#define L(...) ((const struct prom_label[]){__VA_ARGS__})
#define N(...) (sizeof((const struct prom_label[]){__VA_ARGS__}) / sizeof(struct prom_label))

static void render_labels(const struct prom_label *l, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%s", i ? "," : "", l[i].name, l[i].value);
}

static void labels_apply(void **state)
{
    static const struct prom_label target[] = {{"instance", "h:1"}, {"job", "j"}};
    const struct {
        const char *rule;
        const struct prom_label *scraped;
        size_t n;
        const struct prom_label *target;
        size_t nt;
        const char *want;
    } rows[] = {
        {"target labels are added, sorted", L({"__name__", "m"}, {"a", "1"}), 2, target, 2,
         "__name__=m,a=1,instance=h:1,job=j"},
        {"a clash keeps the scraped value as exported_<name>", L({"__name__", "m"}, {"job", "s"}),
         2, target, 2, "__name__=m,exported_job=s,instance=h:1,job=j"},
        {"exported_ repeats while the name is taken",
         L({"__name__", "m"}, {"exported_job", "e"}, {"job", "s"}), 3, target, 2,
         "__name__=m,exported_exported_job=s,exported_job=e,instance=h:1,job=j"},
        {"a name taken by a target label is skipped too", L({"__name__", "m"}, {"job", "s"}), 2,
         L({"exported_job", "t"}, {"job", "j"}), 2,
         "__name__=m,exported_exported_job=s,exported_job=t,job=j"},
        {"two clashes", L({"__name__", "m"}, {"instance", "a"}, {"job", "b"}), 3, target, 2,
         "__name__=m,exported_instance=a,exported_job=b,instance=h:1,job=j"},
        {"an empty scraped value is no label and no clash",
         L({"__name__", "m"}, {"a", ""}, {"job", ""}), 3, target, 2,
         "__name__=m,instance=h:1,job=j"},
        {"an empty target value removes the label, keeping the scraped one as exported_",
         L({"__name__", "m"}, {"pod", "x"}), 2, L({"pod", ""}), 1, "__name__=m,exported_pod=x"},
        {"no target labels", L({"__name__", "m"}), 1, NULL, 0, "__name__=m"},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct prom_label out[16];
        char names[256], got[512];
        int n = scrape_labels_apply(rows[i].scraped, rows[i].n, rows[i].target, rows[i].nt, out, 16,
                                    names, sizeof(names));
        if (n < 0)
            fail_msg("%s: %d", rows[i].rule, n);
        render_labels(out, (size_t)n, got, sizeof(got));
        if (strcmp(got, rows[i].want))
            fail_msg("%s:\n got  %s\n want %s", rows[i].rule, got, rows[i].want);
    }
    struct prom_label out[2];
    char names[64];
    assert_int_equal(scrape_labels_apply(L({"__name__", "m"}, {"a", "1"}), 2, target, 2, out, 2,
                                         names, sizeof(names)),
                     -E2BIG);
}

/* ---- the fixture ---- */

#define MAX_RECORDS 4096
#define MAX_PAGES 8

struct record {
    char series[512]; /* name{k=v,...}, sorted, __name__ left out of the braces */
    int64_t t;
    double v;
};

struct page {
    const char *path;
    int status; /* 0: never answer */
    const char *body;
};

struct fixture {
    uv_loop_t loop;
    struct http_server srv;
    bool srv_down;
    int port;
    char base[64];
    struct page pages[MAX_PAGES];
    struct fetcher fetcher;
    struct scraper scraper;
    struct record *rec;
    size_t nrec;
    int ups;                            /* "up" samples recorded */
    struct scrape_target *remove_on_up; /* removed by the sink, from inside the scrape */
    bool scraper_closed, fetcher_closed;
};

static int sink_append(void *ud, const struct prom_label *labels, size_t n, int64_t t_ms, double v)
{
    struct fixture *f = ud;
    const char *name = NULL;
    /* The sink's contract: sorted, unique, __name__ among them. */
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(strcmp(labels[i - 1].name, labels[i].name) < 0);
        assert_true(*labels[i].value);
        if (!strcmp(labels[i].name, "__name__"))
            name = labels[i].value;
    }
    if (!name) {
        fail_msg("a sample without __name__");
        return -EINVAL;
    }
    assert_true(f->nrec < MAX_RECORDS);
    struct record *r = &f->rec[f->nrec++];
    size_t o = (size_t)snprintf(r->series, sizeof(r->series), "%s{", name);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(labels[i].name, "__name__"))
            continue;
        o += (size_t)snprintf(r->series + o, sizeof(r->series) - o, "%s%s=%s", first ? "" : ",",
                              labels[i].name, labels[i].value);
        first = false;
    }
    snprintf(r->series + o, sizeof(r->series) - o, "}");
    r->t = t_ms;
    r->v = v;
    if (!strcmp(name, "up")) {
        f->ups++;
        if (f->remove_on_up) {
            struct scrape_target *t = f->remove_on_up;
            f->remove_on_up = NULL;
            scrape_target_remove(t);
        }
    }
    return 0;
}

static void on_abort(struct http_req *req)
{
}

static void serve(struct http_req *req, void *ud)
{
    struct fixture *f = ud;
    for (size_t i = 0; i < MAX_PAGES && f->pages[i].path; i++) {
        if (!http_req_path_is(req, f->pages[i].path))
            continue;
        if (!f->pages[i].status) {
            req->on_abort = on_abort; /* the scraper gives up first */
            return;
        }
        const char *b = f->pages[i].body ? f->pages[i].body : "";
        http_respond(req, f->pages[i].status, "text/plain; version=0.0.4", NULL, b, strlen(b));
        return;
    }
    http_respond(req, 404, "text/plain", NULL, "no\n", 3);
}

static void set_page(struct fixture *f, const char *path, int status, const char *body)
{
    size_t i = 0;
    while (i < MAX_PAGES && f->pages[i].path && strcmp(f->pages[i].path, path))
        i++;
    assert_true(i < MAX_PAGES);
    f->pages[i] = (struct page){path, status, body};
}

static struct fixture *setup(const struct scrape_config *cfg_in)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->rec = calloc(MAX_RECORDS, sizeof(*f->rec));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    struct http_server_config hc;
    http_server_config_defaults(&hc);
    hc.host = "127.0.0.1";
    hc.port = 0;
    http_server_init(&f->srv, &f->loop, &hc, serve, f);
    assert_int_equal(http_server_listen(&f->srv), 0);
    struct sockaddr_in addr;
    int len = sizeof(addr);
    uv_tcp_getsockname(&f->srv.listener, (struct sockaddr *)&addr, &len);
    f->port = ntohs(addr.sin_port);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
    assert_int_equal(fetcher_init(&f->fetcher, &f->loop), 0);
    struct scrape_config cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        scrape_config_defaults(&cfg);
    cfg.no_jitter = true;
    struct scrape_sink sink = {sink_append, f};
    assert_int_equal(scraper_init(&f->scraper, &f->loop, &f->fetcher, &cfg, &sink), 0);
    return f;
}

static void on_srv_empty(struct http_server *s)
{
    http_server_release(s);
}

static void stop_server(struct fixture *f)
{
    http_server_close_all(&f->srv);
    http_server_shutdown(&f->srv, on_srv_empty);
    f->srv_down = true;
}

static void on_scraper_closed(struct scraper *s)
{
    struct fixture *f = (struct fixture *)((char *)s - offsetof(struct fixture, scraper));
    f->scraper_closed = true;
}

static void on_fetcher_closed(struct fetcher *fe)
{
    struct fixture *f = (struct fixture *)((char *)fe - offsetof(struct fixture, fetcher));
    f->fetcher_closed = true;
}

static void teardown(struct fixture *f)
{
    scraper_close(&f->scraper, on_scraper_closed);
    fetcher_close(&f->fetcher, on_fetcher_closed);
    if (!f->srv_down)
        stop_server(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(f->scraper_closed);
    assert_true(f->fetcher_closed);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f->rec);
    free(f);
}

static void on_wake(uv_timer_t *t)
{
}

/* Runs the loop for ms milliseconds. */
static void run_for(struct fixture *f, int ms)
{
    uv_timer_t wake;
    uv_timer_init(&f->loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 10);
    uv_update_time(&f->loop);
    uint64_t end = uv_now(&f->loop) + (uint64_t)ms;
    while (uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Runs the loop until f->ups reaches want; fails after max_ms. */
static void run_until_ups(struct fixture *f, int want, int max_ms)
{
    uv_timer_t wake;
    uv_timer_init(&f->loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 10);
    uv_update_time(&f->loop);
    uint64_t end = uv_now(&f->loop) + (uint64_t)max_ms;
    while (f->ups < want && uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (f->ups < want)
        fail_msg("%d up samples after %d ms, want %d", f->ups, max_ms, want);
}

static struct scrape_target *add(struct fixture *f, const char *path, unsigned interval,
                                 unsigned timeout, const struct prom_label *labels, size_t n)
{
    char url[128], err[256] = "";
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    struct scrape_target_config tc = {url, labels, n, interval, timeout};
    struct scrape_target *t = NULL;
    int rc = scrape_target_add(&f->scraper, &tc, &t, err, sizeof(err));
    if (rc)
        fail_msg("scrape_target_add: %d %s", rc, err);
    return t;
}

/* The last record of series (exact), or NULL; *count gets how many. */
static const struct record *find(struct fixture *f, const char *series, int *count)
{
    const struct record *last = NULL;
    int c = 0;
    for (size_t i = 0; i < f->nrec; i++) {
        if (!strcmp(f->rec[i].series, series)) {
            last = &f->rec[i];
            c++;
        }
    }
    if (count)
        *count = c;
    return last;
}

static const struct record *must(struct fixture *f, const char *series)
{
    const struct record *r = find(f, series, NULL);
    if (!r) {
        for (size_t i = 0; i < f->nrec; i++)
            fprintf(stderr, "  recorded %s %g @%lld\n", f->rec[i].series, f->rec[i].v,
                    (long long)f->rec[i].t);
        fail_msg("no sample of %s", series);
    }
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The series with the fixture's target labels job=test, instance and pod,
 * and extra pairs ("x=1,y=2"), in the sink's order. */
static const char *S(struct fixture *f, const char *name, const char *extra)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4], pairs[256], inst[64];
    const char *l[16];
    size_t n = 0;
    snprintf(inst, sizeof(inst), "instance=127.0.0.1:%d", f->port);
    l[n++] = inst;
    l[n++] = "job=test";
    l[n++] = "pod=p1";
    snprintf(pairs, sizeof(pairs), "%s", extra ? extra : "");
    for (char *p = pairs, *c; *p; p = c + 1) {
        c = strchr(p, ',');
        l[n++] = p;
        if (!c)
            break;
        *c = '\0';
    }
    qsort(l, n, sizeof(l[0]), cmp_str);
    size_t o = (size_t)snprintf(b, 512, "%s{", name);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, 512 - o, "%s%s", i ? "," : "", l[i]);
    snprintf(b + o, 512 - o, "}");
    return b;
}

static const struct prom_label target_labels[] = {{"job", "test"}, {"pod", "p1"}};

struct status_capture {
    struct scrape_target_status st;
    char err[256];
    int n;
};

static void capture(void *ud, const struct scrape_target_status *st)
{
    struct status_capture *c = ud;
    c->st = *st;
    snprintf(c->err, sizeof(c->err), "%s", st->last_error);
    c->st.last_error = c->err;
    c->n++;
}

static void status_of(struct fixture *f, struct status_capture *c)
{
    memset(c, 0, sizeof(*c));
    scrape_foreach_target(&f->scraper, capture, c);
}

/* ---- scrapes ---- */

static void labels_timestamps_and_report(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/metrics", 200,
             "# TYPE m gauge\nm{x=\"1\"} 5\nm{x=\"2\"} 6 123\njob_info{job=\"inner\"} 1\n");
    add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);

    const struct record *m1 = must(f, S(f, "m", "x=1"));
    assert_true(m1->v == 5);
    const struct record *m2 = must(f, S(f, "m", "x=2"));
    assert_true(m2->v == 6 && m2->t == 123); /* its own timestamp */
    const struct record *ji = must(f, S(f, "job_info", "exported_job=inner"));
    assert_true(ji->t == m1->t);
    const struct record *up = must(f, S(f, "up", NULL));
    assert_true(up->v == 1 && up->t == m1->t); /* the scrape's timestamp */
    const struct record *d = must(f, S(f, "scrape_duration_seconds", NULL));
    assert_true(d->v >= 0 && d->v < 1 && d->t == m1->t);
    assert_true(must(f, S(f, "scrape_samples_scraped", NULL))->v == 3);
    assert_true(must(f, S(f, "scrape_samples_post_metric_relabeling", NULL))->v == 3);
    assert_true(must(f, S(f, "scrape_series_added", NULL))->v == 3);
    assert_int_equal(f->nrec, 8);

    struct status_capture c;
    status_of(f, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.st.health, SCRAPE_UP);
    assert_string_equal(c.st.last_error, "");
    assert_int_equal(c.st.last_samples, 3);
    assert_int_equal(c.st.series, 3);
    assert_int_equal(c.st.interval_ms, 100);
    assert_int_equal(c.st.timeout_ms, 100); /* the interval by default */
    assert_true(c.st.last_scrape_ms == m1->t);
    assert_int_equal(c.st.nlabels, 3); /* instance from the URL */

    /* The next scrape: nothing new, nothing stale. */
    run_until_ups(f, 2, 3000);
    int count;
    find(f, S(f, "m", "x=1"), &count);
    assert_int_equal(count, 2);
    assert_true(must(f, S(f, "scrape_series_added", NULL))->v == 0);
    for (size_t i = 0; i < f->nrec; i++)
        assert_false(prom_is_stale_nan(f->rec[i].v));
    teardown(f);
}

/* A clock that says what the test scripted, one value a call. */
static int64_t script_clock[8];
static size_t script_calls;

static int64_t scripted_clock(void *ud)
{
    size_t i = script_calls++;
    return script_clock[i < 8 ? i : 7] + (i < 8 ? 0 : (int64_t)(i - 7) * 250);
}

/* Scrapes "a 1" every interval_ms with the scripted clock and checks the
 * first n "up" samples' times. */
static void up_times_are(const int64_t clock[8], unsigned interval_ms, const int64_t *want, int n)
{
    memcpy(script_clock, clock, sizeof(script_clock));
    script_calls = 0;
    struct scrape_config cfg;
    scrape_config_defaults(&cfg);
    cfg.clock_ms = scripted_clock;
    struct fixture *f = setup(&cfg);
    set_page(f, "/metrics", 200, "a 1\n");
    add(f, "/metrics", interval_ms, 0, target_labels, 2);
    run_until_ups(f, n, 8000);
    const char *up = S(f, "up", NULL);
    int k = 0;
    for (size_t i = 0; i < f->nrec && k < n; i++)
        if (!strcmp(f->rec[i].series, up))
            assert_int_equal(f->rec[i].t, want[k++]);
    assert_int_equal(k, n);
    teardown(f);
}

/* Prometheus's timestamp alignment: a scrape within 2 ms (inclusive) of one
 * interval after the last is stamped exactly there (+1, -1, +2 below); 3 ms
 * or more off, with the clock (+10, +3). */
static void timestamps_are_aligned_within_the_tolerance(void **state)
{
    static const int64_t clock[8] = {100000, 100251, 100499, 100760, 101010, 101262, 101513,
                                     101763};
    static const int64_t want[7] = {100000, 100250, 100500, 100760, 101010, 101260, 101513};
    up_times_are(clock, 250, want, 7);
}

/* At 1 s the tolerance is 1% of the interval: 10 ms either way (+9, -10,
 * +10 below) is stamped on the schedule; 11 ms off is not. */
static void timestamps_tolerance_is_a_hundredth_of_the_interval(void **state)
{
    static const int64_t clock[8] = {100000, 101009, 101990, 103000, 104011, 105011, 106011,
                                     107011};
    static const int64_t want[5] = {100000, 101000, 102000, 103000, 104011};
    up_times_are(clock, 1000, want, 5);
}

/* Many series, a third of them gone and back: a marker for each one gone
 * and none for the others, whatever the remembered series' table had to
 * move to fill the holes; the ones back count as added. */
static void staleness_of_many_series(void **state)
{
    enum { N = 500 };
    static char all[N * 24], some[N * 24];
    size_t oa = 0, os = 0;
    for (int k = 0; k < N; k++) {
        oa += (size_t)snprintf(all + oa, sizeof(all) - oa, "m{k=\"%d\"} 1\n", k);
        if (k % 3)
            os += (size_t)snprintf(some + os, sizeof(some) - os, "m{k=\"%d\"} 1\n", k);
    }
    struct fixture *f = setup(NULL);
    set_page(f, "/metrics", 200, all);
    add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);
    set_page(f, "/metrics", 200, some);
    run_until_ups(f, 2, 3000);
    int64_t t2 = must(f, S(f, "up", NULL))->t;
    assert_true(must(f, S(f, "scrape_series_added", NULL))->v == 0);
    char extra[32];
    for (int k = 0; k < N; k++) {
        snprintf(extra, sizeof(extra), "k=%d", k);
        int count;
        const struct record *r = must(f, S(f, "m", extra));
        find(f, S(f, "m", extra), &count);
        assert_int_equal(count, 2);
        assert_int_equal(prom_is_stale_nan(r->v), k % 3 == 0);
        assert_int_equal(r->t, t2);
    }
    struct status_capture c;
    status_of(f, &c);
    assert_int_equal(c.st.series, N - (N + 2) / 3);
    set_page(f, "/metrics", 200, all);
    run_until_ups(f, 3, 3000);
    assert_true(must(f, S(f, "scrape_series_added", NULL))->v == (N + 2) / 3);
    for (int k = 0; k < N; k++) {
        snprintf(extra, sizeof(extra), "k=%d", k);
        assert_false(prom_is_stale_nan(must(f, S(f, "m", extra))->v));
    }
    status_of(f, &c);
    assert_int_equal(c.st.series, N);
    teardown(f);
}

static void staleness(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/metrics", 200, "a 1\nb 2\nc 3 1000\nj{job=\"inner\",e=\"\"} 4\n");
    add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);

    /* b is gone: a marker at the time of the scrape that missed it. c has
     * its own timestamp, so none for it (as in Prometheus). j is the same
     * series without its empty label, so it goes on. */
    set_page(f, "/metrics", 200, "a 1\nj{job=\"inner\"} 4\n");
    run_until_ups(f, 2, 3000);
    assert_false(prom_is_stale_nan(must(f, S(f, "j", "exported_job=inner"))->v));
    const struct record *b = must(f, S(f, "b", NULL));
    assert_true(prom_is_stale_nan(b->v));
    const struct record *up = must(f, S(f, "up", NULL));
    assert_true(b->t == up->t);
    assert_false(prom_is_stale_nan(must(f, S(f, "c", NULL))->v));
    assert_false(prom_is_stale_nan(must(f, S(f, "a", NULL))->v));

    /* HTTP 500: up 0, markers for all the target's series. */
    set_page(f, "/metrics", 500, "oops\n");
    run_until_ups(f, 3, 3000);
    up = must(f, S(f, "up", NULL));
    assert_true(up->v == 0);
    const struct record *a = must(f, S(f, "a", NULL));
    assert_true(prom_is_stale_nan(a->v) && a->t == up->t);
    /* The marker carries the target's labels, the clash renamed as stored. */
    const struct record *j = must(f, S(f, "j", "exported_job=inner"));
    assert_true(prom_is_stale_nan(j->v) && j->t == up->t);
    assert_true(must(f, S(f, "scrape_samples_scraped", NULL))->v == 0);
    struct status_capture c;
    status_of(f, &c);
    assert_int_equal(c.st.health, SCRAPE_DOWN);
    assert_string_equal(c.st.last_error, "server returned HTTP status 500 Internal Server Error");
    assert_int_equal(c.st.series, 0);

    /* Back: a is new again. */
    set_page(f, "/metrics", 200, "a 1\n");
    run_until_ups(f, 4, 3000);
    assert_true(must(f, S(f, "up", NULL))->v == 1);
    assert_true(must(f, S(f, "a", NULL))->v == 1);
    assert_true(must(f, S(f, "scrape_series_added", NULL))->v == 1);
    teardown(f);
}

static void parse_error_fails_the_scrape(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/metrics", 200, "a 1\n");
    add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);
    size_t before = f->nrec;

    set_page(f, "/metrics", 200, "a 2\nb{ 2\n");
    run_until_ups(f, 2, 3000);
    const struct record *up = must(f, S(f, "up", NULL));
    assert_true(up->v == 0);
    /* Nothing of the body is appended: a gets its marker, not 2. */
    const struct record *a = must(f, S(f, "a", NULL));
    assert_true(prom_is_stale_nan(a->v) && a->t == up->t);
    int count;
    find(f, S(f, "a", NULL), &count);
    assert_int_equal(count, 2);
    assert_true(must(f, S(f, "scrape_samples_scraped", NULL))->v == 1); /* read before the error */
    assert_int_equal(f->nrec, before + 6);
    struct status_capture c;
    status_of(f, &c);
    assert_string_equal(c.st.last_error, "line 2: expected a label name, got \"2\"");
    teardown(f);
}

static void target_down(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/metrics", 200, "a 1\nb{x=\"y\"} 2\n");
    add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);

    stop_server(f); /* connection refused from now on */
    run_until_ups(f, 2, 3000);
    const struct record *up = must(f, S(f, "up", NULL));
    assert_true(up->v == 0);
    assert_true(prom_is_stale_nan(must(f, S(f, "a", NULL))->v));
    assert_true(prom_is_stale_nan(must(f, S(f, "b", "x=y"))->v));
    struct status_capture c;
    status_of(f, &c);
    assert_int_equal(c.st.health, SCRAPE_DOWN);
    assert_non_null(strstr(c.st.last_error, "connection refused"));

    /* Down stays down, with no more markers. */
    size_t n = f->nrec;
    run_until_ups(f, 3, 3000);
    assert_int_equal(f->nrec, n + 5);
    teardown(f);
}

static void slow_target_times_out(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/slow", 0, NULL);
    add(f, "/slow", 300, 100, target_labels, 2);
    run_until_ups(f, 1, 3000);
    assert_true(must(f, S(f, "up", NULL))->v == 0);
    double d = must(f, S(f, "scrape_duration_seconds", NULL))->v;
    assert_true(d >= 0.09 && d < 0.3);
    struct status_capture c;
    status_of(f, &c);
    assert_non_null(strstr(c.st.last_error, "timed out"));
    assert_int_equal(c.st.timeout_ms, 100);
    teardown(f);
}

static void huge_body_is_an_error(void **state)
{
    struct scrape_config cfg;
    scrape_config_defaults(&cfg);
    cfg.max_body = 1024;
    struct fixture *f = setup(&cfg);
    static char big[5000];
    for (size_t i = 0; i + 11 < sizeof(big); i += 11)
        memcpy(big + i, "a_metric 1\n", 11);
    set_page(f, "/metrics", 200, big);
    add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);
    assert_true(must(f, S(f, "up", NULL))->v == 0);
    struct status_capture c;
    status_of(f, &c);
    assert_non_null(strstr(c.st.last_error, "response body over 1024 bytes"));
    teardown(f);
}

static void sample_limit(void **state)
{
    struct scrape_config cfg;
    scrape_config_defaults(&cfg);
    cfg.sample_limit = 2;
    struct fixture *f = setup(&cfg);
    set_page(f, "/metrics", 200, "a 1\nb 2\nc 3\n");
    add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);
    assert_true(must(f, S(f, "up", NULL))->v == 0);
    assert_true(must(f, S(f, "scrape_samples_scraped", NULL))->v == 3); /* all, as Prometheus */
    assert_null(find(f, S(f, "a", NULL), NULL));
    struct status_capture c;
    status_of(f, &c);
    assert_string_equal(c.st.last_error, "sample limit exceeded: 3 samples, the limit is 2");
    teardown(f);
}

static void removal_ends_every_series(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/a", 200, "a 1\nb 2\n");
    set_page(f, "/b", 200, "z 1\n");
    struct scrape_target *ta = add(f, "/a", 100, 0, target_labels, 2);
    static const struct prom_label other[] = {{"instance", "b"}, {"job", "other"}};
    add(f, "/b", 100, 0, other, 2);
    run_until_ups(f, 2, 3000);
    int64_t last = must(f, S(f, "up", NULL))->t;

    size_t n = f->nrec;
    scrape_target_remove(ta);
    /* At once: a, b and the five report series end, after the last scrape. */
    assert_int_equal(f->nrec, n + 7);
    for (size_t i = n; i < f->nrec; i++) {
        assert_true(prom_is_stale_nan(f->rec[i].v));
        assert_true(f->rec[i].t > last);
        assert_non_null(strstr(f->rec[i].series, "job=test"));
    }
    must(f, S(f, "scrape_series_added", NULL));
    assert_true(prom_is_stale_nan(must(f, S(f, "up", NULL))->v));

    /* The other target goes on; the removed one writes nothing more. */
    int count_before;
    find(f, S(f, "up", NULL), &count_before);
    run_until_ups(f, f->ups + 2, 3000);
    int count_after;
    find(f, S(f, "up", NULL), &count_after);
    assert_int_equal(count_after, count_before);
    struct status_capture c;
    status_of(f, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.st.url + strlen(f->base), "/b");
    teardown(f);
}

static void removed_from_inside_its_scrape(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/metrics", 200, "a 1\n");
    f->remove_on_up = add(f, "/metrics", 100, 0, target_labels, 2);
    run_until_ups(f, 1, 3000);
    /* The scrape finishes its report, then the removal ends everything:
     * a and the five report series, after the scrape. */
    assert_int_equal(f->nrec, 1 + 5 + 6);
    int64_t t = f->rec[0].t;
    for (size_t i = 6; i < f->nrec; i++)
        assert_true(prom_is_stale_nan(f->rec[i].v) && f->rec[i].t > t);
    struct status_capture c;
    status_of(f, &c);
    assert_int_equal(c.n, 0);
    run_for(f, 250); /* no more scrapes */
    assert_int_equal(f->nrec, 12);
    teardown(f);
}

static void remove_while_in_flight(void **state)
{
    struct fixture *f = setup(NULL);
    set_page(f, "/slow", 0, NULL);
    struct scrape_target *t = add(f, "/slow", 1000, 0, target_labels, 2);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the first scrape starts */
    scrape_target_remove(t);         /* never scraped: nothing to end */
    assert_int_equal(f->nrec, 0);
    teardown(f);
}

static bool engine_stopped;

static void on_engine_stopped(struct engine *e)
{
    engine_release(e);
    engine_stopped = true;
}

/* ebb's own simulated vLLM engine as the target: its whole /metrics body
 * parses, and its series arrive with the target's labels. */
static void scrapes_an_ebb_engine(void **state)
{
    struct fixture *f = setup(NULL);
    struct engine *e = calloc(1, sizeof(*e));
    struct engine_config ec;
    engine_config_defaults(&ec);
    ec.host = "127.0.0.1";
    ec.port = 0;
    char err[256];
    assert_int_equal(engine_init(e, &f->loop, &ec, err, sizeof(err)), 0);
    assert_int_equal(engine_start(e, NULL), 0);
    run_for(f, 50);
    struct sockaddr_in addr;
    int len = sizeof(addr);
    assert_int_equal(uv_tcp_getsockname(&e->http.listener, (struct sockaddr *)&addr, &len), 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", ntohs(addr.sin_port));
    static const struct prom_label labels[] = {{"job", "vllm"}, {"pod", "vllm-0"}};
    struct scrape_target_config tc = {url, labels, 2, 200, 0};
    assert_int_equal(scrape_target_add(&f->scraper, &tc, NULL, err, sizeof(err)), 0);
    run_until_ups(f, 1, 5000);

    struct status_capture c;
    status_of(f, &c);
    assert_string_equal(c.st.last_error, "");
    assert_int_equal(c.st.health, SCRAPE_UP);
    assert_true(c.st.last_samples > 100);
    char want[256];
    snprintf(want, sizeof(want),
             "vllm:num_requests_waiting{engine=0,instance=127.0.0.1:%d,job=vllm,"
             "model_name=meta-llama/Llama-3.1-8B-Instruct,pod=vllm-0}",
             ntohs(addr.sin_port));
    assert_true(must(f, want)->v == 0);

    engine_stopped = false;
    engine_stop(e, on_engine_stopped);
    teardown(f);
    assert_true(engine_stopped);
    free(e);
}

static void add_checks_its_arguments(void **state)
{
    struct scrape_config cfg;
    scrape_config_defaults(&cfg);
    cfg.max_targets = 1;
    struct fixture *f = setup(&cfg);
    const struct {
        const char *rule;
        struct scrape_target_config tc;
        int rc;
        const char *err;
    } rows[] = {
        {"the URL must be http(s)",
         {"ftp://x/", NULL, 0, 0, 0},
         -EINVAL,
         "target url \"ftp://x/\" is not http:// or https://"},
        {"the timeout may not pass the interval",
         {"http://x/", NULL, 0, 100, 200},
         -EINVAL,
         "target \"http://x/\": scrape timeout 200 ms is greater than the interval 100 ms"},
        {"the default interval is 1 s",
         {"http://x/", NULL, 0, 0, 1001},
         -EINVAL,
         "target \"http://x/\": scrape timeout 1001 ms is greater than the interval 1000 ms"},
        {"names starting __ are reserved",
         {"http://x/", L({"__a", "1"}), 1, 0, 0},
         -EINVAL,
         "target \"http://x/\": \"__a\" is not a label name for a target"},
        {"label names must be valid",
         {"http://x/", L({"a-b", "1"}), 1, 0, 0},
         -EINVAL,
         "target \"http://x/\": \"a-b\" is not a label name for a target"},
        {"a label once",
         {"http://x/", L({"a", "1"}, {"a", "2"}), 2, 0, 0},
         -EINVAL,
         "target \"http://x/\": label \"a\" is given twice"},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        char err[256] = "";
        int rc = scrape_target_add(&f->scraper, &rows[i].tc, NULL, err, sizeof(err));
        if (rc != rows[i].rc || strcmp(err, rows[i].err))
            fail_msg("%s: %d \"%s\"", rows[i].rule, rc, err);
    }
    struct scrape_target_config ok = {"http://u:p@127.0.0.1:9/m", NULL, 0, 60000, 0};
    char err[256] = "";
    assert_int_equal(scrape_target_add(&f->scraper, &ok, NULL, err, sizeof(err)), 0);
    struct status_capture c;
    status_of(f, &c);
    assert_string_equal(c.st.labels[0].name, "instance");
    assert_string_equal(c.st.labels[0].value, "127.0.0.1:9"); /* no user info */
    assert_int_equal(scrape_target_add(&f->scraper, &ok, NULL, err, sizeof(err)), -ENOSPC);
    assert_string_equal(err, "too many targets: at most 1");
    teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(labels_apply),
        cmocka_unit_test(labels_timestamps_and_report),
        cmocka_unit_test(staleness),
        cmocka_unit_test(timestamps_are_aligned_within_the_tolerance),
        cmocka_unit_test(timestamps_tolerance_is_a_hundredth_of_the_interval),
        cmocka_unit_test(staleness_of_many_series),
        cmocka_unit_test(parse_error_fails_the_scrape),
        cmocka_unit_test(target_down),
        cmocka_unit_test(slow_target_times_out),
        cmocka_unit_test(huge_body_is_an_error),
        cmocka_unit_test(sample_limit),
        cmocka_unit_test(removal_ends_every_series),
        cmocka_unit_test(removed_from_inside_its_scrape),
        cmocka_unit_test(remove_while_in_flight),
        cmocka_unit_test(scrapes_an_ebb_engine),
        cmocka_unit_test(add_checks_its_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
