/* drain_k8s: the scale-down drain on Kubernetes. Before a target's replicas
 * go down, the router's in-flight counts per pod (its /metrics) become each
 * pod's controller.kubernetes.io/pod-deletion-cost, so the ReplicaSet
 * removes the least busy pods (k8s/deletion_cost.h); then the PATCH of
 * /scale goes out. It is target_k8s's before_scale_down hook.
 *
 * A hint, never a blocker: with the router unreachable, the pods unlisted or
 * a PATCH refused, the scale-down goes on (the ReplicaSet still prefers pods
 * that are not Ready), with a warning. docs/autoscaler.md. */
#ifndef EBB_AUTOSCALER_DRAIN_K8S_H
#define EBB_AUTOSCALER_DRAIN_K8S_H

#include <stdint.h>

#include <uv.h>

#include "http/fetch.h"
#include "k8s/client.h"

#define DRAIN_K8S_ROUTER_TIMEOUT_MS 5000 /* the router's /metrics */

struct drain_round;

struct drain_k8s {
    uv_loop_t *loop;
    struct fetcher *f;    /* not owned */
    struct k8s_client *c; /* not owned */
    char *metrics_url;    /* the router's /metrics */
    struct drain_round *rounds; /* in progress */
    uint64_t rounds_total, errors_total;
};

/* router_url: the router's base URL ("http://ebb-router.default.svc:80").
 * 0, or -ENOMEM. */
int drain_k8s_init(struct drain_k8s *d, uv_loop_t *loop, struct fetcher *f, struct k8s_client *c,
                   const char *router_url);

/* target_k8s_options.before_scale_down (ud: the drain_k8s): go(arg) runs
 * once the pods are annotated or the attempt failed. 0. */
int drain_k8s_before_scale_down(void *ud, const char *ns, const char *selector, int32_t from,
                                int32_t to, void (*go)(void *arg), void *arg);

/* Cancels the rounds in progress, each one's go(arg) run at once (call it
 * after the targets are released: go then only frees arg), and frees d.
 * Before the fetcher closes. */
void drain_k8s_close(struct drain_k8s *d);

#endif
