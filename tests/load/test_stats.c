/* stats: percentiles (numpy's linear method), reservoir bounds, Poisson
 * arrivals with a fixed seed. */
#include "../unit/unit.h"

#include "load/stats.h"

static void percentiles_match_numpy_linear(void **state)
{
    /* Expected values are numpy.percentile(x, p) (method="linear"). */
    static const struct {
        const char *rule;
        double x[8];
        size_t n;
        double p, want;
    } cases[] = {
        {"one value is every percentile", {7}, 1, 99, 7},
        {"p50 of an even count is the middle mean", {4, 1, 3, 2}, 4, 50, 2.5},
        {"p90 interpolates between ranks", {1, 2, 3, 4, 5, 6, 7, 8}, 8, 90, 7.3},
        {"p99 of 1..5", {5, 4, 3, 2, 1}, 5, 99, 4.96},
        {"p0 is the minimum", {3, 1, 2}, 3, 0, 1},
        {"p100 is the maximum", {3, 1, 2}, 3, 100, 3},
        {"ties", {2, 2, 2, 9}, 4, 50, 2},
        {"p25 of 10, 20, 30", {30, 10, 20}, 3, 25, 15},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct samples s;
        samples_init(&s, 100, 1);
        for (size_t k = 0; k < cases[i].n; k++)
            assert_int_equal(samples_add(&s, cases[i].x[k]), 0);
        double got = samples_percentile(&s, cases[i].p);
        if (fabs(got - cases[i].want) > 1e-9)
            fail_msg("%s: got %.12g, want %.12g", cases[i].rule, got, cases[i].want);
        samples_release(&s);
    }
}

static void empty_samples_are_nan(void **state)
{
    struct samples s;
    samples_init(&s, 10, 1);
    assert_true(isnan(samples_percentile(&s, 50)));
    assert_true(isnan(samples_mean(&s)));
    samples_release(&s);
}

static void reservoir_keeps_cap_and_exact_moments(void **state)
{
    struct samples s;
    samples_init(&s, 1000, 42);
    for (int i = 1; i <= 100000; i++)
        samples_add(&s, i);
    assert_int_equal(s.n, 1000); /* memory stays bounded */
    assert_true(s.seen == 100000);
    assert_near(samples_mean(&s), 50000.5, 1e-9); /* mean, min, max are exact */
    assert_near(s.min, 1, 0);
    assert_near(s.max, 100000, 0);
    /* The kept subset is uniform: its median is near the true one. */
    assert_near(samples_percentile(&s, 50), 50000, 5000);
    samples_release(&s);
}

static void poisson_gaps_have_mean_one_over_rate(void **state)
{
    static const double rates[] = {0.5, 5, 200};
    for (size_t i = 0; i < ARRAY_LEN(rates); i++) {
        uint64_t rng = 12345;
        double sum = 0, sumsq = 0;
        int n = 200000;
        for (int k = 0; k < n; k++) {
            double g = poisson_gap(&rng, rates[i]);
            assert_true(g >= 0);
            sum += g;
            sumsq += g * g;
        }
        double mean = sum / n, var = sumsq / n - mean * mean;
        /* Exponential: mean 1/rate and standard deviation 1/rate; the mean
         * of 200000 draws is within 1% (more than 4 standard errors). */
        if (fabs(mean * rates[i] - 1) > 0.01 || fabs(sqrt(var) * rates[i] - 1) > 0.02)
            fail_msg("rate %g: mean gap %g, sd %g", rates[i], mean, sqrt(var));
    }
}

static void poisson_is_reproducible_by_seed(void **state)
{
    uint64_t a = 7, b = 7, c = 8;
    double ga = 0, gb = 0, gc = 0;
    for (int k = 0; k < 10; k++) {
        ga += poisson_gap(&a, 3);
        gb += poisson_gap(&b, 3);
        gc += poisson_gap(&c, 3);
    }
    assert_true(ga == gb);
    assert_true(ga != gc);
}

static void uniform_is_in_unit_interval(void **state)
{
    uint64_t rng = 0;
    for (int k = 0; k < 100000; k++) {
        double u = rng_uniform(&rng);
        assert_true(u >= 0 && u < 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percentiles_match_numpy_linear),
        cmocka_unit_test(empty_samples_are_nan),
        cmocka_unit_test(reservoir_keeps_cap_and_exact_moments),
        cmocka_unit_test(poisson_gaps_have_mean_one_over_rate),
        cmocka_unit_test(poisson_is_reproducible_by_seed),
        cmocka_unit_test(uniform_is_in_unit_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
