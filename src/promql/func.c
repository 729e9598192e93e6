/* func: PromQL's functions, as Prometheus 2.42 defines them
 * (promql/functions.go): the rate family with its extrapolation, the
 * *_over_time family, histogram_quantile over classic buckets, and the
 * element-wise ones. Every function but last_over_time and the sorts drops
 * the metric name. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql/pq.h"

double pq_quantile(double q, double *v, size_t n);
double pq_go_log2(double x);
double pq_go_log10(double x);
double pq_go_atan(double x);
int pq_histogram_quantile(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                          struct pq_val *out);
int pq_fn_date(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
               struct pq_val *out);
int pq_fn_deriv(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                struct pq_val *out);
int pq_fn_predict_linear(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                         struct pq_val *out);


/* Go's math.Max and math.Min: NaN wins, unlike C's fmax. */
static double go_max(double a, double b)
{
    if (isinf(a) && a > 0)
        return a;
    if (isinf(b) && b > 0)
        return b;
    if (isnan(a) || isnan(b))
        return (double)NAN;
    if (a == 0 && b == 0) /* Max(+0, -0) is +0 */
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static double go_min(double a, double b)
{
    if (isinf(a) && a < 0)
        return a;
    if (isinf(b) && b < 0)
        return b;
    if (isnan(a) || isnan(b))
        return (double)NAN;
    if (a == 0 && b == 0) /* Min(+0, -0) is -0 */
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

/* kahanSumInc, with Neumaier's improvement. */
static double kahan_inc(double inc, double sum, double *c)
{
    double t = sum + inc;
    if (fabs(sum) >= fabs(inc))
        *c += (sum - t) + inc;
    else
        *c += (inc - t) + sum;
    return t;
}

/* ---- range-vector functions: one value per series, or none ---- */

typedef bool (*series_fn)(struct pq_ctx *c, const struct pq_node *call, const struct pq_pts *s,
                          double param, double *out);

/* extrapolatedRate: rate, increase and delta. */
static bool extrapolated(struct pq_ctx *c, const struct pq_node *call, const struct pq_pts *s,
                         bool counter, bool is_rate, double *out)
{
    const struct pq_node *ms = call->args[call->nargs - 1];
    const struct pq_node *sel = ms->a;
    if (s->np < 2)
        return false;
    double range_start = (double)(c->t - ms->range - sel->offset);
    double range_end = (double)(c->t - sel->offset);
    const struct store_sample *first = &s->p[0], *last = &s->p[s->np - 1];
    double result = last->v - first->v;
    if (counter) {
        double prev = 0;
        for (size_t i = 0; i < s->np; i++) {
            if (s->p[i].v < prev)
                result += prev;
            prev = s->p[i].v;
        }
    }
    double to_start = ((double)first->t - range_start) / 1000;
    double to_end = (range_end - (double)last->t) / 1000;
    double sampled = (double)(last->t - first->t) / 1000;
    double avg = sampled / (double)(s->np - 1);
    if (counter && result > 0 && first->v >= 0) {
        /* Counters cannot go below zero: extrapolate no further than zero. */
        double to_zero = sampled * (first->v / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    double threshold = avg * 1.1, interval = sampled;
    interval += to_start < threshold ? to_start : avg / 2;
    interval += to_end < threshold ? to_end : avg / 2;
    double factor = interval / sampled;
    if (is_rate)
        factor /= (double)ms->range / 1000;
    *out = result * factor;
    return true;
}

static bool f_rate(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                   double *o)
{
    return extrapolated(c, n, s, true, true, o);
}

static bool f_increase(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                       double *o)
{
    return extrapolated(c, n, s, true, false, o);
}

static bool f_delta(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                    double *o)
{
    return extrapolated(c, n, s, false, false, o);
}

/* instantValue: irate and idelta, from the last two samples. */
static bool instant_value(const struct pq_pts *s, bool is_rate, double *out)
{
    if (s->np < 2)
        return false;
    const struct store_sample *last = &s->p[s->np - 1], *prev = &s->p[s->np - 2];
    double v = is_rate && last->v < prev->v ? last->v : last->v - prev->v;
    int64_t dt = last->t - prev->t;
    if (!dt)
        return false;
    if (is_rate)
        v /= (double)dt / 1000;
    *out = v;
    return true;
}

static bool f_irate(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                    double *o)
{
    return instant_value(s, true, o);
}

static bool f_idelta(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                     double *o)
{
    return instant_value(s, false, o);
}

static bool f_changes(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                      double *o)
{
    double k = 0;
    for (size_t i = 1; i < s->np; i++) {
        double a = s->p[i - 1].v, b = s->p[i].v;
        if (a != b && !(isnan(a) && isnan(b)))
            k++;
    }
    *o = k;
    return true;
}

static bool f_resets(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                     double *o)
{
    double k = 0;
    for (size_t i = 1; i < s->np; i++)
        if (s->p[i].v < s->p[i - 1].v)
            k++;
    *o = k;
    return true;
}

static bool f_avg_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                     double *o)
{
    double mean = 0, count = 0, comp = 0;
    for (size_t i = 0; i < s->np; i++) {
        double v = s->p[i].v;
        count++;
        if (isinf(mean)) {
            if (isinf(v) && (mean > 0) == (v > 0))
                continue;
            if (!isinf(v) && !isnan(v))
                continue;
        }
        mean = kahan_inc(v / count - mean / count, mean, &comp);
    }
    *o = isinf(mean) ? mean : mean + comp;
    return true;
}

static bool f_sum_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                     double *o)
{
    double sum = 0, comp = 0;
    for (size_t i = 0; i < s->np; i++)
        sum = kahan_inc(s->p[i].v, sum, &comp);
    *o = isinf(sum) ? sum : sum + comp;
    return true;
}

static bool f_count_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                       double *o)
{
    *o = (double)s->np;
    return true;
}

static bool f_max_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                     double *o)
{
    double m = s->p[0].v;
    for (size_t i = 1; i < s->np; i++)
        if (s->p[i].v > m || isnan(m))
            m = s->p[i].v;
    *o = m;
    return true;
}

static bool f_min_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                     double *o)
{
    double m = s->p[0].v;
    for (size_t i = 1; i < s->np; i++)
        if (s->p[i].v < m || isnan(m))
            m = s->p[i].v;
    *o = m;
    return true;
}

static bool f_last_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s, double q,
                      double *o)
{
    *o = s->p[s->np - 1].v;
    return true;
}

static bool f_present_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s,
                         double q, double *o)
{
    *o = 1;
    return true;
}

static double stdvar_ot(const struct pq_pts *s)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < s->np; i++) {
        double v = s->p[i].v;
        count++;
        double delta = v - (mean + cmean);
        mean = kahan_inc(delta / count, mean, &cmean);
        aux = kahan_inc(delta * (v - (mean + cmean)), aux, &caux);
    }
    return (aux + caux) / count;
}

static bool f_stdvar_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s,
                        double q, double *o)
{
    *o = stdvar_ot(s);
    return true;
}

static bool f_stddev_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s,
                        double q, double *o)
{
    *o = sqrt(stdvar_ot(s));
    return true;
}

static bool f_quantile_ot(struct pq_ctx *c, const struct pq_node *n, const struct pq_pts *s,
                          double q, double *o)
{
    double *v = pq_alloc(c, s->np * sizeof(*v));
    if (!v) {
        *o = (double)NAN;
        return true;
    }
    for (size_t i = 0; i < s->np; i++)
        v[i] = s->p[i].v;
    *o = pq_quantile(q, v, s->np);
    return true;
}

static int over_series(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                       struct pq_val *out, series_fn fn)
{
    struct pq_mat *m = &args[call->nargs - 1].mat;
    double param = call->nargs > 1 ? args[0].num : 0;
    bool keep_name = fn == f_last_ot;
    int err = pq_vec_new(c, m->n, &out->vec);
    for (size_t i = 0; !err && i < m->n; i++) {
        double v;
        if (!fn(c, call, &m->s[i], param, &v))
            continue;
        struct pq_sample o = {m->s[i].l, m->s[i].n, v};
        if (!keep_name)
            err = pq_labels_filter(c, o.l, o.n, NULL, 0, false, true, &o.l, &o.n);
        out->vec.s[out->vec.n++] = o;
    }
    return err ? err : pq_vec_check_unique(c, &out->vec);
}

#define RANGE_FN(name, f)                                                                        \
    static int name(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,           \
                    struct pq_val *out)                                                          \
    {                                                                                            \
        return over_series(c, call, args, out, f);                                               \
    }
RANGE_FN(fn_rate, f_rate)
RANGE_FN(fn_increase, f_increase)
RANGE_FN(fn_delta, f_delta)
RANGE_FN(fn_irate, f_irate)
RANGE_FN(fn_idelta, f_idelta)
RANGE_FN(fn_changes, f_changes)
RANGE_FN(fn_resets, f_resets)
RANGE_FN(fn_avg_ot, f_avg_ot)
RANGE_FN(fn_sum_ot, f_sum_ot)
RANGE_FN(fn_count_ot, f_count_ot)
RANGE_FN(fn_max_ot, f_max_ot)
RANGE_FN(fn_min_ot, f_min_ot)
RANGE_FN(fn_last_ot, f_last_ot)
RANGE_FN(fn_present_ot, f_present_ot)
RANGE_FN(fn_stdvar_ot, f_stdvar_ot)
RANGE_FN(fn_stddev_ot, f_stddev_ot)
RANGE_FN(fn_quantile_ot, f_quantile_ot)

/* ---- instant-vector functions ---- */

static double sgn(double v)
{
    return v > 0 ? 1 : v < 0 ? -1 : v;
}

static double deg(double v)
{
    return v * 180 / M_PI;
}

static double rad(double v)
{
    return v * M_PI / 180;
}

/* Applies f to each element, dropping the metric name (simpleFunc). */
static int each(struct pq_ctx *c, struct pq_val *args, struct pq_val *out, double (*f)(double))
{
    struct pq_vec *in = &args[0].vec;
    int err = pq_vec_new(c, in->n, &out->vec);
    for (size_t i = 0; !err && i < in->n; i++) {
        struct pq_sample o = {in->s[i].l, in->s[i].n, f(in->s[i].v)};
        err = pq_labels_filter(c, o.l, o.n, NULL, 0, false, true, &o.l, &o.n);
        out->vec.s[out->vec.n++] = o;
    }
    return err ? err : pq_vec_check_unique(c, &out->vec);
}

#define EACH_FN(name, f)                                                                         \
    static int name(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,           \
                    struct pq_val *out)                                                          \
    {                                                                                            \
        return each(c, args, out, f);                                                            \
    }
EACH_FN(fn_abs, fabs)
EACH_FN(fn_ceil, ceil)
EACH_FN(fn_floor, floor)
EACH_FN(fn_exp, exp)
EACH_FN(fn_ln, log)
EACH_FN(fn_log2, pq_go_log2)
EACH_FN(fn_log10, pq_go_log10)
EACH_FN(fn_sqrt, sqrt)
EACH_FN(fn_sgn, sgn)
EACH_FN(fn_acos, acos)
EACH_FN(fn_acosh, acosh)
EACH_FN(fn_asin, asin)
EACH_FN(fn_asinh, asinh)
EACH_FN(fn_atan, pq_go_atan)
EACH_FN(fn_atanh, atanh)
EACH_FN(fn_cos, cos)
EACH_FN(fn_cosh, cosh)
EACH_FN(fn_sin, sin)
EACH_FN(fn_sinh, sinh)
EACH_FN(fn_tan, tan)
EACH_FN(fn_tanh, tanh)
EACH_FN(fn_deg, deg)
EACH_FN(fn_rad, rad)

/* clamp, clamp_min, clamp_max, round: element-wise with scalar bounds. */
static int bounded(struct pq_ctx *c, struct pq_val *args, struct pq_val *out, int kind, double a,
                   double b)
{
    struct pq_vec *in = &args[0].vec;
    int err = pq_vec_new(c, in->n, &out->vec);
    if (err || (kind == 0 && b < a))
        return err; /* clamp with max < min is empty */
    for (size_t i = 0; !err && i < in->n; i++) {
        double v = in->s[i].v;
        switch (kind) {
        case 0: v = go_max(a, go_min(b, v)); break;
        case 1: v = go_max(a, v); break;
        case 2: v = go_min(a, v); break;
        default: v = floor(v * (1.0 / a) + 0.5) / (1.0 / a); break;
        }
        struct pq_sample o = {in->s[i].l, in->s[i].n, v};
        err = pq_labels_filter(c, o.l, o.n, NULL, 0, false, true, &o.l, &o.n);
        out->vec.s[out->vec.n++] = o;
    }
    return err ? err : pq_vec_check_unique(c, &out->vec);
}

static int fn_clamp(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                    struct pq_val *out)
{
    return bounded(c, args, out, 0, args[1].num, args[2].num);
}

static int fn_clamp_min(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                        struct pq_val *out)
{
    return bounded(c, args, out, 1, args[1].num, 0);
}

static int fn_clamp_max(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                        struct pq_val *out)
{
    return bounded(c, args, out, 2, args[1].num, 0);
}

static int fn_round(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                    struct pq_val *out)
{
    return bounded(c, args, out, 3, call->nargs > 1 ? args[1].num : 1, 0);
}

/* absent's labels: those of the selector's equality matchers, except a
 * name matched more than once (createLabelsForAbsentFunction). */
static int absent_labels(struct pq_ctx *c, const struct pq_node *arg, struct pq_sample *o)
{
    o->l = NULL;
    o->n = 0;
    if (arg->kind == PQ_MSEL)
        arg = arg->a;
    if (arg->kind != PQ_SEL)
        return 0;
    for (size_t i = 0; i < arg->nm; i++) {
        const struct pq_matcher *m = &arg->m[i];
        if (!strcmp(m->name, "__name__"))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= !strcmp(arg->m[j].name, m->name) && arg->m[j].type == PQ_M_EQ;
        const char *v = m->type == PQ_M_EQ && !seen ? m->value : "";
        int err = pq_labels_set(c, o->l, o->n, m->name, v, &o->l, &o->n);
        if (err)
            return err;
    }
    return 0;
}

static int absent_of(struct pq_ctx *c, const struct pq_node *call, size_t n, struct pq_val *out)
{
    int err = pq_vec_new(c, 1, &out->vec);
    if (err || n)
        return err;
    struct pq_sample o = {.v = 1};
    if ((err = absent_labels(c, call->args[0], &o)) != 0)
        return err;
    out->vec.s[out->vec.n++] = o;
    return 0;
}

static int fn_absent(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                     struct pq_val *out)
{
    return absent_of(c, call, args[0].vec.n, out);
}

static int fn_absent_ot(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                        struct pq_val *out)
{
    return absent_of(c, call, args[0].mat.n, out);
}

static int fn_vector(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                     struct pq_val *out)
{
    int err = pq_vec_new(c, 1, &out->vec);
    if (!err)
        out->vec.s[out->vec.n++] = (struct pq_sample){NULL, 0, args[0].num};
    return err;
}

static int fn_scalar(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                     struct pq_val *out)
{
    out->num = args[0].vec.n == 1 ? args[0].vec.s[0].v : (double)NAN;
    return 0;
}

static int fn_time(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                   struct pq_val *out)
{
    out->num = (double)c->t / 1000;
    return 0;
}

static int fn_pi(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                 struct pq_val *out)
{
    out->num = M_PI;
    return 0;
}

/* sort and sort_desc keep labels; NaN sorts first in both (the heap orders). */
static int cmp_sort(const void *a, const void *b)
{
    double x = ((const struct pq_sample *)a)->v, y = ((const struct pq_sample *)b)->v;
    bool lx = isnan(x) || x < y, ly = isnan(y) || y < x;
    return lx ? -1 : ly ? 1 : 0;
}

static int cmp_sort_desc(const void *a, const void *b)
{
    double x = ((const struct pq_sample *)a)->v, y = ((const struct pq_sample *)b)->v;
    bool lx = isnan(x) || x > y, ly = isnan(y) || y > x;
    return lx ? -1 : ly ? 1 : 0;
}

static int fn_sort(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                   struct pq_val *out)
{
    out->vec = args[0].vec;
    qsort(out->vec.s, out->vec.n, sizeof(*out->vec.s), cmp_sort);
    return 0;
}

static int fn_sort_desc(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                        struct pq_val *out)
{
    out->vec = args[0].vec;
    qsort(out->vec.s, out->vec.n, sizeof(*out->vec.s), cmp_sort_desc);
    return 0;
}

#define S PROMQL_SCALAR
#define V PROMQL_VECTOR
#define M PROMQL_MATRIX

static const struct pq_func funcs[] = {
    {"abs", {V}, 1, 1, V, fn_abs},
    {"absent", {V}, 1, 1, V, fn_absent},
    {"absent_over_time", {M}, 1, 1, V, fn_absent_ot},
    {"acos", {V}, 1, 1, V, fn_acos},
    {"acosh", {V}, 1, 1, V, fn_acosh},
    {"asin", {V}, 1, 1, V, fn_asin},
    {"asinh", {V}, 1, 1, V, fn_asinh},
    {"atan", {V}, 1, 1, V, fn_atan},
    {"atanh", {V}, 1, 1, V, fn_atanh},
    {"avg_over_time", {M}, 1, 1, V, fn_avg_ot},
    {"ceil", {V}, 1, 1, V, fn_ceil},
    {"changes", {M}, 1, 1, V, fn_changes},
    {"clamp", {V, S, S}, 3, 3, V, fn_clamp},
    {"clamp_max", {V, S}, 2, 2, V, fn_clamp_max},
    {"clamp_min", {V, S}, 2, 2, V, fn_clamp_min},
    {"cos", {V}, 1, 1, V, fn_cos},
    {"cosh", {V}, 1, 1, V, fn_cosh},
    {"count_over_time", {M}, 1, 1, V, fn_count_ot},
    {"day_of_month", {V}, 0, 1, V, pq_fn_date},
    {"day_of_week", {V}, 0, 1, V, pq_fn_date},
    {"day_of_year", {V}, 0, 1, V, pq_fn_date},
    {"days_in_month", {V}, 0, 1, V, pq_fn_date},
    {"deg", {V}, 1, 1, V, fn_deg},
    {"deriv", {M}, 1, 1, V, pq_fn_deriv},
    {"delta", {M}, 1, 1, V, fn_delta},
    {"exp", {V}, 1, 1, V, fn_exp},
    {"floor", {V}, 1, 1, V, fn_floor},
    {"histogram_quantile", {S, V}, 2, 2, V, pq_histogram_quantile},
    {"hour", {V}, 0, 1, V, pq_fn_date},
    {"idelta", {M}, 1, 1, V, fn_idelta},
    {"increase", {M}, 1, 1, V, fn_increase},
    {"irate", {M}, 1, 1, V, fn_irate},
    {"last_over_time", {M}, 1, 1, V, fn_last_ot},
    {"ln", {V}, 1, 1, V, fn_ln},
    {"log10", {V}, 1, 1, V, fn_log10},
    {"log2", {V}, 1, 1, V, fn_log2},
    {"max_over_time", {M}, 1, 1, V, fn_max_ot},
    {"min_over_time", {M}, 1, 1, V, fn_min_ot},
    {"minute", {V}, 0, 1, V, pq_fn_date},
    {"month", {V}, 0, 1, V, pq_fn_date},
    {"pi", {S}, 0, 0, S, fn_pi},
    {"predict_linear", {M, S}, 2, 2, V, pq_fn_predict_linear},
    {"present_over_time", {M}, 1, 1, V, fn_present_ot},
    {"quantile_over_time", {S, M}, 2, 2, V, fn_quantile_ot},
    {"rad", {V}, 1, 1, V, fn_rad},
    {"rate", {M}, 1, 1, V, fn_rate},
    {"resets", {M}, 1, 1, V, fn_resets},
    {"round", {V, S}, 1, 2, V, fn_round},
    {"scalar", {V}, 1, 1, S, fn_scalar},
    {"sgn", {V}, 1, 1, V, fn_sgn},
    {"sin", {V}, 1, 1, V, fn_sin},
    {"sinh", {V}, 1, 1, V, fn_sinh},
    {"sort", {V}, 1, 1, V, fn_sort},
    {"sort_desc", {V}, 1, 1, V, fn_sort_desc},
    {"sqrt", {V}, 1, 1, V, fn_sqrt},
    {"stddev_over_time", {M}, 1, 1, V, fn_stddev_ot},
    {"stdvar_over_time", {M}, 1, 1, V, fn_stdvar_ot},
    {"sum_over_time", {M}, 1, 1, V, fn_sum_ot},
    {"tan", {V}, 1, 1, V, fn_tan},
    {"tanh", {V}, 1, 1, V, fn_tanh},
    {"time", {S}, 0, 0, S, fn_time},
    {"timestamp", {V}, 1, 1, V, pq_fn_timestamp},
    {"vector", {S}, 1, 1, V, fn_vector},
    {"year", {V}, 0, 1, V, pq_fn_date},
};

const struct pq_func *pq_func_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strlen(funcs[i].name) == len && !memcmp(funcs[i].name, name, len))
            return &funcs[i];
    return NULL;
}

bool pq_func_known(const char *name, size_t len)
{
    static const char *const others[] = {
        "holt_winters", "label_join", "label_replace", "histogram_count", "histogram_sum",
        "histogram_fraction", "histogram_stddev", "histogram_stdvar"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (strlen(others[i]) == len && !memcmp(others[i], name, len))
            return true;
    return false;
}
