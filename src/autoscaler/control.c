/* control: the autoscaler's HTTP port (control.h). */
#include <errno.h>
#include <string.h>

#include "autoscaler/control.h"
#include "base/log.h"
#include "base/util.h"

static void respond_text(struct http_req *req, int status, const char *msg)
{
    http_respond(req, status, "text/plain; charset=utf-8", NULL, msg, strlen(msg));
}

/* The value of name=... in a query string, copied into out; false if absent. */
static bool query_param(const struct http_req *req, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *q = req->query, *end = req->query + req->query_len;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) > nlen && memcmp(q, name, nlen) == 0 && q[nlen] == '=') {
            size_t vlen = (size_t)(stop - q) - nlen - 1;
            if (vlen >= cap)
                return false;
            memcpy(out, q + nlen + 1, vlen);
            out[vlen] = '\0';
            return true;
        }
        q = amp ? amp + 1 : NULL;
    }
    return false;
}

static void evaluate(struct autoscaler *as, struct http_req *req)
{
    char name[SO_NAME_MAX];
    if (req->msg->method != HTTP_M_POST) {
        respond_text(req, 405, "use POST /evaluate?scaledobject=NAME\n");
        return;
    }
    if (!query_param(req, "scaledobject", name, sizeof(name))) {
        respond_text(req, 400, "missing ?scaledobject=NAME\n");
        return;
    }
    for (size_t i = 0; i < as->n_objs; i++)
        if (strcmp(as->objs[i]->spec.name, name) == 0) {
            autoscaler_evaluate_now(as, i, false);
            respond_text(req, 202, "polling now\n");
            return;
        }
    respond_text(req, 404, "no such scaledobject\n");
}

static void respond_buf(struct http_req *req, int rc, const char *type, const struct buf *out)
{
    if (rc < 0) {
        log_error("control: answer over %u bytes", CONTROL_OUT_MAX);
        respond_text(req, 500, "answer too large\n");
        return;
    }
    http_respond(req, 200, type, NULL, out->data, out->len);
}

bool autoscaler_http_handle(struct autoscaler *as, struct buf *out, struct http_req *req)
{
    bool get = req->msg->method == HTTP_M_GET || req->msg->method == HTTP_M_HEAD;
    buf_reset(out);
    if (http_req_path_is(req, "/evaluate"))
        evaluate(as, req);
    else if (http_req_path_is(req, "/status") && get)
        respond_buf(req, autoscaler_status_json(as, wall_time(), out), "application/json", out);
    else if (http_req_path_is(req, "/hpa") && get)
        respond_buf(req, autoscaler_hpa_json(as, wall_time(), out), "application/json", out);
    else
        return false;
    return true;
}

static void handle(struct http_req *req, void *ud)
{
    struct control *c = ud;
    if (autoscaler_http_handle(c->as, &c->out, req))
        return;
    if (req->msg->method != HTTP_M_GET && req->msg->method != HTTP_M_HEAD) {
        respond_text(req, 405, "method not allowed\n");
    } else if (http_req_path_is(req, "/metrics")) {
        buf_reset(&c->out);
        respond_buf(req, autoscaler_metrics(c->as, &c->out), PROM_CONTENT_TYPE, &c->out);
    } else if (http_req_path_is(req, "/health")) {
        respond_text(req, 200, "ok\n");
    } else {
        respond_text(req, 404, "not found: try /status, /hpa, /metrics, /health\n");
    }
}

int control_start(struct control *c, uv_loop_t *loop, struct autoscaler *as, const char *host,
                  int port)
{
    void *data = c->data;
    memset(c, 0, sizeof(*c));
    c->data = data;
    c->as = as;
    buf_init(&c->out, CONTROL_OUT_MAX);
    struct http_server_config cfg;
    http_server_config_defaults(&cfg);
    cfg.host = host;
    cfg.port = port;
    cfg.max_body_bytes = 4096;
    cfg.max_connections = 256;
    http_server_init(&c->http, loop, &cfg, handle, c);
    return http_server_listen(&c->http);
}

static void on_empty(struct http_server *s)
{
    struct control *c = (struct control *)s;
    http_server_release(&c->http);
    buf_release(&c->out);
    if (c->on_closed)
        c->on_closed(c);
}

void control_stop(struct control *c, void (*on_closed)(struct control *c))
{
    c->on_closed = on_closed;
    http_server_shutdown(&c->http, on_empty);
}
