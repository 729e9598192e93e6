/* hold: the limits of the hold queue, one test per rule. */
#include "unit.h"

#include <errno.h>

#include "router/hold.h"

static struct hold_limits limits(void)
{
    return (struct hold_limits){.max_requests = 3, .max_bytes = 100, .max_wait = 10};
}

static void rule_fifo_per_model(void **state)
{
    struct hold_limits lim = limits();
    struct hold h;
    hold_init(&h, &lim);
    struct held a = {0}, b = {0}, c = {0};
    assert_int_equal(hold_push(&h, "m1", &a, 1, 0), 0);
    assert_int_equal(hold_push(&h, "m2", &b, 1, 1), 0);
    assert_int_equal(hold_push(&h, "m1", &c, 1, 2), 0);
    assert_int_equal(hold_count(&h, "m1"), 2);
    assert_ptr_equal(hold_pop(&h, "m1"), &a);
    assert_ptr_equal(hold_pop(&h, "m1"), &c);
    assert_null(hold_pop(&h, "m1"));
    assert_ptr_equal(hold_pop(&h, "m2"), &b);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.bytes, 0);
    hold_release(&h);
}

static void rule_count_limit_is_per_model(void **state)
{
    struct hold_limits lim = limits();
    struct hold h;
    hold_init(&h, &lim);
    struct held e[5] = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(hold_push(&h, "m1", &e[i], 1, 0), 0);
    assert_int_equal(hold_push(&h, "m1", &e[3], 1, 0), -ENOBUFS);
    assert_int_equal(hold_push(&h, "m2", &e[4], 1, 0), 0); /* another model still fits */
    assert_int_equal(h.overflows_total, 1);
    hold_release(&h);
}

static void rule_byte_limit_is_global(void **state)
{
    struct hold_limits lim = limits();
    struct hold h;
    hold_init(&h, &lim);
    struct held a = {0}, b = {0}, c = {0};
    assert_int_equal(hold_push(&h, "m1", &a, 60, 0), 0);
    assert_int_equal(hold_push(&h, "m2", &b, 41, 0), -ENOBUFS);
    assert_int_equal(hold_push(&h, "m2", &c, 40, 0), 0);
    hold_remove(&h, &a);
    assert_int_equal(h.bytes, 40);
    hold_release(&h);
}

static void rule_expiry_after_max_wait(void **state)
{
    struct hold_limits lim = limits();
    struct hold h;
    hold_init(&h, &lim);
    struct held a = {0}, b = {0};
    hold_push(&h, "m1", &a, 1, 0);
    hold_push(&h, "m2", &b, 1, 4);
    assert_near(hold_next_expiry(&h, 1), 9, 1e-9);
    assert_null(hold_pop_expired(&h, 9.9));
    assert_ptr_equal(hold_pop_expired(&h, 10), &a);
    assert_null(hold_pop_expired(&h, 10));
    assert_near(hold_next_expiry(&h, 10), 4, 1e-9);
    assert_ptr_equal(hold_pop_expired(&h, 20), &b);
    assert_near(hold_next_expiry(&h, 20), -1, 0);
    assert_int_equal(h.timeouts_total, 2);
    hold_release(&h);
}

static void rule_zero_wait_means_never_hold(void **state)
{
    struct hold_limits lim = limits();
    lim.max_wait = 0;
    struct hold h;
    hold_init(&h, &lim);
    struct held a = {0};
    assert_int_equal(hold_push(&h, "m1", &a, 1, 0), -ENOBUFS);
    hold_release(&h);
}

static void rule_remove_from_middle(void **state)
{
    struct hold_limits lim = limits();
    struct hold h;
    hold_init(&h, &lim);
    struct held a = {0}, b = {0}, c = {0};
    hold_push(&h, "m", &a, 1, 0);
    hold_push(&h, "m", &b, 1, 0);
    hold_push(&h, "m", &c, 1, 0);
    hold_remove(&h, &b);
    hold_remove(&h, &b); /* removing twice is harmless */
    assert_ptr_equal(hold_pop(&h, "m"), &a);
    assert_ptr_equal(hold_pop(&h, "m"), &c);
    hold_release(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_fifo_per_model),
        cmocka_unit_test(rule_count_limit_is_per_model),
        cmocka_unit_test(rule_byte_limit_is_global),
        cmocka_unit_test(rule_expiry_after_max_wait),
        cmocka_unit_test(rule_zero_wait_means_never_hold),
        cmocka_unit_test(rule_remove_from_middle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
