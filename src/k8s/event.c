/* k8s/event: see event.h.
 *
 * An emit goes through the object's token bucket first (so repeats count
 * against the limit too, as in client-go, where the spam filter runs before
 * the correlation), then looks for the same event in the cache: a repeat
 * within the window is a PATCH of count and lastTimestamp, else it is a new
 * Event named "<object>.<hex nanoseconds>" as client-go names them. A repeat
 * while the event's own request is in flight is only counted; when that
 * request ends, one PATCH carries the count. Both caches are fixed arrays
 * searched linearly: events are rare (a few a minute), and a fixed array is
 * a limit that cannot grow. Entries are found by a 64-bit hash of their key;
 * a collision would count an event under another, a risk of 2^-64. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "k8s/event.h"
#include "prom/query.h"

#define ERR_LOG_EVERY_MS 60000

/* ---------- keys ---------- */

static uint64_t hash_str(uint64_t h, const char *s)
{
    s = s ? s : "";
    return hash64(s, strlen(s) + 1, h); /* with the NUL: "ab"+"c" differs from "a"+"bc" */
}

static uint64_t object_key(const struct k8s_involved *o)
{
    uint64_t h = hash_str(0x6b387365u, o->api_version);
    h = hash_str(h, o->kind);
    h = hash_str(h, o->namespace);
    h = hash_str(h, o->name);
    return hash_str(h, o->uid) | 1; /* never 0: 0 is a free cell */
}

static uint64_t event_key(const struct k8s_events *ev, uint64_t obj, const char *type,
                          const char *reason, const char *msg)
{
    uint64_t h = hash_str(obj, ev->component);
    h = hash_str(h, type);
    h = hash_str(h, reason);
    return hash_str(h, msg) | 1;
}

/* ---------- the spam filter ---------- */

/* Takes a token from the object's bucket: true if there was one. */
static bool bucket_take(struct k8s_events *ev, uint64_t key)
{
    uint64_t now = uv_now(ev->loop);
    struct k8s_event_bucket *b = NULL, *oldest = &ev->buckets[0];
    for (size_t i = 0; i < K8S_EVENTS_CACHE && !b; i++) {
        if (ev->buckets[i].key == key)
            b = &ev->buckets[i];
        else if (ev->buckets[i].used < oldest->used)
            oldest = &ev->buckets[i];
    }
    if (!b) {
        b = oldest; /* a free cell has used 0: the least */
        *b = (struct k8s_event_bucket){.key = key, .tokens = ev->burst, .filled_ms = now};
    }
    b->used = ++ev->clock;
    if (ev->refill_ms) {
        b->tokens += (double)(now - b->filled_ms) / ev->refill_ms;
        if (b->tokens > ev->burst)
            b->tokens = ev->burst;
    }
    b->filled_ms = now;
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
}

/* ---------- the correlation cache ---------- */

static struct k8s_event_seen *seen_find(struct k8s_events *ev, uint64_t key)
{
    for (size_t i = 0; i < K8S_EVENTS_CACHE; i++)
        if (ev->seen[i].key == key)
            return &ev->seen[i];
    return NULL;
}

/* A cell for a new event: a free one, else the least recently used. An
 * evicted event whose request is in flight is simply not found when it ends. */
static struct k8s_event_seen *seen_new(struct k8s_events *ev, uint64_t key)
{
    struct k8s_event_seen *s = &ev->seen[0];
    for (size_t i = 0; i < K8S_EVENTS_CACHE; i++) {
        if (!ev->seen[i].key) {
            s = &ev->seen[i];
            break;
        }
        if (ev->seen[i].used < s->used)
            s = &ev->seen[i];
    }
    memset(s, 0, sizeof(*s));
    s->key = key;
    return s;
}

/* ---------- requests ---------- */

static void failed(struct k8s_events *ev, const char *err)
{
    ev->failed++;
    uint64_t now = uv_now(ev->loop);
    if (ev->err_logged_ms && now - ev->err_logged_ms < ERR_LOG_EVERY_MS) {
        ev->errs_unlogged++;
        return;
    }
    if (ev->errs_unlogged)
        log_warn("an event was not recorded: %s (and %u more since the last message)", err,
                 ev->errs_unlogged);
    else
        log_warn("an event was not recorded: %s", err);
    ev->err_logged_ms = now;
    ev->errs_unlogged = 0;
}

static void close_now(struct k8s_events *ev);
static int patch_send(struct k8s_events *ev, struct k8s_event_seen *s);

static void on_answer(void *ud, struct k8s_response *r)
{
    struct k8s_event_call *call = ud;
    struct k8s_events *ev = call->ev;
    struct k8s_event_seen *s = seen_find(ev, call->key);
    call->req = NULL;
    if (r->err) {
        failed(ev, r->err);
        if (s)
            s->key = 0; /* forgotten: the next one is a new Event */
    } else if (s) {
        s->busy = false;
        if (s->pending && !ev->closing)
            patch_send(ev, s);
    }
    if (ev->closing) {
        for (size_t i = 0; i < K8S_EVENTS_INFLIGHT; i++)
            if (ev->calls[i].req)
                return;
        close_now(ev);
    }
}

/* Sends body for event s. 0, or a negative errno (counted and logged). */
static int call_send(struct k8s_events *ev, struct k8s_event_seen *s, const char *method,
                     const char *path, const char *ctype, const char *body)
{
    struct k8s_event_call *call = NULL;
    for (size_t i = 0; i < K8S_EVENTS_INFLIGHT && !call; i++)
        if (!ev->calls[i].req)
            call = &ev->calls[i];
    if (!call) {
        ev->dropped++;
        failed(ev, "too many requests for events in flight");
        s->key = 0;
        return -ENOBUFS;
    }
    call->ev = ev;
    call->key = s->key;
    int rc = k8s_request(ev->c, method, path, body, ctype, on_answer, call, &call->req);
    if (rc < 0) {
        call->req = NULL;
        char err[128];
        snprintf(err, sizeof(err), "%s %s: not sent: %s", method, path, strerror(-rc));
        failed(ev, err);
        s->key = 0;
        return rc;
    }
    s->busy = true;
    s->pending = false;
    return 0;
}

static int patch_send(struct k8s_events *ev, struct k8s_event_seen *s)
{
    char path[640], when[40], body[128];
    prom_rfc3339(s->last_s, when, sizeof(when));
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", s->ns, s->name);
    snprintf(body, sizeof(body), "{\"count\":%ld,\"lastTimestamp\":\"%s\"}", s->count, when);
    int rc = call_send(ev, s, "PATCH", path, "application/merge-patch+json", body);
    if (rc == 0)
        ev->patched++;
    return rc;
}

static void add_str(cJSON *o, const char *key, const char *v)
{
    if (v && v[0])
        cJSON_AddStringToObject(o, key, v);
}

/* The Event as client-go's recorder makes it (core/v1, with the legacy
 * source and the newer reportingComponent). */
static cJSON *event_object(const struct k8s_events *ev, const struct k8s_event_seen *s,
                           const struct k8s_involved *o, const char *type, const char *reason,
                           const char *msg)
{
    char when[40];
    prom_rfc3339(s->last_s, when, sizeof(when));
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "apiVersion", "v1");
    cJSON_AddStringToObject(e, "kind", "Event");
    cJSON *md = cJSON_AddObjectToObject(e, "metadata");
    cJSON_AddStringToObject(md, "name", s->name);
    cJSON_AddStringToObject(md, "namespace", s->ns);
    cJSON *io = cJSON_AddObjectToObject(e, "involvedObject");
    add_str(io, "apiVersion", o->api_version);
    add_str(io, "kind", o->kind);
    add_str(io, "name", o->name);
    add_str(io, "namespace", o->namespace);
    add_str(io, "uid", o->uid);
    add_str(io, "resourceVersion", o->resource_version);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "source"), "component", ev->component);
    cJSON_AddStringToObject(e, "reportingComponent", ev->component);
    cJSON_AddStringToObject(e, "firstTimestamp", when);
    cJSON_AddStringToObject(e, "lastTimestamp", when);
    cJSON_AddNumberToObject(e, "count", 1);
    return e;
}

/* A new Event for s. 0, or a negative errno (s is forgotten then). */
static int create_send(struct k8s_events *ev, struct k8s_event_seen *s,
                       const struct k8s_involved *o, const char *type, const char *reason,
                       const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t nanos = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    ev->last_nanos = nanos > ev->last_nanos ? nanos : ev->last_nanos + 1;
    /* The object's name is cut so that the Event's stays a valid name. */
    snprintf(s->name, sizeof(s->name), "%.*s.%llx", K8S_NAME_MAX - 17, o->name,
             (unsigned long long)ev->last_nanos);
    snprintf(s->ns, sizeof(s->ns), "%s", o->namespace);
    char path[640];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", s->ns);
    cJSON *e = event_object(ev, s, o, type, reason, msg);
    char *body = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    if (!body) {
        failed(ev, "out of memory");
        s->key = 0;
        return -ENOMEM;
    }
    int rc = call_send(ev, s, "POST", path, NULL, body);
    if (rc == 0)
        ev->created++;
    free(body);
    return rc;
}

/* ---------- the API ---------- */

static bool involved_ok(const struct k8s_involved *o)
{
    return o && o->kind && o->kind[0] && o->name && o->name[0] && o->namespace && o->namespace[0] &&
           strlen(o->name) <= K8S_NAME_MAX && strlen(o->namespace) <= K8S_NAME_MAX;
}

int k8s_event_vemit(struct k8s_events *ev, const struct k8s_involved *obj, const char *type,
                    const char *reason, const char *fmt, va_list ap)
{
    if (ev->closing)
        return -ESHUTDOWN;
    if (!involved_ok(obj) || !type || (strcmp(type, "Normal") != 0 && strcmp(type, "Warning")) ||
        !reason || !reason[0] || strlen(reason) > K8S_EVENT_REASON_MAX)
        return -EINVAL;
    char msg[K8S_EVENT_MESSAGE_MAX + 1];
    int len = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (len >= (int)sizeof(msg)) {
        /* Cut: not inside a UTF-8 sequence, so the body stays valid JSON text. */
        size_t n = sizeof(msg) - 1, k = n;
        while (k > 0 && ((unsigned char)msg[k - 1] & 0xC0) == 0x80)
            k--;
        unsigned char lead = k > 0 ? (unsigned char)msg[k - 1] : 0;
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (k > 0 && k - 1 + need > n)
            msg[k - 1] = '\0';
    }
    uint64_t okey = object_key(obj);
    if (!bucket_take(ev, okey)) {
        ev->limited++;
        log_debug("event %s for %s/%s dropped: over the rate limit", reason, obj->namespace,
                  obj->name);
        return -EBUSY;
    }
    uint64_t key = event_key(ev, okey, type, reason, msg);
    uint64_t now = uv_now(ev->loop);
    struct k8s_event_seen *s = seen_find(ev, key);
    if (s && now - s->last_ms <= K8S_EVENTS_WINDOW_MS) {
        s->count++;
        s->last_ms = now;
        s->last_s = wall_time();
        s->used = ++ev->clock;
        if (s->busy) {
            s->pending = true;
            return 0;
        }
        return patch_send(ev, s);
    }
    if (!s)
        s = seen_new(ev, key);
    s->count = 1;
    s->last_ms = now;
    s->last_s = wall_time();
    s->used = ++ev->clock;
    s->busy = s->pending = false;
    return create_send(ev, s, obj, type, reason, msg);
}

int k8s_event_emit(struct k8s_events *ev, const struct k8s_involved *obj, const char *type,
                   const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = k8s_event_vemit(ev, obj, type, reason, fmt, ap);
    va_end(ap);
    return rc;
}

int k8s_events_init(struct k8s_events *ev, uv_loop_t *loop, struct k8s_client *c,
                    const char *component)
{
    memset(ev, 0, sizeof(*ev));
    ev->seen = calloc(K8S_EVENTS_CACHE, sizeof(*ev->seen));
    ev->buckets = calloc(K8S_EVENTS_CACHE, sizeof(*ev->buckets));
    if (!ev->seen || !ev->buckets) {
        free(ev->seen);
        free(ev->buckets);
        return -ENOMEM;
    }
    ev->loop = loop;
    ev->c = c;
    snprintf(ev->component, sizeof(ev->component), "%s", component ? component : "ebb-autoscaler");
    ev->burst = K8S_EVENTS_BURST;
    ev->refill_ms = K8S_EVENTS_REFILL_MS;
    uv_timer_init(loop, &ev->timer);
    ev->timer.data = ev;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct k8s_events *ev = h->data;
    free(ev->seen);
    free(ev->buckets);
    ev->seen = NULL;
    ev->buckets = NULL;
    if (ev->closed)
        ev->closed(ev->closed_ud); /* may free ev */
}

static void close_now(struct k8s_events *ev)
{
    for (size_t i = 0; i < K8S_EVENTS_INFLIGHT; i++) {
        k8s_request_cancel(ev->calls[i].req);
        ev->calls[i].req = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&ev->timer))
        uv_close((uv_handle_t *)&ev->timer, on_timer_closed);
}

static void on_grace_over(uv_timer_t *t)
{
    struct k8s_events *ev = t->data;
    close_now(ev);
}

void k8s_events_close(struct k8s_events *ev, void (*done)(void *ud), void *ud)
{
    if (ev->closing)
        return;
    ev->closing = true;
    ev->closed = done;
    ev->closed_ud = ud;
    for (size_t i = 0; i < K8S_EVENTS_INFLIGHT; i++) {
        if (ev->calls[i].req) {
            uv_timer_start(&ev->timer, on_grace_over, K8S_EVENTS_CLOSE_MS, 0);
            return;
        }
    }
    close_now(ev);
}
