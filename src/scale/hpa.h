/* hpa: the Kubernetes HPA controller's replica decision for the HPA KEDA
 * creates (reference/keda-hpa-spec.md §5): External metrics with AverageValue
 * or Value targets and the tolerance, max over metrics, the legacy
 * normalization when behavior is nil, and the behavior path (stabilization
 * windows, policies, selectPolicy). Pure: the caller reads the scale target
 * and the metrics, passes them and the time in, and writes the result.
 *
 *   hpa_spec_from_so(so, &h);           once per ScaledObject (and on change)
 *   hpa_state_init(&st);                when the HPA is created
 *   every sync period (15 s):
 *     hpa_sync(&h, &st, &in, &d);
 *     if (d.rescale && write(d.replicas) ok) hpa_scaled(&h, &st, in.spec_replicas,
 *                                                       d.replicas, in.now);
 *
 * Histories are fixed arrays: recommendations that can no longer change a
 * decision (older than every window, or dominated by a newer one) are
 * dropped, so results stay exact; see docs/scale.md for the bounds. */
#ifndef EBB_SCALE_HPA_H
#define EBB_SCALE_HPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scale/spec.h"

#define HPA_METRICS_MAX SO_TRIGGERS_MAX
#define HPA_METRIC_NAME_MAX 96
#define HPA_RECS_MAX 128  /* recommendations kept (stabilization) */
#define HPA_EVENTS_MAX 64 /* scale events kept per direction (policies) */

struct hpa_metric_spec {
    char name[HPA_METRIC_NAME_MAX]; /* "s0-prometheus", "composite-metric" */
    enum so_metric_type type;       /* SO_AVERAGE_VALUE or SO_VALUE */
    int64_t target_milli;           /* target.averageValue or target.value */
};

/* The HPA KEDA would create for a ScaledObject, plus the controller flags. */
struct hpa_spec {
    char name[SO_NAME_MAX + 16]; /* keda-hpa-<so>, or horizontalPodAutoscalerConfig.name */
    char ref_kind[SO_KIND_MAX];  /* scaleTargetRef.kind */
    char ref_name[SO_REF_MAX];   /* scaleTargetRef.name */
    int32_t min_replicas;
    int32_t max_replicas;
    bool has_behavior;            /* false: the legacy path (§5.5) */
    struct hpa_behavior behavior; /* with the API server's defaults filled in */
    double tolerance;             /* --horizontal-pod-autoscaler-tolerance, 0.1 */
    int32_t down_stabilization_s; /* --horizontal-pod-autoscaler-downscale-stabilization, 300 */
    size_t n_metrics;
    struct hpa_metric_spec metrics[HPA_METRICS_MAX];
};

/* Builds the HPA for so (§2.1 "Generated HPA"): minReplicas max(min, 1),
 * maxReplicas, behavior copied and defaulted (paused-scale-in/out make the
 * scaleDown/scaleUp selectPolicy Disabled), one External metric per
 * non-cpu/memory trigger ("s<index>-<type>") or one "composite-metric" with
 * scalingModifiers. so must have passed so_spec_validate. 0 or -EINVAL. */
int hpa_spec_from_so(const struct so_spec *so, struct hpa_spec *h);

/* One External metric as the external metrics API returned it. */
struct hpa_sample {
    bool ok;             /* false: the metric could not be read */
    int64_t total_milli; /* sum of the items' MilliValue() */
};

struct hpa_rec {
    double ts;        /* seconds */
    int32_t replicas; /* the recommendation before normalization */
};

struct hpa_event {
    double ts;
    int32_t change; /* replicas added (up) or removed (down), > 0 */
    bool outdated;  /* older than the direction's longest policy period */
};

struct hpa_metric_status {
    bool known;            /* false: `kubectl get hpa` shows <unknown> */
    int64_t current_milli; /* current.averageValue (AverageValue) or current.value (Value) */
};

enum hpa_cond { HPA_COND_UNSET, HPA_COND_TRUE, HPA_COND_FALSE };

/* status of the HPA object, as the controller writes it. */
struct hpa_status {
    int32_t current_replicas; /* REPLICAS in `kubectl get hpa` */
    int32_t desired_replicas;
    bool has_metrics; /* currentMetrics is not nil */
    struct hpa_metric_status metrics[HPA_METRICS_MAX];
    bool has_last_scale;
    double last_scale_time;
    enum hpa_cond able_to_scale, scaling_active, scaling_limited;
    const char *able_reason, *active_reason, *limited_reason; /* static strings */
};

/* What the controller keeps between syncs, and the HPA's status. */
struct hpa_state {
    size_t n_recs;
    struct hpa_rec recs[HPA_RECS_MAX];
    size_t n_up, n_down;
    struct hpa_event up[HPA_EVENTS_MAX], down[HPA_EVENTS_MAX];
    uint32_t overflows; /* times a full history dropped something that still mattered */
    struct hpa_status status;
};

/* What one sync reads. */
struct hpa_input {
    double now;                       /* seconds */
    int32_t spec_replicas;            /* scale.spec.replicas */
    int32_t status_replicas;          /* scale.status.replicas */
    int32_t pods;                     /* pods matching the selector, any phase (Value targets) */
    int32_t ready_pods;               /* of those, Running and Ready (Value targets) */
    const struct hpa_sample *samples; /* one per hpa_spec metric, same order */
};

struct hpa_decision {
    bool rescale;                       /* write scale.spec.replicas = replicas */
    int32_t replicas;                   /* desiredReplicas */
    int32_t metric_replicas;            /* the metrics' proposal before normalization; -1 if none */
    int32_t proposals[HPA_METRICS_MAX]; /* per metric; -1 when that metric failed */
    char reason[160]; /* SuccessfulRescale's reason, e.g. "s0-prometheus above target" */
};

void hpa_state_init(struct hpa_state *st);

/* One reconcile (§5.2). Updates the recommendation history and st->status.
 * 0, or -EINVAL on inputs that cannot be (negative counts, samples missing). */
int hpa_sync(const struct hpa_spec *h, struct hpa_state *st, const struct hpa_input *in,
             struct hpa_decision *d);

/* Records a successful write of the target's replicas from prev to next:
 * the scale event (behavior path only) and status.lastScaleTime. */
void hpa_scaled(const struct hpa_spec *h, struct hpa_state *st, int32_t prev, int32_t next,
                double now);

#endif
