/* cluster_status: the status KEDA's operator writes on a ScaledObject
 * (kedacore/keda apis/keda/v1alpha1 ScaledObjectStatus), built from the
 * autoscaler's live state. Pure: data in, a cJSON tree out. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "autoscaler/cluster.h"
#include "prom/query.h"

int cluster_time_parse(const char *s, double *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end)
        return -EINVAL;
    if (*end == '.') /* fractions of a second (MicroTime) are dropped */
        end += 1 + strspn(end + 1, "0123456789");
    if (strcmp(end, "Z") != 0)
        return -EINVAL;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = (double)t;
    return 0;
}

/* KEDA's messages for its condition reasons. */
static const char *cond_message(const char *type, const char *reason)
{
    static const struct {
        const char *reason, *message;
    } msgs[] = {
        {"ScaledObjectReady", "ScaledObject is defined correctly and is ready for scaling"},
        {"TriggerError", "Triggers defined in ScaledObject are not working correctly"},
        {"PartialTriggerError", "Some triggers defined in ScaledObject are not working correctly"},
        {"ScalerActive", "Scaling is performed because triggers are active"},
        {"ScalerNotActive", "Scaling is not performed because triggers are not active"},
        {"ScalerCooldown", "Scaler cooling down because triggers are not active"},
        {"FallbackExists", "At least one trigger is falling back on this scaled object"},
        {"NoFallbackFound", "No fallbacks are active on this scaled object"},
        {"ScaledObjectPaused", "ScaledObject is paused"},
        {"ScaledObjectUnpaused", "pause annotation removed for ScaledObject"},
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
        if (strcmp(msgs[i].reason, reason) == 0)
            return msgs[i].message;
    return type;
}

static void add_cond(cJSON *arr, const char *type, const char *status, const char *reason,
                     const char *message)
{
    cJSON *c = cJSON_CreateObject();
    if (!c)
        return;
    cJSON_AddStringToObject(c, "type", type);
    cJSON_AddStringToObject(c, "status", status);
    cJSON_AddStringToObject(c, "reason", reason);
    cJSON_AddStringToObject(c, "message", message ? message : cond_message(type, reason));
    cJSON_AddItemToArray(arr, c);
}

static void add_object_cond(cJSON *arr, const char *type, const struct as_condition *c)
{
    add_cond(arr, type, c->status, c->reason, NULL);
}

/* scaleTargetKind ("apps/v1.Deployment") and scaleTargetGVKR. */
static void add_target(cJSON *st, const struct so_spec *so)
{
    char kind[256], group[128] = "", version[128], res[128];
    const char *av = so->target_api_version, *slash = strchr(av, '/');
    if (slash) {
        snprintf(group, sizeof(group), "%.*s", (int)(slash - av), av);
        snprintf(version, sizeof(version), "%s", slash + 1);
    } else {
        snprintf(version, sizeof(version), "%s", av);
    }
    snprintf(kind, sizeof(kind), "%s.%s", av, so->target_kind);
    target_k8s_resource(so->target_kind, res, sizeof(res));
    cJSON_AddStringToObject(st, "scaleTargetKind", kind);
    cJSON *g = cJSON_AddObjectToObject(st, "scaleTargetGVKR");
    if (g) {
        cJSON_AddStringToObject(g, "group", group);
        cJSON_AddStringToObject(g, "version", version);
        cJSON_AddStringToObject(g, "kind", so->target_kind);
        cJSON_AddStringToObject(g, "resource", res);
    }
}

/* externalMetricNames, and health per trigger when fallback is configured
 * (KEDA keeps health only then). */
static void add_metrics(cJSON *st, const struct as_object *o)
{
    const struct so_spec *so = &o->spec;
    cJSON *names = cJSON_AddArrayToObject(st, "externalMetricNames");
    cJSON *health = so->has_fallback ? cJSON_AddObjectToObject(st, "health") : NULL;
    for (size_t i = 0; i < so->n_triggers; i++) {
        if (so_trigger_is_resource(&so->triggers[i]))
            continue;
        if (names)
            cJSON_AddItemToArray(names, cJSON_CreateString(o->triggers[i].metric_name));
        cJSON *h = health ? cJSON_AddObjectToObject(health, o->triggers[i].metric_name) : NULL;
        if (h) {
            int32_t n = o->keda.failures[i];
            cJSON_AddNumberToObject(h, "numberOfFailures", n);
            cJSON_AddStringToObject(h, "status", n > 0 ? "Failing" : "Happy");
        }
    }
}

cJSON *cluster_status_build(const struct cl_entry *e, bool with_last_active)
{
    cJSON *st = cJSON_CreateObject();
    if (!st)
        return NULL;
    const struct as_object *o = e->obj;
    if (!o) {
        cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
        add_cond(conds, "Ready", "False", "ScaledObjectCheckFailed", e->check_failed);
        add_cond(conds, "Active", "Unknown", "UnknownState", "ScaledObject check failed");
        add_cond(conds, "Fallback", "Unknown", "UnknownState", "ScaledObject check failed");
        return st;
    }
    const struct so_spec *so = &o->spec;
    add_target(st, so);
    if (e->has_original)
        cJSON_AddNumberToObject(st, "originalReplicaCount", e->original);
    if (with_last_active && o->keda.has_last_active) {
        char t[32];
        prom_rfc3339(o->keda.last_active, t, sizeof(t));
        cJSON_AddStringToObject(st, "lastActiveTime", t);
    }
    add_metrics(st, o);
    if (so_hpa_enabled(so))
        cJSON_AddStringToObject(st, "hpaName", o->hpa.name);
    if (so->pause.has_paused_replicas)
        cJSON_AddNumberToObject(st, "pausedReplicaCount", so->pause.paused_replicas);
    cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
    add_object_cond(conds, "Ready", &o->ready);
    add_object_cond(conds, "Active", &o->active);
    add_object_cond(conds, "Fallback", &o->fallback);
    add_object_cond(conds, "Paused", &o->paused);
    return st;
}
