/* k8s/lease: see lease.h.
 *
 * One try is a GET of the Lease, then a POST (missing) or a PUT (expired,
 * released or ours); at most one request is in flight. The tick timer starts
 * the next try a retry period after the last one ended (with client-go's
 * jitter of up to 1.2 periods while following); the deadline timer runs while
 * leading and is pushed on by every successful write, so it fires only after
 * the renew deadline passed without one. Both timers are embedded and closed
 * by k8s_leader_release, whose done runs from the last close callback. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "k8s/lease.h"

#define JITTER 1.2             /* client-go's JitterFactor for the acquire loop */
#define ERR_LOG_EVERY_MS 30000 /* failures are logged at most this often */

static void try_start(struct k8s_leader *le);

/* "2026-11-28T03:30:00.000000Z": a metav1.MicroTime, as a Lease's times are. */
static void micro_time(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%06uZ", (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

static const char *str_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* A Lease's numbers are int32s, not negative: one out of that range (1e300,
 * -5: a bad record) is brought into it and a fraction is cut, so that the
 * conversion is defined and a duration * 1000 cannot overflow. */
static long num_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
        return 0;
    return v->valuedouble < INT32_MAX ? (long)v->valuedouble : INT32_MAX;
}

/* ---------- what was seen ---------- */

/* Takes note of the Lease's spec as read (NULL: none). The record counts as
 * changed when its bytes do, whoever wrote it: that, not the renewTime in
 * it, restarts the holder's lease duration on our clock. */
static void observe(struct k8s_leader *le, const cJSON *spec)
{
    char *text = spec ? cJSON_PrintUnformatted(spec) : NULL;
    uint64_t h = hash64(text ? text : "", text ? strlen(text) : 0, 0);
    free(text);
    struct k8s_lease_seen *s = &le->seen;
    if (h == s->hash && s->changed_ms)
        return;
    const char *holder = str_at(spec, "holderIdentity");
    if (strcmp(holder, s->holder) != 0 && holder[0] && strcmp(holder, le->identity) != 0)
        log_info("the lease %s/%s is held by \"%s\"", le->ns, le->name, holder);
    s->hash = h;
    s->changed_ms = uv_now(le->loop);
    k8s_lease_record_read(s, spec);
}

void k8s_lease_record_read(struct k8s_lease_seen *s, const cJSON *spec)
{
    snprintf(s->holder, sizeof(s->holder), "%s", str_at(spec, "holderIdentity"));
    s->duration_s = num_at(spec, "leaseDurationSeconds");
    s->transitions = num_at(spec, "leaseTransitions");
    snprintf(s->acquire_time, sizeof(s->acquire_time), "%s", str_at(spec, "acquireTime"));
}

/* Someone else holds the lease and it has not expired on our clock. */
static bool held_by_other(const struct k8s_leader *le)
{
    const struct k8s_lease_seen *s = &le->seen;
    if (!s->holder[0] || strcmp(s->holder, le->identity) == 0)
        return false;
    uint64_t dur_ms = s->duration_s > 0 ? (uint64_t)s->duration_s * 1000 : le->lease_ms;
    return uv_now(le->loop) < s->changed_ms + dur_ms;
}

/* The spec to write: us as the holder. A renewal keeps the acquire time and
 * the transitions; a take-over counts one more transition. */
static cJSON *spec_new(const struct k8s_leader *le, bool renewal)
{
    char now[40];
    micro_time(now, sizeof(now));
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddStringToObject(spec, "holderIdentity", le->identity);
    cJSON_AddNumberToObject(spec, "leaseDurationSeconds", (double)((le->lease_ms + 999) / 1000));
    cJSON_AddStringToObject(spec, "acquireTime",
                            renewal && le->seen.acquire_time[0] ? le->seen.acquire_time : now);
    cJSON_AddStringToObject(spec, "renewTime", now);
    cJSON_AddNumberToObject(spec, "leaseTransitions",
                            (double)(le->seen.transitions + (renewal ? 0 : 1)));
    return spec;
}

/* ---------- the timers ---------- */

static void on_tick(uv_timer_t *t)
{
    struct k8s_leader *le = t->data;
    if (le->phase == K8S_LEADER_FOLLOWING || le->phase == K8S_LEADER_LEADING)
        try_start(le);
}

/* The next try: a retry period on, jittered while following so that
 * replicas started together do not keep colliding. */
static void retry_later(struct k8s_leader *le)
{
    uint64_t ms = le->retry_ms;
    if (le->phase == K8S_LEADER_FOLLOWING) {
        char r[3];
        random_hex(r, 1);
        ms += (uint64_t)(le->retry_ms * JITTER * (double)strtoul(r, NULL, 16) / 255.0);
    }
    uv_timer_start(&le->tick, on_tick, ms, 0);
}

static void fail(struct k8s_leader *le, const char *err)
{
    le->failures++;
    uint64_t now = uv_now(le->loop);
    if (!le->err_logged_ms || now - le->err_logged_ms >= ERR_LOG_EVERY_MS) {
        le->err_logged_ms = now;
        log_warn("leader election on %s/%s: %s", le->ns, le->name, err);
    }
    retry_later(le);
}

static void lost(struct k8s_leader *le)
{
    double s = (double)(uv_now(le->loop) - le->renewed_ms) / 1000.0;
    le->phase = K8S_LEADER_STOPPED;
    uv_timer_stop(&le->tick);
    k8s_request_cancel(le->req);
    le->req = NULL;
    log_info("lost the lease %s/%s after %.1f s without a renewal", le->ns, le->name, s);
    if (le->on_stopped)
        le->on_stopped(le->ud); /* may release le: nothing after this */
}

static void handle_closed(uv_handle_t *h)
{
    struct k8s_leader *le = h->data;
    if (--le->open_handles == 0 && le->released)
        le->released(le->released_ud); /* may free le */
}

/* The end: the timers close, then done runs. */
static void finish(struct k8s_leader *le)
{
    k8s_request_cancel(le->req);
    le->req = NULL;
    le->phase = K8S_LEADER_CLOSED;
    uv_close((uv_handle_t *)&le->tick, handle_closed);
    uv_close((uv_handle_t *)&le->deadline, handle_closed);
}

static void on_deadline(uv_timer_t *t)
{
    struct k8s_leader *le = t->data;
    if (le->phase == K8S_LEADER_LEADING) {
        lost(le);
    } else if (le->phase == K8S_LEADER_RELEASING) {
        log_warn("the lease %s/%s was not given up within %.1f s; the next leader waits for it "
                 "to expire",
                 le->ns, le->name, le->renew_ms / 1000.0);
        finish(le);
    }
}

/* ---------- one try ---------- */

/* A write went through: we hold the lease until renew_ms from now. */
static void written(struct k8s_leader *le, const cJSON *obj)
{
    le->writes++;
    observe(le, cJSON_GetObjectItemCaseSensitive(obj, "spec"));
    le->renewed_ms = uv_now(le->loop);
    uv_timer_start(&le->deadline, on_deadline, le->renew_ms, 0);
    uv_timer_start(&le->tick, on_tick, le->retry_ms, 0);
    if (le->phase == K8S_LEADER_LEADING)
        return;
    le->phase = K8S_LEADER_LEADING;
    log_info("became leader of %s/%s as \"%s\"", le->ns, le->name, le->identity);
    if (le->on_started)
        le->on_started(le->ud); /* may release le: nothing after this */
}

static void on_write(void *ud, struct k8s_response *r)
{
    struct k8s_leader *le = ud;
    le->req = NULL;
    if (!r->err) {
        written(le, r->obj);
    } else if (r->status == 409) {
        /* Another elector wrote first (a Conflict on PUT, AlreadyExists on
         * POST): it leads; we read its record on the next try. */
        le->conflicts++;
        log_debug("leader election on %s/%s: %s", le->ns, le->name, r->err);
        retry_later(le);
    } else {
        fail(le, r->err);
    }
}

static void lease_write(struct k8s_leader *le, const char *method, const char *path, cJSON *obj)
{
    char *body = cJSON_PrintUnformatted(obj);
    int rc = body ? k8s_request(le->c, method, path, body, NULL, on_write, le, &le->req) : -ENOMEM;
    free(body);
    if (rc < 0) {
        char err[128];
        snprintf(err, sizeof(err), "%s: not sent: %s", method, strerror(-rc));
        fail(le, err);
    }
}

/* No Lease yet: create it, held by us. */
static void create(struct k8s_leader *le)
{
    memset(&le->seen, 0, sizeof(le->seen));
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1");
    cJSON_AddStringToObject(obj, "kind", "Lease");
    cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
    cJSON_AddStringToObject(md, "name", le->name);
    cJSON_AddStringToObject(md, "namespace", le->ns);
    cJSON *spec = spec_new(le, false);
    cJSON_DeleteItemFromObject(spec, "leaseTransitions");
    cJSON_AddNumberToObject(spec, "leaseTransitions", 0);
    cJSON_AddItemToObject(obj, "spec", spec);
    char coll[sizeof(le->path)];
    snprintf(coll, sizeof(coll), "%.*s", (int)(strrchr(le->path, '/') - le->path), le->path);
    lease_write(le, "POST", coll, obj);
    cJSON_Delete(obj);
}

static void on_read(void *ud, struct k8s_response *r)
{
    struct k8s_leader *le = ud;
    le->req = NULL;
    if (r->status == 404) {
        create(le);
        return;
    }
    if (r->err) {
        fail(le, r->err);
        return;
    }
    observe(le, cJSON_GetObjectItemCaseSensitive(r->obj, "spec"));
    if (held_by_other(le)) {
        retry_later(le);
        return;
    }
    /* Expired, released or ours: write us in, with the resourceVersion as
     * read (the object is PUT back as it came, with a new spec). */
    bool renewal = strcmp(le->seen.holder, le->identity) == 0;
    cJSON_DeleteItemFromObject(r->obj, "spec");
    cJSON_AddItemToObject(r->obj, "spec", spec_new(le, renewal));
    lease_write(le, "PUT", le->path, r->obj);
}

static void try_start(struct k8s_leader *le)
{
    le->tries++;
    int rc = k8s_request(le->c, "GET", le->path, NULL, NULL, on_read, le, &le->req);
    if (rc < 0) {
        char err[128];
        snprintf(err, sizeof(err), "GET: not sent: %s", strerror(-rc));
        fail(le, err);
    }
}

/* ---------- release ---------- */

static void on_given_up(void *ud, struct k8s_response *r)
{
    struct k8s_leader *le = ud;
    le->req = NULL;
    if (r->err)
        log_warn("the lease %s/%s was not given up: %s", le->ns, le->name, r->err);
    else
        log_info("gave up the lease %s/%s", le->ns, le->name);
    finish(le);
}

/* Read for its resourceVersion: if it is still ours, write it with no
 * holder and a one-second duration (client-go's release()). */
static void on_read_for_release(void *ud, struct k8s_response *r)
{
    struct k8s_leader *le = ud;
    le->req = NULL;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(r->obj, "spec");
    if (r->err || strcmp(str_at(spec, "holderIdentity"), le->identity) != 0) {
        if (r->err)
            log_warn("the lease %s/%s was not given up: %s", le->ns, le->name, r->err);
        finish(le);
        return;
    }
    char now[40];
    micro_time(now, sizeof(now));
    long transitions = num_at(spec, "leaseTransitions");
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "holderIdentity", "");
    cJSON_AddNumberToObject(s, "leaseDurationSeconds", 1);
    cJSON_AddStringToObject(s, "acquireTime", now);
    cJSON_AddStringToObject(s, "renewTime", now);
    cJSON_AddNumberToObject(s, "leaseTransitions", (double)transitions);
    cJSON_DeleteItemFromObject(r->obj, "spec");
    cJSON_AddItemToObject(r->obj, "spec", s);
    char *body = cJSON_PrintUnformatted(r->obj);
    int rc =
        body ? k8s_request(le->c, "PUT", le->path, body, NULL, on_given_up, le, &le->req) : -ENOMEM;
    free(body);
    if (rc < 0)
        finish(le);
}

void k8s_leader_release(struct k8s_leader *le, void (*done)(void *ud), void *ud)
{
    if (le->phase == K8S_LEADER_RELEASING || le->phase == K8S_LEADER_CLOSED)
        return;
    le->released = done;
    le->released_ud = ud;
    bool leading = le->phase == K8S_LEADER_LEADING;
    uv_timer_stop(&le->tick);
    uv_timer_stop(&le->deadline);
    k8s_request_cancel(le->req);
    le->req = NULL;
    if (!leading) {
        finish(le);
        return;
    }
    le->phase = K8S_LEADER_RELEASING;
    uv_timer_start(&le->deadline, on_deadline, le->renew_ms, 0);
    if (k8s_request(le->c, "GET", le->path, NULL, NULL, on_read_for_release, le, &le->req) < 0)
        finish(le);
}

/* ---------- start ---------- */

bool k8s_leader_leading(const struct k8s_leader *le)
{
    return le->phase == K8S_LEADER_LEADING;
}

static void identity_default(char *out, size_t cap)
{
    const char *pod = getenv("POD_NAME");
    if (pod && pod[0]) {
        snprintf(out, cap, "%s", pod);
        return;
    }
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    snprintf(out, cap, "%s_%ld", host, (long)getpid());
}

static int config_check(const struct k8s_leader_config *cfg, unsigned lease, unsigned renew,
                        unsigned retry, char *err, size_t errlen)
{
    if (!cfg->namespace || !cfg->namespace[0] || strlen(cfg->namespace) > K8S_NAME_MAX ||
        !cfg->name || !cfg->name[0] || strlen(cfg->name) > K8S_NAME_MAX) {
        snprintf(err, errlen,
                 "leader election: the lease needs a namespace and a name of at "
                 "most %d bytes",
                 K8S_NAME_MAX);
        return -EINVAL;
    }
    if (cfg->identity && strlen(cfg->identity) > K8S_LEASE_IDENTITY_MAX) {
        snprintf(err, errlen, "leader election: the identity \"%.40s...\" is longer than %d bytes",
                 cfg->identity, K8S_LEASE_IDENTITY_MAX);
        return -EINVAL;
    }
    if (lease <= renew) {
        snprintf(err, errlen,
                 "leader election: the lease duration (%.1f s) must be longer than "
                 "the renew deadline (%.1f s)",
                 lease / 1000.0, renew / 1000.0);
        return -EINVAL;
    }
    if (renew <= JITTER * retry) {
        snprintf(err, errlen,
                 "leader election: the renew deadline (%.1f s) must be longer than "
                 "1.2 times the retry period (%.1f s)",
                 renew / 1000.0, retry / 1000.0);
        return -EINVAL;
    }
    return 0;
}

int k8s_leader_start(struct k8s_leader *le, uv_loop_t *loop, struct k8s_client *c,
                     const struct k8s_leader_config *cfg, void (*on_started)(void *ud),
                     void (*on_stopped)(void *ud), void *ud, char *err, size_t errlen)
{
    memset(le, 0, sizeof(*le));
    unsigned lease = cfg->lease_duration_ms ? cfg->lease_duration_ms : K8S_LEASE_DURATION_MS;
    unsigned renew = cfg->renew_deadline_ms ? cfg->renew_deadline_ms : K8S_LEASE_RENEW_DEADLINE_MS;
    unsigned retry = cfg->retry_period_ms ? cfg->retry_period_ms : K8S_LEASE_RETRY_PERIOD_MS;
    int rc = config_check(cfg, lease, renew, retry, err, errlen);
    if (rc < 0)
        return rc;
    le->loop = loop;
    le->c = c;
    snprintf(le->ns, sizeof(le->ns), "%s", cfg->namespace);
    snprintf(le->name, sizeof(le->name), "%s", cfg->name);
    if (cfg->identity && cfg->identity[0])
        snprintf(le->identity, sizeof(le->identity), "%s", cfg->identity);
    else
        identity_default(le->identity, sizeof(le->identity));
    snprintf(le->path, sizeof(le->path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s",
             le->ns, le->name);
    le->lease_ms = lease;
    le->renew_ms = renew;
    le->retry_ms = retry;
    le->on_started = on_started;
    le->on_stopped = on_stopped;
    le->ud = ud;
    uv_timer_init(loop, &le->tick);
    uv_timer_init(loop, &le->deadline);
    le->tick.data = le->deadline.data = le;
    le->open_handles = 2;
    uv_timer_start(&le->tick, on_tick, 0, 0);
    return 0;
}
