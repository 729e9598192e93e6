/* policy: each routing logic's rule, one test per rule. */
#include "unit.h"

#include "base/util.h"
#include "router/policy.h"

static void make(struct backend *b, const char *url, unsigned inflight)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->url, sizeof(b->url), "%s", url);
    b->url_hash = hash64(url, strlen(url), 0);
    b->inflight = inflight;
    b->waiting = b->running = -1;
}

static void rule_least_loaded_picks_fewest_in_flight(void **state)
{
    struct backend a, b, c;
    make(&a, "http://a:1", 5);
    make(&b, "http://b:1", 2);
    make(&c, "http://c:1", 7);
    struct backend *cands[] = {&a, &b, &c};
    struct policy p;
    policy_init(&p, ROUTING_LEAST_LOADED);
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(cands[policy_pick(&p, cands, 3, NULL, 0)], &b);
}

static void rule_least_loaded_counts_engine_load_beyond_ours(void **state)
{
    struct backend a, b;
    make(&a, "http://a:1", 1);
    make(&b, "http://b:1", 2);
    /* a's engine reports 10 queued+running while we had 1 in flight: 9 are
     * someone else's, so a is busier than b. */
    a.waiting = 6;
    a.running = 4;
    a.inflight_at_scrape = 1;
    struct backend *cands[] = {&a, &b};
    struct policy p;
    policy_init(&p, ROUTING_LEAST_LOADED);
    assert_ptr_equal(cands[policy_pick(&p, cands, 2, NULL, 0)], &b);
}

static void rule_least_loaded_spreads_ties(void **state)
{
    struct backend a, b;
    make(&a, "http://a:1", 0);
    make(&b, "http://b:1", 0);
    struct backend *cands[] = {&a, &b};
    struct policy p;
    policy_init(&p, ROUTING_LEAST_LOADED);
    int got_a = 0;
    for (int i = 0; i < 10; i++)
        got_a += cands[policy_pick(&p, cands, 2, NULL, 0)] == &a;
    assert_int_equal(got_a, 5);
}

static void rule_roundrobin_cycles_in_url_order(void **state)
{
    struct backend a, b, c;
    make(&a, "http://c:1", 0);
    make(&b, "http://a:1", 9);
    make(&c, "http://b:1", 0);
    struct backend *cands[] = {&a, &b, &c};
    struct policy p;
    policy_init(&p, ROUTING_ROUNDROBIN);
    const char *want[] = {"http://a:1", "http://b:1", "http://c:1", "http://a:1"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(cands[policy_pick(&p, cands, 3, NULL, 0)]->url, want[i]);
}

static void rule_session_is_sticky(void **state)
{
    struct backend a, b, c;
    make(&a, "http://a:1", 0);
    make(&b, "http://b:1", 0);
    make(&c, "http://c:1", 0);
    struct backend *cands[] = {&a, &b, &c};
    struct policy p;
    policy_init(&p, ROUTING_SESSION);
    size_t first = policy_pick(&p, cands, 3, "user-42", 7);
    for (int i = 0; i < 10; i++) {
        a.inflight = (unsigned)i; /* load does not move a session */
        assert_int_equal(policy_pick(&p, cands, 3, "user-42", 7), first);
    }
}

static void rule_session_moves_only_keys_of_a_leaving_backend(void **state)
{
    struct backend a, b, c;
    make(&a, "http://a:1", 0);
    make(&b, "http://b:1", 0);
    make(&c, "http://c:1", 0);
    struct backend *all[] = {&a, &b, &c};
    struct backend *without_c[] = {&a, &b};
    int moved = 0, on_c = 0;
    for (int k = 0; k < 1000; k++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "session-%d", k);
        struct backend *before = all[policy_rendezvous(all, 3, key, (size_t)n)];
        struct backend *after = without_c[policy_rendezvous(without_c, 2, key, (size_t)n)];
        if (before == &c)
            on_c++;
        else if (before != after)
            moved++;
    }
    assert_int_equal(moved, 0);          /* keys on a and b stay put */
    assert_in_range(on_c, 250, 420);     /* and c had about a third */
}

static void rule_session_without_key_falls_back_to_least_loaded(void **state)
{
    struct backend a, b;
    make(&a, "http://a:1", 3);
    make(&b, "http://b:1", 1);
    struct backend *cands[] = {&a, &b};
    struct policy p;
    policy_init(&p, ROUTING_SESSION);
    assert_ptr_equal(cands[policy_pick(&p, cands, 2, NULL, 0)], &b);
}

static void routing_logic_names_round_trip(void **state)
{
    const char *names[] = {"least-loaded", "roundrobin", "session", "prefixaware"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        enum routing_logic r;
        assert_int_equal(routing_logic_parse(names[i], &r), 0);
        assert_string_equal(routing_logic_name(r), names[i]);
    }
    enum routing_logic r;
    assert_int_not_equal(routing_logic_parse("kvaware", &r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_least_loaded_picks_fewest_in_flight),
        cmocka_unit_test(rule_least_loaded_counts_engine_load_beyond_ours),
        cmocka_unit_test(rule_least_loaded_spreads_ties),
        cmocka_unit_test(rule_roundrobin_cycles_in_url_order),
        cmocka_unit_test(rule_session_is_sticky),
        cmocka_unit_test(rule_session_moves_only_keys_of_a_leaving_backend),
        cmocka_unit_test(rule_session_without_key_falls_back_to_least_loaded),
        cmocka_unit_test(routing_logic_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
