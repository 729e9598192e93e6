/* prefix: the prefix index's rules, one test per rule. */
#include "unit.h"

#include "router/prefix.h"

static size_t hashes_of(const char *s, uint64_t *out)
{
    return prefix_hashes(s, strlen(s), out, PREFIX_MAX_CHUNKS);
}

static char *repeat(char c, size_t n)
{
    static char buf[4096];
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void rule_longest_known_prefix_wins(void **state)
{
    struct prefix_index px;
    prefix_init(&px, 100);
    char a[8192], b[8192];
    snprintf(a, sizeof(a), "%s%s", repeat('x', 256), "tail-a");      /* 3 chunks */
    uint64_t ha[8], hb[8];
    size_t na = hashes_of(a, ha);
    prefix_insert(&px, ha, 1, 111);  /* backend 111 served the first chunk only */
    prefix_insert(&px, ha, na, 222); /* then 222 served all of a (first chunk now 222 too) */
    snprintf(b, sizeof(b), "%s%s", repeat('x', 256), "other-tail"); /* shares 2 chunks */
    size_t nb = hashes_of(b, hb);
    uint64_t cands[] = {111, 222};
    size_t depth;
    assert_int_equal(prefix_match(&px, hb, nb, cands, 2, &depth), 1);
    assert_int_equal(depth, 2);
    prefix_release(&px);
}

static void rule_only_live_candidates_match(void **state)
{
    struct prefix_index px;
    prefix_init(&px, 100);
    uint64_t h[8];
    size_t n = hashes_of(repeat('y', 300), h);
    prefix_insert(&px, h, n, 7);
    uint64_t cands[] = {8, 9}; /* backend 7 is gone */
    size_t depth;
    assert_int_equal(prefix_match(&px, h, n, cands, 2, &depth), -1);
    assert_int_equal(depth, 0);
    prefix_release(&px);
}

static void rule_memory_is_bounded_with_lru_eviction(void **state)
{
    struct prefix_index px;
    prefix_init(&px, 4);
    uint64_t h1[8], h2[8], h3[8];
    size_t n1 = hashes_of("first prompt", h1);
    size_t n2 = hashes_of(repeat('a', 300), h2);  /* 3 chunks */
    prefix_insert(&px, h1, n1, 1);
    prefix_insert(&px, h2, n2, 2);
    assert_int_equal(px.used, 4);
    size_t n3 = hashes_of("third prompt", h3);
    prefix_insert(&px, h3, n3, 3);                /* evicts the oldest: "first prompt" */
    assert_int_equal(px.used, 4);
    assert_int_equal(px.evictions, 1);
    uint64_t cands[] = {1, 2, 3};
    size_t depth;
    assert_int_equal(prefix_match(&px, h1, n1, cands, 3, &depth), -1);
    assert_int_equal(prefix_match(&px, h3, n3, cands, 3, &depth), 2);
    for (int i = 0; i < 1000; i++) { /* churn never grows it */
        char p[32];
        int len = snprintf(p, sizeof(p), "prompt %d", i);
        uint64_t h[2];
        size_t n = prefix_hashes(p, (size_t)len, h, 2);
        prefix_insert(&px, h, n, (uint64_t)i);
    }
    assert_int_equal(px.used, 4);
    prefix_release(&px);
}

static void rule_chunks_are_128_characters(void **state)
{
    uint64_t h[8];
    assert_int_equal(prefix_hashes("", 0, h, 8), 0);
    assert_int_equal(hashes_of(repeat('z', 128), h), 1);
    assert_int_equal(hashes_of(repeat('z', 129), h), 2);
    assert_int_equal(prefix_hashes(repeat('z', 4000), 4000, h, 8), 8); /* capped */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_longest_known_prefix_wins),
        cmocka_unit_test(rule_only_live_candidates_match),
        cmocka_unit_test(rule_memory_is_bounded_with_lru_eviction),
        cmocka_unit_test(rule_chunks_are_128_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
