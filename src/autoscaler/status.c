/* status: what the autoscaler shows — a JSON status per ScaledObject (KEDA's
 * conditions, lastActiveTime, each trigger's value and error, replicas,
 * recent scale events), the rows of `kubectl get hpa`, and /metrics with
 * KEDA's metric names (reference/keda-hpa-spec.md §7) plus ebb_autoscaler_*. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autoscaler/autoscaler.h"
#include "base/util.h"
#include "prom/query.h"
#include "scale/kubectl.h"

static int json_str(struct buf *b, const char *s)
{
    return buf_append_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

/* A JSON number; null for NaN and infinities, which JSON cannot hold. */
static int json_num(struct buf *b, double v)
{
    if (!isfinite(v))
        return buf_append_str(b, "null");
    return buf_appendf(b, "%.17g", v);
}

static int json_time(struct buf *b, double unix_seconds)
{
    char t[32];
    prom_rfc3339(unix_seconds, t, sizeof(t));
    return json_str(b, t);
}

static int json_cond(struct buf *b, const char *type, const struct as_condition *c, bool comma)
{
    int err = buf_appendf(b, "%s{\"type\":\"%s\",\"status\":\"%s\",\"reason\":", comma ? "," : "",
                          type, c->status);
    err |= json_str(b, c->reason);
    return err | buf_append_str(b, "}");
}

static int trigger_json(struct buf *b, const struct as_object *o, size_t i)
{
    const struct as_trigger_state *ts = &o->triggers[i];
    const struct cfg_trigger *t = &o->cfg->triggers[i];
    int err = buf_appendf(b, "%s{\"index\":%zu,\"name\":", i ? "," : "", i);
    err |= json_str(b, o->spec.triggers[i].name);
    err |= buf_append_str(b, ",\"type\":");
    err |= json_str(b, t->type);
    err |= buf_append_str(b, ",\"metric\":");
    err |= json_str(b, ts->metric_name);
    if (t->is_prometheus) {
        err |= buf_append_str(b, ",\"query\":");
        err |= json_str(b, t->prom.query);
        err |= buf_append_str(b, ",\"threshold\":");
        err |= json_num(b, t->prom.threshold);
        err |= buf_append_str(b, ",\"activationThreshold\":");
        err |= json_num(b, t->prom.activation_threshold);
    }
    err |= buf_appendf(b, ",\"polled\":%s,\"active\":%s", ts->polled ? "true" : "false",
                       ts->active ? "true" : "false");
    if (ts->polled) {
        const struct trigger_result *r = &ts->last;
        err |= buf_append_str(b, ",\"lastPollTime\":");
        err |= json_time(b, ts->at);
        err |= buf_append_str(b, ",\"value\":");
        if (r->sample.ok)
            err |= json_num(b, r->sample.value);
        else
            err |= buf_append_str(b, "null");
        err |= buf_append_str(b, ",\"error\":");
        if (r->sample.ok)
            err |= buf_append_str(b, "null");
        else
            err |= json_str(b, r->answer.err);
        err |= buf_appendf(b, ",\"series\":%zu,\"summed\":%s,\"empty\":%s,\"attempts\":%d",
                           r->answer.nseries, r->answer.summed ? "true" : "false",
                           r->answer.empty ? "true" : "false", r->attempts);
        err |= buf_append_str(b, ",\"latencySeconds\":");
        err |= json_num(b, r->seconds);
        if (r->answer.summed)
            err |= buf_appendf(b, ",\"warning\":\"the query returned %zu series; ebb summed "
                                  "them (KEDA fails such a query; --keda-strict)\"",
                               r->answer.nseries);
    }
    err |= buf_append_str(b, ",\"metricValue\":");
    if (ts->has_metric)
        err |= json_num(b, ts->metric_value);
    else
        err |= buf_append_str(b, "null");
    err |= buf_appendf(b, ",\"errorsTotal\":%llu}", (unsigned long long)ts->errors_total);
    return err;
}

static int events_json(struct buf *b, const struct as_object *o)
{
    int err = buf_append_str(b, "[");
    unsigned n = o->n_events < AS_EVENTS_MAX ? o->n_events : AS_EVENTS_MAX;
    for (unsigned k = 0; k < n; k++) {
        /* oldest first */
        const struct as_event *e = &o->events[(o->n_events - n + k) % AS_EVENTS_MAX];
        err |= buf_appendf(b, "%s{\"time\":", k ? "," : "");
        err |= json_time(b, e->at);
        err |= buf_appendf(b, ",\"from\":%d,\"to\":%d,\"source\":\"%s\",\"failed\":%s,\"reason\":",
                           e->from, e->to, e->source, e->failed ? "true" : "false");
        err |= json_str(b, e->reason);
        err |= buf_append_str(b, "}");
    }
    return err | buf_append_str(b, "]");
}

static int hpa_json(struct buf *b, const struct as_object *o)
{
    const struct hpa_status *s = &o->hpa_state.status;
    int err = buf_append_str(b, "{\"name\":");
    err |= json_str(b, o->hpa.name);
    err |= buf_appendf(b, ",\"enabled\":%s,\"minReplicas\":%d,\"maxReplicas\":%d,"
                          "\"currentReplicas\":%d,\"desiredReplicas\":%d,\"lastScaleTime\":",
                       so_hpa_enabled(&o->spec) ? "true" : "false", o->hpa.min_replicas,
                       o->hpa.max_replicas, s->current_replicas, s->desired_replicas);
    if (s->has_last_scale)
        err |= json_time(b, s->last_scale_time);
    else
        err |= buf_append_str(b, "null");
    static const char *const cs[] = {"Unknown", "True", "False"};
    err |= buf_appendf(b, ",\"conditions\":[{\"type\":\"AbleToScale\",\"status\":\"%s\",\"reason\":",
                       cs[s->able_to_scale]);
    err |= json_str(b, s->able_reason);
    err |= buf_appendf(b, "},{\"type\":\"ScalingActive\",\"status\":\"%s\",\"reason\":",
                       cs[s->scaling_active]);
    err |= json_str(b, s->active_reason);
    err |= buf_appendf(b, "},{\"type\":\"ScalingLimited\",\"status\":\"%s\",\"reason\":",
                       cs[s->scaling_limited]);
    err |= json_str(b, s->limited_reason);
    err |= buf_append_str(b, "}]");
    if (o->has_hpa_decision)
        err |= buf_appendf(b, ",\"lastSync\":{\"desired\":%d,\"rescale\":%s,\"reason\":",
                           o->hpa_decision.replicas, o->hpa_decision.rescale ? "true" : "false") |
               json_str(b, o->hpa_decision.reason) | buf_append_str(b, "}");
    return err | buf_append_str(b, "}");
}

static int object_json(struct buf *b, const struct as_object *o, double now)
{
    const struct as_target_ops *ops = o->target.ops;
    int err = buf_append_str(b, "{\"name\":");
    err |= json_str(b, o->spec.name);
    err |= buf_append_str(b, ",\"namespace\":");
    err |= json_str(b, o->cfg->namespace_);
    err |= buf_append_str(b, ",\"target\":{\"kind\":");
    err |= json_str(b, o->spec.target_kind);
    err |= buf_append_str(b, ",\"name\":");
    err |= json_str(b, o->spec.target_name);
    if (ops)
        err |= buf_appendf(b, ",\"replicas\":%d,\"statusReplicas\":%d,\"readyReplicas\":%d",
                           ops->spec_replicas(o->target.t), ops->status_replicas(o->target.t),
                           ops->ready_replicas(o->target.t));
    if (o->target_err[0] || o->target_errors) {
        err |= buf_appendf(b, ",\"errors\":%llu,\"lastError\":",
                           (unsigned long long)o->target_errors);
        err |= json_str(b, o->target_err[0] ? o->target_err : NULL);
    }
    err |= buf_appendf(b, "},\"minReplicaCount\":%d,\"maxReplicaCount\":%d,\"pollingInterval\":%d,"
                          "\"cooldownPeriod\":%d,\"desiredReplicas\":%d,\"lastActiveTime\":",
                       so_min_replicas(&o->spec), o->hpa.max_replicas, o->spec.polling_interval,
                       o->spec.cooldown_period, o->desired);
    if (o->keda.has_last_active)
        err |= json_time(b, o->keda.last_active);
    else
        err |= buf_append_str(b, "null");
    err |= buf_append_str(b, ",\"conditions\":[");
    err |= json_cond(b, "Ready", &o->ready, false);
    err |= json_cond(b, "Active", &o->active, true);
    err |= json_cond(b, "Fallback", &o->fallback, true);
    err |= json_cond(b, "Paused", &o->paused, true);
    err |= buf_append_str(b, "],\"lastDecision\":");
    if (o->has_decision) {
        err |= buf_appendf(b, "{\"action\":\"%s\",\"replicas\":%d,\"reason\":",
                           o->decision.action == KEDA_SCALE ? "scale" : "keep",
                           o->decision.replicas);
        err |= json_str(b, o->decision.reason);
        if (o->decision.formula_error[0]) {
            err |= buf_append_str(b, ",\"formulaError\":");
            err |= json_str(b, o->decision.formula_error);
        }
        if (o->decision.has_composite)
            err |= buf_append_str(b, ",\"compositeValue\":") |
                   json_num(b, (double)o->decision.composite_milli / 1000.0);
        err |= buf_append_str(b, "}");
    } else {
        err |= buf_append_str(b, "null");
    }
    err |= buf_append_str(b, ",\"triggers\":[");
    for (size_t i = 0; i < o->spec.n_triggers; i++)
        err |= trigger_json(b, o, i);
    err |= buf_append_str(b, "],\"hpa\":");
    err |= hpa_json(b, o);
    err |= buf_append_str(b, ",\"events\":");
    err |= events_json(b, o);
    err |= buf_append_str(b, ",\"age\":");
    err |= json_num(b, now - o->created);
    return err | buf_append_str(b, "}");
}

int autoscaler_status_json(const struct autoscaler *as, double now, struct buf *out)
{
    int err = buf_append_str(out, "{\"scaledObjects\":[");
    for (size_t i = 0; i < as->n_objs; i++) {
        if (i)
            err |= buf_append_str(out, ",");
        err |= object_json(out, as->objs[i], now);
    }
    err |= buf_append_str(out, "]}\n");
    return err ? -ENOBUFS : 0;
}

int autoscaler_hpa_json(const struct autoscaler *as, double now, struct buf *out)
{
    int err = buf_append_str(out, "{\"items\":[");
    bool first = true;
    for (size_t i = 0; i < as->n_objs; i++) {
        const struct as_object *o = as->objs[i];
        if (!so_hpa_enabled(&o->spec))
            continue; /* KEDA deletes the HPA of a paused object */
        struct kubectl_hpa_row row;
        if (kubectl_hpa_row(&o->hpa, &o->hpa_state.status, o->created, now, &row) < 0)
            return -ENOBUFS;
        const char *cells[][2] = {
            {"name", row.name},         {"namespace", o->cfg->namespace_},
            {"reference", row.reference}, {"targets", row.targets},
            {"minpods", row.minpods},   {"maxpods", row.maxpods},
            {"replicas", row.replicas}, {"age", row.age},
        };
        err |= buf_append_str(out, first ? "{" : ",{");
        first = false;
        for (size_t k = 0; k < ARRAY_SIZE(cells); k++) {
            err |= buf_appendf(out, "%s\"%s\":", k ? "," : "", cells[k][0]);
            err |= json_str(out, cells[k][1]);
        }
        err |= buf_append_str(out, "}");
    }
    err |= buf_append_str(out, "]}\n");
    return err ? -ENOBUFS : 0;
}

/* ---- /metrics ------------------------------------------------------------ */

/* KEDA's label set L, in the name order client_golang writes it. */
static int labels_l(struct buf *b, const struct as_object *o, size_t i)
{
    const struct as_trigger_state *ts = &o->triggers[i];
    const char *scaler = o->spec.triggers[i].name[0] ? o->spec.triggers[i].name
                                                     : "prometheusScaler";
    int err = buf_append_str(b, "metric=\"");
    err |= prom_escape_label(b, ts->metric_name);
    err |= buf_append_str(b, "\",namespace=\"");
    err |= prom_escape_label(b, o->cfg->namespace_);
    err |= buf_append_str(b, "\",scaledObject=\"");
    err |= prom_escape_label(b, o->spec.name);
    err |= buf_append_str(b, "\",scaler=\"");
    err |= prom_escape_label(b, scaler);
    err |= buf_appendf(b, "\",triggerIndex=\"%zu\",type=\"scaledobject\"", i);
    return err;
}

static int labels_so(struct buf *b, const struct as_object *o)
{
    int err = buf_append_str(b, "namespace=\"");
    err |= prom_escape_label(b, o->cfg->namespace_);
    err |= buf_append_str(b, "\",scaledObject=\"");
    err |= prom_escape_label(b, o->spec.name);
    return err | buf_append_str(b, "\"");
}

enum trig_metric { TM_VALUE, TM_ACTIVE, TM_LATENCY, TM_ERRORS };

static int trigger_family(const struct autoscaler *as, struct buf *out, struct buf *lb,
                          enum trig_metric m, const char *name, const char *type,
                          const char *help)
{
    int err = prom_family(out, name, type, help);
    for (size_t i = 0; i < as->n_objs; i++) {
        const struct as_object *o = as->objs[i];
        for (size_t k = 0; k < o->spec.n_triggers; k++) {
            const struct as_trigger_state *ts = &o->triggers[k];
            double v;
            switch (m) {
            case TM_VALUE:
                if (!ts->has_metric)
                    continue;
                v = ts->metric_value;
                break;
            case TM_ACTIVE:
                v = ts->active || !o->cfg->triggers[k].is_prometheus ? 1 : 0;
                break;
            case TM_LATENCY:
                if (!ts->polled)
                    continue;
                v = ts->last.seconds;
                break;
            default:
                v = (double)ts->errors_total;
                break;
            }
            buf_reset(lb);
            err |= labels_l(lb, o, k);
            err |= prom_sample(out, name, lb->data, v);
        }
    }
    return err;
}

static int so_family(const struct autoscaler *as, struct buf *out, struct buf *lb,
                     const char *name, const char *type, const char *help,
                     double (*value)(const struct as_object *o))
{
    int err = prom_family(out, name, type, help);
    for (size_t i = 0; i < as->n_objs; i++) {
        buf_reset(lb);
        err |= labels_so(lb, as->objs[i]);
        err |= prom_sample(out, name, lb->data, value(as->objs[i]));
    }
    return err;
}

static double v_errors(const struct as_object *o)
{
    return (double)o->errors_total;
}
static double v_paused(const struct as_object *o)
{
    return strcmp(o->paused.status, "True") == 0;
}
static double v_desired(const struct as_object *o)
{
    return o->desired;
}
static double v_current(const struct as_object *o)
{
    return o->target.ops ? o->target.ops->spec_replicas(o->target.t) : 0;
}
static double v_ready(const struct as_object *o)
{
    return o->target.ops ? o->target.ops->ready_replicas(o->target.t) : 0;
}
static double v_ups(const struct as_object *o)
{
    return (double)o->scale_ups;
}
static double v_downs(const struct as_object *o)
{
    return (double)o->scale_downs;
}

static int empty_family(const struct autoscaler *as, struct buf *out, struct buf *lb)
{
    const char *name = "keda_scaler_empty_upstream_responses_total";
    int err = prom_family(out, name, "counter",
                          "Number of empty responses from upstream (prometheus scaler)");
    for (size_t i = 0; i < as->n_objs; i++) {
        const struct as_object *o = as->objs[i];
        for (size_t k = 0; k < o->spec.n_triggers; k++) {
            const struct cfg_trigger *t = &o->cfg->triggers[k];
            if (!t->is_prometheus)
                continue;
            buf_reset(lb);
            err |= buf_appendf(lb, "ignoreNullValues=\"%s\",metricName=\"",
                               t->prom.ignore_null_values ? "true" : "false");
            err |= prom_escape_label(lb, o->triggers[k].metric_name);
            err |= buf_append_str(lb, "\",namespace=\"");
            err |= prom_escape_label(lb, o->cfg->namespace_);
            err |= buf_append_str(lb, "\",resourceType=\"scaledobject\",scaledResource=\"");
            err |= prom_escape_label(lb, o->spec.name);
            err |= buf_append_str(lb, "\",triggerName=\"");
            err |= prom_escape_label(lb, o->spec.triggers[k].name);
            err |= buf_append_str(lb, "\"");
            err |= prom_sample(out, name, lb->data, (double)o->triggers[k].empty_total);
        }
    }
    return err;
}

static int loop_family(const struct autoscaler *as, struct buf *out, struct buf *lb)
{
    const char *name = "keda_internal_scale_loop_latency_seconds";
    int err = prom_family(out, name, "gauge",
                          "Total deviation (in seconds) between the expected execution time and "
                          "the actual execution time for the scaling loop.");
    for (size_t i = 0; i < as->n_objs; i++) {
        const struct as_object *o = as->objs[i];
        buf_reset(lb);
        err |= buf_append_str(lb, "namespace=\"");
        err |= prom_escape_label(lb, o->cfg->namespace_);
        err |= buf_append_str(lb, "\",resource=\"");
        err |= prom_escape_label(lb, o->spec.name);
        err |= buf_append_str(lb, "\",type=\"scaledobject\"");
        err |= prom_sample(out, name, lb->data, o->loop_lateness);
    }
    return err;
}

int autoscaler_metrics(const struct autoscaler *as, struct buf *out)
{
    struct buf lb;
    buf_init(&lb, 4096);
    int err = 0;
    err |= trigger_family(as, out, &lb, TM_VALUE, "keda_scaler_metrics_value", "gauge",
                          "The current value for each scaler's metric that would be used by the "
                          "HPA in computing the target average.");
    err |= trigger_family(as, out, &lb, TM_ACTIVE, "keda_scaler_active", "gauge",
                          "Indicates whether a scaler is active (1), or not (0).");
    err |= trigger_family(as, out, &lb, TM_LATENCY, "keda_scaler_metrics_latency_seconds", "gauge",
                          "The latency of retrieving current metric from each scaler, in seconds.");
    err |= trigger_family(as, out, &lb, TM_ERRORS, "keda_scaler_detail_errors_total", "counter",
                          "The total number of errors encountered for each scaler.");
    err |= so_family(as, out, &lb, "keda_scaled_object_errors_total", "counter",
                     "The number of errors that have occurred for each ScaledObject.", v_errors);
    err |= so_family(as, out, &lb, "keda_scaled_object_paused", "gauge",
                     "Indicates whether a ScaledObject is paused", v_paused);
    err |= empty_family(as, out, &lb);
    err |= loop_family(as, out, &lb);
    err |= prom_family(out, "keda_resource_registered_total", "gauge",
                       "Total resources registered per type and namespace");
    /* One namespace in practice; one sample per object's namespace would
     * repeat a series, so count them per first-seen namespace. */
    for (size_t i = 0; i < as->n_objs; i++) {
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen = seen || strcmp(as->objs[k]->cfg->namespace_, as->objs[i]->cfg->namespace_) == 0;
        if (seen)
            continue;
        size_t n = 0;
        for (size_t k = i; k < as->n_objs; k++)
            n += strcmp(as->objs[k]->cfg->namespace_, as->objs[i]->cfg->namespace_) == 0;
        buf_reset(&lb);
        err |= buf_append_str(&lb, "namespace=\"");
        err |= prom_escape_label(&lb, as->objs[i]->cfg->namespace_);
        err |= buf_append_str(&lb, "\",type=\"scaled_object\"");
        err |= prom_sample(out, "keda_resource_registered_total", lb.data, (double)n);
    }
    err |= so_family(as, out, &lb, "ebb_autoscaler_desired_replicas", "gauge",
                     "Replicas ebb last asked of the scale target (-1 before the first poll).",
                     v_desired);
    err |= so_family(as, out, &lb, "ebb_autoscaler_current_replicas", "gauge",
                     "The scale target's spec.replicas.", v_current);
    err |= so_family(as, out, &lb, "ebb_autoscaler_ready_replicas", "gauge",
                     "The scale target's ready replicas.", v_ready);
    err |= so_family(as, out, &lb, "ebb_autoscaler_scale_ups_total", "counter",
                     "Writes that raised the scale target's replicas.", v_ups);
    err |= so_family(as, out, &lb, "ebb_autoscaler_scale_downs_total", "counter",
                     "Writes that lowered the scale target's replicas.", v_downs);
    /* With leader election, the one replica that decides; 1 otherwise. */
    err |= prom_family(out, "ebb_autoscaler_leading", "gauge",
                       "1 while this process decides and writes (holds the Lease, or needs none).");
    err |= prom_sample(out, "ebb_autoscaler_leading", NULL, as->started ? 1 : 0);
    err |= prom_family(out, "ebb_autoscaler_replica_ready_seconds", "histogram",
                       "Time from a replica's start to its first passed readiness probe.");
    err |= prom_histogram_write(out, "ebb_autoscaler_replica_ready_seconds", NULL, NULL,
                                &as->ready_seconds);
    buf_release(&lb);
    return err ? -ENOBUFS : 0;
}
