/* client: pooled HTTP/1.1 upstream connections. See client.h.
 *
 * A connection is CONNECTING, BUSY (an exchange owns it), IDLE (pooled) or
 * CLOSING; its memory is freed in the last close callback. Callbacks into
 * the owner can come from inside the parser; the owner may abort from
 * them, so every path that calls out re-checks the state afterwards. */
#include "http/client.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

enum uconn_state { UC_CONNECTING, UC_BUSY, UC_IDLE, UC_CLOSING };

struct upstream_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_write_t wreq;
    struct upstream_pool *pool;
    struct upstream_conn *next_idle;
    struct http_parser parser;
    struct buf out;          /* request bytes the socket did not take at once */
    size_t wlen;             /* bytes of out in the uv_write in flight */
    int connect_err;         /* a libuv error uv_tcp_connect returned at once */
    enum uconn_state state;
    int open_handles;
    bool reused;             /* taken from the pool: a failure may be a stale connection */
    bool got_bytes;          /* any response byte arrived */
    bool head_seen;
    bool paused;
    bool reading;
    bool write_pending;
    unsigned header_timeout_ms;
    const struct upstream_callbacks *cb;
    void *ud;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

const char *upstream_error_name(enum upstream_error e)
{
    switch (e) {
    case UPSTREAM_OK: return "none";
    case UPSTREAM_CONNECT: return "connect";
    case UPSTREAM_STALE: return "stale_connection";
    case UPSTREAM_HEADER_TIMEOUT: return "header_timeout";
    case UPSTREAM_RESET: return "reset";
    case UPSTREAM_PROTOCOL: return "protocol";
    case UPSTREAM_LOCAL: return "local";
    }
    return "unknown";
}

void upstream_config_defaults(struct upstream_config *cfg)
{
    cfg->connect_timeout_ms = 3000;
    cfg->idle_timeout_ms = 4000; /* uvicorn (vLLM) closes idle connections after 5 s */
    cfg->max_idle = 256;
    cfg->max_head_bytes = 64 * 1024;
}

int upstream_pool_init(struct upstream_pool *p, uv_loop_t *loop, const char *host, int port,
                       const struct upstream_config *cfg)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->cfg = *cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0)
        return UV_EAI_NONAME;
    memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void pool_maybe_closed(struct upstream_pool *p)
{
    if (p->closing && p->nopen == 0 && p->on_closed) {
        void (*cb)(struct upstream_pool *) = p->on_closed;
        p->on_closed = NULL;
        cb(p);
    }
}

static void on_closed(uv_handle_t *h)
{
    struct upstream_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct upstream_pool *p = c->pool;
    http_parser_release(&c->parser);
    buf_release(&c->out);
    free(c);
    p->nopen--;
    pool_maybe_closed(p);
}

static void unlink_idle(struct upstream_conn *c)
{
    struct upstream_pool *p = c->pool;
    for (struct upstream_conn **pp = &p->idle; *pp; pp = &(*pp)->next_idle) {
        if (*pp == c) {
            *pp = c->next_idle;
            p->nidle--;
            break;
        }
    }
    c->next_idle = NULL;
}

static void conn_close(struct upstream_conn *c)
{
    if (c->state == UC_CLOSING)
        return;
    if (c->state == UC_IDLE)
        unlink_idle(c);
    c->state = UC_CLOSING;
    c->cb = NULL;
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Ends the exchange with err, telling the owner once. */
static void conn_fail(struct upstream_conn *c, enum upstream_error err)
{
    const struct upstream_callbacks *cb = c->cb;
    void *ud = c->ud;
    conn_close(c);
    if (cb)
        cb->on_done(ud, err);
}

static void on_idle_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_header_timeout(uv_timer_t *t)
{
    struct upstream_conn *c = t->data;
    conn_fail(c, UPSTREAM_HEADER_TIMEOUT);
}

/* Errors of ours, not the backend's: out of descriptors, memory or local
 * ports. A backend is not marked down for them. */
static bool is_local_error(int err)
{
    return err == UV_EMFILE || err == UV_ENFILE || err == UV_ENOBUFS || err == UV_ENOMEM ||
           err == UV_EADDRNOTAVAIL;
}

static enum upstream_error connect_error(int err)
{
    if (!is_local_error(err))
        return UPSTREAM_CONNECT;
    /* Like accept failures, these come in bursts: log once a second. */
    static time_t last;
    time_t now = time(NULL);
    if (now != last)
        log_warn("cannot open an upstream connection: %s (a local limit, not the backend's)",
                 uv_strerror(err));
    last = now;
    return UPSTREAM_LOCAL;
}

static void on_connect_timeout(uv_timer_t *t)
{
    struct upstream_conn *c = t->data;
    conn_fail(c, c->connect_err ? connect_error(c->connect_err) : UPSTREAM_CONNECT);
}

static void conn_to_pool(struct upstream_conn *c)
{
    struct upstream_pool *p = c->pool;
    if (p->closing || p->nidle >= p->cfg.max_idle) {
        conn_close(c);
        return;
    }
    c->state = UC_IDLE;
    c->cb = NULL;
    c->ud = NULL;
    c->head_seen = c->got_bytes = false;
    http_parser_next(&c->parser);
    c->next_idle = p->idle;
    p->idle = c;
    p->nidle++;
    /* Keep reading while idle: the server closing the connection (EOF)
     * takes it out of the pool before anyone tries to use it. */
    c->paused = false;
    if (!c->reading) {
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        c->reading = true;
    }
    uv_timer_start(&c->timer, on_idle_timeout, p->cfg.idle_timeout_ms, 0);
}

/* Tells the owner the response head arrived; false if it aborted. */
static bool deliver_head(struct upstream_conn *c)
{
    if (c->head_seen)
        return c->state == UC_BUSY;
    c->head_seen = true;
    uv_timer_stop(&c->timer);
    if (c->cb)
        c->cb->on_head(c->ud, &c->parser);
    return c->state == UC_BUSY;
}

static void on_parsed_body(void *ud, const char *at, size_t len)
{
    struct upstream_conn *c = ud;
    /* Body bytes can follow the head in the same read: the head goes first. */
    if (!deliver_head(c))
        return;
    if (c->cb)
        c->cb->on_body(c->ud, at, len);
}

/* Feeds response bytes; may complete the exchange. */
static void conn_feed(struct upstream_conn *c, const char *data, size_t len)
{
    while (len > 0 && c->state == UC_BUSY) {
        size_t used = 0;
        int r = http_parser_feed(&c->parser, data, len, &used);
        if (c->state != UC_BUSY)
            return; /* the owner aborted from a callback */
        if (r < 0) {
            conn_fail(c, UPSTREAM_PROTOCOL);
            return;
        }
        if (c->parser.headers_done && !deliver_head(c))
            return;
        if (r == HTTP_PARSE_MORE)
            return;
        /* Complete. Bytes after the response on a keep-alive connection
         * are a protocol error (we never pipeline). */
        const struct upstream_callbacks *cb = c->cb;
        void *ud = c->ud;
        /* An answer that came before the whole request was written (an
         * early error) leaves the connection unusable. */
        bool reuse = c->parser.keep_alive && used == len && !c->write_pending && !c->out.len;
        if (reuse)
            conn_to_pool(c);
        else
            conn_close(c);
        if (cb)
            cb->on_done(ud, UPSTREAM_OK);
        return;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char chunk[64 * 1024];
    (void)h;
    (void)suggested;
    *b = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct upstream_conn *c = s->data;
    if (nread == 0 || c->state == UC_CLOSING)
        return;
    if (c->state == UC_IDLE) {
        /* EOF or stray bytes on an idle connection: it is done for. */
        conn_close(c);
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF && c->head_seen &&
            http_parser_finish(&c->parser) == HTTP_PARSE_COMPLETE) {
            /* A response delimited by the connection's end. */
            const struct upstream_callbacks *cb = c->cb;
            void *ud = c->ud;
            conn_close(c);
            if (cb)
                cb->on_done(ud, UPSTREAM_OK);
            return;
        }
        conn_fail(c, !c->got_bytes && c->reused ? UPSTREAM_STALE : UPSTREAM_RESET);
        return;
    }
    c->got_bytes = true;
    conn_feed(c, b->base, (size_t)nread);
}

static int conn_write_out(struct upstream_conn *c);

static void on_written(uv_write_t *w, int status)
{
    struct upstream_conn *c = w->data;
    c->write_pending = false;
    if (c->state == UC_CLOSING)
        return;
    buf_consume(&c->out, c->wlen);
    c->wlen = 0;
    if (status < 0) {
        conn_fail(c, c->reused && !c->got_bytes ? UPSTREAM_STALE : UPSTREAM_RESET);
        return;
    }
    if (c->out.len && conn_write_out(c) < 0)
        conn_fail(c, c->reused && !c->got_bytes ? UPSTREAM_STALE : UPSTREAM_RESET);
}

/* Starts a uv_write of what c->out holds (one at a time). */
static int conn_write_out(struct upstream_conn *c)
{
    if (c->write_pending || !c->out.len)
        return 0;
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int err = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (err)
        return err;
    c->wlen = c->out.len;
    c->write_pending = true;
    return 0;
}

/* Writes bufs (the request, or c->out itself when from_out) with
 * uv_try_write — usually all of it, with no copy and no epoll_ctl — and
 * queues what the socket did not take in c->out for a uv_write. */
static int conn_write(struct upstream_conn *c, const uv_buf_t *bufs, unsigned n, bool from_out)
{
    size_t done = 0;
    if (!c->write_pending) {
        int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (w < 0 && w != UV_EAGAIN)
            return w;
        done = w > 0 ? (size_t)w : 0;
    }
    if (from_out) {
        buf_consume(&c->out, done);
    } else {
        for (unsigned i = 0; i < n; i++) {
            size_t skip = done < bufs[i].len ? done : bufs[i].len;
            done -= skip;
            if (buf_append(&c->out, bufs[i].base + skip, bufs[i].len - skip))
                return UV_ENOBUFS;
        }
    }
    return conn_write_out(c);
}

static void conn_start_exchange(struct upstream_conn *c, const uv_buf_t *bufs, unsigned n,
                                bool from_out)
{
    c->state = UC_BUSY;
    if (!c->reading && !c->paused) {
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        c->reading = true;
    }
    if (conn_write(c, bufs, n, from_out) < 0) {
        conn_fail(c, c->reused ? UPSTREAM_STALE : UPSTREAM_RESET);
        return;
    }
    if (c->header_timeout_ms)
        uv_timer_start(&c->timer, on_header_timeout, c->header_timeout_ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct upstream_conn *c = req->data;
    if (c->state == UC_CLOSING)
        return;
    if (status < 0) {
        conn_fail(c, connect_error(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    conn_start_exchange(c, &b, 1, true);
}

static struct upstream_conn *conn_new(struct upstream_pool *p)
{
    struct upstream_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (http_parser_init(&c->parser, true, p->cfg.max_head_bytes, 0)) {
        free(c);
        return NULL;
    }
    c->parser.on_body = on_parsed_body;
    c->parser.on_body_ud = c;
    c->pool = p;
    buf_init(&c->out, 64 * 1024 * 1024);
    uv_tcp_init(p->loop, &c->tcp);
    uv_timer_init(p->loop, &c->timer);
    c->tcp.data = c->timer.data = c->connect_req.data = c->wreq.data = c;
    c->open_handles = 2;
    p->nopen++;
    return c;
}

struct upstream_conn *upstream_send(struct upstream_pool *p, const char *head, size_t head_len,
                                    const char *body, size_t body_len,
                                    const struct upstream_callbacks *cb, void *ud,
                                    unsigned header_timeout_ms)
{
    if (p->closing)
        return NULL;
    struct upstream_conn *c = p->idle;
    if (c) {
        unlink_idle(c);
        uv_timer_stop(&c->timer);
        c->reused = true;
    } else {
        c = conn_new(p);
        if (!c)
            return NULL;
    }
    c->cb = cb;
    c->ud = ud;
    c->header_timeout_ms = header_timeout_ms;
    if (c->reused) {
        /* libuv takes char *; the bytes are only read. */
        uv_buf_t bufs[2] = {uv_buf_init((char *)(uintptr_t)head, (unsigned)head_len),
                            uv_buf_init((char *)(uintptr_t)body, (unsigned)body_len)};
        conn_start_exchange(c, bufs, body_len ? 2 : 1, false);
        return c;
    }
    /* Connecting: the request waits in out. */
    if (buf_append(&c->out, head, head_len) || buf_append(&c->out, body, body_len)) {
        conn_close(c);
        return NULL;
    }
    c->state = UC_CONNECTING;
    int err = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&p->addr,
                             on_connected);
    if (err) {
        /* Report asynchronously-equivalent: the caller gets the connection
         * and its on_done runs from the timer on the next loop turn. */
        c->connect_err = err;
        uv_timer_start(&c->timer, on_connect_timeout, 0, 0);
        return c;
    }
    uv_timer_start(&c->timer, on_connect_timeout, p->cfg.connect_timeout_ms, 0);
    return c;
}

void upstream_pause(struct upstream_conn *c)
{
    if (c->state == UC_CLOSING || c->paused)
        return;
    c->paused = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

void upstream_resume(struct upstream_conn *c)
{
    if (c->state == UC_CLOSING || !c->paused)
        return;
    c->paused = false;
    if (c->state == UC_BUSY && !c->reading) {
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        c->reading = true;
    }
}

void upstream_abort(struct upstream_conn *c)
{
    conn_close(c);
}

void upstream_pool_close(struct upstream_pool *p, void (*closed_cb)(struct upstream_pool *p))
{
    p->closing = true;
    p->on_closed = closed_cb;
    while (p->idle)
        conn_close(p->idle);
    pool_maybe_closed(p);
}
