/* store_read: the store's readers — iterators, seeks, the newest-before
 * lookup and the cursors that range queries go on from. See store.h. */
#include "promql/store.h"

#include <stdbool.h>
#include <stdlib.h>

#include "promql/chunkenc.h"

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
