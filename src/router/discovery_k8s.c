/* router/discovery_k8s: see discovery_k8s.h.
 *
 * Each pod the informer reports is a struct kpod, freed in its retry
 * timer's close callback. A pod's backend is added only after its
 * /v1/models answered; it is drained when the pod stops being Ready and
 * removed once drained (from the reap timer: the router reports a drained
 * backend from inside its request path, where removing it is not safe), or
 * at once when the pod is deleted. */
#include "router/discovery_k8s.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "router/router.h"

#define TICK_MS 250        /* how soon the end of an outage is noticed */
#define WATCH_LOG_MS 60000 /* an ended watch is logged at info at most this often */

/* ---------- pure readers ---------- */

static bool json_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

bool k8s_pod_routable(const cJSON *pod, char *ip, size_t iplen, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    ip[0] = '\0';
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp");
    if (del && !cJSON_IsNull(del)) {
        *why = "terminating";
        return false;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(st, "containerStatuses");
    if (!cJSON_IsArray(cs) || cJSON_GetArraySize(cs) == 0) {
        *why = "no container status yet";
        return false;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cs)
    {
        if (!json_true(c, "ready")) {
            *why = "a container is not ready";
            return false;
        }
    }
    const char *addr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "podIP"));
    unsigned char bin[16];
    if (!addr || !addr[0]) {
        *why = "no pod IP yet";
        return false;
    }
    /* Address characters only: uv_inet_pton reads an IPv6 address up to a
     * '%' and ignores the rest (a zone, or "%]@host/"), which would end up
     * in the backend's URL. A pod IP has no zone. */
    size_t alen = strlen(addr);
    if (alen >= iplen || strspn(addr, "0123456789abcdefABCDEF.:") != alen ||
        (uv_inet_pton(AF_INET, addr, bin) != 0 && uv_inet_pton(AF_INET6, addr, bin) != 0)) {
        *why = "its pod IP is not an address";
        return false;
    }
    memcpy(ip, addr, alen + 1);
    *why = "ready";
    return true;
}

/* 1 to max bytes without control characters: a model id or a selector. */
static bool text_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int k8s_models_parse(const char *body, size_t len, char (*ids)[KDISC_MODEL_ID_MAX + 1],
                     size_t max, size_t *skipped, char *err, size_t errlen)
{
    size_t n = 0, bad = 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data)) {
        snprintf(err, errlen, "the answer is not a model list (no \"data\" array)");
        cJSON_Delete(root);
        return -EINVAL;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, data)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id"));
        if (!id || !text_valid(id, KDISC_MODEL_ID_MAX)) {
            bad++;
            continue;
        }
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = strcmp(ids[i], id) == 0;
        if (seen)
            continue;
        if (n == max) {
            bad++;
            continue;
        }
        memcpy(ids[n++], id, strlen(id) + 1);
    }
    cJSON_Delete(root);
    if (skipped)
        *skipped = bad;
    if (n == 0) {
        snprintf(err, errlen, "the model list holds no valid model id (%zu skipped)", bad);
        return -EINVAL;
    }
    return (int)n;
}

/* ---------- pods ---------- */

static void handle_closed(struct k8s_discovery *d)
{
    if (--d->open_handles == 0 && d->closing) {
        k8s_config_release(&d->cfg);
        if (d->on_closed)
            d->on_closed(d);
    }
}

static void on_pod_closed(uv_handle_t *h)
{
    struct kpod *p = h->data;
    struct k8s_discovery *d = p->d;
    free(p);
    handle_closed(d);
}

static struct kpod *pod_find(struct k8s_discovery *d, const char *name)
{
    for (struct kpod *p = d->pods; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

/* Stops asking the pod for its models. */
static void pod_stop_asking(struct kpod *p)
{
    fetch_cancel(p->fetch);
    p->fetch = NULL;
    uv_timer_stop(&p->retry);
    p->retry_ms = KDISC_RETRY_MIN_MS;
    p->failures = 0;
}

/* Takes the pod's backend out of the router at once (in-flight requests to
 * it end with an error). */
static void pod_remove_backend(struct kpod *p, const char *what)
{
    if (p->backend == KPOD_NONE)
        return;
    p->backend = KPOD_NONE;
    if (router_backend_remove(p->d->router, p->url) == 0)
        log_info("pod %s %s: backend %s removed", p->name, what, p->url);
}

static void pod_unlink_free(struct kpod *p)
{
    struct k8s_discovery *d = p->d;
    for (struct kpod **pp = &d->pods; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    d->npods--;
    pod_stop_asking(p);
    uv_close((uv_handle_t *)&p->retry, on_pod_closed);
}

static void models_start(struct kpod *p);

static void on_retry(uv_timer_t *t)
{
    models_start(t->data);
}

/* /v1/models failed: ask again after the back-off. A pod still loading its
 * model fails a few times; the first failure is a warning, then every
 * tenth, the others are debug lines. */
static void models_failed(struct kpod *p, const char *why)
{
    p->failures++;
    if (p->failures == 1 || p->failures % 10 == 0)
        log_warn("pod %s: %s/v1/models: %s; not routed to until it answers (attempt %u, next in "
                 "%.1f s)", p->name, p->url, why, p->failures, p->retry_ms / 1000.0);
    else
        log_debug("pod %s: %s/v1/models: %s (attempt %u)", p->name, p->url, why, p->failures);
    uv_timer_start(&p->retry, on_retry, p->retry_ms, 0);
    p->retry_ms = p->retry_ms * 2 > KDISC_RETRY_MAX_MS ? KDISC_RETRY_MAX_MS : p->retry_ms * 2;
}

/* Whether the router's backend for url serves exactly these models. */
static bool same_models(struct rbackend *rb, char (*ids)[KDISC_MODEL_ID_MAX + 1], size_t n)
{
    if (rb->b.nmodels != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!backend_serves(&rb->b, ids[i]))
            return false;
    return true;
}

/* The pod's models are known: its backend takes requests. A pod that is
 * Ready again while its backend still drains keeps that backend when it
 * serves the same models (its in-flight requests go on). */
static void pod_route(struct kpod *p, char (*ids)[KDISC_MODEL_ID_MAX + 1], size_t n)
{
    struct router *r = p->d->router;
    if (p->backend == KPOD_DRAINING) {
        struct rbackend *rb = router_backend_find(r, p->url);
        if (rb && same_models(rb, ids, n)) {
            router_backend_ready(r, rb);
            p->backend = KPOD_ROUTED;
            log_info("pod %s ready again: %s", p->name, p->url);
            return;
        }
        pod_remove_backend(p, "changed its models");
    }
    const char *models[KDISC_MODELS_MAX];
    for (size_t i = 0; i < n; i++)
        models[i] = ids[i];
    char err[512];
    int rc = router_backend_add(r, p->url, models, n, err, sizeof(err));
    if (rc < 0) {
        models_failed(p, err); /* another pod's backend still holds the address */
        return;
    }
    p->backend = KPOD_ROUTED;
    p->failures = 0;
    p->retry_ms = KDISC_RETRY_MIN_MS;
    log_info("pod %s ready: %s serves %s%s (%zu model%s)", p->name, p->url, ids[0],
             n > 1 ? ", ..." : "", n, n > 1 ? "s" : "");
}

static void on_models(void *ud, const struct fetch_result *res)
{
    struct kpod *p = ud;
    p->fetch = NULL;
    char why[600];
    if (res->err) {
        snprintf(why, sizeof(why), "%s", res->reason ? res->reason : res->err);
        models_failed(p, why);
        return;
    }
    if (res->status != 200) {
        snprintf(why, sizeof(why), "HTTP %ld: %.200s", res->status, res->body);
        models_failed(p, why);
        return;
    }
    char ids[KDISC_MODELS_MAX][KDISC_MODEL_ID_MAX + 1];
    size_t skipped = 0;
    int n = k8s_models_parse(res->body, res->len, ids, KDISC_MODELS_MAX, &skipped, why,
                             sizeof(why));
    if (n < 0) {
        models_failed(p, why);
        return;
    }
    if (skipped)
        log_warn("pod %s: %s/v1/models: %zu model ids skipped (invalid, or past the %d a backend "
                 "may serve)", p->name, p->url, skipped, KDISC_MODELS_MAX);
    pod_route(p, ids, (size_t)n);
}

static void on_models_dropped(void *ud)
{
    struct kpod *p = ud;
    p->fetch = NULL;
}

/* Asks the pod for its models (production-stack reads them the same way:
 * data[].id of GET /v1/models, the base model and its LoRA adapters). */
static void models_start(struct kpod *p)
{
    struct k8s_discovery *d = p->d;
    char url[KDISC_URL_MAX + 16];
    snprintf(url, sizeof(url), "%s/v1/models", p->url);
    const char *headers[] = {d->auth};
    struct fetch_request rq = {
        .url = url,
        .headers = headers,
        .n_headers = d->auth[0] ? 1 : 0,
        .timeout_ms = KDISC_FETCH_TIMEOUT_MS,
        .max_body = KDISC_MODELS_BODY_MAX,
        .dropped = on_models_dropped,
    };
    int rc = fetch_start(&d->fetcher, &rq, on_models, p, &p->fetch);
    if (rc < 0) {
        p->fetch = NULL;
        models_failed(p, strerror(-rc));
    }
}

/* A pod is no longer Ready (or terminating): no new requests; what it has
 * in flight finishes, then the reap timer removes its backend. */
static void pod_not_ready(struct kpod *p, const char *why)
{
    pod_stop_asking(p);
    if (p->backend == KPOD_ROUTED) {
        p->backend = KPOD_DRAINING;
        log_info("pod %s not ready (%s): draining %s", p->name, why, p->url);
        router_backend_drain(p->d->router, p->url); /* on_drained may run now: it only arms reap */
    } else {
        log_info("pod %s not ready (%s)", p->name, why);
    }
}

/* An add or an update: the pod's state as the API server sees it now. */
static void pod_seen(struct k8s_discovery *d, const char *name, const cJSON *obj)
{
    if (strlen(name) > K8S_NAME_MAX)
        return; /* k8s/object.h bounds names; this keeps the copy below safe */
    struct kpod *p = pod_find(d, name);
    bool added = !p;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p) {
            log_error("pod %s: out of memory", name);
            return;
        }
        p->d = d;
        memcpy(p->name, name, strlen(name) + 1);
        p->retry_ms = KDISC_RETRY_MIN_MS;
        uv_timer_init(d->loop, &p->retry);
        p->retry.data = p;
        d->open_handles++;
        p->next = d->pods;
        d->pods = p;
        d->npods++;
    }
    char ip[64];
    const char *why;
    bool ready = k8s_pod_routable(obj, ip, sizeof(ip), &why);
    if (!ready) {
        if (added)
            log_info("pod %s added: not ready (%s)", name, why);
        else if (p->ready || p->fetch || uv_is_active((uv_handle_t *)&p->retry))
            pod_not_ready(p, why);
        p->ready = false;
        return;
    }
    char url[KDISC_URL_MAX];
    snprintf(url, sizeof(url), strchr(ip, ':') ? "http://[%s]:%d" : "http://%s:%d", ip, d->port);
    if (p->ready && strcmp(url, p->url) == 0)
        return; /* routed, or its models are being asked for */
    if (strcmp(url, p->url) != 0) {
        pod_stop_asking(p);
        pod_remove_backend(p, "changed its address");
        memcpy(p->url, url, sizeof(url));
    }
    p->ready = true;
    log_info("pod %s %s %s, asking for its models", name, added ? "added, ready at" : "ready at",
             p->url);
    if (p->backend != KPOD_ROUTED && !p->fetch)
        models_start(p);
}

static void on_add(void *ud, const char *name, const cJSON *obj)
{
    pod_seen(ud, name, obj);
}

static void on_update(void *ud, const char *name, const cJSON *old, const cJSON *obj)
{
    (void)old;
    pod_seen(ud, name, obj);
}

static void on_delete(void *ud, const char *name, const cJSON *last)
{
    (void)last;
    struct k8s_discovery *d = ud;
    struct kpod *p = pod_find(d, name);
    if (!p)
        return;
    if (p->backend != KPOD_NONE)
        pod_remove_backend(p, "deleted");
    else
        log_info("pod %s deleted", name);
    pod_unlink_free(p);
}

/* An outage ends when a list succeeds (the informer counts its lists). */
static void outage_check_end(struct k8s_discovery *d)
{
    if (!d->outage || d->inf.lists == d->outage_lists)
        return;
    d->outage = false;
    log_info("kubernetes API: pods listed again after %.1f s; %u pods match \"%s\"",
             (uv_now(d->loop) - d->outage_since_ms) / 1000.0, d->npods, d->inf.selector);
}

/* The informer's list failed, or its watch ended with an error. A watch
 * ending is routine (a 410 when its resourceVersion is too old, a cut
 * connection): the informer lists again at once, and it is an info line at
 * most once a minute. A failed list is an outage: the last known pods keep
 * serving until a list succeeds; one warning per outage. */
static void on_error(void *ud, const char *err)
{
    struct k8s_discovery *d = ud;
    uint64_t now = uv_now(d->loop);
    outage_check_end(d);
    if (d->inf.state == K8S_INF_WATCHING) {
        if (!d->outage && (!d->watch_error_ms || now - d->watch_error_ms >= WATCH_LOG_MS))
            log_info("kubernetes API: %s; listing the pods again", err);
        else
            log_debug("kubernetes API: %s", err);
        d->watch_error_ms = now;
        return;
    }
    if (d->outage) {
        log_debug("kubernetes API: %s", err);
        return;
    }
    d->outage = true;
    d->outage_since_ms = now;
    d->outage_lists = d->inf.lists;
    unsigned routed = 0;
    for (struct kpod *p = d->pods; p; p = p->next)
        routed += p->backend == KPOD_ROUTED;
    log_warn("kubernetes API: cannot list the pods: %s; routing to the %u known ready pods until "
             "it answers", err, routed);
}

static void on_tick(uv_timer_t *t)
{
    outage_check_end(t->data);
}

/* Removes the backends whose pods stopped being Ready once their last
 * request has ended. */
static void on_reap(uv_timer_t *t)
{
    struct k8s_discovery *d = t->data;
    for (struct kpod *p = d->pods; p; p = p->next) {
        if (p->backend != KPOD_DRAINING)
            continue;
        struct rbackend *rb = router_backend_find(d->router, p->url);
        if (!rb)
            p->backend = KPOD_NONE;
        else if (rb->b.inflight == 0)
            pod_remove_backend(p, "drained");
    }
}

/* The router's hook: a draining backend's last request ended. It runs
 * inside the router's request path, so the removal waits for the loop. */
static void on_drained(struct router *r, struct backend *b, void *ud)
{
    (void)r;
    (void)b;
    struct k8s_discovery *d = ud;
    uv_timer_start(&d->reap, on_reap, 0, 0);
}

/* ---------- life cycle ---------- */

static int load_config(struct k8s_discovery *d, const char *kubeconfig, char *err, size_t errlen)
{
    uint64_t now = uv_now(d->loop);
    if (!kubeconfig && getenv("KUBERNETES_SERVICE_HOST"))
        return k8s_config_in_cluster(&d->cfg, NULL, now, err, errlen);
    return k8s_config_kubeconfig(&d->cfg, kubeconfig, now, err, errlen);
}

/* A namespace is a DNS label (RFC 1123): it goes into the URL path as is. */
static bool namespace_valid(const char *ns)
{
    size_t n = strlen(ns);
    if (n == 0 || n > 63 || ns[0] == '-' || ns[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '-'))
            return false;
    return true;
}

int k8s_discovery_check(const struct k8s_discovery_config *cfg, char *err, size_t errlen)
{
    if (!cfg->label_selector || !text_valid(cfg->label_selector, 1024)) {
        snprintf(err, errlen, "--k8s-label-selector must be a label selector such as app=vllm "
                 "(at most 1024 bytes, no control characters), got \"%s\"",
                 cfg->label_selector ? cfg->label_selector : "");
        return -EINVAL;
    }
    if (cfg->namespace && !namespace_valid(cfg->namespace)) {
        snprintf(err, errlen, "--k8s-namespace must be a namespace name (lower-case letters, "
                 "digits and '-', at most 63), got \"%s\"", cfg->namespace);
        return -EINVAL;
    }
    if (cfg->api_key && (strlen(cfg->api_key) > 400 || strpbrk(cfg->api_key, "\r\n"))) {
        snprintf(err, errlen, "$VLLM_API_KEY is longer than 400 bytes or has a line break");
        return -EINVAL;
    }
    return 0;
}

int k8s_discovery_init(struct k8s_discovery *d, uv_loop_t *loop, struct router *r,
                       const struct k8s_discovery_config *cfg, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    d->loop = loop;
    d->router = r;
    d->port = cfg->port;
    if (k8s_discovery_check(cfg, err, errlen) < 0)
        return -EINVAL;
    if (cfg->api_key && cfg->api_key[0])
        snprintf(d->auth, sizeof(d->auth), "Authorization: Bearer %s", cfg->api_key);
    int rc = load_config(d, cfg->kubeconfig, err, errlen);
    if (rc < 0)
        return rc;
    const char *ns = cfg->namespace ? cfg->namespace : d->cfg.namespace;
    if (!ns || !namespace_valid(ns)) {
        snprintf(err, errlen, "%s: the namespace \"%s\" is not a valid namespace name",
                 d->cfg.source, ns ? ns : "");
        return -EINVAL;
    }
    snprintf(d->namespace, sizeof(d->namespace), "%s", ns);
    rc = fetcher_init(&d->fetcher, loop);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the HTTP client: %s", strerror(-rc));
        return rc;
    }
    k8s_client_init(&d->client, loop, &d->fetcher, &d->cfg);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", d->namespace);
    struct k8s_informer_opts o = {
        .path = path,
        .label_selector = cfg->label_selector,
        .on_add = on_add,
        .on_update = on_update,
        .on_delete = on_delete,
        .on_error = on_error,
        .ud = d,
    };
    rc = k8s_informer_init(&d->inf, loop, &d->client, &o);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set the pod informer up: %s", strerror(-rc));
        fetcher_close(&d->fetcher, NULL);
        return rc;
    }
    uv_timer_init(loop, &d->tick);
    uv_timer_init(loop, &d->reap);
    d->tick.data = d->reap.data = d;
    d->open_handles = 4; /* tick, reap, the informer, the fetcher */
    r->on_drained = on_drained;
    r->hooks_ud = d;
    return 0;
}

int k8s_discovery_start(struct k8s_discovery *d)
{
    int rc = k8s_informer_start(&d->inf);
    if (rc < 0)
        return rc;
    d->started = true;
    uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
    log_info("kubernetes discovery: pods of namespace %s matching \"%s\" (API %s, from %s), "
             "port %d", d->namespace, d->inf.selector, d->cfg.server, d->cfg.source, d->port);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_inf_closed(struct k8s_informer *inf)
{
    handle_closed(inf->o.ud);
}

static void on_fetcher_closed(struct fetcher *f)
{
    handle_closed(f->data);
}

void k8s_discovery_close(struct k8s_discovery *d, void (*on_closed)(struct k8s_discovery *d))
{
    if (d->closing)
        return;
    d->closing = true;
    d->on_closed = on_closed;
    if (d->router->hooks_ud == d) {
        d->router->on_drained = NULL;
        d->router->hooks_ud = NULL;
    }
    while (d->pods)
        pod_unlink_free(d->pods); /* the router's release frees their backends */
    k8s_informer_close(&d->inf, on_inf_closed);
    d->fetcher.data = d;
    fetcher_close(&d->fetcher, on_fetcher_closed);
    uv_close((uv_handle_t *)&d->tick, on_timer_closed);
    uv_close((uv_handle_t *)&d->reap, on_timer_closed);
}

void k8s_discovery_release(struct k8s_discovery *d)
{
    k8s_config_release(&d->cfg);
}
