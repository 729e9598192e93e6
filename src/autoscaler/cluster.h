/* cluster: ScaledObjects from a Kubernetes cluster, as KEDA's operator reads
 * them — an informer on keda.sh/v1alpha1 scaledobjects (one namespace, or all
 * of them, keyed namespace/name), each object decoded by the same decoder
 * and rules as a file (its JSON is YAML), run by the autoscaler against its
 * scaleTargetRef's /scale subresource (target_k8s.h), and its status written
 * back as KEDA writes it (conditions, lastActiveTime, originalReplicaCount,
 * scaleTargetKind, scaleTargetGVKR, externalMetricNames, health, hpaName,
 * pausedReplicaCount). docs/autoscaler.md.
 *
 *   - an object added: decoded; invalid -> logged with its namespace/name
 *     and the decoder's message, status Ready=False ScaledObjectCheckFailed,
 *     nothing scaled; valid -> autoscaler_add;
 *   - updated: a change of spec or annotations (compared as the decoder's
 *     input, so ebb's own status writes change nothing) re-creates that
 *     object's state, with lastActiveTime carried over; anything else only
 *     keeps the newest copy;
 *   - deleted: autoscaler_remove (timers stop; the target is left as is);
 *   - the API unreachable, a 401, a cut watch: the informer re-lists with
 *     back-off, and the objects it knew keep running meanwhile.
 * Status is written through k8s_update on .../scaledobjects/NAME/status (409:
 * read again, at most 5 tries), only when it changed, at most one write per
 * object in flight, a lastActiveTime that alone moved at most every
 * CLUSTER_ACTIVE_WRITE_S, and only while the autoscaler is started (the
 * leader writes, and records Events; a new leader takes every object on
 * again: its status, and a ScaledObjectReady or ScaledObjectCheckFailed). */
#ifndef EBB_AUTOSCALER_CLUSTER_H
#define EBB_AUTOSCALER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "autoscaler/autoscaler.h"
#include "autoscaler/target_k8s.h"
#include "config/config.h"
#include "k8s/informer.h"

#define CLUSTER_ACTIVE_WRITE_S                                                                     \
    15.0 /* a status change of lastActiveTime only, written at most this often */
#define CLUSTER_STATUS_ATTEMPTS 5 /* tries of one status write (409 -> read again) */
#define CLUSTER_RETRY_MS 10000    /* status of objects without rounds, written again if needed */

struct cl_write;

/* One ScaledObject of the cluster. */
struct cl_entry {
    struct cluster *cl;
    char key[2 * K8S_NAME_MAX + 2]; /* namespace/name */
    char ns[K8S_NAME_MAX + 1], name[K8S_NAME_MAX + 1];
    char *input;             /* what the decoder read (spec, annotations), for changes */
    struct config cfg;       /* its own, decoded from input */
    char check_failed[1024]; /* why it is invalid, "" when valid */
    struct target_k8s target;
    struct as_object *obj; /* NULL when invalid */
    double created;        /* metadata.creationTimestamp, unix seconds */
    bool has_original;     /* status.originalReplicaCount is known */
    int32_t original;
    char *written;       /* the status last written (printed JSON), or NULL */
    char *written_quiet; /* the same without lastActiveTime */
    double written_at;
    struct cl_write *w; /* the status write in flight */
};

struct k8s_events;

struct cluster_options {
    const char *namespace_;                  /* NULL: every namespace, as KEDA's operator */
    /* Kubernetes Events on the ScaledObjects, as KEDA's operator records
     * them (ScaledObjectReady, ScaledObjectCheckFailed, KEDAScaleTarget-
     * Activated/Deactivated(Failed)) and, for the HPA's 1 <-> N writes, the
     * HPA's SuccessfulRescale/FailedRescale. NULL: none. Not owned. */
    struct k8s_events *events;
    struct target_k8s_options target;        /* for every target */
    unsigned backoff_min_ms, backoff_max_ms; /* the informer's; 0: its defaults */
};

struct cluster {
    uv_loop_t *loop;
    struct autoscaler *as; /* not owned; its hooks_ud and on_round are set by cluster_init */
    struct k8s_client *c;  /* not owned */
    struct cluster_options o;
    struct k8s_informer inf;
    bool inf_up, closing;
    /* Tries failed status writes again for objects that have no rounds of
     * their own (invalid or paused), every CLUSTER_RETRY_MS. */
    uv_timer_t retry;
    int parts_closing;
    struct cl_entry **entries;
    size_t n, cap;
    struct cl_write *writes; /* status writes in flight, each until its callback */
    void (*on_closed)(struct cluster *cl);
    uint64_t status_writes, status_errors, invalid;
    void *data;
};

/* Sets cl up (nothing is sent yet) and hooks it to as (opts.on_round,
 * opts.hooks_ud): as and c outlive cl. 0 or a negative errno with a message
 * in err. */
int cluster_init(struct cluster *cl, uv_loop_t *loop, struct autoscaler *as, struct k8s_client *c,
                 const struct cluster_options *opts, char *err, size_t errlen);
/* Lists and watches the ScaledObjects until closed. 0 or a negative errno. */
int cluster_start(struct cluster *cl);
/* Writes every object's status now if it changed (after autoscaler_start,
 * e.g. when leadership is gained). */
void cluster_sync_status(struct cluster *cl);
/* Stops the informer and forgets the objects (their as_objects are left to
 * autoscaler_stop, which must have been called); on_closed from the loop.
 * Status writes in flight end with the client's fetcher: free what they
 * hold with cluster_release after closing it. */
void cluster_close(struct cluster *cl, void (*on_closed)(struct cluster *cl));
void cluster_release(struct cluster *cl);

/* The entry of namespace/name, or NULL. */
struct cl_entry *cluster_find(const struct cluster *cl, const char *key);

/* ---- cluster_status.c: what KEDA writes, pure ---- */

/* The status of e as KEDA would write it, built from its object's live state
 * (or, when invalid, Ready=False ScaledObjectCheckFailed with the reason).
 * with_last_active false leaves lastActiveTime out (to see whether anything
 * else changed). NULL when out of memory. */
cJSON *cluster_status_build(const struct cl_entry *e, bool with_last_active);

/* "2026-11-28T03:30:57Z" (a fraction allowed) -> unix seconds: 0 or
 * -EINVAL. (prom_rfc3339 writes them.) */
int cluster_time_parse(const char *s, double *out);

#endif
