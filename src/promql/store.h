/* store: the embedded, bounded, in-memory time-series store that PromQL
 * reads (issue 5).
 *
 * A series is its label set (sorted by name, "__name__" among them) and its
 * (time, value) samples, compressed in chunks Gorilla's way (about a bit a
 * sample for a regular scrape of a value that does not change). Everything
 * is bounded by struct store_limits, set when the store is created: the
 * number of series, the samples kept per series (past it the oldest sample
 * goes first), the bytes held in all, and the retention that store_gc
 * enforces. A new series or sample past a limit is refused with -ENOSPC and
 * counted, never grown.
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
    size_t max_samples_per_series; /* at most UINT32_MAX; the oldest sample goes first */
    size_t max_bytes;              /* labels, chunks and index, all series together, as allocated */
    int64_t retention_ms;          /* store_gc drops samples older than this */
};

struct store_sample {
    int64_t t; /* milliseconds since the epoch */
    double v;
};

/* Samples per chunk (fewer when max_samples_per_series is smaller), runs
 * aside: a random read decodes at most one chunk, and a run at once. */
#define STORE_CHUNK_SAMPLES 120

/* A chunk: STORE_CHUNK_SAMPLES samples as one Gorilla bit stream (see
 * docs/promql.md): the first time and value raw, then each time as the
 * change of its distance from the one before and each value XOR'd with
 * the one before, repeats in a row as a run. A full chunk still takes the
 * repeats of a run it ends in (up to UINT16_MAX samples), so an idle
 * series is one small chunk. The newest chunk is appended to in place; the
 * others are trimmed to their bytes. */
struct store_chunk {
    unsigned char *buf; /* cap bytes, bits nbits on zero */
    uint32_t nbits;
    uint16_t n;   /* samples */
    uint16_t cap; /* bytes allocated */
};

/* What the next sample is encoded against, or decoded from: the previous
 * sample, its distance from the one before (in ms, modulo 2^64) and the
 * window of meaningful bits of the previous XOR (lead 0xff: none yet). */
struct store_xor {
    int64_t t;
    uint64_t dt;
    uint64_t v; /* a double's bits */
    unsigned char lead, trail;
    /* Repeats: samples at the same distance with the same value. The
     * appender's: how many end its chunk now (a run token from
     * STORE_RUN_MIN on); a reader's: how many of a run token are still to
     * come. */
    uint32_t run;
};

/* Repeats in a row from which they are one run token instead of 2 bits
 * each: 5 + 5 bits and the count's, so a value that does not change for
 * an hour costs a few bytes. */
#define STORE_RUN_MIN 8

struct store_series {
    uint64_t hash;              /* of the label set, see store_labels_hash */
    struct store_chunk *chunks; /* nchunks, oldest first; the last is appended to */
    uint32_t nchunks, chunks_cap;
    uint32_t len;               /* samples held */
    uint32_t skip;              /* dropped samples at the start of chunks[0] */
    struct store_xor last;      /* the newest sample, the appender's state */
    uint32_t nlabels;
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
    size_t sample_bytes;          /* of bytes, the chunks' */
    uint64_t rejected;            /* appends refused with -ENOSPC */
    struct store_cursor *cursors; /* STORE_CURSORS, made by the first cached read */
    uint64_t gen;                 /* changes with every append and gc: cursors older are void */
    struct strtab strs;           /* label names and values, shared by the series */
};

struct store_stats {
    size_t series, samples, bytes;
    size_t sample_bytes; /* of bytes, the chunks' (their buffers and arrays) */
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

/* A chunk's bits being read: the next are the top nw of w, then from p. */
struct store_bitr {
    const unsigned char *p, *end;
    uint64_t w;
    unsigned nw;
};

/* A reader of a series' samples in time order, decoding one at a time
 * (O(1) each). Valid while the series is not appended to or gc'd. */
struct store_iter {
    const struct store_series *se;
    size_t chunk;     /* in se->chunks */
    uint32_t i;       /* samples of the chunk decoded so far */
    struct store_bitr r;
    size_t index;     /* of the next sample in the series (of x while pending) */
    struct store_xor x;
    int pending;      /* x is the next sample, already decoded (by a seek) */
};

/* Positions it at sample i (0 the oldest; se->len: the end). */
void store_iter_init(struct store_iter *it, const struct store_series *se, size_t i);
/* Positions it at the first sample with t >= t_ms and returns that
 * sample's index (se->len if none). Decodes at most one chunk. */
size_t store_iter_seek(struct store_iter *it, const struct store_series *se, int64_t t_ms);
/* The next sample into *out; 0 at the end. */
int store_iter_next(struct store_iter *it, struct store_sample *out);

/* Up to n next samples into out (oldest first); how many there were. */
size_t store_iter_read(struct store_iter *it, struct store_sample *out, size_t n);

/* Where a cached read of a series left off. A range query reads each
 * series at one step after the other, each a little later: it goes on
 * from here instead of decoding the chunk again from its start. */
struct store_cursor {
    const struct store_series *se;
    uint64_t gen;
    struct store_xor x;  /* sample index, decoded */
    uint32_t chunk, i;   /* in se->chunks; samples of it decoded */
    uint32_t pos, index; /* the bit after x; x's index in the series */
};

/* Cursors a store keeps for cached reads, direct-mapped by series: a
 * range query over up to a few thousand series mostly finds its own. */
#define STORE_CURSORS 4096

/* store_iter_seek and store_series_before, going on from where the last
 * cached read of the series left off when it is before t_ms. The cursors
 * are s's (counted against max_bytes; without room, reads are uncached). */
size_t store_seek_cached(struct store *s, struct store_iter *it, const struct store_series *se,
                         int64_t t_ms);
int store_before_cached(struct store *s, const struct store_series *se, int64_t t_ms,
                        struct store_sample *out);

/* How many of the samples from it on are before t_ms (it is unmoved). */
size_t store_iter_count(const struct store_iter *it, int64_t t_ms);

/* Sample i of a series, 0 the oldest: O(1) for the newest, else it
 * decodes up to one chunk; readers going through samples use an iterator. */
struct store_sample store_series_at(const struct store_series *se, size_t i);
/* The index of the first sample with t >= t_ms (se->len if none). */
size_t store_series_seek(const struct store_series *se, int64_t t_ms);
/* The newest sample with t <= t_ms into *out; 0 if there is none. */
int store_series_before(const struct store_series *se, int64_t t_ms, struct store_sample *out);

#endif
