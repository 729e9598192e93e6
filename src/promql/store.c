/* store: bounded series of Gorilla-compressed chunks with a hash index.
 * See store.h; the encoding is described in docs/promql.md. */
#include "promql/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* A chunk's buffer is 16k + 8 bytes, the sizes glibc's malloc hands out
 * without waste (chunks of 16k + 16), grown to what the next sample needs:
 * an idle series' chunk (its raw first sample, a second, a run) is 24. */
static size_t chunk_alloc_size(size_t need)
{
    return need <= 24 ? 24 : (need - 8 + 15) / 16 * 16 + 8;
}

/* The most bits a sample takes: a time's 5 + 64, a value's 2 + 5 + 6 + 64
 * (the first of a chunk, raw, takes 128; a run token at most 5 + 5 + 15). */
#define SAMPLE_BITS_MAX 146

/* store_xor.lead while no XOR has set a window. */
#define NO_WINDOW 0xff

/* ---- The bit stream: most significant bit first. ---- */

/* Appends the low n bits of v (1 <= n <= 64) at bit *pos of buf, whose bits
 * from *pos on are zero and which has room for them. A NULL buf only
 * counts them (for the room a sample needs). */
static void bits_put(unsigned char *buf, uint32_t *pos, uint64_t v, unsigned n)
{
    if (!buf) {
        *pos += n;
        return;
    }
    while (n) {
        unsigned room = 8 - (*pos & 7), k = n < room ? n : room;
        unsigned part = (unsigned)(v >> (n - k)) & ((1u << k) - 1);
        buf[*pos >> 3] |= (unsigned char)(part << (room - k));
        *pos += k;
        n -= k;
    }
}

/* Takes the bits from bit to on off the end of buf (at *pos): they are
 * zero again, for the next bits_put. */
static void bits_cut(unsigned char *buf, uint32_t *pos, uint32_t to)
{
    size_t end = (*pos + 7) / 8, byte = to >> 3;
    if (to & 7) {
        buf[byte] &= (unsigned char)(0xff00 >> (to & 7));
        byte++;
    }
    memset(buf + byte, 0, end - byte);
    *pos = to;
}

static inline uint64_t load_be64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Reading: the next bits are the top nw of w, then the bytes from p. */
static inline void bitr_init(struct store_bitr *r, const struct store_chunk *c)
{
    r->p = c->buf;
    r->end = c->buf + c->cap;
    r->w = 0;
    r->nw = 0;
}

/* Tops w up to at least 57 bits, or to the end of the buffer (past which
 * bits read as zero): eight bytes at once while they are there. */
static inline void bitr_fill(struct store_bitr *r)
{
    if (r->end - r->p >= 8) {
        r->w |= load_be64(r->p) >> r->nw;
        r->p += (63 - r->nw) >> 3;
        r->nw |= 56;
        return;
    }
    while (r->nw <= 56 && r->p < r->end) {
        r->w |= (uint64_t)*r->p++ << (56 - r->nw);
        r->nw += 8;
    }
}

/* Drops n (at most 57, nw after a fill) bits. */
static inline void bitr_skip(struct store_bitr *r, unsigned n)
{
    r->w = n < 64 ? r->w << n : 0;
    r->nw = n < r->nw ? r->nw - n : 0;
}

/* The next n bits (1 <= n <= 64). */
static inline uint64_t bitr_get(struct store_bitr *r, unsigned n)
{
    if (n > 56) {
        uint64_t hi = bitr_get(r, 32);
        return hi << (n - 32) | bitr_get(r, n - 32);
    }
    if (r->nw < n)
        bitr_fill(r);
    uint64_t v = r->w >> (64 - n);
    bitr_skip(r, n);
    return v;
}

/* The bit a reader is at, from the chunk's start. */
static size_t bitr_pos(const struct store_bitr *r, const struct store_chunk *c)
{
    return (size_t)(r->p - c->buf) * 8 - r->nw;
}

/* The n-bit two's complement x as a 64-bit one (modulo 2^64). */
static inline uint64_t sign_extend(uint64_t x, unsigned n)
{
    uint64_t m = (uint64_t)1 << (n - 1);
    return (x ^ m) - m;
}

/* ---- Samples: Gorilla's delta-of-delta times and XOR'd values. ---- */

/* Appends time t after x's: the change of the distance from the previous
 * time, in the smallest of the paper's buckets that holds it (1 bit for a
 * regular interval). Distances are modulo 2^64, so any int64 round-trips. */
static void time_put(unsigned char *buf, uint32_t *pos, struct store_xor *x, int64_t t)
{
    uint64_t dt = (uint64_t)t - (uint64_t)x->t, dod = dt - x->dt;
    int64_t d = (int64_t)dod;
    if (d == 0) {
        bits_put(buf, pos, 0, 1);
    } else if (d >= -64 && d <= 63) {
        bits_put(buf, pos, 2, 2);
        bits_put(buf, pos, dod & 0x7f, 7);
    } else if (d >= -256 && d <= 255) {
        bits_put(buf, pos, 6, 3);
        bits_put(buf, pos, dod & 0x1ff, 9);
    } else if (d >= -2048 && d <= 2047) {
        bits_put(buf, pos, 14, 4);
        bits_put(buf, pos, dod & 0xfff, 12);
    } else {
        bits_put(buf, pos, 30, 5);
        bits_put(buf, pos, dod, 64);
    }
    x->t = t;
    x->dt = dt;
}

/* The bits k repeats take at the end of a chunk: "00" each (no change of
 * distance, the same value), or from STORE_RUN_MIN on one run token:
 * "11111" (the time's escape), 5 bits of the count's length less one, and
 * the count's bits below its top one. */
static unsigned run_bits(uint32_t k)
{
    if (k < STORE_RUN_MIN)
        return 2 * k;
    return 10 + (31 - (unsigned)__builtin_clz(k));
}

static void run_put(unsigned char *buf, uint32_t *pos, uint32_t k)
{
    if (k < STORE_RUN_MIN) {
        *pos += 2 * k; /* the bits past *pos are zero */
        return;
    }
    unsigned len = 32 - (unsigned)__builtin_clz(k);
    bits_put(buf, pos, 31, 5);
    bits_put(buf, pos, len - 1, 5);
    if (len > 1)
        bits_put(buf, pos, k, len - 1);
}

/* Moves a reader over k (at most x->run) of its run's samples at once. */
static inline void run_skip(struct store_xor *x, uint32_t k)
{
    x->run -= k;
    x->t = (int64_t)((uint64_t)x->t + (uint64_t)k * x->dt);
}

/* How many of the run's samples still to come are before t_ms (at_too: or
 * at it). They are x->t plus a distance (at least 1) each. */
static inline uint32_t run_before(const struct store_xor *x, int64_t t_ms, bool at_too)
{
    if (!x->run || t_ms < x->t || (t_ms == x->t && !at_too))
        return 0;
    uint64_t gap = (uint64_t)t_ms - (uint64_t)x->t, j = (at_too ? gap : gap - 1) / x->dt;
    return j < x->run ? (uint32_t)j : x->run;
}

/* Appends value bits v after x's: XOR'd with the previous value, 1 bit when
 * they are the same; else the XOR's meaningful bits, in the previous
 * window when they fit it and that is not dearer, or with a new window. */
static void value_put(unsigned char *buf, uint32_t *pos, struct store_xor *x, uint64_t v)
{
    uint64_t d = v ^ x->v;
    x->v = v;
    if (!d) {
        bits_put(buf, pos, 0, 1);
        return;
    }
    unsigned lead = (unsigned)__builtin_clzll(d), trail = (unsigned)__builtin_ctzll(d);
    if (lead > 31)
        lead = 31;
    unsigned m = 64 - lead - trail;
    if (x->lead != NO_WINDOW && lead >= x->lead && trail >= x->trail) {
        unsigned pm = 64 - x->lead - x->trail;
        if (pm <= m + 11) {
            bits_put(buf, pos, 2, 2);
            bits_put(buf, pos, d >> x->trail, pm);
            return;
        }
    }
    bits_put(buf, pos, 3, 2);
    bits_put(buf, pos, lead, 5);
    bits_put(buf, pos, m & 63, 6); /* 64 as 0, which no XOR needs */
    bits_put(buf, pos, d >> trail, m);
    x->lead = (unsigned char)lead;
    x->trail = (unsigned char)trail;
}

/* Decodes sample i of a chunk from r into x (which holds sample i - 1). */
static inline __attribute__((always_inline)) void sample_get(struct store_bitr *r, uint32_t i,
                                                             struct store_xor *x)
{
    if (x->run) {
        x->run--;
        x->t = (int64_t)((uint64_t)x->t + x->dt);
        return;
    }
    if (i == 0) {
        x->t = (int64_t)bitr_get(r, 64);
        x->v = bitr_get(r, 64);
        x->dt = 0;
        x->lead = NO_WINDOW;
        x->trail = 0;
        return;
    }
    /* The control bits of each part come out of one look at w. */
    if (r->nw < 57)
        bitr_fill(r);
    uint64_t w = r->w, dod = 0;
    if (!(w >> 63)) {
        bitr_skip(r, 1);
    } else if (!(w >> 62 & 1)) {
        dod = sign_extend(w << 2 >> 57, 7);
        bitr_skip(r, 9);
    } else if (!(w >> 61 & 1)) {
        dod = sign_extend(w << 3 >> 55, 9);
        bitr_skip(r, 12);
    } else if (!(w >> 60 & 1)) {
        dod = sign_extend(w << 4 >> 52, 12);
        bitr_skip(r, 16);
    } else if (!(w >> 59 & 1)) {
        bitr_skip(r, 5);
        dod = bitr_get(r, 64);
    } else {
        /* A run: this sample and count - 1 more repeat the one before. */
        unsigned len = (unsigned)(w >> 54 & 31) + 1;
        bitr_skip(r, 10);
        uint64_t count = len > 1 ? (uint64_t)1 << (len - 1) | bitr_get(r, len - 1) : 1;
        x->run = (uint32_t)(count - 1);
        x->t = (int64_t)((uint64_t)x->t + x->dt);
        return;
    }
    x->dt += dod;
    x->t = (int64_t)((uint64_t)x->t + x->dt);
    if (r->nw < 13)
        bitr_fill(r);
    w = r->w;
    if (!(w >> 63)) {
        bitr_skip(r, 1);
        return;
    }
    if (w >> 62 & 1) {
        unsigned lead = (unsigned)(w >> 57 & 31), m = (unsigned)(w >> 51 & 63);
        if (!m)
            m = 64;
        x->lead = (unsigned char)lead;
        x->trail = (unsigned char)(64 - lead - m);
        bitr_skip(r, 13);
    } else {
        bitr_skip(r, 2);
    }
    unsigned m = 64 - x->lead - x->trail;
    x->v ^= bitr_get(r, m) << x->trail;
}

static struct store_sample xor_sample(const struct store_xor *x)
{
    struct store_sample smp = {.t = x->t};
    memcpy(&smp.v, &x->v, sizeof(smp.v));
    return smp;
}

/* The first time of a chunk with samples: its first 64 bits. */
static int64_t chunk_first_t(const struct store_chunk *c)
{
    return (int64_t)load_be64(c->buf);
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

/* The bits (t, v's bits) will add to chunk c, which has samples: the
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

/* Appends (t, v) to the newest chunk, which chunk_room made room in. */
static void chunk_put(struct store_series *se, int64_t t, double v)
{
    struct store_chunk *c = &se->chunks[se->nchunks - 1];
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    if (!c->n) {
        bits_put(c->buf, &c->nbits, (uint64_t)t, 64);
        bits_put(c->buf, &c->nbits, bits, 64);
        se->last = (struct store_xor){t, 0, bits, NO_WINDOW, 0, 0};
    } else if (is_repeat(se, t, bits)) {
        /* The repeats at the chunk's end, written again one longer. */
        uint32_t run = se->last.run + 1;
        bits_cut(c->buf, &c->nbits, c->nbits - run_bits(run - 1));
        run_put(c->buf, &c->nbits, run);
        se->last.t = t;
        se->last.run = run;
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
        uint32_t run = se->last.run - 1;
        bits_cut(c->buf, &c->nbits, c->nbits - run_bits(run + 1));
        run_put(c->buf, &c->nbits, run);
        se->last.t = (int64_t)((uint64_t)se->last.t - se->last.dt);
        se->last.run = run;
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
    chunk_put(se, t_ms, v);
    return 0;
}

/* ---- Reading. ---- */

/* Decodes the sample after it->x into it->x, into the next chunk at the end
 * of one. There is one. */
static inline void iter_step(struct store_iter *it)
{
    const struct store_chunk *c = &it->se->chunks[it->chunk];
    if (it->i == c->n) {
        c++;
        it->chunk++;
        it->i = 0;
        bitr_init(&it->r, c);
    }
    sample_get(&it->r, it->i, &it->x);
    it->i++;
}

/* Decodes the next k samples, a run's at once. */
static void iter_skip(struct store_iter *it, size_t k)
{
    while (k) {
        if (it->x.run) {
            uint32_t j = it->x.run < k ? it->x.run : (uint32_t)k;
            run_skip(&it->x, j);
            it->i += j;
            k -= j;
            continue;
        }
        iter_step(it);
        k--;
    }
}

/* Positions it at the start of chunk k: past the dropped samples of the
 * first, the index of the next sample set. */
static void iter_at_chunk(struct store_iter *it, const struct store_series *se, size_t k)
{
    it->se = se;
    it->chunk = k;
    it->i = 0;
    bitr_init(&it->r, &se->chunks[k]);
    it->pending = 0;
    it->index = 0;
    it->x = (struct store_xor){0, 0, 0, NO_WINDOW, 0, 0};
    for (size_t j = 0; j < k; j++)
        it->index += se->chunks[j].n;
    if (k)
        it->index -= se->skip;
    else
        iter_skip(it, se->skip);
}

void store_iter_init(struct store_iter *it, const struct store_series *se, size_t i)
{
    size_t p = se->skip + i, k = 0;
    while (k + 1 < se->nchunks && p >= se->chunks[k].n)
        p -= se->chunks[k++].n;
    it->se = se;
    it->chunk = k;
    it->i = 0;
    it->pending = 0;
    it->index = i;
    it->x = (struct store_xor){0, 0, 0, NO_WINDOW, 0, 0};
    if (i >= se->len)
        return;
    bitr_init(&it->r, &se->chunks[k]);
    iter_skip(it, p);
}

int store_iter_next(struct store_iter *it, struct store_sample *out)
{
    if (it->pending) {
        it->pending = 0;
    } else {
        if (it->index >= it->se->len)
            return 0;
        iter_step(it);
    }
    it->index++;
    *out = xor_sample(&it->x);
    return 1;
}

size_t store_iter_read(struct store_iter *it, struct store_sample *out, size_t n)
{
    size_t k = 0;
    if (n && it->pending) {
        it->pending = 0;
        it->index++;
        out[k++] = xor_sample(&it->x);
    }
    size_t left = it->se->len - it->index;
    if (n - k > left)
        n = k + left;
    if (k == n)
        return k;
    /* The state in locals, which stay in registers: a tight loop. */
    const struct store_chunk *c = &it->se->chunks[it->chunk];
    struct store_bitr r = it->r;
    struct store_xor x = it->x;
    uint32_t i = it->i;
    it->index += n - k;
    for (; k < n; k++) {
        if (i == c->n) {
            c++;
            i = 0;
            bitr_init(&r, c);
        }
        sample_get(&r, i++, &x);
        out[k].t = x.t;
        memcpy(&out[k].v, &x.v, sizeof(out[k].v));
    }
    it->chunk = (size_t)(c - it->se->chunks);
    it->r = r;
    it->x = x;
    it->i = i;
    return k;
}

static size_t iter_until(struct store_iter *it, int64_t t_ms);

size_t store_iter_count(const struct store_iter *it, int64_t t_ms)
{
    const struct store_series *se = it->se;
    if (it->index >= se->len)
        return 0;
    if (t_ms > se->last.t)
        return se->len - it->index;
    /* A sample at or after t_ms is there: the count is how far it is. */
    struct store_iter c = *it;
    if (c.pending) {
        if (c.x.t >= t_ms)
            return 0;
        c.pending = 0;
        c.index++;
    }
    return iter_until(&c, t_ms) - it->index;
}

/* The first chunk whose first time is past t_ms, or with at_too at t_ms
 * too (se->nchunks if none). */
static size_t chunk_after(const struct store_series *se, int64_t t_ms, bool at_too)
{
    /* Queries ask about recent samples: the newest chunks first, as each
     * look is a cache miss. */
    size_t lo = 0, hi = se->nchunks;
    for (int step = 0; step < 2 && hi > 0; step++) {
        int64_t first = chunk_first_t(&se->chunks[hi - 1]);
        if (first < t_ms || (first == t_ms && !at_too))
            return hi;
        hi--;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t first = chunk_first_t(&se->chunks[mid]);
        if (first < t_ms || (first == t_ms && !at_too))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t store_iter_seek(struct store_iter *it, const struct store_series *se, int64_t t_ms)
{
    /* Queries ask about recent samples: past the newest costs nothing. */
    if (!se->len || t_ms > se->last.t) {
        store_iter_init(it, se, se->len);
        return se->len;
    }
    /* The sample is in the last chunk starting before t_ms, or first in
     * the one after it. */
    size_t k = chunk_after(se, t_ms, true);
    iter_at_chunk(it, se, k ? k - 1 : 0);
    return iter_until(it, t_ms);
}

/* Decodes from it (its next sample at it->index) to the first sample with
 * t >= t_ms, which there is, and leaves it pending. Its index. */
static size_t iter_until(struct store_iter *it, int64_t t_ms)
{
    const struct store_series *se = it->se;
    /* The state in locals, which stay in registers: a tight loop. */
    const struct store_chunk *c = &se->chunks[it->chunk];
    struct store_bitr r = it->r;
    struct store_xor x = it->x;
    uint32_t i = it->i;
    size_t index = it->index;
    for (;; index++) {
        if (x.run) { /* the run's samples before t_ms, at once */
            uint32_t j = run_before(&x, t_ms, false);
            run_skip(&x, j);
            i += j;
            index += j;
        }
        if (i == c->n) {
            c++;
            i = 0;
            bitr_init(&r, c);
        }
        sample_get(&r, i++, &x);
        if (x.t >= t_ms)
            break;
    }
    it->chunk = (size_t)(c - se->chunks);
    it->r = r;
    it->x = x;
    it->i = i;
    it->index = index;
    it->pending = 1;
    return index;
}

size_t store_series_seek(const struct store_series *se, int64_t t_ms)
{
    struct store_iter it;
    return store_iter_seek(&it, se, t_ms);
}

struct store_sample store_series_at(const struct store_series *se, size_t i)
{
    if (i + 1 == se->len)
        return xor_sample(&se->last);
    struct store_iter it;
    struct store_sample smp = {0, 0};
    store_iter_init(&it, se, i);
    store_iter_next(&it, &smp);
    return smp;
}

/* The newest sample at or before t_ms in chunk k (whose successor starts
 * after t_ms), decoding from it (at k's start, or at a sample before
 * t_ms in k), which is left at that sample (it->index its index).
 * found: it->x is already such a sample. */
static int iter_before(struct store_iter *it, int64_t t_ms, int found)
{
    const struct store_chunk *c = &it->se->chunks[it->chunk];
    /* The state in locals, which stay in registers: a tight loop. */
    struct store_bitr r = it->r;
    struct store_xor x = it->x;
    uint32_t i = it->i;
    size_t xi = found ? it->index : it->index - 1;
    while (i < c->n) {
        if (x.run) { /* the run's samples at or before t_ms, at once */
            uint32_t j = run_before(&x, t_ms, true);
            run_skip(&x, j);
            i += j;
            xi += j;
            found |= j > 0;
            if (x.run) /* the next is after t_ms */
                break;
            continue;
        }
        struct store_bitr r2 = r;
        struct store_xor x2 = x;
        sample_get(&r2, i, &x2);
        if (x2.t > t_ms)
            break;
        r = r2;
        x = x2;
        i++;
        xi++;
        found = 1;
    }
    it->r = r;
    it->x = x;
    it->i = i;
    it->index = xi;
    return found;
}

int store_series_before(const struct store_series *se, int64_t t_ms, struct store_sample *out)
{
    return store_before_cached(NULL, se, t_ms, out);
}

/* s's cursor for se, made if need be; NULL without room for them. */
static struct store_cursor *cursor_of(struct store *s, const struct store_series *se)
{
    if (!s)
        return NULL;
    if (!s->cursors) {
        size_t bytes = STORE_CURSORS * sizeof(struct store_cursor);
        if (bytes > s->lim.max_bytes - s->bytes ||
            !(s->cursors = calloc(STORE_CURSORS, sizeof(*s->cursors))))
            return NULL;
        s->bytes += bytes;
    }
    uint64_t h = (uint64_t)(uintptr_t)se * UINT64_C(0x9e3779b97f4a7c15);
    return &s->cursors[h >> (64 - 12)]; /* STORE_CURSORS */
}

static bool cursor_valid(const struct store *s, const struct store_cursor *cur,
                         const struct store_series *se)
{
    return cur && cur->se == se && cur->gen == s->gen;
}

/* The cursor where it is: at sample it->index, decoded (not pending). */
static void cursor_save(struct store *s, struct store_cursor *cur, const struct store_iter *it)
{
    if (!cur || it->chunk > UINT32_MAX || it->index > UINT32_MAX)
        return;
    const struct store_chunk *c = &it->se->chunks[it->chunk];
    *cur = (struct store_cursor){it->se, s->gen, it->x, (uint32_t)it->chunk, it->i,
                                 (uint32_t)bitr_pos(&it->r, c), (uint32_t)it->index};
}

/* An iterator at the cursor's sample, decoded (not pending). */
static void cursor_load(const struct store_cursor *cur, struct store_iter *it)
{
    const struct store_chunk *c = &cur->se->chunks[cur->chunk];
    it->se = cur->se;
    it->chunk = cur->chunk;
    it->i = cur->i;
    it->index = cur->index;
    it->pending = 0;
    it->x = cur->x;
    bitr_init(&it->r, c);
    it->r.p += cur->pos / 8;
    if (cur->pos % 8) {
        bitr_fill(&it->r);
        bitr_skip(&it->r, cur->pos % 8);
    }
}

int store_before_cached(struct store *s, const struct store_series *se, int64_t t_ms,
                        struct store_sample *out)
{
    if (!se->len)
        return 0;
    if (se->last.t <= t_ms) {
        *out = xor_sample(&se->last);
        return 1;
    }
    /* In the last chunk that starts at or before t_ms, as the next one
     * starts after it. */
    size_t k = chunk_after(se, t_ms, false);
    if (!k)
        return 0;
    struct store_cursor *cur = cursor_of(s, se);
    struct store_iter it;
    int found = 0;
    if (cursor_valid(s, cur, se) && cur->chunk == k - 1 && cur->x.t <= t_ms) {
        cursor_load(cur, &it);
        found = 1;
    } else {
        iter_at_chunk(&it, se, k - 1);
    }
    if (!iter_before(&it, t_ms, found))
        return 0;
    cursor_save(s, cur, &it);
    *out = xor_sample(&it.x);
    return 1;
}

size_t store_seek_cached(struct store *s, struct store_iter *it, const struct store_series *se,
                         int64_t t_ms)
{
    if (!se->len || t_ms > se->last.t)
        return store_iter_seek(it, se, t_ms);
    struct store_cursor *cur = cursor_of(s, se);
    size_t k = chunk_after(se, t_ms, true), start = k ? k - 1 : 0;
    if (cursor_valid(s, cur, se) && cur->chunk == start && cur->x.t < t_ms) {
        cursor_load(cur, it);
        it->index++;
        iter_until(it, t_ms);
    } else {
        store_iter_seek(it, se, t_ms);
    }
    cursor_save(s, cur, it);
    return it->index;
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
