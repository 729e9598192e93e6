/* fetch: libcurl's multi interface on the libuv loop, against a tiny server
 * on 127.0.0.1 (testsrv.h). Every test closes the fetcher and the server and
 * checks that the loop closes clean; ASan/LSan check the rest. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/fetch.h"
#include "testsrv.h"

#define MANY 200

struct got {
    int calls;
    char err[1024];
    char reason[256];
    long status;
    char body[64];
    size_t len;
    double seconds;
};

struct fixture {
    struct tenv env;
    int calls; /* callbacks of every request */
    bool in_start;
    struct got got[MANY];
    struct fetch *other; /* cancelled or closed from a callback */
};

static struct fixture *F;

static void on_got(void *ud, const struct fetch_result *r)
{
    struct got *g = ud;
    assert_false(F->in_start); /* never from inside fetch_start */
    g->calls++;
    F->calls++;
    snprintf(g->err, sizeof(g->err), "%s", r->err ? r->err : "");
    snprintf(g->reason, sizeof(g->reason), "%s", r->reason ? r->reason : "");
    g->status = r->status;
    g->len = r->len;
    snprintf(g->body, sizeof(g->body), "%.*s", (int)(r->len < 63 ? r->len : 63), r->body);
    g->seconds = r->seconds;
}

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    F = &fx;
    tenv_open(&fx.env);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(tenv_close(&F->env), 0);
    return 0;
}

static struct fetch *start_at(const char *url, struct got *g, long timeout_ms, size_t max_body)
{
    struct fetch_request rq = {.url = url, .timeout_ms = timeout_ms, .max_body = max_body};
    struct fetch *x = NULL;
    F->in_start = true;
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, g, &x), 0);
    F->in_start = false;
    assert_non_null(x);
    return x;
}

static struct fetch *start(const char *path, struct got *g, long timeout_ms, size_t max_body)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", F->env.srv.port, path);
    return start_at(url, g, timeout_ms, max_body);
}

static void ok_200_with_body(void **state)
{
    start("/ok", &F->got[0], 3000, 1000);
    assert_int_equal(F->calls, 0); /* later, from the loop */
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_int_equal(F->got[0].calls, 1);
    assert_string_equal(F->got[0].err, "");
    assert_int_equal(F->got[0].status, 200);
    assert_string_equal(F->got[0].body, "hello");
    assert_int_equal(F->got[0].len, 5);
    assert_true(F->got[0].seconds >= 0 && F->got[0].seconds < 5);
}

static void status_404_is_passed_through(void **state)
{
    start("/status/404", &F->got[0], 3000, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_string_equal(F->got[0].err, "");
    assert_int_equal(F->got[0].status, 404);
    assert_string_equal(F->got[0].body, "not here");
}

static void connection_refused_is_an_error_for_people(void **state)
{
    char url[128];
    int port = tsrv_free_port();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=up", port);
    start_at(url, &F->got[0], 3000, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_int_equal(F->got[0].calls, 1);
    char want[256];
    snprintf(want, sizeof(want), "GET %s: connection refused (after N s)", url);
    assert_string_equal(tsrv_mask_seconds(F->got[0].err), want);
    assert_string_equal(tsrv_mask_seconds(F->got[0].reason), "connection refused (after N s)");
    assert_int_equal(F->got[0].status, 0);
}

static void timeout_is_an_error_within_the_timeout(void **state)
{
    start("/hang", &F->got[0], 300, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_int_equal(F->got[0].calls, 1);
    assert_non_null(strstr(F->got[0].err, "/hang: timed out (after "));
    assert_true(F->got[0].seconds >= 0.29 && F->got[0].seconds < 1.5);
}

static void body_over_the_cap_is_an_error(void **state)
{
    start("/big", &F->got[0], 3000, 1000);      /* refused on its Content-Length */
    start("/bigclose", &F->got[1], 3000, 1000); /* counted as it arrives */
    start("/big", &F->got[2], 3000, 5000);      /* exactly at the cap is fine */
    tsrv_run_until(&F->env.loop, &F->calls, 3, 5000);
    assert_non_null(strstr(F->got[0].err, "/big: response body over 1000 bytes (after "));
    assert_non_null(strstr(F->got[1].err, "/bigclose: response body over 1000 bytes (after "));
    assert_string_equal(F->got[2].err, "");
    assert_int_equal(F->got[2].len, 5000);
}

static void many_concurrent_requests_all_complete(void **state)
{
    for (int i = 0; i < MANY; i++)
        start(i % 2 ? "/ok" : "/status/404", &F->got[i], 10000, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, MANY, 20000);
    assert_int_equal(F->calls, MANY);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(F->got[i].calls, 1);
        assert_string_equal(F->got[i].err, "");
        assert_int_equal(F->got[i].status, i % 2 ? 200 : 404);
    }
}

static void cancel_before_completion_means_no_callback(void **state)
{
    struct fetch *hang = start("/hang", &F->got[0], 3000, 1000);
    struct fetch *ok = start("/ok", &F->got[1], 3000, 1000);
    fetch_cancel(ok); /* before it even connected */
    start("/ok", &F->got[2], 3000, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_int_equal(F->got[2].calls, 1);
    tsrv_run_for(&F->env.loop, 100); /* /hang is connected and waiting now */
    fetch_cancel(hang);
    tsrv_run_for(&F->env.loop, 100);
    assert_int_equal(F->got[0].calls, 0);
    assert_int_equal(F->got[1].calls, 0);
    assert_int_equal(F->calls, 1);
}

static void on_got_cancel_other(void *ud, const struct fetch_result *r)
{
    on_got(ud, r);
    fetch_cancel(F->other);
    F->other = NULL;
}

static void cancel_from_a_callback(void **state)
{
    struct fetch_request rq = {.timeout_ms = 3000, .max_body = 100};
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", F->env.srv.port);
    rq.url = url;
    F->other = start("/hang", &F->got[1], 3000, 1000);
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got_cancel_other, &F->got[0], NULL), 0);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    tsrv_run_for(&F->env.loop, 50);
    assert_int_equal(F->got[0].calls, 1);
    assert_int_equal(F->got[1].calls, 0);
}

static void cancel_of_itself_in_its_callback_does_nothing(void **state)
{
    struct fetch_request rq = {.timeout_ms = 3000, .max_body = 100};
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", F->env.srv.port);
    rq.url = url;
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got_cancel_other, &F->got[0], &F->other), 0);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_int_equal(F->got[0].calls, 1); /* ASan: freed once, after the callback */
}

static void close_with_transfers_in_flight_runs_no_callback(void **state)
{
    for (int i = 0; i < 10; i++)
        start(i % 2 ? "/hang" : "/ok", &F->got[i], 3000, 1000);
    tsrv_run_for(&F->env.loop, 20); /* some connected, some maybe answered */
    int before = F->calls;
    for (int i = 10; i < 20; i++)
        start(i % 2 ? "/hang" : "/ok", &F->got[i], 3000, 1000);
    fetcher_close(&F->env.f, tenv_on_closed);
    assert_int_equal(fetch_start(&F->env.f, &(struct fetch_request){.url = "http://127.0.0.1:1/"},
                                 on_got, &F->got[20], NULL),
                     -ESHUTDOWN);
    assert_int_equal(F->env.closed, 0); /* from the loop */
    tsrv_close(&F->env.srv);
    uv_run(&F->env.loop, UV_RUN_DEFAULT);
    assert_null(F->env.f.impl);
    assert_int_equal(F->calls, before);
    assert_int_equal(F->env.closed, 1);
}

static void on_got_close(void *ud, const struct fetch_result *r)
{
    on_got(ud, r);
    fetcher_close(&F->env.f, tenv_on_closed);
}

static int drops;

static void on_dropped(void *ud)
{
    drops++;
}

static void close_from_a_callback(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", F->env.srv.port);
    struct fetch_request rq = {.url = url, .timeout_ms = 3000, .max_body = 100};
    start("/hang", &F->got[1], 3000, 1000);
    rq.dropped = on_dropped;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hang", F->env.srv.port);
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, &F->got[2], NULL), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", F->env.srv.port);
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got_close, &F->got[0], NULL), 0);
    drops = 0;
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    tsrv_close(&F->env.srv);
    uv_run(&F->env.loop, UV_RUN_DEFAULT);
    assert_int_equal(F->got[0].calls, 1);
    assert_int_equal(F->calls, 1);
    assert_int_equal(drops, 1); /* the dropped hook of the one still in flight */
    assert_int_equal(F->env.closed, 1);
}

static void redirects_are_followed_up_to_10(void **state)
{
    start("/redirect", &F->got[0], 3000, 1000);
    start("/loop", &F->got[1], 3000, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, 2, 5000);
    assert_string_equal(F->got[0].err, "");
    assert_int_equal(F->got[0].status, 200);
    assert_string_equal(F->got[0].body, "hello");
    assert_non_null(strstr(F->got[1].err, "/loop: maximum (10) redirects followed"));
}

static void garbage_and_early_close_are_clean_errors(void **state)
{
    start("/garbage", &F->got[0], 3000, 1000);
    start("/early", &F->got[1], 3000, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, 2, 5000);
    assert_int_equal(F->calls, 2);
    assert_non_null(strstr(F->got[0].err, "/garbage: "));
    assert_non_null(strstr(F->got[1].err, "/early: "));
    assert_int_equal(F->got[0].status, 0);
}

static void bad_urls_fail_in_the_callback(void **state)
{
    start_at("ftp://127.0.0.1/x", &F->got[0], 3000, 1000);
    start_at("http://us:secret@127.0.0.1:1/x", &F->got[1], 3000, 1000);
    tsrv_run_until(&F->env.loop, &F->calls, 2, 5000);
    assert_non_null(strstr(F->got[0].err, "GET ftp://127.0.0.1/x: protocol \"ftp\" not supported"));
    /* A password in the URL is not shown, as Go's url.Redacted. */
    assert_non_null(strstr(F->got[1].err, "GET http://us:***@127.0.0.1:1/x: "));
}

static void headers_with_line_breaks_are_refused(void **state)
{
    const char *h[] = {"X-A: 1\r\nX-Injected: 2"};
    struct fetch_request rq = {
        .url = "http://127.0.0.1:1/", .headers = h, .n_headers = 1, .timeout_ms = 100};
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, &F->got[0], NULL), -EINVAL);
}

static void a_method_and_body_are_sent(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/apis/x", F->env.srv.port);
    const char *h[] = {"Content-Type: application/merge-patch+json"};
    const char *body = "{\"spec\":{\"replicas\":3}}";
    struct fetch_request rq = {.url = url, .headers = h, .n_headers = 1, .timeout_ms = 3000,
                               .max_body = 1000, .method = "PATCH", .body = body,
                               .body_len = strlen(body)};
    tsrv_script(&F->env.srv, 200, "{}");
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, &F->got[0], NULL), 0);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_string_equal(F->got[0].err, "");
    assert_int_equal(F->got[0].status, 200);
    const char *head = F->env.srv.heads[0];
    assert_true(strncmp(head, "PATCH /apis/x HTTP/1.1\r\n", 24) == 0);
    assert_non_null(strstr(head, "\r\nContent-Type: application/merge-patch+json\r\n"));
    assert_non_null(strstr(head, "\r\nContent-Length: 23\r\n"));
}

static void errors_name_the_method(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", tsrv_free_port());
    struct fetch_request rq = {.url = url, .timeout_ms = 3000, .method = "PUT", .body = "",
                               .body_len = 0};
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, &F->got[0], NULL), 0);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    char want[256];
    snprintf(want, sizeof(want), "PUT %s: connection refused (after N s)", url);
    assert_string_equal(tsrv_mask_seconds(F->got[0].err), want);
    rq.method = "GET\r\nX: 1";
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, &F->got[1], NULL), -EINVAL);
}

static size_t streamed;
static long streamed_status;
static int stream_stop_after; /* bytes; 0: never */

static int on_piece(void *ud, long status, const char *data, size_t len)
{
    streamed += len;
    streamed_status = status;
    return stream_stop_after && streamed >= (size_t)stream_stop_after ? -1 : 0;
}

static void a_streamed_body_goes_to_on_data_uncapped(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/bigclose", F->env.srv.port);
    struct fetch_request rq = {.url = url, .timeout_ms = 3000, .max_body = 10, .on_data = on_piece};
    streamed = 0;
    stream_stop_after = 0;
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, &F->got[0], NULL), 0);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_string_equal(F->got[0].err, "");
    assert_int_equal(F->got[0].status, 200);
    assert_int_equal(F->got[0].len, 0); /* not kept */
    assert_int_equal(streamed, 5000);
    assert_int_equal(streamed_status, 200);
}

static void on_data_may_end_the_transfer(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/bigclose", F->env.srv.port);
    struct fetch_request rq = {.url = url, .timeout_ms = 3000, .on_data = on_piece};
    streamed = 0;
    stream_stop_after = 1;
    assert_int_equal(fetch_start(&F->env.f, &rq, on_got, &F->got[0], NULL), 0);
    tsrv_run_until(&F->env.loop, &F->calls, 1, 5000);
    assert_non_null(strstr(F->got[0].err, "/bigclose: aborted by the receiver (after "));
    assert_true(streamed > 0 && streamed < 5000 + 1);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(ok_200_with_body),
        T(status_404_is_passed_through),
        T(connection_refused_is_an_error_for_people),
        T(timeout_is_an_error_within_the_timeout),
        T(body_over_the_cap_is_an_error),
        T(many_concurrent_requests_all_complete),
        T(cancel_before_completion_means_no_callback),
        T(cancel_from_a_callback),
        T(cancel_of_itself_in_its_callback_does_nothing),
        T(close_with_transfers_in_flight_runs_no_callback),
        T(close_from_a_callback),
        T(redirects_are_followed_up_to_10),
        T(garbage_and_early_close_are_clean_errors),
        T(bad_urls_fail_in_the_callback),
        T(headers_with_line_breaks_are_refused),
        T(a_method_and_body_are_sent),
        T(errors_name_the_method),
        T(a_streamed_body_goes_to_on_data_uncapped),
        T(on_data_may_end_the_transfer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
