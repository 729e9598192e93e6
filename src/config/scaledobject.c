/* scaledobject: a ScaledObject document into struct cfg_scaled_object.
 *
 * The fields are KEDA's (keda-hpa-spec.md §2.1). What the policy reads goes
 * into struct so_spec, whose own functions apply KEDA's defaults and
 * validation rules; this file only reads, type-checks and places values, and
 * puts file:line:col on the rules' findings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/decode.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const metric_types[] = {"AverageValue", "Value", "Utilization"};

/* ---------- spec.scaleTargetRef, counts, fallback ---------- */

static void decode_target(struct dec *d, const struct ynode *spec, struct cfg_scaled_object *o)
{
    static const char *const known[] = {"name", "apiVersion", "kind", "envSourceContainerName"};
    const struct ynode *ref;
    o->target_pos = dec_pos(d, spec);
    if (dec_map_req(d, spec, "scaleTargetRef", "the workload to scale, by name", &ref) <= 0)
        return;
    size_t s = dec_push(d, "scaleTargetRef");
    dec_known(d, ref, known, N(known));
    struct so_spec *so = &o->spec;
    o->target_pos = dec_pos(d, ref);
    if (dec_str_fixed(d, ref, "name", so->target_name, sizeof(so->target_name)) > 0)
        o->target_pos = dec_pos(d, dec_get(ref, "name"));
    else if (!dec_get(ref, "name"))
        dec_required(d, ref, "name", NULL);
    dec_str_fixed(d, ref, "apiVersion", so->target_api_version, sizeof(so->target_api_version));
    dec_str_fixed(d, ref, "kind", so->target_kind, sizeof(so->target_kind));
    o->target_kind_pos = dec_get(ref, "kind") ? dec_pos(d, dec_get(ref, "kind")) : o->target_pos;
    dec_str(d, ref, "envSourceContainerName", &o->env_source_container);
    dec_pop(d, s);
}

static void decode_counts(struct dec *d, const struct ynode *spec, struct so_spec *so)
{
    so->has_polling_interval = dec_int32(d, spec, "pollingInterval", &so->polling_interval) > 0;
    so->has_cooldown_period = dec_int32(d, spec, "cooldownPeriod", &so->cooldown_period) > 0;
    so->has_initial_cooldown_period =
        dec_int32(d, spec, "initialCooldownPeriod", &so->initial_cooldown_period) > 0;
    so->has_idle_replicas = dec_int32(d, spec, "idleReplicaCount", &so->idle_replicas) > 0;
    so->has_min_replicas = dec_int32(d, spec, "minReplicaCount", &so->min_replicas) > 0;
    so->has_max_replicas = dec_int32(d, spec, "maxReplicaCount", &so->max_replicas) > 0;
}

static void decode_fallback(struct dec *d, const struct ynode *spec, struct so_spec *so)
{
    static const char *const known[] = {"failureThreshold", "replicas", "behavior"};
    static const char *const behaviors[] = {"static", "currentReplicas", "currentReplicasIfHigher",
                                            "currentReplicasIfLower", "scalingModifiers"};
    const struct ynode *fb;
    if (dec_map(d, spec, "fallback", &fb) <= 0)
        return;
    size_t s = dec_push(d, "fallback");
    dec_known(d, fb, known, N(known));
    so->has_fallback = true;
    if (dec_int32(d, fb, "failureThreshold", &so->fallback.failure_threshold) == 0)
        dec_required(d, fb, "failureThreshold", "failures before the fallback applies");
    if (dec_int32(d, fb, "replicas", &so->fallback.replicas) == 0)
        dec_required(d, fb, "replicas", "the replica count while in fallback");
    int b;
    if (dec_enum(d, fb, "behavior", behaviors, N(behaviors), &b) > 0)
        so->fallback.behavior = (enum so_fallback_behavior)b;
    dec_pop(d, s);
}

/* ---------- spec.advanced ---------- */

/* A Kubernetes Quantity (the HPA's tolerance): a number, or a string such as
 * "0.05", "50m" or "1e-2". 0 or -EINVAL. */
static int parse_quantity(const char *s, double *out)
{
    static const struct {
        const char *suffix;
        double scale;
    } suffixes[] = {{"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3},    {"k", 1e3},       {"M", 1e6},
                    {"G", 1e9},  {"T", 1e12}, {"Ki", 1024.0}, {"Mi", 1048576.0}};
    char num[64];
    size_t len = strlen(s);
    for (size_t i = 0; i < N(suffixes); i++) {
        size_t sl = strlen(suffixes[i].suffix);
        if (len > sl && len - sl < sizeof(num) && strcmp(s + len - sl, suffixes[i].suffix) == 0) {
            memcpy(num, s, len - sl);
            num[len - sl] = '\0';
            if (so_parse_float(num, out) < 0)
                return -EINVAL;
            *out *= suffixes[i].scale;
            return 0;
        }
    }
    return so_parse_float(s, out);
}

static int decode_tolerance(struct dec *d, const struct ynode *rules, double *out)
{
    const struct ynode *v = dec_get(rules, "tolerance");
    if (!v)
        return 0;
    struct yscalar sc;
    yaml_resolve(v, &sc);
    if (v->kind == YN_SCALAR && (sc.type == YV_INT || sc.type == YV_FLOAT)) {
        *out = sc.f;
        return 1;
    }
    if (v->kind == YN_SCALAR && sc.type == YV_STR && parse_quantity(v->text, out) == 0)
        return 1;
    char got[128];
    ynode_describe(v, got, sizeof(got));
    dec_error_key(d, dec_pos(d, v), "tolerance",
                  "must be a quantity such as 0.05 or \"50m\", got %s", got);
    return -1;
}

static void decode_policy(struct dec *d, const struct ynode *p, struct hpa_policy *out)
{
    static const char *const known[] = {"type", "value", "periodSeconds"};
    static const char *const types[] = {"Pods", "Percent"};
    if (!dec_is_map(d, p, "type, value and periodSeconds"))
        return;
    dec_known(d, p, known, N(known));
    int t;
    if (dec_enum(d, p, "type", types, N(types), &t) > 0)
        out->type = t == 0 ? HPA_POLICY_PODS : HPA_POLICY_PERCENT;
    else if (!dec_get(p, "type"))
        dec_required(d, p, "type", "Pods or Percent");
    if (dec_int32(d, p, "value", &out->value) == 0)
        dec_required(d, p, "value", NULL);
    if (dec_int32(d, p, "periodSeconds", &out->period_seconds) == 0)
        dec_required(d, p, "periodSeconds", NULL);
}

static void decode_rules(struct dec *d, const struct ynode *beh, const char *key,
                         struct hpa_rules *r)
{
    static const char *const known[] = {"stabilizationWindowSeconds", "selectPolicy", "policies",
                                        "tolerance"};
    static const char *const selects[] = {"Max", "Min", "Disabled"};
    const struct ynode *rules, *pol;
    if (dec_map(d, beh, key, &rules) <= 0)
        return;
    size_t s = dec_push(d, key);
    dec_known(d, rules, known, N(known));
    r->has_window = dec_int32(d, rules, "stabilizationWindowSeconds", &r->window_seconds) > 0;
    int sel;
    if (dec_enum(d, rules, "selectPolicy", selects, N(selects), &sel) > 0) {
        r->has_select = true;
        r->select = (enum hpa_select)sel;
    }
    r->has_tolerance = decode_tolerance(d, rules, &r->tolerance) > 0;
    if (dec_seq(d, rules, "policies", &pol) > 0) {
        size_t sp = dec_push(d, "policies");
        r->has_policies = true;
        if (pol->n > HPA_POLICIES_MAX)
            dec_error(d, dec_pos(d, pol), "has %zu policies; at most %d are supported", pol->n,
                      HPA_POLICIES_MAX);
        for (size_t i = 0; i < pol->n && i < HPA_POLICIES_MAX; i++) {
            size_t si = dec_push_index(d, i);
            decode_policy(d, pol->items[i], &r->policies[i]);
            dec_pop(d, si);
        }
        r->n_policies = pol->n < HPA_POLICIES_MAX ? pol->n : HPA_POLICIES_MAX;
        dec_pop(d, sp);
    }
    dec_pop(d, s);
}

static void decode_hpa_config(struct dec *d, const struct ynode *adv, struct so_spec *so)
{
    static const char *const known[] = {"name", "behavior"};
    static const char *const beh_known[] = {"scaleUp", "scaleDown"};
    const struct ynode *hpa, *beh;
    if (dec_map(d, adv, "horizontalPodAutoscalerConfig", &hpa) <= 0)
        return;
    size_t s = dec_push(d, "horizontalPodAutoscalerConfig");
    dec_known(d, hpa, known, N(known));
    dec_str_fixed(d, hpa, "name", so->hpa_name, sizeof(so->hpa_name));
    if (dec_map(d, hpa, "behavior", &beh) > 0) {
        size_t sb = dec_push(d, "behavior");
        dec_known(d, beh, beh_known, N(beh_known));
        so->has_behavior = true;
        decode_rules(d, beh, "scaleUp", &so->behavior.up);
        decode_rules(d, beh, "scaleDown", &so->behavior.down);
        dec_pop(d, sb);
    }
    dec_pop(d, s);
}

static void decode_modifiers(struct dec *d, const struct ynode *adv, struct so_spec *so)
{
    static const char *const known[] = {"formula", "target", "activationTarget", "metricType"};
    const struct ynode *m;
    if (dec_map(d, adv, "scalingModifiers", &m) <= 0)
        return;
    size_t s = dec_push(d, "scalingModifiers");
    dec_known(d, m, known, N(known));
    struct so_modifiers *mod = &so->modifiers;
    int any = 0, mt;
    any |= dec_str_fixed(d, m, "formula", mod->formula, sizeof(mod->formula)) > 0;
    any |= dec_str_fixed(d, m, "target", mod->target, sizeof(mod->target)) > 0;
    any |= dec_str_fixed(d, m, "activationTarget", mod->activation_target,
                         sizeof(mod->activation_target)) > 0;
    if (dec_enum(d, m, "metricType", metric_types, N(metric_types), &mt) > 0) {
        mod->metric_type = (enum so_metric_type)mt;
        any = 1;
    }
    /* KEDA's IsUsingModifiers: any field set. */
    so->has_modifiers = any != 0;
    dec_pop(d, s);
}

static void decode_advanced(struct dec *d, const struct ynode *spec, struct cfg_scaled_object *o)
{
    static const char *const known[] = {"restoreToOriginalReplicaCount",
                                        "horizontalPodAutoscalerConfig", "scalingModifiers"};
    const struct ynode *adv;
    if (dec_map(d, spec, "advanced", &adv) <= 0)
        return;
    size_t s = dec_push(d, "advanced");
    dec_known(d, adv, known, N(known));
    dec_bool(d, adv, "restoreToOriginalReplicaCount", &o->restore_to_original);
    decode_hpa_config(d, adv, &o->spec);
    decode_modifiers(d, adv, &o->spec);
    dec_pop(d, s);
}

/* ---------- spec.triggers ---------- */

/* cpu and memory triggers (KEDA's Resource metrics): kept for their index and
 * validation, but ebb has no pod CPU or memory to read. */
static void decode_resource(struct dec *d, struct cfg_trigger *t, const struct ynode *meta)
{
    dec_warn(d, t->pos,
             "a %s trigger never scales in ebb: there is no pod CPU or memory to read (it still "
             "counts for metric names and validation)",
             t->type);
    size_t s = dec_push(d, "metadata");
    const char *v = NULL;
    for (size_t i = 0; i < t->n_metadata; i++) {
        const struct cfg_kv *kv = &t->metadata[i];
        if (strcmp(kv->key, "value") == 0)
            v = kv->value;
        else if (strcmp(kv->key, "type") != 0 && strcmp(kv->key, "containerName") != 0)
            dec_warn_key(d, kv->pos, kv->key, "unknown parameter of the %s trigger, ignored",
                         t->type);
    }
    double x;
    if (!v)
        dec_required(d, meta, "value", "the target CPU or memory value");
    else if (so_parse_float(v, &x) < 0)
        dec_error_key(d, dec_pos(d, dec_get(meta, "value")), "value",
                      "must be a number, got \"%.48s\"", v);
    dec_pop(d, s);
}

static void decode_auth_ref(struct dec *d, const struct ynode *trig, struct cfg_trigger *t)
{
    static const char *const known[] = {"name", "kind"};
    static const char *const kinds[] = {"TriggerAuthentication", "ClusterTriggerAuthentication"};
    const struct ynode *ref;
    if (dec_map(d, trig, "authenticationRef", &ref) <= 0)
        return;
    size_t s = dec_push(d, "authenticationRef");
    dec_known(d, ref, known, N(known));
    t->auth_ref_pos = dec_pos(d, ref);
    if (dec_str(d, ref, "name", &t->auth_ref_name) > 0)
        t->auth_ref_pos = dec_pos(d, dec_get(ref, "name"));
    else if (!dec_get(ref, "name"))
        dec_required(d, ref, "name", "the TriggerAuthentication to use");
    int k;
    if (dec_enum(d, ref, "kind", kinds, N(kinds), &k) > 0)
        t->auth_ref_cluster = k == 1;
    dec_pop(d, s);
}

static void decode_trigger(struct dec *d, const struct ynode *trig, size_t index,
                           struct cfg_trigger *t, struct so_trigger *st)
{
    static const char *const known[] = {
        "type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"};
    t->pos = dec_pos(d, trig);
    if (!dec_is_map(d, trig, "type and metadata"))
        return;
    dec_known(d, trig, known, N(known));
    if (dec_str_fixed(d, trig, "type", st->type, sizeof(st->type)) <= 0) {
        if (!dec_get(trig, "type"))
            dec_required(d, trig, "type", "prometheus");
        dec_mark_failed(d, d->path); /* without a type, nothing else of it can be checked */
    }
    t->type = st->type;
    if (dec_get(trig, "type"))
        t->pos = dec_pos(d, dec_get(trig, "type"));
    dec_str_fixed(d, trig, "name", st->name, sizeof(st->name));
    int mt;
    if (dec_enum(d, trig, "metricType", metric_types, N(metric_types), &mt) > 0)
        st->metric_type = (enum so_metric_type)mt;
    dec_bool(d, trig, "useCachedMetrics", &st->use_cached_metrics);
    decode_auth_ref(d, trig, t);
    int rm = dec_str_map(d, trig, "metadata", &t->metadata, &t->n_metadata);
    if (rm == 0 && !dec_get(trig, "metadata"))
        dec_required(d, trig, "metadata", "the scaler's parameters");
    const struct ynode *meta = dec_get(trig, "metadata");
    /* A metadata mapping with some bad values is still read, so that every
     * other problem in it is reported too. */
    bool have_meta = rm > 0 || (rm < 0 && meta && meta->kind == YN_MAP);
    if (strcmp(st->type, "prometheus") == 0) {
        t->is_prometheus = true;
        if (have_meta)
            prom_decode(d, t, meta, st, index);
    } else if (so_trigger_is_resource(st)) {
        if (have_meta)
            decode_resource(d, t, meta);
    } else if (st->type[0]) {
        dec_error_key(d, t->pos, "type",
                      "trigger type \"%.64s\" is not supported by ebb: it reads prometheus "
                      "triggers (cpu and memory are accepted and ignored)",
                      st->type);
        dec_mark_failed(d, d->path); /* its metadata means nothing here */
    }
}

static void decode_triggers(struct dec *d, const struct ynode *spec, struct cfg_scaled_object *o)
{
    const struct ynode *list;
    if (dec_seq_req(d, spec, "triggers", "at least one trigger", &list) <= 0)
        return;
    size_t s = dec_push(d, "triggers");
    size_t n = list->n;
    if (n > SO_TRIGGERS_MAX) {
        dec_error(d, dec_pos(d, list), "has %zu triggers; at most %d are supported", n,
                  SO_TRIGGERS_MAX);
        n = SO_TRIGGERS_MAX;
    }
    o->triggers = arena_alloc(&d->c->arena, (n ? n : 1) * sizeof(*o->triggers));
    if (!o->triggers) {
        dec_error(d, dec_pos(d, list), "out of memory");
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        size_t si = dec_push_index(d, i);
        decode_trigger(d, list->items[i], i, &o->triggers[i], &o->spec.triggers[i]);
        dec_pop(d, si);
    }
    o->spec.n_triggers = n;
    dec_pop(d, s);
}

/* ---------- the object ---------- */

/* The node a so_spec_validate path ("spec.triggers[1].name") points at, or
 * its deepest ancestor that is written in the file. */
static const struct ynode *node_at_path(const struct ynode *root, const char *path)
{
    const struct ynode *n = root;
    const char *p = path;
    while (*p && n) {
        if (*p == '.')
            p++;
        const struct ynode *next = NULL;
        if (*p == '[') {
            char *end;
            unsigned long i = strtoul(p + 1, &end, 10);
            if (*end != ']')
                break;
            if (n->kind == YN_SEQ && i < n->n)
                next = n->items[i];
            p = end + 1;
        } else {
            size_t len = strcspn(p, ".[");
            char key[96];
            if (len >= sizeof(key))
                break;
            memcpy(key, p, len);
            key[len] = '\0';
            next = ymap_get(n, key);
            p += len;
        }
        if (!next)
            break;
        n = next;
    }
    return n;
}

static void apply_annotations(struct dec *d, const struct cfg_meta *m, struct so_spec *so)
{
    size_t s = dec_push(d, "metadata");
    size_t sa = dec_push(d, "annotations");
    for (size_t i = 0; i < m->n_annotations; i++) {
        char err[SO_MSG_MAX];
        const struct cfg_kv *a = &m->annotations[i];
        if (so_spec_set_annotation(so, a->key, a->value, err, sizeof(err)) < 0)
            dec_error_key(d, a->pos, a->key, "%s", err);
    }
    dec_pop(d, sa);
    dec_pop(d, s);
}

static void validate(struct dec *d, const struct ynode *root, struct cfg_scaled_object *o)
{
    struct so_issue issues[32];
    size_t n = 0;
    so_spec_validate(&o->spec, issues, N(issues), &n);
    for (size_t i = 0; i < n; i++) {
        if (dec_path_failed(d, issues[i].path))
            continue; /* the field already has an error of its own */
        const struct ynode *at = node_at_path(root, issues[i].path);
        dec_issue_path(d, issues[i].warning, dec_pos(d, at), issues[i].path, "%s", issues[i].msg);
    }
}

void so_decode(struct dec *d, const struct ynode *root)
{
    static const char *const known[] = {"apiVersion", "kind", "metadata", "spec", "status"};
    static const char *const spec_known[] = {
        "scaleTargetRef",   "pollingInterval", "cooldownPeriod",  "initialCooldownPeriod",
        "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback",
        "advanced",         "triggers"};
    struct cfg_scaled_object *o = arena_alloc(&d->c->arena, sizeof(*o));
    if (!o) {
        dec_error(d, dec_pos(d, root), "out of memory");
        return;
    }
    so_spec_init(&o->spec);
    dec_known(d, root, known, N(known));
    struct cfg_meta m;
    dec_meta(d, root, true, &m);
    if (m.name && strlen(m.name) >= sizeof(o->spec.name))
        dec_issue_path(d, false, m.name_pos, "metadata.name",
                       "is %zu characters long; KEDA allows at most 63", strlen(m.name));
    else if (m.name)
        memcpy(o->spec.name, m.name, strlen(m.name) + 1);
    o->namespace_ = m.namespace_;
    o->labels = m.labels;
    o->n_labels = m.n_labels;
    o->annotations = m.annotations;
    o->n_annotations = m.n_annotations;
    o->pos = m.pos;
    o->name_pos = m.name_pos;
    apply_annotations(d, &m, &o->spec);
    const struct ynode *spec;
    if (dec_map_req(d, root, "spec", "scaleTargetRef and triggers", &spec) > 0) {
        size_t s = dec_push(d, "spec");
        dec_known(d, spec, spec_known, N(spec_known));
        decode_target(d, spec, o);
        decode_counts(d, spec, &o->spec);
        decode_fallback(d, spec, &o->spec);
        decode_advanced(d, spec, o);
        decode_triggers(d, spec, o);
        dec_pop(d, s);
    }
    so_spec_default(&o->spec);
    validate(d, root, o);
    o->errors = d->errors;
    dec_added(d, config_add_so(d->c, o), o->pos);
}
