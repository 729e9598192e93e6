/* json: answers byte for byte as Prometheus 2.42 writes them (checked
 * against `prometheus` 2.42.0 on this machine), and read back unchanged by
 * ebb's KEDA reader, prom_query_answer. */
#include "../unit/unit.h"

#include "prom/query.h"
#include "promql/promql.h"

static void values_as_go_formats_them(void **state)
{
    static const struct {
        const char *rule;
        double v;
        const char *want;
    } rows[] = {
        {"json: integers have no fraction", 1, "1"},
        {"json: shortest round-trip digits", 0.1, "0.1"},
        {"json: a third", 1.0 / 3, "0.3333333333333333"},
        {"json: large integers in full", 123456789012, "123456789012"},
        {"json: 'e' below 1e-6", 1e-7, "1e-07"},
        {"json: 'f' from 1e-6", -0.0000012345, "-0.0000012345"},
        {"json: 'e' from 1e21", 1e21, "1e+21"},
        {"json: just below 1e21 in full", 1e20, "100000000000000000000"},
        {"json: 'e' with digits", 1.5e300, "1.5e+300"},
        {"json: infinities", 1.0 / 0.0, "+Inf"},
        {"json: negative infinity", -1.0 / 0.0, "-Inf"},
        {"json: NaN", 0.0 / 0.0, "NaN"},
        {"json: zero", 0, "0"},
        {"json: negative zero", -0.0, "-0"},
        {"json: float noise kept", 0.15000000000000002, "0.15000000000000002"},
        {"json: 17 digits when needed", 0.1 + 0.2, "0.30000000000000004"},
        {"json: 16 digits", 2.0 / 3, "0.6666666666666666"},
        {"json: 15 digits, not more", 0.123456789012345, "0.123456789012345"},
        {"json: the largest double", 1.7976931348623157e308, "1.7976931348623157e+308"},
        {"json: the smallest denormal", 5e-324, "5e-324"},
        {"json: large integers below 1e21", 123456789012345680000.0, "123456789012345680000"},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        char out[64];
        promql_format_value(rows[i].v, out, sizeof(out));
        if (strcmp(out, rows[i].want))
            fail_msg("%s: got %s, want %s", rows[i].rule, out, rows[i].want);
    }
}

static void times_as_seconds_with_three_decimals(void **state)
{
    static const struct {
        int64_t t;
        const char *want;
    } rows[] = {{1500, "1.500"}, {1050, "1.050"}, {100000, "100"}, {1700000000123, "1700000000.123"},
                {-1500, "-1.500"}, {1, "0.001"}};
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct buf b = BUF_INIT(64);
        assert_int_equal(promql_append_time(&b, rows[i].t), 0);
        assert_string_equal(b.data, rows[i].want);
        buf_release(&b);
    }
}

static struct store st;

static void load(void)
{
    struct store_limits l;
    store_limits_defaults(&l);
    store_init(&st, &l);
    struct prom_label a[] = {{"__name__", "up"}, {"job", "a<b>&\xe2\x80\xa8"}};
    struct prom_label b[] = {{"__name__", "up"}, {"job", "b"}};
    for (int i = 0; i <= 10; i++) {
        store_append(&st, a, 2, i * 1000, i);
        store_append(&st, b, 2, i * 1000, 0.5);
    }
}

static void answer(const char *q, int64_t start, int64_t end, int64_t step, const char *want)
{
    struct promql_result r;
    char err[256];
    struct buf b = BUF_INIT(1 << 20);
    int rc = step ? promql_query_range(&st, q, start, end, step, &r, err, sizeof(err))
                  : promql_query_instant(&st, q, start, &r, err, sizeof(err));
    if (rc)
        fail_msg("%s: %s", q, err);
    assert_int_equal(promql_result_json(&r, &b), 0);
    if (strcmp(b.data, want))
        fail_msg("%s:\n got  %s\n want %s", q, b.data, want);
    buf_release(&b);
    promql_result_release(&r);
}

static void result_shapes(void **state)
{
    load();
    answer("up", 1500, 0, 0,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
           "{\"metric\":{\"__name__\":\"up\",\"job\":\"a\\u003cb\\u003e\\u0026\\u2028\"},\"value\":[1.500,\"1\"]},"
           "{\"metric\":{\"__name__\":\"up\",\"job\":\"b\"},\"value\":[1.500,\"0.5\"]}]}}");
    answer("1.5", 3000, 0, 0,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[3,\"1.5\"]}}");
    /* json: scalars and strings marshal their time as a plain float and a
     * scalar's value always in 'f' (Scalar.MarshalJSON) */
    answer("1e-8 * 3", 1500, 0, 0,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1.5,\"0.000000030000000000000004\"]}}");
    answer("\"a<b\"", 3000, 0, 0,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[3,\"a\\u003cb\"]}}");
    answer("up{job=\"b\"}[2s]", 3000, 0, 0,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
           "{\"metric\":{\"__name__\":\"up\",\"job\":\"b\"},\"values\":[[1,\"0.5\"],[2,\"0.5\"],[3,\"0.5\"]]}]}}");
    answer("sum(up)", 1000, 3000, 1000,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
           "{\"metric\":{},\"values\":[[1,\"1.5\"],[2,\"2.5\"],[3,\"3.5\"]]}]}}");
    answer("nothing", 1000, 0, 0,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
    store_release(&st);
}

static void errors_have_prometheus_shape(void **state)
{
    struct buf b = BUF_INIT(1024);
    assert_int_equal(promql_error_json(PROMQL_ERR_BAD_DATA, "1:5: parse error: \"x\"", &b), 0);
    assert_string_equal(b.data, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
                                "\"1:5: parse error: \\\"x\\\"\"}");
    buf_reset(&b);
    assert_int_equal(promql_error_json(PROMQL_ERR_EXEC, "too many", &b), 0);
    assert_string_equal(b.data, "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"too many\"}");
    buf_release(&b);
}

/* The autoscaler evaluates in process and reads the answer as KEDA does. */
static void keda_reader_reads_the_answer(void **state)
{
    load();
    struct promql_result r;
    char err[256];
    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(promql_query_instant(&st, "sum(up)", 5000, &r, err, sizeof(err)), 0);
    assert_int_equal(promql_result_json(&r, &b), 0);
    struct prom_answer a;
    prom_query_answer(200, b.data, b.len, "sum(up)", true, true, &a);
    assert_int_equal(a.outcome, PROM_VALUE);
    assert_near(a.value, 5.5, 1e-9);
    promql_result_release(&r);
    buf_release(&b);
    store_release(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_as_go_formats_them),
        cmocka_unit_test(times_as_seconds_with_three_decimals),
        cmocka_unit_test(result_shapes),
        cmocka_unit_test(errors_have_prometheus_shape),
        cmocka_unit_test(keda_reader_reads_the_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
