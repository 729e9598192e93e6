/* target_k8s: see target_k8s.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/target_k8s.h"
#include "base/log.h"

/* A before_scale_down in progress: the hook holds it until go. t is NULL
 * once the target has let go of it (released, or cancelled). */
struct tk_gate {
    struct target_k8s *t;
    int32_t to;
};

void target_k8s_resource(const char *kind, char *out, size_t cap)
{
    size_t n = 0;
    for (; kind[n] && n + 4 < cap; n++)
        out[n] = (char)tolower((unsigned char)kind[n]);
    out[n] = '\0';
    if (n == 0)
        return;
    const char *suffix = "s";
    if (out[n - 1] == 's' || out[n - 1] == 'x')
        suffix = "es";
    else if (out[n - 1] == 'y' && n > 1 && !strchr("aeiou", out[n - 2])) {
        out[--n] = '\0';
        suffix = "ies";
    }
    snprintf(out + n, cap - n, "%s", suffix);
}

static bool path_part(const char *s)
{
    return s && s[0] && !strpbrk(s, "/?#% ") && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int target_k8s_path(char *out, size_t cap, const char *ns, const char *api_version,
                    const char *kind, const char *name)
{
    char res[128];
    target_k8s_resource(kind, res, sizeof(res));
    const char *slash = api_version ? strchr(api_version, '/') : NULL;
    bool ok = path_part(ns) && path_part(name) && path_part(res) && api_version && api_version[0] &&
              !strpbrk(api_version, "?#% ") &&
              (!slash || (slash > api_version && slash[1] && !strchr(slash + 1, '/')));
    if (!ok)
        return -EINVAL;
    int n = snprintf(out, cap, "%s%s/namespaces/%s/%s/%s", slash ? "/apis/" : "/api/", api_version,
                     ns, res, name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int target_k8s_init(struct target_k8s *t, struct k8s_client *c, const char *ns,
                    const struct so_spec *spec, const struct target_k8s_options *opts, char *err,
                    size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->c = c;
    if (opts)
        t->o = *opts;
    snprintf(t->ns, sizeof(t->ns), "%s", ns);
    int rc = target_k8s_path(t->path, sizeof(t->path), ns, spec->target_api_version,
                             spec->target_kind, spec->target_name);
    if (rc < 0)
        snprintf(err, errlen, "scaleTargetRef %s %s/%s (%s) cannot be named in an API path",
                 spec->target_kind, ns, spec->target_name, spec->target_api_version);
    return rc < 0 ? -EINVAL : 0;
}

/* ---------- reading ---------- */

static long json_long(const cJSON *obj, const char *a, const char *b, long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : dflt;
}

static int32_t clamp32(long v)
{
    return v < 0 ? 0 : v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

/* One of the two reads ended: the refresh is over when both have. */
static void read_one_done(struct target_k8s *t, const char *err)
{
    if (err && !t->read_err[0])
        snprintf(t->read_err, sizeof(t->read_err), "%s", err);
    if (--t->reads_left > 0)
        return;
    bool failed = t->read_err[0] != '\0';
    if (failed)
        t->read_errors++;
    else if (!t->known) {
        t->known = true;
        t->first_spec = t->spec;
    }
    as_target_done_cb cb = t->read_done;
    t->read_done = NULL;
    if (cb)
        cb(t->read_ud, failed ? t->read_err : NULL);
}

static void on_scale(void *ud, struct k8s_response *r)
{
    struct target_k8s *t = ud;
    t->scale_req = NULL;
    if (!r->err) {
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(r->obj, "spec");
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(spec, "replicas");
        if (spec && rep && !cJSON_IsNumber(rep)) {
            read_one_done(t, "the scale's spec.replicas is not a number");
            return;
        }
        /* Scale.spec.replicas is omitted when 0 (omitempty). */
        t->spec = clamp32(rep ? (long)rep->valuedouble : 0);
        t->status = clamp32(json_long(r->obj, "status", "replicas", 0));
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r->obj, "status");
        const char *sel = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "selector"));
        snprintf(t->selector, sizeof(t->selector), "%s", sel ? sel : "");
    }
    read_one_done(t, r->err);
}

static void on_object(void *ud, struct k8s_response *r)
{
    struct target_k8s *t = ud;
    t->obj_req = NULL;
    /* status.readyReplicas is omitted when 0, as for a Deployment. */
    if (!r->err)
        t->ready = clamp32(json_long(r->obj, "status", "readyReplicas", 0));
    read_one_done(t, r->err);
}

static int refresh(void *tp, as_target_done_cb done, void *ud)
{
    struct target_k8s *t = tp;
    if (t->reads_left)
        return -EBUSY;
    char path[TARGET_K8S_PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/scale", t->path);
    t->read_err[0] = '\0';
    t->reads++;
    int rc = k8s_request(t->c, "GET", path, NULL, NULL, on_scale, t, &t->scale_req);
    if (rc < 0)
        return rc;
    rc = k8s_request(t->c, "GET", t->path, NULL, NULL, on_object, t, &t->obj_req);
    if (rc < 0) {
        k8s_request_cancel(t->scale_req);
        t->scale_req = NULL;
        return rc;
    }
    t->reads_left = 2;
    t->read_done = done;
    t->read_ud = ud;
    return 0;
}

/* ---------- writing ---------- */

static void write_over(struct target_k8s *t, const char *err)
{
    if (err)
        t->write_errors++;
    as_target_done_cb cb = t->write_done;
    t->write_done = NULL;
    if (cb)
        cb(t->write_ud, err);
}

static void on_patched(void *ud, struct k8s_response *r)
{
    struct target_k8s *t = ud;
    t->patch_req = NULL;
    if (!r->err) {
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(r->obj, "spec");
        t->spec = clamp32(json_long(r->obj, "spec", "replicas", spec ? 0 : t->spec));
        t->status = clamp32(json_long(r->obj, "status", "replicas", t->status));
    }
    write_over(t, r->err);
}

static int patch_start(struct target_k8s *t, int32_t to)
{
    char path[TARGET_K8S_PATH_MAX + 8], body[64];
    snprintf(path, sizeof(path), "%s/scale", t->path);
    snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%d}}", to);
    t->writes++;
    return k8s_request(t->c, "PATCH", path, body, "application/merge-patch+json", on_patched, t,
                       &t->patch_req);
}

static void gate_go(void *arg)
{
    struct tk_gate *g = arg;
    struct target_k8s *t = g->t;
    int32_t to = g->to;
    free(g);
    if (!t)
        return; /* released or cancelled meanwhile */
    t->gate = NULL;
    int rc = patch_start(t, to);
    if (rc < 0)
        write_over(t, strerror(-rc));
}

static int scale_async(void *tp, int32_t from, int32_t to, as_target_done_cb done, void *ud)
{
    struct target_k8s *t = tp;
    if (to < 0)
        return -EINVAL;
    if (t->patch_req || t->gate)
        return -EBUSY;
    t->write_done = done;
    t->write_ud = ud;
    if (to < from && t->o.before_scale_down) {
        struct tk_gate *g = malloc(sizeof(*g));
        if (g) {
            *g = (struct tk_gate){t, to};
            t->gate = g;
            if (t->o.before_scale_down(t->o.ud, t->ns, t->selector, from, to, gate_go, g) == 0)
                return 0;
            t->gate = NULL;
            free(g);
        }
        log_warn("%s: the step before scaling down did not start; scaling at once", t->path);
    }
    int rc = patch_start(t, to);
    if (rc < 0) {
        t->write_done = NULL;
        return rc;
    }
    return 0;
}

static void cancel(void *tp)
{
    struct target_k8s *t = tp;
    k8s_request_cancel(t->scale_req);
    k8s_request_cancel(t->obj_req);
    k8s_request_cancel(t->patch_req);
    t->scale_req = t->obj_req = t->patch_req = NULL;
    t->reads_left = 0;
    t->read_done = t->write_done = NULL;
    if (t->gate) {
        t->gate->t = NULL; /* its go only frees it */
        t->gate = NULL;
    }
}

static int32_t spec_replicas(void *t)
{
    return ((struct target_k8s *)t)->spec;
}

static int32_t status_replicas(void *t)
{
    return ((struct target_k8s *)t)->status;
}

static int32_t ready_replicas(void *t)
{
    return ((struct target_k8s *)t)->ready;
}

static const struct as_target_ops k8s_ops = {
    .spec_replicas = spec_replicas,
    .status_replicas = status_replicas,
    .ready_replicas = ready_replicas,
    .refresh = refresh,
    .scale_async = scale_async,
    .cancel = cancel,
};

struct as_target target_k8s(struct target_k8s *t)
{
    return (struct as_target){&k8s_ops, t};
}

void target_k8s_release(struct target_k8s *t)
{
    cancel(t);
}
