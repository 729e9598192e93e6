/* stats: latency samples, percentiles and seeded random arrivals for the
 * load generator. Pure: no clock, no I/O.
 *
 * Percentiles use linear interpolation between closest ranks, numpy's
 * default (method "linear", Hyndman & Fan type 7): for sorted x[0..n-1] and
 * p in [0, 100], h = (n-1)p/100 and the result is
 * x[floor(h)] + (h - floor(h)) (x[floor(h)+1] - x[floor(h)]).
 *
 * A sample set keeps at most cap values; past that it keeps a uniform
 * random subset of everything added (reservoir sampling, Algorithm R, with
 * a seeded generator), so memory stays bounded on long runs and
 * percentiles stay unbiased estimates. Count, mean, min and max are exact. */
#ifndef EBB_LOAD_STATS_H
#define EBB_LOAD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct samples {
    double *v;     /* kept values, unsorted until a percentile is asked */
    size_t n;      /* values kept */
    size_t alloc;  /* slots allocated (grows to cap) */
    size_t cap;    /* most values kept */
    uint64_t seen; /* values added in all */
    double sum, min, max;
    uint64_t rng; /* reservoir's generator state */
    bool sorted;
};

/* An empty set keeping at most cap values (cap >= 1). Allocates nothing yet. */
void samples_init(struct samples *s, size_t cap, uint64_t seed);
void samples_release(struct samples *s);
/* Adds x. 0 or -ENOMEM (x is then counted in seen, sum, min and max only). */
int samples_add(struct samples *s, double x);
/* The p-th percentile (0..100) as defined above; NAN when empty. Sorts the
 * kept values in place. */
double samples_percentile(struct samples *s, double p);
/* The mean of everything added; NAN when empty. */
double samples_mean(const struct samples *s);

/* The next value of a splitmix64 stream. */
uint64_t rng_next(uint64_t *state);
/* A uniform double in [0, 1). */
double rng_uniform(uint64_t *state);
/* The gap to the next arrival of a Poisson process of rate arrivals per
 * second: exponentially distributed with mean 1/rate, in seconds. */
double poisson_gap(uint64_t *state, double rate);

#endif
