/* sse: the event-stream reader, one row per rule of the format. */
#include "../unit/unit.h"

#include <errno.h>

#include "load/sse.h"

struct got {
    char log[1024]; /* "type:data|" per event */
    int stop_at;    /* return 7 from this event (1-based), 0: never */
    int n;
};

static int on_event(void *ud, const char *type, const char *data, size_t len)
{
    struct got *g = ud;
    size_t used = strlen(g->log);
    snprintf(g->log + used, sizeof(g->log) - used, "%s:%.*s|", type, (int)len, data);
    g->n++;
    return g->n == g->stop_at ? 7 : 0;
}

/* Feeds input in pieces of at most step bytes (0: all at once). */
static int feed(struct sse_reader *r, const char *in, size_t step)
{
    size_t len = strlen(in);
    if (!step)
        step = len ? len : 1;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        int rc = sse_reader_feed(r, in + off, n);
        if (rc)
            return rc;
    }
    return 0;
}

static void sse_rules(void **state)
{
    static const struct {
        const char *rule, *in, *want;
    } cases[] = {
        {"one event, LF", "data: {\"a\":1}\n\n", "message:{\"a\":1}|"},
        {"CRLF line ends", "data: x\r\n\r\ndata: y\r\n\r\n", "message:x|message:y|"},
        {"a lone CR ends a line", "data: x\r\rdata: y\r\r", "message:x|message:y|"},
        {"[DONE] is data like any other", "data: 1\n\ndata: [DONE]\n\n",
         "message:1|message:[DONE]|"},
        {"data lines join with a newline", "data: a\ndata: b\n\n", "message:a\nb|"},
        {"one leading space is dropped, not two", "data:  x\n\ndata:y\n\n",
         "message: x|message:y|"},
        {"comments are ignored", ": keep-alive\n\ndata: x\n\n", "message:x|"},
        {"event sets the type", "event: error\ndata: {\"e\":1}\n\n", "error:{\"e\":1}|"},
        {"the type does not carry over", "event: error\ndata: 1\n\ndata: 2\n\n",
         "error:1|message:2|"},
        {"id and retry are ignored", "id: 3\nretry: 10\ndata: x\n\n", "message:x|"},
        {"a blank line with no data dispatches nothing", "\n\n\ndata: x\n\n", "message:x|"},
        {"an empty data line is an event", "data:\n\n", "message:|"},
        {"an unfinished event is not dispatched", "data: x\n", ""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        for (size_t step = 0; step <= 3; step++) {
            struct got g = {0};
            struct sse_reader r;
            sse_reader_init(&r, 1024, on_event, &g);
            int rc = feed(&r, cases[i].in, step);
            if (rc || strcmp(g.log, cases[i].want) != 0)
                fail_msg("%s (pieces of %zu): rc %d, got \"%s\", want \"%s\"", cases[i].rule, step,
                         rc, g.log, cases[i].want);
            sse_reader_release(&r);
        }
    }
}

static void sse_split_crlf_is_one_line_end(void **state)
{
    struct got g = {0};
    struct sse_reader r;
    sse_reader_init(&r, 1024, on_event, &g);
    assert_int_equal(sse_reader_feed(&r, "data: a\r", 8), 0);
    assert_int_equal(sse_reader_feed(&r, "\n", 1), 0);
    assert_int_equal(sse_reader_feed(&r, "\r", 1), 0);
    assert_int_equal(sse_reader_feed(&r, "\ndata: b\n\n", 10), 0);
    assert_string_equal(g.log, "message:a|message:b|");
    sse_reader_release(&r);
}

static void sse_limit_and_stop(void **state)
{
    struct got g = {0};
    struct sse_reader r;
    sse_reader_init(&r, 16, on_event, &g);
    assert_int_equal(feed(&r, "data: 0123456789abcdef0123\n\n", 5), -ENOBUFS);
    sse_reader_release(&r);

    /* A line that never ends is bounded too. */
    sse_reader_init(&r, 16, on_event, &g);
    assert_int_equal(feed(&r, "data: 0123456789abcdef0123", 0), -ENOBUFS);
    sse_reader_release(&r);

    /* The callback's non-zero return stops the feed and comes back. */
    struct got s = {.stop_at = 1};
    sse_reader_init(&r, 1024, on_event, &s);
    assert_int_equal(feed(&r, "data: {\"error\":{}}\n\ndata: more\n\n", 0), 7);
    assert_string_equal(s.log, "message:{\"error\":{}}|");
    sse_reader_release(&r);
}

static void sse_pending_tells_a_cut_stream(void **state)
{
    struct got g = {0};
    struct sse_reader r;
    sse_reader_init(&r, 1024, on_event, &g);
    assert_false(sse_reader_pending(&r));
    feed(&r, "data: x\n", 0);
    assert_true(sse_reader_pending(&r));
    feed(&r, "\n", 0);
    assert_false(sse_reader_pending(&r));
    feed(&r, "dat", 0);
    assert_true(sse_reader_pending(&r));
    sse_reader_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sse_rules),
        cmocka_unit_test(sse_split_crlf_is_one_line_end),
        cmocka_unit_test(sse_limit_and_stop),
        cmocka_unit_test(sse_pending_tells_a_cut_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
