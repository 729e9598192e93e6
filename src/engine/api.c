/* api: the engine's HTTP surface — vLLM's OpenAI-compatible routes, their
 * JSON and SSE shapes (reference/vllm-stack-spec.md §4), auth, health,
 * sleep mode and /metrics. The scheduling side is in engine.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/engine.h"
#include "engine/textgen.h"
#include "prom/expo.h"

#define JSON "application/json"
#define SSE "text/event-stream; charset=utf-8"

/* --- plain responses ----------------------------------------------------- */

static void respond_json(struct http_req *req, int status, const char *body)
{
    http_respond(req, status, JSON, NULL, body, strlen(body));
}

void api_send_error(struct engine *e, struct http_req *req, const struct api_error *err)
{
    struct buf *b = &e->scratch;
    buf_reset(b);
    bool legacy = strcmp(e->cfg.error_format, "legacy") == 0;
    buf_append_str(b, legacy ? "{\"object\":\"error\",\"message\":" : "{\"error\":{\"message\":");
    buf_append_json_str(b, err->message, strlen(err->message));
    buf_appendf(b, ",\"type\":\"%s\",\"param\":", err->type);
    if (err->param)
        buf_append_json_str(b, err->param, strlen(err->param));
    else
        buf_append_str(b, "null");
    buf_appendf(b, ",\"code\":%d}%s", err->status, legacy ? "" : "}");
    http_respond(req, err->status, JSON, NULL, b->data, b->len);
}

static void send_models(struct engine *e, struct http_req *req)
{
    struct buf *b = &e->scratch;
    buf_reset(b);
    long long created = (long long)wall_time();
    buf_append_str(b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < e->nserved; i++) {
        char perm[40];
        random_hex(perm, 16);
        buf_appendf(b, "%s{\"id\":", i ? "," : "");
        buf_append_json_str(b, e->served[i], strlen(e->served[i]));
        buf_appendf(b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"vllm\",\"root\":",
                    created);
        buf_append_json_str(b, e->cfg.model, strlen(e->cfg.model));
        buf_appendf(b,
                    ",\"parent\":null,\"max_model_len\":%d,\"permission\":[{\"id\":\"modelperm-%s\","
                    "\"object\":\"model_permission\",\"created\":%lld,\"allow_create_engine\":false,"
                    "\"allow_sampling\":true,\"allow_logprobs\":true,\"allow_search_indices\":false,"
                    "\"allow_view\":true,\"allow_fine_tuning\":false,\"organization\":\"*\","
                    "\"group\":null,\"is_blocking\":false}]}",
                    e->cfg.max_model_len, perm, created);
    }
    buf_append_str(b, "]}");
    http_respond(req, 200, JSON, NULL, b->data, b->len);
}

static void send_metrics(struct engine *e, struct http_req *req)
{
    struct buf *b = &e->scratch;
    buf_reset(b);
    if (engine_metrics_render(&e->metrics, &e->sched, b)) {
        respond_json(req, 500, "{\"detail\":\"metrics too large\"}");
        return;
    }
    http_respond(req, 200, PROM_CONTENT_TYPE, NULL, b->data, b->len);
}

/* --- sleep mode ---------------------------------------------------------- */

static void query_param(const struct http_req *req, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    const char *q = req->query, *end = req->query + req->query_len;
    out[0] = '\0';
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
            size_t vlen = (size_t)(stop - q) - klen - 1;
            if (vlen >= n)
                vlen = n - 1;
            memcpy(out, q + klen + 1, vlen);
            out[vlen] = '\0';
            return;
        }
        q = stop + 1;
    }
}

static void handle_sleep(struct engine *e, struct http_req *req)
{
    char level[8];
    query_param(req, "level", level, sizeof(level));
    int lvl = 1;
    if (level[0]) {
        int64_t v;
        if (parse_int64(level, &v) || v < 1 || v > 2) {
            respond_json(req, 400, "{\"detail\":\"level must be 1 or 2\"}");
            return;
        }
        lvl = (int)v;
    }
    e->sleep_level = lvl;
    e->metrics.sleeping = lvl;
    uv_timer_stop(&e->wake_timer); /* a pending /wake_up is overtaken */
    if (e->wake_req) {
        struct http_req *w = e->wake_req;
        e->wake_req = NULL;
        w->on_abort = NULL;
        http_respond(w, 200, NULL, NULL, "", 0);
    }
    log_info("sleeping (level %d): no steps run until /wake_up", lvl);
    http_respond(req, 200, NULL, NULL, "", 0);
}

static void on_wake_done(uv_timer_t *t)
{
    struct engine *e = t->data;
    e->sleep_level = 0;
    e->metrics.sleeping = 0;
    log_info("awake");
    if (e->wake_req) {
        struct http_req *req = e->wake_req;
        e->wake_req = NULL;
        req->on_abort = NULL;
        http_respond(req, 200, NULL, NULL, "", 0);
    }
    engine_wake(e);
}

static void on_wake_req_abort(struct http_req *req)
{
    struct engine *e = req->data;
    e->wake_req = NULL;
}

static void handle_wake_up(struct engine *e, struct http_req *req)
{
    if (!e->sleep_level || e->wake_req) {
        /* Awake already, or a wake-up is under way: answer at once. */
        http_respond(req, 200, NULL, NULL, "", 0);
        return;
    }
    e->wake_req = req;
    req->data = e;
    req->on_abort = on_wake_req_abort;
    uv_timer_start(&e->wake_timer, on_wake_done, (uint64_t)(e->cfg.wake_up_delay * 1000), 0);
}

/* --- generation requests ------------------------------------------------- */

static void on_client_abort(struct http_req *req)
{
    struct engine_req *r = req->data;
    r->http = NULL;
    if (r->emitting) {
        r->aborted = true; /* api_emit_token sees it and the step loop cleans up */
        return;
    }
    struct engine *e = r->engine;
    log_debug("request %s aborted: the client disconnected", r->id);
    if (r->seq.state != SEQ_FINISHED) {
        sched_abort(&e->sched, &r->seq);
        engine_metrics_request_done(&e->metrics, &r->seq, r->gen.max_tokens, engine_now());
    }
    engine_req_free(r);
}

/* Copies the request id vLLM would use: the X-Request-Id header, or a random
 * hex uuid. Control characters are dropped so the id is safe in logs. */
static void make_request_id(const struct http_req *req, const char *prefix, char *out, size_t n)
{
    const char *rid = http_req_header(req, "x-request-id");
    char random[33];
    if (!rid || !*rid) {
        random_hex(random, 16);
        rid = random;
    }
    size_t at = (size_t)snprintf(out, n, "%s", prefix);
    for (const char *p = rid; *p && at + 1 < n; p++) {
        if ((unsigned char)*p >= 0x20 && *p != 0x7f)
            out[at++] = *p;
    }
    out[at] = '\0';
}

static bool authorized(const struct engine *e, const struct http_req *req)
{
    const char *key = e->cfg.api_key;
    if (!key || !*key)
        return true;
    const char *auth = http_req_header(req, "authorization");
    return auth && strncmp(auth, "Bearer ", 7) == 0 && strcmp(auth + 7, key) == 0;
}

static void handle_generate(struct engine *e, struct http_req *req, enum api_kind kind)
{
    struct api_error err;
    struct gen_request gen;
    if (api_parse_request(kind, req->msg->body.data ? req->msg->body.data : "", req->msg->body.len,
                          &e->limits, &gen, &err)) {
        api_send_error(e, req, &err);
        return;
    }
    struct engine_req *r = calloc(1, sizeof(*r));
    if (!r) {
        gen_request_release(&gen);
        respond_json(req, 500, "{\"detail\":\"out of memory\"}");
        return;
    }
    r->engine = e;
    r->http = req;
    r->gen = gen;
    r->created = (long long)wall_time();
    make_request_id(req, kind == API_CHAT ? "chatcmpl-" : "cmpl-", r->id, sizeof(r->id));
    /* The id comes from a client header: it goes into JSON escaped. */
    struct buf idj = BUF_INIT(sizeof(r->id_json) - 1);
    buf_append_json_str(&idj, r->id, strlen(r->id));
    memcpy(r->id_json, idj.data ? idj.data : "\"\"", idj.data ? idj.len + 1 : 3);
    buf_release(&idj);
    buf_init(&r->text, (size_t)r->gen.max_tokens * 16 + 4096 +
                           (r->gen.echo_prompt ? strlen(r->gen.echo_prompt) * 2 : 0));
    /* A turn's events for one stream: up to 64 steps of ~300 bytes, plus an
     * escaped echo of the prompt in the first. */
    buf_init(&r->chunk, 256 * 1024 + (r->gen.echo_prompt ? strlen(r->gen.echo_prompt) * 6 : 0));
    buf_init(&r->head, 4096);
    r->seq.prompt_tokens = gen.prompt_tokens;
    r->seq.max_tokens = gen.max_tokens;
    r->seq.stop_after = gen.stop_after;
    if (gen.stream) {
        char hdr[256] = "";
        if (e->cfg.enable_request_id_headers)
            snprintf(hdr, sizeof(hdr), "x-request-id: %s\r\n", strchr(r->id, '-') + 1);
        /* vLLM answers a streaming request with 200 and its headers at once;
         * tokens follow as they are generated. If the connection is lost
         * here, no abort callback is set yet and the request is ours to free. */
        if (http_stream_start(req, 200, SSE, hdr[0] ? hdr : NULL)) {
            r->http = NULL;
            engine_req_free(r);
            http_req_close(req); /* no-op if the connection is already gone */
            return;
        }
    }
    req->data = r;
    req->on_abort = on_client_abort;
    engine_submit(e, r);
}

/* The common head of every chunk: id, object, created, model. */
static void chunk_head(struct engine_req *r, struct buf *b, const char *object)
{
    buf_appendf(b, "data: {\"id\":%s,\"object\":\"%s\",\"created\":%lld,\"model\":", r->id_json,
                object, r->created);
    buf_append_json_str(b, r->gen.model, strlen(r->gen.model));
}

static void usage_json(struct engine_req *r, struct buf *b, bool details)
{
    buf_appendf(b, "{\"prompt_tokens\":%d,\"total_tokens\":%d,\"completion_tokens\":%d%s}",
                r->seq.prompt_tokens, r->seq.prompt_tokens + r->seq.generated, r->seq.generated,
                details ? ",\"prompt_tokens_details\":null" : "");
}

static const char *finish_name(enum finish_reason f)
{
    switch (f) {
    case FINISH_STOP: return "\"stop\"";
    case FINISH_LENGTH: return "\"length\"";
    case FINISH_ABORT: return "\"abort\"";
    default: return "null";
    }
}

/* The part of a token event that is the same for every token of the
 * request, formatted once: 'data: {"id":...,"model":...,"choices":[{"index":0,'
 * then '"delta":{"content":' (chat) or '"text":'. */
static void build_head(struct engine_req *r)
{
    bool chat = r->gen.kind == API_CHAT;
    chunk_head(r, &r->head, chat ? "chat.completion.chunk" : "text_completion");
    buf_append_str(&r->head, chat ? ",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                                  : ",\"choices\":[{\"index\":0,\"text\":");
}

/* Appends the SSE event(s) for one new token to r->chunk. */
static int format_token_event(struct engine_req *r, const char *tok, size_t toklen, bool first,
                              bool finished)
{
    struct buf *b = &r->chunk;
    bool chat = r->gen.kind == API_CHAT;
    int err = 0;
    if (!r->head.len)
        build_head(r);
    if (chat && first) {
        chunk_head(r, b, "chat.completion.chunk");
        err = buf_append_str(b, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    }
    if (!err)
        err = buf_append(b, r->head.data, r->head.len);
    if (!err && first && r->gen.echo_prompt && !chat) {
        struct buf both = BUF_INIT(b->limit);
        buf_append_str(&both, r->gen.echo_prompt);
        buf_append(&both, tok, toklen);
        err = buf_append_json_str(b, both.data, both.len);
        buf_release(&both);
    } else if (!err) {
        err = buf_append_json_str(b, tok, toklen);
    }
    if (err)
        return err;
    if (!finished) {
        /* The common case: constant tails, no formatting. */
        if (chat && !r->gen.continuous_usage)
            return buf_append_str(b, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
        if (chat)
            err = buf_append_str(b, "},\"logprobs\":null,\"finish_reason\":null}],\"usage\":");
        else if (!r->gen.continuous_usage)
            return buf_append_str(b, ",\"logprobs\":null,\"finish_reason\":null,"
                                     "\"stop_reason\":null}],\"usage\":null}\n\n");
        else
            err = buf_append_str(b, ",\"logprobs\":null,\"finish_reason\":null,"
                                    "\"stop_reason\":null}],\"usage\":");
    } else if (chat) {
        err = buf_appendf(b, "},\"logprobs\":null,\"finish_reason\":%s,\"stop_reason\":null}]%s",
                          finish_name(r->seq.finish), r->gen.continuous_usage ? ",\"usage\":" : "}\n\n");
        if (!r->gen.continuous_usage)
            return err;
    } else {
        err = buf_appendf(b, ",\"logprobs\":null,\"finish_reason\":%s,\"stop_reason\":null}],"
                             "\"usage\":%s",
                          finish_name(r->seq.finish), r->gen.continuous_usage ? "" : "null}\n\n");
        if (!r->gen.continuous_usage)
            return err;
    }
    if (!err)
        usage_json(r, b, false);
    return err ? err : buf_append_str(b, "}\n\n");
}

int api_emit_token(struct engine_req *r, bool first, bool finished)
{
    size_t toklen;
    const char *tok = textgen_token(r->gen.seed, r->seq.generated - 1, &toklen);
    if (!r->http)
        return -EPIPE;
    if (!r->gen.stream) {
        if (first && r->gen.echo_prompt)
            buf_append_str(&r->text, r->gen.echo_prompt);
        return buf_append(&r->text, tok, toklen);
    }
    int err = format_token_event(r, tok, toklen, first, finished);
    if (err)
        return err;
    engine_mark_dirty(r);
    return 0;
}

int api_flush(struct engine_req *r)
{
    if (!r->http)
        return -EPIPE;
    if (!r->chunk.len)
        return 0;
    r->emitting = true;
    int rc = http_stream_write(r->http, r->chunk.data, r->chunk.len);
    r->emitting = false;
    buf_reset(&r->chunk);
    if (r->aborted)
        return -EPIPE;
    if (rc == -ENOBUFS) {
        log_warn("request %s: the client is %zu bytes behind; aborting it", r->id,
                 http_req_backlog(r->http));
        http_req_close(r->http);
        r->http = NULL;
    }
    return rc;
}

/* Ends a stream: this turn's events, the usage chunk if asked for and
 * [DONE] go out together with the end of the chunked body, in one write. */
static void finish_stream(struct engine_req *r)
{
    struct buf *b = &r->chunk;
    engine_unmark_dirty(r);
    if (r->gen.include_usage) {
        chunk_head(r, b, r->gen.kind == API_CHAT ? "chat.completion.chunk" : "text_completion");
        buf_append_str(b, ",\"choices\":[],\"usage\":");
        usage_json(r, b, false);
        buf_append_str(b, "}\n\n");
    }
    buf_append_str(b, "data: [DONE]\n\n");
    struct http_req *req = r->http;
    req->on_abort = NULL;
    r->http = NULL;
    http_stream_end_with(req, b->data, b->len);
    buf_reset(b);
}

static void finish_whole(struct engine_req *r)
{
    struct engine *e = r->engine;
    struct buf *b = &e->scratch;
    buf_reset(b);
    bool chat = r->gen.kind == API_CHAT;
    buf_appendf(b, "{\"id\":%s,\"object\":\"%s\",\"created\":%lld,\"model\":", r->id_json,
                chat ? "chat.completion" : "text_completion", r->created);
    buf_append_json_str(b, r->gen.model, strlen(r->gen.model));
    const char *text = r->text.data ? r->text.data : "";
    if (chat) {
        buf_append_str(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                          "\"content\":");
        buf_append_json_str(b, text, r->text.len);
        buf_appendf(b, ",\"tool_calls\":[],\"reasoning_content\":null},\"logprobs\":null,"
                       "\"finish_reason\":%s,\"stop_reason\":null}],\"usage\":",
                    finish_name(r->seq.finish));
        usage_json(r, b, true);
        buf_append_str(b, ",\"prompt_logprobs\":null,\"kv_transfer_params\":null}");
    } else {
        buf_append_str(b, ",\"choices\":[{\"index\":0,\"text\":");
        buf_append_json_str(b, text, r->text.len);
        buf_appendf(b, ",\"logprobs\":null,\"finish_reason\":%s,\"stop_reason\":null,"
                       "\"prompt_logprobs\":null}],\"service_tier\":null,"
                       "\"system_fingerprint\":null,\"usage\":",
                    finish_name(r->seq.finish));
        usage_json(r, b, true);
        buf_append_str(b, ",\"kv_transfer_params\":null}");
    }
    struct http_req *req = r->http;
    req->on_abort = NULL;
    r->http = NULL;
    char hdr[256] = "";
    if (e->cfg.enable_request_id_headers)
        snprintf(hdr, sizeof(hdr), "x-request-id: %s\r\n", strchr(r->id, '-') + 1);
    http_respond(req, 200, JSON, hdr[0] ? hdr : NULL, b->data, b->len);
}

void api_finish(struct engine_req *r)
{
    if (!r->http)
        return;
    if (r->gen.stream)
        finish_stream(r);
    else
        finish_whole(r);
}

/* --- routing ------------------------------------------------------------- */

struct route {
    const char *path;
    enum http_method method;  /* HTTP_M_OTHER: GET or POST */
    bool needs_auth;
    int id;
};

enum {
    R_COMPLETIONS, R_CHAT, R_MODELS, R_HEALTH, R_PING, R_VERSION, R_METRICS, R_LOAD,
    R_SLEEP, R_WAKE, R_IS_SLEEPING,
};

static const struct route routes[] = {
    {"/v1/completions", HTTP_M_POST, true, R_COMPLETIONS},
    {"/v1/chat/completions", HTTP_M_POST, true, R_CHAT},
    {"/v1/models", HTTP_M_GET, true, R_MODELS},
    {"/health", HTTP_M_GET, false, R_HEALTH},
    {"/ping", HTTP_M_OTHER, false, R_PING},
    {"/version", HTTP_M_GET, false, R_VERSION},
    {"/metrics", HTTP_M_GET, false, R_METRICS},
    {"/load", HTTP_M_GET, false, R_LOAD},
    {"/sleep", HTTP_M_POST, false, R_SLEEP},
    {"/wake_up", HTTP_M_POST, false, R_WAKE},
    {"/is_sleeping", HTTP_M_GET, false, R_IS_SLEEPING},
};

static bool method_ok(const struct route *rt, enum http_method m)
{
    if (m == HTTP_M_HEAD && rt->method == HTTP_M_GET)
        return true;
    if (rt->method == HTTP_M_OTHER)
        return m == HTTP_M_GET || m == HTTP_M_POST;
    return m == rt->method;
}

void engine_handle(struct http_req *req, void *ud)
{
    struct engine *e = ud;
    const struct route *rt = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
        if (http_req_path_is(req, routes[i].path)) {
            rt = &routes[i];
            break;
        }
    }
    if (!rt) {
        respond_json(req, 404, "{\"detail\":\"Not Found\"}");
        return;
    }
    if (!method_ok(rt, req->msg->method)) {
        const char *allow = rt->method == HTTP_M_POST ? "allow: POST\r\n"
                            : rt->method == HTTP_M_GET ? "allow: GET, HEAD\r\n"
                                                       : "allow: GET, POST\r\n";
        const char *body = "{\"detail\":\"Method Not Allowed\"}";
        http_respond(req, 405, JSON, allow, body, strlen(body));
        return;
    }
    if (rt->needs_auth && !authorized(e, req)) {
        respond_json(req, 401, "{\"error\":\"Unauthorized\"}");
        return;
    }
    char body[128];
    switch (rt->id) {
    case R_COMPLETIONS:
        handle_generate(e, req, API_COMPLETION);
        break;
    case R_CHAT:
        handle_generate(e, req, API_CHAT);
        break;
    case R_MODELS:
        send_models(e, req);
        break;
    case R_HEALTH:
    case R_PING:
        http_respond(req, 200, NULL, NULL, "", 0);
        break;
    case R_VERSION:
        snprintf(body, sizeof(body), "{\"version\":\"%s\"}", e->cfg.vllm_version);
        respond_json(req, 200, body);
        break;
    case R_METRICS:
        send_metrics(e, req);
        break;
    case R_LOAD:
        snprintf(body, sizeof(body), "{\"server_load\":%u}", e->nreqs);
        respond_json(req, 200, body);
        break;
    case R_SLEEP:
        handle_sleep(e, req);
        break;
    case R_WAKE:
        handle_wake_up(e, req);
        break;
    case R_IS_SLEEPING:
        respond_json(req, 200, e->sleep_level ? "{\"is_sleeping\":true}" : "{\"is_sleeping\":false}");
        break;
    }
}
