/* http: the API on ebb's HTTP server over a real loopback socket, as curl,
 * Grafana and KEDA's client reach it: GET with a query string, POST with a
 * form body, status lines, content type, and paths left to the caller. */
#include "../unit/unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server.h"
#include "promql/api.h"

struct fixture {
    uv_loop_t loop;
    struct http_server srv;
    uv_async_t done;
    struct store st;
    struct promql_api api;
    int port;
    char answers[4][4096];
};

static void handle(struct http_req *req, void *ud)
{
    struct fixture *f = ud;
    if (!promql_api_handle(&f->api, req))
        http_respond(req, 404, "text/plain", NULL, "not here\n", 9);
}

/* One request on its own connection; the whole response into out. */
static void roundtrip(int port, const char *request, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t n = 0;
    out[0] = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    if (write(fd, request, strlen(request)) == (ssize_t)strlen(request)) {
        ssize_t r;
        while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) > 0)
            n += (size_t)r;
    }
    out[n] = 0;
    close(fd);
}

static void *client(void *arg)
{
    struct fixture *f = arg;
    static const char *reqs[] = {
        "GET /api/v1/query?query=sum(up)&time=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "POST /api/v1/query_range HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 37\r\n\r\n"
        "query=up&start=1&end=2&step=1&x=abcde",
        "GET /api/v1/query?query=sum( HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(reqs); i++)
        roundtrip(f->port, reqs[i], f->answers[i], sizeof(f->answers[i]));
    uv_async_send(&f->done);
    return NULL;
}

static void on_empty(struct http_server *s)
{
    http_server_release(s);
}

static void on_done(uv_async_t *a)
{
    struct fixture *f = a->data;
    uv_close((uv_handle_t *)&f->done, NULL);
    http_server_shutdown(&f->srv, on_empty);
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

static void api_over_loopback(void **state)
{
    static struct fixture f;
    struct store_limits sl;
    store_limits_defaults(&sl);
    assert_int_equal(store_init(&f.st, &sl), 0);
    struct prom_label up[] = {{"__name__", "up"}, {"job", "a"}};
    for (int i = 0; i <= 10; i++)
        assert_int_equal(store_append(&f.st, up, 2, i * 1000, 1), 0);
    promql_api_init(&f.api, &f.st, NULL);
    assert_int_equal(uv_loop_init(&f.loop), 0);
    struct http_server_config cfg;
    http_server_config_defaults(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    http_server_init(&f.srv, &f.loop, &cfg, handle, &f);
    assert_int_equal(http_server_listen(&f.srv), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    assert_int_equal(uv_tcp_getsockname(&f.srv.listener, (struct sockaddr *)&ss, &len), 0);
    f.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    f.done.data = &f;
    assert_int_equal(uv_async_init(&f.loop, &f.done, on_done), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client, &f), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    assert_int_equal(uv_loop_close(&f.loop), 0);

    /* http: GET /api/v1/query answers 200 with Prometheus's JSON */
    assert_non_null(strstr(f.answers[0], "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(f.answers[0], "application/json"));
    assert_string_equal(body_of(f.answers[0]),
                        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                        "[{\"metric\":{},\"value\":[5,\"1\"]}]}}");
    /* http: POST form bodies are read */
    assert_non_null(strstr(f.answers[1], "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(body_of(f.answers[1]),
                        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                        "[{\"metric\":{\"__name__\":\"up\",\"job\":\"a\"},\"values\":[[1,\"1\"],[2,\"1\"]]}]}}");
    /* http: bad queries are 400 with errorType bad_data */
    assert_non_null(strstr(f.answers[2], "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(body_of(f.answers[2]), "\"errorType\":\"bad_data\""));
    /* http: other paths are the caller's */
    assert_non_null(strstr(f.answers[3], "HTTP/1.1 404 Not Found\r\n"));
    assert_string_equal(body_of(f.answers[3]), "not here\n");
    store_release(&f.st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(api_over_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
