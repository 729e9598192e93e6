/* spec: the policy-relevant parts of a KEDA ScaledObject (keda.sh/v1alpha1)
 * as plain C structs, KEDA's defaults and KEDA's validation
 * (reference/keda-hpa-spec.md §2). Pure: no I/O, no allocation.
 *
 * The YAML loader fills a struct so_spec (so_spec_init first), feeds the
 * metadata.annotations through so_spec_set_annotation, calls so_spec_default
 * and then so_spec_validate, and prefixes each issue with the file:line:col
 * of its path. Every string is a fixed array in the struct, so a spec is a
 * value: copy it, keep it, no release needed.
 *
 * has_* fields record what the file said; KEDA's behaviour depends on
 * "unset" in places (idleReplicaCount, the minReplicaCount quirk of §2.2.2,
 * a nil HPA behavior), so they are kept after defaulting. */
#ifndef EBB_SCALE_SPEC_H
#define EBB_SCALE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scale/formula.h"

#define SO_NAME_MAX 64         /* metadata.name: KEDA allows 63 characters */
#define SO_REF_MAX 254         /* scaleTargetRef.name: a DNS subdomain, 253 */
#define SO_KIND_MAX 64         /* scaleTargetRef.kind */
#define SO_API_VERSION_MAX 128 /* scaleTargetRef.apiVersion */
#define SO_TRIGGERS_MAX FORMULA_VARS_MAX
#define SO_TRIGGER_NAME_MAX 128
#define SO_TRIGGER_TYPE_MAX 64
#define SO_NUMBER_MAX 64 /* scalingModifiers target/activationTarget text */
#define HPA_POLICIES_MAX 16
#define SO_PATH_MAX 128 /* an issue's field path */
#define SO_MSG_MAX 288  /* an issue's message */

/* KEDA's defaults (scaledobject_types.go, scale_executor.go). */
#define SO_POLLING_DEFAULT_S 30
#define SO_COOLDOWN_DEFAULT_S 300
#define SO_INITIAL_COOLDOWN_DEFAULT_S 0
#define SO_MAX_DEFAULT 100
/* kube-controller-manager's defaults (§5.1). */
#define HPA_SYNC_PERIOD_S 15
#define HPA_TOLERANCE_DEFAULT 0.1
#define HPA_DOWN_STABILIZATION_DEFAULT_S 300
/* autoscaling/v2 limits (§5.6). */
#define HPA_WINDOW_MAX_S 3600
#define HPA_PERIOD_MAX_S 1800

enum so_metric_type { SO_AVERAGE_VALUE, SO_VALUE, SO_UTILIZATION };

enum so_fallback_behavior {
    SO_FALLBACK_STATIC,
    SO_FALLBACK_CURRENT_REPLICAS,
    SO_FALLBACK_CURRENT_IF_HIGHER,
    SO_FALLBACK_CURRENT_IF_LOWER,
    SO_FALLBACK_SCALING_MODIFIERS,
};

enum hpa_select { HPA_SELECT_MAX, HPA_SELECT_MIN, HPA_SELECT_DISABLED };
enum hpa_policy_type { HPA_POLICY_PODS, HPA_POLICY_PERCENT };

struct hpa_policy {
    enum hpa_policy_type type;
    int32_t value;          /* pods, or percent of the replicas at the period's start */
    int32_t period_seconds; /* 1..1800 */
};

/* One direction of autoscaling/v2 HPAScalingRules. */
struct hpa_rules {
    bool has_window;
    int32_t window_seconds; /* stabilizationWindowSeconds, 0..3600 */
    bool has_select;
    enum hpa_select select; /* selectPolicy */
    bool has_policies;      /* a list in the file replaces the defaults */
    size_t n_policies;
    struct hpa_policy policies[HPA_POLICIES_MAX];
    bool has_tolerance;
    double tolerance; /* per-direction tolerance (HPAConfigurableTolerance) */
};

/* advanced.horizontalPodAutoscalerConfig.behavior */
struct hpa_behavior {
    struct hpa_rules up;   /* scaleUp */
    struct hpa_rules down; /* scaleDown */
};

struct so_trigger {
    char name[SO_TRIGGER_NAME_MAX];  /* "" when unnamed */
    char type[SO_TRIGGER_TYPE_MAX];  /* "prometheus", "cpu", ... */
    enum so_metric_type metric_type; /* default AverageValue */
    double threshold;                /* metadata.threshold: the HPA target */
    double activation_threshold;     /* metadata.activationThreshold, default 0 */
    bool use_cached_metrics;
};

struct so_fallback {
    int32_t failure_threshold; /* fallback after more failures than this */
    int32_t replicas;
    enum so_fallback_behavior behavior; /* default static */
};

/* advanced.scalingModifiers. Numbers stay text: KEDA parses target both as a
 * float (the HPA target) and as an integer (fallback, which a fractional
 * target silently disables), so the text is what matters. */
struct so_modifiers {
    char formula[FORMULA_SRC_MAX + 1];
    char target[SO_NUMBER_MAX];
    char activation_target[SO_NUMBER_MAX]; /* "" means 0 */
    enum so_metric_type metric_type;       /* default AverageValue */
};

/* What KEDA's annotations ask for (so_spec_set_annotation fills this). */
struct so_pause {
    bool paused;              /* autoscaling.keda.sh/paused: loop stopped, HPA deleted */
    bool has_paused_replicas; /* autoscaling.keda.sh/paused-replicas: ... and target set */
    int32_t paused_replicas;
    bool pause_scale_in;   /* paused-scale-in: no KEDA ->0, HPA scaleDown Disabled */
    bool pause_scale_out;  /* paused-scale-out: no KEDA 0->, HPA scaleUp Disabled */
    bool force_activation; /* force-activation: treated as active */
};

struct so_spec {
    char name[SO_NAME_MAX];                      /* metadata.name */
    char target_api_version[SO_API_VERSION_MAX]; /* default apps/v1 */
    char target_kind[SO_KIND_MAX];               /* default Deployment */
    char target_name[SO_REF_MAX];
    bool has_polling_interval;
    int32_t polling_interval; /* seconds, >= 1 */
    bool has_cooldown_period;
    int32_t cooldown_period; /* seconds */
    bool has_initial_cooldown_period;
    int32_t initial_cooldown_period; /* seconds */
    bool has_idle_replicas;
    int32_t idle_replicas;
    bool has_min_replicas;
    int32_t min_replicas;
    bool has_max_replicas;
    int32_t max_replicas;
    bool has_fallback;
    struct so_fallback fallback;
    char hpa_name[SO_NAME_MAX]; /* horizontalPodAutoscalerConfig.name, "" = keda-hpa-<name> */
    bool has_behavior;          /* nil behavior: the HPA's legacy path */
    struct hpa_behavior behavior;
    bool has_modifiers; /* any scalingModifiers field set (KEDA's IsUsingModifiers) */
    struct so_modifiers modifiers;
    struct so_pause pause;
    size_t n_triggers;
    struct so_trigger triggers[SO_TRIGGERS_MAX];
};

/* One validation finding. path is the field in the file
 * ("spec.triggers[1].name"), msg says what is wrong, for people. */
struct so_issue {
    bool warning; /* KEDA only warns (§2.2.8): the object is still valid */
    char path[SO_PATH_MAX];
    char msg[SO_MSG_MAX];
};

/* Empties so: no field set, every enum at KEDA's default. */
void so_spec_init(struct so_spec *so);

/* Fills every unset value with KEDA's default (has_* flags stay as they
 * were): pollingInterval 30, cooldownPeriod 300, initialCooldownPeriod 0,
 * minReplicaCount 0, maxReplicaCount 100, scaleTargetRef apps/v1 Deployment. */
void so_spec_default(struct so_spec *so);

/* Applies one metadata annotation the way KEDA reads it; other keys are
 * ignored. paused: Go ParseBool, anything else counts as true; paused-replicas:
 * a base-10 int32. 0, or -EINVAL with a message in err. */
int so_spec_set_annotation(struct so_spec *so, const char *key, const char *value, char *err,
                           size_t errlen);

/* Checks every rule of spec §2.2 and the CRD constraints of §2.1. Writes up
 * to cap issues (errors and warnings) into out and their count into *n_out.
 * Returns the number of errors (warnings not counted), including any that did
 * not fit in out. */
int so_spec_validate(const struct so_spec *so, struct so_issue *out, size_t cap, size_t *n_out);

/* §2.2.6 across objects: one ScaledObject per scale target, one per name.
 * Same out/cap/return convention as so_spec_validate; paths are prefixed
 * "[i]" with the index of the later object. */
int so_specs_validate_set(const struct so_spec *const *sos, size_t n, struct so_issue *out,
                          size_t cap, size_t *n_out);

/* Fills the unset fields of an HPA behavior as the API server does when
 * behavior is not nil (§5.6). down_window_s is the controller's
 * --horizontal-pod-autoscaler-downscale-stabilization (300). */
void hpa_behavior_default(struct hpa_behavior *b, int32_t down_window_s);

/* minReplicaCount as KEDA's executor uses it: 0 when unset. */
int32_t so_min_replicas(const struct so_spec *so);
/* The HPA's minReplicas: minReplicaCount if > 0, else 1. */
int32_t so_hpa_min_replicas(const struct so_spec *so);
/* The HPA's maxReplicas: maxReplicaCount, 100 when unset. */
int32_t so_hpa_max_replicas(const struct so_spec *so);
/* Writes the HPA's name (horizontalPodAutoscalerConfig.name or
 * keda-hpa-<name>). Returns its length, or -ENOSPC. */
int so_hpa_name(const struct so_spec *so, char *out, size_t cap);
/* cpu and memory triggers are HPA Resource metrics, not External ones. */
bool so_trigger_is_resource(const struct so_trigger *t);
/* True when fallback is configured and KEDA's HasValidFallback holds
 * (thresholds >= 0; with modifiers, target a whole number > 0). */
bool so_fallback_enabled(const struct so_spec *so);
/* The HPA is deleted while the object is paused (§2.1 annotations). */
bool so_hpa_enabled(const struct so_spec *so);

/* Compiles advanced.scalingModifiers.formula with variable i = triggers[i]
 * (named, non-cpu/memory triggers only). 0, or -EINVAL with a message. */
int so_formula_compile(const struct so_spec *so, struct formula *f, char *err, size_t errlen);

/* Parses a number the way Go's strconv.ParseFloat does for KEDA's string
 * fields (decimal only, no spaces). 0 or -EINVAL. */
int so_parse_float(const char *s, double *out);

#endif
