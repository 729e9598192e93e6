/* query: KEDA's prometheus scaler, §3.2 (the request) and §3.3 (reading the
 * answer), one row per row of the spec's decision table. */
#include "unit.h"

#include "prom/query.h"

#define VEC(r) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":" r "}}"
#define S(v) "{\"metric\":{\"pod\":\"p\"},\"value\":[1749077215.034," v "]}"

static void decision_table(void **state)
{
    static const struct {
        const char *rule;
        int status;
        const char *body;
        bool ignore_null, strict;
        enum prom_outcome want;
        double value;
        const char *err_has;
    } rows[] = {
        {"3.3: HTTP status not 2xx is an error", 503, "", true, false, PROM_ERROR, 0,
         "returned error. status: 503"},
        {"3.3: a body that is not a vector is an error", 200, "{nope", true, false, PROM_ERROR, 0,
         "cannot unmarshal"},
        {"3.3: a scalar result is an error", 200,
         "{\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"2\"]}}", true, false, PROM_ERROR, 0,
         "cannot unmarshal"},
        {"3.3: empty result with ignoreNullValues is 0", 200, VEC("[]"), true, false, PROM_VALUE, 0,
         NULL},
        {"3.3: empty result without ignoreNullValues is an error", 200, VEC("[]"), false, false,
         PROM_ERROR, 0, "target may be lost, the result is empty"},
        {"3.3: several series are an error in strict mode", 200, VEC("[" S("\"1\"") "," S("\"2\"") "]"),
         true, true, PROM_ERROR, 0, "returned multiple elements"},
        {"ebb: several series are summed by default", 200, VEC("[" S("\"1\"") "," S("\"2.5\"") "]"),
         true, false, PROM_VALUE, 3.5, NULL},
        {"3.3: a missing value list with ignoreNullValues is 0", 200,
         VEC("[{\"metric\":{},\"values\":[[1,\"2\"]]}]"), true, false, PROM_VALUE, 0, NULL},
        {"3.3: a missing value list without ignoreNullValues is an error", 200,
         VEC("[{\"metric\":{},\"values\":[[1,\"2\"]]}]"), false, false, PROM_ERROR, 0,
         "the value list is empty"},
        {"3.3: a value of one element is an error", 200, VEC("[{\"metric\":{},\"value\":[1]}]"), true,
         false, PROM_ERROR, 0, "didn't return enough values"},
        {"3.3: a null sample is -1 (KEDA's quirk)", 200, VEC("[" S("null") "]"), true, false,
         PROM_VALUE, -1, NULL},
        {"3.3: a number instead of a string is an error (KEDA panics)", 200, VEC("[" S("5") "]"),
         true, false, PROM_ERROR, 0, "not a string"},
        {"3.3: an unparsable sample is an error", 200, VEC("[" S("\"five\"") "]"), true, false,
         PROM_ERROR, 0, "ParseFloat"},
        {"3.3: NaN with ignoreNullValues is 0", 200, VEC("[" S("\"NaN\"") "]"), true, false,
         PROM_VALUE, 0, NULL},
        {"3.3: NaN without ignoreNullValues is an error", 200, VEC("[" S("\"NaN\"") "]"), false, false,
         PROM_ERROR, 0, "returns NaN"},
        {"3.3: +Inf without ignoreNullValues is an error", 200, VEC("[" S("\"+Inf\"") "]"), false,
         false, PROM_ERROR, 0, "returns +Inf"},
        {"3.3: -Inf with ignoreNullValues is 0", 200, VEC("[" S("\"-Inf\"") "]"), true, false,
         PROM_VALUE, 0, NULL},
        {"3.3: a finite value is the answer", 200, VEC("[" S("\"7\"") "]"), true, false, PROM_VALUE, 7,
         NULL},
        {"3.3: negative values are allowed", 200, VEC("[" S("\"-2.5\"") "]"), false, false, PROM_VALUE,
         -2.5, NULL},
        {"3.3: status and resultType are not checked", 200,
         "{\"status\":\"error\",\"data\":{\"resultType\":\"matrix\",\"result\":[" S("\"4\"") "]}}",
         true, false, PROM_VALUE, 4, NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct prom_answer a;
        prom_query_answer(rows[i].status, rows[i].body, strlen(rows[i].body), "q",
                          rows[i].ignore_null, rows[i].strict, &a);
        if (a.outcome != rows[i].want)
            fail_msg("%s: outcome %d (%s)", rows[i].rule, a.outcome, a.err);
        if (a.outcome == PROM_VALUE && a.value != rows[i].value)
            fail_msg("%s: value %g", rows[i].rule, a.value);
        if (rows[i].err_has && !strstr(a.err, rows[i].err_has))
            fail_msg("%s: error \"%s\"", rows[i].rule, a.err);
    }
}

static void summed_and_empty_are_reported(void **state)
{
    struct prom_answer a;
    const char *two = VEC("[" S("\"1\"") "," S("\"2\"") "]");
    prom_query_answer(200, two, strlen(two), "q", true, false, &a);
    assert_true(a.summed);
    assert_int_equal(a.nseries, 2);
    prom_query_answer(200, VEC("[]"), strlen(VEC("[]")), "q", true, false, &a);
    assert_true(a.empty);
}

static void request_url_as_keda_builds_it(void **state)
{
    struct buf b = BUF_INIT(4096);
    struct prom_kv params[] = {{"dedup", "true"}, {"a b", "c&d"}};
    assert_int_equal(prom_query_url(&b, "http://prometheus-operated.monitoring.svc:9090",
                                    "sum(rate(vllm:num_incoming_requests_total[1m]) > bool 0)",
                                    "2026-08-20T17:53:42Z", "default", params, 2),
                     0);
    assert_string_equal(b.data,
                        "http://prometheus-operated.monitoring.svc:9090/api/v1/query?query="
                        "sum%28rate%28vllm%3Anum_incoming_requests_total%5B1m%5D%29+%3E+bool+0%29"
                        "&time=2026-08-20T17:53:42Z&namespace=default&dedup=true&a+b=c%26d");
    buf_release(&b);
}

static void trailing_slash_is_kept_verbatim(void **state)
{
    struct buf b = BUF_INIT(4096);
    prom_query_url(&b, "http://p:9090/", "up", "2026-08-20T17:53:42Z", NULL, NULL, 0);
    assert_string_equal(b.data, "http://p:9090//api/v1/query?query=up&time=2026-08-20T17:53:42Z");
    buf_release(&b);
}

static void rfc3339_in_utc(void **state)
{
    char t[32];
    prom_rfc3339(1787248422.9, t, sizeof(t));
    assert_string_equal(t, "2026-08-20T17:53:42Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decision_table),
        cmocka_unit_test(summed_and_empty_are_reported),
        cmocka_unit_test(request_url_as_keda_builds_it),
        cmocka_unit_test(trailing_slash_is_kept_verbatim),
        cmocka_unit_test(rfc3339_in_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
