/* local: what the router answers itself — /v1/models, /engines, /health,
 * /version, /metrics — and the routing of every request to it or to the
 * proxy. Router-generated errors use production-stack's flat
 * {"error": "..."} shape and carry X-Request-Id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "router/router.h"

/* Inference paths production-stack proxies with a JSON body (§1.2). */
static const char *const proxied[] = {
    "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/tokenize", "/detokenize",
    "/v1/rerank", "/rerank", "/v1/score", "/score", "/v1/responses", "/v1/audio/speech",
    "/v1/messages", "/v1/images/generations",
};

static void send_models(struct router *r, struct http_req *req)
{
    struct buf *b = &r->scratch;
    buf_reset(b);
    long long now = (long long)wall_time();
    buf_append_str(b, "{\"object\":\"list\",\"data\":[");
    /* The union over backends, de-duplicated by id, in registration order. */
    const char *seen[ROUTER_MAX_KNOWN_MODELS];
    size_t nseen = 0;
    for (size_t k = 0; k < r->nknown; k++) {
        const char *m = r->known_models[k];
        bool served = false;
        for (struct rbackend *rb = r->backends; rb && !served; rb = rb->next)
            served = backend_serves(&rb->b, m);
        if (!served || nseen == ARRAY_SIZE(seen))
            continue;
        seen[nseen] = m;
        buf_appendf(b, "%s{\"id\":", nseen ? "," : "");
        buf_append_json_str(b, m, strlen(m));
        buf_appendf(b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"vllm\",\"root\":null,"
                       "\"parent\":null}", now);
        nseen++;
    }
    buf_append_str(b, "]}");
    http_respond(req, 200, "application/json", NULL, b->data, b->len);
}

static void send_engines(struct router *r, struct http_req *req)
{
    struct buf *b = &r->scratch;
    buf_reset(b);
    buf_append_str(b, "[");
    bool first = true;
    for (struct rbackend *rb = r->backends; rb; rb = rb->next) {
        buf_appendf(b, "%s{\"engine_id\":\"%s\",\"serving_models\":[", first ? "" : ",", rb->b.id);
        for (size_t i = 0; i < rb->b.nmodels; i++) {
            if (i)
                buf_append_str(b, ",");
            buf_append_json_str(b, rb->b.models[i], strlen(rb->b.models[i]));
        }
        buf_appendf(b, "],\"created\":%lld}", (long long)rb->b.added_at);
        first = false;
    }
    buf_append_str(b, "]");
    http_respond(req, 200, "application/json", NULL, b->data, b->len);
}

static void send_metrics(struct router *r, struct http_req *req)
{
    struct buf *b = &r->scratch;
    buf_reset(b);
    if (router_metrics_render(r, b)) {
        http_respond(req, 500, "application/json", NULL, "{\"error\":\"metrics too large\"}", 30);
        return;
    }
    http_respond(req, 200, PROM_CONTENT_TYPE, NULL, b->data, b->len);
}

/* Engine control (/sleep, /wake_up, /is_sleeping) names its engine with
 * ?id=<engine_id>, as production-stack's router requires. */
static void engine_control(struct router *r, struct http_req *req)
{
    const char *id = NULL;
    size_t idlen = 0;
    const char *q = req->query, *end = req->query + req->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if (stop - q > 3 && memcmp(q, "id=", 3) == 0) {
            id = q + 3;
            idlen = (size_t)(stop - id);
        }
        q = stop + 1;
    }
    const char *rid = http_req_header(req, "x-request-id");
    char generated[33];
    if (!rid) {
        random_hex(generated, 16);
        rid = generated;
    }
    if (!id || !idlen) {
        router_send_error(req, 400, rid, NULL, "Invalid request: missing target Engine Id.");
        return;
    }
    for (struct rbackend *rb = r->backends; rb; rb = rb->next) {
        if (strlen(rb->b.id) == idlen && memcmp(rb->b.id, id, idlen) == 0) {
            router_proxy(r, req, rb);
            return;
        }
    }
    router_send_error(req, 404, rid, NULL, "Engine %.*s not found.", (int)(idlen > 64 ? 64 : idlen),
                      id);
}

void router_handle(struct http_req *req, void *ud)
{
    struct router *r = ud;
    enum http_method m = req->msg->method;
    for (size_t i = 0; i < ARRAY_SIZE(proxied); i++) {
        if (http_req_path_is(req, proxied[i])) {
            if (m != HTTP_M_POST) {
                http_respond(req, 405, "application/json", NULL,
                             "{\"detail\":\"Method Not Allowed\"}", 31);
                return;
            }
            router_proxy(r, req, NULL);
            return;
        }
    }
    if (http_req_path_is(req, "/sleep") || http_req_path_is(req, "/wake_up") ||
        http_req_path_is(req, "/is_sleeping")) {
        engine_control(r, req);
        return;
    }
    bool get = m == HTTP_M_GET || m == HTTP_M_HEAD;
    if (get && http_req_path_is(req, "/v1/models")) {
        send_models(r, req);
    } else if (get && http_req_path_is(req, "/engines")) {
        send_engines(r, req);
    } else if (get && http_req_path_is(req, "/health")) {
        http_respond(req, 200, "application/json", NULL, "{\"status\":\"healthy\"}", 20);
    } else if (get && http_req_path_is(req, "/version")) {
        char body[64];
        int n = snprintf(body, sizeof(body), "{\"version\":\"%s\"}", EBB_VERSION);
        http_respond(req, 200, "application/json", NULL, body, (size_t)n);
    } else if (get && http_req_path_is(req, "/metrics")) {
        send_metrics(r, req);
    } else {
        http_respond(req, 404, "application/json", NULL, "{\"detail\":\"Not Found\"}", 22);
    }
}
