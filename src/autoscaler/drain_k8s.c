/* drain_k8s: the router's in-flight counts as pod deletion costs before a
 * scale-down. See drain_k8s.h. */
#include "autoscaler/drain_k8s.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "k8s/deletion_cost.h"

struct drain_round {
    struct drain_k8s *d;
    struct drain_round *prev, *next;
    char ns[K8S_NAME_MAX + 1];
    char *selector;
    int32_t from, to;
    void (*go)(void *arg);
    void *arg;
    struct k8s_router_load_req *load; /* the router's /metrics, in flight */
    struct k8s_deletion_cost *cost;   /* the pods' annotations, in flight */
};

int drain_k8s_init(struct drain_k8s *d, uv_loop_t *loop, struct fetcher *f, struct k8s_client *c,
                   const char *router_url)
{
    memset(d, 0, sizeof(*d));
    d->loop = loop;
    d->f = f;
    d->c = c;
    size_t n = strlen(router_url);
    while (n && router_url[n - 1] == '/')
        n--;
    d->metrics_url = malloc(n + sizeof("/metrics"));
    if (!d->metrics_url)
        return -ENOMEM;
    memcpy(d->metrics_url, router_url, n);
    memcpy(d->metrics_url + n, "/metrics", sizeof("/metrics"));
    return 0;
}

/* The round is over: the scale-down goes on. */
static void round_finish(struct drain_round *r)
{
    struct drain_k8s *d = r->d;
    if (r->prev)
        r->prev->next = r->next;
    else
        d->rounds = r->next;
    if (r->next)
        r->next->prev = r->prev;
    void (*go)(void *) = r->go;
    void *arg = r->arg;
    free(r->selector);
    free(r);
    go(arg);
}

static void on_cost(void *ud, const char *err, const struct k8s_deletion_cost_stats *st)
{
    struct drain_round *r = ud;
    r->cost = NULL;
    if (err) {
        r->d->errors_total++;
        log_warn("scale-down %s/%s %d -> %d: pod deletion costs not all set (%s); the ReplicaSet "
                 "chooses the rest",
                 r->ns, r->selector, r->from, r->to, err);
    } else {
        log_info("scale-down %s/%s %d -> %d: pod deletion costs from the router's in-flight "
                 "requests: %u pods, %u annotated, %u already right",
                 r->ns, r->selector, r->from, r->to, st->pods, st->patched, st->unchanged);
    }
    round_finish(r);
}

static void on_loads(void *ud, const char *err, const struct k8s_backend_load *loads, size_t n)
{
    struct drain_round *r = ud;
    struct drain_k8s *d = r->d;
    r->load = NULL;
    if (err) {
        d->errors_total++;
        log_warn("scale-down %s/%s %d -> %d: the router's in-flight counts are unavailable (%s): "
                 "no pod deletion costs, the ReplicaSet chooses",
                 r->ns, r->selector, r->from, r->to, err);
        round_finish(r);
        return;
    }
    struct k8s_deletion_cost_opts o = {
        .namespace = r->ns, .selector = r->selector, .loads = loads, .nloads = n};
    int rc = k8s_deletion_cost_start(d->c, d->loop, &o, on_cost, r, &r->cost);
    if (rc < 0) {
        d->errors_total++;
        log_warn("scale-down %s/%s: cannot set pod deletion costs: %s", r->ns, r->selector,
                 strerror(-rc));
        round_finish(r);
    }
}

int drain_k8s_before_scale_down(void *ud, const char *ns, const char *selector, int32_t from,
                                int32_t to, void (*go)(void *arg), void *arg)
{
    struct drain_k8s *d = ud;
    if (!selector || !*selector) {
        log_warn("scale-down %s %d -> %d: the target's /scale has no selector: no pod deletion "
                 "costs",
                 ns, from, to);
        return -EINVAL; /* patched at once */
    }
    struct drain_round *r = calloc(1, sizeof(*r));
    if (!r || !(r->selector = strdup(selector))) {
        free(r);
        return -ENOMEM;
    }
    r->d = d;
    snprintf(r->ns, sizeof(r->ns), "%s", ns);
    r->from = from;
    r->to = to;
    r->go = go;
    r->arg = arg;
    int rc = k8s_router_load_fetch(d->f, d->metrics_url, DRAIN_K8S_ROUTER_TIMEOUT_MS, on_loads, r,
                                   &r->load);
    if (rc < 0) {
        free(r->selector);
        free(r);
        return rc;
    }
    r->next = d->rounds;
    if (d->rounds)
        d->rounds->prev = r;
    d->rounds = r;
    d->rounds_total++;
    return 0;
}

void drain_k8s_close(struct drain_k8s *d)
{
    while (d->rounds) {
        struct drain_round *r = d->rounds;
        if (r->load)
            k8s_router_load_cancel(r->load);
        if (r->cost)
            k8s_deletion_cost_cancel(r->cost);
        round_finish(r);
    }
    free(d->metrics_url);
    d->metrics_url = NULL;
}
