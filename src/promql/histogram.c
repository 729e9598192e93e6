/* histogram: histogram_quantile over classic buckets, as Prometheus 2.42's
 * bucketQuantile: buckets grouped by all labels but "le" and the metric
 * name, sorted by upper bound, equal bounds merged, counts forced
 * monotonic, the +Inf bucket required, linear interpolation inside the
 * bucket the rank falls in. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promql/pq.h"

int pq_histogram_quantile(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                          struct pq_val *out);

struct bucket {
    double upper, count;
};

struct hgroup {
    const struct prom_label *l;
    size_t n;
    struct bucket *b;
    size_t nb;
};

static int cmp_bucket(const void *a, const void *b)
{
    double x = ((const struct bucket *)a)->upper, y = ((const struct bucket *)b)->upper;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double bucket_quantile(double q, struct bucket *b, size_t n)
{
    if (isnan(q))
        return (double)NAN;
    if (q < 0)
        return -(double)INFINITY;
    if (q > 1)
        return (double)INFINITY;
    qsort(b, n, sizeof(*b), cmp_bucket);
    if (!n || !(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
        return (double)NAN;
    /* Merge buckets with the same bound (coalesceBuckets). */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && b[k - 1].upper == b[i].upper)
            b[k - 1].count += b[i].count;
        else
            b[k++] = b[i];
    }
    n = k;
    /* Scrapes of buckets at slightly different times can break
     * monotonicity; take the running maximum (ensureMonotonic). */
    double max = -(double)INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (b[i].count > max)
            max = b[i].count;
        else if (b[i].count < max)
            b[i].count = max;
    }
    if (n < 2)
        return (double)NAN;
    double observations = b[n - 1].count;
    if (observations == 0)
        return (double)NAN;
    double rank = q * observations;
    size_t i = 0;
    while (i < n - 1 && !(b[i].count >= rank))
        i++;
    if (i == n - 1)
        return b[n - 2].upper;
    if (i == 0 && b[0].upper <= 0)
        return b[0].upper;
    double start = 0, end = b[i].upper, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].upper;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

static bool parse_le(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return false;
    *out = strtod(s, &end);
    return *end == 0;
}

int pq_histogram_quantile(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                          struct pq_val *out)
{
    static const char *le[] = {"le"};
    double q = args[0].num;
    struct pq_vec *in = &args[1].vec;
    struct hgroup *g = pq_alloc(c, in->n * sizeof(*g));
    struct pq_map m;
    int err = g ? pq_map_init(c, &m, in->n) : PROMQL_ERR_EXEC;
    if (err)
        return err;
    size_t ng = 0;
    size_t *gidx = pq_alloc(c, in->n * sizeof(*gidx));
    double *upper = pq_alloc(c, in->n * sizeof(*upper));
    if (!gidx || !upper)
        return PROMQL_ERR_EXEC;
    /* Two passes, so that each group's buckets take only their own room. */
    for (size_t i = 0; i < in->n; i++) {
        gidx[i] = SIZE_MAX;
        if (!parse_le(pq_labels_get(in->s[i].l, in->s[i].n, "le"), &upper[i]))
            continue;
        size_t *slot = pq_map_slot(&m, pq_labels_sig(in->s[i].l, in->s[i].n, le, 1, false));
        if (!*slot) {
            struct hgroup *h = &g[ng];
            memset(h, 0, sizeof(*h));
            err = pq_labels_filter(c, in->s[i].l, in->s[i].n, le, 1, false, true, &h->l, &h->n);
            if (err)
                return err;
            *slot = ++ng;
        }
        gidx[i] = *slot - 1;
        g[gidx[i]].nb++;
    }
    for (size_t i = 0; i < ng; i++) {
        if (!(g[i].b = pq_alloc(c, g[i].nb * sizeof(*g[i].b))))
            return PROMQL_ERR_EXEC;
        g[i].nb = 0;
    }
    for (size_t i = 0; i < in->n; i++)
        if (gidx[i] != SIZE_MAX)
            g[gidx[i]].b[g[gidx[i]].nb++] = (struct bucket){upper[i], in->s[i].v};
    if ((err = pq_vec_new(c, ng, &out->vec)) != 0)
        return err;
    for (size_t i = 0; i < ng; i++)
        out->vec.s[out->vec.n++] =
            (struct pq_sample){g[i].l, g[i].n, bucket_quantile(q, g[i].b, g[i].nb)};
    return 0;
}
