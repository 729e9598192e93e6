/* spec: ScaledObject defaults and validation. See spec.h. */
#include "scale/spec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scale/quantity.h"

void so_spec_init(struct so_spec *so)
{
    memset(so, 0, sizeof(*so));
}

static void set_default_str(char *dst, size_t cap, const char *value)
{
    if (dst[0] == '\0')
        snprintf(dst, cap, "%s", value);
}

void so_spec_default(struct so_spec *so)
{
    set_default_str(so->target_api_version, sizeof(so->target_api_version), "apps/v1");
    set_default_str(so->target_kind, sizeof(so->target_kind), "Deployment");
    if (!so->has_polling_interval)
        so->polling_interval = SO_POLLING_DEFAULT_S;
    if (!so->has_cooldown_period)
        so->cooldown_period = SO_COOLDOWN_DEFAULT_S;
    if (!so->has_initial_cooldown_period)
        so->initial_cooldown_period = SO_INITIAL_COOLDOWN_DEFAULT_S;
    if (!so->has_min_replicas)
        so->min_replicas = 0;
    if (!so->has_max_replicas)
        so->max_replicas = SO_MAX_DEFAULT;
}

/* ---------- annotations ---------- */

/* Go's strconv.ParseBool. 1 true, 0 false, -1 not a boolean. */
static int go_parse_bool(const char *s)
{
    static const char *yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* Go's strconv.ParseInt(s, 10, 32): optional sign, digits, nothing else. */
static int go_parse_int32(const char *s, int32_t *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0')
        return -EINVAL;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9')
            return -EINVAL;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < INT32_MIN || v > INT32_MAX)
        return -ERANGE;
    *out = (int32_t)v;
    return 0;
}

#define ANNOTATION_PREFIX "autoscaling.keda.sh/"

int so_spec_set_annotation(struct so_spec *so, const char *key, const char *value, char *err,
                           size_t errlen)
{
    if (strncmp(key, ANNOTATION_PREFIX, strlen(ANNOTATION_PREFIX)) != 0)
        return 0;
    const char *name = key + strlen(ANNOTATION_PREFIX);
    if (strcmp(name, "paused-replicas") == 0) {
        int rc = go_parse_int32(value, &so->pause.paused_replicas);
        if (rc < 0) {
            snprintf(err, errlen,
                     "annotation \"%s\" must be a whole number of replicas, got \"%s\"", key,
                     value);
            return -EINVAL;
        }
        so->pause.has_paused_replicas = true;
        return 0;
    }
    if (strcmp(name, "paused") == 0) {
        /* KEDA: "if annotation value is not a boolean, we assume user wants
         * to pause the ScaledObject". */
        so->pause.paused = go_parse_bool(value) != 0;
        return 0;
    }
    bool *flag = strcmp(name, "paused-scale-in") == 0    ? &so->pause.pause_scale_in
                 : strcmp(name, "paused-scale-out") == 0 ? &so->pause.pause_scale_out
                 : strcmp(name, "force-activation") == 0 ? &so->pause.force_activation
                                                         : NULL;
    if (!flag)
        return 0;
    int b = go_parse_bool(value);
    if (b < 0) {
        snprintf(err, errlen, "annotation \"%s\" must be true or false, got \"%s\"", key, value);
        return -EINVAL;
    }
    *flag = b == 1;
    return 0;
}

/* ---------- helpers ---------- */

int so_parse_float(const char *s, double *out)
{
    const char *p = s;
    int digits = 0;
    if (*p == '+' || *p == '-')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (digits == 0)
        return -EINVAL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE && fabs(v) > 1.0)
        return -EINVAL;
    *out = v;
    return 0;
}

int32_t so_min_replicas(const struct so_spec *so)
{
    return so->has_min_replicas ? so->min_replicas : 0;
}

int32_t so_hpa_min_replicas(const struct so_spec *so)
{
    return so->has_min_replicas && so->min_replicas > 0 ? so->min_replicas : 1;
}

int32_t so_hpa_max_replicas(const struct so_spec *so)
{
    return so->has_max_replicas ? so->max_replicas : SO_MAX_DEFAULT;
}

int so_hpa_name(const struct so_spec *so, char *out, size_t cap)
{
    int n = so->hpa_name[0] ? snprintf(out, cap, "%s", so->hpa_name)
                            : snprintf(out, cap, "keda-hpa-%s", so->name);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

bool so_trigger_is_resource(const struct so_trigger *t)
{
    return strcmp(t->type, "cpu") == 0 || strcmp(t->type, "memory") == 0;
}

/* KEDA's fallback.HasValidFallback: with modifiers the target must parse
 * with strconv.ParseInt and be positive. */
static bool modifiers_target_is_whole(const struct so_spec *so, int64_t *value)
{
    int32_t v32 = 0;
    const char *t = so->modifiers.target;
    /* ParseInt(s, 10, 64); int32 is the practical range of a replica target. */
    if (go_parse_int32(t, &v32) < 0 || v32 <= 0)
        return false;
    if (value)
        *value = v32;
    return true;
}

bool so_fallback_enabled(const struct so_spec *so)
{
    if (!so->has_fallback || so->fallback.failure_threshold < 0 || so->fallback.replicas < 0)
        return false;
    return !so->has_modifiers || modifiers_target_is_whole(so, NULL);
}

bool so_hpa_enabled(const struct so_spec *so)
{
    return !so->pause.paused && !so->pause.has_paused_replicas;
}

int so_formula_compile(const struct so_spec *so, struct formula *f, char *err, size_t errlen)
{
    const char *names[SO_TRIGGERS_MAX];
    for (size_t i = 0; i < so->n_triggers; i++)
        names[i] = so_trigger_is_resource(&so->triggers[i]) ? "" : so->triggers[i].name;
    return formula_compile(f, so->modifiers.formula, names, so->n_triggers, err, errlen);
}

/* ---------- validation ---------- */

struct issues {
    struct so_issue *out;
    size_t cap, n;
    int errors;
};

static void issue(struct issues *v, bool warning, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void issue(struct issues *v, bool warning, const char *path, const char *fmt, ...)
{
    if (!warning)
        v->errors++;
    if (v->n >= v->cap)
        return;
    struct so_issue *is = &v->out[v->n++];
    is->warning = warning;
    if (snprintf(is->path, sizeof(is->path), "%s", path) < 0)
        is->path[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(is->msg, sizeof(is->msg), fmt, ap) < 0)
        is->msg[0] = '\0';
    va_end(ap);
}

/* RFC 1123 subdomain, as Kubernetes requires of object names. */
static bool is_dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '.')
            return false;
        if ((i == 0 || i == n - 1) && !alnum)
            return false;
    }
    return true;
}

static void check_names(const struct so_spec *so, struct issues *v)
{
    size_t n = strlen(so->name);
    if (n == 0)
        issue(v, false, "metadata.name", "\"name\" is required");
    else if (n > 63)
        issue(v, false, "metadata.name",
              "ScaledObject name \"%s\" is %zu characters long; KEDA allows at most 63", so->name,
              n);
    else if (!is_dns_subdomain(so->name))
        issue(v, false, "metadata.name",
              "\"%s\" is not a valid name: use lower case letters, digits, '-' and '.', "
              "starting and ending with a letter or digit",
              so->name);
    if (so->target_name[0] == '\0')
        issue(v, false, "spec.scaleTargetRef.name", "\"name\" of the scale target is required");
    char hpa[SO_NAME_MAX + 16];
    if (n > 0 && n <= 63 && so_hpa_name(so, hpa, sizeof(hpa)) >= 0 && strlen(hpa) > 63)
        issue(v, false,
              so->hpa_name[0] ? "spec.advanced.horizontalPodAutoscalerConfig.name"
                              : "metadata.name",
              "HPA name \"%s\" is %zu characters long; at most 63 are allowed (shorten the "
              "ScaledObject name or set horizontalPodAutoscalerConfig.name)",
              hpa, strlen(hpa));
    else if (so->hpa_name[0] && !is_dns_subdomain(so->hpa_name))
        issue(v, false, "spec.advanced.horizontalPodAutoscalerConfig.name",
              "\"%s\" is not a valid HPA name", so->hpa_name);
}

static void check_counts(const struct so_spec *so, struct issues *v)
{
    if (so->has_polling_interval && so->polling_interval < 1)
        issue(v, false, "spec.pollingInterval", "\"pollingInterval\" must be at least 1, got %d",
              so->polling_interval);
    if (so->has_cooldown_period && so->cooldown_period < 0)
        issue(v, false, "spec.cooldownPeriod", "\"cooldownPeriod\" must not be negative, got %d",
              so->cooldown_period);
    if (so->has_initial_cooldown_period && so->initial_cooldown_period < 0)
        issue(v, false, "spec.initialCooldownPeriod",
              "\"initialCooldownPeriod\" must not be negative, got %d",
              so->initial_cooldown_period);
    if (so->has_idle_replicas && so->idle_replicas < 0)
        issue(v, false, "spec.idleReplicaCount",
              "\"idleReplicaCount\" must not be negative, got %d", so->idle_replicas);
    if (so->has_min_replicas && so->min_replicas < 0)
        issue(v, false, "spec.minReplicaCount", "\"minReplicaCount\" must not be negative, got %d",
              so->min_replicas);
    if (so->has_max_replicas && so->max_replicas < 1)
        issue(v, false, "spec.maxReplicaCount", "\"maxReplicaCount\" must be at least 1, got %d",
              so->max_replicas);
    if (so->pause.has_paused_replicas && so->pause.paused_replicas < 0)
        issue(v, false, "metadata.annotations",
              "autoscaling.keda.sh/paused-replicas must not be negative, got %d",
              so->pause.paused_replicas);
}

/* §2.2.1 (the CRD's CEL rule) and §2.2.2 (CheckReplicaCountBoundsAreValid,
 * with its quirk: min counts as max(minReplicaCount, 1) when it is set and as
 * 0 when it is not). */
static void check_bounds(const struct so_spec *so, struct issues *v)
{
    int32_t max = so_hpa_max_replicas(so);
    if (so->has_min_replicas && so->min_replicas > max) {
        issue(v, false, "spec.minReplicaCount",
              "\"minReplicaCount\" (%d) must be less than or equal to \"maxReplicaCount\" (%d)",
              so->min_replicas, max);
    }
    if (!so->has_idle_replicas)
        return;
    int32_t min = so->has_min_replicas ? so_hpa_min_replicas(so) : 0;
    if (so->idle_replicas >= min) {
        if (so->has_min_replicas)
            issue(v, false, "spec.idleReplicaCount",
                  "\"idleReplicaCount\" (%d) must be less than \"minReplicaCount\" (%d)",
                  so->idle_replicas, min);
        else
            issue(v, false, "spec.idleReplicaCount",
                  "\"idleReplicaCount\" (%d) must be less than \"minReplicaCount\", which is 0 "
                  "when not set",
                  so->idle_replicas);
    }
}

static bool only_resource_triggers(const struct so_spec *so)
{
    if (so->n_triggers == 0)
        return false;
    for (size_t i = 0; i < so->n_triggers; i++) {
        if (!so_trigger_is_resource(&so->triggers[i]))
            return false;
    }
    return true;
}

static void check_trigger(const struct so_spec *so, size_t i, struct issues *v)
{
    const struct so_trigger *t = &so->triggers[i];
    char path[SO_PATH_MAX];
    if (t->type[0] == '\0') {
        snprintf(path, sizeof(path), "spec.triggers[%zu].type", i);
        issue(v, false, path, "\"type\" of the trigger is required");
    }
    for (size_t j = 0; t->name[0] && j < i; j++) {
        if (strcmp(so->triggers[j].name, t->name) == 0) {
            snprintf(path, sizeof(path), "spec.triggers[%zu].name", i);
            issue(v, false, path,
                  "trigger name \"%s\" is already used by triggers[%zu]; names must be unique",
                  t->name, j);
            break;
        }
    }
    if (t->use_cached_metrics && (so_trigger_is_resource(t) || strcmp(t->type, "cron") == 0)) {
        snprintf(path, sizeof(path), "spec.triggers[%zu].useCachedMetrics", i);
        issue(v, false, path, "\"useCachedMetrics\" cannot be enabled for trigger type \"%s\"",
              t->type);
    }
    if (so_trigger_is_resource(t))
        return;
    snprintf(path, sizeof(path), "spec.triggers[%zu].metricType", i);
    if (t->metric_type == SO_UTILIZATION)
        issue(v, false, path,
              "'Utilization' metric type is unsupported for external metrics, allowed values "
              "are 'Value' or 'AverageValue'");
    /* §2.2.9: the HPA API rejects a target that is not positive, which KEDA
     * only finds out when it creates the HPA. Modifiers replace the target. */
    if (!so->has_modifiers && quantity_milli_from_double(t->threshold) <= 0) {
        snprintf(path, sizeof(path), "spec.triggers[%zu].metadata.threshold", i);
        issue(v, false, path,
              "\"threshold\" must be positive after rounding to thousandths, got %g (the HPA "
              "API rejects a target of 0)",
              t->threshold);
    }
}

static void check_triggers(const struct so_spec *so, struct issues *v)
{
    if (so->n_triggers == 0) {
        issue(v, false, "spec.triggers", "at least one trigger is required");
        return;
    }
    for (size_t i = 0; i < so->n_triggers; i++)
        check_trigger(so, i, v);
    if (only_resource_triggers(so) && so_min_replicas(so) == 0)
        issue(v, false, "spec.minReplicaCount",
              "only cpu and memory triggers and \"minReplicaCount\" 0: scale to zero cannot work "
              "because nothing would scale the target back up");
}

static void check_fallback(const struct so_spec *so, struct issues *v)
{
    if (!so->has_fallback)
        return;
    const struct so_fallback *fb = &so->fallback;
    if (fb->failure_threshold < 0)
        issue(v, false, "spec.fallback.failureThreshold",
              "\"failureThreshold\" must not be negative, got %d", fb->failure_threshold);
    if (fb->replicas < 0)
        issue(v, false, "spec.fallback.replicas", "\"replicas\" must not be negative, got %d",
              fb->replicas);
    if (!so->has_modifiers && only_resource_triggers(so))
        issue(v, false, "spec.fallback",
              "fallback needs at least one trigger that is not cpu or memory");
    if (fb->behavior == SO_FALLBACK_SCALING_MODIFIERS &&
        (!so->has_modifiers || so->modifiers.formula[0] == '\0'))
        issue(v, false, "spec.fallback.behavior",
              "behavior \"scalingModifiers\" needs advanced.scalingModifiers.formula");
    if (so->has_modifiers && so->modifiers.target[0] && !modifiers_target_is_whole(so, NULL))
        issue(v, true, "spec.fallback",
              "fallback is disabled: KEDA applies it with scalingModifiers only when "
              "scalingModifiers.target is a whole number, got \"%s\"",
              so->modifiers.target);
}

static void check_formula(const struct so_spec *so, struct issues *v)
{
    const char *path = "spec.advanced.scalingModifiers.formula";
    struct formula f;
    char err[FORMULA_ERR_MAX];
    if (so_formula_compile(so, &f, err, sizeof(err)) < 0) {
        issue(v, false, path, "%s", err);
        return;
    }
    /* KEDA also runs the formula once with every trigger at -1. */
    double vals[SO_TRIGGERS_MAX], out;
    bool nil;
    for (size_t i = 0; i < SO_TRIGGERS_MAX; i++)
        vals[i] = -1.0;
    if (formula_eval(&f, vals, NULL, &out, &nil, err, sizeof(err)) < 0)
        issue(v, false, path, "%s (with every trigger at -1)", err);
}

static void check_modifiers(const struct so_spec *so, struct issues *v)
{
    if (!so->has_modifiers)
        return;
    const struct so_modifiers *m = &so->modifiers;
    const char *base = "spec.advanced.scalingModifiers";
    char path[SO_PATH_MAX];
    double target, act;
    if (m->formula[0] == '\0') {
        snprintf(path, sizeof(path), "%s.formula", base);
        issue(v, false, path, "\"formula\" is required when scalingModifiers is used");
    } else {
        check_formula(so, v);
    }
    snprintf(path, sizeof(path), "%s.target", base);
    if (m->target[0] == '\0' && m->formula[0] != '\0')
        issue(v, false, path, "\"target\" is required when a formula is given");
    else if (m->target[0] && (so_parse_float(m->target, &target) < 0 || !(target > 0)))
        issue(v, false, path, "\"target\" must be a number greater than 0, got \"%s\"", m->target);
    else if (m->target[0] && quantity_milli_from_double(target) <= 0)
        issue(v, false, path,
              "\"target\" %s rounds to 0 at thousandths; the HPA API rejects a target of 0",
              m->target);
    snprintf(path, sizeof(path), "%s.activationTarget", base);
    if (m->activation_target[0] && so_parse_float(m->activation_target, &act) < 0)
        issue(v, false, path, "\"activationTarget\" must be a number, got \"%s\"",
              m->activation_target);
    snprintf(path, sizeof(path), "%s.metricType", base);
    if (m->metric_type == SO_UTILIZATION)
        issue(v, false, path,
              "\"metricType\" of scalingModifiers must be AverageValue or Value, not Utilization");
}

static void check_rules(const struct hpa_rules *r, const char *dir, struct issues *v)
{
    char path[SO_PATH_MAX];
    const char *base = "spec.advanced.horizontalPodAutoscalerConfig.behavior";
    if (r->has_window && (r->window_seconds < 0 || r->window_seconds > HPA_WINDOW_MAX_S)) {
        snprintf(path, sizeof(path), "%s.%s.stabilizationWindowSeconds", base, dir);
        issue(v, false, path, "\"stabilizationWindowSeconds\" must be between 0 and %d, got %d",
              HPA_WINDOW_MAX_S, r->window_seconds);
    }
    if (r->has_policies && r->n_policies == 0) {
        snprintf(path, sizeof(path), "%s.%s.policies", base, dir);
        issue(v, false, path, "\"policies\" must hold at least one policy");
    }
    if (r->has_tolerance && !(r->tolerance >= 0)) {
        snprintf(path, sizeof(path), "%s.%s.tolerance", base, dir);
        issue(v, false, path, "\"tolerance\" must not be negative, got %g", r->tolerance);
    }
    for (size_t i = 0; i < r->n_policies; i++) {
        const struct hpa_policy *p = &r->policies[i];
        if (p->value <= 0) {
            snprintf(path, sizeof(path), "%s.%s.policies[%zu].value", base, dir, i);
            issue(v, false, path, "\"value\" must be greater than 0, got %d", p->value);
        }
        if (p->period_seconds < 1 || p->period_seconds > HPA_PERIOD_MAX_S) {
            snprintf(path, sizeof(path), "%s.%s.policies[%zu].periodSeconds", base, dir, i);
            issue(v, false, path, "\"periodSeconds\" must be between 1 and %d, got %d",
                  HPA_PERIOD_MAX_S, p->period_seconds);
        }
    }
}

/* §2.2.8: KEDA's warnings. */
static void check_warnings(const struct so_spec *so, struct issues *v)
{
    bool cached = false;
    for (size_t i = 0; i < so->n_triggers; i++)
        cached = cached || so->triggers[i].use_cached_metrics;
    int32_t min = so_min_replicas(so);
    if (so->has_polling_interval && min > 0 && !so->has_idle_replicas && !cached)
        issue(v, true, "spec.pollingInterval",
              "\"pollingInterval\" has little effect with \"minReplicaCount\" %d: the HPA, not "
              "this interval, scales between %d and the maximum (every %d s)",
              min, min, HPA_SYNC_PERIOD_S);
    if (so->has_cooldown_period && min > 0 && !so->has_idle_replicas)
        issue(v, true, "spec.cooldownPeriod",
              "\"cooldownPeriod\" has no effect with \"minReplicaCount\" %d and no "
              "\"idleReplicaCount\": it only delays scaling to zero (or to idle)",
              min);
}

int so_spec_validate(const struct so_spec *so, struct so_issue *out, size_t cap, size_t *n_out)
{
    struct issues v = {.out = out, .cap = out ? cap : 0};
    check_names(so, &v);
    check_counts(so, &v);
    check_bounds(so, &v);
    check_triggers(so, &v);
    check_fallback(so, &v);
    check_modifiers(so, &v);
    if (so->has_behavior) {
        check_rules(&so->behavior.up, "scaleUp", &v);
        check_rules(&so->behavior.down, "scaleDown", &v);
    }
    check_warnings(so, &v);
    if (n_out)
        *n_out = v.n;
    return v.errors;
}

int so_specs_validate_set(const struct so_spec *const *sos, size_t n, struct so_issue *out,
                          size_t cap, size_t *n_out)
{
    struct issues v = {.out = out, .cap = out ? cap : 0};
    char path[SO_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            const struct so_spec *a = sos[j], *b = sos[i];
            if (strcmp(a->name, b->name) == 0) {
                snprintf(path, sizeof(path), "[%zu].metadata.name", i);
                issue(&v, false, path, "ScaledObject \"%s\" is defined twice", b->name);
            } else if (strcmp(a->target_name, b->target_name) == 0 &&
                       strcmp(a->target_kind, b->target_kind) == 0 &&
                       strcmp(a->target_api_version, b->target_api_version) == 0) {
                snprintf(path, sizeof(path), "[%zu].spec.scaleTargetRef.name", i);
                issue(&v, false, path,
                      "the workload \"%s\" of type %s is already managed by the ScaledObject "
                      "\"%s\"",
                      b->target_name, b->target_kind, a->name);
            }
        }
    }
    if (n_out)
        *n_out = v.n;
    return v.errors;
}

/* ---------- HPA behavior defaults ---------- */

static void default_rules(struct hpa_rules *r, int32_t window, const struct hpa_policy *pol,
                          size_t npol)
{
    if (!r->has_window) {
        r->has_window = true;
        r->window_seconds = window;
    }
    if (!r->has_select) {
        r->has_select = true;
        r->select = HPA_SELECT_MAX;
    }
    if (!r->has_policies) {
        r->has_policies = true;
        r->n_policies = npol;
        memcpy(r->policies, pol, npol * sizeof(*pol));
    }
}

void hpa_behavior_default(struct hpa_behavior *b, int32_t down_window_s)
{
    static const struct hpa_policy up[] = {{HPA_POLICY_PODS, 4, 15}, {HPA_POLICY_PERCENT, 100, 15}};
    static const struct hpa_policy down[] = {{HPA_POLICY_PERCENT, 100, 15}};
    default_rules(&b->up, 0, up, 2);
    default_rules(&b->down, down_window_s, down, 1);
}
