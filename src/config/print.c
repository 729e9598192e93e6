/* print: what a configuration says, for people (`ebb autoscaler --check`).
 *
 * One block per object, kinds in a fixed order (LocalDeployments, then
 * TriggerAuthentications, then ScaledObjects), objects in load order, one
 * "field: value" line each with the effective value and "(default)" where
 * the file left it out. Strings are JSON-quoted so nothing in a file can
 * break the layout. Secrets are never printed: only where they come from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/prometheus.h"

#define DEF(set) ((set) ? "" : " (default)")

/* Shortest text that reads back as the same double. */
static int put_double(struct buf *out, double v)
{
    char s[40];
    snprintf(s, sizeof(s), "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof(s), "%.17g", v);
    return buf_append_str(out, s);
}

static int put_str(struct buf *out, const char *s)
{
    return s ? buf_append_json_str(out, s, strlen(s)) : buf_append_str(out, "null");
}

static int put_header(struct buf *out, const char *kind, const char *ns, const char *name,
                      struct cfg_pos pos)
{
    int rc = buf_appendf(out, "%s %s%s%s (%s:%d:%d)\n", kind, ns && *ns ? ns : "",
                         ns && *ns ? "/" : "", name ? name : "?", pos.file, pos.line, pos.col);
    return rc;
}

static int put_kv_list(struct buf *out, const struct cfg_kv *kv, size_t n)
{
    int rc = 0;
    if (n == 0)
        return buf_append_str(out, "none");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_append_str(out, i ? ", " : "");
        rc = rc ? rc : put_str(out, kv[i].key);
        rc = rc ? rc : buf_append_str(out, "=");
        rc = rc ? rc : put_str(out, kv[i].value);
    }
    return rc;
}

/* ---------- LocalDeployment ---------- */

static int put_probe(struct buf *out, const struct cfg_probe *p)
{
    if (!p->set)
        return buf_append_str(out, "  readinessProbe: none (a replica is ready once started)\n");
    int rc = buf_append_str(out, "  readinessProbe: httpGet ");
    rc = rc ? rc : put_str(out, p->path);
    if (!rc && p->port)
        rc = buf_appendf(out, " on port %d", p->port);
    else if (!rc)
        rc = buf_append_str(out, " on each replica's ${PORT}");
    return rc ? rc
              : buf_appendf(out,
                            ", initialDelaySeconds %d, periodSeconds %d, timeoutSeconds %d, "
                            "failureThreshold %d, successThreshold %d\n",
                            p->initial_delay_s, p->period_s, p->timeout_s, p->failure_threshold,
                            p->success_threshold);
}

static int put_deployment(struct buf *out, const struct cfg_deployment *d)
{
    int rc = put_header(out, "LocalDeployment", d->namespace_, d->name, d->pos);
    rc = rc ? rc : buf_appendf(out, "  replicas: %d\n  model: ", d->replicas);
    rc = rc ? rc : put_str(out, d->model);
    rc = rc ? rc : buf_append_str(out, "\n  command: [");
    for (size_t i = 0; i < d->n_command && !rc; i++) {
        rc = buf_append_str(out, i ? ", " : "");
        rc = rc ? rc : put_str(out, d->command[i]);
    }
    rc = rc ? rc : buf_append_str(out, "]\n  env: ");
    rc = rc ? rc : put_kv_list(out, d->env, d->n_env);
    rc = rc ? rc : buf_append_str(out, "\n  workingDir: ");
    if (!rc && d->working_dir && *d->working_dir)
        rc = put_str(out, d->working_dir);
    else if (!rc)
        rc = buf_append_str(out, "ebb's working directory (default)");
    rc = rc ? rc : buf_append_str(out, "\n  logDir: ");
    rc = rc ? rc : put_str(out, d->log_dir);
    rc = rc ? rc
            : buf_appendf(out, "\n  basePort: %d (replica i listens on %d + i)\n", d->base_port,
                          d->base_port);
    rc = rc ? rc : put_probe(out, &d->readiness);
    return rc ? rc
              : buf_appendf(out, "  terminationGracePeriodSeconds: %d\n", d->termination_grace_s);
}

/* ---------- TriggerAuthentication ---------- */

static int put_auth(struct buf *out, const struct cfg_auth *a)
{
    int rc = put_header(out, a->cluster ? "ClusterTriggerAuthentication" : "TriggerAuthentication",
                        a->namespace_, a->name, a->pos);
    if (!rc && a->n_params == 0)
        rc = buf_append_str(out, "  no parameters\n");
    for (size_t i = 0; i < a->n_params && !rc; i++) {
        const struct cfg_auth_param *p = &a->params[i];
        rc = buf_appendf(out, "  %s: %s from %s\n", p->parameter,
                         p->value ? "<redacted>" : "<not read>", p->source ? p->source : "?");
    }
    return rc;
}

/* ---------- ScaledObject ---------- */

static const char *metric_type_name(enum so_metric_type t)
{
    return t == SO_VALUE ? "Value" : t == SO_UTILIZATION ? "Utilization" : "AverageValue";
}

static bool meta_has(const struct cfg_trigger *t, const char *key)
{
    for (size_t i = 0; i < t->n_metadata; i++) {
        if (strcmp(t->metadata[i].key, key) == 0 && t->metadata[i].value[0])
            return true;
    }
    return false;
}

static int put_auth_modes(struct buf *out, unsigned modes)
{
    static const char *const names[] = {"bearer", "basic", "custom", "tls", "apiKey", "oauth"};
    if (!modes)
        return buf_append_str(out, "none");
    int rc = 0;
    bool first = true;
    for (unsigned i = 0; i < 6 && !rc; i++) {
        if (modes & (1u << i)) {
            rc = buf_appendf(out, "%s%s", first ? "" : ",", names[i]);
            first = false;
        }
    }
    return rc;
}

static int put_prometheus(struct buf *out, const struct cfg_trigger *t)
{
    const struct cfg_prometheus *p = &t->prom;
    int rc = buf_append_str(out, "    serverAddress: ");
    rc = rc ? rc : put_str(out, p->server_address);
    rc = rc ? rc : buf_append_str(out, "\n    query: ");
    rc = rc ? rc : put_str(out, p->query);
    rc = rc ? rc : buf_append_str(out, "\n    threshold: ");
    rc = rc ? rc : put_double(out, p->threshold);
    rc = rc ? rc : buf_append_str(out, "\n    activationThreshold: ");
    rc = rc ? rc : put_double(out, p->activation_threshold);
    rc = rc ? rc : buf_appendf(out, "%s\n    namespace: ", DEF(meta_has(t, "activationThreshold")));
    rc = rc ? rc : (p->namespace_ ? put_str(out, p->namespace_) : buf_append_str(out, "none"));
    rc = rc ? rc : buf_append_str(out, "\n    queryParameters: ");
    rc = rc ? rc : put_kv_list(out, p->query_params, p->n_query_params);
    rc = rc ? rc : buf_append_str(out, "\n    customHeaders: ");
    rc = rc ? rc : put_kv_list(out, p->custom_headers, p->n_custom_headers);
    rc = rc ? rc
            : buf_appendf(out, "\n    ignoreNullValues: %s%s\n    unsafeSsl: %s%s\n",
                          p->ignore_null_values ? "true" : "false",
                          DEF(meta_has(t, "ignoreNullValues")), p->unsafe_ssl ? "true" : "false",
                          DEF(meta_has(t, "unsafeSsl")));
    if (!rc && p->timeout_ms)
        rc = buf_appendf(out, "    timeout: %lldms\n", (long long)p->timeout_ms);
    else if (!rc)
        rc = buf_append_str(out, "    timeout: 3000ms (default: KEDA_HTTP_DEFAULT_TIMEOUT)\n");
    rc = rc ? rc : buf_append_str(out, "    authModes: ");
    rc = rc ? rc : put_auth_modes(out, p->auth_modes);
    if (!rc && p->metric_name) {
        rc = buf_append_str(out, "\n    metricName: ");
        rc = rc ? rc : put_str(out, p->metric_name);
        rc = rc ? rc : buf_append_str(out, " (ignored, as by KEDA since v2.12)");
    }
    return rc ? rc : buf_append_str(out, "\n");
}

static int put_trigger(struct buf *out, const struct cfg_scaled_object *o, size_t i)
{
    const struct cfg_trigger *t = &o->triggers[i];
    const struct so_trigger *st = &o->spec.triggers[i];
    int rc = buf_appendf(out, "  triggers[%zu]: %s", i, st->type);
    if (!rc && st->name[0]) {
        rc = buf_append_str(out, " named ");
        rc = rc ? rc : put_str(out, st->name);
    }
    if (!rc && t->is_prometheus)
        rc = buf_appendf(out, ", metric s%zu-prometheus", i);
    rc = rc ? rc
            : buf_appendf(out, ", metricType %s, useCachedMetrics %s\n",
                          metric_type_name(st->metric_type),
                          st->use_cached_metrics ? "true" : "false");
    if (!rc && t->auth_ref_name)
        rc = buf_appendf(out, "    authenticationRef: %s %s\n",
                         t->auth_ref_cluster ? "ClusterTriggerAuthentication"
                                             : "TriggerAuthentication",
                         t->auth_ref_name);
    if (!rc && t->is_prometheus)
        return put_prometheus(out, t);
    for (size_t j = 0; j < t->n_metadata && !rc; j++) {
        rc = buf_appendf(out, "    %s: ", t->metadata[j].key);
        rc = rc                                         ? rc
             : prom_is_secret_param(t->metadata[j].key) ? buf_append_str(out, "<redacted>")
                                                        : put_str(out, t->metadata[j].value);
        rc = rc ? rc : buf_append_str(out, "\n");
    }
    return rc;
}

static int put_rules(struct buf *out, const char *dir, const struct hpa_rules *r)
{
    static const char *const selects[] = {"Max", "Min", "Disabled"};
    int rc = buf_appendf(out, "    %s: stabilizationWindowSeconds %d, selectPolicy %s, policies",
                         dir, r->window_seconds, selects[r->select]);
    for (size_t i = 0; i < r->n_policies && !rc; i++)
        rc = buf_appendf(out, "%s %s %d per %ds", i ? "," : "",
                         r->policies[i].type == HPA_POLICY_PODS ? "Pods" : "Percent",
                         r->policies[i].value, r->policies[i].period_seconds);
    if (!rc && r->has_tolerance) {
        rc = buf_append_str(out, ", tolerance ");
        rc = rc ? rc : put_double(out, r->tolerance);
    }
    return rc ? rc : buf_append_str(out, "\n");
}

static int put_hpa(struct buf *out, const struct so_spec *so)
{
    char name[SO_NAME_MAX + 16];
    if (so_hpa_name(so, name, sizeof(name)) < 0)
        name[0] = '\0';
    int rc = buf_appendf(out, "  hpa: %s, minReplicas %d, maxReplicas %d%s\n", name,
                         so_hpa_min_replicas(so), so_hpa_max_replicas(so),
                         so_hpa_enabled(so) ? "" : " (deleted while paused)");
    if (rc || !so->has_behavior)
        return rc ? rc : buf_append_str(out, "  behavior: none (the HPA's legacy path)\n");
    /* The behavior as the API server completes it (§5.6). */
    struct hpa_behavior b = so->behavior;
    hpa_behavior_default(&b, HPA_DOWN_STABILIZATION_DEFAULT_S);
    rc = buf_append_str(out, "  behavior:\n");
    rc = rc ? rc : put_rules(out, "scaleUp", &b.up);
    return rc ? rc : put_rules(out, "scaleDown", &b.down);
}

static int put_extras(struct buf *out, const struct cfg_scaled_object *o)
{
    static const char *const behaviors[] = {"static", "currentReplicas", "currentReplicasIfHigher",
                                            "currentReplicasIfLower", "scalingModifiers"};
    const struct so_spec *so = &o->spec;
    int rc = 0;
    if (so->has_fallback)
        rc = buf_appendf(out, "  fallback: failureThreshold %d, replicas %d, behavior %s\n",
                         so->fallback.failure_threshold, so->fallback.replicas,
                         behaviors[so->fallback.behavior]);
    else
        rc = buf_append_str(out, "  fallback: none\n");
    if (!rc && so->has_modifiers) {
        rc = buf_append_str(out, "  scalingModifiers: formula ");
        rc = rc ? rc : put_str(out, so->modifiers.formula);
        rc = rc ? rc : buf_append_str(out, ", target ");
        rc = rc ? rc : put_str(out, so->modifiers.target);
        rc = rc ? rc : buf_append_str(out, ", activationTarget ");
        rc = rc ? rc
                : put_str(out, so->modifiers.activation_target[0] ? so->modifiers.activation_target
                                                                  : "0");
        rc =
            rc ? rc
               : buf_appendf(out, ", metricType %s\n", metric_type_name(so->modifiers.metric_type));
    }
    const struct so_pause *p = &so->pause;
    char replicas[16] = "unset";
    if (p->has_paused_replicas)
        snprintf(replicas, sizeof(replicas), "%d", p->paused_replicas);
    if (!rc && (p->paused || p->has_paused_replicas || p->pause_scale_in || p->pause_scale_out ||
                p->force_activation))
        rc = buf_appendf(
            out,
            "  annotations: paused %s, paused-replicas %s, paused-scale-in %s, "
            "paused-scale-out %s, force-activation %s\n",
            p->paused ? "true" : "false", replicas, p->pause_scale_in ? "true" : "false",
            p->pause_scale_out ? "true" : "false", p->force_activation ? "true" : "false");
    return rc ? rc
              : buf_appendf(out, "  restoreToOriginalReplicaCount: %s\n",
                            o->restore_to_original ? "true" : "false");
}

static int put_scaled_object(struct buf *out, const struct cfg_scaled_object *o)
{
    const struct so_spec *so = &o->spec;
    int rc = put_header(out, "ScaledObject", o->namespace_, so->name, o->pos);
    rc = rc ? rc
            : buf_appendf(out, "  scaleTargetRef: %s %s %s", so->target_api_version,
                          so->target_kind, so->target_name);
    if (!rc && o->target)
        rc = buf_appendf(out, " -> LocalDeployment %s/%s", o->target->namespace_, o->target->name);
    rc = rc ? rc
            : buf_appendf(out,
                          "\n  pollingInterval: %ds%s\n  cooldownPeriod: %ds%s\n"
                          "  initialCooldownPeriod: %ds%s\n  minReplicaCount: %d%s\n"
                          "  maxReplicaCount: %d%s\n",
                          so->polling_interval, DEF(so->has_polling_interval), so->cooldown_period,
                          DEF(so->has_cooldown_period), so->initial_cooldown_period,
                          DEF(so->has_initial_cooldown_period), so->min_replicas,
                          DEF(so->has_min_replicas), so->max_replicas, DEF(so->has_max_replicas));
    if (!rc && so->has_idle_replicas)
        rc = buf_appendf(out, "  idleReplicaCount: %d\n", so->idle_replicas);
    else if (!rc)
        rc = buf_append_str(out, "  idleReplicaCount: unset\n");
    rc = rc ? rc : put_extras(out, o);
    rc = rc ? rc : put_hpa(out, so);
    for (size_t i = 0; o->triggers && i < so->n_triggers && !rc; i++)
        rc = put_trigger(out, o, i);
    return rc;
}

int config_format(const struct config *c, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < c->n_deployments && !rc; i++)
        rc = put_deployment(out, c->deployments[i]);
    for (size_t i = 0; i < c->n_auths && !rc; i++)
        rc = put_auth(out, c->auths[i]);
    for (size_t i = 0; i < c->n_sos && !rc; i++)
        rc = put_scaled_object(out, c->sos[i]);
    return rc ? -ENOBUFS : 0;
}

int config_format_issues(const struct config *c, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < c->n_issues && !rc; i++) {
        const struct cfg_issue *is = &c->issues[i];
        if (is->pos.line > 0)
            rc = buf_appendf(out, "%s:%d:%d: ", is->pos.file, is->pos.line, is->pos.col);
        else
            rc = buf_appendf(out, "%s: ", is->pos.file);
        rc = rc ? rc
                : buf_appendf(out, "%s%s%s%s\n", is->warning ? "warning: " : "", is->path,
                              is->path[0] ? ": " : "", is->msg);
    }
    if (!rc && c->issues_dropped)
        rc = buf_appendf(out, "... and %zu more\n", c->issues_dropped);
    return rc ? -ENOBUFS : 0;
}
