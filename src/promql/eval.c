/* eval: evaluates a syntax tree at one instant: selectors over the store
 * (Prometheus 2.42's windows: an instant selector takes the newest sample
 * in [t - lookback, t], a range selector every sample in [t - range, t],
 * both closed, stale markers ending a series), and the dispatch to
 * functions, aggregations and operators. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/pq.h"

int pq_fail(struct pq_ctx *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return code;
}

void *pq_alloc(struct pq_ctx *c, size_t size)
{
    void *p = arena_alloc(c->a, size ? size : 1);
    if (!p)
        pq_fail(c, PROMQL_ERR_EXEC, "query processing needs more than %zu bytes of memory",
                c->lim->max_memory);
    return p;
}

int pq_count_points(struct pq_ctx *c, size_t n)
{
    *c->points += n;
    if (*c->points > c->lim->max_points)
        return pq_fail(c, PROMQL_ERR_EXEC,
                       "query processing would load too many samples into memory in query "
                       "execution (limit %zu)",
                       c->lim->max_points);
    return 0;
}

int pq_vec_new(struct pq_ctx *c, size_t n, struct pq_vec *v)
{
    v->n = 0;
    v->s = pq_alloc(c, n * sizeof(*v->s));
    return v->s ? 0 : PROMQL_ERR_EXEC;
}

int pq_vec_check_unique(struct pq_ctx *c, const struct pq_vec *v)
{
    if (v->n < 2)
        return 0;
    struct pq_map m;
    if (pq_map_init(c, &m, v->n) != 0)
        return PROMQL_ERR_EXEC;
    for (size_t i = 0; i < v->n; i++) {
        size_t *slot = pq_map_slot(&m, pq_labels_hash(v->s[i].l, v->s[i].n));
        if (*slot)
            return pq_fail(c, PROMQL_ERR_EXEC, "vector cannot contain metrics with the same labelset");
        *slot = i + 1;
    }
    return 0;
}

bool pq_series_matches(const struct store_series *se, const struct pq_node *sel)
{
    for (size_t i = 0; i < sel->nm; i++) {
        const char *v = pq_labels_get(se->labels, se->nlabels, sel->m[i].name);
        if (!pq_matcher_matches(&sel->m[i], v ? v : ""))
            return false;
    }
    return true;
}

/* The series a selector picks, in the arena; fails past max_series. */
static int select_series(struct pq_ctx *c, const struct pq_node *sel, struct store_series ***out,
                         size_t *nout)
{
    size_t n = 0, cap = 0;
    struct store_series **v = NULL;
    for (size_t i = 0; i < c->st->nseries; i++) {
        struct store_series *se = c->st->series[i];
        if (!pq_series_matches(se, sel))
            continue;
        if (n == c->lim->max_series)
            return pq_fail(c, PROMQL_ERR_EXEC, "query selects more than %zu series",
                           c->lim->max_series);
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct store_series **nv = pq_alloc(c, ncap * sizeof(*nv));
            if (!nv)
                return PROMQL_ERR_EXEC;
            if (n)
                memcpy(nv, v, n * sizeof(*v));
            v = nv;
            cap = ncap;
        }
        v[n++] = se;
    }
    *out = v;
    *nout = n;
    return 0;
}

/* An instant selector's samples; with times, each sample's value is its
 * time in seconds instead (timestamp()). */
static int select_instant(struct pq_ctx *c, const struct pq_node *n, bool times,
                          struct pq_val *out)
{
    struct store_series **ss;
    size_t nss;
    int err = select_series(c, n, &ss, &nss);
    if (err || (err = pq_vec_new(c, nss, &out->vec)) != 0)
        return err;
    out->type = PROMQL_VECTOR;
    int64_t ref = c->t - n->offset, from = ref - c->lim->lookback_ms;
    for (size_t i = 0; i < nss; i++) {
        struct store_sample smp;
        if (!store_before_cached(c->st, ss[i], ref, &smp))
            continue;
        if (smp.t < from || prom_is_stale_nan(smp.v))
            continue;
        double v = times ? (double)smp.t / 1000 : smp.v;
        out->vec.s[out->vec.n++] = (struct pq_sample){ss[i]->labels, ss[i]->nlabels, v};
    }
    /* In the store's order (creation), as Prometheus's postings are: a
     * selector's order is not part of PromQL's answer. */
    return pq_count_points(c, out->vec.n);
}

/* The n samples it is at, without stale markers, decoded out of the
 * series' chunks into the query's memory. SIZE_MAX when memory runs out. */
static size_t window(struct pq_ctx *c, struct store_iter *it, size_t n, struct store_sample **out)
{
    struct store_sample *p = pq_alloc(c, n * sizeof(*p));
    if (!p)
        return SIZE_MAX;
    size_t got = store_iter_read(it, p, n), np = 0;
    for (size_t k = 0; k < got; k++) {
        if (!prom_is_stale_nan(p[k].v))
            p[np++] = p[k];
    }
    *out = p;
    return np;
}

static int eval_matrix(struct pq_ctx *c, const struct pq_node *n, struct pq_val *out)
{
    const struct pq_node *sel = n->a;
    struct store_series **ss;
    size_t nss;
    int err = select_series(c, sel, &ss, &nss);
    if (err)
        return err;
    out->type = PROMQL_MATRIX;
    out->mat.n = 0;
    if (!(out->mat.s = pq_alloc(c, nss * sizeof(*out->mat.s))))
        return PROMQL_ERR_EXEC;
    int64_t ref = c->t - sel->offset, from = ref - n->range;
    for (size_t i = 0; i < nss; i++) {
        struct store_iter it;
        size_t lo = store_seek_cached(c->st, &it, ss[i], from);
        size_t hi = lo + store_iter_count(&it, ref + 1);
        if (lo >= hi)
            continue;
        if ((err = pq_count_points(c, hi - lo)) != 0)
            return err;
        struct store_sample *p;
        size_t np = window(c, &it, hi - lo, &p);
        if (np == SIZE_MAX)
            return PROMQL_ERR_EXEC;
        if (np)
            out->mat.s[out->mat.n++] = (struct pq_pts){ss[i]->labels, ss[i]->nlabels, p, np};
    }
    return 0;
}

int pq_fn_timestamp(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                    struct pq_val *out)
{
    /* Of a vector selector, the samples' own times (2.42 evaluates that
     * argument specially); of anything else, the evaluation time. */
    struct pq_val sel;
    struct pq_vec *in = &args[0].vec;
    const struct pq_node *arg = call->args[0];
    while (arg->kind == PQ_PAREN)
        arg = arg->a;
    bool own = arg->kind == PQ_SEL;
    int err = own ? select_instant(c, arg, true, &sel) : 0;
    if (own)
        in = &sel.vec;
    if (err || (err = pq_vec_new(c, in->n, &out->vec)) != 0)
        return err;
    for (size_t i = 0; !err && i < in->n; i++) {
        struct pq_sample o = {in->s[i].l, in->s[i].n, own ? in->s[i].v : (double)c->t / 1000};
        err = pq_labels_filter(c, o.l, o.n, NULL, 0, false, true, &o.l, &o.n);
        out->vec.s[out->vec.n++] = o;
    }
    return err ? err : pq_vec_check_unique(c, &out->vec);
}

static int eval_neg(struct pq_ctx *c, const struct pq_node *n, struct pq_val *out)
{
    int err = pq_eval(c, n->a, out);
    if (err)
        return err;
    if (out->type == PROMQL_SCALAR) {
        out->num = -out->num;
        return 0;
    }
    for (size_t i = 0; i < out->vec.n; i++) {
        struct pq_sample *s = &out->vec.s[i];
        s->v = -s->v;
        if ((err = pq_labels_filter(c, s->l, s->n, NULL, 0, false, true, &s->l, &s->n)) != 0)
            return err;
    }
    return pq_vec_check_unique(c, &out->vec);
}

static int eval_call(struct pq_ctx *c, const struct pq_node *n, struct pq_val *out)
{
    struct pq_val args[3];
    memset(args, 0, sizeof(args));
    for (size_t i = 0; i < n->nargs && i < 3; i++) {
        int err = pq_eval(c, n->args[i], &args[i]);
        if (err)
            return err;
    }
    memset(out, 0, sizeof(*out));
    out->type = n->fn->ret;
    return n->fn->fn(c, n, args, out);
}

int pq_eval(struct pq_ctx *c, const struct pq_node *n, struct pq_val *out)
{
    memset(out, 0, sizeof(*out));
    switch (n->kind) {
    case PQ_NUM:
        out->type = PROMQL_SCALAR;
        out->num = n->num;
        return 0;
    case PQ_STR:
        out->type = PROMQL_STRING;
        out->str = n->str;
        return 0;
    case PQ_PAREN:
        return pq_eval(c, n->a, out);
    case PQ_NEG:
        return eval_neg(c, n, out);
    case PQ_SEL:
        return select_instant(c, n, false, out);
    case PQ_MSEL:
        return eval_matrix(c, n, out);
    case PQ_CALL:
        return eval_call(c, n, out);
    case PQ_AGG:
        return pq_eval_agg(c, n, out);
    case PQ_BIN: {
        struct pq_val l, r;
        int err = pq_eval(c, n->a, &l);
        if (!err)
            err = pq_eval(c, n->b, &r);
        return err ? err : pq_eval_binary(c, n, &l, &r, out);
    }
    }
    return pq_fail(c, PROMQL_ERR_EXEC, "unexpected expression");
}
