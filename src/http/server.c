/* http server: HTTP/1.1 on libuv. See server.h.
 *
 * A connection moves through three states: IDLE (waiting for or receiving a
 * request), ACTIVE (the handler holds the request) and CLOSING (handles are
 * being closed; memory is freed in the last close callback, libuv's rule).
 * All received bytes go through conn->in, so pipelined requests are parsed
 * one at a time in a loop rather than by recursion. */
#include "http/server.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

#define READ_CHUNK (64 * 1024)
/* While a request is being handled, input that arrives (pipelined requests,
 * or garbage) is kept up to this much; then reading pauses until the
 * response ends. Reading continues below it so a hang-up is seen at once. */
#define IN_PAUSE_BYTES (128 * 1024)

enum conn_state { CONN_IDLE, CONN_ACTIVE, CONN_CLOSING };

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t shutdown_req;
    struct http_server *server;
    struct http_conn *prev, *next;
    struct http_conn *dirty_prev, *dirty_next; /* in server.dirty */
    bool dirty;
    struct http_parser parser;
    struct http_req req;
    struct buf in;    /* received, not yet parsed */
    struct buf out;   /* response bytes not yet handed to the kernel */
    struct buf wbuf;  /* bytes of the uv_write in flight */
    enum conn_state state;
    int open_handles; /* tcp + timer; freed when both close callbacks ran */
    bool writing;
    bool reading;
    bool processing;  /* inside conn_process: do not re-enter it */
    bool resp_started;
    bool chunked;
    bool head_only;   /* HEAD: headers, no body */
    bool close_after; /* close once the current response is written */
    bool continue_sent;
    bool raw_stream;  /* HTTP/1.0 client: no chunked framing, the close ends the body */
    bool read_deadline_armed; /* the read timer runs for the request being received */
    bool linger;      /* after a rejected request: drain input before closing */
    bool lingering;   /* draining: our side is shut down, input is discarded */
    size_t lingered;  /* bytes discarded so far */
};

/* After answering a rejected request (e.g. 413 while the client is still
 * sending its body) the connection is not closed at once: that would reset
 * it and the client might never read the answer. Like nginx's lingering
 * close, we shut down our side and discard input for a bounded time. */
#define LINGER_MS 2000
/* Output buffers larger than this are freed once empty; streamed output
 * past it is flushed at once rather than at the end of the loop turn. */
#define KEEP_OUT_BYTES (64 * 1024)
#define LINGER_MAX_BYTES (4 * 1024 * 1024)

static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c);
static void conn_flush(struct http_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b);

static void on_flush_prepare(uv_prepare_t *h);

static void conn_unmark_dirty(struct http_conn *c)
{
    struct http_server *s = c->server;
    if (!c->dirty)
        return;
    if (c->dirty_prev)
        c->dirty_prev->dirty_next = c->dirty_next;
    else
        s->dirty = c->dirty_next;
    if (c->dirty_next)
        c->dirty_next->dirty_prev = c->dirty_prev;
    c->dirty = false;
    c->dirty_prev = c->dirty_next = NULL;
}

/* Schedules a flush of c for the end of this loop turn. */
static void conn_mark_dirty(struct http_conn *c)
{
    struct http_server *s = c->server;
    if (c->out.len >= KEEP_OUT_BYTES) {
        conn_unmark_dirty(c);
        conn_flush(c); /* enough for one write: do not let a turn's output pile up */
        return;
    }
    if (c->dirty)
        return;
    if (!s->flush_ready) {
        conn_flush(c); /* no loop handle (not listening): flush now */
        return;
    }
    c->dirty = true;
    c->dirty_prev = NULL;
    c->dirty_next = s->dirty;
    if (s->dirty)
        s->dirty->dirty_prev = c;
    s->dirty = c;
    if (!uv_is_active((uv_handle_t *)&s->flush_prepare))
        uv_prepare_start(&s->flush_prepare, on_flush_prepare);
}

static void on_flush_prepare(uv_prepare_t *h)
{
    struct http_server *s = h->data;
    while (s->dirty) {
        struct http_conn *c = s->dirty;
        conn_unmark_dirty(c);
        conn_flush(c);
    }
    uv_prepare_stop(h);
}

void http_server_config_defaults(struct http_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->max_head_bytes = 64 * 1024;
    cfg->max_body_bytes = 32 * 1024 * 1024;
    cfg->max_out_bytes = 4 * 1024 * 1024;
    cfg->keepalive_timeout_ms = 5000;
    cfg->read_timeout_ms = 30000;
    cfg->send_timeout_ms = 60000;
    cfg->max_connections = 10000;
    cfg->server_header = NULL;
}

unsigned http_server_max_connections(long nofile, unsigned fds_per_connection)
{
    if (fds_per_connection == 0)
        fds_per_connection = 1;
    long n = (nofile - HTTP_FD_RESERVE) / (long)fds_per_connection;
    if (n < 1)
        return 1;
    return n > (long)UINT_MAX ? UINT_MAX : (unsigned)n;
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* --- connection list and lifetime --------------------------------------- */

static void server_maybe_empty(struct http_server *s)
{
    if (s->draining && s->nconns == 0 && s->on_empty) {
        void (*cb)(struct http_server *) = s->on_empty;
        s->on_empty = NULL;
        cb(s);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct http_server *s = c->server;
    http_parser_release(&c->parser);
    buf_release(&c->in);
    buf_release(&c->out);
    buf_release(&c->wbuf);
    free(c);
    server_maybe_empty(s);
}

/* Ends a request handed to the handler, whether answered or abandoned. */
static void conn_end_request(struct http_conn *c)
{
    c->state = CONN_IDLE;
    c->server->nactive--;
    c->req.on_abort = NULL;
    c->req.on_drain = NULL;
    c->req.data = NULL;
    c->resp_started = false;
    c->chunked = false;
    c->head_only = false;
    c->continue_sent = false;
    c->raw_stream = false;
    c->read_deadline_armed = false;
    http_parser_next(&c->parser);
    /* An idle keep-alive connection should not keep a large request's
     * memory: buffers that grew past 1 MiB are given back. */
    if (c->parser.body.cap > (1u << 20))
        buf_release(&c->parser.body);
}

static void conn_close(struct http_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    struct http_server *s = c->server;
    bool was_active = c->state == CONN_ACTIVE;
    conn_unmark_dirty(c);
    c->state = CONN_CLOSING;
    if (was_active) {
        /* The handler still holds the request: tell it, once, then forget it. */
        void (*abort_cb)(struct http_req *) = c->req.on_abort;
        s->nactive--;
        c->req.on_abort = NULL;
        c->req.on_drain = NULL;
        if (abort_cb)
            abort_cb(&c->req);
        c->req.data = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (c->writing || c->out.len)
        log_info("closing connection: the client took no response bytes for %u ms",
                 c->server->cfg.send_timeout_ms);
    else if (c->state == CONN_IDLE && http_parser_in_message(&c->parser))
        log_debug("closing connection: request not received within %u ms",
                  c->server->cfg.read_timeout_ms);
    conn_close(c);
}

static void on_linger_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

static void conn_linger(struct http_conn *c)
{
    if (c->lingering || c->state == CONN_CLOSING)
        return;
    c->lingering = true;
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_linger_shutdown) != 0) {
        conn_close(c);
        return;
    }
    if (!c->reading) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
}

/* Arms the right timer for the connection's state: while output is
 * pending, a send timeout restarted on every bit of progress; inside a
 * request being received, one deadline from its first byte (not reset by
 * each read, or a slow-loris client could trickle forever); between
 * requests, the keep-alive timeout; none while a handler works. */
static void conn_arm_timer(struct http_conn *c)
{
    if (c->lingering || c->state == CONN_CLOSING)
        return;
    const struct http_server_config *cfg = &c->server->cfg;
    if (c->writing || c->out.len) {
        c->read_deadline_armed = false;
        uv_timer_start(&c->timer, on_timeout, cfg->send_timeout_ms, 0);
        return;
    }
    if (c->state != CONN_IDLE) {
        uv_timer_stop(&c->timer);
        return;
    }
    if (http_parser_in_message(&c->parser) || c->in.len) {
        if (!c->read_deadline_armed) {
            c->read_deadline_armed = true;
            uv_timer_start(&c->timer, on_timeout, cfg->read_timeout_ms, 0);
        }
        return;
    }
    c->read_deadline_armed = false;
    uv_timer_start(&c->timer, on_timeout, cfg->keepalive_timeout_ms, 0);
}

/* --- output -------------------------------------------------------------- */

static void on_written(uv_write_t *w, int status)
{
    struct http_conn *c = w->data;
    c->writing = false;
    buf_reset(&c->wbuf);
    if (c->wbuf.cap > KEEP_OUT_BYTES)
        buf_release(&c->wbuf); /* a burst's memory is not kept by an idle connection */
    if (status < 0) {
        if (c->state != CONN_CLOSING)
            conn_close(c);
        return;
    }
    if (c->state == CONN_CLOSING)
        return;
    conn_flush(c);
    if (c->state != CONN_CLOSING && (c->writing || c->out.len))
        conn_arm_timer(c); /* progress: the send timeout starts over */
}

/* Hands pending output to the kernel: directly when the socket takes it,
 * else through one uv_write whose buffer is swapped with the pending one. */
static void conn_flush(struct http_conn *c)
{
    if (c->writing || c->state == CONN_CLOSING)
        return;
    if (c->out.len) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        if (n > 0)
            buf_consume(&c->out, (size_t)n);
        if (c->out.len) {
            struct buf tmp = c->wbuf;
            c->wbuf = c->out;
            c->out = tmp;
            buf_reset(&c->out);
            b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
            int err = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written);
            if (err) {
                conn_close(c);
                return;
            }
            c->writing = true;
            conn_arm_timer(c); /* the send timeout */
            return;
        }
    }
    /* Everything is written. */
    if (c->out.cap > KEEP_OUT_BYTES)
        buf_release(&c->out);
    if (c->state == CONN_ACTIVE) {
        if (c->req.on_drain)
            c->req.on_drain(&c->req);
        return;
    }
    if (c->state == CONN_IDLE) {
        if (c->close_after && c->linger)
            conn_linger(c);
        else if (c->close_after)
            conn_close(c);
        else
            conn_process(c); /* the next pipelined request, timers, reading */
    }
}

/* The Date header's value, formatted once a second. */
static const char *current_date(size_t *len)
{
    static time_t cached_at;
    static char cached[40];
    static size_t cached_len;
    time_t now = time(NULL);
    if (now != cached_at || !cached_len) {
        struct tm tm;
        gmtime_r(&now, &tm);
        cached_len = strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    *len = cached_len;
    return cached;
}

/* Appends "name: value\r\n" (name includes its ": "). */
static int append_field(struct buf *o, const char *name, size_t name_len, const char *value)
{
    int err = buf_append(o, name, name_len);
    if (!err)
        err = buf_append_str(o, value);
    if (!err)
        err = buf_append(o, "\r\n", 2);
    return err;
}

/* The response head. Every response passes here, so it is built from
 * known pieces rather than with printf. */
static int append_head(struct http_conn *c, int status, const char *content_type,
                       const char *extra_headers, long long content_length)
{
    size_t date_len;
    const char *date = current_date(&date_len);
    struct buf *o = &c->out;
    int err = buf_append(o, "HTTP/1.1 ", 9);
    if (!err)
        err = buf_append_uint(o, status > 0 ? (unsigned)status : 0);
    if (!err)
        err = buf_append(o, " ", 1);
    if (!err)
        err = buf_append_str(o, http_status_reason(status));
    if (!err)
        err = buf_append(o, "\r\ndate: ", 8);
    if (!err)
        err = buf_append(o, date, date_len);
    if (!err)
        err = buf_append(o, "\r\n", 2);
    if (!err && c->server->cfg.server_header)
        err = append_field(o, "server: ", 8, c->server->cfg.server_header);
    if (!err && content_type)
        err = append_field(o, "content-type: ", 14, content_type);
    if (!err && content_length >= 0) {
        err = buf_append(o, "content-length: ", 16);
        if (!err)
            err = buf_append_uint(o, (unsigned long long)content_length);
        if (!err)
            err = buf_append(o, "\r\n", 2);
    }
    if (!err && content_length == -1)
        err = buf_append_str(o, "transfer-encoding: chunked\r\n");
    if (!err && c->close_after)
        err = buf_append_str(o, "connection: close\r\n");
    else if (!err && c->parser.http_minor == 0)
        err = buf_append_str(o, "connection: keep-alive\r\n"); /* HTTP/1.0 asked for it */
    if (!err && extra_headers)
        err = buf_append_str(o, extra_headers);
    if (!err)
        err = buf_append(o, "\r\n", 2);
    return err;
}

static bool req_usable(const struct http_req *req)
{
    return req->conn && req->conn->state == CONN_ACTIVE;
}

/* Ends the request after its last bytes were queued, then lets the
 * connection go on to the next pipelined request (or close). */
static void conn_finish_response(struct http_conn *c)
{
    conn_end_request(c);
    if (c->server->draining)
        c->close_after = true;
    conn_unmark_dirty(c); /* the flush happens now */
    conn_flush(c);
}

int http_respond(struct http_req *req, int status, const char *content_type,
                 const char *extra_headers, const void *body, size_t len)
{
    if (!req_usable(req) || req->conn->resp_started)
        return -EPIPE;
    struct http_conn *c = req->conn;
    c->resp_started = true;
    size_t limit = c->out.limit;
    c->out.limit = limit + len; /* the body is already in memory; queue it whole */
    int err = append_head(c, status, content_type, extra_headers, (long long)len);
    if (!err && !c->head_only)
        err = buf_append(&c->out, body, len);
    c->out.limit = limit;
    if (err)
        c->close_after = true;
    conn_finish_response(c);
    return err;
}

int http_stream_start(struct http_req *req, int status, const char *content_type,
                      const char *extra_headers)
{
    if (!req_usable(req) || req->conn->resp_started)
        return -EPIPE;
    struct http_conn *c = req->conn;
    c->resp_started = true;
    c->chunked = true;
    /* HTTP/1.0 has no chunked encoding (RFC 9112 §6.1): send the body as it
     * comes and end it by closing. */
    c->raw_stream = c->parser.http_minor == 0;
    if (c->raw_stream)
        c->close_after = true;
    int err = append_head(c, status, content_type, extra_headers, c->raw_stream ? -2 : -1);
    if (err)
        return err;
    conn_mark_dirty(c);
    return req_usable(req) ? 0 : -EPIPE;
}

/* "<hex size>\r\n" into out (at least 20 bytes); returns its length. This
 * runs once per streamed chunk, so it avoids snprintf. */
static size_t chunk_size_line(size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = hex[len & 15];
        len >>= 4;
    } while (len);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\r';
    out[n + 1] = '\n';
    return n + 2;
}

/* Queues one chunk (framed unless HTTP/1.0) without flushing. */
static int queue_chunk(struct http_conn *c, const void *data, size_t len)
{
    char size_line[24];
    size_t n = c->raw_stream ? 0 : chunk_size_line(len, size_line);
    size_t need = n + len + (c->raw_stream ? 0 : 2);
    /* The backlog is what waits in both buffers. */
    if (c->out.len > c->out.limit || need + c->wbuf.len > c->out.limit - c->out.len)
        return -ENOBUFS;
    int err = buf_append(&c->out, size_line, n);
    if (!err)
        err = buf_append(&c->out, data, len);
    if (!err && !c->raw_stream)
        err = buf_append(&c->out, "\r\n", 2);
    return err;
}

int http_stream_write(struct http_req *req, const void *data, size_t len)
{
    if (!req_usable(req) || !req->conn->chunked)
        return -EPIPE;
    struct http_conn *c = req->conn;
    if (len == 0 || c->head_only)
        return 0;
    int err = queue_chunk(c, data, len);
    if (err)
        return err;
    conn_mark_dirty(c);
    return req_usable(req) ? 0 : -EPIPE;
}

int http_stream_end_with(struct http_req *req, const void *data, size_t len)
{
    if (!req_usable(req) || !req->conn->chunked)
        return -EPIPE;
    struct http_conn *c = req->conn;
    int err = 0;
    if (len && !c->head_only) {
        /* The last chunk may take the backlog past its limit: it is the end. */
        size_t limit = c->out.limit;
        c->out.limit = limit + len + 32;
        err = queue_chunk(c, data, len);
        c->out.limit = limit;
    }
    if (!err && !c->head_only && !c->raw_stream)
        err = buf_append(&c->out, "0\r\n\r\n", 5);
    if (err)
        c->close_after = true;
    conn_finish_response(c);
    return err;
}

int http_stream_end(struct http_req *req)
{
    return http_stream_end_with(req, NULL, 0);
}

void http_req_close(struct http_req *req)
{
    struct http_conn *c = req->conn;
    if (!c || c->state != CONN_ACTIVE)
        return;
    c->req.on_abort = NULL;
    conn_close(c);
}

size_t http_req_backlog(const struct http_req *req)
{
    if (!req->conn)
        return 0;
    return req->conn->out.len + req->conn->wbuf.len;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
    return http_parser_header(req->msg, name);
}

bool http_req_path_is(const struct http_req *req, const char *lit)
{
    size_t n = strlen(lit);
    return req->path_len == n && memcmp(req->path, lit, n) == 0;
}

/* --- input --------------------------------------------------------------- */

/* Answers a request the parser rejected, then closes. */
static void conn_reject(struct http_conn *c, int status, const char *why)
{
    struct buf body = BUF_INIT(1024);
    buf_append_str(&body, "{\"detail\":");
    const char *w = why ? why : "bad request";
    buf_append_json_str(&body, w, strnlen(w, 200));
    buf_append_str(&body, "}");
    c->close_after = true;
    c->linger = true;
    c->state = CONN_ACTIVE; /* borrow the request path to reuse http_respond */
    c->server->nactive++;
    c->req.conn = c;
    http_respond(&c->req, status, "application/json", NULL, body.data, body.len);
    buf_release(&body);
}

static void conn_dispatch(struct http_conn *c)
{
    struct http_server *s = c->server;
    struct http_req *req = &c->req;
    memset(req, 0, sizeof(*req));
    req->conn = c;
    req->msg = &c->parser;
    http_parser_path(&c->parser, &req->path, &req->path_len, &req->query, &req->query_len);
    c->state = CONN_ACTIVE;
    c->head_only = c->parser.method == HTTP_M_HEAD;
    if (!c->parser.keep_alive || s->draining)
        c->close_after = true;
    s->nactive++;
    s->requests_total++;
    uv_timer_stop(&c->timer);
    s->handler(req, s->ud);
}

/* Parses what conn->in holds, dispatching each complete request in turn. */
static void conn_process(struct http_conn *c)
{
    if (c->processing)
        return;
    c->processing = true;
    while (c->state == CONN_IDLE && c->in.len > 0 && !c->close_after && !c->writing) {
        size_t used = 0;
        int r = http_parser_feed(&c->parser, c->in.data, c->in.len, &used);
        buf_consume(&c->in, used);
        if (r < 0) {
            conn_reject(c, c->parser.error_status, c->parser.error);
            break;
        }
        if (r == HTTP_PARSE_MORE) {
            if (c->parser.expect_continue && !c->continue_sent && c->parser.http_minor >= 1) {
                c->continue_sent = true;
                buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                conn_flush(c);
            }
            break;
        }
        conn_dispatch(c);
    }
    c->processing = false;
    if (c->state == CONN_IDLE)
        conn_arm_timer(c);
    /* Resume reading if it was paused and there is room again. */
    if (c->state != CONN_CLOSING && !c->reading && c->in.len < IN_PAUSE_BYTES) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    /* One read buffer for the whole thread: read callbacks copy what they
     * keep into conn->in before returning, so it is never shared. */
    static char chunk[READ_CHUNK];
    (void)h;
    (void)suggested;
    *b = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = stream->data;
    if (nread == 0 || c->state == CONN_CLOSING)
        return;
    if (c->linger) {
        /* A rejected request: what follows is discarded until EOF. Before the
         * answer is out, stop reading at EOF rather than close over it. */
        c->lingered += nread > 0 ? (size_t)nread : 0;
        if (nread < 0 || c->lingered > LINGER_MAX_BYTES) {
            if (c->lingering) {
                conn_close(c);
            } else {
                uv_read_stop(stream);
                c->reading = false;
            }
        }
        return;
    }
    if (nread == UV_EOF && c->state == CONN_IDLE && (c->writing || c->out.len)) {
        /* A half-close after the last request: finish sending, then close. */
        uv_read_stop(stream);
        c->reading = false;
        c->close_after = true;
        return;
    }
    if (nread < 0) {
        /* EOF or error. A request in progress is aborted: the client is gone. */
        if (c->state == CONN_IDLE && http_parser_in_message(&c->parser) && nread == UV_EOF) {
            if (http_parser_finish(&c->parser) == HTTP_PARSE_COMPLETE) {
                c->close_after = true;
                conn_dispatch(c);
                return;
            }
        }
        conn_close(c);
        return;
    }
    if (buf_append(&c->in, b->base, (size_t)nread)) {
        conn_close(c);
        return;
    }
    if (c->in.len >= IN_PAUSE_BYTES) {
        /* Unparsed input piles up (pipelining behind a response still being
         * written, or while a handler works): stop reading until it drains. */
        uv_read_stop(stream);
        c->reading = false;
    }
    if (c->state == CONN_ACTIVE)
        return;
    conn_process(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct http_server *s = listener->data;
    if (status < 0) {
        /* EMFILE and friends repeat on every loop turn: log once a second. */
        static time_t last;
        time_t now = time(NULL);
        if (now != last)
            log_warn("accept failed: %s", uv_strerror(status));
        last = now;
        return;
    }
    struct http_conn *c = calloc(1, sizeof(*c));
    if (!c || http_parser_init(&c->parser, false, s->cfg.max_head_bytes, s->cfg.max_body_bytes)) {
        free(c);
        log_error("out of memory accepting a connection");
        return;
    }
    c->server = s;
    buf_init(&c->in, IN_PAUSE_BYTES + READ_CHUNK);
    buf_init(&c->out, s->cfg.max_out_bytes);
    buf_init(&c->wbuf, s->cfg.max_out_bytes);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->wreq.data = c;
    c->open_handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    if (s->nconns > s->cfg.max_connections || s->draining) {
        s->conns_refused++;
        if (s->conns_refused == 1 || s->conns_refused % 1000 == 0)
            log_warn("refusing connection: %u open, the limit is %u (%llu refused so far)",
                     s->nconns - 1, s->cfg.max_connections, s->conns_refused);
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    conn_arm_timer(c);
}

/* --- server -------------------------------------------------------------- */

void http_server_init(struct http_server *s, uv_loop_t *loop, const struct http_server_config *cfg,
                      http_handler_fn handler, void *ud)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = *cfg;
    s->handler = handler;
    s->ud = ud;
}

int http_server_listen(struct http_server *s)
{
    struct sockaddr_storage addr;
    int err;
    if (strchr(s->cfg.host, ':'))
        err = uv_ip6_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in6 *)&addr);
    else
        err = uv_ip4_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in *)&addr);
    if (err)
        return err;
    if (!s->flush_ready) {
        uv_prepare_init(s->loop, &s->flush_prepare);
        s->flush_prepare.data = s;
        s->flush_ready = true;
    }
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    err = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (!err)
        err = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (err) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        return err;
    }
    s->listening = true;
    return 0;
}

void http_server_shutdown(struct http_server *s, void (*on_empty)(struct http_server *s))
{
    s->draining = true;
    s->on_empty = on_empty;
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
    }
    struct http_conn *c = s->conns;
    while (c) {
        struct http_conn *next = c->next;
        c->close_after = true;
        if (c->state == CONN_IDLE && !c->writing && !c->out.len)
            conn_close(c);
        c = next;
    }
    server_maybe_empty(s);
}

void http_server_close_all(struct http_server *s)
{
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
    }
    s->draining = true;
    while (s->conns)
        conn_close(s->conns);
}

void http_server_release(struct http_server *s)
{
    if (s->flush_ready) {
        uv_close((uv_handle_t *)&s->flush_prepare, NULL);
        s->flush_ready = false;
    }
}
