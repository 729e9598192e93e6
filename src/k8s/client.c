/* k8s/client: see client.h. Requests go through fetch with the cluster's CA,
 * the client certificate and the bearer token of the config; answers are
 * parsed here so that callers see objects, or one error line for people. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "k8s/client.h"

#define K8S_WHAT_MAX 320 /* "PATCH /apis/...": the start of error messages */

void k8s_client_init(struct k8s_client *c, uv_loop_t *loop, struct fetcher *f,
                     struct k8s_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->f = f;
    c->cfg = cfg;
    c->timeout_ms = K8S_TIMEOUT_MS;
}

int k8s_query_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    if (!cap)
        return -ENOBUFS;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';
        if (n + (plain ? 1 : 3) >= cap) {
            out[0] = '\0';
            return -ENOBUFS;
        }
        if (plain) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
    return 0;
}

/* The strings of one request until fetch_start has copied them. */
struct k8s_wire {
    char url[4096];
    char auth[8192];
    char ctype[128];
    const char *headers[3];
};

/* Fills rq for method path: URL, Accept, the bearer token (read again after
 * a 401 or once a minute), the content type, the TLS material. */
static int wire_build(struct k8s_client *c, struct k8s_wire *w, const char *method,
                      const char *path, const char *body, const char *content_type,
                      struct fetch_request *rq)
{
    int n = snprintf(w->url, sizeof(w->url), "%s%s", c->cfg->server, path);
    if (n < 0 || (size_t)n >= sizeof(w->url))
        return -ENAMETOOLONG;
    size_t nh = 0;
    w->headers[nh++] = "Accept: application/json";
    const char *tok = k8s_config_token(c->cfg, uv_now(c->loop), c->reread_token);
    c->reread_token = false;
    if (tok) {
        n = snprintf(w->auth, sizeof(w->auth), "Authorization: Bearer %s", tok);
        if (n < 0 || (size_t)n >= sizeof(w->auth))
            return -E2BIG;
        w->headers[nh++] = w->auth;
    }
    if (body) {
        snprintf(w->ctype, sizeof(w->ctype), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        w->headers[nh++] = w->ctype;
    }
    *rq = (struct fetch_request){
        .url = w->url,
        .headers = w->headers,
        .n_headers = nh,
        .insecure = c->cfg->insecure,
        .timeout_ms = c->timeout_ms,
        .max_body = K8S_BODY_MAX,
        .method = strcmp(method, "GET") == 0 ? NULL : method,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .ca_pem = c->cfg->ca_pem,
        .cert_pem = c->cfg->cert_pem,
        .key_pem = c->cfg->key_pem,
    };
    return 0;
}

/* ---------- one request ---------- */

struct k8s_req {
    struct k8s_client *c;
    k8s_cb cb;
    void *ud;
    void (*dropped)(void *ud); /* frees ud when the fetcher closes first */
    struct fetch *x;
    char what[K8S_WHAT_MAX]; /* "GET /api/v1/..." */
};

static void req_dropped(void *ud)
{
    struct k8s_req *q = ud;
    if (q->dropped)
        q->dropped(q->ud);
    free(q);
}

static void req_done(void *ud, const struct fetch_result *fr)
{
    struct k8s_req *q = ud;
    struct k8s_response r = {.status = fr->status, .body = fr->body, .len = fr->len};
    char err[1024];
    if (fr->err) {
        snprintf(err, sizeof(err), "%s: %s", q->what, fr->reason);
        r.err = err;
    } else {
        r.obj = cJSON_ParseWithLength(fr->body, fr->len);
        if (fr->status == 401)
            q->c->reread_token = true; /* the token may have rotated */
        if (fr->status < 200 || fr->status > 299) {
            char text[512];
            k8s_status_text(fr->body, fr->len, text, sizeof(text));
            snprintf(err, sizeof(err), "%s: HTTP %ld: %s", q->what, fr->status,
                     text[0] ? text : "(no body)");
            r.err = err;
        } else if (!cJSON_IsObject(r.obj)) {
            snprintf(err, sizeof(err), "%s: the answer is not a JSON object", q->what);
            r.err = err;
        }
    }
    q->cb(q->ud, &r);
    cJSON_Delete(r.obj);
    free(q);
}

static void what_set(char *what, const char *method, const char *path)
{
    snprintf(what, K8S_WHAT_MAX, "%s %.*s", method, (int)strcspn(path, "?"), path);
}

/* k8s_request with a hook that frees ud if the fetcher closes first. */
static int request_owned(struct k8s_client *c, const char *method, const char *path,
                         const char *body, const char *content_type, k8s_cb cb, void *ud,
                         void (*dropped)(void *ud), struct k8s_req **out)
{
    struct k8s_wire *w = malloc(sizeof(*w));
    struct k8s_req *q = calloc(1, sizeof(*q));
    struct fetch_request rq;
    int rc = w && q ? wire_build(c, w, method, path, body, content_type, &rq) : -ENOMEM;
    if (rc == 0) {
        q->c = c;
        q->cb = cb;
        q->ud = ud;
        q->dropped = dropped;
        what_set(q->what, method, path);
        rq.dropped = req_dropped;
        rc = fetch_start(c->f, &rq, req_done, q, &q->x);
    }
    free(w);
    if (rc < 0)
        free(q);
    else if (out)
        *out = q;
    return rc;
}

void k8s_request_cancel(struct k8s_req *q)
{
    if (!q)
        return;
    fetch_cancel(q->x);
    free(q);
}

int k8s_request(struct k8s_client *c, const char *method, const char *path, const char *body,
                const char *content_type, k8s_cb cb, void *ud, struct k8s_req **out)
{
    return request_owned(c, method, path, body, content_type, cb, ud, NULL, out);
}

/* ---------- watch ---------- */

/* Events are handed over from a zero timer, never from inside curl's write
 * callback: an event's handler may start requests (a pod's /v1/models) or
 * cancel this watch, and libcurl refuses its multi calls from within its own
 * callbacks. The struct is freed in the timer's close callback, so a watch
 * cancelled while its lines are being read stays valid until then. */
struct k8s_watch {
    struct k8s_client *c;
    struct fetch *x; /* NULL once the transfer ended or was cancelled */
    k8s_event_cb on_event;
    k8s_watch_end_cb on_end;
    void *ud;
    uv_timer_t defer;
    struct buf line; /* received, not yet read; the error body when not 200 */
    long status;
    bool closed; /* ended or cancelled: nothing more is reported */
    char err[768]; /* set when the watch is ended from here */
    char what[K8S_WHAT_MAX];
};

static void watch_freed(uv_handle_t *h)
{
    struct k8s_watch *w = h->data;
    buf_release(&w->line);
    free(w);
}

static void watch_close(struct k8s_watch *w)
{
    w->closed = true;
    uv_timer_stop(&w->defer);
    uv_close((uv_handle_t *)&w->defer, watch_freed);
}

static void watch_dropped(void *ud)
{
    struct k8s_watch *w = ud;
    w->x = NULL;
    watch_close(w);
}

/* Hands every complete line in w->line to on_event. 0, or -1 to end the
 * watch (w->err says why). Stops at once if on_event cancels the watch. */
static int watch_lines(struct k8s_watch *w)
{
    size_t start = 0;
    int rc = 0;
    while (rc == 0 && !w->closed) {
        if (!w->line.data || start >= w->line.len)
            break; /* nothing buffered (a stream that ended empty) */
        char *nl = memchr(w->line.data + start, '\n', w->line.len - start);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (w->line.data + start));
        const char *l = w->line.data + start;
        start += len + 1;
        if (strspn(l, " \t\r") >= len)
            continue; /* a blank line */
        struct k8s_event ev;
        char why[256];
        if (k8s_event_parse(l, len, &ev, why, sizeof(why)) < 0) {
            snprintf(w->err, sizeof(w->err), "%s: %s", w->what, why);
            rc = -1;
            break;
        }
        if (w->on_event(w->ud, &ev) != 0) {
            snprintf(w->err, sizeof(w->err), "%s: stopped", w->what);
            rc = -1;
        }
        k8s_event_release(&ev);
    }
    buf_consume(&w->line, start);
    return rc;
}

/* Ends the watch: on_end once, then the struct goes. */
static void watch_end(struct k8s_watch *w, const char *err, long status)
{
    w->closed = true;
    w->on_end(w->ud, err, status);
    watch_close(w);
}

static void on_defer(uv_timer_t *t)
{
    struct k8s_watch *w = t->data;
    if (w->closed || watch_lines(w) == 0 || w->closed)
        return;
    fetch_cancel(w->x);
    w->x = NULL;
    watch_end(w, w->err, w->status);
}

static int watch_data(void *ud, long status, const char *data, size_t len)
{
    struct k8s_watch *w = ud;
    w->status = status;
    if (buf_append(&w->line, data, len) < 0) {
        if (status != 200)
            return 0; /* an error body is only read for its message: the start is enough */
        snprintf(w->err, sizeof(w->err), "%s: a watch event over %u bytes", w->what,
                 K8S_LINE_MAX);
        return -1;
    }
    if (status == 200 && memchr(data, '\n', len))
        uv_timer_start(&w->defer, on_defer, 0, 0);
    return 0;
}

static void watch_done(void *ud, const struct fetch_result *fr)
{
    struct k8s_watch *w = ud;
    char err[1024];
    const char *e = NULL;
    long status = fr->err ? w->status : fr->status;
    w->x = NULL;
    if (!w->err[0] && !fr->err && fr->status == 200)
        watch_lines(w); /* the last events */
    if (w->closed)
        return; /* cancelled by an event's handler: no on_end */
    if (w->err[0]) {
        e = w->err;
    } else if (fr->err) {
        snprintf(err, sizeof(err), "%s: %s", w->what, fr->reason);
        e = err;
    } else if (fr->status != 200) {
        char text[512];
        if (fr->status == 401)
            w->c->reread_token = true;
        k8s_status_text(w->line.data ? w->line.data : "", w->line.len, text, sizeof(text));
        snprintf(err, sizeof(err), "%s: HTTP %ld: %s", w->what, fr->status,
                 text[0] ? text : "(no body)");
        e = err;
    } else if (w->line.len && strspn(w->line.data, " \t\r\n") < w->line.len) {
        snprintf(err, sizeof(err), "%s: the stream ended inside an event", w->what);
        e = err;
    }
    watch_end(w, e, status);
}

int k8s_watch_start(struct k8s_client *c, const char *path, long timeout_ms, k8s_event_cb on_event,
                    k8s_watch_end_cb on_end, void *ud, struct k8s_watch **out)
{
    struct k8s_wire *wire = malloc(sizeof(*wire));
    struct k8s_watch *w = calloc(1, sizeof(*w));
    struct fetch_request rq;
    int rc = wire && w ? wire_build(c, wire, "GET", path, NULL, NULL, &rq) : -ENOMEM;
    if (rc < 0) {
        free(wire);
        free(w);
        return rc;
    }
    w->c = c;
    w->on_event = on_event;
    w->on_end = on_end;
    w->ud = ud;
    buf_init(&w->line, K8S_LINE_MAX);
    what_set(w->what, "watch", path);
    uv_timer_init(c->loop, &w->defer);
    w->defer.data = w;
    rq.timeout_ms = timeout_ms;
    rq.on_data = watch_data;
    rq.dropped = watch_dropped;
    rc = fetch_start(c->f, &rq, watch_done, w, &w->x);
    free(wire);
    if (rc < 0) {
        watch_close(w); /* freed from the loop */
        return rc;
    }
    if (out)
        *out = w;
    return 0;
}

void k8s_watch_cancel(struct k8s_watch *w)
{
    if (!w || w->closed)
        return;
    fetch_cancel(w->x);
    w->x = NULL;
    watch_close(w);
}

/* ---------- /scale ---------- */

struct k8s_scale_req {
    k8s_scale_cb cb;
    void *ud;
};

static long num_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

static void scale_done(void *ud, struct k8s_response *r)
{
    struct k8s_scale_req *q = ud;
    struct k8s_scale s = {0};
    char err[1100];
    const char *e = r->err;
    if (!e) {
        s.spec_replicas = num_at(r->obj, "spec", "replicas");
        s.status_replicas = num_at(r->obj, "status", "replicas");
        const char *rv = k8s_obj_rv(r->obj);
        snprintf(s.rv, sizeof(s.rv), "%s", rv ? rv : "");
        if (s.spec_replicas < 0) {
            snprintf(err, sizeof(err), "a Scale without spec.replicas");
            e = err;
        }
        if (s.status_replicas < 0)
            s.status_replicas = 0;
    }
    q->cb(q->ud, e, e ? NULL : &s);
    free(q);
}

static int scale_send(struct k8s_client *c, const char *method, const char *object_path,
                      const char *body, k8s_scale_cb cb, void *ud)
{
    char path[2048];
    int n = snprintf(path, sizeof(path), "%s/scale", object_path);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    struct k8s_scale_req *q = malloc(sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->cb = cb;
    q->ud = ud;
    int rc = request_owned(c, method, path, body, "application/merge-patch+json", scale_done, q,
                           free, NULL);
    if (rc < 0)
        free(q);
    return rc;
}

int k8s_scale_get(struct k8s_client *c, const char *object_path, k8s_scale_cb cb, void *ud)
{
    return scale_send(c, "GET", object_path, NULL, cb, ud);
}

int k8s_scale_patch(struct k8s_client *c, const char *object_path, long replicas, k8s_scale_cb cb,
                    void *ud)
{
    if (replicas < 0)
        return -EINVAL;
    char body[64];
    snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%ld}}", replicas);
    return scale_send(c, "PATCH", object_path, body, cb, ud);
}

/* ---------- update with retry on conflict ---------- */

struct k8s_upd {
    struct k8s_client *c;
    char path[2048];
    int attempts, tried;
    k8s_mutate_fn mutate;
    k8s_update_cb cb;
    void *ud;
};

static void upd_got(void *ud, struct k8s_response *r);

static void upd_end(struct k8s_upd *u, const char *err, const cJSON *obj)
{
    u->cb(u->ud, err, obj);
    free(u);
}

static void upd_put(void *ud, struct k8s_response *r)
{
    struct k8s_upd *u = ud;
    if (r->status == 409 && u->tried < u->attempts) {
        /* Someone wrote in between: read the object again and redo the change. */
        int rc = request_owned(u->c, "GET", u->path, NULL, NULL, upd_got, u, free, NULL);
        if (rc < 0)
            upd_end(u, "cannot send the request again", NULL);
        return;
    }
    char err[1200];
    if (r->status == 409)
        snprintf(err, sizeof(err), "%s (after %d attempts)", r->err, u->tried);
    upd_end(u, r->status == 409 ? err : r->err, r->err ? NULL : r->obj);
}

static void upd_got(void *ud, struct k8s_response *r)
{
    struct k8s_upd *u = ud;
    if (r->err) {
        upd_end(u, r->err, NULL);
        return;
    }
    u->tried++;
    char err[256];
    int rc = u->mutate(u->ud, r->obj);
    char *body = rc == 0 ? cJSON_PrintUnformatted(r->obj) : NULL;
    if (rc == 0 && !body)
        rc = -ENOMEM;
    rc = rc ? rc : request_owned(u->c, "PUT", u->path, body, NULL, upd_put, u, free, NULL);
    free(body);
    if (rc < 0) {
        snprintf(err, sizeof(err), "PUT %.200s: not sent: %s", u->path, strerror(-rc));
        upd_end(u, err, NULL);
    }
}

int k8s_update(struct k8s_client *c, const char *path, int attempts, k8s_mutate_fn mutate,
               k8s_update_cb cb, void *ud)
{
    if (attempts < 1 || strlen(path) >= sizeof(((struct k8s_upd *)0)->path))
        return -EINVAL;
    struct k8s_upd *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    snprintf(u->path, sizeof(u->path), "%s", path);
    u->c = c;
    u->attempts = attempts;
    u->mutate = mutate;
    u->cb = cb;
    u->ud = ud;
    int rc = request_owned(c, "GET", path, NULL, NULL, upd_got, u, free, NULL);
    if (rc < 0)
        free(u);
    return rc;
}
