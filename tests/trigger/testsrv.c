/* testsrv: see testsrv.h. Test code: failures abort. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsrv.h"

struct tsrv_conn {
    uv_tcp_t tcp;
    struct tsrv *s;
    char head[TSRV_HEAD_MAX];
    size_t len;
    bool answered;
    struct tsrv_conn *prev, *next;
};

struct tsrv_write {
    uv_write_t req;
    struct tsrv_conn *c;
    char data[];
};

static void conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(struct tsrv_conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    struct tsrv *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct tsrv_write *w = (struct tsrv_write *)req;
    struct tsrv_conn *c = w->c;
    free(w);
    if (status != UV_ECANCELED)
        conn_close(c);
}

/* Writes len bytes of data, then closes the connection. */
static void send_close(struct tsrv_conn *c, const char *data, size_t len)
{
    struct tsrv_write *w = malloc(sizeof(*w) + len + 1);
    assert(w);
    memcpy(w->data, data, len);
    w->c = c;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    assert(rc == 0);
}

static void reply(struct tsrv_conn *c, int status, const char *extra, const char *body)
{
    char out[8192];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: application/json\r\n"
                     "Connection: close\r\n%s\r\n%s",
                     status, strlen(body), extra, body);
    assert(n > 0 && (size_t)n < sizeof(out));
    send_close(c, out, (size_t)n);
}

static void reply_big(struct tsrv_conn *c, bool content_length)
{
    static char out[6000];
    int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\n%sConnection: close\r\n\r\n",
                     content_length ? "Content-Length: 5000\r\n" : "");
    memset(out + n, 'x', 5000);
    send_close(c, out, (size_t)n + 5000);
}

static bool path_is(const char *head, const char *path)
{
    size_t n = strlen(path);
    return strncmp(head, "GET ", 4) == 0 && strncmp(head + 4, path, n) == 0 && head[4 + n] == ' ';
}

static void route(struct tsrv_conn *c)
{
    struct tsrv *s = c->s;
    const char *h = c->head;
    s->requests++;
    c->answered = true;
    if (path_is(h, "/ok"))
        reply(c, 200, "", "hello");
    else if (path_is(h, "/status/404"))
        reply(c, 404, "", "not here");
    else if (path_is(h, "/hang"))
        return;
    else if (path_is(h, "/big") || path_is(h, "/bigclose"))
        reply_big(c, path_is(h, "/big"));
    else if (path_is(h, "/redirect"))
        reply(c, 302, "Location: /ok\r\n", "");
    else if (path_is(h, "/loop"))
        reply(c, 302, "Location: /loop\r\n", "");
    else if (path_is(h, "/garbage"))
        send_close(c, "SSH-2.0-OpenSSH\r\n\r\n", 19);
    else if (path_is(h, "/early"))
        conn_close(c);
    else {
        if (s->nheads < TSRV_HEADS_MAX)
            memcpy(s->heads[s->nheads++], c->head, c->len + 1);
        struct tsrv_reply r = {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                                    "\"result\":[]}}"};
        if (s->next < s->nscript)
            r = s->script[s->next++];
        if (r.status)
            reply(c, r.status, "", r.body);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct tsrv_conn *c = h->data;
    size_t room = sizeof(c->head) - 1 - c->len;
    *b = uv_buf_init(c->head + c->len, (unsigned)room);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct tsrv_conn *c = st->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->head[c->len] = '\0';
    if (!c->answered && strstr(c->head, "\r\n\r\n"))
        route(c);
    else if (c->len + 1 >= sizeof(c->head))
        conn_close(c);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct tsrv *s = l->data;
    struct tsrv_conn *c = calloc(1, sizeof(*c));
    assert(c && status == 0);
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        conn_close(c);
}

void tsrv_start(struct tsrv *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    struct sockaddr_in addr;
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    rc = rc ? rc : uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    rc = rc ? rc : uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    assert(rc == 0);
    s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

void tsrv_script(struct tsrv *s, int status, const char *body)
{
    assert(s->nscript < TSRV_SCRIPT_MAX);
    s->script[s->nscript++] = (struct tsrv_reply){status, body};
}

void tsrv_close(struct tsrv *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, NULL);
    while (s->conns)
        conn_close(s->conns);
}

int tsrv_free_port(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct tsrv s;
    tsrv_start(&s, &loop);
    int port = s.port;
    tsrv_close(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return port;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* A callback that runs in the timers phase of uv_run(UV_RUN_ONCE) would
 * leave it waiting in the poll phase for anything else (the listener keeps
 * the loop alive): a ticking timer makes every turn end soon. */
void tsrv_run_until(uv_loop_t *loop, const int *counter, int want, int max_ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    uint64_t deadline = uv_now(loop) + (uint64_t)max_ms;
    while (*counter < want && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

void tsrv_run_for(uv_loop_t *loop, int ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_tick, (uint64_t)ms, 0);
    uint64_t deadline = uv_now(loop) + (uint64_t)ms;
    while (uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

void tenv_open(struct tenv *e)
{
    memset(e, 0, sizeof(*e));
    uv_loop_init(&e->loop);
    tsrv_start(&e->srv, &e->loop);
    int rc = fetcher_init(&e->f, &e->loop);
    assert(rc == 0);
    e->f.data = e;
}

void tenv_on_closed(struct fetcher *f)
{
    struct tenv *e = f->data;
    e->closed++;
}

int tenv_close(struct tenv *e)
{
    if (e->f.impl)
        fetcher_close(&e->f, tenv_on_closed); /* does nothing if a test closed it */
    tsrv_close(&e->srv);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    if (e->closed != 1 || e->f.impl)
        return -1;
    return uv_loop_close(&e->loop);
}

char *tsrv_mask_seconds(char *s)
{
    for (char *p = strstr(s, "(after "); p; p = strstr(p + 1, "(after ")) {
        char *num = p + 7, *end = num + strspn(num, "0123456789.");
        if (end > num && strncmp(end, " s)", 3) == 0) {
            *num = 'N';
            memmove(num + 1, end, strlen(end) + 1);
        }
    }
    return s;
}
