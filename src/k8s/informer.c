/* k8s/informer: see informer.h.
 *
 * States: LISTING (a GET of the collection in flight) → WATCHING (a watch
 * from the list's resourceVersion) → WAITING (the back-off timer) → LISTING.
 * Every end of a watch goes through WAITING to a new list: a re-list costs
 * one GET, and it is the only way to learn what was deleted while nothing
 * was watching. The back-off doubles after a failed list or a watch that
 * brought nothing, and starts again from the minimum after a watch that
 * brought events or ran a while. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/informer.h"

#define WATCH_GOOD_MS 10000 /* a watch that ran this long was not a failure */

static void list_start(struct k8s_informer *inf);

static void report(struct k8s_informer *inf, const char *err)
{
    if (inf->o.on_error)
        inf->o.on_error(inf->o.ud, err);
}

/* The cache key of obj: its name, or "namespace/name" with key_namespace
 * (an object without a namespace is keyed "/name"). Writes out (cap bytes). */
static const char *obj_key(const struct k8s_informer *inf, const cJSON *obj, char *out,
                           size_t cap)
{
    const char *name = k8s_obj_name(obj);
    if (!inf->o.key_namespace)
        return name;
    const char *ns = k8s_obj_meta(obj, "namespace");
    snprintf(out, cap, "%s/%s", ns ? ns : "", name ? name : "");
    return out;
}

static struct k8s_item *find(const struct k8s_item *items, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].name, name) == 0)
            return (struct k8s_item *)(uintptr_t)&items[i];
    return NULL;
}

const cJSON *k8s_informer_get(const struct k8s_informer *inf, const char *name)
{
    struct k8s_item *it = find(inf->items, inf->n, name);
    return it ? it->obj : NULL;
}

static void items_free(struct k8s_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].name);
        cJSON_Delete(items[i].obj);
    }
    free(items);
}

int k8s_informer_init(struct k8s_informer *inf, uv_loop_t *loop, struct k8s_client *c,
                      const struct k8s_informer_opts *opts)
{
    memset(inf, 0, sizeof(*inf));
    if (!opts->path || opts->path[0] != '/')
        return -EINVAL;
    inf->c = c;
    inf->o = *opts;
    inf->o.backoff_min_ms = opts->backoff_min_ms ? opts->backoff_min_ms : 200;
    inf->o.backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : 30000;
    inf->o.watch_timeout_s = opts->watch_timeout_s ? opts->watch_timeout_s : 300;
    inf->o.max_objects = opts->max_objects ? opts->max_objects : 10000;
    inf->backoff_ms = inf->o.backoff_min_ms;
    inf->path = strdup(opts->path);
    inf->selector = opts->label_selector ? strdup(opts->label_selector) : NULL;
    inf->items = calloc(inf->o.max_objects, sizeof(*inf->items));
    if (!inf->path || (opts->label_selector && !inf->selector) || !inf->items) {
        free(inf->path);
        free(inf->selector);
        free(inf->items);
        return -ENOMEM;
    }
    uv_timer_init(loop, &inf->timer);
    inf->timer.data = inf;
    return 0;
}

/* The collection's URL path with its query: the label selector, and for a
 * watch the resourceVersion to start after, bookmarks and the timeout. */
static int query_path(struct k8s_informer *inf, bool watch, char *out, size_t cap)
{
    char sel[2048] = "";
    if (inf->selector && k8s_query_escape(sel, sizeof(sel), inf->selector) < 0)
        return -ENAMETOOLONG;
    int n;
    if (watch)
        n = snprintf(out, cap,
                     "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u%s%s",
                     inf->path, inf->rv, inf->o.watch_timeout_s, sel[0] ? "&labelSelector=" : "",
                     sel);
    else
        n = snprintf(out, cap, "%s%s%s", inf->path, sel[0] ? "?labelSelector=" : "", sel);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ---------- waiting ---------- */

static void on_timer(uv_timer_t *t)
{
    struct k8s_informer *inf = t->data;
    list_start(inf);
}

/* Waits the back-off, then lists again. */
static void wait_then_list(struct k8s_informer *inf)
{
    inf->state = K8S_INF_WAITING;
    inf->fresh = false;
    uv_timer_start(&inf->timer, on_timer, inf->backoff_ms, 0);
    unsigned next = inf->backoff_ms * 2;
    inf->backoff_ms = next > inf->o.backoff_max_ms ? inf->o.backoff_max_ms : next;
}

/* ---------- watching ---------- */

/* Puts obj (taken) under name: an add or an update. -ENOBUFS when the cache
 * is full. */
static int upsert(struct k8s_informer *inf, const char *name, cJSON *obj)
{
    struct k8s_item *it = find(inf->items, inf->n, name);
    if (it) {
        cJSON *old = it->obj;
        it->obj = obj;
        if (inf->o.on_update)
            inf->o.on_update(inf->o.ud, name, old, obj);
        cJSON_Delete(old);
        return 0;
    }
    if (inf->n >= inf->o.max_objects) {
        cJSON_Delete(obj);
        return -ENOBUFS;
    }
    char *copy = strdup(name);
    if (!copy) {
        cJSON_Delete(obj);
        return -ENOMEM;
    }
    inf->items[inf->n++] = (struct k8s_item){copy, obj};
    if (inf->o.on_add)
        inf->o.on_add(inf->o.ud, name, obj);
    return 0;
}

static void remove_item(struct k8s_informer *inf, struct k8s_item *it)
{
    struct k8s_item gone = *it;
    *it = inf->items[--inf->n];
    if (inf->o.on_delete)
        inf->o.on_delete(inf->o.ud, gone.name, gone.obj);
    free(gone.name);
    cJSON_Delete(gone.obj);
}

static int on_event(void *ud, const struct k8s_event *ev)
{
    struct k8s_informer *inf = ud;
    inf->watch_events++;
    if (ev->type == K8S_ERROR) {
        char err[512];
        if (ev->code == 410)
            inf->expired++;
        snprintf(err, sizeof(err), "watch %s: ERROR event %ld: %s", inf->path, ev->code,
                 ev->message);
        report(inf, err);
        return -1; /* ends the watch; a re-list follows */
    }
    snprintf(inf->rv, sizeof(inf->rv), "%s", ev->rv);
    if (ev->type == K8S_BOOKMARK)
        return 0;
    char key[2 * K8S_NAME_MAX + 2];
    const char *name = obj_key(inf, ev->object, key, sizeof(key));
    if (ev->type == K8S_DELETED) {
        struct k8s_item *it = find(inf->items, inf->n, name);
        if (it)
            remove_item(inf, it);
        return 0;
    }
    cJSON *obj = cJSON_Duplicate(ev->object, 1);
    int rc = obj ? upsert(inf, name, obj) : -ENOMEM;
    if (rc < 0) {
        char err[512];
        snprintf(err, sizeof(err), "watch %s: more than %zu objects, or out of memory", inf->path,
                 inf->o.max_objects);
        report(inf, err);
        return -1;
    }
    return 0;
}

static void on_watch_end(void *ud, const char *err, long status)
{
    struct k8s_informer *inf = ud;
    inf->watch = NULL;
    if (inf->closing)
        return;
    uint64_t ran = uv_now(inf->timer.loop) - inf->watch_started_ms;
    if (err && !strstr(err, ": stopped")) { /* a stop was reported by on_event */
        inf->watch_errors++;
        if (status == 410)
            inf->expired++;
        report(inf, err);
    } else if (err) {
        inf->watch_errors++;
    }
    if (inf->watch_events || ran >= WATCH_GOOD_MS)
        inf->backoff_ms = inf->o.backoff_min_ms;
    wait_then_list(inf);
}

static void watch_start(struct k8s_informer *inf)
{
    char path[4096];
    int rc = query_path(inf, true, path, sizeof(path));
    long timeout_ms = ((long)inf->o.watch_timeout_s + 30) * 1000;
    inf->watch_events = 0;
    inf->watch_started_ms = uv_now(inf->timer.loop);
    rc = rc ? rc : k8s_watch_start(inf->c, path, timeout_ms, on_event, on_watch_end, inf, &inf->watch);
    if (rc < 0) {
        char err[256];
        snprintf(err, sizeof(err), "watch %s: not started: %s", inf->path, strerror(-rc));
        report(inf, err);
        wait_then_list(inf);
        return;
    }
    inf->state = K8S_INF_WATCHING;
    inf->watches++;
}

/* ---------- listing ---------- */

/* Replaces the cache with the list's items: adds, updates (a changed
 * resourceVersion) and deletes (in the cache, not in the list). */
static int apply_list(struct k8s_informer *inf, struct k8s_list *l)
{
    size_t n = (size_t)cJSON_GetArraySize(l->items);
    if (n > inf->o.max_objects)
        return -ENOBUFS;
    struct k8s_item *fresh = calloc(inf->o.max_objects, sizeof(*fresh));
    if (!fresh)
        return -ENOMEM;
    size_t k = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, l->items)
    {
        char key[2 * K8S_NAME_MAX + 2];
        fresh[k].name = strdup(obj_key(inf, it, key, sizeof(key)));
        fresh[k].obj = cJSON_Duplicate(it, 1);
        if (!fresh[k].name || !fresh[k].obj) {
            items_free(fresh, k + 1);
            return -ENOMEM;
        }
        k++;
    }
    struct k8s_item *old = inf->items;
    size_t nold = inf->n;
    inf->items = fresh;
    inf->n = k;
    snprintf(inf->rv, sizeof(inf->rv), "%s", l->rv);
    for (size_t i = 0; i < k; i++) {
        struct k8s_item *was = find(old, nold, fresh[i].name);
        if (!was) {
            if (inf->o.on_add)
                inf->o.on_add(inf->o.ud, fresh[i].name, fresh[i].obj);
        } else if (strcmp(k8s_obj_rv(was->obj), k8s_obj_rv(fresh[i].obj)) != 0) {
            if (inf->o.on_update)
                inf->o.on_update(inf->o.ud, fresh[i].name, was->obj, fresh[i].obj);
        }
    }
    for (size_t i = 0; i < nold; i++)
        if (!find(fresh, k, old[i].name) && inf->o.on_delete)
            inf->o.on_delete(inf->o.ud, old[i].name, old[i].obj);
    items_free(old, nold);
    return 0;
}

static void on_list(void *ud, struct k8s_response *r)
{
    struct k8s_informer *inf = ud;
    inf->list_req = NULL;
    char err[1200];
    const char *e = r->err;
    struct k8s_list l = {0};
    if (!e) {
        char why[256];
        if (k8s_list_parse(r->body, r->len, &l, why, sizeof(why)) < 0) {
            snprintf(err, sizeof(err), "list %s: %s", inf->path, why);
            e = err;
        } else {
            int rc = apply_list(inf, &l);
            if (rc < 0) {
                snprintf(err, sizeof(err), "list %s: %s", inf->path,
                         rc == -ENOBUFS ? "more objects than the informer may keep"
                                        : "out of memory");
                e = err;
            }
        }
        k8s_list_release(&l);
    }
    if (inf->closing)
        return; /* closed by one of the callbacks */
    if (e) {
        inf->list_errors++;
        report(inf, e);
        wait_then_list(inf);
        return;
    }
    inf->lists++;
    inf->synced = true;
    inf->fresh = true;
    watch_start(inf);
}

static void list_start(struct k8s_informer *inf)
{
    char path[4096];
    inf->state = K8S_INF_LISTING;
    int rc = query_path(inf, false, path, sizeof(path));
    rc = rc ? rc : k8s_request(inf->c, "GET", path, NULL, NULL, on_list, inf, &inf->list_req);
    if (rc < 0) {
        char err[256];
        snprintf(err, sizeof(err), "list %s: not sent: %s", inf->path, strerror(-rc));
        inf->list_errors++;
        report(inf, err);
        wait_then_list(inf);
    }
}

int k8s_informer_start(struct k8s_informer *inf)
{
    if (inf->state != K8S_INF_IDLE || inf->closing)
        return -EALREADY;
    list_start(inf);
    return 0;
}

/* ---------- closing ---------- */

static void on_timer_closed(uv_handle_t *h)
{
    struct k8s_informer *inf = h->data;
    items_free(inf->items, inf->n);
    inf->items = NULL;
    inf->n = 0;
    free(inf->path);
    free(inf->selector);
    inf->path = inf->selector = NULL;
    if (inf->on_closed)
        inf->on_closed(inf);
}

void k8s_informer_close(struct k8s_informer *inf, void (*on_closed)(struct k8s_informer *inf))
{
    if (inf->closing)
        return;
    inf->closing = true;
    inf->on_closed = on_closed;
    inf->fresh = false;
    k8s_request_cancel(inf->list_req);
    inf->list_req = NULL;
    k8s_watch_cancel(inf->watch);
    inf->watch = NULL;
    inf->state = K8S_INF_IDLE;
    uv_timer_stop(&inf->timer);
    uv_close((uv_handle_t *)&inf->timer, on_timer_closed);
}
