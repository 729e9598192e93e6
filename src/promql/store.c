/* store: bounded series of Gorilla-compressed chunks with a hash index:
 * series, appends, limits and gc. See store.h; the encoding is chunkenc.h
 * (and docs/promql.md), the readers store_read.c. */
#include "promql/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "promql/chunkenc.h"

/* A chunk's buffer is 16k + 8 bytes, the sizes glibc's malloc hands out
 * without waste (chunks of 16k + 16), grown to what the next sample needs:
 * an idle series' chunk (its raw first sample, a second, a run) is 24. */
static size_t chunk_alloc_size(size_t need)
{
    return need <= 24 ? 24 : (need - 8 + 15) / 16 * 16 + 8;
}

/* ---- Bytes: everything a series holds is counted against max_bytes. ---- */

/* Counts n more bytes of chunks, if max_bytes allows. 0 or -ENOSPC. */
static int chunk_bytes_take(struct store *s, size_t n)
{
    if (n > s->lim.max_bytes - s->bytes)
        return -ENOSPC;
    s->bytes += n;
    s->sample_bytes += n;
    return 0;
}

static void chunk_bytes_give(struct store *s, size_t n)
{
    s->bytes -= n;
    s->sample_bytes -= n;
}

/* A series' own bytes besides its chunks: its struct with the label pairs,
 * its own copy of their strings (as it had before they were shared), and
 * its slot in s->series. */
static size_t series_bytes(size_t nlabels, size_t strbytes)
{
    return sizeof(struct store_series) + nlabels * sizeof(struct prom_label) + strbytes +
           sizeof(struct store_series *);
}

static size_t series_strbytes(const struct store_series *se)
{
    size_t n = 0;
    for (size_t j = 0; j < se->nlabels; j++)
        n += strlen(se->labels[j].name) + strlen(se->labels[j].value) + 2;
    return n;
}

/* The samples a chunk holds at most. */
static uint32_t chunk_limit(const struct store *s)
{
    return s->lim.max_samples_per_series < STORE_CHUNK_SAMPLES
               ? (uint32_t)s->lim.max_samples_per_series
               : STORE_CHUNK_SAMPLES;
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

/* Frees a series and gives back the bytes it counted. The struct and its
 * label pairs are one allocation; the strings are the store's shared ones;
 * each chunk's buffer is its own. */
static void series_free(struct store *s, struct store_series *se)
{
    size_t bytes = se->chunks_cap * sizeof(struct store_chunk);
    for (size_t i = 0; i < se->nchunks; i++) {
        bytes += se->chunks[i].cap;
        free(se->chunks[i].buf);
    }
    chunk_bytes_give(s, bytes);
    s->bytes -= series_bytes(se->nlabels, series_strbytes(se));
    for (size_t i = 0; i < se->nlabels; i++) {
        strtab_put(&s->strs, se->labels[i].name);
        strtab_put(&s->strs, se->labels[i].value);
    }
    free(se->chunks);
    free(se);
}

void store_release(struct store *s)
{
    for (size_t i = 0; i < s->nseries; i++)
        series_free(s, s->series[i]);
    free(s->series);
    free(s->table);
    free(s->cursors);
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

/* Creates the series (no chunk yet) if max_series and max_bytes leave room
 * for it and its first chunk. */
static int series_create(struct store *s, const struct prom_label *labels, size_t n,
                         struct store_series **out)
{
    size_t kept, strbytes;
    int err = labels_check(labels, n, &kept, &strbytes);
    if (err)
        return err;
    if (kept > UINT32_MAX)
        return -EINVAL;
    size_t bytes = series_bytes(kept, strbytes);
    size_t first = sizeof(struct store_chunk) + chunk_alloc_size(0);
    if (s->nseries >= s->lim.max_series || s->bytes + bytes + first > s->lim.max_bytes)
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
    if (!se)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i].value[0])
            continue;
        struct prom_label *l = &se->labels[se->nlabels++];
        l->name = strtab_get(&s->strs, labels[i].name);
        l->value = strtab_get(&s->strs, labels[i].value);
        if (!l->name || !l->value) {
            for (size_t j = 0; j < se->nlabels; j++) {
                strtab_put(&s->strs, se->labels[j].name);
                strtab_put(&s->strs, se->labels[j].value);
            }
            free(se);
            return -ENOMEM;
        }
    }
    s->bytes += bytes;
    se->hash = store_labels_hash(labels, n);
    s->series[s->nseries++] = se;
    table_put(s->table, s->table_cap, se);
    *out = se;
    return 0;
}

/* Grows chunk c to hold bits bits. 0, -ENOSPC or -ENOMEM (c is as it
 * was). */
static int chunk_grow(struct store *s, struct store_chunk *c, size_t bits)
{
    size_t need = (bits + 7) / 8, cap;
    if (need <= c->cap)
        return 0;
    cap = chunk_alloc_size(need);
    if (cap > UINT16_MAX)
        return -ENOMEM;
    int err = chunk_bytes_take(s, cap - c->cap);
    if (err)
        return err;
    unsigned char *b = realloc(c->buf, cap);
    if (!b) {
        chunk_bytes_give(s, cap - c->cap);
        return -ENOMEM;
    }
    memset(b + c->cap, 0, cap - c->cap);
    c->buf = b;
    c->cap = (uint16_t)cap;
    return 0;
}

/* Gives a closed chunk's unused bytes back. */
static void chunk_trim(struct store *s, struct store_chunk *c)
{
    size_t used = (c->nbits + 7) / 8;
    if (used >= c->cap)
        return;
    unsigned char *b = realloc(c->buf, used);
    if (!b)
        return;
    chunk_bytes_give(s, c->cap - used);
    c->buf = b;
    c->cap = (uint16_t)used;
}

/* Whether (t, v's bits) would repeat the newest sample of its chunk: the
 * same distance from it as it had from the one before, the same value. */
static bool is_repeat(const struct store_series *se, int64_t t, uint64_t bits)
{
    return se->len && (uint64_t)t - (uint64_t)se->last.t == se->last.dt && bits == se->last.v;
}

/* The bits (t, v's bits) will add to the newest chunk, which has samples: the
 * encoders run without a buffer. */
static uint32_t sample_bits(const struct store_series *se, int64_t t, uint64_t bits)
{
    if (is_repeat(se, t, bits)) {
        unsigned now = run_bits(se->last.run), then = run_bits(se->last.run + 1);
        return then > now ? then - now : 0;
    }
    struct store_xor x = se->last;
    uint32_t pos = 0;
    time_put(NULL, &pos, &x, t);
    value_put(NULL, &pos, &x, bits);
    return pos;
}

/* Makes room for (t, v's bits): in the newest chunk, or in a new one when
 * that is full (closing the full one). A full chunk still takes a repeat
 * that goes on the run it ends in: an idle series stays one chunk of a
 * few bytes (up to UINT16_MAX samples), and the samples past the limit
 * are one run token, which a reader passes at once. 0, -ENOSPC or
 * -ENOMEM. */
static int chunk_room(struct store *s, struct store_series *se, int64_t t, uint64_t bits)
{
    struct store_chunk *c = se->nchunks ? &se->chunks[se->nchunks - 1] : NULL;
    if (c && (c->n < chunk_limit(s) ||
              (se->last.run && c->n < UINT16_MAX && is_repeat(se, t, bits))))
        return chunk_grow(s, c, c->nbits + sample_bits(se, t, bits));
    int err;
    if (se->nchunks == se->chunks_cap) {
        size_t cap = se->chunks_cap ? se->chunks_cap + se->chunks_cap / 2 + 1 : 1;
        if (cap > UINT32_MAX)
            return -ENOSPC;
        if ((err = chunk_bytes_take(s, (cap - se->chunks_cap) * sizeof(struct store_chunk))) != 0)
            return err;
        struct store_chunk *v = realloc(se->chunks, cap * sizeof(*v));
        if (!v) {
            chunk_bytes_give(s, (cap - se->chunks_cap) * sizeof(struct store_chunk));
            return -ENOMEM;
        }
        se->chunks = v;
        se->chunks_cap = (uint32_t)cap;
        c = se->nchunks ? &se->chunks[se->nchunks - 1] : NULL;
    }
    size_t cap = chunk_alloc_size(0); /* the raw first sample's 16 bytes */
    if ((err = chunk_bytes_take(s, cap)) != 0)
        return err;
    unsigned char *b = calloc(1, cap);
    if (!b) {
        chunk_bytes_give(s, cap);
        return -ENOMEM;
    }
    if (c)
        chunk_trim(s, c);
    se->chunks[se->nchunks++] = (struct store_chunk){b, 0, 0, (uint16_t)cap};
    return 0;
}

/* Writes the repeats at the chunk's end again: was of them, now now. */
static void run_rewrite(struct store_chunk *c, uint32_t was, uint32_t now)
{
    bits_cut(c->buf, &c->nbits, c->nbits - run_bits(was));
    run_put(c->buf, &c->nbits, now);
}

/* Appends (t, v's bits) to the newest chunk, which chunk_room made room
 * in. */
static void chunk_put(struct store_series *se, int64_t t, uint64_t bits)
{
    struct store_chunk *c = &se->chunks[se->nchunks - 1];
    if (!c->n) {
        bits_put(c->buf, &c->nbits, (uint64_t)t, 64);
        bits_put(c->buf, &c->nbits, bits, 64);
        se->last = (struct store_xor){t, 0, bits, NO_WINDOW, 0, 0};
    } else if (is_repeat(se, t, bits)) {
        run_rewrite(c, se->last.run, se->last.run + 1);
        se->last.t = t;
        se->last.run++;
    } else {
        time_put(c->buf, &c->nbits, &se->last, t);
        value_put(c->buf, &c->nbits, &se->last, bits);
        se->last.run = 0;
    }
    c->n++;
}

/* Takes the newest sample out of the newest chunk (for a sample at its
 * time to replace it). A repeat shortens the run; else the chunk is
 * decoded for the state before it. */
static void chunk_unput(struct store_series *se)
{
    struct store_chunk *c = &se->chunks[se->nchunks - 1];
    if (se->last.run) {
        run_rewrite(c, se->last.run, se->last.run - 1);
        se->last.t = (int64_t)((uint64_t)se->last.t - se->last.dt);
        se->last.run--;
        c->n--;
        return;
    }
    /* Not a repeat, so the samples before it end a token: decoded, the
     * reader has no run left, and the appender's count of repeats at the
     * end is counted on the way. */
    struct store_bitr r;
    struct store_xor x = {0, 0, 0, NO_WINDOW, 0, 0};
    uint32_t repeats = 0;
    bitr_init(&r, c);
    for (uint32_t i = 0; i + 1 < c->n; i++) {
        uint64_t dt = x.dt, v = x.v;
        sample_get(&r, i, &x);
        repeats = i && x.dt == dt && x.v == v ? repeats + 1 : 0;
    }
    x.run = repeats;
    se->last = x;
    bits_cut(c->buf, &c->nbits, (uint32_t)bitr_pos(&r, c));
    c->n--;
}

/* Drops the k oldest samples; chunks left with none are freed, but never
 * the newest, which the next sample goes into. */
static void series_drop(struct store *s, struct store_series *se, size_t k)
{
    se->len -= (uint32_t)k;
    s->nsamples -= k;
    se->skip += (uint32_t)k;
    size_t gone = 0;
    while (gone + 1 < se->nchunks && se->skip >= se->chunks[gone].n) {
        se->skip -= se->chunks[gone].n;
        chunk_bytes_give(s, se->chunks[gone].cap);
        free(se->chunks[gone].buf);
        gone++;
    }
    if (gone) {
        se->nchunks -= (uint32_t)gone;
        memmove(se->chunks, se->chunks + gone, se->nchunks * sizeof(*se->chunks));
    }
}

/* Room for a sample, or for rewriting the newest (same): past max_bytes
 * the series' oldest chunk makes room, as a full ring's oldest sample
 * would; a series with one chunk is refused. */
static int series_room(struct store *s, struct store_series *se, bool same, int64_t t,
                       uint64_t bits)
{
    for (;;) {
        struct store_chunk *c = same ? &se->chunks[se->nchunks - 1] : NULL;
        int err = c ? chunk_grow(s, c, c->nbits + SAMPLE_BITS_MAX) : chunk_room(s, se, t, bits);
        if (err != -ENOSPC || se->nchunks < 2)
            return err;
        series_drop(s, se, se->chunks[0].n - se->skip);
    }
}

int store_append(struct store *s, const struct prom_label *labels, size_t n, int64_t t_ms, double v)
{
    s->gen++;
    struct store_series *se = store_find(s, labels, n);
    int err = 0;
    if (!se && (err = series_create(s, labels, n, &se)) != 0) {
        if (err == -ENOSPC)
            s->rejected++;
        return err;
    }
    bool same = false;
    if (se->len) {
        if (t_ms < se->last.t)
            return -EINVAL;
        same = t_ms == se->last.t;
    }
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    if ((err = series_room(s, se, same, t_ms, bits)) != 0) {
        if (err == -ENOSPC)
            s->rejected++;
        return err;
    }
    if (same) {
        chunk_unput(se);
    } else {
        if (se->len == s->lim.max_samples_per_series)
            series_drop(s, se, 1); /* the oldest sample makes room */
        se->len++;
        s->nsamples++;
    }
    chunk_put(se, t_ms, bits);
    return 0;
}

void store_gc(struct store *s, int64_t now_ms)
{
    s->gen++;
    int64_t min_t = now_ms - s->lim.retention_ms;
    size_t kept = 0;
    for (size_t i = 0; i < s->nseries; i++) {
        struct store_series *se = s->series[i];
        size_t drop = store_series_seek(se, min_t);
        if (drop < se->len) {
            if (drop)
                series_drop(s, se, drop);
            s->series[kept++] = se;
            continue;
        }
        s->nsamples -= se->len;
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
    out->sample_bytes = s->sample_bytes;
    out->rejected = s->rejected;
}
