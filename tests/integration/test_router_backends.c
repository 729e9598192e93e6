/* The router's run-time backend interface, driven in-process: an engine and
 * a router on one libuv loop, and ebb's own upstream client as the test's
 * HTTP client. Checks: a draining backend finishes its stream, takes no new
 * request (it is held), and on_drained fires when its last request ends; a
 * backend added later serves the held request; removal frees everything and
 * the loop closes clean (ASan/LSan check the rest). And running out of file
 * descriptors for an upstream connection is the router's problem, not the
 * backend's: 503 for that request, the backend stays ready. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "base/log.h"
#include "engine/engine.h"
#include "http/client.h"
#include "router/router.h"

#define MODEL "meta-llama/Llama-3.1-8B-Instruct"

struct exchange {
    int status;
    size_t body_bytes;
    bool done;
    enum upstream_error err;
    void (*on_first_body)(struct exchange *x);
    bool first_body_seen;
};

struct fixture {
    uv_loop_t loop;
    struct engine a, b;
    struct router router;
    struct upstream_pool client;
    struct exchange first, second;
    int drained;
    int stopped;
    char url_a[64], url_b[64];
};

static struct fixture *F;

static int free_port(void)
{
    uv_loop_t loop;
    uv_tcp_t t;
    struct sockaddr_in addr, got;
    int len = sizeof(got);
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &t);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&t, (const struct sockaddr *)&addr, 0);
    uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return ntohs(got.sin_port);
}

static void x_head(void *ud, const struct http_parser *resp)
{
    struct exchange *x = ud;
    x->status = resp->status;
}

static void x_body(void *ud, const char *at, size_t len)
{
    struct exchange *x = ud;
    x->body_bytes += len;
    (void)at;
    if (!x->first_body_seen) {
        x->first_body_seen = true;
        if (x->on_first_body)
            x->on_first_body(x);
    }
}

static void x_done(void *ud, enum upstream_error err)
{
    struct exchange *x = ud;
    x->done = true;
    x->err = err;
}

static const struct upstream_callbacks xcb = {x_head, x_body, x_done};

static void send_stream(struct exchange *x, int max_tokens)
{
    char body[256], req[512];
    int n = snprintf(body, sizeof(body),
                     "{\"model\":\"%s\",\"prompt\":\"x\",\"max_tokens\":%d,\"stream\":true,"
                     "\"ignore_eos\":true}",
                     MODEL, max_tokens);
    int m = snprintf(req, sizeof(req),
                     "POST /v1/completions HTTP/1.1\r\nhost: r\r\ncontent-type: application/json\r\n"
                     "content-length: %d\r\n\r\n%s",
                     n, body);
    assert_non_null(upstream_send(&F->client, req, (size_t)m, NULL, 0, &xcb, x, 0));
}

static void on_drained(struct router *r, struct backend *b, void *ud)
{
    (void)r;
    (void)ud;
    if (strcmp(b->url, F->url_a) == 0)
        F->drained++;
}

/* Once the first stream is under way: drain A, then send a second request,
 * which has nowhere to go and must be held. */
static void drain_a(struct exchange *x)
{
    (void)x;
    assert_int_equal(router_backend_drain(&F->router, F->url_a), 0);
    assert_int_equal(F->drained, 0); /* one request still in flight */
    send_stream(&F->second, 5);
}

static void run_until(bool *flag, int max_ms)
{
    uint64_t deadline = uv_now(&F->loop) + (uint64_t)max_ms;
    while (!*flag && uv_now(&F->loop) < deadline)
        uv_run(&F->loop, UV_RUN_ONCE);
}

static void on_stopped_engine(struct engine *e)
{
    engine_release(e);
    F->stopped++;
}

static void on_stopped_router(struct router *r)
{
    router_release(r);
    F->stopped++;
}

static void on_client_closed(struct upstream_pool *p)
{
    (void)p;
    F->stopped++;
}

static void start_engine(struct engine *e, int port)
{
    struct engine_config cfg;
    engine_config_defaults(&cfg);
    cfg.port = port;
    cfg.time_scale = 10;
    char err[256];
    assert_int_equal(engine_init(e, &F->loop, &cfg, err, sizeof(err)), 0);
    assert_int_equal(engine_start(e, NULL), 0);
}

/* The router on port, serving engine A (F->url_a), and the test's client
 * pool to it. No stats scrapes: no upstream connection is made before the
 * tests' own requests. */
static void start_router(int port)
{
    struct router_config rc;
    router_config_defaults(&rc);
    rc.port = port;
    rc.engine_stats_interval = 0;
    char err[256];
    assert_int_equal(router_init(&F->router, &F->loop, &rc, err, sizeof(err)), 0);
    assert_int_equal(router_start(&F->router), 0);
    const char *models[] = {MODEL};
    assert_int_equal(router_backend_add(&F->router, F->url_a, models, 1, err, sizeof(err)), 0);
    struct upstream_config uc;
    upstream_config_defaults(&uc);
    assert_int_equal(upstream_pool_init(&F->client, &F->loop, "127.0.0.1", port, &uc), 0);
}

static void drain_hold_and_add(void **state)
{
    struct fixture f;
    memset(&f, 0, sizeof(f));
    F = &f;
    log_set_level(LOG_WARN);
    uv_loop_init(&f.loop);
    int pa = free_port(), pb = free_port(), pr = free_port();
    snprintf(f.url_a, sizeof(f.url_a), "http://127.0.0.1:%d", pa);
    snprintf(f.url_b, sizeof(f.url_b), "http://127.0.0.1:%d", pb);
    start_engine(&f.a, pa);

    start_router(pr);
    f.router.on_drained = on_drained;
    const char *models[] = {MODEL};
    char err[256];

    f.first.on_first_body = drain_a;
    send_stream(&f.first, 200);
    run_until(&f.first.done, 20000);
    assert_true(f.first.done);
    assert_int_equal(f.first.err, UPSTREAM_OK);
    assert_int_equal(f.first.status, 200);
    assert_int_equal(f.drained, 1);                  /* reported when its last request ended */
    assert_false(f.second.done);
    assert_int_equal(hold_count(&f.router.hold, MODEL), 1); /* held, not sent to the draining A */

    start_engine(&f.b, pb);
    assert_int_equal(router_backend_add(&f.router, f.url_b, models, 1, err, sizeof(err)), 0);
    run_until(&f.second.done, 20000);
    assert_true(f.second.done);
    assert_int_equal(f.second.status, 200);
    assert_int_equal(f.second.err, UPSTREAM_OK);
    assert_int_equal(f.b.metrics.success[FINISH_LENGTH], 1); /* it went to B */
    assert_int_equal(f.a.metrics.success[FINISH_LENGTH], 1);

    assert_int_equal(router_backend_remove(&f.router, f.url_a), 0);
    assert_int_equal(router_backend_remove(&f.router, f.url_a), -ENOENT);

    upstream_pool_close(&f.client, on_client_closed);
    engine_stop(&f.a, on_stopped_engine);
    engine_stop(&f.b, on_stopped_engine);
    router_stop(&f.router, on_stopped_router);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.stopped, 4);
    assert_int_equal(uv_loop_close(&f.loop), 0); /* every handle was closed */
}

static void send_raw(struct exchange *x, const char *method, const char *path, const char *body)
{
    char req[512];
    int m = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nhost: r\r\ncontent-type: application/json\r\n"
                     "content-length: %zu\r\n\r\n%s",
                     method, path, strlen(body), body);
    memset(x, 0, sizeof(*x));
    assert_non_null(upstream_send(&F->client, req, (size_t)m, NULL, 0, &xcb, x, 0));
}

static void out_of_files_is_local(void **state)
{
    struct fixture f;
    memset(&f, 0, sizeof(f));
    F = &f;
    log_set_level(LOG_ERROR);
    uv_loop_init(&f.loop);
    int pa = free_port(), pr = free_port();
    snprintf(f.url_a, sizeof(f.url_a), "http://127.0.0.1:%d", pa);
    start_engine(&f.a, pa);
    start_router(pr);

    /* A keep-alive connection to the router, so the next request needs no
     * new descriptor on the client's side or the router's listening side. */
    send_raw(&f.first, "GET", "/health", "");
    run_until(&f.first.done, 10000);
    assert_int_equal(f.first.status, 200);

    /* Every descriptor from the lowest free one up is now out of reach: the
     * router's socket() for its upstream fails with EMFILE. */
    struct rlimit saved, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int lowest = open("/dev/null", O_RDONLY);
    assert_true(lowest >= 0);
    close(lowest);
    low = saved;
    low.rlim_cur = (rlim_t)lowest;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    const char *body = "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":2}";
    send_raw(&f.second, "POST", "/v1/completions", body);
    run_until(&f.second.done, 10000);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    assert_true(f.second.done);
    assert_int_equal(f.second.status, 503);
    struct rbackend *rb = router_backend_find(&f.router, f.url_a);
    assert_int_equal(rb->b.state, BACKEND_READY); /* not marked down */
    assert_int_equal(f.router.metrics.upstream_errors[UPSTREAM_LOCAL], 1);
    assert_int_equal(f.router.metrics.upstream_errors[UPSTREAM_CONNECT], 0);
    assert_int_equal(hold_count(&f.router.hold, MODEL), 0); /* answered, not held */

    /* With descriptors back, the same backend serves at once. */
    send_raw(&f.first, "POST", "/v1/completions", body);
    run_until(&f.first.done, 20000);
    assert_int_equal(f.first.status, 200);
    assert_int_equal(f.a.metrics.success[FINISH_LENGTH], 1);

    upstream_pool_close(&f.client, on_client_closed);
    engine_stop(&f.a, on_stopped_engine);
    router_stop(&f.router, on_stopped_router);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.stopped, 3);
    assert_int_equal(uv_loop_close(&f.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(drain_hold_and_add),
        cmocka_unit_test(out_of_files_is_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
