/* k8s/deletion_cost: see deletion_cost.h.
 *
 * A round is one malloc'd struct with a timer for its time limit: list →
 * plan (pure) → PATCHes, K8S_DELETION_COST_PARALLEL at once, the next sent
 * as one ends. done runs once, from end(); the struct is freed in the
 * timer's close callback, after done, so done may look at nothing of it but
 * what it is given. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/decode.h"
#include "k8s/deletion_cost.h"
#include "prom/textparse.h"

/* ---------- the router's view ---------- */

static const char *label_of(const struct textparse_sample *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}

int k8s_router_load_parse(const char *body, size_t len, struct k8s_backend_load *out, size_t cap,
                          size_t *n, char *err, size_t errlen)
{
    struct textparse p;
    struct textparse_limits lim = {.max_samples = 1000000};
    *n = 0;
    if (textparse_init(&p, body, len, &lim) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    struct textparse_sample s;
    int rc;
    bool full = false; /* -E2BIG is ours; textparse's own (a line too long) is -EINVAL */
    while ((rc = textparse_next(&p, &s)) == 1) {
        const char *name = label_of(&s, "__name__");
        const char *url = label_of(&s, K8S_ROUTER_INFLIGHT_LABEL);
        if (!name || strcmp(name, K8S_ROUTER_INFLIGHT_METRIC) != 0 || !url ||
            strlen(url) > K8S_ROUTER_URL_MAX)
            continue;
        if (*n == cap) {
            snprintf(err, errlen, "the router reports more than %zu backends", cap);
            full = true;
            break;
        }
        snprintf(out[*n].url, sizeof(out[*n].url), "%s", url);
        out[*n].inflight = isfinite(s.v) && s.v > 0 ? s.v : 0;
        (*n)++;
    }
    if (full) {
        textparse_release(&p);
        return -E2BIG;
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", textparse_error(&p));
    textparse_release(&p);
    return rc < 0 ? -EINVAL : 0;
}

struct k8s_router_load_req {
    k8s_router_load_cb cb;
    void *ud;
    struct fetch *x;
};

static void load_done(void *ud, const struct fetch_result *fr)
{
    struct k8s_router_load_req *q = ud;
    struct k8s_backend_load *loads = calloc(K8S_ROUTER_LOAD_MAX, sizeof(*loads));
    size_t n = 0;
    char err[512], why[256];
    const char *e = NULL;
    if (fr->err) {
        e = fr->err;
    } else if (fr->status != 200) {
        snprintf(err, sizeof(err), "the router's /metrics answered HTTP %ld", fr->status);
        e = err;
    } else if (!loads) {
        e = "out of memory";
    } else if (k8s_router_load_parse(fr->body, fr->len, loads, K8S_ROUTER_LOAD_MAX, &n, why,
                                     sizeof(why)) < 0) {
        snprintf(err, sizeof(err), "the router's /metrics: %s", why);
        e = err;
    }
    q->cb(q->ud, e, e ? NULL : loads, e ? 0 : n);
    free(loads);
    free(q);
}

int k8s_router_load_fetch(struct fetcher *f, const char *metrics_url, long timeout_ms,
                          k8s_router_load_cb cb, void *ud, struct k8s_router_load_req **out)
{
    if (timeout_ms <= 0)
        return -EINVAL;
    struct k8s_router_load_req *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->cb = cb;
    q->ud = ud;
    struct fetch_request rq = {.url = metrics_url,
                               .timeout_ms = timeout_ms,
                               .max_body = K8S_ROUTER_METRICS_MAX,
                               .dropped = free};
    int rc = fetch_start(f, &rq, load_done, q, &q->x);
    if (rc < 0) {
        free(q);
        return rc;
    }
    if (out)
        *out = q;
    return 0;
}

void k8s_router_load_cancel(struct k8s_router_load_req *q)
{
    if (!q)
        return;
    fetch_cancel(q->x);
    free(q);
}

/* ---------- the plan ---------- */

static const cJSON *at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

/* The host of "http://10.0.0.5:8000/..." or "http://[fd00::5]:8000" into
 * out: "10.0.0.5", "fd00::5". */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t len;
    if (*h == '[') {
        h++;
        len = strcspn(h, "]");
    } else {
        len = strcspn(h, ":/");
    }
    snprintf(out, cap, "%.*s", (int)len, h);
}

static bool pod_ready(const cJSON *pod)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, at(pod, "status", "conditions"))
    {
        const cJSON *type = at(c, "type", NULL), *st = at(c, "status", NULL);
        if (cJSON_IsString(type) && strcmp(type->valuestring, "Ready") == 0)
            return cJSON_IsString(st) && strcmp(st->valuestring, "True") == 0;
    }
    return false;
}

/* The requests in flight to ip, over all the router's backends on it; -1
 * when the router knows none. */
static double load_of(const char *ip, const struct k8s_backend_load *loads, size_t n)
{
    double sum = -1;
    char host[K8S_ROUTER_URL_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        url_host(loads[i].url, host, sizeof(host));
        if (strcmp(host, ip) == 0)
            sum = (sum < 0 ? 0 : sum) + loads[i].inflight;
    }
    return sum;
}

static long pod_cost(const cJSON *pod, const struct k8s_backend_load *loads, size_t n)
{
    const cJSON *ip = at(pod, "status", "podIP");
    if (!pod_ready(pod) || !cJSON_IsString(ip) || !ip->valuestring[0])
        return K8S_DELETION_COST_NOT_READY;
    double v = load_of(ip->valuestring, loads, n);
    const cJSON *more;
    cJSON_ArrayForEach(more, at(pod, "status", "podIPs"))
    {
        const cJSON *x = at(more, "ip", NULL);
        if (v < 0 && cJSON_IsString(x) && strcmp(x->valuestring, ip->valuestring) != 0)
            v = load_of(x->valuestring, loads, n); /* the other family of a dual-stack pod */
    }
    if (v <= 0)
        return 0;
    return v >= INT32_MAX ? INT32_MAX : lround(v);
}

int k8s_deletion_cost_plan(const cJSON *items, const struct k8s_backend_load *loads, size_t nloads,
                           struct k8s_pod_cost *out, size_t cap, size_t *n)
{
    const cJSON *pod;
    *n = 0;
    cJSON_ArrayForEach(pod, items)
    {
        const char *name = k8s_obj_name(pod);
        /* Being deleted: its place is decided. A name that is not a pod
         * name (a DNS subdomain) cannot go into the PATCH's path. */
        if (!name || !dns_subdomain(name) || at(pod, "metadata", "deletionTimestamp"))
            continue;
        if (*n == cap)
            return -E2BIG;
        struct k8s_pod_cost *pc = &out[(*n)++];
        snprintf(pc->name, sizeof(pc->name), "%s", name);
        pc->cost = pod_cost(pod, loads, nloads);
        char want[24];
        snprintf(want, sizeof(want), "%ld", pc->cost);
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(at(pod, "metadata", "annotations"),
                                                             K8S_DELETION_COST_ANNOTATION);
        pc->change = !cJSON_IsString(have) || strcmp(have->valuestring, want) != 0;
    }
    return 0;
}

/* ---------- a round ---------- */

struct dc_slot {
    struct k8s_deletion_cost *d;
    struct k8s_req *req; /* NULL: free */
};

struct k8s_deletion_cost {
    struct k8s_client *c;
    uv_timer_t timer; /* the round's time limit; the struct goes in its close callback */
    char ns[K8S_NAME_MAX + 1];
    char *selector;
    struct k8s_backend_load *loads;
    size_t nloads;
    long timeout_ms;
    k8s_deletion_cost_cb done;
    void *ud;
    struct k8s_req *list_req;
    struct dc_slot slots[K8S_DELETION_COST_PARALLEL];
    struct k8s_pod_cost *plan; /* K8S_DELETION_COST_MAX_PODS cells */
    size_t nplan, next;        /* the next plan row to look at */
    struct k8s_deletion_cost_stats st;
    bool ended;
    char first_err[768];
};

static void round_free(struct k8s_deletion_cost *d)
{
    free(d->selector);
    free(d->loads);
    free(d->plan);
    free(d);
}

static void round_freed(uv_handle_t *h)
{
    round_free(h->data);
}

/* Stops everything in flight; the struct goes from the loop. */
static void round_stop(struct k8s_deletion_cost *d)
{
    d->ended = true;
    k8s_request_cancel(d->list_req);
    d->list_req = NULL;
    for (size_t i = 0; i < K8S_DELETION_COST_PARALLEL; i++) {
        k8s_request_cancel(d->slots[i].req);
        d->slots[i].req = NULL;
    }
    uv_close((uv_handle_t *)&d->timer, round_freed);
}

static void end(struct k8s_deletion_cost *d, const char *err)
{
    if (d->ended)
        return;
    round_stop(d);
    d->done(d->ud, err, &d->st);
}

static void end_of_patches(struct k8s_deletion_cost *d)
{
    char err[1024];
    if (!d->st.failed) {
        end(d, NULL);
        return;
    }
    snprintf(err, sizeof(err), "%u of %u pods not annotated: %s", d->st.failed,
             d->st.failed + d->st.patched, d->first_err);
    end(d, err);
}

static void note_err(struct k8s_deletion_cost *d, const char *err)
{
    d->st.failed++;
    if (!d->first_err[0])
        snprintf(d->first_err, sizeof(d->first_err), "%s", err);
}

static void patch_next(struct k8s_deletion_cost *d, struct dc_slot *slot);

static void on_patched(void *ud, struct k8s_response *r)
{
    struct dc_slot *slot = ud;
    struct k8s_deletion_cost *d = slot->d;
    slot->req = NULL;
    if (r->err)
        note_err(d, r->err);
    else
        d->st.patched++;
    patch_next(d, slot);
    for (size_t i = 0; i < K8S_DELETION_COST_PARALLEL; i++)
        if (d->slots[i].req)
            return;
    end_of_patches(d);
}

/* Sends the next PATCH the plan needs on slot, if any. */
static void patch_next(struct k8s_deletion_cost *d, struct dc_slot *slot)
{
    while (d->next < d->nplan) {
        const struct k8s_pod_cost *pc = &d->plan[d->next++];
        if (!pc->change)
            continue;
        char path[640], body[160];
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", d->ns, pc->name);
        snprintf(body, sizeof(body), "{\"metadata\":{\"annotations\":{\"%s\":\"%ld\"}}}",
                 K8S_DELETION_COST_ANNOTATION, pc->cost);
        slot->d = d;
        int rc = k8s_request(d->c, "PATCH", path, body, "application/merge-patch+json", on_patched,
                             slot, &slot->req);
        if (rc == 0)
            return;
        slot->req = NULL;
        char err[768];
        snprintf(err, sizeof(err), "PATCH %s: not sent: %s", path, strerror(-rc));
        note_err(d, err);
    }
}

static void on_list(void *ud, struct k8s_response *r)
{
    struct k8s_deletion_cost *d = ud;
    d->list_req = NULL;
    if (r->err) {
        end(d, r->err);
        return;
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r->obj, "items");
    char err[128];
    if (!cJSON_IsArray(items)) {
        end(d, "the pod list has no items");
        return;
    }
    if (k8s_deletion_cost_plan(items, d->loads, d->nloads, d->plan, K8S_DELETION_COST_MAX_PODS,
                               &d->nplan) < 0) {
        snprintf(err, sizeof(err), "more than %d pods match \"%.60s\"", K8S_DELETION_COST_MAX_PODS,
                 d->selector);
        end(d, err);
        return;
    }
    d->st.pods = (unsigned)d->nplan;
    for (size_t i = 0; i < d->nplan; i++)
        d->st.unchanged += !d->plan[i].change;
    for (size_t i = 0; i < K8S_DELETION_COST_PARALLEL; i++)
        patch_next(d, &d->slots[i]);
    for (size_t i = 0; i < K8S_DELETION_COST_PARALLEL; i++)
        if (d->slots[i].req)
            return;
    end_of_patches(d); /* nothing to change, or nothing could be sent */
}

static void on_timeout(uv_timer_t *t)
{
    struct k8s_deletion_cost *d = t->data;
    char err[256];
    unsigned left = 0;
    for (size_t i = 0; i < K8S_DELETION_COST_PARALLEL; i++)
        left += d->slots[i].req != NULL;
    for (size_t i = d->next; i < d->nplan; i++)
        left += d->plan[i].change;
    d->st.failed += left;
    snprintf(err, sizeof(err), "timed out after %.1f s (%u of %u pods annotated)",
             d->timeout_ms / 1000.0, d->st.patched, d->st.patched + d->st.failed);
    end(d, err);
}

static int round_new(const struct k8s_deletion_cost_opts *o, struct k8s_deletion_cost **out)
{
    if (!o->namespace || !o->namespace[0] || strlen(o->namespace) > K8S_NAME_MAX || !o->selector ||
        !o->selector[0] || (o->nloads && !o->loads))
        return -EINVAL;
    if (o->nloads > K8S_ROUTER_LOAD_MAX)
        return -E2BIG;
    struct k8s_deletion_cost *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->selector = strdup(o->selector);
    d->loads = calloc(o->nloads ? o->nloads : 1, sizeof(*d->loads));
    d->plan = calloc(K8S_DELETION_COST_MAX_PODS, sizeof(*d->plan));
    if (!d->selector || !d->loads || !d->plan) {
        round_free(d);
        return -ENOMEM;
    }
    if (o->nloads)
        memcpy(d->loads, o->loads, o->nloads * sizeof(*d->loads));
    d->nloads = o->nloads;
    snprintf(d->ns, sizeof(d->ns), "%s", o->namespace);
    d->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : K8S_DELETION_COST_TIMEOUT_MS;
    *out = d;
    return 0;
}

int k8s_deletion_cost_start(struct k8s_client *c, uv_loop_t *loop,
                            const struct k8s_deletion_cost_opts *o, k8s_deletion_cost_cb done,
                            void *ud, struct k8s_deletion_cost **out)
{
    struct k8s_deletion_cost *d;
    int rc = round_new(o, &d);
    if (rc < 0)
        return rc;
    char sel[1024], path[1400];
    rc = k8s_query_escape(sel, sizeof(sel), o->selector);
    if (rc == 0) {
        /* One more than the limit: a full page means too many. */
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s&limit=%d", d->ns,
                 sel, K8S_DELETION_COST_MAX_PODS + 1);
        d->c = c;
        d->done = done;
        d->ud = ud;
        rc = k8s_request(c, "GET", path, NULL, NULL, on_list, d, &d->list_req);
    }
    if (rc < 0) {
        round_free(d);
        return rc;
    }
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_timeout, (uint64_t)d->timeout_ms, 0);
    if (out)
        *out = d;
    return 0;
}

void k8s_deletion_cost_cancel(struct k8s_deletion_cost *d)
{
    if (d && !d->ended)
        round_stop(d);
}
