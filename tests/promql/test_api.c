/* api: Prometheus's /api/v1 endpoints, their parameters and error shapes
 * (web/api/v1/api.go in 2.42), one rule per row. */
#include "../unit/unit.h"

#include <errno.h>

#include "promql/api.h"

static struct store st;
static struct promql_api api;

static int64_t fixed_now(void *ud)
{
    return 10000;
}

static void setup_store(void)
{
    struct store_limits l;
    store_limits_defaults(&l);
    store_init(&st, &l);
    struct prom_label a[] = {{"__name__", "up"}, {"job", "a"}};
    struct prom_label b[] = {{"__name__", "up"}, {"job", "b"}};
    struct prom_label c[] = {{"__name__", "reqs_total"}, {"instance", "x"}};
    for (int i = 0; i <= 10; i++) {
        store_append(&st, a, 2, i * 1000, 1);
        store_append(&st, b, 2, i * 1000, 0);
        store_append(&st, c, 2, i * 1000, i * 10);
    }
    promql_api_init(&api, &st, NULL);
    api.now_ms = fixed_now;
}

struct row {
    const char *rule;
    const char *method, *path, *query, *body;
    int status;
    const char *want; /* the whole body, or a part of it after '~' */
};

static void run(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        struct promql_api_request q = {
            .method = r->method, .path = r->path, .path_len = strlen(r->path),
            .query = r->query, .query_len = strlen(r->query),
            .body = r->body ? r->body : "", .body_len = r->body ? strlen(r->body) : 0,
            .content_type = r->body ? "application/x-www-form-urlencoded" : NULL,
        };
        struct buf out = BUF_INIT(1 << 20);
        int status = 0;
        int rc = promql_api_answer(&api, &q, &out, &status);
        if (rc)
            fail_msg("%s: rc %d", r->rule, rc);
        bool ok = r->want[0] == '~' ? strstr(out.data, r->want + 1) != NULL
                                    : !strcmp(out.data, r->want);
        if (status != r->status || !ok)
            fail_msg("%s: got %d %s", r->rule, status, out.data);
        buf_release(&out);
    }
}

#define OK(x) "{\"status\":\"success\",\"data\":" x "}"
#define QOK(x) OK("{" x "}")

static void endpoints(void **state)
{
    setup_store();
    static const struct row rows[] = {
        {"query: time as unix seconds", "GET", "/api/v1/query", "query=up%7Bjob%3D%22a%22%7D&time=5", NULL, 200,
         QOK("\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\",\"job\":\"a\"},\"value\":[5,\"1\"]}]")},
        {"query: time as RFC 3339", "GET", "/api/v1/query", "query=sum(up)&time=1970-01-01T00:00:05.5Z", NULL, 200,
         QOK("\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[5.500,\"1\"]}]")},
        {"query: RFC 3339 with an offset", "GET", "/api/v1/query", "query=time()&time=1970-01-01T01:00:07%2B01:00", NULL, 200,
         QOK("\"resultType\":\"scalar\",\"result\":[7,\"7\"]")},
        {"query: time defaults to now", "GET", "/api/v1/query", "query=time()", NULL, 200,
         QOK("\"resultType\":\"scalar\",\"result\":[10,\"10\"]")},
        {"query: POST form body", "POST", "/api/v1/query", "", "query=rate(reqs_total%5B5s%5D)&time=10", 200,
         QOK("\"resultType\":\"vector\",\"result\":[{\"metric\":{\"instance\":\"x\"},\"value\":[10,\"10\"]}]")},
        {"query: the tutorial's activation query", "GET", "/api/v1/query",
         "query=sum(rate(reqs_total%5B5s%5D)+%3E+bool+0)&time=10", NULL, 200,
         QOK("\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[10,\"1\"]}]")},
        {"query: parse errors are bad_data, 400", "GET", "/api/v1/query", "query=sum(", NULL, 400,
         "~{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\": 1:5: parse error: "},
        {"query: an empty query is bad_data", "GET", "/api/v1/query", "", NULL, 400,
         "~no expression found in input"},
        {"query: bad time", "GET", "/api/v1/query", "query=up&time=yesterday", NULL, 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"time\\\": Invalid time value for 'time': cannot parse \\\"yesterday\\\" to a valid timestamp\"}"},
        {"query: execution errors are 422", "GET", "/api/v1/query", "query=up+%2F+ignoring(job)+up&time=5", NULL, 422,
         "~\"errorType\":\"execution\""},
        {"query: unsupported functions are named", "GET", "/api/v1/query", "query=label_replace(up,\"a\",\"b\",\"c\",\"d\")", NULL, 400,
         "~function \\\"label_replace\\\" is not supported"},
        {"query_range: points per step", "GET", "/api/v1/query_range", "query=sum(up)&start=2&end=4&step=1", NULL, 200,
         QOK("\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[2,\"1\"],[3,\"1\"],[4,\"1\"]]}]")},
        {"query_range: step as a duration", "GET", "/api/v1/query_range", "query=up%7Bjob%3D%22b%22%7D&start=0&end=2&step=1s", NULL, 200,
         QOK("\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"up\",\"job\":\"b\"},\"values\":[[0,\"0\"],[1,\"0\"],[2,\"0\"]]}]")},
        {"query_range: start is required", "GET", "/api/v1/query_range", "query=up&end=2&step=1", NULL, 400,
         "~invalid parameter \\\"start\\\": cannot parse \\\"\\\" to a valid timestamp"},
        {"query_range: end before start", "GET", "/api/v1/query_range", "query=up&start=5&end=2&step=1", NULL, 400,
         "~end timestamp must not be before start time"},
        {"query_range: zero step", "GET", "/api/v1/query_range", "query=up&start=0&end=2&step=0", NULL, 400,
         "~zero or negative query resolution step widths are not accepted"},
        {"query_range: 11,000 points at most", "GET", "/api/v1/query_range", "query=up&start=0&end=100000&step=1", NULL, 400,
         "~exceeded maximum resolution of 11,000 points per timeseries"},
        {"query_range: range vectors refused", "GET", "/api/v1/query_range", "query=up%5B1m%5D&start=0&end=2&step=1", NULL, 400,
         "~invalid expression type \\\"range vector\\\" for range query"},
        {"series: match[] selects", "GET", "/api/v1/series", "match[]=up", NULL, 200,
         OK("[{\"__name__\":\"up\",\"job\":\"a\"},{\"__name__\":\"up\",\"job\":\"b\"}]")},
        {"series: several match[] are a union", "GET", "/api/v1/series", "match%5B%5D=up%7Bjob%3D%22b%22%7D&match%5B%5D=reqs_total", NULL, 200,
         OK("[{\"__name__\":\"reqs_total\",\"instance\":\"x\"},{\"__name__\":\"up\",\"job\":\"b\"}]")},
        {"series: start and end bound the samples", "GET", "/api/v1/series", "match[]=up&start=20&end=30", NULL, 200,
         OK("[]")},
        {"series: match[] is required", "GET", "/api/v1/series", "", NULL, 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"no match[] parameter provided\"}"},
        {"series: match[] must be a selector", "GET", "/api/v1/series", "match[]=sum(up)", NULL, 400,
         "~invalid parameter \\\"match[]\\\""},
        {"labels: every name, sorted", "GET", "/api/v1/labels", "", NULL, 200,
         OK("[\"__name__\",\"instance\",\"job\"]")},
        {"labels: with match[]", "POST", "/api/v1/labels", "", "match[]=up", 200,
         OK("[\"__name__\",\"job\"]")},
        {"label values: sorted, unique", "GET", "/api/v1/label/job/values", "", NULL, 200,
         OK("[\"a\",\"b\"]")},
        {"label values: metric names", "GET", "/api/v1/label/__name__/values", "", NULL, 200,
         OK("[\"reqs_total\",\"up\"]")},
        {"label values: an unknown label has none", "GET", "/api/v1/label/nope/values", "", NULL, 200,
         OK("[]")},
        {"label values: bad label names", "GET", "/api/v1/label/a-b/values", "", NULL, 400,
         "~invalid label name: \\\"a-b\\\""},
        {"api: other methods are refused", "DELETE", "/api/v1/query", "", NULL, 405, "~method not allowed"},
        {"api: unknown endpoints are 404", "GET", "/api/v1/targets", "", NULL, 404, "~not found"},
    };
    run(rows, ARRAY_LEN(rows));
    struct promql_api_request q = {.method = "GET", .path = "/metrics", .path_len = 8, .query = "", .body = ""};
    struct buf out = BUF_INIT(100);
    int status;
    /* api: other paths are left to the caller */
    assert_int_equal(promql_api_answer(&api, &q, &out, &status), -ENOENT);
    assert_int_equal(out.len, 0);
    store_release(&st);
}

static void limits_are_errors(void **state)
{
    setup_store();
    api.lim.max_query_bytes = 8;
    static const struct row rows0[] = {
        {"limit: query length", "GET", "/api/v1/query", "query=up+%2B+up+%2B+up", NULL, 400,
         "~query is longer than 8 bytes"},
    };
    run(rows0, ARRAY_LEN(rows0));
    api.lim.max_query_bytes = 4096;
    api.lim.max_series = 1;
    api.lim.max_points = 5;
    static const struct row rows[] = {
        {"limit: series per selector", "GET", "/api/v1/query", "query=up", NULL, 422,
         "~query selects more than 1 series"},
        {"limit: points per query", "GET", "/api/v1/query", "query=reqs_total%5B1h%5D", NULL, 422,
         "~query processing would load too many samples"},
    };
    run(rows, ARRAY_LEN(rows));
    api.lim.max_query_bytes = 4096;
    api.lim.max_nodes = 5;
    api.lim.max_depth = 3;
    static const struct row rows2[] = {
        {"limit: syntax tree nodes", "GET", "/api/v1/query", "query=1%2B1%2B1%2B1%2B1%2B1", NULL, 400,
         "~more than 5 nodes"},
        {"limit: nesting depth", "GET", "/api/v1/query", "query=((((1))))", NULL, 400,
         "~deeper than 3 levels"},
    };
    run(rows2, ARRAY_LEN(rows2));
    api.lim.max_output_bytes = 10;
    struct promql_api_request q = {.method = "GET", .path = "/api/v1/query", .path_len = 13,
                                   .query = "query=reqs_total", .query_len = 16, .body = ""};
    struct buf out = BUF_INIT(200);
    int status;
    /* limit: output bytes (the caller's buffer) */
    out.limit = 60;
    api.lim.max_series = 100;
    api.lim.max_points = 100;
    assert_int_equal(promql_api_answer(&api, &q, &out, &status), 0);
    assert_int_equal(status, 422);
    assert_non_null(strstr(out.data, "larger than the output limit"));
    buf_release(&out);
    store_release(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(endpoints),
        cmocka_unit_test(limits_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
