/* cluster: ScaledObjects from the Kubernetes API. See cluster.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/cluster.h"
#include "base/log.h"
#include "base/util.h"
#include "k8s/event.h"

#define KEDA_SOS_PATH "/apis/keda.sh/v1alpha1"

/* A status write in flight. e is NULL once its entry is gone; the write is
 * freed in its callback, or by cluster_release when the fetcher closed
 * with it in flight. */
struct cl_write {
    struct cluster *cl;
    struct cl_entry *e;
    cJSON *status;       /* what to write */
    char *printed;       /* the same, printed: e->written once it worked */
    char *printed_quiet; /* without lastActiveTime */
    struct cl_write *prev, *next;
};

static void write_free(struct cluster *cl, struct cl_write *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        cl->writes = w->next;
    if (w->next)
        w->next->prev = w->prev;
    cJSON_Delete(w->status);
    free(w->printed);
    free(w->printed_quiet);
    free(w);
}

/* ---------- reading an object ---------- */

/* What the decoder reads of obj, printed: apiVersion and kind (list items
 * come without them), metadata's name, namespace and annotations, and the
 * spec. Status and the server's metadata are left out, so that a write of
 * the status (ebb's own, every few polls) is not a change. NULL when out of
 * memory. */
static char *decoder_input(const cJSON *obj)
{
    cJSON *in = cJSON_CreateObject();
    cJSON *md = in ? cJSON_AddObjectToObject(in, "metadata") : NULL;
    if (!md) {
        cJSON_Delete(in);
        return NULL;
    }
    cJSON_AddStringToObject(in, "apiVersion", KEDA_API_VERSION);
    cJSON_AddStringToObject(in, "kind", "ScaledObject");
    const cJSON *omd = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    static const char *const keep[] = {"name", "namespace", "annotations"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(omd, keep[i]);
        if (v)
            cJSON_AddItemToObject(md, keep[i], cJSON_Duplicate(v, 1));
    }
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    if (spec)
        cJSON_AddItemToObject(in, "spec", cJSON_Duplicate(spec, 1));
    char *s = cJSON_PrintUnformatted(in);
    cJSON_Delete(in);
    return s;
}

/* Decodes e->input into e->cfg. 0, or -EINVAL with e->check_failed set to
 * the errors ("spec.triggers[0].metadata.threshold: ..."; "; " between). */
static int entry_decode(struct cl_entry *e)
{
    struct config *c = &e->cfg;
    config_init(c);
    c->read_secrets = false; /* secrets of a cluster come from Kubernetes, not ebb's files */
    config_load_buffer(c, e->key, e->input, strlen(e->input));
    config_check(c, 0);
    e->check_failed[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < c->n_issues; i++) {
        const struct cfg_issue *is = &c->issues[i];
        if (is->warning)
            continue;
        int w = snprintf(e->check_failed + n, sizeof(e->check_failed) - n, "%s%s%s%s",
                         n ? "; " : "", is->path, is->path[0] ? ": " : "", is->msg);
        if (w < 0 || (size_t)w >= sizeof(e->check_failed) - n)
            break;
        n += (size_t)w;
    }
    if (config_errors(c) == 0 && c->n_sos != 1)
        snprintf(e->check_failed, sizeof(e->check_failed), "not one ScaledObject");
    if (config_errors(c) && !e->check_failed[0])
        snprintf(e->check_failed, sizeof(e->check_failed), "%d errors", config_errors(c));
    return e->check_failed[0] ? -EINVAL : 0;
}

/* ---------- status ---------- */

static void status_write(struct cl_entry *e, bool force);

static int status_mutate(void *ud, cJSON *obj)
{
    struct cl_write *w = ud;
    cJSON *copy = cJSON_Duplicate(w->status, 1);
    if (!copy)
        return -ENOMEM;
    if (cJSON_GetObjectItemCaseSensitive(obj, "status"))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, "status", copy);
    else
        cJSON_AddItemToObject(obj, "status", copy);
    return 0;
}

static void on_status_written(void *ud, const char *err, const cJSON *obj)
{
    struct cl_write *w = ud;
    struct cluster *cl = w->cl;
    struct cl_entry *e = w->e;
    if (e) {
        e->w = NULL;
        if (err) {
            cl->status_errors++;
            log_warn("scaledobject %s: cannot write its status (tried again after the next "
                     "round): %s",
                     e->key, err);
        } else {
            cl->status_writes++;
            free(e->written);
            free(e->written_quiet);
            e->written = w->printed;
            e->written_quiet = w->printed_quiet;
            w->printed = w->printed_quiet = NULL;
            e->written_at = wall_time();
        }
    }
    write_free(cl, w);
}

/* Writes e's status if it changed since the last write (force: even a
 * lastActiveTime that alone moved within CLUSTER_ACTIVE_WRITE_S). One write
 * per object in flight; the next round tries again. */
static void status_write(struct cl_entry *e, bool force)
{
    struct cluster *cl = e->cl;
    if (e->w || cl->closing || !cl->as->started)
        return;
    if (e->obj && !e->has_original && e->target.known) {
        e->original = e->target.first_spec; /* the replicas when ebb took the target over */
        e->has_original = true;
    }
    cJSON *st = cluster_status_build(e, true), *quiet = cluster_status_build(e, false);
    char *printed = st ? cJSON_PrintUnformatted(st) : NULL;
    char *printed_quiet = quiet ? cJSON_PrintUnformatted(quiet) : NULL;
    cJSON_Delete(quiet);
    bool same = printed && e->written && strcmp(printed, e->written) == 0;
    bool quiet_same = printed_quiet && e->written_quiet &&
                      strcmp(printed_quiet, e->written_quiet) == 0 &&
                      wall_time() - e->written_at < CLUSTER_ACTIVE_WRITE_S;
    struct cl_write *w = NULL;
    if (printed && printed_quiet && !same && (force || !quiet_same))
        w = calloc(1, sizeof(*w));
    if (!w) {
        cJSON_Delete(st);
        free(printed);
        free(printed_quiet);
        return;
    }
    *w = (struct cl_write){cl, e, st, printed, printed_quiet, NULL, cl->writes};
    if (cl->writes)
        cl->writes->prev = w;
    cl->writes = w;
    char path[TARGET_K8S_PATH_MAX];
    snprintf(path, sizeof(path), KEDA_SOS_PATH "/namespaces/%s/scaledobjects/%s/status", e->ns,
             e->name);
    int rc = k8s_update(cl->c, path, CLUSTER_STATUS_ATTEMPTS, status_mutate, on_status_written, w);
    if (rc < 0) {
        log_warn("scaledobject %s: cannot write its status: %s", e->key, strerror(-rc));
        write_free(cl, w);
        return;
    }
    e->w = w;
}

static void on_round(void *ud, struct as_object *o)
{
    struct cl_entry *e = o->data;
    if (e && e->obj == o)
        status_write(e, false);
}

/* ---------- Kubernetes Events ---------- */

__attribute__((format(printf, 4, 5))) static void entry_event(struct cl_entry *e, const char *type,
                                                               const char *reason,
                                                               const char *fmt, ...)
{
    struct cluster *cl = e->cl;
    if (!cl->o.events || !cl->as->started)
        return; /* a follower records nothing: the leader decides, and says so */
    const cJSON *obj = k8s_informer_get(&cl->inf, e->key);
    struct k8s_involved inv = {
        .api_version = "keda.sh/v1alpha1",
        .kind = "ScaledObject",
        .name = e->name,
        .namespace = e->ns,
        .uid = k8s_obj_meta(obj, "uid"),
        .resource_version = obj ? k8s_obj_rv(obj) : NULL,
    };
    va_list ap;
    va_start(ap, fmt);
    k8s_event_vemit(cl->o.events, &inv, type, reason, fmt, ap); /* dropped when rate-limited */
    va_end(ap);
}

/* A write of the target's replicas, as KEDA's operator (0 <-> N) and the
 * HPA controller (the rest) record it. */
static void on_scale_event(void *ud, const char *ns, const char *name, const struct as_event *ev)
{
    struct cluster *cl = ud;
    char key[sizeof(((struct cl_entry *)0)->key)];
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    struct cl_entry *e = cluster_find(cl, key);
    if (!e || !e->obj)
        return; /* a file's ScaledObject: no object in the cluster to attach it to */
    const struct so_spec *sp = &e->obj->spec;
    const char *kind = sp->target_kind;
    if (ev->from == 0 && ev->to > 0 && !strcmp(ev->source, "keda"))
        entry_event(e, ev->failed ? "Warning" : "Normal",
                    ev->failed ? "KEDAScaleTargetActivationFailed" : "KEDAScaleTargetActivated",
                    "%s %s %s/%s from %d to %d (%s)", ev->failed ? "Failed to scale" : "Scaled",
                    kind, e->ns, sp->target_name, ev->from, ev->to, ev->reason);
    else if (ev->to == 0 && !strcmp(ev->source, "keda"))
        entry_event(e, ev->failed ? "Warning" : "Normal",
                    ev->failed ? "KEDAScaleTargetDeactivationFailed" : "KEDAScaleTargetDeactivated",
                    "%s %s %s/%s from %d to %d (%s)",
                    ev->failed ? "Failed to deactivate" : "Deactivated", kind, e->ns,
                    sp->target_name, ev->from, ev->to, ev->reason);
    else
        entry_event(e, ev->failed ? "Warning" : "Normal",
                    ev->failed ? "FailedRescale" : "SuccessfulRescale", "New size: %d; reason: %s",
                    ev->to, ev->reason);
}

void cluster_sync_status(struct cluster *cl)
{
    for (size_t i = 0; i < cl->n; i++) {
        struct cl_entry *e = cl->entries[i];
        status_write(e, true);
        /* A new leader takes the objects on, as KEDA's reconciler does. */
        if (e->obj)
            entry_event(e, "Normal", "ScaledObjectReady", "ScaledObject is ready for scaling");
        else if (e->check_failed[0])
            entry_event(e, "Warning", "ScaledObjectCheckFailed", "%s", e->check_failed);
    }
}

/* ---------- entries ---------- */

struct cl_entry *cluster_find(const struct cluster *cl, const char *key)
{
    for (size_t i = 0; i < cl->n; i++)
        if (strcmp(cl->entries[i]->key, key) == 0)
            return cl->entries[i];
    return NULL;
}

/* Stops e's object (if running) and frees its decoded configuration. */
static void entry_stop(struct cl_entry *e)
{
    if (e->obj) {
        if (!e->cl->closing)
            autoscaler_remove(e->cl->as, e->obj);
        e->obj = NULL;
    }
    target_k8s_release(&e->target);
    config_release(&e->cfg);
    free(e->input);
    e->input = NULL;
}

/* Runs e from input (taken): decoded, then added to the autoscaler, or
 * marked invalid. last_active: status.lastActiveTime to start from (0:
 * none). */
static void entry_run(struct cl_entry *e, char *input, double last_active)
{
    struct cluster *cl = e->cl;
    e->input = input;
    if (entry_decode(e) < 0) {
        cl->invalid++;
        log_error("scaledobject %s is invalid; it is not scaled: %s", e->key, e->check_failed);
        entry_event(e, "Warning", "ScaledObjectCheckFailed", "%s", e->check_failed);
        return;
    }
    const struct cfg_scaled_object *so = e->cfg.sos[0];
    char err[512];
    if (target_k8s_init(&e->target, cl->c, e->ns, &so->spec, &cl->o.target, err, sizeof(err)) < 0 ||
        !(e->obj = autoscaler_add(cl->as, so, target_k8s(&e->target), e, e->created, last_active,
                                  err, sizeof(err)))) {
        snprintf(e->check_failed, sizeof(e->check_failed), "%s", err);
        cl->invalid++;
        log_error("scaledobject %s is not scaled: %s", e->key, err);
        entry_event(e, "Warning", "ScaledObjectCheckFailed", "%s", e->check_failed);
        return;
    }
    log_info("scaledobject %s: from the cluster, scaling %s %s (%s)", e->key, so->spec.target_kind,
             so->spec.target_name, e->target.path);
    entry_event(e, "Normal", "ScaledObjectReady", "ScaledObject is ready for scaling");
}

static double status_last_active(const cJSON *obj)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
    double t = 0;
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "lastActiveTime"));
    return s && cluster_time_parse(s, &t) == 0 ? t : 0;
}

static void on_add(void *ud, const char *key, const cJSON *obj)
{
    struct cluster *cl = ud;
    const char *ns = k8s_obj_meta(obj, "namespace"), *name = k8s_obj_meta(obj, "name");
    char *input = decoder_input(obj);
    struct cl_entry *e = NULL;
    if (cl->n == cl->cap) {
        size_t cap = cl->cap ? 2 * cl->cap : 8;
        struct cl_entry **a = realloc(cl->entries, cap * sizeof(*a));
        if (a) {
            cl->entries = a;
            cl->cap = cap;
        }
    }
    if (input && cl->n < cl->cap)
        e = calloc(1, sizeof(*e));
    if (!e || !ns || !name) {
        log_error("scaledobject %s: not run: %s", key,
                  !ns || !name ? "no namespace or name" : "out of memory");
        free(input);
        free(e);
        return;
    }
    e->cl = cl;
    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->ns, sizeof(e->ns), "%s", ns);
    snprintf(e->name, sizeof(e->name), "%s", name);
    config_init(&e->cfg);
    e->created = wall_time();
    cluster_time_parse(k8s_obj_meta(obj, "creationTimestamp"), &e->created);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
    const cJSON *orig = cJSON_GetObjectItemCaseSensitive(st, "originalReplicaCount");
    if (cJSON_IsNumber(orig) && orig->valuedouble >= 0) {
        e->has_original = true;
        e->original = (int32_t)orig->valuedouble;
    }
    cl->entries[cl->n++] = e;
    entry_run(e, input, status_last_active(obj));
    status_write(e, true);
}

static void on_update(void *ud, const char *key, const cJSON *old, const cJSON *obj)
{
    struct cluster *cl = ud;
    struct cl_entry *e = cluster_find(cl, key);
    if (!e) {
        on_add(ud, key, obj);
        return;
    }
    char *input = decoder_input(obj);
    if (!input || (e->input && strcmp(input, e->input) == 0)) {
        free(input); /* a status write, a label: nothing the decoder reads */
        return;
    }
    /* A new spec or annotations: KEDA restarts the object's scale loop.
     * lastActiveTime carries over, from the newer of status and memory. */
    double last_active = status_last_active(obj);
    if (e->obj && e->obj->keda.has_last_active && e->obj->keda.last_active > last_active)
        last_active = e->obj->keda.last_active;
    log_info("scaledobject %s changed; its state starts again", key);
    entry_stop(e);
    entry_run(e, input, last_active);
    status_write(e, true);
}

static void entry_free(struct cl_entry *e)
{
    entry_stop(e);
    if (e->w)
        e->w->e = NULL;
    free(e->written);
    free(e->written_quiet);
    free(e);
}

static void on_delete(void *ud, const char *key, const cJSON *last)
{
    struct cluster *cl = ud;
    for (size_t i = 0; i < cl->n; i++) {
        if (strcmp(cl->entries[i]->key, key) != 0)
            continue;
        struct cl_entry *e = cl->entries[i];
        cl->entries[i] = cl->entries[--cl->n];
        log_info("scaledobject %s was deleted", key);
        entry_free(e);
        return;
    }
}

static void on_error(void *ud, const char *err)
{
    struct cluster *cl = ud;
    log_warn("scaledobjects: %s (the %zu known keep running; listing again)", err, cl->n);
}

/* ---------- life ---------- */

int cluster_init(struct cluster *cl, uv_loop_t *loop, struct autoscaler *as, struct k8s_client *c,
                 const struct cluster_options *opts, char *err, size_t errlen)
{
    memset(cl, 0, sizeof(*cl));
    cl->loop = loop;
    cl->as = as;
    cl->c = c;
    cl->o = *opts;
    char path[512];
    if (opts->namespace_)
        snprintf(path, sizeof(path), KEDA_SOS_PATH "/namespaces/%s/scaledobjects",
                 opts->namespace_);
    else
        snprintf(path, sizeof(path), KEDA_SOS_PATH "/scaledobjects");
    struct k8s_informer_opts io = {
        .path = path,
        .on_add = on_add,
        .on_update = on_update,
        .on_delete = on_delete,
        .on_error = on_error,
        .ud = cl,
        .backoff_min_ms = opts->backoff_min_ms,
        .backoff_max_ms = opts->backoff_max_ms,
        .max_objects = AS_OBJECTS_MAX,
        .key_namespace = true,
    };
    int rc = k8s_informer_init(&cl->inf, loop, c, &io);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the ScaledObject informer: %s", strerror(-rc));
        return rc;
    }
    cl->inf_up = true;
    uv_timer_init(loop, &cl->retry);
    cl->retry.data = cl;
    as->opts.on_round = on_round;
    as->opts.on_event = on_scale_event;
    as->opts.hooks_ud = cl;
    return 0;
}

/* Objects that run no rounds (invalid, paused) get their status written
 * again here when the last write failed; the others on their rounds. */
static void on_retry(uv_timer_t *t)
{
    struct cluster *cl = t->data;
    for (size_t i = 0; i < cl->n; i++) {
        struct cl_entry *e = cl->entries[i];
        if (!e->obj || !uv_is_active((uv_handle_t *)&e->obj->poll_timer))
            status_write(e, false);
    }
}

int cluster_start(struct cluster *cl)
{
    uv_timer_start(&cl->retry, on_retry, CLUSTER_RETRY_MS, CLUSTER_RETRY_MS);
    return k8s_informer_start(&cl->inf);
}

static void part_closed(struct cluster *cl)
{
    if (--cl->parts_closing == 0 && cl->on_closed)
        cl->on_closed(cl);
}

static void on_inf_closed(struct k8s_informer *inf)
{
    struct cluster *cl = (struct cluster *)((char *)inf - offsetof(struct cluster, inf));
    cl->inf_up = false;
    part_closed(cl);
}

static void on_retry_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

void cluster_close(struct cluster *cl, void (*on_closed)(struct cluster *cl))
{
    cl->closing = true;
    cl->on_closed = on_closed;
    for (size_t i = 0; i < cl->n; i++)
        entry_free(cl->entries[i]);
    cl->n = 0;
    cl->parts_closing = 2;
    uv_close((uv_handle_t *)&cl->retry, on_retry_closed);
    k8s_informer_close(&cl->inf, on_inf_closed);
}

void cluster_release(struct cluster *cl)
{
    while (cl->writes)
        write_free(cl, cl->writes);
    free(cl->entries);
    cl->entries = NULL;
    cl->cap = 0;
}
