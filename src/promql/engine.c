/* engine: a query from text to result. Instant queries evaluate once;
 * range queries evaluate at every step on a scratch arena and merge the
 * samples by label set, which is what Prometheus's step-by-step rangeEval
 * amounts to. Results are copied, labels too, into the result's own arena,
 * so they stay valid whatever the store does afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/pq.h"

void promql_limits_defaults(struct promql_limits *l)
{
    l->max_query_bytes = 4096;
    l->max_nodes = 2000;
    l->max_depth = 100;
    l->max_series = 100000;
    l->max_points = 5000000;
    l->max_memory = (size_t)256 << 20;
    l->max_output_bytes = (size_t)64 << 20;
    l->max_steps = 11000;
    l->lookback_ms = 5 * 60 * 1000;
}

void promql_result_release(struct promql_result *r)
{
    arena_release(&r->arena);
    r->series = NULL;
    r->nseries = 0;
    r->string = NULL;
    r->type = PROMQL_NONE;
}

static int copy_labels(struct arena *a, const struct prom_label *l, size_t n,
                       const struct prom_label **out)
{
    struct prom_label *o = arena_alloc(a, (n ? n : 1) * sizeof(*o));
    if (!o)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        o[i].name = arena_strdup(a, l[i].name);
        o[i].value = arena_strdup(a, l[i].value);
        if (!o[i].name || !o[i].value)
            return -ENOMEM;
    }
    *out = o;
    return 0;
}

static int oom(char *err, size_t errlen, const struct promql_limits *lim)
{
    snprintf(err, errlen, "query processing needs more than %zu bytes of memory", lim->max_memory);
    return PROMQL_ERR_EXEC;
}

/* An instant query's value into the result. */
static int keep_instant(struct promql_result *r, const struct pq_val *v, int64_t t)
{
    r->type = v->type;
    r->t_ms = t;
    if (v->type == PROMQL_SCALAR) {
        r->scalar = v->num;
        return 0;
    }
    if (v->type == PROMQL_STRING)
        return (r->string = arena_strdup(&r->arena, v->str)) ? 0 : -ENOMEM;
    size_t n = v->type == PROMQL_VECTOR ? v->vec.n : v->mat.n;
    r->series = arena_alloc(&r->arena, (n ? n : 1) * sizeof(*r->series));
    if (!r->series)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct promql_series *s = &r->series[i];
        const struct prom_label *l = v->type == PROMQL_VECTOR ? v->vec.s[i].l : v->mat.s[i].l;
        s->nlabels = v->type == PROMQL_VECTOR ? v->vec.s[i].n : v->mat.s[i].n;
        s->npoints = v->type == PROMQL_VECTOR ? 1 : v->mat.s[i].np;
        s->points = arena_alloc(&r->arena, s->npoints * sizeof(*s->points));
        if (!s->points || copy_labels(&r->arena, l, s->nlabels, &s->labels) != 0)
            return -ENOMEM;
        for (size_t j = 0; j < s->npoints; j++) {
            if (v->type == PROMQL_VECTOR)
                s->points[j] = (struct promql_point){t, v->vec.s[i].v};
            else
                s->points[j] = (struct promql_point){v->mat.s[i].p[j].t, v->mat.s[i].p[j].v};
        }
    }
    r->nseries = n;
    return 0;
}

/* A range query's series being built: points grow as steps add them. */
struct acc {
    const struct prom_label *l;
    size_t n;
    uint64_t hash;
    struct promql_point *p;
    size_t np, cap;
};

struct accs {
    struct acc *v;
    size_t n, cap;
    size_t *table; /* index + 1, open addressing by hash */
    size_t tcap;
};

static void accs_release(struct accs *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].p);
    free(a->v);
    free(a->table);
}

static int accs_grow(struct accs *a)
{
    size_t cap = a->cap ? a->cap * 2 : 64;
    struct acc *v = realloc(a->v, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    a->v = v;
    a->cap = cap;
    free(a->table);
    a->tcap = cap * 2;
    if (!(a->table = calloc(a->tcap, sizeof(*a->table))))
        return -ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        size_t k = a->v[i].hash & (a->tcap - 1);
        while (a->table[k])
            k = (k + 1) & (a->tcap - 1);
        a->table[k] = i + 1;
    }
    return 0;
}

static int accs_add(struct accs *a, struct arena *ar, const struct prom_label *l, size_t n,
                    int64_t t, double v)
{
    uint64_t h = pq_labels_hash(l, n);
    size_t k = a->tcap ? h & (a->tcap - 1) : 0;
    while (a->tcap && a->table[k]) {
        struct acc *x = &a->v[a->table[k] - 1];
        if (x->hash == h && pq_labels_equal(x->l, x->n, l, n))
            break;
        k = (k + 1) & (a->tcap - 1);
    }
    struct acc *x;
    if (a->tcap && a->table[k]) {
        x = &a->v[a->table[k] - 1];
    } else {
        if (a->n == a->cap) {
            if (accs_grow(a) != 0)
                return -ENOMEM;
            return accs_add(a, ar, l, n, t, v);
        }
        x = &a->v[a->n];
        memset(x, 0, sizeof(*x));
        x->hash = h;
        x->n = n;
        if (copy_labels(ar, l, n, &x->l) != 0)
            return -ENOMEM;
        a->table[k] = ++a->n;
    }
    if (x->np == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        struct promql_point *p = realloc(x->p, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        x->p = p;
        x->cap = cap;
    }
    x->p[x->np++] = (struct promql_point){t, v};
    return 0;
}

static int cmp_series(const void *a, const void *b)
{
    const struct promql_series *x = a, *y = b;
    return pq_labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

static int accs_finish(struct accs *a, struct promql_result *r)
{
    r->type = PROMQL_MATRIX;
    r->series = arena_alloc(&r->arena, (a->n ? a->n : 1) * sizeof(*r->series));
    if (!r->series)
        return -ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        struct promql_series *s = &r->series[i];
        s->labels = a->v[i].l;
        s->nlabels = a->v[i].n;
        s->npoints = a->v[i].np;
        if (!(s->points = arena_alloc(&r->arena, s->npoints * sizeof(*s->points))))
            return -ENOMEM;
        memcpy(s->points, a->v[i].p, s->npoints * sizeof(*s->points));
    }
    r->nseries = a->n;
    qsort(r->series, r->nseries, sizeof(*r->series), cmp_series);
    return 0;
}

static int run_range(struct store *st, const struct promql_limits *lim, const struct pq_expr *e,
                     int64_t start, int64_t end, int64_t step, struct promql_result *out,
                     char *err, size_t errlen)
{
    struct accs acc = {0};
    size_t points = 0;
    int rc = 0;
    for (int64_t t = start; t <= end && !rc; t += step) {
        struct arena scratch;
        arena_init(&scratch, lim->max_memory > out->arena.used ? lim->max_memory - out->arena.used : 0);
        struct pq_ctx c = {st, lim, &scratch, t, &points, err, errlen};
        struct pq_val v;
        rc = pq_eval(&c, e->root, &v);
        if (!rc && v.type == PROMQL_SCALAR) {
            rc = accs_add(&acc, &out->arena, NULL, 0, t, v.num);
            points++;
        }
        for (size_t i = 0; !rc && v.type == PROMQL_VECTOR && i < v.vec.n; i++)
            rc = accs_add(&acc, &out->arena, v.vec.s[i].l, v.vec.s[i].n, t, v.vec.s[i].v);
        if (!rc && v.type == PROMQL_VECTOR)
            rc = pq_count_points(&c, v.vec.n);
        arena_release(&scratch);
        if (rc == -ENOMEM)
            rc = oom(err, errlen, lim);
        if (t > INT64_MAX - step)
            break;
    }
    if (!rc && accs_finish(&acc, out) != 0)
        rc = oom(err, errlen, lim);
    accs_release(&acc);
    return rc;
}

int promql_exec(struct store *st, const struct promql_limits *lim, const char *query,
                int64_t start, int64_t end, int64_t step, struct promql_result *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof(*out));
    arena_init(&out->arena, lim->max_memory);
    if (errlen)
        err[0] = 0;
    struct pq_expr e;
    int rc = pq_parse(query, lim, &e, err, errlen);
    if (rc) {
        pq_expr_release(&e);
        return rc;
    }
    if (step > 0) {
        if (e.root->type != PROMQL_SCALAR && e.root->type != PROMQL_VECTOR) {
            snprintf(err, errlen, "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                     pq_type_name(e.root->type));
            rc = PROMQL_ERR_BAD_DATA;
        } else if (end < start) {
            snprintf(err, errlen, "end timestamp must not be before start time");
            rc = PROMQL_ERR_BAD_DATA;
        } else if ((uint64_t)(end - start) / (uint64_t)step > lim->max_steps) {
            snprintf(err, errlen, "exceeded maximum resolution of %zu points per timeseries. Try decreasing the query resolution (?step=XX)",
                     lim->max_steps);
            rc = PROMQL_ERR_BAD_DATA;
        } else {
            rc = run_range(st, lim, &e, start, end, step, out, err, errlen);
        }
    } else {
        struct arena scratch;
        size_t points = 0;
        arena_init(&scratch, lim->max_memory);
        struct pq_ctx c = {st, lim, &scratch, start, &points, err, errlen};
        struct pq_val v;
        rc = pq_eval(&c, e.root, &v);
        if (!rc && keep_instant(out, &v, start) != 0)
            rc = oom(err, errlen, lim);
        arena_release(&scratch);
    }
    pq_expr_release(&e);
    return rc;
}

int promql_query_instant(struct store *s, const char *query, int64_t t_ms, struct promql_result *out,
                         char *err, size_t errlen)
{
    struct promql_limits lim;
    promql_limits_defaults(&lim);
    return promql_exec(s, &lim, query, t_ms, t_ms, 0, out, err, errlen);
}

int promql_query_range(struct store *s, const char *query, int64_t start_ms, int64_t end_ms,
                       int64_t step_ms, struct promql_result *out, char *err, size_t errlen)
{
    struct promql_limits lim;
    promql_limits_defaults(&lim);
    if (step_ms <= 0) {
        snprintf(err, errlen, "zero or negative query resolution step widths are not accepted. Try a positive integer");
        memset(out, 0, sizeof(*out));
        return PROMQL_ERR_BAD_DATA;
    }
    return promql_exec(s, &lim, query, start_ms, end_ms, step_ms, out, err, errlen);
}
