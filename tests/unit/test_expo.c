/* expo: values formatted as prometheus_client does; histogram shape. */
#include "unit.h"

#include <math.h>

#include "prom/expo.h"

static void value_formatting_matches_python_repr(void **state)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0.0"},       {1.0, "1.0"},           {3.0, "3.0"},
        {0.25, "0.25"},     {100.0, "100.0"},       {1234.5678, "1234.5678"},
        {0.1, "0.1"},       {2560.0, "2560.0"},     {1e16, "1e+16"},
        {1.5e-5, "1.5e-05"}, {0.001, "0.001"},      {-2.5, "-2.5"},
        {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},    {NAN, "NaN"},
        {1795812976.123, "1795812976.123"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char out[40];
        prom_format_value(cases[i].v, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%.17g: got %s, want %s", cases[i].v, out, cases[i].want);
    }
}

static void histogram_is_cumulative_with_sorted_labels(void **state)
{
    static const double bounds[] = {0.1, 1.0};
    uint64_t cells[3] = {0};
    struct prom_histogram h;
    prom_histogram_init(&h, bounds, 2, cells);
    prom_histogram_observe(&h, 0.05);
    prom_histogram_observe(&h, 0.1); /* on a bound: counts in that bucket (le) */
    prom_histogram_observe(&h, 0.5);
    prom_histogram_observe(&h, 7);
    struct buf b = BUF_INIT(4096);
    assert_int_equal(prom_histogram_write(&b, "x", "engine=\"0\"", "model_name=\"m\"", &h), 0);
    assert_string_equal(b.data,
                        "x_bucket{engine=\"0\",le=\"0.1\",model_name=\"m\"} 2.0\n"
                        "x_bucket{engine=\"0\",le=\"1.0\",model_name=\"m\"} 3.0\n"
                        "x_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 4.0\n"
                        "x_count{engine=\"0\",model_name=\"m\"} 4.0\n"
                        "x_sum{engine=\"0\",model_name=\"m\"} 7.65\n");
    buf_release(&b);
}

static void label_values_are_escaped(void **state)
{
    struct buf b = BUF_INIT(256);
    assert_int_equal(prom_escape_label(&b, "a\"b\\c\nd"), 0);
    assert_string_equal(b.data, "a\\\"b\\\\c\\nd");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_formatting_matches_python_repr),
        cmocka_unit_test(histogram_is_cumulative_with_sorted_labels),
        cmocka_unit_test(label_values_are_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
