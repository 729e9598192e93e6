/* promql_file: ebb's /api/v1 answers over data read from a file, for the
 * differential test against Prometheus (differential.py) and the benchmark
 * (bench/bench-promql).
 *
 *   promql_file DATA < REQUESTS
 *   promql_file --bench N DATA < QUERIES
 *
 * DATA holds samples in the OpenMetrics text promtool backfills from, one
 * per line: name{l="v",...} value unix_seconds ("#" lines skipped).
 * Each request line is "PATH<TAB>QUERY-STRING"; each answer line is
 * "STATUS<TAB>BODY". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promql/api.h"

#define MAX_LABELS 16

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

static int atoi_nonneg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 1 || v > 1000000 ? -1 : (int)v;
}

static double mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Each QUERIES line is "UNIX-SECONDS<TAB>QUERY": evaluated n times as an
 * instant query, then its answer's JSON written as the API would; prints
 * "QUERY<TAB>EVALUATION-US<TAB>WITH-JSON-US<TAB>SERIES", medians. */
static int bench(struct store *st, int n)
{
    char line[8192];
    double *t = calloc((size_t)n * 2, sizeof(*t)), *tj = t + n;
    if (!t)
        return 1;
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        int64_t at = (int64_t)(strtod(line, NULL) * 1000);
        size_t nseries = 0;
        for (int i = 0; i < n; i++) {
            struct promql_result r;
            struct buf out = BUF_INIT(1 << 26);
            char err[256];
            double t0 = mono_us();
            int rc = promql_query_instant(st, tab + 1, at, &r, err, sizeof(err));
            t[i] = mono_us() - t0;
            if (!rc)
                rc = promql_result_json(&r, &out);
            tj[i] = mono_us() - t0;
            nseries = r.nseries;
            promql_result_release(&r);
            buf_release(&out);
            if (rc) {
                fprintf(stderr, "%s: %s\n", tab + 1, err);
                free(t);
                return 1;
            }
        }
        qsort(t, (size_t)n, sizeof(*t), cmp_double);
        qsort(tj, (size_t)n, sizeof(*tj), cmp_double);
        printf("%s\t%.1f\t%.1f\t%zu\n", tab + 1, t[n / 2], tj[n / 2], nseries);
    }
    free(t);
    return 0;
}

/* Splits line in place into labels; returns the number, or -1. */
static int parse_sample(char *line, struct prom_label *l, double *v, double *ts)
{
    char *br = strchr(line, '{'), *end = br ? strchr(br, '}') : NULL;
    if (!br || !end)
        return -1;
    *br = 0;
    *end = 0;
    int n = 0;
    l[n++] = (struct prom_label){"__name__", line};
    for (char *p = br + 1; *p && n < MAX_LABELS;) {
        char *eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            return -1;
        *eq = 0;
        char *val = eq + 2, *q = strchr(val, '"');
        if (!q)
            return -1;
        *q = 0;
        l[n++] = (struct prom_label){p, val};
        p = q + 1;
        if (*p == ',')
            p++;
    }
    if (sscanf(end + 1, "%lf %lf", v, ts) != 2)
        return -1;
    qsort(l, (size_t)n, sizeof(*l), cmp_label);
    return n;
}

int main(int argc, char **argv)
{
    int iterations = 0;
    if (argc == 4 && !strcmp(argv[1], "--bench")) {
        iterations = atoi_nonneg(argv[2]);
        argv += 2;
        argc -= 2;
    }
    if (argc != 2 || iterations < 0) {
        fprintf(stderr, "usage: promql_file [--bench N] DATA < REQUESTS\n");
        return 2;
    }
    struct store st;
    struct store_limits lim;
    store_limits_defaults(&lim);
    lim.max_samples_per_series = 100000;
    store_init(&st, &lim);
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char line[8192];
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        struct prom_label l[MAX_LABELS];
        double v, ts;
        int n = parse_sample(line, l, &v, &ts);
        if (n < 0 || store_append(&st, l, (size_t)n, (int64_t)(ts * 1000), v) != 0) {
            fprintf(stderr, "%s: cannot load a line\n", argv[1]);
            rc = 1;
        }
    }
    fclose(f);
    if (iterations > 0) {
        rc |= bench(&st, iterations);
        store_release(&st);
        return rc;
    }
    struct promql_api api;
    promql_api_init(&api, &st, NULL);
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        struct promql_api_request r = {"GET", line, strlen(line), tab + 1, strlen(tab + 1), "", 0, NULL};
        struct buf out = BUF_INIT(1 << 26);
        int status = 0;
        if (promql_api_answer(&api, &r, &out, &status) != 0)
            status = 404;
        printf("%d\t%s\n", status, out.data ? out.data : "");
        buf_release(&out);
    }
    store_release(&st);
    return rc;
}
