/* store: the embedded, bounded, in-memory time-series store that PromQL
 * reads (issue 5).
 *
 * A series is its label set (sorted by name, "__name__" among them) and a
 * ring buffer of (time, value) samples. Everything is bounded by struct
 * store_limits, set when the store is created: the number of series, the
 * samples kept per series (a full ring overwrites its oldest sample), the
 * bytes held in all, and the retention that store_gc enforces. A new series
 * or sample past a limit is refused with -ENOSPC and counted, never grown.
 *
 * Staleness is Prometheus's: a sample whose value is prom_stale_nan() is
 * stored like any other and ends the series at its time for queries.
 * Single-threaded: the scraper appends and PromQL reads on the same loop. */
#ifndef EBB_PROMQL_STORE_H
#define EBB_PROMQL_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "prom/labels.h"
#include "prom/strtab.h"

struct store_limits {
    size_t max_series;             /* series held at once */
    size_t max_samples_per_series; /* ring size, at most UINT32_MAX; the oldest sample goes first */
    size_t max_bytes;              /* labels, samples and index, all series together */
    int64_t retention_ms;          /* store_gc drops samples older than this */
};

struct store_sample {
    int64_t t; /* milliseconds since the epoch */
    double v;
};

/* A series' samples are kept narrow while they allow it, 4 or 8 bytes
 * instead of 16: a time as a 32-bit offset from t0; no value at all while
 * every value is v0 (bit for bit: an idle counter, an empty histogram
 * bucket), else a float when the float gives back the very same double (the
 * stale marker included). The first sample that does not fit widens the
 * ring for good. */
struct store_series {
    uint64_t hash;             /* of the label set, see store_labels_hash */
    unsigned char *ring;       /* cap times, then cap values; len of them in use from head on */
    uint32_t cap, head, len;
    uint32_t counted;          /* cells counted against max_bytes; len <= counted <= cap */
    int64_t t0;                /* 4-byte times are milliseconds after this */
    double v0;                 /* every sample's value while vbytes is 0 */
    uint32_t nlabels;
    unsigned char tbytes;      /* a time's bytes in the ring: 4 (uint32_t after t0) or 8 */
    unsigned char vbytes;      /* a value's: 0 (v0), 4 (float) or 8 (double) */
    struct prom_label labels[]; /* sorted by name; the strings are the store's shared ones */
};

struct store {
    struct store_limits lim;
    struct store_series **series; /* nseries in creation order (gc keeps the order) */
    size_t nseries, series_cap;
    struct store_series **table;  /* open addressing by hash, table_cap a power of two */
    size_t table_cap;
    size_t nsamples;
    size_t bytes;
    uint64_t rejected;            /* appends refused with -ENOSPC */
    struct strtab strs;           /* label names and values, shared by the series */
};

struct store_stats {
    size_t series, samples, bytes;
    uint64_t rejected;
};

/* 100,000 series, 1,024 samples per series (15 minutes at 1 s and some),
 * 256 MiB, 15 minutes' retention. */
void store_limits_defaults(struct store_limits *l);
/* Sets up an empty store with a copy of l. Allocates nothing. 0 or -EINVAL. */
int store_init(struct store *s, const struct store_limits *l);
/* Frees every series; the store is empty and reusable with the same limits. */
void store_release(struct store *s);

/* Appends one sample to the series with these labels (sorted by name,
 * __name__ included; pairs with an empty value are ignored, as Prometheus
 * does), creating it if needed. t in ms since the epoch, non-decreasing per
 * series: an older sample is refused with -EINVAL, one at the same time
 * replaces the last. v may be prom_stale_nan(). 0, -ENOSPC past a limit
 * (counted in rejected), -EINVAL, or -ENOMEM. Copies what it keeps. */
int store_append(struct store *s, const struct prom_label *labels, size_t n, int64_t t_ms, double v);
/* Drops samples older than now_ms - retention and series left with none. */
void store_gc(struct store *s, int64_t now_ms);
void store_stats(const struct store *s, struct store_stats *out);

/* The series with exactly these labels (sorted), or NULL. */
struct store_series *store_find(const struct store *s, const struct prom_label *labels, size_t n);
/* Hash of a sorted label set, ignoring empty values. */
uint64_t store_labels_hash(const struct prom_label *labels, size_t n);

/* The float that stands for the stale marker in a narrow ring: a
 * signalling NaN, which no conversion from a double yields. */
#define STORE_STALE_FLOAT_BITS UINT32_C(0x7f800002)

/* Sample i of a series, 0 the oldest. */
static inline struct store_sample store_series_at(const struct store_series *se, size_t i)
{
    size_t k = se->head + i;
    if (k >= se->cap)
        k -= se->cap;
    struct store_sample smp;
    if (se->tbytes == 8) {
        memcpy(&smp.t, se->ring + k * 8, 8);
    } else {
        uint32_t dt;
        memcpy(&dt, se->ring + k * 4, 4);
        smp.t = se->t0 + dt;
    }
    const unsigned char *vals = se->ring + se->cap * se->tbytes;
    if (se->vbytes == 8) {
        memcpy(&smp.v, vals + k * 8, 8);
    } else if (se->vbytes == 4) {
        uint32_t bits;
        float f;
        memcpy(&bits, vals + k * 4, 4);
        memcpy(&f, &bits, 4);
        smp.v = bits == STORE_STALE_FLOAT_BITS ? prom_stale_nan() : (double)f;
    } else {
        smp.v = se->v0;
    }
    return smp;
}

/* The index of the first sample with t >= t_ms (se->len if none). */
size_t store_series_seek(const struct store_series *se, int64_t t_ms);

#endif
