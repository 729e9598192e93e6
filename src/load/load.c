/* load: the load generator's engine on a libuv loop. See load.h.
 *
 * A request is a struct load_req, allocated when it is sent and freed in
 * one place, req_free: at once when it finishes, or — in the burst mode,
 * whose lines are printed in request order — once its line is printed. A
 * 50 ms tick enforces request timeouts and draws the progress bar, so no
 * request owns a timer handle. Callbacks from the HTTP client may finish
 * a request and start the next; dispatch() is guarded against re-entry. */
#include "load/load.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/buf.h"
#include "base/util.h"
#include "http/client.h"
#include "load/openai.h"
#include "load/sse.h"

struct load;

struct load_req {
    struct load *l;
    struct load_req *prev, *next; /* in flight */
    struct upstream_conn *conn;   /* NULL once finished */
    long index;                   /* request number, as the script prints it */
    uint64_t t_send, t_last;      /* uv_hrtime, ns */
    double ttft;                  /* seconds, once got_first */
    int status;                   /* HTTP status, 0 before the head */
    int token_events;
    long usage_prompt, usage_output; /* -1 until a usage object arrives */
    bool got_first, saw_done, finished;
    bool retried;                 /* sent again after a stale pooled connection */
    unsigned sending;             /* upstream_send calls on the stack: do not free */
    unsigned dones;               /* on_done calls so far */
    const struct trace_entry *te; /* the trace entry it replays, or NULL */
    size_t body_bytes;
    struct sse_reader sse;
    struct buf itl;      /* gaps, as doubles, until the request succeeds */
    struct buf text;     /* generated text (burst mode only) */
    struct buf errbody;  /* a non-200 response's body */
    enum load_fail fail; /* valid when failed */
    bool failed;
    char why[300]; /* a failure, for people */
};

struct load {
    const struct load_config *cfg;
    struct load_result *res;
    uv_loop_t *loop;
    struct upstream_pool pool;
    uv_timer_t tick, arrival;
    uv_signal_t sigint;
    char host[256], path[512], hostport[300];
    char *models[LOAD_MAX_MODELS];
    size_t nmodels, model;     /* the model being loaded (burst walks them all) */
    struct load_req *inflight; /* list head */
    int ninflight;
    long next_index; /* requests started (this model, in burst mode) */
    long pending;    /* arrivals waiting for a free slot */
    long arrivals;   /* arrivals so far (rate/trace) */
    bool arrivals_done;
    bool waiting_head;              /* burst: the last request's head has not come */
    struct load_req *inflight_last; /* burst: that request (compared, never dereferenced) */
    struct load_req **order;        /* burst: requests by index, until printed */
    long printed;
    uint64_t t_start, t_end, next_arrival_ns;
    uint64_t rng;
    struct buf head, body; /* scratch for the request being sent */
    bool dispatching, stopping, closed;
    int errors_shown;
    int progress_len;
    unsigned ticks; /* of the 50 ms timer: the bar is drawn every 4th */
};

static void dispatch(struct load *l);
static void maybe_finish(struct load *l);
static void req_start(struct load_req *r);

const char *load_fail_name(enum load_fail f)
{
    static const char *const names[] = {"connect",    "http",     "stream_error", "timeout",
                                        "incomplete", "protocol", "cancelled"};
    return f < LOAD_FAIL_KINDS ? names[f] : "unknown";
}

static double secs_since(uint64_t from, uint64_t to)
{
    return (double)(to - from) / 1e9;
}

/* A failure line on stderr; the first few of each run only, then a note. */
static void show_error(struct load *l, long index, const char *why)
{
    if (l->cfg->progress && l->progress_len) {
        fprintf(l->cfg->err, "\r\033[K");
        l->progress_len = 0;
    }
    if (l->errors_shown < 10)
        fprintf(l->cfg->err, "ebb load: request %ld failed: %s\n", index, why);
    else if (l->errors_shown == 10)
        fprintf(l->cfg->err, "ebb load: further failures are counted, not shown\n");
    l->errors_shown++;
}

static void req_free(struct load_req *r)
{
    sse_reader_release(&r->sse);
    buf_release(&r->itl);
    buf_release(&r->text);
    buf_release(&r->errbody);
    free(r);
}

/* Prints the script's "Completion results" lines that are due, in order. */
static void print_due(struct load *l)
{
    while (l->order && l->printed < l->next_index) {
        struct load_req *r = l->order[l->printed];
        if (r && (!r->finished || r->sending))
            break;
        if (!r) {
            l->printed++; /* not even allocated: counted as failed, no line */
            continue;
        }
        if (l->cfg->print_lines) {
            fprintf(l->cfg->out, "Completion results for request %ld: %s\n", r->index,
                    r->text.data ? r->text.data : "");
        }
        l->order[l->printed++] = NULL;
        req_free(r);
    }
}

/* A finished request: freed, or in the burst mode kept until its line is printed. */
static void req_release(struct load_req *r)
{
    if (r->l->order)
        print_due(r->l);
    else
        req_free(r);
}

/* Records the outcome once and takes the request out of flight. */
static void req_finish(struct load_req *r)
{
    struct load *l = r->l;
    struct load_result *res = l->res;
    uint64_t now = uv_hrtime();
    r->finished = true;
    r->conn = NULL;
    if (r->prev)
        r->prev->next = r->next;
    else
        l->inflight = r->next;
    if (r->next)
        r->next->prev = r->prev;
    l->ninflight--;
    l->t_end = now;
    if (l->waiting_head && r == l->inflight_last)
        l->waiting_head = false; /* no head will come: the script's create() raised; we go on */
    if (r->failed) {
        res->failed++;
        res->fail[r->fail]++;
        if (r->fail == LOAD_FAIL_HTTP && r->status > 0 && r->status < 600)
            res->http_status[r->status]++;
        if (r->fail != LOAD_FAIL_CANCELLED)
            show_error(l, r->index, r->why);
    } else {
        res->ok++;
        samples_add(&res->e2e, secs_since(r->t_send, now));
        if (r->got_first) {
            samples_add(&res->ttft, r->ttft);
            const double *gaps = (const double *)(const void *)r->itl.data;
            for (size_t i = 0; i < r->itl.len / sizeof(double); i++)
                samples_add(&res->itl, gaps[i]);
        }
        if (r->usage_prompt >= 0) {
            res->usage_reports++;
            res->prompt_tokens += (uint64_t)r->usage_prompt;
        }
        res->output_tokens += (uint64_t)(r->usage_output >= 0 ? r->usage_output : r->token_events);
    }
    if (!r->sending)
        req_release(r);
    dispatch(l);
}

static void req_fail(struct load_req *r, enum load_fail kind, const char *why)
{
    if (r->finished)
        return;
    if (r->conn)
        upstream_abort(r->conn);
    r->failed = true;
    r->fail = kind;
    if (why != r->why)
        snprintf(r->why, sizeof(r->why), "%s", why);
    req_finish(r);
}

/* A token event: TTFT on the first, an ITL gap on each later one. */
static int on_token(struct load_req *r, const char *text)
{
    uint64_t now = uv_hrtime();
    if (!r->got_first) {
        r->got_first = true;
        r->ttft = secs_since(r->t_send, now);
    } else {
        double gap = secs_since(r->t_last, now);
        if (buf_append(&r->itl, &gap, sizeof(gap)))
            return -ENOBUFS;
    }
    r->t_last = now;
    r->token_events++;
    if (r->l->cfg->print_lines && r->text.len < LOAD_MAX_TEXT_BYTES) {
        size_t n = strlen(text), room = LOAD_MAX_TEXT_BYTES - r->text.len;
        buf_append(&r->text, text, n < room ? n : room);
    }
    return 0;
}

/* SSE callback. Non-zero stops the stream: 1 for an error event (r->why
 * set), -EPROTO for an event that is not JSON. */
static int on_event(void *ud, const char *type, const char *data, size_t len)
{
    struct load_req *r = ud;
    if (r->saw_done)
        return 0; /* nothing is expected after [DONE]; ignore it */
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        r->saw_done = true;
        return 0;
    }
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(r->why, sizeof(r->why), "an event is not a JSON object: %.60s", data);
        return -EPROTO;
    }
    const char *msg = openai_error_message(root);
    int rc = 0;
    if (msg || strcmp(type, "error") == 0) {
        snprintf(r->why, sizeof(r->why), "error event mid-stream: %s", msg ? msg : data);
        rc = 1;
    } else {
        const char *text = openai_event_text(root, r->l->cfg->chat);
        if (text && *text)
            rc = on_token(r, text);
        openai_event_usage(root, &r->usage_prompt, &r->usage_output);
        if (rc)
            snprintf(r->why, sizeof(r->why), "more token events than memory allows");
    }
    cJSON_Delete(root);
    return rc;
}

static void on_head(void *ud, const struct http_parser *resp)
{
    struct load_req *r = ud;
    struct load *l = r->l;
    r->status = resp->status;
    const char *ct = http_parser_header(resp, "content-type");
    if (r->status == 200 && (!ct || strncmp(ct, "text/event-stream", 17) != 0)) {
        char why[300];
        snprintf(why, sizeof(why), "a 200 response that is not an event stream (content-type %s)",
                 ct ? ct : "missing");
        req_fail(r, LOAD_FAIL_PROTOCOL, why);
    }
    if (l->waiting_head && r == l->inflight_last) {
        /* The script's create(stream=True) returned: the next one may go. */
        l->waiting_head = false;
        dispatch(l);
    }
}

static void on_body(void *ud, const char *at, size_t len)
{
    struct load_req *r = ud;
    r->body_bytes += len;
    if (r->body_bytes > LOAD_MAX_RESPONSE_BYTES) {
        req_fail(r, LOAD_FAIL_PROTOCOL, "the response is larger than 64 MiB");
        return;
    }
    if (r->status != 200) {
        size_t room = LOAD_MAX_ERROR_BYTES - r->errbody.len;
        buf_append(&r->errbody, at, len < room ? len : room);
        return;
    }
    int rc = sse_reader_feed(&r->sse, at, len);
    if (rc == 1)
        req_fail(r, LOAD_FAIL_STREAM, r->why);
    else if (rc == -ENOBUFS && !r->why[0])
        req_fail(r, LOAD_FAIL_PROTOCOL, "an event is larger than 1 MiB");
    else if (rc)
        req_fail(r, LOAD_FAIL_PROTOCOL, r->why[0] ? r->why : "bad event stream");
}

static void http_failure(struct load_req *r)
{
    char why[300];
    cJSON *root = cJSON_ParseWithLength(r->errbody.data ? r->errbody.data : "", r->errbody.len);
    const char *msg = openai_error_message(root);
    snprintf(why, sizeof(why), "HTTP %d: %.150s", r->status,
             msg               ? msg
             : r->errbody.data ? r->errbody.data
                               : "");
    cJSON_Delete(root);
    req_fail(r, LOAD_FAIL_HTTP, why);
}

static void on_done(void *ud, enum upstream_error err)
{
    struct load_req *r = ud;
    struct load *l = r->l;
    r->conn = NULL; /* the client is done with it */
    r->dones++;
    if (err == UPSTREAM_STALE && !r->retried) {
        /* A pooled connection the server had closed: nothing reached it.
         * Once more on a new one, as any HTTP client does. */
        r->retried = true;
        req_start(r);
        return;
    }
    if (err == UPSTREAM_CONNECT || err == UPSTREAM_LOCAL || err == UPSTREAM_STALE) {
        char why[300];
        snprintf(why, sizeof(why), "cannot connect to %.200s: %s", l->hostport,
                 err == UPSTREAM_LOCAL   ? "a local limit (open files, memory or ports)"
                 : err == UPSTREAM_STALE ? "a reused connection was closed"
                                         : "refused, unreachable or timed out");
        req_fail(r, LOAD_FAIL_CONNECT, why);
    } else if (err == UPSTREAM_PROTOCOL) {
        req_fail(r, LOAD_FAIL_PROTOCOL, "the response is not valid HTTP");
    } else if (r->status != 200 && r->status != 0) {
        http_failure(r);
    } else if (err != UPSTREAM_OK) {
        req_fail(r, LOAD_FAIL_INCOMPLETE, "the connection ended mid-stream");
    } else if (!r->saw_done) {
        req_fail(r, LOAD_FAIL_INCOMPLETE, "the stream ended without \"data: [DONE]\"");
    } else {
        req_finish(r);
    }
}

static const struct upstream_callbacks req_callbacks = {on_head, on_body, on_done};

/* Formats r's request and hands it to the pool. */
static void req_start(struct load_req *r)
{
    struct load *l = r->l;
    const struct trace_entry *te = r->te;
    const struct openai_request rq = {
        .path = l->path,
        .hostport = l->hostport,
        .api_key = l->cfg->api_key,
        .model = l->models[l->model],
        .chat = l->cfg->chat,
        .index = r->index,
        .prompt_len = l->cfg->prompt_len,
        .prompt_tokens = te ? te->prompt_tokens : 0,
        .max_tokens = te ? te->output_tokens : l->cfg->max_tokens,
        .ignore_eos = te != NULL,
    };
    if (openai_format_request(&l->head, &l->body, &rq)) {
        req_fail(r, LOAD_FAIL_PROTOCOL, "the request is larger than memory allows");
        return;
    }
    /* The client may finish the exchange inside upstream_send (a pooled
     * connection that fails at once), and on_done may send it again from
     * there: r is not freed while a send is on the stack, and a conn
     * returned after on_done ran is not the request's any more. */
    unsigned dones = r->dones;
    r->sending++;
    struct upstream_conn *c = upstream_send(&l->pool, l->head.data, l->head.len, l->body.data,
                                            l->body.len, &req_callbacks, r, 0);
    r->sending--;
    if (r->finished) {
        if (!r->sending)
            req_release(r);
        return;
    }
    if (r->dones != dones)
        return;
    r->conn = c;
    if (!c)
        req_fail(r, LOAD_FAIL_PROTOCOL, "out of memory");
}

/* Starts request index now. */
static void send_one(struct load *l, long index, const struct trace_entry *te)
{
    struct load_req *r = calloc(1, sizeof(*r));
    l->res->sent++;
    if (!r) {
        l->res->failed++;
        l->res->fail[LOAD_FAIL_PROTOCOL]++;
        l->waiting_head = false; /* its line is skipped (print_due) */
        return;
    }
    r->l = l;
    r->index = index;
    r->te = te;
    r->usage_prompt = r->usage_output = -1;
    sse_reader_init(&r->sse, LOAD_MAX_EVENT_BYTES, on_event, r);
    buf_init(&r->itl, LOAD_MAX_RESPONSE_BYTES / 8);
    buf_init(&r->text, LOAD_MAX_TEXT_BYTES + 1);
    buf_init(&r->errbody, LOAD_MAX_ERROR_BYTES);
    r->next = l->inflight;
    if (r->next)
        r->next->prev = r;
    l->inflight = r;
    l->ninflight++;
    if (l->order) {
        l->order[index] = r;
        l->inflight_last = r; /* before anything can finish it */
    }
    r->t_send = uv_hrtime();
    req_start(r);
}
/* Burst: the script's loop, one request at a time, the next once the
 * previous one's head arrived. */
static void dispatch_burst(struct load *l)
{
    const struct load_config *cfg = l->cfg;
    while (!l->stopping && !l->waiting_head && l->next_index < cfg->num_requests &&
           l->ninflight < cfg->concurrency) {
        long i = l->next_index++;
        if (cfg->print_lines)
            fprintf(cfg->out, "Sending request %ld to model %s\n", i, l->models[l->model]);
        l->waiting_head = true;
        send_one(l, i, NULL);
    }
    if (!l->stopping && l->printed == cfg->num_requests && l->model + 1 < l->nmodels) {
        /* The script's outer loop: the next model, from request 0. */
        l->model++;
        l->next_index = l->printed = 0;
        snprintf(l->res->model, sizeof(l->res->model), "%s", l->models[l->model]);
        dispatch_burst(l);
    }
}

static void dispatch(struct load *l)
{
    if (l->dispatching)
        return;
    l->dispatching = true;
    const struct load_config *cfg = l->cfg;
    if (cfg->mode == LOAD_BURST) {
        dispatch_burst(l);
    } else if (cfg->mode == LOAD_CLOSED) {
        while (!l->stopping && !l->arrivals_done && l->ninflight < cfg->concurrency) {
            send_one(l, l->next_index++, NULL);
            if (cfg->num_requests && l->next_index >= cfg->num_requests)
                l->arrivals_done = true;
        }
    } else {
        while (!l->stopping && l->pending > 0 && l->ninflight < cfg->concurrency) {
            long i = l->next_index++;
            l->pending--;
            send_one(l, i, cfg->mode == LOAD_TRACE ? &cfg->trace->e[i] : NULL);
        }
    }
    l->dispatching = false;
    maybe_finish(l);
}

static void on_pool_closed(struct upstream_pool *p)
{
    (void)p;
}

/* Everything sent and finished (or stopped): close the handles; the loop
 * then ends. */
static void maybe_finish(struct load *l)
{
    const struct load_config *cfg = l->cfg;
    if (l->closed || l->ninflight > 0 || l->dispatching)
        return;
    bool all_sent;
    if (l->stopping)
        all_sent = true;
    else if (cfg->mode == LOAD_BURST)
        all_sent = l->printed == cfg->num_requests && l->model + 1 >= l->nmodels;
    else
        all_sent = l->arrivals_done && l->pending == 0;
    if (!all_sent)
        return;
    l->closed = true;
    if (cfg->progress && l->progress_len)
        fprintf(cfg->err, "\r\033[K");
    uv_close((uv_handle_t *)&l->tick, NULL);
    uv_close((uv_handle_t *)&l->arrival, NULL);
    uv_close((uv_handle_t *)&l->sigint, NULL);
    upstream_pool_close(&l->pool, on_pool_closed);
}

/* The next arrival (rate or trace), or the end of arrivals. */
static void schedule_arrival(struct load *l);

static void on_arrival(uv_timer_t *t)
{
    struct load *l = t->data;
    l->pending++;
    l->arrivals++;
    schedule_arrival(l);
    dispatch(l);
}

static void schedule_arrival(struct load *l)
{
    const struct load_config *cfg = l->cfg;
    if (l->stopping || (cfg->num_requests && l->arrivals >= cfg->num_requests)) {
        l->arrivals_done = true;
        return;
    }
    double at;
    if (cfg->mode == LOAD_TRACE) {
        if ((size_t)l->arrivals >= cfg->trace->n) {
            l->arrivals_done = true;
            return;
        }
        at = cfg->trace->e[l->arrivals].arrival;
    } else {
        at =
            secs_since(0, l->next_arrival_ns) + (l->arrivals ? poisson_gap(&l->rng, cfg->rate) : 0);
    }
    if (cfg->duration > 0 && at >= cfg->duration) {
        l->arrivals_done = true;
        return;
    }
    l->next_arrival_ns = (uint64_t)(at * 1e9);
    uint64_t now = uv_hrtime() - l->t_start;
    uint64_t wait_ms = l->next_arrival_ns > now ? (l->next_arrival_ns - now) / 1000000 : 0;
    uv_timer_start(&l->arrival, on_arrival, wait_ms, 0);
}

static void draw_progress(struct load *l, uint64_t now)
{
    const struct load_config *cfg = l->cfg;
    const struct load_result *res = l->res;
    double elapsed = l->t_start ? secs_since(l->t_start, now) : 0;
    double frac;
    long total = 0;
    if (cfg->mode == LOAD_BURST)
        total = cfg->num_requests * (long)l->nmodels;
    else if (cfg->mode == LOAD_TRACE)
        total = (long)cfg->trace->n;
    else if (cfg->num_requests && cfg->duration <= 0)
        total = cfg->num_requests;
    if (total)
        frac = (double)(res->ok + res->failed) / (double)total;
    else
        frac = cfg->duration > 0 ? elapsed / cfg->duration : 0;
    if (frac > 1)
        frac = 1;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    l->progress_len = fprintf(cfg->err, "\r[%s] %llu done, %llu failed, %d in flight, %.1f s ", bar,
                              (unsigned long long)(res->ok + res->failed),
                              (unsigned long long)res->failed, l->ninflight, elapsed);
    fflush(cfg->err);
}

/* Every 50 ms: request timeouts, the end of a closed loop, the progress bar. */
static void on_tick(uv_timer_t *t)
{
    struct load *l = t->data;
    const struct load_config *cfg = l->cfg;
    uint64_t now = uv_hrtime();
    uint64_t limit = (uint64_t)(cfg->timeout * 1e9);
    for (struct load_req *r = l->inflight, *next; r; r = next) {
        next = r->next;
        if (now - r->t_send >= limit) {
            char why[64];
            snprintf(why, sizeof(why), "no complete response in %g s", cfg->timeout);
            req_fail(r, LOAD_FAIL_TIMEOUT, why);
            next = l->inflight; /* the list may have changed: start over */
        }
    }
    if (cfg->mode == LOAD_CLOSED && cfg->duration > 0 && l->t_start &&
        secs_since(l->t_start, now) >= cfg->duration)
        l->arrivals_done = true;
    if (cfg->progress && !l->closed && l->ticks++ % 4 == 0)
        draw_progress(l, now);
    maybe_finish(l);
}

static void on_sigint(uv_signal_t *s, int signum)
{
    struct load *l = s->data;
    (void)signum;
    l->stopping = true;
    l->res->interrupted = true;
    uv_timer_stop(&l->arrival);
    while (l->inflight)
        req_fail(l->inflight, LOAD_FAIL_CANCELLED, "interrupted");
    maybe_finish(l);
}

/* GET /v1/models, synchronously on the loop before the load starts. */
struct models_get {
    struct buf body;
    int status;
    enum upstream_error err;
    bool done;
};

static void models_on_head(void *ud, const struct http_parser *resp)
{
    ((struct models_get *)ud)->status = resp->status;
}

static void models_on_body(void *ud, const char *at, size_t len)
{
    struct models_get *g = ud;
    if (buf_append(&g->body, at, len))
        g->status = -1; /* too large; noted, the rest is dropped */
}

static void models_on_done(void *ud, enum upstream_error err)
{
    struct models_get *g = ud;
    g->err = err;
    g->done = true;
}

static int list_models(struct load *l, char *err, size_t errlen)
{
    static const struct upstream_callbacks cb = {models_on_head, models_on_body, models_on_done};
    struct models_get g = {.body = BUF_INIT(1 << 20)};
    struct buf head = BUF_INIT(4096);
    buf_appendf(&head,
                "GET %s/models HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                "Authorization: Bearer %s\r\nUser-Agent: ebb-load/" EBB_VERSION "\r\n\r\n",
                l->path, l->hostport, l->cfg->api_key);
    struct upstream_conn *c = upstream_send(&l->pool, head.data, head.len, NULL, 0, &cb, &g,
                                            (unsigned)(l->cfg->timeout * 1000));
    buf_release(&head);
    while (c && !g.done)
        uv_run(l->loop, UV_RUN_ONCE);
    int rc = -EIO;
    cJSON *root = NULL;
    if (!c || g.err != UPSTREAM_OK) {
        snprintf(err, errlen, "cannot list the models at http://%s%s/models: %s", l->hostport,
                 l->path, c ? upstream_error_name(g.err) : "out of memory");
    } else if (g.status != 200) {
        snprintf(err, errlen, "GET http://%s%s/models answered %d: %.200s", l->hostport, l->path,
                 g.status, g.body.data ? g.body.data : "");
    } else {
        root = cJSON_ParseWithLength(g.body.data ? g.body.data : "", g.body.len);
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        const cJSON *m;
        cJSON_ArrayForEach(m, data)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
            char *name =
                cJSON_IsString(id) && l->nmodels < LOAD_MAX_MODELS ? strdup(id->valuestring) : NULL;
            if (name)
                l->models[l->nmodels++] = name;
        }
        if (l->nmodels)
            rc = 0;
        else
            snprintf(err, errlen, "GET http://%s%s/models lists no models", l->hostport, l->path);
    }
    cJSON_Delete(root);
    buf_release(&g.body);
    return rc;
}

void load_result_release(struct load_result *res)
{
    samples_release(&res->ttft);
    samples_release(&res->itl);
    samples_release(&res->e2e);
}

static void load_release(struct load *l)
{
    for (size_t i = 0; i < l->nmodels; i++)
        free(l->models[i]);
    if (l->order) {
        for (long i = 0; i < l->cfg->num_requests; i++)
            if (l->order[i])
                req_free(l->order[i]);
        free(l->order);
    }
    buf_release(&l->head);
    buf_release(&l->body);
}

/* Closes what is open and runs the loop until it is empty. */
static void close_all(struct load *l)
{
    if (!l->closed) {
        l->closed = true;
        uv_close((uv_handle_t *)&l->tick, NULL);
        uv_close((uv_handle_t *)&l->arrival, NULL);
        uv_close((uv_handle_t *)&l->sigint, NULL);
        upstream_pool_close(&l->pool, on_pool_closed);
    }
    uv_run(l->loop, UV_RUN_DEFAULT);
}

/* The URL, the connection pool and the loop's handles. Nothing is open
 * when it fails. */
static int load_open(struct load *l, char *err, size_t errlen)
{
    const struct load_config *cfg = l->cfg;
    int port;
    if (openai_parse_url(cfg->base_url, l->host, sizeof(l->host), &port, l->path,
                         sizeof(l->path))) {
        snprintf(err, errlen, "\"%s\" is not an http://host[:port][/path] URL", cfg->base_url);
        return -EINVAL;
    }
    snprintf(l->hostport, sizeof(l->hostport), "%s:%d", l->host, port);
    l->loop = uv_default_loop();
    struct upstream_config ucfg;
    upstream_config_defaults(&ucfg);
    ucfg.max_idle = (unsigned)cfg->concurrency + 1;
    ucfg.connect_timeout_ms = cfg->timeout < 10 ? (unsigned)(cfg->timeout * 1000) + 1 : 10000;
    if (upstream_pool_init(&l->pool, l->loop, l->host, port, &ucfg)) {
        snprintf(err, errlen, "cannot resolve \"%s\"", l->host);
        return -EINVAL;
    }
    uv_timer_init(l->loop, &l->tick);
    uv_timer_init(l->loop, &l->arrival);
    uv_signal_init(l->loop, &l->sigint);
    l->tick.data = l->arrival.data = l->sigint.data = l;
    return 0;
}

/* The models to load and, in the burst mode, the table of requests by index. */
static int load_prepare(struct load *l, char *err, size_t errlen)
{
    const struct load_config *cfg = l->cfg;
    if (cfg->model) {
        l->models[0] = strdup(cfg->model);
        l->nmodels = l->models[0] ? 1 : 0;
    } else {
        int rc = list_models(l, err, errlen);
        if (rc)
            return rc;
        /* Only the script's loop walks every model; the other modes take the first. */
        while (cfg->mode != LOAD_BURST && l->nmodels > 1)
            free(l->models[--l->nmodels]);
    }
    if (l->nmodels && cfg->mode == LOAD_BURST)
        l->order = calloc((size_t)cfg->num_requests, sizeof(*l->order));
    if (!l->nmodels || (cfg->mode == LOAD_BURST && !l->order)) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(l->res->model, sizeof(l->res->model), "%s", l->models[0]);
    return 0;
}

int load_run(const struct load_config *cfg, struct load_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    samples_init(&res->ttft, LOAD_SAMPLE_CAP, cfg->seed ^ 1);
    samples_init(&res->itl, LOAD_SAMPLE_CAP, cfg->seed ^ 2);
    samples_init(&res->e2e, LOAD_SAMPLE_CAP, cfg->seed ^ 3);
    struct load *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->cfg = cfg;
    l->res = res;
    l->rng = cfg->seed;
    buf_init(&l->head, 64 * 1024);
    /* The prompt: 3 bytes per "Hi " (or per token of a trace entry). */
    buf_init(&l->body,
             3 * (size_t)(cfg->prompt_len > TRACE_MAX_TOKENS ? cfg->prompt_len : TRACE_MAX_TOKENS) +
                 64 * 1024);
    int rc = load_open(l, err, errlen);
    if (!rc) {
        rc = load_prepare(l, err, errlen);
        if (rc) {
            close_all(l);
        } else {
            uv_signal_start(&l->sigint, on_sigint, SIGINT);
            uv_timer_start(&l->tick, on_tick, 50, 50);
            l->t_start = uv_hrtime();
            if (cfg->mode == LOAD_RATE || cfg->mode == LOAD_TRACE)
                schedule_arrival(l);
            dispatch(l);
            uv_run(l->loop, UV_RUN_DEFAULT);
            res->elapsed = l->t_end > l->t_start ? secs_since(l->t_start, l->t_end) : 0;
        }
    }
    load_release(l);
    free(l);
    return rc;
}
