/* trigger: one poll of a prometheus trigger, as KEDA's prometheus scaler
 * makes it (keda-hpa-spec.md §3.2, §3.3, §3.6). The URL and the reading of
 * the answer are prom/query.c's; this file builds the headers with Go's
 * http.Header semantics, sends the request through fetch, and retries once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/trigger.h"

struct trigger_poll {
    struct fetcher *f;
    const struct cfg_trigger *t;
    double now;
    bool strict;
    trigger_cb cb;
    void *ud;
    struct fetch *fetch;
    uint64_t started_ns;
    bool in_cb;
    struct trigger_result res;
};

/* Go's textproto.CanonicalMIMEHeaderKey: "x-scope-orgid" -> "X-Scope-Orgid".
 * Names are RFC 9110 tokens already (config checks them). */
static void canonical_key(const char *in, char *out, size_t n)
{
    bool upper = true;
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++) {
        char c = in[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[i] = c;
        upper = c == '-';
    }
    out[i] = '\0';
}

/* KEDA reads customHeaders and queryParameters into Go maps: of two pairs
 * with the same key, the later one stands. */
static bool overridden(const struct cfg_kv *kv, size_t n, size_t i)
{
    for (size_t j = i + 1; j < n; j++)
        if (strcmp(kv[i].key, kv[j].key) == 0)
            return true;
    return false;
}

/* The header KEDA Sets for auth (bearer and basic: Authorization; custom:
 * customAuthHeader), canonical; "" when none. Set replaces every value of
 * that name that customHeaders Added before it. */
static void auth_header_name(const struct cfg_prometheus *p, char *out, size_t n)
{
    if (p->bearer_token || p->username)
        canonical_key("Authorization", out, n);
    else if (p->custom_auth_header)
        canonical_key(p->custom_auth_header, out, n);
    else
        out[0] = '\0';
}

/* Header lines in KEDA's order, NUL-separated in lines; ptrs[] points into
 * it. Returns the count, or -ENOBUFS. */
static int build_headers(const struct cfg_prometheus *p, struct buf *lines, const char **ptrs,
                         size_t cap)
{
    char auth[256], key[256];
    size_t offs[CONFIG_LIST_MAX + 1], n = 0;
    int rc = 0;
    auth_header_name(p, auth, sizeof(auth));
    for (size_t i = 0; i < p->n_custom_headers && n < cap; i++) {
        canonical_key(p->custom_headers[i].key, key, sizeof(key));
        if (overridden(p->custom_headers, p->n_custom_headers, i) || strcmp(key, auth) == 0)
            continue;
        offs[n++] = lines->len;
        rc = rc ? rc : buf_appendf(lines, "%s: %s", key, p->custom_headers[i].value);
        rc = rc ? rc : buf_append(lines, "", 1);
    }
    if (p->bearer_token && n < cap) {
        offs[n++] = lines->len;
        rc = rc ? rc : buf_appendf(lines, "%s: Bearer %s", auth, p->bearer_token);
        rc = rc ? rc : buf_append(lines, "", 1);
    } else if (!p->username && p->custom_auth_header && n < cap) {
        offs[n++] = lines->len;
        rc = rc ? rc
                : buf_appendf(lines, "%s: %s", auth,
                              p->custom_auth_value ? p->custom_auth_value : "");
        rc = rc ? rc : buf_append(lines, "", 1);
    }
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        ptrs[i] = lines->data + offs[i];
    return (int)n;
}

static double since(uint64_t ns)
{
    return (double)(uv_hrtime() - ns) / 1e9;
}

static void on_fetched(void *ud, const struct fetch_result *r);
static void on_dropped(void *ud);

/* Sends attempt number tp->res.attempts + 1, as of now + the time spent so far. */
static int attempt(struct trigger_poll *tp)
{
    const struct cfg_prometheus *p = &tp->t->prom;
    struct prom_kv params[CONFIG_LIST_MAX];
    size_t np = 0;
    for (size_t i = 0; i < p->n_query_params && np < CONFIG_LIST_MAX; i++)
        if (!overridden(p->query_params, p->n_query_params, i))
            params[np++] = (struct prom_kv){p->query_params[i].key, p->query_params[i].value};
    char when[32];
    prom_rfc3339(tp->now + since(tp->started_ns), when, sizeof(when));

    struct buf url = BUF_INIT(TRIGGER_MAX_URL), lines = BUF_INIT(TRIGGER_MAX_HEADERS);
    const char *headers[CONFIG_LIST_MAX + 1];
    int rc = prom_query_url(&url, p->server_address, p->query, when, p->namespace_, params, np);
    int nh = rc < 0 ? rc : build_headers(p, &lines, headers, CONFIG_LIST_MAX + 1);
    if (rc == 0 && nh >= 0) {
        struct fetch_request rq = {
            .url = url.data,
            .headers = headers,
            .n_headers = (size_t)nh,
            .username = p->bearer_token ? NULL : p->username,
            .password = p->password,
            .insecure = p->unsafe_ssl,
            .timeout_ms = p->timeout_ms > 0 ? (long)p->timeout_ms : TRIGGER_DEFAULT_TIMEOUT_MS,
            .max_body = TRIGGER_MAX_BODY,
            .dropped = on_dropped,
        };
        rc = fetch_start(tp->f, &rq, on_fetched, tp, &tp->fetch);
    } else {
        rc = rc < 0 ? rc : nh;
    }
    buf_release(&url);
    buf_release(&lines);
    if (rc == 0)
        tp->res.attempts++;
    return rc;
}

/* A transport error into the answer's 256 bytes: when the URL makes it too
 * long, the middle of the URL gives way, never the reason. */
static void transport_error(struct prom_answer *a, const struct fetch_result *r)
{
    a->outcome = PROM_ERROR;
    size_t n = strlen(r->err);
    if (n < sizeof(a->err)) {
        memcpy(a->err, r->err, n + 1);
        return;
    }
    size_t reason = strlen(r->reason);
    int room = (int)sizeof(a->err) - (int)reason - 6; /* "...: " and the NUL */
    if (room < 8)
        snprintf(a->err, sizeof(a->err), "%s", r->reason);
    else
        snprintf(a->err, sizeof(a->err), "%.*s...: %s", room, r->err, r->reason);
}

static void deliver(struct trigger_poll *tp)
{
    tp->res.seconds = since(tp->started_ns);
    tp->res.sample.ok = tp->res.answer.outcome == PROM_VALUE;
    tp->res.sample.value = tp->res.sample.ok ? tp->res.answer.value : 0;
    tp->fetch = NULL;
    tp->in_cb = true;
    tp->cb(tp->ud, &tp->res);
    free(tp);
}

static void on_fetched(void *ud, const struct fetch_result *r)
{
    struct trigger_poll *tp = ud;
    const struct cfg_prometheus *p = &tp->t->prom;
    tp->fetch = NULL;
    memset(&tp->res.answer, 0, sizeof(tp->res.answer));
    tp->res.http_status = r->err ? 0 : r->status;
    if (r->err)
        transport_error(&tp->res.answer, r);
    else
        prom_query_answer((int)r->status, r->body, r->len, p->query, p->ignore_null_values,
                          tp->strict, &tp->res.answer);
    if (tp->res.answer.outcome == PROM_VALUE || tp->res.attempts >= 2) {
        deliver(tp);
        return;
    }
    /* §3.6: KEDA rebuilds the scaler and asks once more, at once; that
     * answer is final. */
    int rc = attempt(tp);
    if (rc < 0) {
        tp->res.answer.outcome = PROM_ERROR;
        snprintf(tp->res.answer.err, sizeof(tp->res.answer.err), "could not send the retry: %s",
                 strerror(-rc));
        deliver(tp);
    }
}

/* The fetcher closed under the poll: no callback, only the memory. */
static void on_dropped(void *ud)
{
    free(ud);
}

int trigger_poll_start(struct fetcher *f, const struct cfg_trigger *t, double now, bool strict,
                       trigger_cb cb, void *ud, struct trigger_poll **out)
{
    if (!t->is_prometheus)
        return -EINVAL;
    struct trigger_poll *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return -ENOMEM;
    *tp = (struct trigger_poll){.f = f, .t = t, .now = now, .strict = strict, .cb = cb, .ud = ud};
    tp->started_ns = uv_hrtime();
    int rc = attempt(tp);
    if (rc < 0) {
        free(tp);
        return rc;
    }
    if (out)
        *out = tp;
    return 0;
}

void trigger_poll_cancel(struct trigger_poll *tp)
{
    if (!tp || tp->in_cb)
        return;
    fetch_cancel(tp->fetch);
    free(tp);
}
