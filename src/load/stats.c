/* stats: samples, percentiles, Poisson arrivals. See stats.h. */
#include "load/stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void samples_init(struct samples *s, size_t cap, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->cap = cap ? cap : 1;
    s->rng = seed;
}

void samples_release(struct samples *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->alloc = 0;
}

int samples_add(struct samples *s, double x)
{
    if (s->seen == 0 || x < s->min)
        s->min = x;
    if (s->seen == 0 || x > s->max)
        s->max = x;
    s->seen++;
    s->sum += x;
    s->sorted = false;
    if (s->n == s->cap) {
        /* Algorithm R: the i-th value (1-based) replaces a kept one with
         * probability cap / i. */
        uint64_t j = rng_next(&s->rng) % s->seen;
        if (j < s->cap)
            s->v[j] = x;
        return 0;
    }
    if (s->n == s->alloc) {
        size_t na = s->alloc ? s->alloc * 2 : 64;
        if (na > s->cap)
            na = s->cap;
        double *nv = realloc(s->v, na * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        s->v = nv;
        s->alloc = na;
    }
    s->v[s->n++] = x;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double samples_percentile(struct samples *s, double p)
{
    if (s->n == 0)
        return (double)NAN;
    if (!s->sorted) {
        qsort(s->v, s->n, sizeof(*s->v), cmp_double);
        s->sorted = true;
    }
    if (p <= 0)
        return s->v[0];
    if (p >= 100)
        return s->v[s->n - 1];
    double h = (double)(s->n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= s->n)
        return s->v[s->n - 1];
    return s->v[lo] + (h - (double)lo) * (s->v[lo + 1] - s->v[lo]);
}

double samples_mean(const struct samples *s)
{
    return s->seen ? s->sum / (double)s->seen : (double)NAN;
}

uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    *state += 0x9e3779b97f4a7c15ULL;
    return mix64(x);
}

double rng_uniform(uint64_t *state)
{
    return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

double poisson_gap(uint64_t *state, double rate)
{
    /* Inverse transform: -ln(1 - U) / rate, U in [0, 1), so never ln(0). */
    return -log1p(-rng_uniform(state)) / rate;
}
