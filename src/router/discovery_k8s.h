/* router/discovery_k8s: the router's backends from Kubernetes pods —
 * production-stack's `--service-discovery k8s` (vllm-stack-spec.md §1.5)
 * without its bugs (§6.2).
 *
 * The pods of one namespace that match a label selector are listed and
 * watched through the informer (k8s/informer.h). A pod becomes the backend
 * http://<podIP>:<port> when it is Ready — every container status ready (at
 * least one), a pod IP, no metadata.deletionTimestamp — and its /v1/models
 * has answered: data[].id are the models it serves (a failed answer is asked
 * again with back-off; the pod takes nothing until then). A pod that stops
 * being Ready or starts terminating is drained at once (its in-flight
 * requests finish, it gets nothing new) and removed when its last request
 * ends; a deleted pod is removed. While the informer re-lists (the watch
 * ended, the API server is unreachable or refuses us) the last known pods
 * keep serving, and the re-list reports what was deleted in the gap.
 * docs/router.md. */
#ifndef EBB_ROUTER_DISCOVERY_K8S_H
#define EBB_ROUTER_DISCOVERY_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <uv.h>

#include "http/fetch.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/informer.h"
#include "router/backend.h"

#define KDISC_MODELS_MAX BACKEND_MAX_MODELS /* models kept per pod; more are ignored */
#define KDISC_MODEL_ID_MAX 255              /* bytes of one model id */
#define KDISC_MODELS_BODY_MAX (1u << 20)    /* bytes of a /v1/models answer */
#define KDISC_FETCH_TIMEOUT_MS 5000         /* one /v1/models request */
#define KDISC_RETRY_MIN_MS 500              /* first wait before asking /v1/models again */
#define KDISC_RETRY_MAX_MS 10000            /* the wait doubles up to this */
#define KDISC_URL_MAX 96                    /* "http://[v6 address]:port" */

struct router;

struct k8s_discovery_config {
    const char *kubeconfig;     /* NULL: in-cluster when KUBERNETES_SERVICE_HOST is set, else
                                 * $KUBECONFIG or ~/.kube/config */
    const char *namespace;      /* NULL: the kubeconfig context's or the pod's own */
    const char *label_selector; /* "app=vllm"; required */
    int port;                   /* the engines' port in each pod */
    const char *api_key;        /* sent as a bearer token to /v1/models, or NULL */
};

/* Where a pod's backend is in the router. */
enum kpod_backend { KPOD_NONE, KPOD_ROUTED, KPOD_DRAINING };

/* One pod the informer reported. */
struct kpod {
    struct k8s_discovery *d;
    struct kpod *next;
    char name[K8S_NAME_MAX + 1];
    char url[KDISC_URL_MAX];  /* its backend's URL once it was Ready; "" before */
    bool ready;               /* as last reported */
    enum kpod_backend backend;
    struct fetch *fetch;      /* its /v1/models request in flight, or NULL */
    uv_timer_t retry;         /* the back-off before asking /v1/models again */
    unsigned retry_ms;        /* the next wait */
    unsigned failures;        /* /v1/models failures in a row */
};

struct k8s_discovery {
    uv_loop_t *loop;
    struct router *router; /* not owned; outlives the discovery */
    struct k8s_config cfg;
    struct fetcher fetcher;
    struct k8s_client client;
    struct k8s_informer inf;
    struct kpod *pods;
    unsigned npods;
    int port;
    char auth[512]; /* "Authorization: Bearer …" for /v1/models, or "" */
    char namespace[64];
    bool outage;              /* a list failed since the last good one */
    uint64_t outage_since_ms; /* loop time */
    unsigned outage_lists;    /* the informer's good lists when it began */
    uint64_t watch_error_ms;  /* loop time of the last watch that ended with an error */
    uv_timer_t tick;          /* notices the end of an outage */
    uv_timer_t reap;          /* removes drained backends, outside the router's callbacks */
    bool started, closing;
    unsigned open_handles; /* closed in k8s_discovery_close, then on_closed */
    void (*on_closed)(struct k8s_discovery *d);
};

/* Checks the flags' values (the selector, a namespace given, the API key)
 * before anything is read. 0, or -EINVAL with a message in err. */
int k8s_discovery_check(const struct k8s_discovery_config *cfg, char *err, size_t errlen);

/* Reads the Kubernetes configuration and sets d up for router r. 0, or a
 * negative errno with a message for people in err (a missing or invalid
 * kubeconfig, a bad namespace or selector). Either way d is released with
 * k8s_discovery_close (after 0) or k8s_discovery_release (after an error). */
int k8s_discovery_init(struct k8s_discovery *d, uv_loop_t *loop, struct router *r,
                       const struct k8s_discovery_config *cfg, char *err, size_t errlen);
/* Lists and watches the pods until closed. 0, or a negative errno. */
int k8s_discovery_start(struct k8s_discovery *d);
/* Stops watching and asking pods, leaves the router's backends as they are
 * (router_release frees them), closes every handle and calls on_closed
 * (may be NULL) from the loop; then d may be freed. */
void k8s_discovery_close(struct k8s_discovery *d, void (*on_closed)(struct k8s_discovery *d));
/* Frees what a failed k8s_discovery_init left. */
void k8s_discovery_release(struct k8s_discovery *d);

/* Pure readers, for tests. */

/* Whether a pod object is Ready for routing: status.containerStatuses
 * non-empty and all ready, a valid status.podIP (written to ip, iplen
 * bytes) and no metadata.deletionTimestamp. When it is not, *why (may be
 * NULL) says why, for the log. */
bool k8s_pod_routable(const cJSON *pod, char *ip, size_t iplen, const char **why);

/* The model ids of a /v1/models answer ({"data":[{"id":...},...]}): at most
 * max of them into ids (each KDISC_MODEL_ID_MAX + 1 bytes), in order,
 * without repeats. An id that is empty, too long or has control characters
 * is skipped; *skipped (may be NULL) counts those and the ones past max.
 * The count (> 0), or -EINVAL with err filled in when the body is not such
 * a list or holds no valid id. */
int k8s_models_parse(const char *body, size_t len, char (*ids)[KDISC_MODEL_ID_MAX + 1],
                     size_t max, size_t *skipped, char *err, size_t errlen);

#endif
