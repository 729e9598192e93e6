/* spec: ScaledObject defaults (§2.1), validation (§2.2, one row per rule),
 * KEDA's annotations, and the HPA KEDA builds from a ScaledObject. */
#include "scale_test.h"

#include "scale/hpa.h"

/* ---------- validation ---------- */

typedef void (*tweak_fn)(struct so_spec *so);

struct vrow {
    const char *name;
    struct so_desc so;
    tweak_fn tweak;   /* changes what so_desc cannot say */
    const char *path; /* the issue expected, NULL: none at all */
    const char *msg;  /* a substring of its message */
    bool warning;     /* the issue is a warning: the object stays valid */
};

#define TUTORIAL_1 MINREP(1), MAXREP(2), POLLING(15), COOLDOWN(360), ONE(5)
#define TUTORIAL_0 MINREP(0), MAXREP(2), POLLING(15), COOLDOWN(360), DUAL

static void long_name(struct so_spec *so)
{
    memset(so->name, 'a', 63);
    so->name[63] = '\0';
}

static void name_for_long_hpa(struct so_spec *so)
{
    memset(so->name, 'a', 60);
    so->name[60] = '\0';
}

static void bad_hpa_name(struct so_spec *so)
{
    snprintf(so->hpa_name, sizeof(so->hpa_name), "Bad_Name");
}

static void upper_name(struct so_spec *so)
{
    snprintf(so->name, sizeof(so->name), "My-SO");
}

static void no_target(struct so_spec *so)
{
    so->target_name[0] = '\0';
}

static void no_type(struct so_spec *so)
{
    so->triggers[0].type[0] = '\0';
}

static void cached_cpu(struct so_spec *so)
{
    snprintf(so->triggers[1].type, sizeof(so->triggers[1].type), "cpu");
    so->triggers[1].use_cached_metrics = true;
}

static void cached_prometheus(struct so_spec *so)
{
    so->triggers[0].use_cached_metrics = true;
}

static void same_names(struct so_spec *so)
{
    snprintf(so->triggers[1].name, sizeof(so->triggers[1].name), "queue");
}

static void unnamed(struct so_spec *so)
{
    so->triggers[0].name[0] = so->triggers[1].name[0] = '\0';
}

static void utilization(struct so_spec *so)
{
    so->triggers[0].metric_type = SO_UTILIZATION;
}

static void mod_utilization(struct so_spec *so)
{
    so->modifiers.metric_type = SO_UTILIZATION;
}

static void negative_paused(struct so_spec *so)
{
    so->pause.has_paused_replicas = true;
    so->pause.paused_replicas = -1;
}

/* clang-format off: a table reads best one rule per row */
static const struct hpa_behavior bad_window = {
    .down = {.has_window = true, .window_seconds = 3601}};
static const struct hpa_behavior bad_period = {
    .up = {.has_policies = true, .n_policies = 1, .policies = {{HPA_POLICY_PODS, 1, 1801}}}};
static const struct hpa_behavior bad_value = {
    .up = {.has_policies = true, .n_policies = 1, .policies = {{HPA_POLICY_PERCENT, 0, 15}}}};
static const struct hpa_behavior no_policies = {.down = {.has_policies = true, .n_policies = 0}};
static const struct hpa_behavior bad_tolerance = {.up = {.has_tolerance = true, .tolerance = -0.1}};

#define CPU_ONLY .n = 1, .t = {{"c", 50, 0, SO_UTILIZATION, "cpu"}}

static const struct vrow vrows[] = {
    {"spec: the tutorial's first ScaledObject is valid, with KEDA's pollingInterval warning",
     {TUTORIAL_1},
     NULL,
     "spec.pollingInterval",
     "minReplicaCount",
     true},
    {"spec: the tutorial's first ScaledObject warns that cooldownPeriod does nothing",
     {TUTORIAL_1},
     NULL,
     "spec.cooldownPeriod",
     "no effect",
     true},
    {"spec: the tutorial's scale-to-zero ScaledObject is valid", {TUTORIAL_0}},
    /* §2.2.1, §2.2.2 */
    {"spec §2.2.1: minReplicaCount above maxReplicaCount is refused",
     {MINREP(3), MAXREP(2), ONE(5)},
     NULL,
     "spec.minReplicaCount",
     "less than or equal to \"maxReplicaCount\" (2)"},
    {"spec §2.2.1: minReplicaCount above the default maxReplicaCount 100 is refused",
     {MINREP(101), ONE(5)},
     NULL,
     "spec.minReplicaCount",
     "(100)"},
    {"spec §2.2.1: minReplicaCount equal to maxReplicaCount is allowed",
     {MINREP(2), MAXREP(2), ONE(5)}},
    {"spec §2.2.2: idleReplicaCount must be below minReplicaCount",
     {IDLE(2), MINREP(2), ONE(5)},
     NULL,
     "spec.idleReplicaCount",
     "must be less than \"minReplicaCount\" (2)"},
    {"spec §2.2.2 quirk: idleReplicaCount 0 with minReplicaCount 0 set is allowed",
     {IDLE(0), MINREP(0), ONE(5)}},
    {"spec §2.2.2 quirk: idleReplicaCount 0 with minReplicaCount unset is refused",
     {IDLE(0), ONE(5)},
     NULL,
     "spec.idleReplicaCount",
     "which is 0 when not set"},
    /* §2.2.3 */
    {"spec §2.2.3: at least one trigger is required",
     {MINREP(0)},
     NULL,
     "spec.triggers",
     "at least one trigger"},
    {"spec §2.2.3: trigger names must be unique",
     {TUTORIAL_0},
     same_names,
     "spec.triggers[1].name",
     "already used by triggers[0]"},
    {"spec §2.2.3: unnamed triggers may repeat", {TUTORIAL_0}, unnamed},
    {"spec §2.2.3: useCachedMetrics is refused for cpu and memory triggers",
     {MINREP(1), DUAL},
     cached_cpu,
     "spec.triggers[1].useCachedMetrics",
     "\"cpu\""},
    /* §2.1 trigger fields */
    {"spec §2.1: Utilization is refused for external triggers",
     {TUTORIAL_0},
     utilization,
     "spec.triggers[0].metricType",
     "'Utilization' metric type is unsupported"},
    {"spec §2.1: a trigger's type is required",
     {TUTORIAL_0},
     no_type,
     "spec.triggers[0].type",
     "required"},
    /* §2.2.4 */
    {"spec §2.2.4: fallback failureThreshold must not be negative",
     {MINREP(0), ONE(5), FALLBACK(-1, 2, SO_FALLBACK_STATIC)},
     NULL,
     "spec.fallback.failureThreshold",
     "negative"},
    {"spec §2.2.4: fallback replicas must not be negative",
     {MINREP(0), ONE(5), FALLBACK(3, -2, SO_FALLBACK_STATIC)},
     NULL,
     "spec.fallback.replicas",
     "negative"},
    {"spec §2.2.4: fallback needs a trigger that is not cpu or memory",
     {MINREP(1), CPU_ONLY, FALLBACK(3, 2, SO_FALLBACK_STATIC)},
     NULL,
     "spec.fallback",
     "not cpu or memory"},
    {"spec §2.2.4: fallback behavior scalingModifiers needs a formula",
     {MINREP(0), ONE(5), FALLBACK(3, 2, SO_FALLBACK_SCALING_MODIFIERS)},
     NULL,
     "spec.fallback.behavior",
     "needs advanced.scalingModifiers.formula"},
    {"spec §2.2.4: a fractional modifiers target disables fallback (a warning)",
     {MINREP(0), ONE(5), FALLBACK(3, 2, SO_FALLBACK_STATIC), .formula = "t", .mod_target = "2.5"},
     NULL,
     "spec.fallback",
     "whole number",
     true},
    /* §2.2.5 */
    {"spec §2.2.5: scalingModifiers needs a formula",
     {MINREP(0), ONE(5), .mod_target = "2"},
     NULL,
     "spec.advanced.scalingModifiers.formula",
     "required"},
    {"spec §2.2.5: a formula needs a target",
     {MINREP(0), ONE(5), .formula = "t"},
     NULL,
     "spec.advanced.scalingModifiers.target",
     "required"},
    {"spec §2.2.5: the formula must compile, naming only named triggers",
     {MINREP(0), ONE(5), .formula = "t + other", .mod_target = "2"},
     NULL,
     "spec.advanced.scalingModifiers.formula",
     "unknown name other"},
    {"spec §2.2.5: the formula must run with every trigger at -1",
     {MINREP(0), ONE(5), .formula = "1 % int(t + 1)", .mod_target = "2"},
     NULL,
     "spec.advanced.scalingModifiers.formula",
     "with every trigger at -1"},
    {"spec §2.2.5: the target must be a number above 0",
     {MINREP(0), ONE(5), .formula = "t", .mod_target = "0"},
     NULL,
     "spec.advanced.scalingModifiers.target",
     "greater than 0"},
    {"spec §2.2.5: a target that is not a number is refused",
     {MINREP(0), ONE(5), .formula = "t", .mod_target = "two"},
     NULL,
     "spec.advanced.scalingModifiers.target",
     "\"two\""},
    {"spec §2.2.5: the modifiers metricType must not be Utilization",
     {MINREP(0), ONE(5), .formula = "t", .mod_target = "2"},
     mod_utilization,
     "spec.advanced.scalingModifiers.metricType",
     "not Utilization"},
    {"spec §2.2.5: activationTarget must be a number",
     {MINREP(0), ONE(5), .formula = "t", .mod_target = "2", .mod_activation = "1x"},
     NULL,
     "spec.advanced.scalingModifiers.activationTarget",
     "\"1x\""},
    /* §2.2.6 */
    {"spec §2.2.6: a ScaledObject name of 63 characters is allowed but its HPA name is not",
     {MINREP(0), ONE(5)},
     long_name,
     "metadata.name",
     "HPA name"},
    {"spec §2.2.6: the generated HPA name is at most 63 characters",
     {MINREP(0), ONE(5)},
     name_for_long_hpa,
     "metadata.name",
     "69 characters"},
    {"spec §2.2.6: a custom HPA name must be a valid name",
     {MINREP(0), ONE(5)},
     bad_hpa_name,
     "spec.advanced.horizontalPodAutoscalerConfig.name",
     "not a valid HPA name"},
    {"spec §2.2.6: the ScaledObject name must be a lowercase RFC 1123 name",
     {MINREP(0), ONE(5)},
     upper_name,
     "metadata.name",
     "lower case"},
    /* §2.2.7 */
    {"spec §2.2.7: only cpu/memory triggers with minReplicaCount 0 is refused",
     {MINREP(0), CPU_ONLY},
     NULL,
     "spec.minReplicaCount",
     "scale to zero cannot work"},
    /* §2.2.8 */
    {"spec §2.2.8: no pollingInterval warning when a trigger caches metrics",
     {MINREP(1), POLLING(15), ONE(5)},
     cached_prometheus},
    {"spec §2.2.8: no warnings with idleReplicaCount",
     {IDLE(0), MINREP(1), POLLING(15), COOLDOWN(60), ONE(5)}},
    /* §2.2.9 */
    {"spec §2.2.9: a threshold that rounds to 0 is refused",
     {MINREP(0), ONE(0.0004)},
     NULL,
     "spec.triggers[0].metadata.threshold",
     "positive"},
    {"spec §2.2.9: a negative threshold is refused",
     {MINREP(0), ONE(-1)},
     NULL,
     "spec.triggers[0].metadata.threshold",
     "positive"},
    /* §2.1 CRD constraints */
    {"spec §2.1: pollingInterval must be at least 1",
     {MINREP(0), POLLING(0), ONE(5)},
     NULL,
     "spec.pollingInterval",
     "at least 1"},
    {"spec §2.1: cooldownPeriod must not be negative",
     {MINREP(0), COOLDOWN(-1), ONE(5)},
     NULL,
     "spec.cooldownPeriod",
     "negative"},
    {"spec §2.1: initialCooldownPeriod must not be negative",
     {MINREP(0), INITIAL(-5), ONE(5)},
     NULL,
     "spec.initialCooldownPeriod",
     "negative"},
    {"spec §2.1: minReplicaCount must not be negative",
     {MINREP(-1), ONE(5)},
     NULL,
     "spec.minReplicaCount",
     "negative"},
    {"spec §2.1: maxReplicaCount must be at least 1",
     {MAXREP(0), ONE(5)},
     NULL,
     "spec.maxReplicaCount",
     "at least 1"},
    {"spec §2.1: scaleTargetRef.name is required",
     {MINREP(0), ONE(5)},
     no_target,
     "spec.scaleTargetRef.name",
     "required"},
    {"spec: paused-replicas must not be negative",
     {MINREP(0), ONE(5)},
     negative_paused,
     "metadata.annotations",
     "negative"},
    /* §5.6 behavior, as the HPA API validates it */
    {"spec §5.6: stabilizationWindowSeconds is 0..3600",
     {MINREP(0), ONE(5), .behavior = &bad_window},
     NULL,
     "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds",
     "between 0 and 3600"},
    {"spec §5.6: periodSeconds is 1..1800",
     {MINREP(0), ONE(5), .behavior = &bad_period},
     NULL,
     "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].periodSeconds",
     "between 1 and 1800"},
    {"spec §5.6: a policy value must be above 0",
     {MINREP(0), ONE(5), .behavior = &bad_value},
     NULL,
     "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].value",
     "greater than 0"},
    {"spec §5.6: a policies list must not be empty",
     {MINREP(0), ONE(5), .behavior = &no_policies},
     NULL,
     "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies",
     "at least one"},
    {"spec §5.6: tolerance must not be negative",
     {MINREP(0), ONE(5), .behavior = &bad_tolerance},
     NULL,
     "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance",
     "negative"},
};
/* clang-format on */

static void check_vrow(const struct vrow *r)
{
    struct so_spec so;
    struct so_issue issues[16];
    size_t n;
    so_build(&r->so, &so, NULL);
    if (r->tweak)
        r->tweak(&so);
    int errors = so_spec_validate(&so, issues, ARRAY_LEN(issues), &n);
    if (!r->path) {
        for (size_t i = 0; i < n; i++)
            print_error("unexpected issue: %s: %s\n", issues[i].path, issues[i].msg);
        assert_int_equal(n, 0);
        assert_int_equal(errors, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(issues[i].path, r->path) == 0 && strstr(issues[i].msg, r->msg)) {
            assert_int_equal(issues[i].warning, r->warning);
            if (r->warning)
                assert_int_equal(errors, 0);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        print_error("issue: %s: %s\n", issues[i].path, issues[i].msg);
    fail_msg("no issue at %s saying \"%s\"", r->path, r->msg);
}

/* §2.2.6 across objects. */
static void one_scaled_object_per_target(void **state)
{
    const struct so_desc d = {MINREP(0), ONE(5)};
    struct so_spec a, b, c;
    struct so_issue issues[4];
    size_t n;
    so_build(&d, &a, NULL);
    so_build(&d, &b, NULL);
    so_build(&d, &c, NULL);
    snprintf(b.name, sizeof(b.name), "other");
    snprintf(c.name, sizeof(c.name), "third");
    snprintf(c.target_name, sizeof(c.target_name), "another-app");
    const struct so_spec *set[] = {&a, &b, &c};
    assert_int_equal(so_specs_validate_set(set, 3, issues, ARRAY_LEN(issues), &n), 1);
    assert_string_equal(issues[0].path, "[1].spec.scaleTargetRef.name");
    assert_non_null(strstr(issues[0].msg, "already managed by the ScaledObject \"so\""));
    const struct so_spec *twice[] = {&a, &a};
    assert_int_equal(so_specs_validate_set(twice, 2, issues, ARRAY_LEN(issues), &n), 1);
    assert_non_null(strstr(issues[0].msg, "defined twice"));
}

/* Issues past the caller's array are still counted. */
static void issues_beyond_cap_are_counted(void **state)
{
    const struct so_desc d = {MINREP(-1), MAXREP(0), POLLING(0), COOLDOWN(-1), ONE(-1)};
    struct so_spec so;
    struct so_issue one[1];
    size_t n;
    so_build(&d, &so, NULL);
    int errors = so_spec_validate(&so, one, 1, &n);
    assert_int_equal(n, 1);
    assert_true(errors >= 5);
    assert_int_equal(so_spec_validate(&so, NULL, 0, &n), errors);
}

/* ---------- defaults (§2.1) ---------- */

static void keda_defaults(void **state)
{
    struct so_spec so;
    so_spec_init(&so);
    so_spec_default(&so);
    assert_int_equal(so.polling_interval, 30);
    assert_int_equal(so.cooldown_period, 300);
    assert_int_equal(so.initial_cooldown_period, 0);
    assert_int_equal(so.min_replicas, 0);
    assert_int_equal(so.max_replicas, 100);
    assert_string_equal(so.target_api_version, "apps/v1");
    assert_string_equal(so.target_kind, "Deployment");
    assert_false(so.has_idle_replicas);
    assert_false(so.has_fallback);
    assert_int_equal(so.fallback.behavior, SO_FALLBACK_STATIC);
    assert_int_equal(so.modifiers.metric_type, SO_AVERAGE_VALUE);
    assert_int_equal(so.triggers[0].metric_type, SO_AVERAGE_VALUE);
    assert_false(so.has_polling_interval); /* defaults do not pretend the file said them */
}

static void hpa_min_max_and_name(void **state)
{
    struct so_spec so;
    char name[80];
    so_spec_init(&so);
    snprintf(so.name, sizeof(so.name), "vllm-scaledobject");
    assert_int_equal(so_min_replicas(&so), 0);
    assert_int_equal(so_hpa_min_replicas(&so), 1);
    assert_int_equal(so_hpa_max_replicas(&so), 100);
    so.has_min_replicas = true;
    assert_int_equal(so_hpa_min_replicas(&so), 1);
    so.min_replicas = 3;
    assert_int_equal(so_hpa_min_replicas(&so), 3);
    assert_int_equal(so_hpa_name(&so, name, sizeof(name)), 26);
    assert_string_equal(name, "keda-hpa-vllm-scaledobject");
    snprintf(so.hpa_name, sizeof(so.hpa_name), "mine");
    assert_int_equal(so_hpa_name(&so, name, sizeof(name)), 4);
    assert_string_equal(name, "mine");
    assert_int_equal(so_hpa_name(&so, name, 3), -ENOSPC);
}

static void behavior_defaults(void **state)
{
    struct hpa_behavior b;
    memset(&b, 0, sizeof(b));
    hpa_behavior_default(&b, 300);
    assert_int_equal(b.up.window_seconds, 0);
    assert_int_equal(b.up.select, HPA_SELECT_MAX);
    assert_int_equal(b.up.n_policies, 2);
    assert_int_equal(b.up.policies[0].type, HPA_POLICY_PODS);
    assert_int_equal(b.up.policies[0].value, 4);
    assert_int_equal(b.up.policies[0].period_seconds, 15);
    assert_int_equal(b.up.policies[1].type, HPA_POLICY_PERCENT);
    assert_int_equal(b.up.policies[1].value, 100);
    assert_int_equal(b.down.window_seconds, 300);
    assert_int_equal(b.down.select, HPA_SELECT_MAX);
    assert_int_equal(b.down.n_policies, 1);
    assert_int_equal(b.down.policies[0].type, HPA_POLICY_PERCENT);
    assert_int_equal(b.down.policies[0].value, 100);
    /* what the file said stays */
    memset(&b, 0, sizeof(b));
    b.down.has_window = true;
    b.down.window_seconds = 60;
    b.up.has_select = true;
    b.up.select = HPA_SELECT_MIN;
    hpa_behavior_default(&b, 300);
    assert_int_equal(b.down.window_seconds, 60);
    assert_int_equal(b.up.select, HPA_SELECT_MIN);
    assert_int_equal(b.up.n_policies, 2);
}

/* ---------- annotations ---------- */

enum pfield { P_NONE, P_PAUSED, P_REPLICAS, P_IN, P_OUT, P_FORCE };

struct arow {
    const char *name;
    const char *key, *value;
    int rc;
    enum pfield field;
    int32_t want; /* the flag (0/1) or paused_replicas */
    const char *msg;
};

/* clang-format off: a table reads best one rule per row */
static const struct arow arows[] = {
    {"annotation: paused \"true\" pauses", "autoscaling.keda.sh/paused", "true", 0, P_PAUSED, 1},
    {"annotation: paused \"false\" does not pause", "autoscaling.keda.sh/paused", "false", 0,
     P_PAUSED, 0},
    {"annotation: paused with a value that is not a boolean pauses", "autoscaling.keda.sh/paused",
     "yes please", 0, P_PAUSED, 1},
    {"annotation: paused takes Go's booleans (\"F\" is false)", "autoscaling.keda.sh/paused", "F",
     0, P_PAUSED, 0},
    {"annotation: paused-replicas holds a count", "autoscaling.keda.sh/paused-replicas", "3", 0,
     P_REPLICAS, 3},
    {"annotation: paused-replicas must be a whole number", "autoscaling.keda.sh/paused-replicas",
     "3.5", -EINVAL, P_NONE, 0, "whole number"},
    {"annotation: paused-scale-in takes a boolean", "autoscaling.keda.sh/paused-scale-in", "True",
     0, P_IN, 1},
    {"annotation: paused-scale-out takes a boolean", "autoscaling.keda.sh/paused-scale-out", "1", 0,
     P_OUT, 1},
    {"annotation: force-activation takes a boolean", "autoscaling.keda.sh/force-activation", "true",
     0, P_FORCE, 1},
    {"annotation: a paused-scale-in that is not a boolean is refused",
     "autoscaling.keda.sh/paused-scale-in", "maybe", -EINVAL, P_NONE, 0, "true or false"},
    {"annotation: other annotations are ignored", "example.com/owner", "me", 0, P_NONE, 0},
};
/* clang-format on */

static void check_arow(const struct arow *r)
{
    struct so_spec so;
    char err[128] = "";
    so_spec_init(&so);
    assert_int_equal(so_spec_set_annotation(&so, r->key, r->value, err, sizeof(err)), r->rc);
    if (r->msg)
        assert_non_null(strstr(err, r->msg));
    switch (r->field) {
    case P_PAUSED: assert_int_equal(so.pause.paused, r->want); break;
    case P_REPLICAS:
        assert_true(so.pause.has_paused_replicas);
        assert_int_equal(so.pause.paused_replicas, r->want);
        break;
    case P_IN: assert_int_equal(so.pause.pause_scale_in, r->want); break;
    case P_OUT: assert_int_equal(so.pause.pause_scale_out, r->want); break;
    case P_FORCE: assert_int_equal(so.pause.force_activation, r->want); break;
    case P_NONE: {
        struct so_spec empty;
        so_spec_init(&empty);
        assert_memory_equal(&so.pause, &empty.pause, sizeof(so.pause));
        break;
    }
    }
}

/* ---------- the HPA KEDA creates (§2.1 "Generated HPA") ---------- */

static void hpa_from_tutorial(void **state)
{
    const struct so_desc d = {MINREP(0), MAXREP(2), DUAL};
    struct so_spec so;
    struct hpa_spec h;
    so_build(&d, &so, NULL);
    snprintf(so.name, sizeof(so.name), "vllm-scaledobject");
    snprintf(so.target_name, sizeof(so.target_name), "vllm-llama3-deployment-vllm");
    assert_int_equal(hpa_spec_from_so(&so, &h), 0);
    assert_string_equal(h.name, "keda-hpa-vllm-scaledobject");
    assert_string_equal(h.ref_kind, "Deployment");
    assert_string_equal(h.ref_name, "vllm-llama3-deployment-vllm");
    assert_int_equal(h.min_replicas, 1); /* minReplicaCount 0: the HPA's floor is 1 */
    assert_int_equal(h.max_replicas, 2);
    assert_false(h.has_behavior); /* nil: the legacy path */
    assert_near(h.tolerance, 0.1, 0);
    assert_int_equal(h.n_metrics, 2);
    assert_string_equal(h.metrics[0].name, "s0-prometheus");
    assert_string_equal(h.metrics[1].name, "s1-prometheus");
    assert_int_equal(h.metrics[0].type, SO_AVERAGE_VALUE);
    assert_int_equal(h.metrics[0].target_milli, 5000);
    assert_int_equal(h.metrics[1].target_milli, 1000);
    assert_true(so_hpa_enabled(&so));
}

static void hpa_skips_resource_metrics(void **state)
{
    const struct so_desc d = {
        MINREP(1), .n = 2,
        .t = {{"c", 50, 0, SO_UTILIZATION, "cpu"}, {"q", 2.5, 0, SO_VALUE, NULL}}};
    struct so_spec so;
    struct hpa_spec h;
    so_build(&d, &so, NULL);
    assert_int_equal(hpa_spec_from_so(&so, &h), 0);
    assert_int_equal(h.n_metrics, 1);
    assert_string_equal(h.metrics[0].name, "s1-prometheus"); /* the trigger's own index */
    assert_int_equal(h.metrics[0].type, SO_VALUE);
    assert_int_equal(h.metrics[0].target_milli, 2500);
}

static void hpa_composite_metric(void **state)
{
    const struct so_desc d = {MINREP(0), DUAL, .formula = "queue + keepalive", .mod_target = "2.5",
                              .mod_type = SO_VALUE};
    struct so_spec so;
    struct hpa_spec h;
    so_build(&d, &so, NULL);
    assert_int_equal(hpa_spec_from_so(&so, &h), 0);
    assert_int_equal(h.n_metrics, 1);
    assert_string_equal(h.metrics[0].name, "composite-metric");
    assert_int_equal(h.metrics[0].type, SO_VALUE);
    assert_int_equal(h.metrics[0].target_milli, 2500);
}

static void hpa_behavior_defaulted(void **state)
{
    static const struct hpa_behavior b = {.down = {.has_window = true, .window_seconds = 30}};
    const struct so_desc d = {MINREP(0), ONE(5), .behavior = &b};
    struct so_spec so;
    struct hpa_spec h;
    so_build(&d, &so, NULL);
    assert_int_equal(hpa_spec_from_so(&so, &h), 0);
    assert_true(h.has_behavior);
    assert_int_equal(h.behavior.down.window_seconds, 30);
    assert_int_equal(h.behavior.up.n_policies, 2);
    assert_int_equal(h.behavior.down.n_policies, 1);
}

static void hpa_paused_scale_in(void **state)
{
    const struct so_desc d = {MINREP(0), ONE(5), .pause = {.pause_scale_in = true}};
    struct so_spec so;
    struct hpa_spec h;
    so_build(&d, &so, NULL);
    assert_int_equal(hpa_spec_from_so(&so, &h), 0);
    assert_true(h.has_behavior); /* so the HPA leaves the legacy path, with defaults */
    assert_int_equal(h.behavior.down.select, HPA_SELECT_DISABLED);
    assert_int_equal(h.behavior.up.select, HPA_SELECT_MAX);
    assert_int_equal(h.behavior.down.window_seconds, 300);
}

static void hpa_paused_scale_out(void **state)
{
    const struct so_desc d = {MINREP(0), ONE(5), .pause = {.pause_scale_out = true}};
    struct so_spec so;
    struct hpa_spec h;
    so_build(&d, &so, NULL);
    assert_int_equal(hpa_spec_from_so(&so, &h), 0);
    assert_int_equal(h.behavior.up.select, HPA_SELECT_DISABLED);
    assert_int_equal(h.behavior.down.select, HPA_SELECT_MAX);
}

static void hpa_deleted_while_paused(void **state)
{
    const struct so_desc a = {MINREP(0), ONE(5), .pause = {.paused = true}};
    const struct so_desc b = {MINREP(0), ONE(5),
                              .pause = {.has_paused_replicas = true, .paused_replicas = 2}};
    struct so_spec so;
    so_build(&a, &so, NULL);
    assert_false(so_hpa_enabled(&so));
    so_build(&b, &so, NULL);
    assert_false(so_hpa_enabled(&so));
}

static void parse_float_like_go(void **state)
{
    double v;
    assert_int_equal(so_parse_float("2.5", &v), 0);
    assert_near(v, 2.5, 0);
    assert_int_equal(so_parse_float(".5", &v), 0);
    assert_int_equal(so_parse_float("5.", &v), 0);
    assert_int_equal(so_parse_float("-1e3", &v), 0);
    assert_near(v, -1000, 0);
    assert_int_equal(so_parse_float(" 5", &v), -EINVAL);
    assert_int_equal(so_parse_float("5 ", &v), -EINVAL);
    assert_int_equal(so_parse_float("0x10", &v), -EINVAL);
    assert_int_equal(so_parse_float("inf", &v), -EINVAL);
    assert_int_equal(so_parse_float("", &v), -EINVAL);
    assert_int_equal(so_parse_float("1e999", &v), -EINVAL);
}

int main(void)
{
    int rc = RUN_ROWS("spec: validation", vrows, check_vrow);
    rc |= RUN_ROWS("spec: annotations", arows, check_arow);
    const struct CMUnitTest more[] = {
        {"spec §2.1: KEDA's defaults", keda_defaults, NULL, NULL, NULL},
        {"spec §2.1: HPA minReplicas is max(minReplicaCount, 1), maxReplicas 100, name "
         "keda-hpa-<so>",
         hpa_min_max_and_name, NULL, NULL, NULL},
        {"spec §5.6: the API server's behavior defaults", behavior_defaults, NULL, NULL, NULL},
        {"spec §2.2.6: one ScaledObject per scale target and per name",
         one_scaled_object_per_target, NULL, NULL, NULL},
        {"spec: issues past the caller's array are still counted", issues_beyond_cap_are_counted,
         NULL, NULL, NULL},
        {"hpa spec: the tutorial's HPA: s0/s1-prometheus, min 1, max 2, behavior nil",
         hpa_from_tutorial, NULL, NULL, NULL},
        {"hpa spec: cpu/memory triggers are not External metrics", hpa_skips_resource_metrics, NULL,
         NULL, NULL},
        {"hpa spec: scalingModifiers make one composite-metric", hpa_composite_metric, NULL, NULL,
         NULL},
        {"hpa spec: a behavior gets the API server's defaults", hpa_behavior_defaulted, NULL, NULL,
         NULL},
        {"hpa spec: paused-scale-in sets scaleDown selectPolicy Disabled", hpa_paused_scale_in,
         NULL, NULL, NULL},
        {"hpa spec: paused-scale-out sets scaleUp selectPolicy Disabled", hpa_paused_scale_out,
         NULL, NULL, NULL},
        {"hpa spec: the HPA is deleted while paused", hpa_deleted_while_paused, NULL, NULL, NULL},
        {"spec: numbers parse as Go's ParseFloat does (decimal forms)", parse_float_like_go, NULL,
         NULL, NULL},
    };
    return rc | cmocka_run_group_tests_name("spec", more, NULL, NULL);
}
