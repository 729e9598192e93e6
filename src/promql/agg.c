/* agg: PromQL's aggregation operators as Prometheus 2.42 computes them
 * (engine.go aggregation()): groups by the "by" labels, or by all labels
 * but the "without" ones and the metric name; avg as a running mean,
 * min/max preferring numbers over NaN, topk/bottomk keeping each element's
 * own labels, quantile interpolating between ranks. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql/pq.h"

struct group {
    const struct prom_label *l;
    size_t n;
    double value, mean;
    size_t count;
    struct pq_sample *items; /* topk, bottomk, quantile */
    size_t nitems;
};

/* vectorByValueHeap's order: NaN first, then ascending. */
static bool less_top(double a, double b)
{
    return isnan(a) || a < b;
}

/* vectorByReverseValueHeap's: NaN first, then descending. */
static bool less_bottom(double a, double b)
{
    return isnan(a) || a > b;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = ((const struct pq_sample *)a)->v, y = ((const struct pq_sample *)b)->v;
    /* Descending, NaN last: the reverse of the heap order. */
    return less_top(x, y) ? 1 : less_top(y, x) ? -1 : 0;
}

static int cmp_asc(const void *a, const void *b)
{
    double x = ((const struct pq_sample *)a)->v, y = ((const struct pq_sample *)b)->v;
    return less_bottom(x, y) ? 1 : less_bottom(y, x) ? -1 : 0;
}

static int cmp_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return less_top(x, y) ? -1 : less_top(y, x) ? 1 : 0;
}

/* Prometheus's quantile(): linear interpolation between closest ranks. */
double pq_quantile(double q, double *v, size_t n);
double pq_quantile(double q, double *v, size_t n)
{
    if (!n || isnan(q))
        return (double)NAN;
    if (q < 0)
        return -(double)INFINITY;
    if (q > 1)
        return (double)INFINITY;
    qsort(v, n, sizeof(*v), cmp_value);
    double rank = q * (double)(n - 1);
    double lower = fmax(0, floor(rank)), upper = fmin((double)(n - 1), lower + 1);
    double weight = rank - floor(rank);
    return v[(size_t)lower] * (1 - weight) + v[(size_t)upper] * weight;
}

/* Adds s to a topk/bottomk group of at most k: replaces the least element
 * when s beats it, as the heap does. */
static void keep_k(struct group *g, const struct pq_sample *s, size_t k, bool top)
{
    if (g->nitems < k) {
        g->items[g->nitems++] = *s;
        return;
    }
    bool (*less)(double, double) = top ? less_top : less_bottom;
    size_t min = 0;
    for (size_t i = 1; i < g->nitems; i++)
        if (less(g->items[i].v, g->items[min].v))
            min = i;
    double m = g->items[min].v;
    bool better = top ? (m < s->v || (isnan(m) && !isnan(s->v)))
                      : (m > s->v || (isnan(m) && !isnan(s->v)));
    if (better)
        g->items[min] = *s;
}

static void accumulate(int op, struct group *g, const struct pq_sample *s, size_t k)
{
    double v = s->v;
    if (g->count == 0) {
        g->value = op == PQ_COUNT || op == PQ_GROUP || op == PQ_COUNT_VALUES ? 1
                   : op == PQ_STDDEV || op == PQ_STDVAR                    ? 0
                                                                            : v;
        g->mean = v;
        g->count = 1;
        if (op == PQ_TOPK || op == PQ_BOTTOMK || op == PQ_QUANTILE)
            keep_k(g, s, k, op != PQ_BOTTOMK);
        return;
    }
    g->count++;
    double cnt = (double)g->count;
    switch (op) {
    case PQ_SUM: g->value += v; break;
    case PQ_AVG:
        if (isinf(g->mean)) {
            if (isinf(v) && (g->mean > 0) == (v > 0))
                break;
            if (!isinf(v) && !isnan(v))
                break;
        }
        /* Divided on each side of the minus to avoid overflow, as 2.42 does. */
        g->mean += v / cnt - g->mean / cnt;
        break;
    case PQ_COUNT:
    case PQ_COUNT_VALUES: g->value = cnt; break;
    case PQ_GROUP: break;
    case PQ_MAX:
        if (g->value < v || isnan(g->value))
            g->value = v;
        break;
    case PQ_MIN:
        if (g->value > v || isnan(g->value))
            g->value = v;
        break;
    case PQ_STDDEV:
    case PQ_STDVAR: {
        double delta = v - g->mean;
        g->mean += delta / cnt;
        g->value += delta * (v - g->mean);
        break;
    }
    case PQ_TOPK:
    case PQ_BOTTOMK:
    case PQ_QUANTILE: keep_k(g, s, k, op != PQ_BOTTOMK); break;
    }
}

static int eval_param(struct pq_ctx *c, const struct pq_node *n, double *param, size_t *k,
                      size_t nin)
{
    *k = 0;
    if (!n->b)
        return 0;
    struct pq_val pv;
    int err = pq_eval(c, n->b, &pv);
    if (err)
        return err;
    *param = pv.num;
    if (n->op == PQ_QUANTILE)
        *k = nin; /* every element is kept */
    else if (pv.num >= 1)
        *k = pv.num >= (double)nin ? nin : (size_t)pv.num;
    return 0;
}

/* count_values: each element gets its value as a label (Go's 'f' format),
 * which "by" groups on too. */
static int count_values_prepare(struct pq_ctx *c, const struct pq_node *n, struct pq_vec *v,
                                const char ***names, size_t *nn)
{
    struct pq_val pv;
    int err = pq_eval(c, n->b, &pv);
    if (err)
        return err;
    const char *label = pv.str;
    bool ok = label[0] && !isdigit((unsigned char)label[0]);
    for (const char *q = label; ok && *q; q++)
        ok = isalnum((unsigned char)*q) || *q == '_';
    if (!ok)
        return pq_fail(c, PROMQL_ERR_EXEC, "invalid label name \"%s\"", label);
    for (size_t i = 0; i < v->n; i++) {
        char val[400];
        pq_format_f(v->s[i].v, val, sizeof(val));
        char *copy = pq_alloc(c, strlen(val) + 1);
        if (!copy)
            return PROMQL_ERR_EXEC;
        memcpy(copy, val, strlen(val) + 1);
        if ((err = pq_labels_set(c, v->s[i].l, v->s[i].n, label, copy, &v->s[i].l, &v->s[i].n)))
            return err;
    }
    if (n->without)
        return 0;
    const char **all = pq_alloc(c, (n->nlabels + 1) * sizeof(*all));
    if (!all)
        return PROMQL_ERR_EXEC;
    if (n->nlabels)
        memcpy(all, n->labels, n->nlabels * sizeof(*all));
    all[n->nlabels] = label;
    *names = all;
    *nn = n->nlabels + 1;
    return 0;
}

int pq_eval_agg(struct pq_ctx *c, const struct pq_node *n, struct pq_val *out)
{
    struct pq_val in;
    double param = 0;
    size_t k = 0, nn = n->nlabels;
    const char **names = n->labels;
    int err = pq_eval(c, n->a, &in);
    if (!err && n->op == PQ_COUNT_VALUES)
        err = count_values_prepare(c, n, &in.vec, &names, &nn);
    else if (!err)
        err = eval_param(c, n, &param, &k, in.vec.n);
    if (err)
        return err;
    memset(out, 0, sizeof(*out));
    out->type = PROMQL_VECTOR;
    bool per_elem = n->op == PQ_TOPK || n->op == PQ_BOTTOMK || n->op == PQ_QUANTILE;
    if ((n->op == PQ_TOPK || n->op == PQ_BOTTOMK) && k == 0)
        return pq_vec_new(c, 0, &out->vec);
    struct pq_map m;
    struct group *groups = pq_alloc(c, in.vec.n * sizeof(*groups));
    if (!groups || (err = pq_map_init(c, &m, in.vec.n)) != 0)
        return PROMQL_ERR_EXEC;
    size_t ng = 0;
    size_t *gidx = pq_alloc(c, in.vec.n * sizeof(*gidx));
    if (!gidx)
        return PROMQL_ERR_EXEC;
    /* First pass: the groups and their sizes, so that the elements a group
     * keeps take no more room than it has. */
    for (size_t i = 0; i < in.vec.n; i++) {
        const struct pq_sample *s = &in.vec.s[i];
        uint64_t h = pq_labels_sig(s->l, s->n, names, nn, !n->without);
        size_t *slot = pq_map_slot(&m, h);
        if (!*slot) {
            struct group *g = &groups[ng];
            memset(g, 0, sizeof(*g));
            err = pq_labels_filter(c, s->l, s->n, names, nn, !n->without, n->without, &g->l,
                                   &g->n);
            if (err)
                return err;
            *slot = ++ng;
        }
        gidx[i] = *slot - 1;
        groups[gidx[i]].nitems++;
    }
    for (size_t i = 0; i < ng; i++) {
        struct group *g = &groups[i];
        size_t room = g->nitems < k ? g->nitems : k;
        g->nitems = 0;
        if (per_elem && !(g->items = pq_alloc(c, room * sizeof(*g->items))))
            return PROMQL_ERR_EXEC;
    }
    for (size_t i = 0; i < in.vec.n; i++)
        accumulate(n->op, &groups[gidx[i]], &in.vec.s[i], k);
    size_t total = 0;
    for (size_t i = 0; i < ng; i++)
        total += n->op == PQ_TOPK || n->op == PQ_BOTTOMK ? groups[i].nitems : 1;
    if ((err = pq_vec_new(c, total, &out->vec)) != 0)
        return err;
    for (size_t i = 0; i < ng; i++) {
        struct group *g = &groups[i];
        double v = g->value;
        switch (n->op) {
        case PQ_TOPK:
        case PQ_BOTTOMK:
            qsort(g->items, g->nitems, sizeof(*g->items), n->op == PQ_TOPK ? cmp_desc : cmp_asc);
            memcpy(out->vec.s + out->vec.n, g->items, g->nitems * sizeof(*g->items));
            out->vec.n += g->nitems;
            continue;
        case PQ_AVG: v = g->mean; break;
        case PQ_STDVAR: v = g->value / (double)g->count; break;
        case PQ_STDDEV: v = sqrt(g->value / (double)g->count); break;
        case PQ_QUANTILE: {
            double *vals = pq_alloc(c, g->nitems * sizeof(*vals));
            if (!vals)
                return PROMQL_ERR_EXEC;
            for (size_t j = 0; j < g->nitems; j++)
                vals[j] = g->items[j].v;
            v = pq_quantile(param, vals, g->nitems);
            break;
        }
        default: break;
        }
        out->vec.s[out->vec.n++] = (struct pq_sample){g->l, g->n, v};
    }
    return 0;
}
