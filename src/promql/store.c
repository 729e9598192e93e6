/* store: bounded per-series ring buffers with a hash index. See store.h. */
#include "promql/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* What a series' header counts against max_bytes: a constant, so that the
 * limit admits the same series whatever the struct's layout. */
#define STORE_SERIES_HEADER_BYTES 64

/* A new series starts with room for this many samples; the ring doubles up
 * to max_samples_per_series while the byte limit allows. */
#define STORE_RING_MIN 8

/* A new ring has the bytes that STORE_RING_MIN 16-byte cells would, which
 * hold more narrow cells: room to grow to 32 samples without moving, and
 * without the holes in the heap that freed small rings leave (series are
 * scraped together, so they all grow at once). */
#define STORE_RING_FIRST_BYTES (STORE_RING_MIN * sizeof(struct store_sample))


/* The bytes a time needs in se's ring (t0 set): 4 or 8. */
static unsigned char time_bytes(const struct store_series *se, int64_t t)
{
    return se->tbytes == 8 || t < se->t0 || (uint64_t)(t - se->t0) > UINT32_MAX ? 8 : 4;
}

/* Whether v fits a float exactly, as *bits if so. */
static bool value_narrow(double v, uint32_t *bits)
{
    if (prom_is_stale_nan(v)) {
        *bits = STORE_STALE_FLOAT_BITS;
        return true;
    }
    float f = (float)v;
    double back = (double)f;
    if (memcmp(&back, &v, sizeof(v)))
        return false;
    memcpy(bits, &f, sizeof(*bits));
    return true;
}

/* The bytes a value needs in se's ring (v0 set): 0, 4 or 8. Leaving 0, the
 * samples held so far are all v0, which must fit the new cells too. */
static unsigned char value_bytes(const struct store_series *se, double v)
{
    uint32_t bits;
    if (se->vbytes == 8 || !memcmp(&v, &se->v0, sizeof(v)))
        return se->vbytes;
    if (!value_narrow(v, &bits) || (se->vbytes == 0 && !value_narrow(se->v0, &bits)))
        return 8;
    return 4;
}

/* The cell of sample i (0 the oldest). */
static size_t ring_index(const struct store_series *se, size_t i)
{
    size_t k = se->head + i;
    return k >= se->cap ? k - se->cap : k;
}

/* Writes (t, v) into cell k, which ring_fit made wide enough for them. */
static void cell_write(struct store_series *se, size_t k, int64_t t, double v)
{
    if (se->tbytes == 8) {
        memcpy(se->ring + k * 8, &t, 8);
    } else {
        uint32_t dt = (uint32_t)(t - se->t0);
        memcpy(se->ring + k * 4, &dt, 4);
    }
    unsigned char *vals = se->ring + se->cap * se->tbytes;
    uint32_t bits;
    if (se->vbytes == 8)
        memcpy(vals + k * 8, &v, 8);
    else if (se->vbytes == 4 && value_narrow(v, &bits))
        memcpy(vals + k * 4, &bits, 4);
}

void store_limits_defaults(struct store_limits *l)
{
    l->max_series = 100000;
    l->max_samples_per_series = 1024;
    l->max_bytes = (size_t)256 << 20;
    l->retention_ms = 15 * 60 * 1000;
}

int store_init(struct store *s, const struct store_limits *l)
{
    if (!l->max_series || !l->max_samples_per_series || l->max_samples_per_series > UINT32_MAX ||
        !l->max_bytes || l->retention_ms <= 0)
        return -EINVAL;
    memset(s, 0, sizeof(*s));
    s->lim = *l;
    strtab_init(&s->strs);
    return 0;
}

/* The struct and its label pairs are one allocation; the strings are the
 * store's shared ones. */
static void series_free(struct store *s, struct store_series *se)
{
    for (size_t i = 0; i < se->nlabels; i++) {
        strtab_put(&s->strs, se->labels[i].name);
        strtab_put(&s->strs, se->labels[i].value);
    }
    free(se->ring);
    free(se);
}

void store_release(struct store *s)
{
    for (size_t i = 0; i < s->nseries; i++)
        series_free(s, s->series[i]);
    free(s->series);
    free(s->table);
    strtab_release(&s->strs);
    struct store_limits l = s->lim;
    memset(s, 0, sizeof(*s));
    s->lim = l;
    strtab_init(&s->strs);
}

uint64_t store_labels_hash(const struct prom_label *labels, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i].value[0])
            continue;
        h = hash64(labels[i].name, strlen(labels[i].name) + 1, h);
        h = hash64(labels[i].value, strlen(labels[i].value) + 1, h);
    }
    return h;
}

/* Compares a stored label set (no empty values) with a caller's (which may
 * have some, to be skipped). */
static bool labels_same(const struct store_series *se, const struct prom_label *labels, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i].value[0])
            continue;
        if (j == se->nlabels || strcmp(se->labels[j].name, labels[i].name) ||
            strcmp(se->labels[j].value, labels[i].value))
            return false;
        j++;
    }
    return j == se->nlabels;
}

struct store_series *store_find(const struct store *s, const struct prom_label *labels, size_t n)
{
    if (!s->table_cap)
        return NULL;
    uint64_t h = store_labels_hash(labels, n);
    for (size_t i = h & (s->table_cap - 1);; i = (i + 1) & (s->table_cap - 1)) {
        struct store_series *se = s->table[i];
        if (!se)
            return NULL;
        if (se->hash == h && labels_same(se, labels, n))
            return se;
    }
}

static void table_put(struct store_series **table, size_t cap, struct store_series *se)
{
    size_t i = se->hash & (cap - 1);
    while (table[i])
        i = (i + 1) & (cap - 1);
    table[i] = se;
}

/* Rebuilds the index with room for want series at half load. */
static int table_rebuild(struct store *s, size_t want)
{
    size_t cap = 16;
    while (cap < want * 2)
        cap *= 2;
    size_t old_bytes = s->table_cap * sizeof(*s->table);
    size_t new_bytes = cap * sizeof(*s->table);
    if (new_bytes > old_bytes && s->bytes - old_bytes + new_bytes > s->lim.max_bytes)
        return -ENOSPC;
    struct store_series **t = calloc(cap, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < s->nseries; i++)
        table_put(t, cap, s->series[i]);
    free(s->table);
    s->table = t;
    s->bytes = s->bytes - old_bytes + new_bytes;
    s->table_cap = cap;
    return 0;
}

/* What a series counts against max_bytes: its header, its label pairs and
 * its own copy of their strings (as it had before they were shared), its
 * ring as if every cell were 16 bytes, and its slot in s->series. */
static size_t series_bytes(size_t nlabels, size_t strbytes, size_t cap)
{
    return STORE_SERIES_HEADER_BYTES + nlabels * sizeof(struct prom_label) + strbytes +
           cap * sizeof(struct store_sample) + sizeof(struct store_series *);
}

/* Labels must be sorted by name, without repeats; empty values are skipped. */
static int labels_check(const struct prom_label *labels, size_t n, size_t *kept, size_t *strbytes)
{
    const char *prev = NULL;
    *kept = 0;
    *strbytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i].name || !labels[i].value || !labels[i].name[0])
            return -EINVAL;
        if (prev && strcmp(prev, labels[i].name) >= 0)
            return -EINVAL;
        prev = labels[i].name;
        if (!labels[i].value[0])
            continue;
        (*kept)++;
        *strbytes += strlen(labels[i].name) + strlen(labels[i].value) + 2;
    }
    return 0;
}

static int series_create(struct store *s, const struct prom_label *labels, size_t n,
                         struct store_series **out)
{
    size_t kept, strbytes;
    int err = labels_check(labels, n, &kept, &strbytes);
    if (err)
        return err;
    if (kept > UINT32_MAX)
        return -EINVAL;
    size_t ring = STORE_RING_MIN < s->lim.max_samples_per_series ? STORE_RING_MIN
                                                                 : s->lim.max_samples_per_series;
    size_t bytes = series_bytes(kept, strbytes, ring);
    if (s->nseries >= s->lim.max_series || s->bytes + bytes > s->lim.max_bytes)
        return -ENOSPC;
    if (s->nseries + 1 > s->table_cap / 2 && (err = table_rebuild(s, s->nseries + 1)) != 0)
        return err;
    if (s->nseries == s->series_cap) {
        size_t cap = s->series_cap ? s->series_cap * 2 : 64;
        struct store_series **v = realloc(s->series, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->series = v;
        s->series_cap = cap;
    }
    struct store_series *se = calloc(1, sizeof(*se) + kept * sizeof(struct prom_label));
    size_t room = STORE_RING_FIRST_BYTES / 4;
    if (room > s->lim.max_samples_per_series)
        room = s->lim.max_samples_per_series;
    unsigned char *r = malloc(room * 4);
    if (!se || !r) {
        free(se);
        free(r);
        return -ENOMEM;
    }
    se->ring = r;
    se->tbytes = 4;
    se->vbytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i].value[0])
            continue;
        struct prom_label *l = &se->labels[se->nlabels];
        l->name = strtab_get(&s->strs, labels[i].name);
        l->value = strtab_get(&s->strs, labels[i].value);
        se->nlabels++;
        if (!l->name || !l->value) {
            series_free(s, se);
            return -ENOMEM;
        }
    }
    se->hash = store_labels_hash(labels, n);
    se->cap = (uint32_t)room;
    se->counted = (uint32_t)ring;
    s->bytes += bytes;
    s->series[s->nseries++] = se;
    table_put(s->table, s->table_cap, se);
    *out = se;
    return 0;
}

/* Copies the samples into a new ring of cap cells with these widths, the
 * oldest at 0. 0 or -ENOMEM (the ring is as it was). */
static int ring_resize(struct store_series *se, size_t cap, unsigned char tbytes,
                       unsigned char vbytes)
{
    unsigned char *r = malloc(cap * (size_t)(tbytes + vbytes));
    if (!r)
        return -ENOMEM;
    struct store_series to = *se;
    to.ring = r;
    to.cap = (uint32_t)cap;
    to.head = 0;
    to.tbytes = tbytes;
    to.vbytes = vbytes;
    for (size_t i = 0; i < se->len; i++) {
        struct store_sample smp = store_series_at(se, i);
        cell_write(&to, i, smp.t, smp.v);
    }
    free(se->ring);
    se->ring = r;
    se->cap = (uint32_t)cap;
    se->head = 0;
    se->tbytes = tbytes;
    se->vbytes = vbytes;
    return 0;
}

/* Widens the ring if (t, v) does not fit its cells, to the cells counted
 * (so its bytes never pass what max_bytes counts for it: 16 a cell). Widening
 * costs nothing against max_bytes. 0 or -ENOMEM. */
static int ring_fit(struct store_series *se, int64_t t, double v)
{
    unsigned char tbytes = time_bytes(se, t), vbytes = value_bytes(se, v);
    if (tbytes == se->tbytes && vbytes == se->vbytes)
        return 0;
    return ring_resize(se, se->counted, tbytes, vbytes);
}

/* Doubles a full ring if the limits allow; 0 if it grew, else the ring stays
 * full and the caller overwrites the oldest sample. */
static int ring_grow(struct store *s, struct store_series *se)
{
    size_t cap = (size_t)se->counted * 2;
    if (cap > s->lim.max_samples_per_series)
        cap = s->lim.max_samples_per_series;
    size_t extra = (cap - se->counted) * sizeof(struct store_sample);
    if (cap <= se->counted || s->bytes + extra > s->lim.max_bytes)
        return -ENOSPC;
    if (cap > se->cap) {
        int err = ring_resize(se, cap, se->tbytes, se->vbytes);
        if (err)
            return err;
    }
    se->counted = (uint32_t)cap;
    s->bytes += extra;
    return 0;
}

int store_append(struct store *s, const struct prom_label *labels, size_t n, int64_t t_ms, double v)
{
    struct store_series *se = store_find(s, labels, n);
    if (!se) {
        int err = series_create(s, labels, n, &se);
        if (err == -ENOSPC)
            s->rejected++;
        if (err)
            return err;
    }
    if (!se->len) {
        se->t0 = t_ms;
        se->v0 = v;
    }
    if (se->len) {
        int64_t last = store_series_at(se, se->len - 1).t;
        if (t_ms < last)
            return -EINVAL;
        if (t_ms == last) {
            int err = ring_fit(se, t_ms, v);
            if (!err)
                cell_write(se, ring_index(se, se->len - 1), t_ms, v);
            return err;
        }
    }
    int err = ring_fit(se, t_ms, v);
    if (err)
        return err;
    if (se->len == se->counted && ring_grow(s, se) != 0) {
        /* Full at its limit: the oldest sample makes room. */
        se->head = se->head + 1 == se->cap ? 0 : se->head + 1;
        se->len--;
        s->nsamples--;
    }
    cell_write(se, ring_index(se, se->len), t_ms, v);
    se->len++;
    s->nsamples++;
    return 0;
}

size_t store_series_seek(const struct store_series *se, int64_t t_ms)
{
    /* Queries ask about recent samples: gallop back from the newest before
     * the binary search, so "now" costs a step or two, not a walk through
     * the whole ring's cache lines. */
    size_t hi = se->len, step = 1, lo;
    while (hi > 0 && store_series_at(se, hi - 1).t >= t_ms) {
        size_t back = step < hi ? step : hi;
        if (store_series_at(se, hi - back).t < t_ms) {
            lo = hi - back;
            goto search;
        }
        hi -= back;
        step *= 2;
    }
    return hi;
search:
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (store_series_at(se, mid).t < t_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void store_gc(struct store *s, int64_t now_ms)
{
    int64_t min_t = now_ms - s->lim.retention_ms;
    size_t kept = 0;
    for (size_t i = 0; i < s->nseries; i++) {
        struct store_series *se = s->series[i];
        size_t drop = store_series_seek(se, min_t);
        se->head = (se->head + drop) % se->cap;
        se->len -= drop;
        s->nsamples -= drop;
        if (se->len) {
            s->series[kept++] = se;
            continue;
        }
        size_t strbytes = 0;
        for (size_t j = 0; j < se->nlabels; j++)
            strbytes += strlen(se->labels[j].name) + strlen(se->labels[j].value) + 2;
        s->bytes -= series_bytes(se->nlabels, strbytes, se->counted);
        series_free(s, se);
    }
    if (kept == s->nseries)
        return;
    s->nseries = kept;
    /* Removal from open addressing needs a rebuild; it only shrinks. */
    memset(s->table, 0, s->table_cap * sizeof(*s->table));
    for (size_t i = 0; i < s->nseries; i++)
        table_put(s->table, s->table_cap, s->series[i]);
}

void store_stats(const struct store *s, struct store_stats *out)
{
    out->series = s->nseries;
    out->samples = s->nsamples;
    out->bytes = s->bytes;
    out->rejected = s->rejected;
}
