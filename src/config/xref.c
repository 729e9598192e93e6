/* xref: the rules that span objects and files (config_check in config.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/decode.h"
#include "config/prometheus.h"

static void issue(struct config *c, bool warning, struct cfg_pos pos, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void issue(struct config *c, bool warning, struct cfg_pos pos, const char *path,
                  const char *fmt, ...)
{
    char msg[CONFIG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    config_add_issue(c, warning, pos, path, msg);
}

/* ---------- unique names ---------- */

static void unique_deployments(struct config *c)
{
    for (size_t i = 0; i < c->n_deployments; i++) {
        const struct cfg_deployment *b = c->deployments[i];
        for (size_t j = 0; b->name && j < i; j++) {
            const struct cfg_deployment *a = c->deployments[j];
            if (a->name && !strcmp(a->name, b->name) && !strcmp(a->namespace_, b->namespace_)) {
                issue(c, false, b->name_pos, "metadata.name",
                      "LocalDeployment \"%s\" is defined twice (first at %s:%d)", b->name,
                      a->name_pos.file, a->name_pos.line);
                break;
            }
        }
    }
}

static void unique_auths(struct config *c)
{
    for (size_t i = 0; i < c->n_auths; i++) {
        const struct cfg_auth *b = c->auths[i];
        for (size_t j = 0; b->name && j < i; j++) {
            const struct cfg_auth *a = c->auths[j];
            if (a->name && a->cluster == b->cluster && !strcmp(a->name, b->name) &&
                !strcmp(a->namespace_, b->namespace_)) {
                issue(c, false, b->name_pos, "metadata.name",
                      "%s \"%s\" is defined twice (first at %s:%d)",
                      b->cluster ? "ClusterTriggerAuthentication" : "TriggerAuthentication",
                      b->name, a->name_pos.file, a->name_pos.line);
                break;
            }
        }
    }
}

/* so_specs_validate_set within each namespace: Kubernetes names are unique
 * per namespace, and a scale target lives in its ScaledObject's namespace. */
static void unique_scaled_objects(struct config *c)
{
    const struct so_spec **set = calloc(c->n_sos ? c->n_sos : 1, sizeof(*set));
    size_t *idx = calloc(c->n_sos ? c->n_sos : 1, sizeof(*idx));
    bool *done = calloc(c->n_sos ? c->n_sos : 1, sizeof(*done));
    if (!set || !idx || !done) {
        struct cfg_pos none = {"ebb", 0, 0};
        issue(c, false, none, "", "out of memory");
    }
    for (size_t i = 0; set && idx && done && i < c->n_sos; i++) {
        if (done[i])
            continue;
        size_t n = 0;
        for (size_t j = i; j < c->n_sos; j++) {
            const struct so_spec *so = &c->sos[j]->spec;
            if (!so->name[0] || !so->target_name[0]) {
                done[j] = true; /* already an error; it would only match other such */
                continue;
            }
            if (!done[j] && strcmp(c->sos[j]->namespace_, c->sos[i]->namespace_) == 0) {
                done[j] = true;
                idx[n] = j;
                set[n++] = &c->sos[j]->spec;
            }
        }
        struct so_issue found[64];
        size_t nf = 0;
        int ne = so_specs_validate_set(set, n, found, 64, &nf), shown = 0;
        for (size_t k = 0; k < nf; k++) {
            /* "[i].spec.scaleTargetRef.name": i indexes set. */
            char *end;
            unsigned long at = strtoul(found[k].path + 1, &end, 10);
            if (at >= n || *end != ']')
                continue;
            const struct cfg_scaled_object *o = c->sos[idx[at]];
            bool target = strstr(end, "scaleTargetRef") != NULL;
            issue(c, found[k].warning, target ? o->target_pos : o->name_pos, end + 2, "%s",
                  found[k].msg);
            shown += !found[k].warning;
        }
        if (ne > shown)
            issue(c, false, c->sos[idx[0]]->name_pos, "metadata.name",
                  "and %d more ScaledObjects in namespace \"%s\" clash by name or target",
                  ne - shown, c->sos[idx[0]]->namespace_);
    }
    free(set);
    free(idx);
    free(done);
}

/* ---------- authenticationRef ---------- */

static const struct cfg_auth_param *auth_param(const struct cfg_auth *a, const char *name)
{
    for (size_t i = 0; a && i < a->n_params; i++) {
        if (strcmp(a->params[i].parameter, name) == 0)
            return &a->params[i];
    }
    return NULL;
}

/* What each auth mode needs from authParams (keda's authentication package). */
static void check_mode_params(struct config *c, const struct cfg_trigger *t, const char *path,
                              struct cfg_pos pos)
{
    const struct cfg_prometheus *p = &t->prom;
    const struct cfg_auth *a = t->auth;
    const char *who = a ? "its TriggerAuthentication" : "an authenticationRef";
    if ((p->auth_modes & CFG_AUTH_BEARER) && !auth_param(a, "bearerToken") &&
        !auth_param(a, "token"))
        issue(c, false, pos, path, "authModes bearer needs a \"bearerToken\" parameter from %s",
              who);
    if ((p->auth_modes & CFG_AUTH_BASIC) && !auth_param(a, "username"))
        issue(c, false, pos, path, "authModes basic needs a \"username\" parameter from %s", who);
    if ((p->auth_modes & CFG_AUTH_CUSTOM) &&
        (!auth_param(a, "customAuthHeader") || !auth_param(a, "customAuthValue")))
        issue(c, false, pos, path,
              "authModes custom needs \"customAuthHeader\" and \"customAuthValue\" parameters "
              "from %s",
              who);
    const struct cfg_auth_param *h = auth_param(a, "customAuthHeader");
    if ((p->auth_modes & CFG_AUTH_CUSTOM) && h && h->value && !prom_http_token(h->value))
        issue(c, false, h->pos, h->path, "customAuthHeader is not a valid HTTP header name");
}

/* Fills the trigger's auth fields from its TriggerAuthentication. */
static void resolve_prom_auth(struct config *c, struct cfg_trigger *t, const char *base)
{
    struct cfg_prometheus *p = &t->prom;
    char path[CONFIG_PATH_MAX];
    struct cfg_pos pos = p->auth_modes_pos.line ? p->auth_modes_pos
                         : t->auth              ? t->auth_ref_pos
                                                : t->pos;
    snprintf(path, sizeof(path), "%s.metadata.authModes", base);
    const struct cfg_auth_param *modes = auth_param(t->auth, "authModes");
    if (!p->auth_modes && modes && modes->value) {
        char err[CONFIG_MSG_MAX];
        if (prom_auth_modes(modes->value, &p->auth_modes, err, sizeof(err)) < 0)
            issue(c, false, modes->pos, modes->path, "authModes from %s: %s", modes->source, err);
    }
    if (!p->auth_modes && t->auth && t->auth->n_params)
        issue(c, true, t->auth_ref_pos, path,
              "no authModes: the TriggerAuthentication's parameters are not sent (KEDA applies "
              "no auth without authModes)");
    if (p->auth_modes)
        check_mode_params(c, t, path, pos);
    if (!t->auth)
        return;
    if (p->auth_modes & CFG_AUTH_BEARER) {
        p->bearer_token = cfg_auth_get(t->auth, "bearerToken");
        if (!p->bearer_token)
            p->bearer_token = cfg_auth_get(t->auth, "token");
    }
    if (p->auth_modes & CFG_AUTH_BASIC) {
        p->username = cfg_auth_get(t->auth, "username");
        p->password = cfg_auth_get(t->auth, "password");
    }
    if (p->auth_modes & CFG_AUTH_CUSTOM) {
        p->custom_auth_header = cfg_auth_get(t->auth, "customAuthHeader");
        p->custom_auth_value = cfg_auth_get(t->auth, "customAuthValue");
    }
}

static void resolve_auth_refs(struct config *c, struct cfg_scaled_object *o)
{
    for (size_t i = 0; o->triggers && i < o->spec.n_triggers; i++) {
        struct cfg_trigger *t = &o->triggers[i];
        char base[64], path[CONFIG_PATH_MAX];
        snprintf(base, sizeof(base), "spec.triggers[%zu]", i);
        if (t->auth_ref_name) {
            t->auth = config_find_auth(c, o->namespace_, t->auth_ref_name, t->auth_ref_cluster);
            snprintf(path, sizeof(path), "%s.authenticationRef.name", base);
            if (!t->auth && t->auth_ref_cluster)
                issue(c, false, t->auth_ref_pos, path,
                      "no ClusterTriggerAuthentication \"%s\" is loaded", t->auth_ref_name);
            else if (!t->auth)
                issue(c, false, t->auth_ref_pos, path,
                      "no TriggerAuthentication \"%s\" is loaded in namespace \"%s\"",
                      t->auth_ref_name, o->namespace_);
        }
        if (t->is_prometheus && (!t->auth_ref_name || t->auth))
            resolve_prom_auth(c, t, base);
    }
}

/* ---------- local targets ---------- */

/* The most replicas a LocalDeployment may run: its own count, and what the
 * ScaledObjects that scale it may ask for. */
static int32_t max_replicas(const struct config *c, const struct cfg_deployment *dp)
{
    int32_t n = dp->replicas;
    for (size_t i = 0; i < c->n_sos; i++) {
        const struct cfg_scaled_object *o = c->sos[i];
        if (o->target != dp)
            continue;
        int32_t m = so_hpa_max_replicas(&o->spec);
        if (o->spec.has_fallback && o->spec.fallback.replicas > m)
            m = o->spec.fallback.replicas;
        if (o->spec.pause.has_paused_replicas && o->spec.pause.paused_replicas > m)
            m = o->spec.pause.paused_replicas;
        n = m > n ? m : n;
    }
    return n;
}

static void check_ports(struct config *c)
{
    for (size_t i = 0; i < c->n_deployments; i++) {
        const struct cfg_deployment *b = c->deployments[i];
        if (b->base_port <= 0)
            continue; /* the document had errors */
        int64_t nb = max_replicas(c, b), last = (int64_t)b->base_port + (nb ? nb : 1) - 1;
        if (last > 65535) {
            issue(c, false, b->base_port_pos, "spec.basePort",
                  "up to %lld replicas from port %d pass port 65535", (long long)nb, b->base_port);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const struct cfg_deployment *a = c->deployments[j];
            int64_t na = max_replicas(c, a), a_last = (int64_t)a->base_port + (na ? na : 1) - 1;
            if (a->base_port > 0 && b->base_port <= a_last && a->base_port <= last) {
                issue(c, false, b->base_port_pos, "spec.basePort",
                      "ports %d-%lld overlap ports %d-%lld of LocalDeployment \"%s\"", b->base_port,
                      (long long)last, a->base_port, (long long)a_last, a->name ? a->name : "?");
                break;
            }
        }
        if (b->readiness.set && b->readiness.port && nb > 1)
            issue(c, true, b->name_pos, "spec.readinessProbe.httpGet.port",
                  "every replica is probed on port %d; leave port out to probe each replica's "
                  "${PORT}",
                  b->readiness.port);
    }
}

static void resolve_targets(struct config *c)
{
    for (size_t i = 0; i < c->n_sos; i++) {
        struct cfg_scaled_object *o = c->sos[i];
        const struct so_spec *so = &o->spec;
        if (!so->target_name[0])
            continue;
        bool deployment =
            !strcmp(so->target_kind, "Deployment") && !strcmp(so->target_api_version, "apps/v1");
        bool local = !strcmp(so->target_kind, "LocalDeployment") &&
                     !strcmp(so->target_api_version, EBB_API_VERSION);
        if (!deployment && !local) {
            issue(c, false, o->target_kind_pos, "spec.scaleTargetRef.kind",
                  "%s %s cannot run on one machine: the target must be a Deployment (apps/v1, "
                  "run as the LocalDeployment of the same name) or a LocalDeployment "
                  "(" EBB_API_VERSION ")",
                  so->target_api_version, so->target_kind);
            continue;
        }
        o->target = config_find_deployment(c, o->namespace_, so->target_name);
        if (!o->target)
            issue(c, false, o->target_pos, "spec.scaleTargetRef.name",
                  "no LocalDeployment \"%s\" is loaded in namespace \"%s\" (a Deployment is run "
                  "as the LocalDeployment of the same name)",
                  so->target_name, o->namespace_);
    }
    check_ports(c);
}

int config_check(struct config *c, unsigned flags)
{
    if (c->checked)
        return c->errors;
    c->checked = true;
    unique_scaled_objects(c);
    unique_auths(c);
    unique_deployments(c);
    for (size_t i = 0; i < c->n_sos; i++)
        resolve_auth_refs(c, c->sos[i]);
    if (flags & CONFIG_LOCAL)
        resolve_targets(c);
    return c->errors;
}
