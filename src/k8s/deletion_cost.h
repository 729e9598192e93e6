/* k8s/deletion_cost: before a scale-down, the annotation
 * controller.kubernetes.io/pod-deletion-cost on the target's pods, so that
 * the ReplicaSet removes the least busy ones instead of the youngest
 * (docs/k8s.md).
 *
 * The busyness is the router's: how many requests it has in flight to each
 * backend, read from its /metrics — the series
 *     vllm:num_requests_running{server="http://10.0.0.5:8000"} 3
 * (production-stack's name, "Number of running requests as seen by the
 * router", src/router/metrics.c: the requests the router has sent to that
 * backend and not yet seen end; the label is the backend's URL).
 *
 * A round lists the pods by the target's label selector (the /scale
 * subresource's status.selector), gives each a cost and PATCHes the pods
 * whose annotation changes:
 *   - Ready, and the router knows its IP: the requests in flight to it (all
 *     its ports together), rounded, capped at INT32_MAX;
 *   - Ready, unknown to the router: 0;
 *   - not Ready or without an IP: -1, the lowest (deleted first; the
 *     ReplicaSet prefers not-ready pods anyway);
 *   - being deleted already: left alone.
 * The cost is a hint: a round that fails or times out still ends with done,
 * and the caller scales down anyway. */
#ifndef EBB_K8S_DELETION_COST_H
#define EBB_K8S_DELETION_COST_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>
#include <uv.h>

#include "http/fetch.h"
#include "k8s/client.h"

#define K8S_DELETION_COST_ANNOTATION "controller.kubernetes.io/pod-deletion-cost"
#define K8S_DELETION_COST_NOT_READY (-1)
#define K8S_DELETION_COST_MAX_PODS 1000    /* a bigger list is an error */
#define K8S_DELETION_COST_TIMEOUT_MS 10000 /* a whole round, by default */
#define K8S_DELETION_COST_PARALLEL 8       /* PATCHes in flight at once */

#define K8S_ROUTER_INFLIGHT_METRIC "vllm:num_requests_running"
#define K8S_ROUTER_INFLIGHT_LABEL "server"
#define K8S_ROUTER_LOAD_MAX 4096          /* backends read from one /metrics */
#define K8S_ROUTER_METRICS_MAX (8u << 20) /* bytes of the router's /metrics */
#define K8S_ROUTER_URL_MAX 255

/* What the router has in flight to one backend. */
struct k8s_backend_load {
    char url[K8S_ROUTER_URL_MAX + 1]; /* "http://10.0.0.5:8000", as the router labels it */
    double inflight;
};

/* ---------- the router's view ---------- */

/* Reads the K8S_ROUTER_INFLIGHT_METRIC series of a /metrics body (the
 * Prometheus text format, prom/textparse.h) into out[0..cap): one row per
 * server label, in the order met. 0 with *n set, or -EINVAL (not the text
 * format: err says where) or -E2BIG (more than cap backends). */
int k8s_router_load_parse(const char *body, size_t len, struct k8s_backend_load *out, size_t cap,
                          size_t *n, char *err, size_t errlen);

/* err NULL on success; loads[0..n) valid during the call only. */
typedef void (*k8s_router_load_cb)(void *ud, const char *err, const struct k8s_backend_load *loads,
                                   size_t n);
struct k8s_router_load_req;

/* GETs metrics_url ("http://router:8000/metrics") within timeout_ms and
 * parses it as above, at most K8S_ROUTER_LOAD_MAX backends and
 * K8S_ROUTER_METRICS_MAX bytes. cb runs once, from the loop. 0, or a negative
 * errno (cb does not run then). *out (may be NULL) allows a cancel until cb
 * runs. */
int k8s_router_load_fetch(struct fetcher *f, const char *metrics_url, long timeout_ms,
                          k8s_router_load_cb cb, void *ud, struct k8s_router_load_req **out);
/* Cancels the fetch: cb does not run. Not from inside cb. */
void k8s_router_load_cancel(struct k8s_router_load_req *q);

/* ---------- the costs ---------- */

/* One pod's verdict. */
struct k8s_pod_cost {
    char name[K8S_NAME_MAX + 1];
    long cost;
    bool change; /* its annotation is absent or says something else: to PATCH */
};

/* Pure: the cost of each pod of items (a PodList's items) given the
 * router's loads, by the rules above, into out[0..cap) (pods being deleted,
 * and items whose name is not a pod name, are left out). 0 with *n set, or
 * -E2BIG for more than cap pods. */
int k8s_deletion_cost_plan(const cJSON *items, const struct k8s_backend_load *loads, size_t nloads,
                           struct k8s_pod_cost *out, size_t cap, size_t *n);

struct k8s_deletion_cost_opts {
    const char *namespace; /* of the pods (copied) */
    const char *selector; /* "app=vllm": the /scale status.selector (copied); NULL or "": refused */
    const struct k8s_backend_load *loads; /* copied; at most K8S_ROUTER_LOAD_MAX */
    size_t nloads;
    long timeout_ms; /* the whole round; 0: K8S_DELETION_COST_TIMEOUT_MS */
};

/* What a round did. */
struct k8s_deletion_cost_stats {
    unsigned pods;      /* listed (and not being deleted) */
    unsigned patched;   /* annotation written */
    unsigned unchanged; /* already right: not PATCHed */
    unsigned failed;    /* PATCH failed or not sent in time */
};

/* err NULL when every pod that needed it was annotated; else the first
 * failure, for people ("GET /api/v1/namespaces/default/pods: HTTP 403: ...",
 * "2 of 5 pods not annotated: PATCH ...: HTTP 404: ...", "timed out after
 * 10.0 s"). st is valid during the call only. */
typedef void (*k8s_deletion_cost_cb)(void *ud, const char *err,
                                     const struct k8s_deletion_cost_stats *st);

struct k8s_deletion_cost;

/* Starts a round: list, plan, PATCH (K8S_DELETION_COST_PARALLEL at once).
 * done runs exactly once, from the loop, unless the round is cancelled: on
 * success, on any error, and when timeout_ms has passed. 0, or -EINVAL (no
 * namespace or selector), -E2BIG (too many loads), -ENOMEM: done does not run
 * then. *out (may be NULL) allows a cancel until done runs; the round's
 * memory goes from the loop after done. Start and cancel it before closing
 * the client's fetcher. */
int k8s_deletion_cost_start(struct k8s_client *c, uv_loop_t *loop,
                            const struct k8s_deletion_cost_opts *o, k8s_deletion_cost_cb done,
                            void *ud, struct k8s_deletion_cost **out);
/* Ends a round early: requests in flight are cancelled, done does not run.
 * Not from inside done. */
void k8s_deletion_cost_cancel(struct k8s_deletion_cost *d);

#endif
