/* regress: deriv and predict_linear, Prometheus 2.42's linearRegression
 * (least squares with Kahan-Neumaier sums, times in seconds from an
 * intercept time close to the samples, a constant series' slope 0). */
#include <math.h>
#include <stdbool.h>

#include "promql/pq.h"

int pq_fn_deriv(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                struct pq_val *out);
int pq_fn_predict_linear(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                         struct pq_val *out);

static double kahan(double inc, double sum, double *comp)
{
    double t = sum + inc;
    if (fabs(sum) >= fabs(inc))
        *comp += (sum - t) + inc;
    else
        *comp += (inc - t) + sum;
    return t;
}

static void regression(const struct pq_pts *s, int64_t intercept_t, double *slope,
                       double *intercept)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init = s->p[0].v;
    bool constant = true;
    for (size_t i = 0; i < s->np; i++) {
        double v = s->p[i].v;
        if (constant && i > 0 && v != init)
            constant = false;
        n += 1;
        double x = (double)(s->p[i].t - intercept_t) / 1e3;
        sx = kahan(x, sx, &cx);
        sy = kahan(v, sy, &cy);
        sxy = kahan(x * v, sxy, &cxy);
        sx2 = kahan(x * x, sx2, &cx2);
    }
    if (constant) {
        *slope = isinf(init) ? (double)NAN : 0;
        *intercept = isinf(init) ? (double)NAN : init;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n, var = sx2 - sx * sx / n;
    *slope = cov / var;
    *intercept = sy / n - *slope * sx / n;
}

/* One value per series of at least two samples, the metric name dropped. */
static int per_series(struct pq_ctx *c, const struct pq_mat *m, double horizon, bool predict,
                      struct pq_val *out)
{
    int err = pq_vec_new(c, m->n, &out->vec);
    for (size_t i = 0; !err && i < m->n; i++) {
        const struct pq_pts *s = &m->s[i];
        if (s->np < 2)
            continue;
        double slope, intercept;
        /* deriv takes the first sample's time as the intercept time to keep
         * x small (prometheus#2674); predict_linear the evaluation time. */
        regression(s, predict ? c->t : s->p[0].t, &slope, &intercept);
        struct pq_sample o = {s->l, s->n, predict ? slope * horizon + intercept : slope};
        err = pq_labels_filter(c, o.l, o.n, NULL, 0, false, true, &o.l, &o.n);
        out->vec.s[out->vec.n++] = o;
    }
    return err ? err : pq_vec_check_unique(c, &out->vec);
}

int pq_fn_deriv(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                struct pq_val *out)
{
    return per_series(c, &args[0].mat, 0, false, out);
}

int pq_fn_predict_linear(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                         struct pq_val *out)
{
    return per_series(c, &args[0].mat, args[1].num, true, out);
}
