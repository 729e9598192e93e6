/* store: the bounded series store, one rule per test row. */
#include "../unit/unit.h"

#include <errno.h>

#include "promql/promql.h"
#include "promql/store.h"

#define L(n, v) {(n), (v)}

static void limits(struct store_limits *l, size_t series, size_t samples, size_t bytes)
{
    store_limits_defaults(l);
    l->max_series = series;
    l->max_samples_per_series = samples;
    l->max_bytes = bytes;
}

static void appends_find_and_order(void **state)
{
    struct store s;
    struct store_limits l;
    limits(&l, 10, 100, 1 << 20);
    assert_int_equal(store_init(&s, &l), 0);
    struct prom_label a[] = {L("__name__", "up"), L("job", "x")};
    assert_int_equal(store_append(&s, a, 2, 1000, 1), 0);
    assert_int_equal(store_append(&s, a, 2, 2000, 2), 0);
    /* store: an older sample is refused */
    assert_int_equal(store_append(&s, a, 2, 1500, 3), -EINVAL);
    /* store: the same time replaces the last value */
    assert_int_equal(store_append(&s, a, 2, 2000, 5), 0);
    struct store_series *se = store_find(&s, a, 2);
    assert_non_null(se);
    assert_int_equal(se->len, 2);
    assert_true(store_series_at(se, 1).v == 5);
    /* store: labels must be sorted by name */
    struct prom_label unsorted[] = {L("job", "x"), L("__name__", "up")};
    assert_int_equal(store_append(&s, unsorted, 2, 1000, 1), -EINVAL);
    /* store: an empty value is no label */
    struct prom_label empty[] = {L("__name__", "up"), L("a", ""), L("job", "x")};
    assert_ptr_equal(store_find(&s, empty, 3), se);
    assert_int_equal(store_series_seek(se, 1500), 1);
    struct store_stats st;
    store_stats(&s, &st);
    assert_int_equal(st.series, 1);
    assert_int_equal(st.samples, 2);
    store_release(&s);
}

static void limits_refuse_and_count(void **state)
{
    struct store s;
    struct store_limits l;
    limits(&l, 2, 4, 1 << 20);
    assert_int_equal(store_init(&s, &l), 0);
    struct prom_label a[] = {L("__name__", "a")}, b[] = {L("__name__", "b")},
                      c[] = {L("__name__", "c")};
    assert_int_equal(store_append(&s, a, 1, 1, 1), 0);
    assert_int_equal(store_append(&s, b, 1, 1, 1), 0);
    /* store: a series past max_series is refused and counted */
    assert_int_equal(store_append(&s, c, 1, 1, 1), -ENOSPC);
    /* store: a full ring drops its oldest sample */
    for (int i = 2; i <= 10; i++)
        assert_int_equal(store_append(&s, a, 1, i, i), 0);
    struct store_series *se = store_find(&s, a, 1);
    assert_int_equal(se->len, 4);
    assert_int_equal(store_series_at(se, 0).t, 7);
    struct store_stats st;
    store_stats(&s, &st);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.samples, 5);
    assert_true(st.bytes <= l.max_bytes);
    store_release(&s);
    /* store: samples per series are counted in 32 bits */
    limits(&l, 100, (size_t)UINT32_MAX + 1, 600);
    assert_int_equal(store_init(&s, &l), -EINVAL);
    /* store: a series past max_bytes is refused */
    limits(&l, 100, 4, 600);
    assert_int_equal(store_init(&s, &l), 0);
    int err = 0;
    char name[16];
    for (int i = 0; i < 100 && !err; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        struct prom_label m[] = {L("__name__", name)};
        err = store_append(&s, m, 1, 1, 1);
    }
    assert_int_equal(err, -ENOSPC);
    store_stats(&s, &st);
    assert_true(st.bytes <= 600);
    store_release(&s);
}

static void gc_drops_old_samples_and_empty_series(void **state)
{
    struct store s;
    struct store_limits l;
    limits(&l, 10, 100, 1 << 20);
    l.retention_ms = 1000;
    assert_int_equal(store_init(&s, &l), 0);
    struct prom_label a[] = {L("__name__", "a")}, b[] = {L("__name__", "b")};
    for (int i = 0; i < 10; i++)
        assert_int_equal(store_append(&s, a, 1, i * 500, i), 0);
    assert_int_equal(store_append(&s, b, 1, 0, prom_stale_nan()), 0);
    store_gc(&s, 4500);
    struct store_stats st;
    store_stats(&s, &st);
    /* store: samples before now - retention go, then series left empty */
    assert_int_equal(st.series, 1);
    assert_int_equal(st.samples, 3);
    assert_null(store_find(&s, b, 1));
    assert_non_null(store_find(&s, a, 1));
    /* store: a series can come back after gc */
    assert_int_equal(store_append(&s, b, 1, 5000, 1), 0);
    assert_non_null(store_find(&s, b, 1));
    store_release(&s);
}

/* 12 samples, every step ms, into a ring of 8: it wraps, keeping the
 * last 8. */
static struct store_series *wrapped(struct store *s, int64_t step)
{
    struct store_limits l;
    limits(&l, 10, 8, 1 << 20);
    assert_int_equal(store_init(s, &l), 0);
    struct prom_label a[] = {L("__name__", "a")};
    for (int i = 0; i < 12; i++)
        assert_int_equal(store_append(s, a, 1, i * step, i), 0);
    return store_find(s, a, 1);
}

static void seek_finds_the_first_sample_at_or_after(void **state)
{
    struct store s;
    struct store_series *se = wrapped(&s, 10);
    static const struct {
        int64_t t;
        size_t want;
    } rows[] = {{0, 0}, {40, 0}, {41, 1}, {75, 4}, {110, 7}, {111, 8}, {1000, 8}};
    for (size_t i = 0; i < ARRAY_LEN(rows); i++)
        assert_int_equal(store_series_seek(se, rows[i].t), rows[i].want);
    for (size_t i = 0; i < se->len; i++)
        assert_int_equal(store_series_at(se, i).t, 40 + (int64_t)i * 10);
    store_release(&s);
}

/* A range selector over a wrapped ring sees its samples in time order. */
static void range_over_a_wrapped_ring(void **state)
{
    struct store s;
    wrapped(&s, 1000);
    struct promql_result r;
    char err[256];
    assert_int_equal(promql_query_instant(&s, "a[10s]", 11000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nseries, 1);
    assert_int_equal(r.series[0].npoints, 8);
    for (size_t i = 0; i < 8; i++)
        assert_true(r.series[0].points[i].v == 4 + (double)i);
    promql_result_release(&r);
    assert_int_equal(promql_query_instant(&s, "idelta(a[10s])", 11000, &r, err, sizeof(err)), 0);
    assert_true(r.series[0].points[0].v == 1);
    promql_result_release(&r);
    store_release(&s);
}

/* Samples read back exactly as appended, whatever their encoding. */
static void chunks_give_back_every_sample(void **state)
{
    struct store s;
    struct store_limits l;
    limits(&l, 10, 8, 1 << 20);
    assert_int_equal(store_init(&s, &l), 0);
    struct prom_label a[] = {L("__name__", "a")};
    int64_t t0 = 1700000000000;
    struct store_sample want[] = {
        {t0, 1},                          /* store: a first value is raw */
        {t0 + 1, prom_stale_nan()},       /* store: the stale marker keeps its bits */
        {t0 + 2, -0.0},                   /* store: negative zero keeps its sign */
        {t0 + 3, 0.1},                    /* store: a value no float holds */
        {t0 + ((int64_t)1 << 33), 2},     /* store: a time 2^33 ms on */
        {t0 + ((int64_t)1 << 33) + 1, 3}, /* store: the oldest sample goes first */
        {t0 + ((int64_t)1 << 33) + 2, 4},
        {t0 + ((int64_t)1 << 33) + 3, 5},
        {t0 + ((int64_t)1 << 33) + 4, 6},
        {t0 + ((int64_t)1 << 33) + 5, 7},
    };
    size_t n = sizeof(want) / sizeof(want[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(store_append(&s, a, 1, want[i].t, want[i].v), 0);
        struct store_series *se = store_find(&s, a, 1);
        size_t first = i + 1 > l.max_samples_per_series ? i + 1 - l.max_samples_per_series : 0;
        assert_int_equal(se->len, i + 1 - first);
        for (size_t j = first; j <= i; j++) {
            struct store_sample got = store_series_at(se, j - first);
            assert_int_equal(got.t, want[j].t);
            assert_memory_equal(&got.v, &want[j].v, sizeof(double));
        }
    }
    /* store: a value that repeats takes a bit; a first distance, 2 + 7 */
    struct prom_label b[] = {L("__name__", "b")};
    assert_int_equal(store_append(&s, b, 1, t0, 1), 0);
    assert_int_equal(store_append(&s, b, 1, t0 + 1, 1), 0);
    struct store_series *se = store_find(&s, b, 1);
    assert_int_equal(se->chunks[0].nbits, 128 + 9 + 1);
    assert_true(store_series_at(se, 1).v == 1);
    /* store: the last sample's value can be replaced by any other */
    assert_int_equal(store_append(&s, b, 1, t0 + 1, 1e300), 0);
    assert_int_equal(se->len, 2);
    assert_true(store_series_at(se, 0).v == 1);
    assert_true(store_series_at(se, 1).v == 1e300);
    /* store: a repeated value no float holds stays exact when another follows */
    struct prom_label c[] = {L("__name__", "c")};
    assert_int_equal(store_append(&s, c, 1, t0, 1e-7), 0);
    assert_int_equal(store_append(&s, c, 1, t0 + 1, 1e-7), 0);
    assert_int_equal(store_append(&s, c, 1, t0 + 2, 2.5), 0);
    se = store_find(&s, c, 1);
    assert_true(store_series_at(se, 0).v == 1e-7 && store_series_at(se, 1).v == 1e-7);
    assert_true(store_series_at(se, 2).v == 2.5);
    store_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_find_and_order),
        cmocka_unit_test(chunks_give_back_every_sample),
        cmocka_unit_test(limits_refuse_and_count),
        cmocka_unit_test(gc_drops_old_samples_and_empty_series),
        cmocka_unit_test(seek_finds_the_first_sample_at_or_after),
        cmocka_unit_test(range_over_a_wrapped_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
