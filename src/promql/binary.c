/* binary: PromQL's arithmetic, comparison and set operators, with
 * Prometheus 2.42's vector matching (VectorBinop, VectorscalarBinop,
 * resultMetric): on/ignoring signatures, group_left/group_right, the metric
 * name dropped by arithmetic and by "bool", comparisons filtering. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "promql/pq.h"

double pq_go_atan2(double y, double x);

static bool is_comparison(int op)
{
    return op >= PQ_EQ && op <= PQ_LE;
}

/* Arithmetic drops the metric name; comparisons and atan2 keep it (2.42's
 * shouldDropMetricName). */
static bool drops_name(int op)
{
    return op <= PQ_POW;
}

/* vectorElemBinop: the value and, for comparisons, whether it holds. */
static double elem_op(int op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case PQ_ADD: return l + r;
    case PQ_SUB: return l - r;
    case PQ_MUL: return l * r;
    case PQ_DIV: return l / r;
    case PQ_POW: return pow(l, r);
    case PQ_MOD: return fmod(l, r);
    case PQ_ATAN2: return pq_go_atan2(l, r);
    case PQ_EQ: *keep = l == r; return l;
    case PQ_NE: *keep = l != r; return l;
    case PQ_GT: *keep = l > r; return l;
    case PQ_LT: *keep = l < r; return l;
    case PQ_GE: *keep = l >= r; return l;
    case PQ_LE: *keep = l <= r; return l;
    }
    return (double)NAN;
}

static int vector_scalar(struct pq_ctx *c, const struct pq_node *n, struct pq_vec *v, double s,
                         bool swap, struct pq_val *out)
{
    int err = pq_vec_new(c, v->n, &out->vec);
    if (err)
        return err;
    out->type = PROMQL_VECTOR;
    for (size_t i = 0; i < v->n; i++) {
        double lv = v->s[i].v, rv = s;
        if (swap) {
            lv = s;
            rv = v->s[i].v;
        }
        bool keep;
        double value = elem_op(n->op, lv, rv, &keep);
        /* The vector's value is the result of a comparison, whichever side it is on. */
        if (is_comparison(n->op) && swap)
            value = rv;
        if (n->ret_bool) {
            value = keep ? 1 : 0;
            keep = true;
        }
        if (!keep)
            continue;
        struct pq_sample o = v->s[i];
        o.v = value;
        if ((drops_name(n->op) || n->ret_bool) &&
            (err = pq_labels_filter(c, o.l, o.n, NULL, 0, false, true, &o.l, &o.n)) != 0)
            return err;
        out->vec.s[out->vec.n++] = o;
    }
    return pq_vec_check_unique(c, &out->vec);
}

static uint64_t sig(const struct pq_node *n, const struct pq_sample *s)
{
    return pq_labels_sig(s->l, s->n, n->labels, n->nlabels, n->on);
}

static int set_op(struct pq_ctx *c, const struct pq_node *n, struct pq_vec *l, struct pq_vec *r,
                  struct pq_val *out)
{
    struct pq_map rm, lm;
    int err = pq_vec_new(c, l->n + r->n, &out->vec);
    if (err || (err = pq_map_init(c, &rm, r->n)) != 0 || (err = pq_map_init(c, &lm, l->n)) != 0)
        return err;
    out->type = PROMQL_VECTOR;
    for (size_t i = 0; i < r->n; i++)
        *pq_map_slot(&rm, sig(n, &r->s[i])) = 1;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t h = sig(n, &l->s[i]);
        *pq_map_slot(&lm, h) = 1;
        bool in_r = *pq_map_slot(&rm, h) != 0;
        if (n->op == PQ_OR || (n->op == PQ_AND && in_r) || (n->op == PQ_UNLESS && !in_r))
            out->vec.s[out->vec.n++] = l->s[i];
    }
    for (size_t i = 0; n->op == PQ_OR && i < r->n; i++)
        if (!*pq_map_slot(&lm, sig(n, &r->s[i])))
            out->vec.s[out->vec.n++] = r->s[i];
    return 0;
}

/* resultMetric: the labels of a matched pair's result. */
static int result_labels(struct pq_ctx *c, const struct pq_node *n, const struct pq_sample *ls,
                         const struct pq_sample *rs, struct pq_sample *o)
{
    const struct prom_label *l = ls->l;
    size_t nl = ls->n;
    int err = 0;
    if (drops_name(n->op) || n->ret_bool)
        err = pq_labels_filter(c, l, nl, NULL, 0, false, true, &l, &nl);
    if (!err && n->card == PQ_ONE_ONE)
        err = pq_labels_filter(c, l, nl, n->labels, n->nlabels, n->on, false, &l, &nl);
    for (size_t i = 0; !err && i < n->ninclude; i++) {
        const char *v = pq_labels_get(rs->l, rs->n, n->include[i]);
        err = pq_labels_set(c, l, nl, n->include[i], v ? v : "", &l, &nl);
    }
    o->l = l;
    o->n = nl;
    return err;
}

/* Labels as Go's labels.String() writes them: {a="x", b="y"}. */
static void labels_string(struct buf *b, const struct prom_label *l, size_t n,
                          const char **names, size_t nn, int mode)
{
    buf_append(b, "{", 1);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        bool listed = pq_names_has(names, nn, l[i].name);
        /* mode 0: all; 1: only the listed (on); 2: all but those and the name (ignoring) */
        if ((mode == 1 && !listed) || (mode == 2 && (listed || !strcmp(l[i].name, "__name__"))))
            continue;
        buf_appendf(b, "%s%s=", first ? "" : ", ", l[i].name);
        buf_append_json_str(b, l[i].value, strlen(l[i].value));
        first = false;
    }
    buf_append(b, "}", 1);
}

/* Prometheus's message for two series of one match group on the one side. */
static int dup_error(struct pq_ctx *c, const struct pq_node *n, const struct pq_sample *dup,
                     const struct pq_sample *first)
{
    struct buf g = BUF_INIT(256), a = BUF_INIT(256), b = BUF_INIT(256);
    labels_string(&g, dup->l, dup->n, n->labels, n->nlabels, n->on ? 1 : 2);
    labels_string(&a, dup->l, dup->n, NULL, 0, 0);
    labels_string(&b, first->l, first->n, NULL, 0, 0);
    int err = pq_fail(c, PROMQL_ERR_EXEC,
                      "found duplicate series for the match group %s on the %s hand-side of the "
                      "operation: [%s, %s];many-to-many matching not allowed: matching labels "
                      "must be unique on one side",
                      g.data ? g.data : "{}", n->card == PQ_ONE_MANY ? "left" : "right",
                      a.data ? a.data : "{}", b.data ? b.data : "{}");
    buf_release(&g);
    buf_release(&a);
    buf_release(&b);
    return err;
}

static int vector_vector(struct pq_ctx *c, const struct pq_node *n, struct pq_vec *l,
                         struct pq_vec *r, struct pq_val *out)
{
    if (n->card == PQ_ONE_MANY) {
        struct pq_vec *t = l;
        l = r;
        r = t;
    }
    out->type = PROMQL_VECTOR;
    if (!l->n || !r->n) /* nothing can match: no duplicate is looked for either */
        return pq_vec_new(c, 0, &out->vec);
    struct pq_map rm, matched, inserted;
    int err = pq_vec_new(c, l->n, &out->vec);
    if (err || (err = pq_map_init(c, &rm, r->n)) != 0 ||
        (err = pq_map_init(c, &matched, l->n)) != 0 || (err = pq_map_init(c, &inserted, l->n)) != 0)
        return err;
    out->type = PROMQL_VECTOR;
    for (size_t i = 0; i < r->n; i++) {
        size_t *slot = pq_map_slot(&rm, sig(n, &r->s[i]));
        if (*slot)
            return dup_error(c, n, &r->s[i], &r->s[*slot - 1]);
        *slot = i + 1;
    }
    for (size_t i = 0; i < l->n; i++) {
        uint64_t h = sig(n, &l->s[i]);
        size_t ri = *pq_map_slot(&rm, h);
        if (!ri)
            continue;
        const struct pq_sample *ls = &l->s[i], *rs = &r->s[ri - 1];
        double vl = ls->v, vr = rs->v;
        if (n->card == PQ_ONE_MANY) {
            vl = rs->v;
            vr = ls->v;
        }
        bool keep;
        double value = elem_op(n->op, vl, vr, &keep);
        if (n->ret_bool)
            value = keep ? 1 : 0;
        else if (!keep)
            continue;
        struct pq_sample o = {.v = value};
        if ((err = result_labels(c, n, ls, rs, &o)) != 0)
            return err;
        size_t *m = pq_map_slot(&matched, h);
        if (n->card == PQ_ONE_ONE) {
            if (*m)
                return pq_fail(c, PROMQL_ERR_EXEC, "multiple matches for labels: many-to-one "
                                                   "matching must be explicit (group_left/group_right)");
            *m = 1;
        } else {
            size_t *ins = pq_map_slot(&inserted, pq_labels_hash(o.l, o.n) ^ (h * 0x9e3779b97f4a7c15u));
            if (*ins)
                return pq_fail(c, PROMQL_ERR_EXEC, "multiple matches for labels: grouping labels "
                                                   "must ensure unique matches");
            *ins = 1;
        }
        out->vec.s[out->vec.n++] = o;
    }
    return pq_vec_check_unique(c, &out->vec);
}

int pq_eval_binary(struct pq_ctx *c, const struct pq_node *n, struct pq_val *l, struct pq_val *r,
                   struct pq_val *out)
{
    memset(out, 0, sizeof(*out));
    if (l->type == PROMQL_SCALAR && r->type == PROMQL_SCALAR) {
        bool keep;
        out->type = PROMQL_SCALAR;
        out->num = elem_op(n->op, l->num, r->num, &keep);
        if (is_comparison(n->op))
            out->num = keep ? 1 : 0;
        return 0;
    }
    if (l->type == PROMQL_VECTOR && r->type == PROMQL_SCALAR)
        return vector_scalar(c, n, &l->vec, r->num, false, out);
    if (l->type == PROMQL_SCALAR && r->type == PROMQL_VECTOR)
        return vector_scalar(c, n, &r->vec, l->num, true, out);
    if (n->op >= PQ_AND)
        return set_op(c, n, &l->vec, &r->vec, out);
    return vector_vector(c, n, &l->vec, &r->vec, out);
}
