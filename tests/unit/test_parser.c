/* http parser: messages, limits, and the inputs a server must refuse. */
#include "unit.h"

#include <errno.h>

#include "http/parser.h"

static int feed_all(struct http_parser *p, const char *s, size_t *consumed)
{
    return http_parser_feed(p, s, strlen(s), consumed);
}

static void parses_a_post_with_body(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4096);
    const char *req = "POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: "
                      "application/json\r\nContent-Length: 2\r\nX-Empty:\r\n\r\n{}";
    size_t used;
    assert_int_equal(feed_all(&p, req, &used), HTTP_PARSE_COMPLETE);
    assert_int_equal(used, strlen(req));
    assert_int_equal(p.method, HTTP_M_POST);
    assert_string_equal(http_parser_header(&p, "content-type"), "application/json");
    assert_string_equal(http_parser_header(&p, "X-EMPTY"), "");
    assert_null(http_parser_header(&p, "missing"));
    const char *path, *query;
    size_t plen, qlen;
    http_parser_path(&p, &path, &plen, &query, &qlen);
    assert_int_equal(plen, strlen("/v1/completions"));
    assert_memory_equal(path, "/v1/completions", plen);
    assert_memory_equal(query, "x=1", qlen);
    assert_int_equal(p.body.len, 2);
    assert_true(p.keep_alive);
    http_parser_release(&p);
}

static void byte_at_a_time_gives_the_same_message(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4096);
    const char *req = "POST /p HTTP/1.1\r\nLong-Header-Name: value with spaces  \r\n"
                      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    size_t n = strlen(req), used;
    int r = HTTP_PARSE_MORE;
    for (size_t i = 0; i < n && r == HTTP_PARSE_MORE; i++)
        r = http_parser_feed(&p, req + i, 1, &used);
    assert_int_equal(r, HTTP_PARSE_COMPLETE);
    assert_string_equal(http_parser_header(&p, "long-header-name"), "value with spaces");
    assert_int_equal(p.body.len, 3);
    assert_memory_equal(p.body.data, "abc", 3);
    http_parser_release(&p);
}

static void pipelined_requests_stop_at_each_message(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4096);
    const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&p, two, &used), HTTP_PARSE_COMPLETE);
    assert_int_equal(used, strlen(two) / 2);
    http_parser_next(&p);
    assert_int_equal(http_parser_feed(&p, two + used, strlen(two) - used, &used),
                     HTTP_PARSE_COMPLETE);
    const char *path, *query;
    size_t plen, qlen;
    http_parser_path(&p, &path, &plen, &query, &qlen);
    assert_memory_equal(path, "/b", 2);
    http_parser_release(&p);
}

static void refusals(void **state)
{
    static const struct {
        const char *name, *input;
        int status;
    } cases[] = {
        {"space before the colon is a smuggling vector", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
        {"content-length with chunked", "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n", 400},
        {"duplicate content-length", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"garbage request line", "HELLO\r\n\r\n", 400},
        {"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
        {"declared body too large", "POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n", 413},
        {"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct http_parser p;
        http_parser_init(&p, false, 4096, 4096);
        size_t used;
        int r = feed_all(&p, cases[i].input, &used);
        if (r >= 0 || p.error_status != cases[i].status)
            fail_msg("%s: result %d, status %d", cases[i].name, r, p.error_status);
        http_parser_release(&p);
    }
}

static void head_limit_gives_431(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 64, 4096);
    char req[512];
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Big: %0200d\r\n\r\n", 0);
    size_t used;
    assert_int_equal(feed_all(&p, req, &used), -ENOBUFS);
    assert_int_equal(p.error_status, 431);
    http_parser_release(&p);
}

static void too_many_headers_gives_431(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 1 << 20, 4096);
    char req[8192] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++) {
        char line[32];
        snprintf(line, sizeof(line), "H%d: v\r\n", i);
        strcat(req, line);
    }
    strcat(req, "\r\n");
    size_t used;
    assert_true(feed_all(&p, req, &used) < 0);
    assert_int_equal(p.error_status, 431);
    http_parser_release(&p);
}

static void the_most_headers_are_all_kept(void **state)
{
    /* Past the parser's inline room the spans move to the heap: every header
     * is still there, in the next message too. */
    struct http_parser p;
    http_parser_init(&p, false, 1 << 20, 4096);
    struct buf req = BUF_INIT(8192);
    buf_append_str(&req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        buf_appendf(&req, "H%d: v%d\r\n", i, i);
    buf_append_str(&req, "\r\n");
    for (int msg = 0; msg < 2; msg++) {
        size_t used;
        assert_int_equal(feed_all(&p, req.data, &used), HTTP_PARSE_COMPLETE);
        assert_int_equal(p.nheaders, HTTP_MAX_HEADERS);
        assert_string_equal(http_parser_header(&p, "h0"), "v0");
        assert_string_equal(http_parser_header(&p, "h16"), "v16");
        assert_string_equal(http_parser_header(&p, "h99"), "v99");
        http_parser_next(&p);
    }
    http_parser_release(&p);
    buf_release(&req);
}

static void chunked_body_over_limit_gives_413(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4);
    const char *req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&p, req, &used), -ENOBUFS);
    assert_int_equal(p.error_status, 413);
    http_parser_release(&p);
}

static void expect_continue_is_noticed(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4096);
    const char *head = "POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&p, head, &used), HTTP_PARSE_MORE);
    assert_true(p.expect_continue);
    http_parser_release(&p);
}

static void trailers_are_not_headers(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4096);
    const char *req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n"
                      "Authorization: Bearer smuggled\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&p, req, &used), HTTP_PARSE_COMPLETE);
    assert_null(http_parser_header(&p, "authorization"));
    http_parser_release(&p);
}

static void long_target_is_414(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 64, 4096);
    char req[512];
    snprintf(req, sizeof(req), "GET /%0200d HTTP/1.1\r\n\r\n", 0);
    size_t used;
    assert_true(feed_all(&p, req, &used) < 0);
    assert_int_equal(p.error_status, 414);
    http_parser_release(&p);
}

static void h2c_upgrade_offer_is_served_as_http11(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4096);
    const char *req = "GET /health HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
                      "GET /version HTTP/1.1\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&p, req, &used), HTTP_PARSE_COMPLETE);
    assert_int_equal(p.method, HTTP_M_GET);
    http_parser_next(&p);
    size_t rest = strlen(req) - used;
    assert_int_equal(http_parser_feed(&p, req + used, rest, &used), HTTP_PARSE_COMPLETE);
    http_parser_release(&p);
}

static void http10_is_not_keep_alive(void **state)
{
    struct http_parser p;
    http_parser_init(&p, false, 4096, 4096);
    size_t used;
    assert_int_equal(feed_all(&p, "GET / HTTP/1.0\r\n\r\n", &used), HTTP_PARSE_COMPLETE);
    assert_false(p.keep_alive);
    http_parser_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_a_post_with_body),
        cmocka_unit_test(byte_at_a_time_gives_the_same_message),
        cmocka_unit_test(pipelined_requests_stop_at_each_message),
        cmocka_unit_test(refusals),
        cmocka_unit_test(head_limit_gives_431),
        cmocka_unit_test(too_many_headers_gives_431),
        cmocka_unit_test(the_most_headers_are_all_kept),
        cmocka_unit_test(chunked_body_over_limit_gives_413),
        cmocka_unit_test(expect_continue_is_noticed),
        cmocka_unit_test(http10_is_not_keep_alive),
        cmocka_unit_test(trailers_are_not_headers),
        cmocka_unit_test(long_target_is_414),
        cmocka_unit_test(h2c_upgrade_offer_is_served_as_http11),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
