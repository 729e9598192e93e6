/* keda: the KEDA operator's decisions (reference/keda-hpa-spec.md §3.4-§4):
 * activation across triggers, the fallback health counters and their
 * replacement metrics, scalingModifiers' composite metric, and RequestScale's
 * table (scale from zero/idle, cooldown, initialCooldownPeriod, scale to
 * zero/idle, min). Pure: trigger results, the target's replicas and the time
 * come in; a decision goes out; struct keda_state is all that is kept.
 *
 *   keda_state_init(&st, created);
 *   every pollingInterval (first poll at once):
 *     keda_poll(so, f, &st, &in, &d);
 *     ok = d.action == KEDA_SCALE ? write(d.replicas) : true;
 *     keda_commit(&st, &d, ok, in.now);
 *   every HPA sync (and on any metrics read by the HPA):
 *     keda_hpa_metrics(so, f, &st, &in, samples, cap, &n);   -> hpa_sync
 *
 * Both paths count fallback failures in the same state, as KEDA's shared
 * status.health does. f is the compiled scalingModifiers formula
 * (so_formula_compile), NULL when the object has none. */
#ifndef EBB_SCALE_KEDA_H
#define EBB_SCALE_KEDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scale/formula.h"
#include "scale/hpa.h"
#include "scale/spec.h"

/* One trigger's reading: what the scaler returned after its one retry. */
struct keda_sample {
    bool ok;      /* false: the query failed */
    double value; /* the scaler's value when ok (§3.3: may be negative, -1 for null) */
};

/* What KEDA keeps in the ScaledObject's status between polls. */
struct keda_state {
    double created;       /* metadata.creationTimestamp, seconds */
    bool has_last_active; /* status.lastActiveTime is set */
    double last_active;
    int32_t failures[SO_TRIGGERS_MAX]; /* status.health[<metric>].numberOfFailures */
};

struct keda_input {
    double now;                        /* seconds, same clock as created */
    int32_t current;                   /* the target's spec.replicas */
    int32_t ready_pods;                /* ready pods of the target (fallback with Value targets) */
    const struct keda_sample *samples; /* one per trigger, in spec order (cpu/memory ignored) */
};

struct keda_trigger_result {
    bool error;    /* the trigger failed and no fallback stands in */
    bool active;   /* raw value > activationThreshold, or fallback */
    bool fallback; /* fallback replaced the value */
    bool nil;      /* fallback.behavior scalingModifiers: the formula sees nil */
    int64_t milli; /* the metric for the HPA (keda_scaler_metrics_value), when !error && !nil */
};

enum keda_action { KEDA_KEEP, KEDA_SCALE };
enum keda_cond { KEDA_COND_KEEP, KEDA_COND_TRUE, KEDA_COND_FALSE, KEDA_COND_UNKNOWN };

struct keda_decision {
    enum keda_action action;
    int32_t replicas;       /* the target's new spec.replicas when action is KEDA_SCALE */
    bool touch_last_active; /* lastActiveTime = now once the action (if any) succeeded */
    bool active;            /* isActive (force-activation included) */
    bool error;             /* isError: some trigger failed without fallback */
    bool fallback;          /* condition Fallback: some trigger is past failureThreshold */
    const char *reason;     /* why, one word: "ScaleFromZero", "ScalerCooldown", ... */
    enum keda_cond ready;   /* condition Ready, with its reason */
    const char *ready_reason;
    enum keda_cond active_cond; /* condition Active, with its reason */
    const char *active_reason;
    bool has_composite; /* scalingModifiers: the composite metric was computed */
    int64_t composite_milli;
    char formula_error[FORMULA_ERR_MAX]; /* why the composite is missing, "" if it is not */
    size_t n_triggers;
    struct keda_trigger_result triggers[SO_TRIGGERS_MAX];
};

void keda_state_init(struct keda_state *st, double created);

/* One scale-loop iteration: getScaledObjectState then RequestScale (§4.2,
 * §4.3). Updates the fallback counters in st. 0, or -EINVAL on inputs that
 * cannot be (negative replicas, no samples, a formula missing). */
int keda_poll(const struct so_spec *so, const struct formula *f, struct keda_state *st,
              const struct keda_input *in, struct keda_decision *d);

/* Applies a decision's bookkeeping: lastActiveTime is set to now when the
 * decision asks for it and its scale (if any) succeeded (scaled). */
void keda_commit(struct keda_state *st, const struct keda_decision *d, bool scaled, double now);

/* GetScaledObjectMetrics (§4.4): the External metrics the HPA reads, one per
 * hpa_spec metric (same order as hpa_spec_from_so), with fallback applied.
 * Writes up to cap samples and their count into *n. 0 or -EINVAL/-ENOSPC. */
int keda_hpa_metrics(const struct so_spec *so, const struct formula *f, struct keda_state *st,
                     const struct keda_input *in, struct hpa_sample *out, size_t cap, size_t *n);

/* The Fallback condition: fallback is configured and some trigger has failed
 * more than failureThreshold times in a row (on either path). */
bool keda_fallback_active(const struct so_spec *so, const struct keda_state *st);

#endif
