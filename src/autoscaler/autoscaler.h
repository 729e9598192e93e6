/* autoscaler: the live loop — for every ScaledObject of a configuration, the
 * KEDA operator's scale loop and the HPA controller KEDA would create, on one
 * libuv loop (reference/keda-hpa-spec.md §1, §4.1; docs/autoscaler.md).
 *
 * The decisions are the pure ones of scale/ (keda_poll, hpa_sync); this file
 * only feeds them: trigger results from trigger.c, the target's replica
 * counts through struct as_target, and the time. Each ScaledObject has
 *   - a poll timer at pollingInterval, start to start, first poll at once
 *     (KEDA's startScaleLoop): the triggers are queried, keda_poll decides
 *     0 <-> 1, idle and min, and the decision is written to the target;
 *   - an HPA sync timer (15 s, kube-controller-manager's default): the
 *     triggers are queried again, live, unless a trigger says
 *     useCachedMetrics (KEDA's GetScaledObjectMetrics), keda_hpa_metrics
 *     turns them into the External metrics the HPA reads, and hpa_sync
 *     decides 1 <-> N.
 * Queries for one ScaledObject never overlap: a round that comes due while
 * another is in flight runs when it ends (KEDA serializes checks the same
 * way). autoscaler_evaluate_now starts a poll at once — ebb's answer to
 * "0 -> 1 waits for the next poll" (design.md §2).
 *
 * Use:
 *     autoscaler_init(&as, loop, &cfg, &opts, err, sizeof err);
 *     for each ScaledObject: autoscaler_bind(&as, i, &target);   // where replicas go
 *     autoscaler_start(&as);
 *     ...
 *     autoscaler_stop(&as, on_stopped);                          // then autoscaler_release
 * Objects may also come and go at run time (autoscaler_add, autoscaler_remove:
 * ScaledObjects of a cluster, cluster.h), and the work may be suspended and
 * started again (leader election) with every object's state kept. */
#ifndef EBB_AUTOSCALER_AUTOSCALER_H
#define EBB_AUTOSCALER_AUTOSCALER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "autoscaler/trigger.h"
#include "base/buf.h"
#include "config/config.h"
#include "http/fetch.h"
#include "prom/expo.h"
#include "scale/formula.h"
#include "scale/hpa.h"
#include "scale/keda.h"

#define AS_EVENTS_MAX 32 /* recent scale events kept per ScaledObject */

/* What an asynchronous target operation gives back: err NULL on success,
 * else a line for people. Runs from the loop, never inside the call that
 * started it. */
typedef void (*as_target_done_cb)(void *ud, const char *err);

/* Where a ScaledObject's replicas are: a local pool, or a Kubernetes
 * workload's scale subresource (target_k8s.h). The first four are
 * synchronous; the last three are for targets behind an API and may be
 * NULL (an in-process pool needs none of them). */
struct as_target_ops {
    int32_t (*spec_replicas)(void *t);   /* scale.spec.replicas */
    int32_t (*status_replicas)(void *t); /* scale.status.replicas */
    int32_t (*ready_replicas)(void *t);  /* ready pods */
    /* Writes spec.replicas. 0, or a negative errno with a message in err.
     * Unused when scale_async is set. */
    int (*scale)(void *t, int32_t replicas, char *err, size_t errlen);
    /* Reads the counts again before each decision; done(ud, err) once. A
     * round whose refresh failed decides nothing: no scaling from a count
     * that is not known. 0, or a negative errno (done does not run). */
    int (*refresh)(void *t, as_target_done_cb done, void *ud);
    /* Writes spec.replicas (from: the count the decision saw); done(ud,
     * err) once. 0, or a negative errno (done does not run). */
    int (*scale_async)(void *t, int32_t from, int32_t replicas, as_target_done_cb done, void *ud);
    /* Forgets the pending done callbacks: the object is going away. */
    void (*cancel)(void *t);
};

struct as_target {
    const struct as_target_ops *ops;
    void *t;
};

struct as_event;
struct as_object;

struct as_options {
    double hpa_sync_period;     /* seconds, kube-controller-manager's 15 */
    double tolerance;           /* --horizontal-pod-autoscaler-tolerance, 0.1 */
    int32_t down_stabilization; /* seconds, --horizontal-pod-autoscaler-downscale-stabilization, 300 */
    bool keda_strict;           /* several series: KEDA's error instead of their sum */
    /* Answers a prometheus trigger in-process instead of over HTTP (ebb up's
     * embedded store): fills *out as a trigger poll would, at once. NULL:
     * every trigger queries its serverAddress. */
    void (*local_query)(void *ud, const struct cfg_trigger *t, double now, bool strict,
                        struct trigger_result *out);
    void *local_ud;
    /* Hooks for other modules, each may be NULL; hooks_ud is theirs.
     * on_event: a scale event was recorded (written or failed) for the
     * ScaledObject ns/name: Kubernetes Events plug in here. on_round: a
     * round of o's ended (its conditions, decision or target may have
     * changed): status writers plug in here. Neither may remove o. */
    void (*on_event)(void *ud, const char *ns, const char *name, const struct as_event *e);
    void (*on_round)(void *ud, struct as_object *o);
    void *hooks_ud;
};

void as_options_defaults(struct as_options *o);

/* One write of a target's replicas, for status. */
struct as_event {
    double at;          /* unix seconds */
    int32_t from, to;
    const char *source; /* "keda" or "hpa" */
    char reason[160];   /* "ScaleFromZero", "s0-prometheus above target", ... */
    bool failed;        /* the write failed (reason says why) */
};

/* A condition as KEDA's status shows it. */
struct as_condition {
    const char *status; /* "True", "False", "Unknown" */
    const char *reason;
};

/* What the last query of one trigger gave, for status and /metrics. */
struct as_trigger_state {
    struct as_object *obj;    /* its object (the query callback's context) */
    bool polled;
    double at;                /* unix seconds of the last result */
    struct trigger_result last;
    bool active;              /* keda_scaler_active */
    bool has_metric;
    double metric_value;      /* keda_scaler_metrics_value (what the HPA gets) */
    uint64_t errors_total;    /* keda_scaler_detail_errors_total */
    uint64_t empty_total;     /* keda_scaler_empty_upstream_responses_total */
    char metric_name[HPA_METRIC_NAME_MAX]; /* "s0-prometheus" */
};

enum as_round { AS_ROUND_NONE, AS_ROUND_POLL, AS_ROUND_HPA };

/* A write of the target's replicas in flight (an asynchronous target). */
struct as_write {
    enum as_round kind; /* the round that decided it */
    int32_t from, to;
    const char *source;
    char reason[96];
    double now;
};

struct autoscaler;

/* One ScaledObject, live. */
struct as_object {
    struct autoscaler *as;
    const struct cfg_scaled_object *cfg; /* borrowed: the configuration outlives the object */
    void *data;                          /* its owner's (autoscaler_add) */
    struct so_spec spec;                 /* a copy; force-activation toggled by evaluate-now */
    bool has_formula;
    struct formula formula;
    struct keda_state keda;
    struct hpa_spec hpa;
    struct hpa_state hpa_state;
    struct as_target target;
    double created; /* unix seconds: creationTimestamp for initialCooldownPeriod */

    uv_timer_t poll_timer, hpa_timer;
    enum as_round round;          /* the round in flight */
    bool poll_due, hpa_due;       /* came due while another round was in flight */
    bool held_demand;             /* evaluate-now for held requests: active at zero */
    unsigned pending;             /* trigger queries in flight */
    struct trigger_poll *polls[SO_TRIGGERS_MAX];
    struct keda_sample samples[SO_TRIGGERS_MAX];
    double round_started;
    bool refreshing;           /* the target's refresh is part of the round in flight */
    bool writing;              /* the round's write is in flight (o->write) */
    struct as_write write;
    char target_err[256];      /* the last failed refresh, "" when the last one worked */
    uint64_t target_errors;    /* refreshes and writes that failed */
    bool timers_up;            /* its timers are initialized (at the first start) */
    bool removed;              /* autoscaler_remove: its handles are closing */
    int closing;               /* its handles still closing */

    struct as_trigger_state triggers[SO_TRIGGERS_MAX];
    bool has_decision;
    struct keda_decision decision; /* the last poll's */
    bool has_hpa_decision;
    struct hpa_decision hpa_decision;
    struct as_condition ready, active, fallback, paused;
    int32_t desired;               /* what ebb last asked of the target */
    uint64_t errors_total;         /* keda_scaled_object_errors_total */
    uint64_t scale_ups, scale_downs;
    double loop_lateness;          /* keda_internal_scale_loop_latency_seconds */
    double next_poll_at;

    struct as_event events[AS_EVENTS_MAX]; /* ring */
    unsigned n_events;                     /* ever recorded */
};

#define AS_OBJECTS_MAX 10000 /* ScaledObjects one autoscaler runs */

struct autoscaler {
    uv_loop_t *loop;
    const struct config *cfg; /* borrowed; NULL when every object comes from autoscaler_add */
    struct as_options opts;
    struct fetcher fetcher;
    struct as_object **objs; /* n_objs of them, in the order added */
    size_t n_objs, cap_objs;
    double started_at;
    bool started, stopping;
    unsigned closing; /* handles still closing */
    void (*on_stopped)(struct autoscaler *as);
    /* ebb_autoscaler_replica_ready_seconds: start to ready, from the targets. */
    struct prom_histogram ready_seconds;
    uint64_t ready_cells[16];
    void *data; /* the owner's */
};

/* Sets up one as_object per ScaledObject of cfg (which must be valid and
 * outlive the autoscaler). cfg NULL: no object yet (they come from
 * autoscaler_add, e.g. from a cluster). 0 or a negative errno with a
 * message in err. */
int autoscaler_init(struct autoscaler *as, uv_loop_t *loop, const struct config *cfg,
                    const struct as_options *opts, char *err, size_t errlen);

/* Adds a ScaledObject at run time: so (valid; it and its configuration
 * outlive the object) scaling target, with data for its owner. created:
 * its creationTimestamp (unix seconds; initialCooldownPeriod counts from
 * it); last_active > 0: status.lastActiveTime as persisted. When the
 * autoscaler is started, the first poll runs at once. NULL with a message
 * in err (out of memory, too many objects, a formula that does not
 * compile). */
struct as_object *autoscaler_add(struct autoscaler *as, const struct cfg_scaled_object *so,
                                 struct as_target target, void *data, double created,
                                 double last_active, char *err, size_t errlen);

/* Removes o: its queries are cancelled, its timers stop and its memory goes
 * from the loop; the target is not touched (and its pending callbacks are
 * cancelled). o must not be used after. Not from o's own hooks. */
void autoscaler_remove(struct autoscaler *as, struct as_object *o);

/* Where ScaledObject i (of cfg) scales. Every object needs one before start. */
void autoscaler_bind(struct autoscaler *as, size_t i, struct as_target target);

/* Arms the timers; the first poll of every object runs at once. 0 or -EINVAL
 * when an object has no target. May be called again after
 * autoscaler_suspend: a leader-election callback starts and suspends the
 * work while the objects and their state stay. */
int autoscaler_start(struct autoscaler *as);

/* Stops scaling without forgetting anything: timers stop, queries, reads
 * and writes in flight are cancelled (a write already sent may still land).
 * autoscaler_start resumes. For a lost leadership. */
void autoscaler_suspend(struct autoscaler *as);

/* Polls object i now (or as soon as its round in flight ends) and restarts
 * its polling interval from then. held: requests are waiting for a replica
 * (the router holds them), which counts as activity for this poll only, so
 * a target at zero scales up without waiting for the metrics to show it. */
void autoscaler_evaluate_now(struct autoscaler *as, size_t i, bool held);

/* The object scaling the named target, or -1. */
long autoscaler_find_target(const struct autoscaler *as, const char *target_name);

/* A replica of a target became ready start_to_ready seconds after it started. */
void autoscaler_observe_ready(struct autoscaler *as, double start_to_ready);

/* Cancels queries, stops timers, closes handles, then on_stopped (objects
 * removed earlier and still closing included). Targets are left as they
 * are. */
void autoscaler_stop(struct autoscaler *as, void (*on_stopped)(struct autoscaler *as));
void autoscaler_release(struct autoscaler *as);

/* Status (status.c). */
/* JSON: {"scaledObjects":[...]} with conditions, triggers, replicas, events. */
int autoscaler_status_json(const struct autoscaler *as, double now, struct buf *out);
/* JSON rows of `kubectl get hpa`: {"items":[{"name":..,"reference":..,...}]}. */
int autoscaler_hpa_json(const struct autoscaler *as, double now, struct buf *out);
/* KEDA's metric names (spec §7) and ebb_autoscaler_*. */
int autoscaler_metrics(const struct autoscaler *as, struct buf *out);

#endif
