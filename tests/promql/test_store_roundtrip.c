/* store_roundtrip: the compressed store against a plain array of samples.
 *
 * Random and adversarial series (jittered and regular times, big jumps,
 * negative changes of distance, distances past 32 bits, NaNs with any
 * payload, the stale marker, infinities, -0.0, subnormals, repeats and
 * long runs of them, same-time rewrites, times refused as older) go into
 * the store and into a
 * reference array side by side, with the per-series limit, gc and a tight
 * max_bytes in some rounds. After every append every reader must give back
 * the reference's samples bit for bit: iteration, random access, seeks,
 * the newest-before lookup and batched reads. */
#include "../unit/unit.h"

#include <errno.h>
#include <float.h>
#include <stdbool.h>
#include <stdlib.h>

#include "promql/promql.h"
#include "promql/store.h"

#define NSERIES 3

struct ref {
    struct store_sample *s; /* accepted samples; [start, n) are held */
    size_t n, start, cap;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: the test is the same run to run for a seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t double_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

/* A value: each kind the encoder has a case for, and then some. */
static double pick_value(double prev)
{
    switch (rnd() % 16) {
    case 0: case 1: case 2: case 3: return prev; /* a repeat: 1 bit */
    case 4: return prom_stale_nan();
    case 5: /* a NaN, any payload */
        return bits_double(UINT64_C(0x7ff8000000000000) | (rnd() & 0xfffffffffffff));
    case 6: return rnd() & 1 ? INFINITY : -INFINITY;
    case 7: return rnd() & 1 ? -0.0 : 0.0;
    case 8: return bits_double(rnd() & 0xfffffffffffff); /* a subnormal */
    case 9: return rnd() & 1 ? DBL_TRUE_MIN : -DBL_MAX;
    case 10: return bits_double(rnd()); /* any bits at all */
    case 11: return bits_double(double_bits(prev) ^ (UINT64_C(1) << (rnd() % 64)));
    case 12: return prev + 1;
    default: return (double)(rnd() % 1000);
    }
}

/* The next time after t (or t itself for a rewrite, or before it). */
static int64_t pick_time(int64_t t, int64_t *step)
{
    uint64_t u = (uint64_t)t;
    switch (rnd() % 20) {
    case 0: return t;                                       /* rewrite the last */
    case 1: return (int64_t)(u - 1 - rnd() % 5000);         /* older: refused */
    case 2: *step = (int64_t)(rnd() % ((uint64_t)1 << 40)); /* a big jump */ break;
    case 3: *step = (int64_t)(rnd() >> 2);                  /* a distance past 32 bits */ break;
    case 4: *step = 1 + (int64_t)(rnd() % 3);               /* a negative change */ break;
    case 5: *step = (int64_t)(rnd() % 5000) + 1;            /* each bucket in turn */ break;
    case 6: case 7: case 8: *step = 1000 + (int64_t)(rnd() % 5) - 2; /* jitter */ break;
    default: break; /* regular: 1 bit */
    }
    if (*step <= 0)
        *step = 1000;
    /* Clamp so that times stay valid int64s. */
    if (t > INT64_MAX - *step)
        return t;
    return t + *step;
}

static void ref_push(struct ref *r, int64_t t, double v)
{
    if (r->n && r->n > r->start && r->s[r->n - 1].t == t) {
        r->s[r->n - 1].v = v;
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->s = realloc(r->s, r->cap * sizeof(*r->s));
        assert_non_null(r->s);
    }
    r->s[r->n++] = (struct store_sample){t, v};
}

/* A macro, so that a failure names the reader's line. */
#define same_sample(got, want)                                                                     \
    do {                                                                                           \
        assert_int_equal((got).t, (want).t);                                                       \
        assert_int_equal(double_bits((got).v), double_bits((want).v));                            \
    } while (0)

/* Every reader of se against the reference's held samples. */
static void check_series(struct store *s, const struct store_series *se, struct ref *r,
                         bool exact_len, bool all)
{
    size_t held = r->n - r->start;
    if (!se) {
        assert_int_equal(held, 0);
        return;
    }
    assert_true(se->len >= 1 && se->len <= held);
    if (exact_len)
        assert_int_equal(se->len, held);
    /* Past max_bytes a series gives up its oldest chunk: it holds a tail. */
    r->start = r->n - se->len;
    const struct store_sample *want = r->s + r->start;
    struct store_iter it;
    struct store_sample got;
    /* The whole series now and then (each time would be quadratic). */
    store_iter_init(&it, se, all || se->len < 130 ? 0 : se->len - 130);
    for (size_t i = it.index; i < se->len; i++) {
        assert_true(store_iter_next(&it, &got));
        same_sample(got, want[i]);
    }
    assert_false(store_iter_next(&it, &got));
    for (int k = 0; k < 4; k++) {
        size_t i = rnd() % se->len;
        same_sample(store_series_at(se, i), want[i]);
        /* A seek to a sample's time, to just after it, and a batch from there. */
        int64_t t = want[i].t;
        assert_int_equal(store_series_seek(se, t), i);
        if (t < INT64_MAX)
            assert_int_equal(store_series_seek(se, t + 1), i + 1);
        assert_int_equal(store_iter_seek(&it, se, t), i);
        struct store_sample batch[8];
        size_t n = store_iter_read(&it, batch, 8);
        assert_int_equal(n, se->len - i < 8 ? se->len - i : 8);
        for (size_t j = 0; j < n; j++)
            same_sample(batch[j], want[i + j]);
        assert_true(store_series_before(se, t, &got));
        same_sample(got, want[i]);
        if (t > INT64_MIN) {
            int found = store_series_before(se, t - 1, &got);
            assert_int_equal(found, i > 0);
            if (found)
                same_sample(got, want[i - 1]);
        }
    }
    /* Cached reads, as a range query's steps make them: later and later,
     * now and then earlier (a cursor that cannot be used). */
    size_t i = rnd() % se->len;
    for (int k = 0; k < 6; k++) {
        if (rnd() % 4 == 0)
            i = rnd() % se->len;
        int64_t t = want[i].t;
        assert_int_equal(store_seek_cached(s, &it, se, t), i);
        assert_true(store_iter_next(&it, &got));
        same_sample(got, want[i]);
        assert_int_equal(store_iter_count(&it, t), 0);
        assert_true(store_before_cached(s, se, t, &got));
        same_sample(got, want[i]);
        if (t < INT64_MAX) {
            assert_true(store_before_cached(s, se, t + 1, &got));
            same_sample(got, want[i + 1 < se->len && want[i + 1].t == t + 1 ? i + 1 : i]);
            assert_int_equal(store_seek_cached(s, &it, se, t + 1), i + 1);
            size_t j = i + 1 + rnd() % 3 < se->len ? i + 1 + rnd() % 3 : se->len;
            if (j < se->len)
                assert_int_equal(store_iter_count(&it, want[j].t), j - i - 1);
        }
        i += rnd() % 5;
        if (i >= se->len)
            i = se->len - 1;
    }
    assert_int_equal(store_series_seek(se, INT64_MIN), 0);
    assert_int_equal(store_series_seek(se, want[se->len - 1].t), se->len - 1);
}

struct round {
    const char *name;
    size_t max_samples, max_bytes;
    int appends;
    bool gc;
    bool runs; /* mostly repeats: the same distance, the same value */
};

static void run_round(const struct round *rd, uint64_t seed)
{
    rng_state = seed;
    struct store s;
    struct store_limits l;
    store_limits_defaults(&l);
    l.max_series = NSERIES;
    l.max_samples_per_series = rd->max_samples;
    l.max_bytes = rd->max_bytes;
    l.retention_ms = 100000;
    assert_int_equal(store_init(&s, &l), 0);
    static const char *names[NSERIES] = {"a", "b", "c"};
    struct ref refs[NSERIES] = {{0}};
    int64_t t[NSERIES], step[NSERIES];
    double v[NSERIES];
    for (int k = 0; k < NSERIES; k++) {
        t[k] = (int64_t)(rnd() % ((uint64_t)1 << 41)) - ((int64_t)1 << 40);
        step[k] = 1000;
        v[k] = 0;
    }
    bool exact = rd->max_bytes == (size_t)1 << 30;
    for (int op = 0; op < rd->appends; op++) {
        int k = (int)(rnd() % NSERIES);
        struct prom_label lab[] = {{"__name__", names[k]}};
        struct ref *r = &refs[k];
        if (rd->gc && rnd() % 200 == 0) {
            int64_t now = t[k] + (int64_t)(rnd() % 150000);
            store_gc(&s, now);
            for (int j = 0; j < NSERIES; j++) {
                int64_t min_t = now - l.retention_ms;
                while (refs[j].start < refs[j].n && refs[j].s[refs[j].start].t < min_t)
                    refs[j].start++;
                struct prom_label lj[] = {{"__name__", names[j]}};
                check_series(&s, store_find(&s, lj, 1), &refs[j], exact, true);
            }
            continue;
        }
        int64_t nt;
        double nv;
        if (rd->runs && rnd() % 32 && t[k] <= INT64_MAX - step[k]) {
            nt = t[k] + step[k];
            nv = v[k];
        } else {
            nt = pick_time(t[k], &step[k]);
            nv = pick_value(v[k]);
        }
        int rc = store_append(&s, lab, 1, nt, nv);
        bool held = r->n > r->start;
        if (held && nt < r->s[r->n - 1].t) {
            assert_int_equal(rc, -EINVAL);
        } else if (rc == 0) {
            if (!held)
                r->start = r->n;
            ref_push(r, nt, nv);
            if (r->n - r->start > rd->max_samples)
                r->start = r->n - rd->max_samples;
            t[k] = nt;
            v[k] = nv;
        } else {
            assert_int_equal(rc, -ENOSPC);
            assert_false(exact);
        }
        check_series(&s, store_find(&s, lab, 1), r, exact, op % 128 == 0);
        struct store_stats st;
        store_stats(&s, &st);
        size_t total = 0;
        for (int j = 0; j < NSERIES; j++)
            total += refs[j].n - refs[j].start;
        if (exact)
            assert_int_equal(st.samples, total);
        assert_true(st.samples <= total);
        assert_true(st.bytes <= l.max_bytes);
        assert_true(st.sample_bytes <= st.bytes);
    }
    struct store_stats st;
    store_stats(&s, &st);
    /* store: past max_bytes, refusals are counted (and the rounds reach it) */
    assert_true(exact || st.rejected > 0 || st.bytes + 600 > l.max_bytes);
    store_release(&s);
    for (int k = 0; k < NSERIES; k++)
        free(refs[k].s);
}

static void roundtrip(void **state)
{
    static const struct round rounds[] = {
        {"store: a long series, no limit reached", 100000, (size_t)1 << 30, 2000, false, false},
        {"store: the oldest sample goes first", 1024, (size_t)1 << 30, 2000, false, false},
        {"store: a limit under a chunk", 7, (size_t)1 << 30, 2000, false, false},
        {"store: a limit of one sample", 1, (size_t)1 << 30, 1000, false, false},
        {"store: a limit one past a chunk", STORE_CHUNK_SAMPLES + 1, (size_t)1 << 30, 2500, false, false},
        {"store: gc drops old samples and chunks", 500, (size_t)1 << 30, 2000, true, false},
        {"store: max_bytes gives up a series' oldest chunk", 100000, 3000, 2500, false, false},
        {"store: max_bytes with gc and the limit", 300, 2500, 2500, true, false},
        {"store: runs of repeats", 100000, (size_t)1 << 30, 4000, false, true},
        {"store: runs under a limit of 7", 7, (size_t)1 << 30, 3000, false, true},
        {"store: runs with gc and the limit", 300, (size_t)1 << 30, 4000, true, true},
        {"store: runs with max_bytes", 100000, 2500, 4000, false, true},
    };
    for (size_t i = 0; i < ARRAY_LEN(rounds); i++) {
        for (uint64_t seed = 1; seed <= 2; seed++) {
            print_message("%s (seed %llu)\n", rounds[i].name, (unsigned long long)seed);
            run_round(&rounds[i], seed * UINT64_C(0x9e3779b97f4a7c15));
        }
    }
}

/* A regular scrape of a value that does not change: two bits a repeat,
 * then one run token for all of them; the first sample of a chunk is 128
 * bits. The run goes on past a full chunk, to UINT16_MAX samples. */
static void idle_series_is_one_run(void **state)
{
    struct store s;
    struct store_limits l;
    store_limits_defaults(&l);
    l.max_samples_per_series = 200000;
    l.retention_ms = INT64_MAX / 2;
    assert_int_equal(store_init(&s, &l), 0);
    struct prom_label a[] = {{"__name__", "a"}};
    int64_t t0 = 1700000000000;
    /* the second sample's distance (1000) is a change from 0: 4 + 12 bits */
    const unsigned head = 128 + 17;
    struct store_series *se = NULL;
    for (int i = 0; i < 70000; i++) {
        assert_int_equal(store_append(&s, a, 1, t0 + i * 1000, 7), 0);
        se = store_find(&s, a, 1);
        unsigned repeats = i < 2 ? 0 : (unsigned)i - 1;
        if (i < 2 || i + 1 > UINT16_MAX)
            continue;
        assert_int_equal(se->nchunks, 1);
        if (repeats < STORE_RUN_MIN)
            assert_int_equal(se->chunks[0].nbits, head + 2 * repeats);
        else
            assert_int_equal(se->chunks[0].nbits, head + 10 + 31 - __builtin_clz(repeats));
    }
    /* store: a chunk holds at most UINT16_MAX samples, runs too */
    assert_int_equal(se->nchunks, 2);
    assert_int_equal(se->chunks[0].n, UINT16_MAX);
    assert_int_equal(se->len, 70000);
    /* store: readers pass a run at once and land inside it exactly */
    for (size_t i = 0; i < 70000; i += 4999) {
        struct store_sample got = store_series_at(se, i);
        assert_int_equal(got.t, t0 + (int64_t)i * 1000);
        assert_true(got.v == 7);
        assert_int_equal(store_series_seek(se, t0 + (int64_t)i * 1000 - 1), i);
        assert_true(store_series_before(se, t0 + (int64_t)i * 1000 + 999, &got));
        assert_int_equal(got.t, t0 + (int64_t)i * 1000);
        struct store_iter it;
        store_iter_seek(&it, se, t0 + (int64_t)i * 1000);
        assert_int_equal(store_iter_count(&it, t0 + (int64_t)(i + 1500) * 1000),
                         i + 1500 < 70000 ? 1500 : 70000 - i);
    }
    /* store: gc inside the run keeps the run's tail */
    store_gc(&s, t0 + 30000 * 1000 + l.retention_ms);
    assert_int_equal(se->len, 40000);
    assert_int_equal(store_series_at(se, 0).t, t0 + 30000 * 1000);
    /* store: a same-time rewrite inside a run shortens it; a new value ends it */
    int64_t last = t0 + 69999 * 1000;
    assert_int_equal(store_append(&s, a, 1, last, 8), 0);
    assert_int_equal(store_append(&s, a, 1, last + 1000, 8), 0);
    assert_int_equal(se->len, 40001);
    assert_true(store_series_at(se, 39998).v == 7);
    assert_true(store_series_at(se, 39999).v == 8);
    assert_int_equal(store_series_at(se, 40000).t, last + 1000);
    store_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_series_is_one_run),
        cmocka_unit_test(roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
