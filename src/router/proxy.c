/* proxy: the router's request path — validate, count, pick a backend or
 * hold, forward byte for byte, relay the response as it arrives, retry a
 * failure that happened before anything was sent, end a broken stream
 * cleanly. See router.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"
#include "router/router.h"

/* Pause reading from the upstream when the client is this far behind. */
#define BACKLOG_HIGH (256 * 1024)
#define MAX_ATTEMPTS 3
#define RETRY_AFTER "5"
/* Finished requests kept for reuse, and the buffer size they may keep. */
#define SPARE_REQS 64
#define SPARE_KEEP_BYTES (16 * 1024)

struct rreq {
    struct router *router;
    struct http_req *http;
    struct held held;          /* in a hold queue while no backend is ready */
    struct rreq *prev, *next;
    char model[256];
    char request_id[128];
    char session[256];
    size_t session_len;
    struct buf prompt;         /* prefixaware: the prompt text, up to what the index looks at */
    struct buf body;           /* the body re-serialized after an alias rewrite */
    const char *fwd;           /* the body that goes upstream: the client's bytes (valid until
                                * the response ends) or body */
    size_t fwd_len;
    struct buf upreq;          /* the head of the upstream request of the current attempt */
    struct rbackend *backend;  /* of the current attempt */
    struct rbackend *forced;   /* engine-control requests name their backend */
    struct rbackend *failed;   /* excluded when retrying */
    struct upstream_conn *up;
    int attempts;
    bool responded;            /* the response head went to the client */
    bool is_sse;
    bool in_write;             /* inside a write to the client: an abort is deferred */
    bool aborted;
    int status;
    double t_start, t_sent;
};

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

static struct rreq *rreq_of_held(struct held *h)
{
    return (struct rreq *)((char *)h - offsetof(struct rreq, held));
}

void router_send_error(struct http_req *req, int status, const char *request_id,
                       const char *retry_after, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct buf body = BUF_INIT(4096);
    buf_append_str(&body, "{\"error\":");
    buf_append_json_str(&body, msg, strlen(msg));
    buf_append_str(&body, "}");
    char hdrs[300];
    int n = snprintf(hdrs, sizeof(hdrs), "x-request-id: %s\r\n", request_id);
    if (retry_after)
        snprintf(hdrs + n, sizeof(hdrs) - (size_t)n, "retry-after: %s\r\n", retry_after);
    http_respond(req, status, "application/json", hdrs, body.data, body.len);
    buf_release(&body);
}

static void rreq_unlink(struct rreq *q)
{
    struct router *r = q->router;
    if (q->prev)
        q->prev->next = q->next;
    else
        r->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
    r->nreqs--;
}

/* A buffer a spare request keeps: its memory unless it grew large. */
static void spare_buf(struct buf *b)
{
    if (b->cap > SPARE_KEEP_BYTES)
        buf_release(b);
    else
        buf_reset(b);
}

/* Ends the request's life: it leaves the live list and is kept as a spare
 * (its buffers with it) or freed. */
static void rreq_free(struct rreq *q)
{
    struct router *r = q->router;
    if (q->held.queue)
        hold_remove(&r->hold, &q->held);
    if (q->http) {
        q->http->on_abort = NULL;
        q->http->on_drain = NULL;
        q->http->data = NULL;
    }
    rreq_unlink(q);
    if (r->nspare < SPARE_REQS && !r->stopping) {
        spare_buf(&q->body);
        spare_buf(&q->upreq);
        spare_buf(&q->prompt);
        q->next = r->spare_reqs;
        r->spare_reqs = q;
        r->nspare++;
        return;
    }
    buf_release(&q->body);
    buf_release(&q->upreq);
    buf_release(&q->prompt);
    free(q);
}

void rreq_free_all(struct router *r)
{
    while (r->reqs) {
        struct rreq *q = r->reqs;
        if (q->up)
            upstream_abort(q->up);
        rreq_free(q);
    }
    while (r->spare_reqs) {
        struct rreq *q = r->spare_reqs;
        r->spare_reqs = q->next;
        buf_release(&q->body);
        buf_release(&q->upreq);
        buf_release(&q->prompt);
        free(q);
    }
    r->nspare = 0;
}

/* The request's attempt on its backend is over: update the backend's load
 * and stats, and report a drained backend. */
static void attempt_end(struct rreq *q, bool success)
{
    struct rbackend *rb = q->backend;
    if (!rb)
        return;
    struct router *r = q->router;
    rb->b.inflight--;
    if (!q->responded)
        rb->b.prefill--;
    double latency = now_s() - q->t_sent;
    prom_histogram_observe(&rb->latency[success ? 0 : 1], latency);
    rb->latency_sum += latency;
    rb->latency_count++;
    q->backend = NULL;
    q->up = NULL;
    if (rb->b.state == BACKEND_DRAINING && rb->b.inflight == 0 && r->on_drained)
        r->on_drained(r, &rb->b, r->hooks_ud);
}

/* Requests started in the current window, for vllm:current_qps. */
static void count_qps(struct router *r, struct rbackend *rb)
{
    double now = now_s();
    if (now - rb->qps_window_start >= r->cfg.request_stats_window) {
        rb->qps_prev = rb->qps_count;
        rb->qps_count = 0;
        rb->qps_window_start = now;
        rb->latency_sum = 0;
        rb->latency_count = 0;
    }
    rb->qps_count++;
    rb->requests_total++;
}

struct header_name {
    const char *name;
    size_t len;
};
#define HEADER_NAME(s) {s, sizeof(s) - 1}

static bool header_in(const char *name, size_t len, const struct header_name *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i].len == len && strncasecmp(name, set[i].name, len) == 0)
            return true;
    }
    return false;
}

static const struct header_name hop_by_hop[] = {
    HEADER_NAME("host"),           HEADER_NAME("connection"),        HEADER_NAME("keep-alive"),
    HEADER_NAME("proxy-connection"), HEADER_NAME("transfer-encoding"),
    HEADER_NAME("content-length"), HEADER_NAME("upgrade"),           HEADER_NAME("te"),
    HEADER_NAME("trailer"),        HEADER_NAME("x-request-id"),      HEADER_NAME("expect"),
};

/* Appends "name: value\r\n". Heads are built from known pieces, not with
 * printf: this runs for every header of every request and response. */
static int append_header(struct buf *o, const char *name, size_t name_len, const char *value,
                         size_t value_len)
{
    int err = buf_append(o, name, name_len);
    if (!err)
        err = buf_append(o, ": ", 2);
    if (!err)
        err = buf_append(o, value, value_len);
    if (!err)
        err = buf_append(o, "\r\n", 2);
    return err;
}

/* The upstream request's head: request line, Host, the client's end-to-end
 * headers, X-Request-Id and Content-Length. The body follows it byte for
 * byte (q->fwd). */
static int build_upstream_request(struct rreq *q, struct rbackend *rb)
{
    const struct http_parser *m = q->http->msg;
    struct buf *o = &q->upreq;
    buf_reset(o);
    int err = buf_append_str(o, m->method_name);
    if (!err)
        err = buf_append(o, " ", 1);
    if (!err)
        err = buf_append(o, m->head.data + m->url.off, m->url.len);
    if (!err)
        err = buf_append(o, " HTTP/1.1\r\nhost: ", 17);
    if (!err)
        err = buf_append_str(o, rb->b.host);
    if (!err)
        err = buf_append(o, ":", 1);
    if (!err)
        err = buf_append_uint(o, (unsigned)rb->b.port);
    if (!err)
        err = buf_append(o, "\r\n", 2);
    for (unsigned i = 0; i < m->nheaders && !err; i++) {
        const struct http_header_span *h = &m->headers[i];
        const char *name = m->head.data + h->name.off;
        if (header_in(name, h->name.len, hop_by_hop, ARRAY_SIZE(hop_by_hop)))
            continue;
        err = append_header(o, name, h->name.len, m->head.data + h->value.off, h->value.len);
    }
    if (!err)
        err = append_header(o, "x-request-id", 12, q->request_id, strlen(q->request_id));
    if (!err)
        err = buf_append(o, "content-length: ", 16);
    if (!err)
        err = buf_append_uint(o, q->fwd_len);
    if (!err)
        err = buf_append(o, "\r\n\r\n", 4);
    return err;
}

static void dispatch(struct rreq *q, struct rbackend *rb);
static bool hold_or_refuse(struct rreq *q);

/* Ready backends serving the request's model (or the forced one), minus the
 * one that just failed. */
static size_t candidates(struct rreq *q, struct backend **out, size_t max)
{
    struct router *r = q->router;
    size_t n = 0;
    for (struct rbackend *rb = r->backends; rb && n < max; rb = rb->next) {
        if (rb->b.state != BACKEND_READY || rb == q->failed)
            continue;
        if (q->forced ? rb == q->forced : backend_serves(&rb->b, q->model))
            out[n++] = &rb->b;
    }
    return n;
}

/* prefixaware: the backend that last served the longest known prefix of
 * the prompt, else the least loaded; either way the prompt's prefixes now
 * point at the choice. */
static size_t pick_by_prefix(struct rreq *q, struct backend **cands, size_t n)
{
    struct router *r = q->router;
    uint64_t hashes[PREFIX_MAX_CHUNKS], ids[256];
    size_t nh = prefix_hashes(q->prompt.data ? q->prompt.data : "", q->prompt.len, hashes,
                              PREFIX_MAX_CHUNKS);
    for (size_t i = 0; i < n; i++)
        ids[i] = cands[i]->url_hash;
    size_t depth;
    int hit = prefix_match(&r->prefix, hashes, nh, ids, n, &depth);
    size_t i = hit >= 0 ? (size_t)hit : policy_least_loaded(&r->policy, cands, n);
    prefix_insert(&r->prefix, hashes, nh, cands[i]->url_hash);
    return i;
}

static struct rbackend *pick(struct rreq *q)
{
    struct backend *cands[256];
    size_t n = candidates(q, cands, ARRAY_SIZE(cands));
    if (n == 0)
        return NULL;
    size_t i;
    if (q->router->policy.logic == ROUTING_PREFIXAWARE && q->prompt.len)
        i = pick_by_prefix(q, cands, n);
    else
        i = policy_pick(&q->router->policy, cands, n, q->session_len ? q->session : NULL,
                        q->session_len);
    return (struct rbackend *)((char *)cands[i] - offsetof(struct rbackend, b));
}

/* --- relaying the response ---------------------------------------------- */

static void on_client_drain(struct http_req *req)
{
    struct rreq *q = req->data;
    if (q->up && http_req_backlog(req) < BACKLOG_HIGH / 2)
        upstream_resume(q->up);
}

static void on_up_head(void *ud, const struct http_parser *resp)
{
    struct rreq *q = ud;
    struct rbackend *rb = q->backend;
    rb->b.prefill--;
    q->responded = true;
    q->status = resp->status;
    const char *ctype = http_parser_header(resp, "content-type");
    q->is_sse = ctype && strncasecmp(ctype, "text/event-stream", 17) == 0;
    /* production-stack passes upstream headers on, minus these (PS#998). */
    static const struct header_name drop[] = {
        HEADER_NAME("content-length"), HEADER_NAME("transfer-encoding"), HEADER_NAME("connection"),
        HEADER_NAME("keep-alive"),     HEADER_NAME("server"),            HEADER_NAME("date"),
        HEADER_NAME("content-type"),   HEADER_NAME("x-request-id"),
    };
    /* The router's scratch buffer: http_stream_start copies the lines
     * before anything else can use it. */
    struct buf *hdrs = &q->router->scratch;
    buf_reset(hdrs);
    for (unsigned i = 0; i < resp->nheaders; i++) {
        const struct http_header_span *h = &resp->headers[i];
        const char *name = resp->head.data + h->name.off;
        if (!header_in(name, h->name.len, drop, ARRAY_SIZE(drop)))
            append_header(hdrs, name, h->name.len, resp->head.data + h->value.off, h->value.len);
    }
    append_header(hdrs, "x-request-id", 12, q->request_id, strlen(q->request_id));
    q->in_write = true;
    http_stream_start(q->http, q->status, ctype, hdrs->data);
    q->in_write = false;
    if (q->aborted)
        rreq_free(q);
}

static void on_up_body(void *ud, const char *at, size_t len)
{
    struct rreq *q = ud;
    q->in_write = true;
    http_stream_write(q->http, at, len);
    q->in_write = false;
    if (q->aborted) {
        rreq_free(q);
        return;
    }
    if (q->up && http_req_backlog(q->http) > BACKLOG_HIGH)
        upstream_pause(q->up); /* a slow client slows its upstream, not our memory */
}

/* A broken stream ends as vLLM ends a failed one: an error event, then
 * [DONE], then a proper end of the chunked body. */
static void end_broken_stream(struct rreq *q, enum upstream_error err)
{
    if (!q->is_sse) {
        http_req_close(q->http); /* a truncated JSON body must not look complete */
        return;
    }
    char ev[512];
    int n = snprintf(ev, sizeof(ev),
                     "data: {\"error\":{\"message\":\"the backend failed mid-stream (%s); the "
                     "response is incomplete\",\"type\":\"BadGatewayError\",\"param\":null,"
                     "\"code\":502}}\n\ndata: [DONE]\n\n",
                     upstream_error_name(err));
    q->in_write = true;
    int rc = http_stream_write(q->http, ev, (size_t)n);
    if (rc == 0)
        http_stream_end(q->http);
    q->in_write = false;
}

static void on_up_done(void *ud, enum upstream_error err)
{
    struct rreq *q = ud;
    struct router *r = q->router;
    struct rbackend *rb = q->backend;
    if (err == UPSTREAM_OK) {
        attempt_end(q, q->status < 500);
        q->in_write = true;
        http_stream_end(q->http);
        q->in_write = false;
        rreq_free(q);
        return;
    }
    rb->errors[err]++;
    r->metrics.upstream_errors[err]++;
    log_warn("request %s to %s failed: %s%s", q->request_id, rb->b.url, upstream_error_name(err),
             q->responded ? " (mid-response)" : "");
    if (err == UPSTREAM_CONNECT && rb->b.state == BACKEND_READY) {
        /* Passive health: a backend that refuses connections is out until an
         * active /health probe brings it back. */
        rb->b.state = BACKEND_DOWN;
        log_warn("backend %s is down (connect failed); probing /health every %g s", rb->b.url,
                 r->cfg.health_check_interval);
    }
    attempt_end(q, false);
    if (q->responded) {
        end_broken_stream(q, err);
        rreq_free(q);
        return;
    }
    if (err == UPSTREAM_LOCAL) {
        /* Out of descriptors or memory here: another backend would fail the
         * same way, and this one is not at fault (it stays READY). */
        router_send_error(q->http, 503, q->request_id, RETRY_AFTER,
                          "Upstream %s failed: local (the router could not open a connection: "
                          "too many open files or out of memory); try again later",
                          rb->b.url);
        rreq_free(q);
        return;
    }
    bool nothing_sent = err == UPSTREAM_CONNECT || err == UPSTREAM_STALE;
    if (nothing_sent && q->attempts < MAX_ATTEMPTS) {
        /* Nothing reached the engine: safe to send elsewhere. A stale pooled
         * connection may simply be retried on a fresh one. */
        if (err == UPSTREAM_CONNECT)
            q->failed = rb;
        struct rbackend *next = err == UPSTREAM_STALE && rb->b.state == BACKEND_READY ? rb : pick(q);
        if (next) {
            r->metrics.retries_total++;
            dispatch(q, next);
            return;
        }
        if (!q->forced) {
            /* No other backend: wait for one like any request at zero
             * replicas (hold_or_refuse answers and frees it if it cannot). */
            hold_or_refuse(q);
            return;
        }
    }
    int status = err == UPSTREAM_HEADER_TIMEOUT ? 504 : 502;
    router_send_error(q->http, status, q->request_id, NULL,
                      "Upstream %s failed: %s", rb->b.url, upstream_error_name(err));
    rreq_free(q);
}

static const struct upstream_callbacks proxy_callbacks = {on_up_head, on_up_body, on_up_done};

static void dispatch(struct rreq *q, struct rbackend *rb)
{
    struct router *r = q->router;
    q->attempts++;
    q->backend = rb;
    q->responded = false;
    rb->b.inflight++;
    rb->b.prefill++;
    count_qps(r, rb);
    q->t_sent = now_s();
    log_debug("routing request %s (model %s) to %s", q->request_id, q->model, rb->b.url);
    if (build_upstream_request(q, rb)) {
        attempt_end(q, false);
        router_send_error(q->http, 500, q->request_id, NULL, "Internal error: request too large");
        rreq_free(q);
        return;
    }
    q->up = upstream_send(&rb->pool, q->upreq.data, q->upreq.len, q->fwd, q->fwd_len,
                          &proxy_callbacks, q, (unsigned)(r->cfg.response_header_timeout * 1000));
    if (!q->up) {
        attempt_end(q, false);
        router_send_error(q->http, 503, q->request_id, RETRY_AFTER,
                          "Backend %s is shutting down", rb->b.url);
        rreq_free(q);
    }
}

/* --- holding ------------------------------------------------------------- */

static void refuse_unavailable(struct rreq *q, const char *why)
{
    router_send_error(q->http, 503, q->request_id, RETRY_AFTER,
                      "Model '%s' is temporarily unavailable. Please try again later.", q->model);
    log_info("request %s for model %s refused: %s", q->request_id, q->model, why);
    rreq_free(q);
}

/* Holds a request with no backend to go to. Returns true if it is held;
 * otherwise it has been answered with 503 and freed. */
static bool hold_or_refuse(struct rreq *q)
{
    struct router *r = q->router;
    if (strcmp(r->cfg.on_no_backend, "503") == 0) {
        refuse_unavailable(q, "no ready backend (--on-no-backend=503)");
        return false;
    }
    int err = hold_push(&r->hold, q->model, &q->held, q->fwd_len, now_s());
    if (err) {
        r->metrics.hold_overflows_total++;
        refuse_unavailable(q, "the hold queue is full");
        return false;
    }
    r->metrics.held_total++;
    q->failed = NULL; /* when a backend is ready again, any may take it */
    log_info("request %s for model %s held: no ready backend (%zu held)", q->request_id, q->model,
             hold_count(&r->hold, q->model));
    router_arm_hold_timer(r);
    if (r->on_held)
        r->on_held(r, q->model, r->hooks_ud);
    return true;
}

void router_dispatch_held(struct router *r, const char *model)
{
    struct held *h;
    while ((h = hold_peek(&r->hold, model)) != NULL) {
        struct rreq *q = rreq_of_held(h);
        struct rbackend *rb = pick(q);
        if (!rb)
            break;
        hold_remove(&r->hold, h);
        prom_histogram_observe(&r->metrics.hold_seconds, now_s() - h->since);
        dispatch(q, rb);
    }
    router_arm_hold_timer(r);
}

static void on_hold_timer(uv_timer_t *t)
{
    struct router *r = t->data;
    struct held *h;
    while ((h = hold_pop_expired(&r->hold, now_s())) != NULL) {
        struct rreq *q = rreq_of_held(h);
        r->metrics.hold_timeouts_total++;
        prom_histogram_observe(&r->metrics.hold_seconds, now_s() - h->since);
        refuse_unavailable(q, "no backend became ready within --hold-timeout");
    }
    router_arm_hold_timer(r);
}

void router_arm_hold_timer(struct router *r)
{
    double next = hold_next_expiry(&r->hold, now_s());
    if (next < 0) {
        uv_timer_stop(&r->hold_timer);
        return;
    }
    uv_timer_start(&r->hold_timer, on_hold_timer, (uint64_t)(next * 1000) + 1, 0);
}

/* --- the request path ---------------------------------------------------- */

static void on_client_abort(struct http_req *req)
{
    struct rreq *q = req->data;
    q->http = NULL;
    if (q->up) {
        /* The engine sees the connection close and aborts the request. */
        upstream_abort(q->up);
        attempt_end(q, false);
    }
    if (q->in_write) {
        q->aborted = true;
        return;
    }
    rreq_free(q);
}

static void count_incoming(struct router *r, const char *model)
{
    r->metrics.incoming[router_incoming_slot(r, model)]++;
}

/* Reads model (after alias rewrite) and the session key from the body
 * (a header of that name wins, as in production-stack). Answers 400 and
 * returns false when the body is not what it must be. */
static bool read_body(struct rreq *q)
{
    struct router *r = q->router;
    const struct http_parser *m = q->http->msg;
    const char *key = r->cfg.session_key && *r->cfg.session_key ? r->cfg.session_key : NULL;
    const char *hv = key ? http_req_header(q->http, key) : NULL;
    struct route_body rb;
    enum route_body_status st = route_body_parse(
        m->body.data, m->body.len, r->aliases, r->naliases, hv ? NULL : key, &q->body,
        r->policy.logic == ROUTING_PREFIXAWARE ? &q->prompt : NULL, &rb);
    if (st != BODY_OK) {
        router_send_error(q->http, st == BODY_TOO_LARGE ? 500 : 400, q->request_id, NULL, "%s",
                          route_body_error(st));
        return false;
    }
    memcpy(q->model, rb.model, sizeof(q->model));
    q->fwd = rb.rewritten ? q->body.data : m->body.data;
    q->fwd_len = rb.rewritten ? q->body.len : m->body.len;
    if (hv) {
        int n = snprintf(q->session, sizeof(q->session), "%s", hv);
        q->session_len = (size_t)n < sizeof(q->session) ? (size_t)n : sizeof(q->session) - 1;
    } else {
        memcpy(q->session, rb.session, sizeof(q->session));
        q->session_len = rb.session_len;
    }
    return true;
}

static struct rreq *rreq_new(struct router *r, struct http_req *req)
{
    struct rreq *q = r->spare_reqs;
    if (q) {
        /* A spare keeps its buffers' memory; everything else starts over. */
        r->spare_reqs = q->next;
        r->nspare--;
        struct buf body = q->body, upreq = q->upreq, prompt = q->prompt;
        memset(q, 0, sizeof(*q));
        q->body = body;
        q->upreq = upreq;
        q->prompt = prompt;
    } else {
        q = calloc(1, sizeof(*q));
        if (!q)
            return NULL;
        buf_init(&q->prompt, PREFIX_CHUNK * PREFIX_MAX_CHUNKS);
    }
    q->router = r;
    q->http = req;
    q->t_start = now_s();
    q->body.limit = r->http.cfg.max_body_bytes + 4096;
    q->upreq.limit = r->http.cfg.max_head_bytes + 64 * 1024;
    const char *rid = http_req_header(req, "x-request-id");
    if (rid && *rid) {
        size_t at = 0;
        for (const char *p = rid; *p && at + 1 < sizeof(q->request_id); p++) {
            if ((unsigned char)*p > 0x20 && *p != 0x7f)
                q->request_id[at++] = *p;
        }
        q->request_id[at] = '\0';
    }
    if (!q->request_id[0])
        uuid4(q->request_id); /* production-stack: uuid4() with dashes */
    q->next = r->reqs;
    if (r->reqs)
        r->reqs->prev = q;
    r->reqs = q;
    r->nreqs++;
    req->data = q;
    req->on_abort = on_client_abort;
    req->on_drain = on_client_drain;
    return q;
}

/* Proxies an inference request (forced == NULL) or an engine-control
 * request to one named backend. */
void router_proxy(struct router *r, struct http_req *req, struct rbackend *forced)
{
    struct rreq *q = rreq_new(r, req);
    if (!q) {
        http_respond(req, 500, "application/json", NULL, "{\"error\":\"out of memory\"}", 25);
        return;
    }
    if (forced) {
        q->forced = forced;
        snprintf(q->model, sizeof(q->model), "%s", forced->b.models[0]);
        q->fwd = req->msg->body.data;
        q->fwd_len = req->msg->body.len;
    } else {
        if (!read_body(q)) {
            rreq_free(q);
            return;
        }
        /* Counted before the availability check, as production-stack does:
         * it is the scale-from-zero signal (PS#679). */
        count_incoming(r, q->model);
    }
    struct rbackend *rb = pick(q);
    if (rb) {
        dispatch(q, rb);
        return;
    }
    if (forced) {
        router_send_error(req, 503, q->request_id, RETRY_AFTER, "Engine %s is not ready.",
                          forced->b.id);
        rreq_free(q);
        return;
    }
    if (router_known_model(r, q->model) < 0) {
        router_send_error(req, 404, q->request_id, NULL,
                          "Model '%s' not found. Available models can be listed at /v1/models.",
                          q->model);
        rreq_free(q);
        return;
    }
    hold_or_refuse(q);
}
