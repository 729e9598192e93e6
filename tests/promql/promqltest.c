/* promqltest: runs test files in Prometheus's own format
 * (promql/promqltest/testdata/ files; promql/test.go in 2.42) against
 * ebb's store and PromQL engine.
 *
 *   load <interval>                 series to load, one per line:
 *     <metric>{<labels>} <values>   values in series notation: "1 2 3",
 *                                   "0+10x100" (101 values), "5-1x4", "_"
 *                                   (no sample), "_x3", "stale", "Inf", "NaN"
 *   clear                           empties the store
 *   eval instant at <time> <query>  expected samples follow, one per line
 *   eval_ordered instant at ...     the same, in this order
 *   eval_fail instant at ...        the query must fail
 *   eval range from <t> to <t> step <d> <query>
 *                                   expected series in series notation
 *
 * Times are durations from the epoch ("50m", "1h5m") or seconds. Values
 * compare as Prometheus's test does (relative 1e-6, NaN equals NaN).
 * Usage: promqltest FILE...; exit status 1 when a case fails. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/lex.h"
#include "promql/promql.h"
#include "promql/store.h"

#define MAX_LABELS 32
#define MAX_VALUES 20000

struct series_line {
    char strings[4096];
    size_t used;
    struct prom_label labels[MAX_LABELS];
    size_t nlabels;
    size_t nvalues;
    double scalar;                  /* an expected scalar: the line is one number */
    int is_scalar;
    double values[MAX_VALUES];
    unsigned char kind[MAX_VALUES]; /* 0 value, 1 none ("_") */
};

struct runner {
    const char *file;
    int line;
    struct store st;
    int cases, failed;
};

static char *keep(struct series_line *s, const char *p, size_t n)
{
    if (s->used + n + 1 > sizeof(s->strings))
        return NULL;
    char *o = s->strings + s->used;
    memcpy(o, p, n);
    o[n] = 0;
    s->used += n + 1;
    return o;
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* One value of series notation; *p advances. 0, or -EINVAL. */
static int parse_item(struct series_line *s, const char **p)
{
    const char *q = *p;
    size_t n = 0;
    while (q[n] && !isspace((unsigned char)q[n]))
        n++;
    char tok[128];
    if (n >= sizeof(tok))
        return -EINVAL;
    memcpy(tok, q, n);
    tok[n] = 0;
    *p = q + n;
    size_t count = 1;
    double start = 0, step = 0;
    int none = 0;
    char *x = strrchr(tok, 'x');
    if (x && x != tok && strcmp(tok, "NaN") && x[1] && isdigit((unsigned char)x[1])) {
        *x = 0;
        count = strtoul(x + 1, NULL, 10);
        if (!strcmp(tok, "_")) {
            none = 1;
        } else {
            char *sign = strpbrk(tok + 1, "+-");
            while (sign && (sign[-1] == 'e' || sign[-1] == 'E'))
                sign = strpbrk(sign + 1, "+-");
            if (!sign)
                return -EINVAL;
            step = strtod(sign, NULL);
            *sign = 0;
            start = strtod(tok, NULL);
            count++;
        }
    } else if (!strcmp(tok, "_")) {
        none = 1;
    } else if (!strcmp(tok, "stale")) {
        start = prom_stale_nan();
    } else {
        char *end;
        start = strtod(tok, &end);
        if (*end)
            return -EINVAL;
    }
    for (size_t i = 0; i < count; i++) {
        if (s->nvalues == MAX_VALUES)
            return -EINVAL;
        s->kind[s->nvalues] = (unsigned char)none;
        s->values[s->nvalues++] = i ? start + step * (double)i : start;
    }
    return 0;
}

/* "metric{a="b"} values..." or, when scalar_ok, a bare number. */
static int parse_series(const char *p, struct series_line *s, int scalar_ok)
{
    memset(s, 0, offsetof(struct series_line, values));
    p = skip_ws(p);
    if (scalar_ok && (isdigit((unsigned char)*p) || *p == '-' || *p == '+' || !strncmp(p, "NaN", 3) ||
                      !strncmp(p, "Inf", 3))) {
        char *end;
        s->scalar = strtod(p, &end);
        s->is_scalar = 1;
        return *skip_ws(end) ? -EINVAL : 0;
    }
    size_t n = 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':')
        n++;
    if (n) {
        s->labels[s->nlabels++] = (struct prom_label){"__name__", keep(s, p, n)};
        p += n;
    }
    if (*p == '{') {
        p++;
        for (;;) {
            p = skip_ws(p);
            if (*p == '}')
                break;
            n = 0;
            while (isalnum((unsigned char)p[n]) || p[n] == '_')
                n++;
            if (!n || s->nlabels == MAX_LABELS)
                return -EINVAL;
            const char *name = keep(s, p, n);
            p = skip_ws(p + n);
            if (*p++ != '=')
                return -EINVAL;
            p = skip_ws(p);
            if (*p != '"')
                return -EINVAL;
            size_t len = 1;
            while (p[len] && p[len] != '"')
                len += p[len] == '\\' && p[len + 1] ? 2 : 1;
            if (p[len] != '"')
                return -EINVAL;
            char val[1024];
            size_t vl;
            if (len + 1 > sizeof(val) || pq_unquote(p, len + 1, val, &vl) != 0)
                return -EINVAL;
            s->labels[s->nlabels++] = (struct prom_label){name, keep(s, val, vl)};
            p = skip_ws(p + len + 1);
            if (*p == ',')
                p++;
        }
        p++;
    }
    qsort(s->labels, s->nlabels, sizeof(s->labels[0]), cmp_label);
    for (size_t i = 0; i < s->nlabels; i++)
        if (!s->labels[i].name || !s->labels[i].value)
            return -EINVAL;
    for (p = skip_ws(p); *p; p = skip_ws(p))
        if (parse_item(s, &p) != 0)
            return -EINVAL;
    return 0;
}

static int parse_time(const char *s, size_t n, int64_t *ms)
{
    char tmp[64], *end;
    if (pq_parse_duration(s, n, ms) == 0)
        return 0;
    if (n >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double v = strtod(tmp, &end);
    if (*end || end == tmp)
        return -EINVAL;
    *ms = (int64_t)llround(v * 1000);
    return 0;
}

static int almost_equal(double a, double b)
{
    const double eps = 1e-6, min_normal = 2.2250738585072014e-308;
    if (isnan(a) && isnan(b))
        return 1;
    if (a == b)
        return 1;
    double diff = fabs(a - b);
    if (a == 0 || b == 0 || diff < min_normal)
        return diff < eps * min_normal;
    return diff / (fabs(a) + fabs(b)) < eps;
}

__attribute__((format(printf, 2, 3))) static void fail(struct runner *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", r->file, r->line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    r->failed++;
}

static void print_labels(char *out, size_t n, const struct prom_label *l, size_t nl)
{
    size_t o = 0;
    o += (size_t)snprintf(out + o, n - o, "{");
    for (size_t i = 0; i < nl && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s=\"%s\"", i ? ", " : "", l[i].name, l[i].value);
    if (o < n)
        snprintf(out + o, n - o, "}");
}

static int labels_eq(const struct prom_label *a, size_t na, const struct prom_label *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value))
            return 0;
    return 1;
}

static struct series_line *expected_alloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(struct series_line));
}

/* Compares a result with the expected lines. */
static void check(struct runner *r, const char *query, const struct promql_result *res,
                  struct series_line *exp, size_t nexp, int ordered, int range)
{
    char lb[1024];
    if (res->type == PROMQL_SCALAR) {
        if (nexp != 1 || !exp[0].is_scalar)
            fail(r, "%s: got scalar %g, expected %zu samples", query, res->scalar, nexp);
        else if (!almost_equal(res->scalar, exp[0].scalar))
            fail(r, "%s: got scalar %.17g, expected %.17g", query, res->scalar, exp[0].scalar);
        return;
    }
    if (res->nseries != nexp) {
        fail(r, "%s: got %zu series, expected %zu", query, res->nseries, nexp);
        for (size_t i = 0; i < res->nseries; i++) {
            print_labels(lb, sizeof(lb), res->series[i].labels, res->series[i].nlabels);
            fprintf(stderr, "    got %s %.17g\n", lb, res->series[i].points[0].v);
        }
        return;
    }
    for (size_t i = 0; i < nexp; i++) {
        size_t j = ordered ? i : 0;
        if (!ordered)
            while (j < res->nseries && !labels_eq(res->series[j].labels, res->series[j].nlabels,
                                                  exp[i].labels, exp[i].nlabels))
                j++;
        print_labels(lb, sizeof(lb), exp[i].labels, exp[i].nlabels);
        if (j == res->nseries || !labels_eq(res->series[j].labels, res->series[j].nlabels,
                                            exp[i].labels, exp[i].nlabels)) {
            fail(r, "%s: expected %s%s, not in the result", query, lb, ordered ? " here" : "");
            continue;
        }
        const struct promql_series *s = &res->series[j];
        if (!range && res->type != PROMQL_MATRIX) {
            if (exp[i].nvalues != 1 || !almost_equal(s->points[0].v, exp[i].values[0]))
                fail(r, "%s: %s: got %.17g, expected %.17g", query, lb, s->points[0].v,
                     exp[i].nvalues ? exp[i].values[0] : (double)NAN);
            continue;
        }
        size_t k = 0, bad = 0;
        for (size_t v = 0; v < exp[i].nvalues; v++) {
            if (exp[i].kind[v])
                continue;
            if (k >= s->npoints || !almost_equal(s->points[k].v, exp[i].values[v]))
                bad = 1;
            k++;
        }
        if (bad || k != s->npoints)
            fail(r, "%s: %s: the points differ (got %zu, expected %zu)", query, lb, s->npoints, k);
    }
}

struct eval {
    int kind; /* 0 eval, 1 eval_ordered, 2 eval_fail */
    int range;
    int64_t start, end, step;
    char query[4096];
    struct series_line *exp;
    size_t nexp, cap;
    int line;
};

static void run_eval(struct runner *r, struct eval *e)
{
    struct promql_result res;
    char err[512];
    int saved = r->line;
    r->line = e->line;
    r->cases++;
    int rc = e->range ? promql_query_range(&r->st, e->query, e->start, e->end, e->step, &res, err,
                                           sizeof(err))
                      : promql_query_instant(&r->st, e->query, e->start, &res, err, sizeof(err));
    if (e->kind == 2) {
        if (!rc)
            fail(r, "%s: expected an error, got a result", e->query);
    } else if (rc) {
        fail(r, "%s: unexpected error: %s", e->query, err);
    } else {
        check(r, e->query, &res, e->exp, e->nexp, e->kind == 1, e->range);
    }
    promql_result_release(&res);
    r->line = saved;
}

/* "eval[_ordered|_fail] instant at <time> <query>" or "... range from ...". */
static int parse_eval(struct runner *r, const char *line, struct eval *e)
{
    memset(e, 0, sizeof(*e));
    e->line = r->line;
    const char *p = line + 4;
    if (!strncmp(p, "_ordered", 8)) {
        e->kind = 1;
        p += 8;
    } else if (!strncmp(p, "_fail", 5)) {
        e->kind = 2;
        p += 5;
    }
    p = skip_ws(p);
    const char *words[4];
    size_t lens[4];
    int nw = 0;
    int64_t *dst[3] = {&e->start, &e->end, &e->step};
    if (!strncmp(p, "instant at ", 11)) {
        p = skip_ws(p + 11);
        nw = 1;
    } else if (!strncmp(p, "range from ", 11)) {
        e->range = 1;
        p = skip_ws(p + 11);
        nw = 3;
    } else {
        return -EINVAL;
    }
    for (int i = 0; i < nw; i++) {
        words[i] = p;
        lens[i] = strcspn(p, " \t");
        if (parse_time(words[i], lens[i], dst[i]) != 0)
            return -EINVAL;
        p = skip_ws(p + lens[i]);
        if (e->range && i == 0 && !strncmp(p, "to ", 3))
            p = skip_ws(p + 3);
        else if (e->range && i == 1 && !strncmp(p, "step ", 5))
            p = skip_ws(p + 5);
        else if (e->range && i < 2)
            return -EINVAL;
    }
    snprintf(e->query, sizeof(e->query), "%s", p);
    return 0;
}

static void load_series(struct runner *r, const char *line, int64_t interval)
{
    static struct series_line s;
    if (parse_series(line, &s, 0) != 0) {
        fail(r, "cannot read the series line \"%s\"", line);
        return;
    }
    for (size_t i = 0; i < s.nvalues; i++) {
        if (s.kind[i])
            continue;
        int err = store_append(&r->st, s.labels, s.nlabels, (int64_t)i * interval, s.values[i]);
        if (err) {
            fail(r, "store_append: %s", strerror(-err));
            return;
        }
    }
}

static void add_expected(struct runner *r, struct eval *e, const char *line)
{
    if (e->nexp == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        struct series_line *n = expected_alloc(cap);
        if (!n) {
            fail(r, "out of memory");
            return;
        }
        if (e->nexp)
            memcpy(n, e->exp, e->nexp * sizeof(*n));
        free(e->exp);
        e->exp = n;
        e->cap = cap;
    }
    if (parse_series(line, &e->exp[e->nexp], !e->range) != 0) {
        fail(r, "cannot read the expected line \"%s\"", line);
        return;
    }
    e->nexp++;
}

static void new_store(struct runner *r)
{
    struct store_limits l;
    store_limits_defaults(&l);
    l.max_samples_per_series = 100000;
    store_init(&r->st, &l);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    struct runner r = {.file = path};
    new_store(&r);
    char line[8192];
    enum { NONE, LOAD, EVAL } state = NONE;
    int64_t interval = 0;
    struct eval e = {0};
    for (;;) {
        char *got = fgets(line, sizeof(line), f);
        if (got) {
            r.line++;
            line[strcspn(line, "\r\n")] = 0;
        }
        const char *p = got ? skip_ws(line) : "";
        int indented = got && p != line && *p;
        if (*p == '#')
            continue;
        if (state == EVAL && (!got || !indented)) {
            run_eval(&r, &e);
            free(e.exp);
            memset(&e, 0, sizeof(e));
            state = NONE;
        }
        if (!got)
            break;
        if (!*p) {
            state = NONE;
            continue;
        }
        if (indented && state == LOAD) {
            load_series(&r, p, interval);
        } else if (indented && state == EVAL) {
            add_expected(&r, &e, p);
        } else if (indented) {
            fail(&r, "a line outside any block");
        } else if (!strncmp(p, "load ", 5)) {
            const char *d = skip_ws(p + 5);
            if (parse_time(d, strlen(d), &interval) != 0 || interval <= 0)
                fail(&r, "bad load interval \"%s\"", d);
            state = LOAD;
        } else if (!strcmp(p, "clear")) {
            store_release(&r.st);
            new_store(&r);
            state = NONE;
        } else if (!strncmp(p, "eval", 4) && parse_eval(&r, p, &e) == 0) {
            state = EVAL;
        } else {
            fail(&r, "cannot read the command \"%s\"", p);
            state = NONE;
        }
    }
    fclose(f);
    store_release(&r.st);
    printf("%s: %d cases, %d failed\n", path, r.cases, r.failed);
    return r.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: promqltest FILE...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        rc |= run_file(argv[i]);
    return rc;
}
