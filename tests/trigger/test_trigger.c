/* trigger: KEDA's prometheus scaler, live, against a tiny server on
 * 127.0.0.1 that keeps the request heads byte for byte (testsrv.h). One
 * test per rule of keda-hpa-spec.md §3.2 (the request), §3.3 (the answer, as
 * far as the trigger passes it on) and §3.6 (one retry). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "autoscaler/trigger.h"
#include "testsrv.h"

#define NOW 1787248422.0 /* 2026-08-20T17:53:42Z */
#define VEC(r) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":" r "}}"
#define S(v) "{\"metric\":{\"pod\":\"p\"},\"value\":[1787248422.034,\"" v "\"]}"

/* cmocka 1.1.5 compares floats in single precision. */
#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

struct fixture {
    struct tenv env;
    struct cfg_trigger t;
    char server[64];
    int calls;
    struct trigger_result res;
};

static struct fixture *F;

static void on_result(void *ud, const struct trigger_result *r)
{
    assert_ptr_equal(ud, F);
    F->calls++;
    F->res = *r;
}

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    F = &fx;
    tenv_open(&fx.env);
    snprintf(fx.server, sizeof(fx.server), "http://127.0.0.1:%d", fx.env.srv.port);
    fx.t.type = "prometheus";
    fx.t.is_prometheus = true;
    fx.t.prom.server_address = fx.server;
    fx.t.prom.query = "up";
    fx.t.prom.namespace_ = "";
    fx.t.prom.ignore_null_values = true;
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(tenv_close(&F->env), 0);
    return 0;
}

/* Polls F->t once and waits for the result. */
static void poll_once(bool strict)
{
    assert_int_equal(trigger_poll_start(&F->env.f, &F->t, NOW, strict, on_result, F, NULL), 0);
    assert_int_equal(F->calls, 0); /* later, from the loop */
    tsrv_run_until(&F->env.loop, &F->calls, 1, 10000);
    assert_int_equal(F->calls, 1);
}

/* The head the server saw for request i, with the port replaced by PORT. */
static const char *head(size_t i)
{
    static char out[TSRV_HEAD_MAX];
    char port[16];
    assert_true(i < F->env.srv.nheads);
    snprintf(port, sizeof(port), "%d", F->env.srv.port);
    const char *h = F->env.srv.heads[i], *p = strstr(h, port);
    assert_non_null(p);
    snprintf(out, sizeof(out), "%.*sPORT%s", (int)(p - h), h, p + strlen(port));
    return out;
}

static void request_has_keda_url_and_headers(void **state)
{
    struct cfg_kv params[] = {
        {.key = "a", .value = "1 2"}, {.key = "b", .value = "x"}, {.key = "a", .value = "3"}};
    struct cfg_kv headers[] = {{.key = "x-scope-orgid", .value = "tenant1"},
                               {.key = "authorization", .value = "Basic junk"}};
    struct cfg_prometheus *p = &F->t.prom;
    p->query = "sum(vllm:num_requests_waiting{model_name=\"m\"})";
    p->namespace_ = "ns1";
    p->query_params = params;
    p->n_query_params = 3;
    p->custom_headers = headers;
    p->n_custom_headers = 2;
    p->bearer_token = "tok";
    tsrv_script(&F->env.srv, 200, VEC("[" S("4") "]"));
    poll_once(false);
    /* §3.2: time as RFC 3339, the namespace raw, queryParameters escaped (a
     * Go map: the later "a" stands); customHeaders Added with Go's canonical
     * names, then the bearer token Set over the custom Authorization. */
    assert_string_equal(head(0),
                        "GET /api/v1/query?query=sum%28vllm%3Anum_requests_waiting%7Bmodel_name%3D"
                        "%22m%22%7D%29&time=2026-08-20T17:53:42Z&namespace=ns1&b=x&a=3 HTTP/1.1\r\n"
                        "Host: 127.0.0.1:PORT\r\n"
                        "User-Agent: ebb/" EBB_VERSION "\r\n"
                        "Accept-Encoding: gzip\r\n"
                        "X-Scope-Orgid: tenant1\r\n"
                        "Authorization: Bearer tok\r\n"
                        "\r\n");
    assert_true(F->res.sample.ok);
    assert_near(F->res.sample.value, 4);
    assert_int_equal(F->res.attempts, 1);
    assert_int_equal(F->res.http_status, 200);
}

static void basic_auth_is_set_over_a_custom_authorization(void **state)
{
    struct cfg_kv headers[] = {{.key = "Authorization", .value = "Bearer junk"},
                               {.key = "X-A", .value = "1"}};
    F->t.prom.custom_headers = headers;
    F->t.prom.n_custom_headers = 2;
    F->t.prom.username = "user";
    F->t.prom.password = "pa:ss";
    poll_once(false);
    const char *h = head(0);
    assert_non_null(strstr(h, "\r\nAuthorization: Basic dXNlcjpwYTpzcw==\r\n"));
    assert_non_null(strstr(h, "\r\nX-A: 1\r\n"));
    assert_null(strstr(h, "junk"));
}

static void custom_auth_header_is_set_over_a_custom_header(void **state)
{
    struct cfg_kv headers[] = {{.key = "X-API-KEY", .value = "other"},
                               {.key = "x-other", .value = "o"}};
    F->t.prom.custom_headers = headers;
    F->t.prom.n_custom_headers = 2;
    F->t.prom.custom_auth_header = "x-api-key";
    F->t.prom.custom_auth_value = "k1";
    poll_once(false);
    const char *h = head(0);
    assert_non_null(strstr(h, "\r\nX-Other: o\r\nX-Api-Key: k1\r\n\r\n"));
    assert_null(strstr(h, "other\r\n"));
    assert_null(strstr(h, "Authorization"));
}

static void one_retry_on_500_then_the_second_answer(void **state)
{
    tsrv_script(&F->env.srv, 500, "oops");
    tsrv_script(&F->env.srv, 200, VEC("[" S("7") "]"));
    poll_once(false);
    assert_true(F->res.sample.ok);
    assert_near(F->res.sample.value, 7);
    assert_int_equal(F->res.attempts, 2);
    assert_int_equal(F->res.http_status, 200);
    assert_int_equal(F->env.srv.nheads, 2);
}

static void two_failures_are_final(void **state)
{
    tsrv_script(&F->env.srv, 500, "oops");
    tsrv_script(&F->env.srv, 503, "oops");
    tsrv_script(&F->env.srv, 200, VEC("[" S("7") "]")); /* never asked for */
    poll_once(false);
    assert_false(F->res.sample.ok);
    assert_int_equal(F->res.answer.outcome, PROM_ERROR);
    assert_string_equal(F->res.answer.err, "prometheus query api returned error. status: 503");
    assert_int_equal(F->res.attempts, 2);
    assert_int_equal(F->res.http_status, 503);
    assert_int_equal(F->env.srv.nheads, 2);
}

static void transport_errors_are_retried_once(void **state)
{
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", tsrv_free_port());
    F->t.prom.server_address = server;
    poll_once(false);
    assert_false(F->res.sample.ok);
    assert_int_equal(F->res.attempts, 2);
    assert_int_equal(F->res.http_status, 0);
    char want[256];
    snprintf(want, sizeof(want), "GET %s/api/v1/query?query=up&time=2026-08-20T17:53:4", server);
    assert_memory_equal(F->res.answer.err, want, strlen(want));
    assert_non_null(
        strstr(tsrv_mask_seconds(F->res.answer.err), "Z: connection refused (after N s)"));
}

static void a_long_url_gives_way_in_the_error_never_the_reason(void **state)
{
    char server[64], query[400];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", tsrv_free_port());
    memset(query, 'q', sizeof(query) - 1);
    query[sizeof(query) - 1] = '\0';
    F->t.prom.server_address = server;
    F->t.prom.query = query;
    poll_once(false);
    char *err = tsrv_mask_seconds(F->res.answer.err);
    assert_true(strlen(err) < sizeof(F->res.answer.err));
    assert_memory_equal(err, "GET http://127.0.0.1:", 21);
    assert_non_null(strstr(err, "qqq...: connection refused (after N s)"));
}

static void timeouts_are_retried_once(void **state)
{
    tsrv_script(&F->env.srv, 0, NULL); /* never answers */
    tsrv_script(&F->env.srv, 0, NULL);
    F->t.prom.timeout_ms = 200;
    poll_once(false);
    assert_false(F->res.sample.ok);
    assert_int_equal(F->res.attempts, 2);
    assert_non_null(strstr(F->res.answer.err, ": timed out (after "));
    assert_true(F->res.seconds >= 0.39 && F->res.seconds < 2);
}

static void several_series_are_summed_or_strict_error(void **state)
{
    F->t.prom.query = "q";
    tsrv_script(&F->env.srv, 200, VEC("[" S("1") "," S("2.5") "]"));
    poll_once(false);
    assert_true(F->res.sample.ok);
    assert_near(F->res.sample.value, 3.5);
    assert_true(F->res.answer.summed);
    assert_int_equal(F->res.answer.nseries, 2);

    F->calls = 0;
    tsrv_script(&F->env.srv, 200, VEC("[" S("1") "," S("2.5") "]"));
    tsrv_script(&F->env.srv, 200, VEC("[" S("1") "," S("2.5") "]"));
    poll_once(true);
    assert_false(F->res.sample.ok);
    assert_string_equal(F->res.answer.err, "prometheus query q returned multiple elements");
    assert_int_equal(F->res.attempts, 2);
}

static void an_empty_result_is_0(void **state)
{
    poll_once(false); /* the server's default: an empty vector */
    assert_true(F->res.sample.ok);
    assert_near(F->res.sample.value, 0);
    assert_true(F->res.answer.empty);
    assert_int_equal(F->res.attempts, 1);
}

static void a_cancelled_poll_has_no_callback(void **state)
{
    struct trigger_poll *tp = NULL;
    tsrv_script(&F->env.srv, 0, NULL);
    assert_int_equal(trigger_poll_start(&F->env.f, &F->t, NOW, false, on_result, F, &tp), 0);
    tsrv_run_for(&F->env.loop, 100);
    trigger_poll_cancel(tp);
    tsrv_run_for(&F->env.loop, 50);
    assert_int_equal(F->calls, 0);
}

static void closing_the_fetcher_drops_polls_in_flight(void **state)
{
    tsrv_script(&F->env.srv, 0, NULL);
    assert_int_equal(trigger_poll_start(&F->env.f, &F->t, NOW, false, on_result, F, NULL), 0);
    tsrv_run_for(&F->env.loop, 50);
    fetcher_close(&F->env.f, tenv_on_closed); /* LSan: the poll is freed too */
    tsrv_close(&F->env.srv);
    uv_run(&F->env.loop, UV_RUN_DEFAULT);
    assert_int_equal(F->calls, 0);
}

static void only_prometheus_triggers_and_clean_headers(void **state)
{
    struct cfg_trigger cpu = {.type = "cpu"};
    assert_int_equal(trigger_poll_start(&F->env.f, &cpu, NOW, false, on_result, F, NULL), -EINVAL);
    struct cfg_kv headers[] = {{.key = "X-A", .value = "1\r\nX-B: 2"}};
    F->t.prom.custom_headers = headers;
    F->t.prom.n_custom_headers = 1;
    assert_int_equal(trigger_poll_start(&F->env.f, &F->t, NOW, false, on_result, F, NULL), -EINVAL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(request_has_keda_url_and_headers),
        T(basic_auth_is_set_over_a_custom_authorization),
        T(custom_auth_header_is_set_over_a_custom_header),
        T(one_retry_on_500_then_the_second_answer),
        T(two_failures_are_final),
        T(transport_errors_are_retried_once),
        T(a_long_url_gives_way_in_the_error_never_the_reason),
        T(timeouts_are_retried_once),
        T(several_series_are_summed_or_strict_error),
        T(an_empty_result_is_0),
        T(a_cancelled_poll_has_no_callback),
        T(closing_the_fetcher_drops_polls_in_flight),
        T(only_prometheus_triggers_and_clean_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
