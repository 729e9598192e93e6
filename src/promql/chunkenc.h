/* chunkenc: the bit stream of a store chunk and the samples in it —
 * Gorilla's delta-of-delta times and XOR'd values, and runs of repeats
 * (docs/promql.md). Internal to the store (store.c appends, store_read.c
 * reads); everything is inline, as the readers' loops need it to be. */
#ifndef EBB_PROMQL_CHUNKENC_H
#define EBB_PROMQL_CHUNKENC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "promql/store.h"

/* The most bits a sample takes: a time's 5 + 64, a value's 2 + 5 + 6 + 64
 * (the first of a chunk, raw, takes 128; a run token at most 5 + 5 + 15). */
#define SAMPLE_BITS_MAX 146

/* store_xor.lead while no XOR has set a window. */
#define NO_WINDOW 0xff

/* ---- The bit stream: most significant bit first. ---- */

/* Appends the low n bits of v (1 <= n <= 64) at bit *pos of buf, whose bits
 * from *pos on are zero and which has room for them. A NULL buf only
 * counts them (for the room a sample needs). */
static inline void bits_put(unsigned char *buf, uint32_t *pos, uint64_t v, unsigned n)
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
static inline void bits_cut(unsigned char *buf, uint32_t *pos, uint32_t to)
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
static inline size_t bitr_pos(const struct store_bitr *r, const struct store_chunk *c)
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
static inline void time_put(unsigned char *buf, uint32_t *pos, struct store_xor *x, int64_t t)
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
static inline unsigned run_bits(uint32_t k)
{
    if (k < STORE_RUN_MIN)
        return 2 * k;
    return 10 + (31 - (unsigned)__builtin_clz(k));
}

static inline void run_put(unsigned char *buf, uint32_t *pos, uint32_t k)
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
static inline void value_put(unsigned char *buf, uint32_t *pos, struct store_xor *x, uint64_t v)
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

static inline struct store_sample xor_sample(const struct store_xor *x)
{
    struct store_sample smp = {.t = x->t};
    memcpy(&smp.v, &x->v, sizeof(smp.v));
    return smp;
}

/* The first time of a chunk with samples: its first 64 bits. */
static inline int64_t chunk_first_t(const struct store_chunk *c)
{
    return (int64_t)load_be64(c->buf);
}

#endif
