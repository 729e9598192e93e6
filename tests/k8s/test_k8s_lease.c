/* The autoscaler's coordination with the cluster, against fake_apiserver.py
 * (a stand-in for kube-apiserver: TLS, bearer tokens, 409 on a stale PUT,
 * merge PATCH, records of every write): leader election on a Lease
 * (k8s/lease.h), Events with correlation and a rate limit (k8s/event.h),
 * and pod-deletion-cost from the router's in-flight counts
 * (k8s/deletion_cost.h), with the router's /metrics served by testsrv.
 * Everything runs on one libuv loop, with short durations (lease 2 s, renew
 * deadline 1 s, retry 0.2 s); every test closes what it opened and checks
 * that the loop closes clean. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s/client.h"
#include "k8s/deletion_cost.h"
#include "k8s/event.h"
#include "k8s/lease.h"
#include "testsrv.h"

extern char **environ;

#define TOKEN "s3cret-token"
#define LEASE "/apis/coordination.k8s.io/v1/namespaces/default/leases/ebb-autoscaler"
#define EVENTS "/api/v1/namespaces/default/events"
#define PODS "/api/v1/namespaces/default/pods"

static struct {
    pid_t pid;
    int port;
    char dir[256];
} srv;

/* One elector and what its callbacks saw. */
struct elector {
    struct k8s_leader le;
    bool open;
    int started, stopped, released;
    uint64_t started_ms, stopped_ms;
    bool release_in_started, release_in_stopped; /* k8s_leader_release from the callbacks */
};

struct fixture {
    uv_loop_t loop;
    struct fetcher f;
    struct k8s_config cfg_a, cfg_b; /* one per elector: tokens can differ */
    struct k8s_client a, b;
    struct elector ea, eb;
    struct k8s_events ev;
    bool ev_open;
    int ev_closed;
    struct tsrv router; /* the router's /metrics */
    bool router_open;
    int closed;
    int done;
    char body[65536];
    long status;
    char err[1024];
};

static struct fixture *F;

/* ---------- the server process ---------- */

static int group_setup(void **state)
{
    snprintf(srv.dir, sizeof(srv.dir), "/tmp/ebb-k8s-lease-XXXXXX");
    assert_non_null(mkdtemp(srv.dir));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {"python3", SRCDIR "/fake_apiserver.py", "--dir", srv.dir, "--token", TOKEN,
                    NULL};
    assert_int_equal(posix_spawnp(&srv.pid, "python3", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char line[64] = "";
    size_t n = 0;
    while (n < sizeof(line) - 1 && !strchr(line, '\n')) {
        ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = '\0';
    }
    close(fds[0]);
    assert_int_equal(sscanf(line, "PORT %d", &srv.port), 1);
    return 0;
}

static int group_teardown(void **state)
{
    kill(srv.pid, SIGTERM);
    waitpid(srv.pid, NULL, 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A kubeconfig for server (NULL: the fake API server), with its CA and a token. */
static void config_for(struct k8s_config *cfg, const char *server)
{
    char text[2048], err[512], url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", srv.port);
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
             "contexts:\n- name: test\n  context: {cluster: fake, user: u}\n"
             "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
             "    certificate-authority: %s/ca.crt\n"
             "users:\n- name: u\n  user:\n    token: " TOKEN "\n",
             server ? server : url, srv.dir);
    int rc = k8s_config_kubeconfig_text(cfg, "test-kubeconfig", srv.dir, text, strlen(text), 0, err,
                                        sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
}

static void on_answer(void *ud, struct k8s_response *r)
{
    F->done++;
    F->status = r->status;
    snprintf(F->err, sizeof(F->err), "%s", r->err ? r->err : "");
    snprintf(F->body, sizeof(F->body), "%.*s",
             (int)(r->len < sizeof(F->body) - 1 ? r->len : sizeof(F->body) - 1), r->body);
}

/* POSTs a control command and waits for its answer; returns it parsed (the
 * caller frees it). */
static cJSON *ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *ctl(const char *fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    int want = F->done + 1;
    assert_int_equal(k8s_request(&F->a, "POST", "/_control", body, NULL, on_answer, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &F->done, want, 5000);
    assert_int_equal(F->done, want);
    assert_string_equal(F->err, "");
    cJSON *out = cJSON_Parse(F->body);
    assert_non_null(out);
    return out;
}

#define CTL(...) cJSON_Delete(ctl(__VA_ARGS__))

/* The stored object at path (the caller frees it), or NULL. */
static cJSON *object_at(const char *path)
{
    cJSON *r = ctl("{\"op\":\"get_object\",\"path\":\"%s\"}", path);
    cJSON *o = cJSON_DetachItemFromObject(r, "obj");
    cJSON_Delete(r);
    if (cJSON_IsNull(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The writes the server received (method, path, content_type, body), whose
 * path starts with prefix; the caller frees the array. */
static cJSON *records(const char *prefix)
{
    cJSON *r = ctl("{\"op\":\"records\"}");
    cJSON *all = cJSON_GetObjectItem(r, "records");
    cJSON *out = cJSON_CreateArray();
    cJSON *x;
    cJSON_ArrayForEach(x, all)
    {
        if (strncmp(cJSON_GetObjectItem(x, "path")->valuestring, prefix, strlen(prefix)) == 0)
            cJSON_AddItemToArray(out, cJSON_Duplicate(x, true));
    }
    cJSON_Delete(r);
    return out;
}

static const char *str(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    x = b ? cJSON_GetObjectItem(x, b) : x;
    return cJSON_IsString(x) ? x->valuestring : "(missing)";
}

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    x = b ? cJSON_GetObjectItem(x, b) : x;
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    F = &fx;
    uv_loop_init(&fx.loop);
    assert_int_equal(fetcher_init(&fx.f, &fx.loop), 0);
    config_for(&fx.cfg_a, NULL);
    config_for(&fx.cfg_b, NULL);
    k8s_client_init(&fx.a, &fx.loop, &fx.f, &fx.cfg_a);
    k8s_client_init(&fx.b, &fx.loop, &fx.f, &fx.cfg_b);
    CTL("{\"op\":\"reset\"}");
    F->done = 0;
    return 0;
}

static void on_released(void *ud)
{
    struct elector *e = ud;
    e->released++;
}

static void on_events_closed(void *ud)
{
    F->ev_closed++;
}

static void on_fetcher_closed(struct fetcher *f)
{
    F->closed++;
}

static int teardown(void **state)
{
    struct elector *es[] = {&F->ea, &F->eb};
    for (int i = 0; i < 2; i++) {
        if (!es[i]->open)
            continue;
        if (!es[i]->released)
            k8s_leader_release(&es[i]->le, on_released, es[i]);
        tsrv_run_until(&F->loop, &es[i]->released, 1, 5000);
        assert_int_equal(es[i]->released, 1);
    }
    if (F->ev_open && !F->ev_closed) {
        k8s_events_close(&F->ev, on_events_closed, NULL);
        tsrv_run_until(&F->loop, &F->ev_closed, 1, 5000);
        assert_int_equal(F->ev_closed, 1);
    }
    if (F->router_open)
        tsrv_close(&F->router);
    fetcher_close(&F->f, on_fetcher_closed);
    uv_run(&F->loop, UV_RUN_DEFAULT);
    assert_int_equal(F->closed, 1);
    assert_int_equal(uv_loop_close(&F->loop), 0);
    k8s_config_release(&F->cfg_a);
    k8s_config_release(&F->cfg_b);
    return 0;
}

/* ---------- leader election ---------- */

static void on_started(void *ud)
{
    struct elector *e = ud;
    e->started++;
    e->started_ms = uv_now(&F->loop);
    if (e->release_in_started)
        k8s_leader_release(&e->le, on_released, e);
}

static void on_stopped(void *ud)
{
    struct elector *e = ud;
    e->stopped++;
    e->stopped_ms = uv_now(&F->loop);
    if (e->release_in_stopped)
        k8s_leader_release(&e->le, on_released, e);
}

static void elect(struct elector *e, struct k8s_client *c, const char *identity)
{
    struct k8s_leader_config cfg = {.namespace = "default",
                                    .name = "ebb-autoscaler",
                                    .identity = identity,
                                    .lease_duration_ms = 2000,
                                    .renew_deadline_ms = 1000,
                                    .retry_period_ms = 200};
    char err[256] = "";
    assert_int_equal(
        k8s_leader_start(&e->le, &F->loop, c, &cfg, on_started, on_stopped, e, err, sizeof(err)),
        0);
    e->open = true;
}

static void lease_config_is_checked(void **state)
{
    static const struct {
        const char *rule;
        struct k8s_leader_config cfg;
        const char *err;
    } rows[] = {
        {"a lease needs a name",
         {.namespace = "default"},
         "leader election: the lease needs a "
         "namespace and a name of at most 253 "
         "bytes"},
        {"lease duration > renew deadline",
         {.namespace = "ns", .name = "l", .lease_duration_ms = 10000},
         "leader election: the lease duration (10.0 s) must be longer than the renew deadline "
         "(10.0 s)"},
        {"renew deadline > 1.2 retry periods",
         {.namespace = "ns", .name = "l", .renew_deadline_ms = 2000},
         "leader election: the renew deadline (2.0 s) must be longer than 1.2 times the retry "
         "period (2.0 s)"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct k8s_leader le;
        char err[256] = "";
        printf("%s\n", rows[i].rule);
        assert_int_equal(k8s_leader_start(&le, &F->loop, &F->a, &rows[i].cfg, NULL, NULL, NULL, err,
                                          sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, rows[i].err);
    }
    /* The default identity: $POD_NAME when set. */
    setenv("POD_NAME", "ebb-autoscaler-7d9f-x2x", 1);
    elect(&F->ea, &F->a, NULL);
    unsetenv("POD_NAME");
    assert_string_equal(F->ea.le.identity, "ebb-autoscaler-7d9f-x2x");
    assert_int_equal(F->ea.le.lease_ms, 2000);
}

static void two_electors_exactly_one_leads(void **state)
{
    elect(&F->ea, &F->a, "pod-a");
    elect(&F->eb, &F->b, "pod-b");
    tsrv_run_for(&F->loop, 300);
    assert_int_equal(F->ea.started + F->eb.started, 1);
    /* Long past a lease duration: the leader renews, the other waits. */
    tsrv_run_for(&F->loop, 2500);
    assert_int_equal(F->ea.started + F->eb.started, 1);
    assert_int_equal(F->ea.stopped + F->eb.stopped, 0);
    assert_true(k8s_leader_leading(&F->ea.le) != k8s_leader_leading(&F->eb.le));
    struct elector *leader = k8s_leader_leading(&F->ea.le) ? &F->ea : &F->eb;
    assert_true(leader->le.writes >= 10); /* renewed every 0.2 s */
    cJSON *lease = object_at(LEASE);
    assert_non_null(lease);
    assert_string_equal(str(lease, "spec", "holderIdentity"), leader->le.identity);
    assert_int_equal(num(lease, "spec", "leaseDurationSeconds"), 2);
    assert_int_equal(num(lease, "spec", "leaseTransitions"), 0);
    /* MicroTime: "2026-11-28T03:30:00.000000Z" */
    const char *renew = str(lease, "spec", "renewTime");
    assert_int_equal(strlen(renew), 27);
    assert_int_equal(renew[19], '.');
    assert_int_equal(renew[26], 'Z');
    cJSON_Delete(lease);
    /* The lease was created once (the other's POST, if any, got 409). */
    cJSON *w = records("/apis/coordination.k8s.io/v1/namespaces/default/leases");
    int posts = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, w) posts += strcmp(str(x, "method", NULL), "POST") == 0;
    assert_true(posts >= 1 && posts <= 2);
    cJSON_Delete(w);
}

static void a_released_lease_is_taken_over_at_once(void **state)
{
    elect(&F->ea, &F->a, "pod-a");
    tsrv_run_until(&F->loop, &F->ea.started, 1, 3000);
    assert_int_equal(F->ea.started, 1);
    elect(&F->eb, &F->b, "pod-b");
    tsrv_run_for(&F->loop, 500);
    assert_int_equal(F->eb.started, 0);
    k8s_leader_release(&F->ea.le, on_released, &F->ea);
    assert_false(k8s_leader_leading(&F->ea.le));
    uint64_t t0 = uv_now(&F->loop);
    tsrv_run_until(&F->loop, &F->ea.released, 1, 3000);
    assert_int_equal(F->ea.released, 1);
    assert_int_equal(F->ea.stopped, 0); /* a release is not a loss */
    tsrv_run_until(&F->loop, &F->eb.started, 1, 3000);
    assert_int_equal(F->eb.started, 1);
    /* At once: within a couple of retry periods, not after the 2 s lease. */
    assert_true(uv_now(&F->loop) - t0 < 1000);
    /* The release wrote no holder and a one-second lease. */
    cJSON *w = records(LEASE);
    bool released = false;
    cJSON *x;
    cJSON_ArrayForEach(x, w)
    {
        cJSON *b = cJSON_Parse(str(x, "body", NULL));
        if (strcmp(str(x, "method", NULL), "PUT") == 0 &&
            strcmp(str(b, "spec", "holderIdentity"), "") == 0) {
            released = true;
            assert_int_equal(num(b, "spec", "leaseDurationSeconds"), 1);
        }
        cJSON_Delete(b);
    }
    assert_true(released);
    cJSON_Delete(w);
    cJSON *lease = object_at(LEASE);
    assert_string_equal(str(lease, "spec", "holderIdentity"), "pod-b");
    assert_int_equal(num(lease, "spec", "leaseTransitions"), 1);
    cJSON_Delete(lease);
}

static void a_leader_that_cannot_renew_stops_before_the_other_starts(void **state)
{
    elect(&F->ea, &F->a, "pod-a");
    tsrv_run_until(&F->loop, &F->ea.started, 1, 3000);
    elect(&F->eb, &F->b, "pod-b");
    tsrv_run_for(&F->loop, 400);
    /* The server takes a new token that only B has: A's renewals get 401. */
    free(F->cfg_b.token);
    F->cfg_b.token = strdup("rotated");
    CTL("{\"op\":\"set_token\",\"token\":\"rotated\"}");
    uint64_t cut = uv_now(&F->loop);
    tsrv_run_until(&F->loop, &F->ea.stopped, 1, 3000);
    assert_int_equal(F->ea.stopped, 1);
    assert_false(k8s_leader_leading(&F->ea.le));
    /* Within the renew deadline of the last renewal (at most a retry
     * period before the cut), give or take the loop. */
    assert_true(F->ea.stopped_ms - cut <= 1000 + 150);
    assert_true(F->ea.le.failures >= 2);
    tsrv_run_until(&F->loop, &F->eb.started, 1, 4000);
    assert_int_equal(F->eb.started, 1);
    /* B waited for the lease to expire on its own clock, and never led
     * while A still did. */
    assert_true(F->eb.started_ms > F->ea.stopped_ms);
    assert_true(F->eb.started_ms - cut >= 2000 - 250);
    tsrv_run_for(&F->loop, 500);
    assert_int_equal(F->ea.started, 1); /* nothing more is tried after a loss */
}

static void the_elector_may_be_released_from_its_callbacks(void **state)
{
    /* From on_started: it gives the lease straight back. */
    F->ea.release_in_started = true;
    elect(&F->ea, &F->a, "pod-a");
    tsrv_run_until(&F->loop, &F->ea.released, 1, 3000);
    assert_int_equal(F->ea.started, 1);
    assert_int_equal(F->ea.released, 1);
    cJSON *lease = object_at(LEASE);
    assert_string_equal(str(lease, "spec", "holderIdentity"), "");
    cJSON_Delete(lease);
    /* From on_stopped: a leader whose renewals fail. */
    F->eb.release_in_stopped = true;
    elect(&F->eb, &F->b, "pod-b");
    tsrv_run_until(&F->loop, &F->eb.started, 1, 3000);
    assert_int_equal(F->eb.started, 1);
    CTL("{\"op\":\"set_token\",\"token\":\"rotated\"}");
    tsrv_run_until(&F->loop, &F->eb.released, 1, 3000);
    assert_int_equal(F->eb.stopped, 1);
    assert_int_equal(F->eb.released, 1);
}

static void a_conflict_on_acquire_is_not_leadership(void **state)
{
    /* A released lease (no holder): the elector goes straight to the PUT,
     * but someone else writes in between, twice: 409, 409, then it wins. */
    CTL("{\"op\":\"put_object\",\"path\":\"" LEASE "\",\"obj\":{\"apiVersion\":"
        "\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"spec\":{\"holderIdentity\":\"\","
        "\"leaseDurationSeconds\":1,\"leaseTransitions\":4}}}");
    CTL("{\"op\":\"bump\",\"path\":\"" LEASE "\",\"times\":2}");
    elect(&F->ea, &F->a, "pod-a");
    tsrv_run_for(&F->loop, 150);
    assert_int_equal(F->ea.le.conflicts, 1);
    assert_false(k8s_leader_leading(&F->ea.le));
    tsrv_run_until(&F->loop, &F->ea.started, 1, 3000);
    assert_int_equal(F->ea.started, 1);
    assert_int_equal(F->ea.le.conflicts, 2);
    cJSON *lease = object_at(LEASE);
    assert_int_equal(num(lease, "spec", "leaseTransitions"), 5);
    cJSON_Delete(lease);
    /* A create that loses the race (409 AlreadyExists) is not leadership either. */
    F->ea.started = 0;
    k8s_leader_release(&F->ea.le, on_released, &F->ea);
    tsrv_run_until(&F->loop, &F->ea.released, 1, 3000);
    CTL("{\"op\":\"delete_object\",\"path\":\"" LEASE "\"}");
    CTL("{\"op\":\"script\",\"prefix\":\"/apis/coordination.k8s.io/v1/namespaces/default/"
        "leases\",\"method\":\"POST\",\"status\":409,\"body\":\"{\\\"kind\\\":\\\"Status\\\","
        "\\\"reason\\\":\\\"AlreadyExists\\\",\\\"message\\\":\\\"leases.coordination.k8s.io "
        "ebb-autoscaler already exists\\\",\\\"code\\\":409}\"}");
    F->ea.released = 0;
    elect(&F->ea, &F->a, "pod-a");
    tsrv_run_for(&F->loop, 100);
    assert_int_equal(F->ea.le.conflicts, 1);
    assert_false(k8s_leader_leading(&F->ea.le));
    tsrv_run_until(&F->loop, &F->ea.started, 1, 3000);
    assert_int_equal(F->ea.started, 1);
}

static void put_lease_held_by(const char *holder, int n)
{
    CTL("{\"op\":\"put_object\",\"path\":\"" LEASE "\",\"obj\":{\"apiVersion\":"
        "\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"spec\":{\"holderIdentity\":\"%s\","
        "\"leaseDurationSeconds\":1,\"renewTime\":\"2020-01-01T00:00:%02d.000000Z\","
        "\"leaseTransitions\":0}}}",
        holder, n % 60);
}

static void a_lease_kept_renewed_by_another_is_never_stolen(void **state)
{
    /* Another process holds it with a one-second lease and renews it every
     * 0.4 s; its renewTime is years old by our clock: only our own observation
     * of changes counts, so it is never taken. */
    put_lease_held_by("other-pod", 0);
    elect(&F->ea, &F->a, "pod-a");
    for (int i = 1; i <= 8; i++) {
        tsrv_run_for(&F->loop, 400);
        put_lease_held_by("other-pod", i);
    }
    assert_int_equal(F->ea.started, 0);
    assert_true(F->ea.le.tries >= 8);
    assert_string_equal(F->ea.le.seen.holder, "other-pod");
    /* It stops renewing: a lease duration later, it is ours. */
    uint64_t t0 = uv_now(&F->loop);
    tsrv_run_until(&F->loop, &F->ea.started, 1, 3000);
    assert_int_equal(F->ea.started, 1);
    assert_true(uv_now(&F->loop) - t0 >= 900);
    cJSON *lease = object_at(LEASE);
    assert_string_equal(str(lease, "spec", "holderIdentity"), "pod-a");
    assert_int_equal(num(lease, "spec", "leaseTransitions"), 1);
    cJSON_Delete(lease);
}

/* ---------- events ---------- */

static const struct k8s_involved so = {.api_version = "keda.sh/v1alpha1",
                                       .kind = "ScaledObject",
                                       .name = "so",
                                       .namespace = "default",
                                       .uid = "1f2e-uid",
                                       .resource_version = "42"};

static void events_open(void)
{
    assert_int_equal(k8s_events_init(&F->ev, &F->loop, &F->a, NULL), 0);
    F->ev_open = true;
}

/* Runs the loop until no event request is in flight. */
static void events_settle(void)
{
    for (int i = 0; i < 300; i++) {
        bool busy = false;
        for (size_t j = 0; j < K8S_EVENTS_INFLIGHT; j++)
            busy |= F->ev.calls[j].req != NULL;
        if (!busy)
            return;
        tsrv_run_for(&F->loop, 10);
    }
    fail_msg("event requests still in flight");
}

/* The Events stored, as an array (the caller frees it). */
static cJSON *events_stored(void)
{
    cJSON *r = ctl("{\"op\":\"list_objects\",\"prefix\":\"" EVENTS "/\"}");
    cJSON *out = cJSON_CreateArray();
    cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(r, "objects"))
        cJSON_AddItemToArray(out, cJSON_Duplicate(x, true));
    cJSON_Delete(r);
    return out;
}

static void an_event_is_posted_as_the_api_has_it(void **state)
{
    events_open();
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "KEDAScaleTargetActivated",
                                    "Scaled %s %s/%s from %d to %d", "apps/v1.Deployment",
                                    "default", "vllm", 0, 1),
                     0);
    events_settle();
    cJSON *w = records(EVENTS);
    assert_int_equal(cJSON_GetArraySize(w), 1);
    cJSON *rec = cJSON_GetArrayItem(w, 0);
    assert_string_equal(str(rec, "method", NULL), "POST");
    assert_string_equal(str(rec, "path", NULL), EVENTS);
    cJSON_Delete(w);
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 1);
    cJSON *e = cJSON_GetArrayItem(all, 0);
    assert_string_equal(str(e, "kind", NULL), "Event");
    assert_true(strncmp(str(e, "metadata", "name"), "so.", 3) == 0);
    assert_string_equal(str(e, "metadata", "namespace"), "default");
    cJSON *io = cJSON_GetObjectItem(e, "involvedObject");
    assert_string_equal(str(io, "apiVersion", NULL), "keda.sh/v1alpha1");
    assert_string_equal(str(io, "kind", NULL), "ScaledObject");
    assert_string_equal(str(io, "name", NULL), "so");
    assert_string_equal(str(io, "namespace", NULL), "default");
    assert_string_equal(str(io, "uid", NULL), "1f2e-uid");
    assert_string_equal(str(io, "resourceVersion", NULL), "42");
    assert_string_equal(str(e, "reason", NULL), "KEDAScaleTargetActivated");
    assert_string_equal(str(e, "message", NULL),
                        "Scaled apps/v1.Deployment default/vllm from 0 to 1");
    assert_string_equal(str(e, "type", NULL), "Normal");
    assert_string_equal(str(e, "source", "component"), "ebb-autoscaler");
    assert_int_equal(num(e, "count", NULL), 1);
    const char *first = str(e, "firstTimestamp", NULL);
    assert_int_equal(strlen(first), 20); /* "2026-11-28T03:30:00Z" */
    assert_int_equal(first[19], 'Z');
    assert_string_equal(str(e, "lastTimestamp", NULL), first);
    cJSON_Delete(all);

    /* A long message is cut at K8S_EVENT_MESSAGE_MAX bytes, not inside a
     * UTF-8 sequence. */
    char long_msg[K8S_EVENT_MESSAGE_MAX + 8];
    memset(long_msg, 'a', K8S_EVENT_MESSAGE_MAX - 1);
    snprintf(long_msg + K8S_EVENT_MESSAGE_MAX - 1, 8, "\xc3\xa9tc");
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "Long", "%s", long_msg), 0);
    events_settle();
    all = events_stored();
    cJSON *x;
    bool found = false;
    cJSON_ArrayForEach(x, all)
    {
        if (strcmp(str(x, "reason", NULL), "Long") == 0) {
            found = true;
            assert_int_equal(strlen(str(x, "message", NULL)), K8S_EVENT_MESSAGE_MAX - 1);
        }
    }
    assert_true(found);
    cJSON_Delete(all);
    /* What is refused before anything is sent. */
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Info", "X", "m"), -EINVAL);
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "", "m"), -EINVAL);
    struct k8s_involved nameless = so;
    nameless.name = NULL;
    assert_int_equal(k8s_event_emit(&F->ev, &nameless, "Normal", "X", "m"), -EINVAL);
}

static void a_repeat_is_counted_a_new_reason_is_a_new_event(void **state)
{
    events_open();
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Warning", "KEDAScalerFailed", "boom"), 0);
    events_settle();
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Warning", "KEDAScalerFailed", "boom"), 0);
    events_settle();
    cJSON *w = records(EVENTS);
    assert_int_equal(cJSON_GetArraySize(w), 2);
    cJSON *patch = cJSON_GetArrayItem(w, 1);
    assert_string_equal(str(patch, "method", NULL), "PATCH");
    assert_string_equal(str(patch, "content_type", NULL), "application/merge-patch+json");
    cJSON *body = cJSON_Parse(str(patch, "body", NULL));
    assert_int_equal(num(body, "count", NULL), 2);
    assert_int_equal(strlen(str(body, "lastTimestamp", NULL)), 20);
    cJSON_Delete(body);
    cJSON_Delete(w);
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 1);
    assert_int_equal(num(cJSON_GetArrayItem(all, 0), "count", NULL), 2);
    cJSON_Delete(all);
    /* Another reason, another message, another type: new Events. */
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "KEDAScaleTargetDeactivated", "boom"),
                     0);
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Warning", "KEDAScalerFailed", "bang"), 0);
    events_settle();
    all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 3);
    cJSON_Delete(all);
    /* Repeats while the POST is in flight: one PATCH carries them all. */
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "ScaledObjectReady", "ready"), 0);
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "ScaledObjectReady", "ready"), 0);
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "ScaledObjectReady", "ready"), 0);
    events_settle();
    assert_int_equal(F->ev.created, 4);
    assert_int_equal(F->ev.patched, 2);
    all = events_stored();
    cJSON *x;
    bool found = false;
    cJSON_ArrayForEach(x, all)
    {
        if (strcmp(str(x, "reason", NULL), "ScaledObjectReady") == 0) {
            found = true;
            assert_int_equal(num(x, "count", NULL), 3);
        }
    }
    assert_true(found);
    cJSON_Delete(all);
}

static void a_flapping_object_is_rate_limited(void **state)
{
    events_open();
    int sent = 0, limited = 0;
    for (int i = 0; i < 100; i++) {
        int rc =
            k8s_event_emit(&F->ev, &so, "Normal", "KEDAScaleTargetActivated", "flap %d", i % 3);
        if (rc == 0)
            sent++;
        else if (rc == -EBUSY)
            limited++;
        events_settle(); /* one request per emit: none is folded into another */
    }
    assert_int_equal(sent, 25);
    assert_int_equal(limited, 75);
    assert_int_equal(F->ev.limited, 75);
    cJSON *w = records(EVENTS);
    assert_int_equal(cJSON_GetArraySize(w), 25); /* 3 POSTs, 22 PATCHes */
    cJSON_Delete(w);
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 3);
    int counted = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, all) counted += (int)num(x, "count", NULL);
    assert_int_equal(counted, 25);
    cJSON_Delete(all);
    /* Another object has its own bucket. */
    struct k8s_involved other = so;
    other.name = "so2";
    other.uid = "other-uid";
    assert_int_equal(k8s_event_emit(&F->ev, &other, "Normal", "KEDAScaleTargetActivated", "x"), 0);
    /* The bucket refills: one token per refill period. */
    F->ev.refill_ms = 200;
    tsrv_run_for(&F->loop, 450);
    int ok = 0;
    while (ok < 10 && k8s_event_emit(&F->ev, &so, "Normal", "R", "%d", ok) == 0)
        ok++;
    assert_true(ok >= 2 && ok <= 3); /* 2.25 tokens, 3 if the loop ran late */
    events_settle();
}

static void api_errors_are_dropped_not_retried(void **state)
{
    events_open();
    CTL("{\"op\":\"script\",\"prefix\":\"" EVENTS "\",\"status\":500,\"body\":\"{}\"}");
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Warning", "KEDAScalerFailed", "one"), 0);
    events_settle();
    assert_int_equal(F->ev.failed, 1);
    /* Forgotten: the same again is a new POST, not a PATCH of nothing. */
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Warning", "KEDAScalerFailed", "one"), 0);
    events_settle();
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 1);
    assert_int_equal(num(cJSON_GetArrayItem(all, 0), "count", NULL), 1);
    cJSON_Delete(all);
    /* An Event deleted by the API's TTL: the PATCH gets 404, dropped. */
    cJSON *stored = events_stored();
    char path[512];
    snprintf(path, sizeof(path), EVENTS "/%s",
             str(cJSON_GetArrayItem(stored, 0), "metadata", "name"));
    cJSON_Delete(stored);
    CTL("{\"op\":\"delete_object\",\"path\":\"%s\"}", path);
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Warning", "KEDAScalerFailed", "one"), 0);
    events_settle();
    assert_int_equal(F->ev.failed, 2);
    /* A wrong token: 401s, counted, nothing retried, nothing crashes. */
    CTL("{\"op\":\"set_token\",\"token\":\"other\"}");
    for (int i = 0; i < 5; i++)
        k8s_event_emit(&F->ev, &so, "Normal", "Unauthorized", "try %d", i);
    events_settle();
    assert_int_equal(F->ev.failed, 7);
    cJSON *r = ctl("{\"op\":\"stats\"}");
    assert_int_equal(num(r, "unauthorized", NULL), 5);
    cJSON_Delete(r);
    /* Closing with requests in flight: they end or are cancelled. */
    CTL("{\"op\":\"set_token\",\"token\":\"" TOKEN "\"}");
    k8s_event_emit(&F->ev, &so, "Normal", "Closing", "bye");
    k8s_events_close(&F->ev, on_events_closed, NULL);
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "Closing", "late"), -ESHUTDOWN);
    tsrv_run_until(&F->loop, &F->ev_closed, 1, 5000);
    assert_int_equal(F->ev_closed, 1);
}

static void closing_waits_a_bounded_time_for_requests_in_flight(void **state)
{
    /* An API server that never answers: close gives up after its grace. */
    tsrv_start(&F->router, &F->loop);
    F->router_open = true;
    tsrv_script(&F->router, 0, NULL);
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", F->router.port);
    k8s_config_release(&F->cfg_b);
    config_for(&F->cfg_b, server);
    assert_int_equal(k8s_events_init(&F->ev, &F->loop, &F->b, "ebb-test"), 0);
    F->ev_open = true;
    assert_int_equal(k8s_event_emit(&F->ev, &so, "Normal", "Hanging", "x"), 0);
    tsrv_run_for(&F->loop, 100);
    uint64_t t0 = uv_now(&F->loop);
    k8s_events_close(&F->ev, on_events_closed, NULL);
    tsrv_run_until(&F->loop, &F->ev_closed, 1, 5000);
    assert_int_equal(F->ev_closed, 1);
    uint64_t waited = uv_now(&F->loop) - t0;
    assert_true(waited >= K8S_EVENTS_CLOSE_MS - 50 && waited < K8S_EVENTS_CLOSE_MS + 1000);
    assert_int_equal(F->router.requests, 1);
}

/* ---------- deletion cost ---------- */

static const char router_metrics[] =
    "# HELP vllm:num_requests_running Number of running requests as seen by the router\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{server=\"http://10.0.0.1:8000\"} 7\n"
    "vllm:num_requests_running{server=\"http://10.0.0.2:8000\"} 0\n"
    "vllm:num_requests_running{server=\"http://10.0.0.5:8000\"} 2\n"
    "vllm:num_requests_running{server=\"http://10.0.0.5:8001\"} 3\n"
    "vllm:num_requests_running{server=\"http://[fd00::9]:8000\"} 4\n"
    "# HELP vllm:num_prefill_requests Number of Prefill Requests\n"
    "# TYPE vllm:num_prefill_requests gauge\n"
    "vllm:num_prefill_requests{server=\"http://10.0.0.1:8000\"} 99\n";

static void the_router_metrics_give_inflight_per_backend(void **state)
{
    struct k8s_backend_load loads[8];
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(k8s_router_load_parse(router_metrics, strlen(router_metrics), loads, 8, &n,
                                           err, sizeof(err)),
                     0);
    assert_int_equal(n, 5);
    assert_string_equal(loads[0].url, "http://10.0.0.1:8000");
    assert_true(loads[0].inflight == 7);
    assert_string_equal(loads[4].url, "http://[fd00::9]:8000");
    /* Bounded, and a body that is not the text format is an error. */
    assert_int_equal(k8s_router_load_parse(router_metrics, strlen(router_metrics), loads, 2, &n,
                                           err, sizeof(err)),
                     -E2BIG);
    assert_string_equal(err, "the router reports more than 2 backends");
    const char bad[] = "vllm:num_requests_running{server=\"x\" 1\n";
    assert_int_equal(k8s_router_load_parse(bad, strlen(bad), loads, 8, &n, err, sizeof(err)),
                     -EINVAL);
    assert_true(strncmp(err, "line 1: ", 8) == 0);
}

/* A pod as the API lists it. */
static cJSON *pod(const char *name, const char *ip, bool ready, const char *cost, bool deleting)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"1\"%s%s%s%s},"
             "\"status\":{\"podIP\":\"%s\",\"conditions\":[{\"type\":\"Ready\","
             "\"status\":\"%s\"}]}}",
             name, cost ? ",\"annotations\":{\"" K8S_DELETION_COST_ANNOTATION "\":\"" : "",
             cost ? cost : "", cost ? "\"}" : "",
             deleting ? ",\"deletionTimestamp\":\"2026-11-28T03:30:00Z\"" : "", ip ? ip : "",
             ready ? "True" : "False");
    cJSON *p = cJSON_Parse(text);
    assert_non_null(p);
    return p;
}

static void deletion_costs_follow_the_rules(void **state)
{
    static const struct {
        const char *rule, *name, *ip;
        bool ready;
        const char *have;
        bool deleting;
        long cost;
        bool change;
    } rows[] = {
        {"busy: its requests in flight", "busy", "10.0.0.1", true, NULL, false, 7, true},
        {"idle: 0", "idle", "10.0.0.2", true, NULL, false, 0, true},
        {"unknown to the router: 0", "unknown", "10.0.0.3", true, NULL, false, 0, true},
        {"not ready: the lowest", "starting", "10.0.0.4", false, NULL, false, -1, true},
        {"no IP yet: the lowest", "pending", NULL, true, NULL, false, -1, true},
        {"two ports on one pod: summed", "two", "10.0.0.5", true, NULL, false, 5, true},
        {"IPv6: the host in brackets", "six", "fd00::9", true, NULL, false, 4, true},
        {"already right: not patched", "same", "10.0.0.1", true, "7", false, 7, false},
        {"stale value: patched", "stale", "10.0.0.1", true, "3", false, 7, true},
    };
    struct k8s_backend_load loads[8];
    size_t nl = 0;
    char err[256];
    assert_int_equal(k8s_router_load_parse(router_metrics, strlen(router_metrics), loads, 8, &nl,
                                           err, sizeof(err)),
                     0);
    cJSON *items = cJSON_CreateArray();
    size_t nrows = sizeof(rows) / sizeof(rows[0]);
    for (size_t i = 0; i < nrows; i++)
        cJSON_AddItemToArray(
            items, pod(rows[i].name, rows[i].ip, rows[i].ready, rows[i].have, rows[i].deleting));
    cJSON_AddItemToArray(items, pod("going", "10.0.0.1", true, NULL, true));
    struct k8s_pod_cost out[16];
    size_t n = 0;
    assert_int_equal(k8s_deletion_cost_plan(items, loads, nl, out, 16, &n), 0);
    assert_int_equal(n, nrows); /* "going" is being deleted: left alone */
    for (size_t i = 0; i < nrows; i++) {
        printf("%s\n", rows[i].rule);
        assert_string_equal(out[i].name, rows[i].name);
        assert_int_equal(out[i].cost, rows[i].cost);
        assert_int_equal(out[i].change, rows[i].change);
    }
    assert_int_equal(k8s_deletion_cost_plan(items, loads, nl, out, 3, &n), -E2BIG);
    cJSON_Delete(items);
}

static char dc_err[1024];
static struct k8s_deletion_cost_stats dc_st;
static int dc_done;

static void on_cost_done(void *ud, const char *err, const struct k8s_deletion_cost_stats *st)
{
    dc_done++;
    snprintf(dc_err, sizeof(dc_err), "%s", err ? err : "");
    dc_st = *st;
}

static struct k8s_backend_load got_loads[16];
static size_t got_n;
static char load_err[512];

static void on_loads(void *ud, const char *err, const struct k8s_backend_load *loads, size_t n)
{
    F->done++;
    snprintf(load_err, sizeof(load_err), "%s", err ? err : "");
    got_n = n;
    if (n)
        memcpy(got_loads, loads, n * sizeof(*loads));
}

static const char *annotation_of(const char *name, char *out, size_t cap)
{
    char path[256];
    snprintf(path, sizeof(path), PODS "/%s", name);
    cJSON *p = object_at(path);
    const cJSON *a =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "metadata"), "annotations"),
                            K8S_DELETION_COST_ANNOTATION);
    snprintf(out, cap, "%s", cJSON_IsString(a) ? a->valuestring : "(none)");
    cJSON_Delete(p);
    return out;
}

static void pods_get_costs_from_the_router(void **state)
{
    tsrv_start(&F->router, &F->loop);
    F->router_open = true;
    tsrv_script(&F->router, 200, router_metrics);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", F->router.port);
    F->done = 0;
    assert_int_equal(k8s_router_load_fetch(&F->f, url, 2000, on_loads, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &F->done, 1, 3000);
    assert_string_equal(load_err, "");
    assert_int_equal(got_n, 5);

    CTL("{\"op\":\"add_pod\",\"name\":\"busy\",\"labels\":{\"app\":\"vllm\"},\"ip\":\"10.0.0.1\"}");
    CTL("{\"op\":\"add_pod\",\"name\":\"idle\",\"labels\":{\"app\":\"vllm\"},\"ip\":\"10.0.0.2\"}");
    CTL("{\"op\":\"add_pod\",\"name\":\"starting\",\"labels\":{\"app\":\"vllm\"},"
        "\"ip\":\"10.0.0.4\",\"ready\":false}");
    CTL("{\"op\":\"add_pod\",\"name\":\"same\",\"labels\":{\"app\":\"vllm\"},\"ip\":\"10.0.0.5\"}");
    CTL("{\"op\":\"add_pod\",\"name\":\"web\",\"labels\":{\"app\":\"web\"},\"ip\":\"10.0.0.7\"}");
    /* "same" already carries its cost. */
    CTL("{\"op\":\"put_object\",\"path\":\"" PODS "/same\",\"obj\":{\"kind\":\"Pod\","
        "\"apiVersion\":\"v1\",\"metadata\":{\"labels\":{\"app\":\"vllm\"},\"annotations\":"
        "{\"" K8S_DELETION_COST_ANNOTATION "\":\"5\"}},\"status\":{\"podIP\":\"10.0.0.5\","
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}}");
    struct k8s_deletion_cost_opts o = {.namespace = "default",
                                       .selector = "app=vllm",
                                       .loads = got_loads,
                                       .nloads = got_n,
                                       .timeout_ms = 3000};
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&F->a, &F->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &dc_done, 1, 4000);
    tsrv_run_for(&F->loop, 50);
    assert_int_equal(dc_done, 1);
    assert_string_equal(dc_err, "");
    assert_int_equal(dc_st.pods, 4);
    assert_int_equal(dc_st.patched, 3);
    assert_int_equal(dc_st.unchanged, 1);
    char a[64];
    assert_string_equal(annotation_of("busy", a, sizeof(a)), "7");
    assert_string_equal(annotation_of("idle", a, sizeof(a)), "0");
    assert_string_equal(annotation_of("starting", a, sizeof(a)), "-1");
    assert_string_equal(annotation_of("same", a, sizeof(a)), "5");
    assert_string_equal(annotation_of("web", a, sizeof(a)), "(none)");
    cJSON *w = records(PODS "/");
    assert_int_equal(cJSON_GetArraySize(w), 3); /* "same" and "web" not PATCHed */
    cJSON *x;
    cJSON_ArrayForEach(x, w)
    {
        assert_string_equal(str(x, "method", NULL), "PATCH");
        assert_string_equal(str(x, "content_type", NULL), "application/merge-patch+json");
        if (strcmp(str(x, "path", NULL), PODS "/busy") == 0)
            assert_string_equal(str(x, "body", NULL),
                                "{\"metadata\":{\"annotations\":{\"controller.kubernetes.io/"
                                "pod-deletion-cost\":\"7\"}}}");
    }
    cJSON_Delete(w);
    /* Again with nothing changed: no PATCH at all. */
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&F->a, &F->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &dc_done, 1, 4000);
    assert_int_equal(dc_done, 1);
    assert_int_equal(dc_st.patched, 0);
    assert_int_equal(dc_st.unchanged, 4);
    w = records(PODS "/");
    assert_int_equal(cJSON_GetArraySize(w), 3);
    cJSON_Delete(w);
}

static void a_failing_round_still_ends_once(void **state)
{
    struct k8s_deletion_cost_opts o = {.namespace = "default", .selector = "app=vllm"};
    /* A list the server refuses. */
    CTL("{\"op\":\"script\",\"prefix\":\"" PODS "\",\"status\":403,\"body\":\"{\\\"kind\\\":"
        "\\\"Status\\\",\\\"reason\\\":\\\"Forbidden\\\",\\\"message\\\":\\\"pods is forbidden\\\","
        "\\\"code\\\":403}\"}");
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&F->a, &F->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &dc_done, 1, 4000);
    tsrv_run_for(&F->loop, 100);
    assert_int_equal(dc_done, 1);
    assert_string_equal(dc_err, "GET " PODS ": HTTP 403: Forbidden: pods is forbidden");
    /* A PATCH that fails: the others still go, done says how many failed. */
    CTL("{\"op\":\"add_pod\",\"name\":\"p1\",\"labels\":{\"app\":\"vllm\"}}");
    CTL("{\"op\":\"add_pod\",\"name\":\"p2\",\"labels\":{\"app\":\"vllm\"}}");
    CTL("{\"op\":\"script\",\"prefix\":\"" PODS "/p1\",\"method\":\"PATCH\",\"status\":500,"
        "\"body\":\"{}\"}");
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&F->a, &F->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &dc_done, 1, 4000);
    tsrv_run_for(&F->loop, 100);
    assert_int_equal(dc_done, 1);
    assert_string_equal(dc_err, "1 of 2 pods not annotated: PATCH " PODS "/p1: HTTP 500: {}");
    assert_int_equal(dc_st.patched, 1);
    /* An API server that never answers: the round's time limit. */
    tsrv_start(&F->router, &F->loop);
    F->router_open = true;
    tsrv_script(&F->router, 0, NULL);
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", F->router.port);
    k8s_config_release(&F->cfg_b);
    config_for(&F->cfg_b, server);
    o.timeout_ms = 300;
    dc_done = 0;
    uint64_t t0 = uv_now(&F->loop);
    assert_int_equal(k8s_deletion_cost_start(&F->b, &F->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &dc_done, 1, 4000);
    tsrv_run_for(&F->loop, 100);
    assert_int_equal(dc_done, 1);
    assert_true(uv_now(&F->loop) - t0 < 1000);
    assert_string_equal(dc_err, "timed out after 0.3 s (0 of 0 pods annotated)");
    /* Refused before anything is sent: done does not run. */
    o.selector = "";
    assert_int_equal(k8s_deletion_cost_start(&F->a, &F->loop, &o, on_cost_done, NULL, NULL),
                     -EINVAL);
    /* Cancelled: done does not run. */
    struct k8s_deletion_cost *d;
    o.selector = "app=vllm";
    o.timeout_ms = 0;
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&F->a, &F->loop, &o, on_cost_done, NULL, &d), 0);
    k8s_deletion_cost_cancel(d);
    tsrv_run_for(&F->loop, 200);
    assert_int_equal(dc_done, 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(lease_config_is_checked),
        T(two_electors_exactly_one_leads),
        T(a_released_lease_is_taken_over_at_once),
        T(a_leader_that_cannot_renew_stops_before_the_other_starts),
        T(the_elector_may_be_released_from_its_callbacks),
        T(a_conflict_on_acquire_is_not_leadership),
        T(a_lease_kept_renewed_by_another_is_never_stolen),
        T(an_event_is_posted_as_the_api_has_it),
        T(a_repeat_is_counted_a_new_reason_is_a_new_event),
        T(a_flapping_object_is_rate_limited),
        T(api_errors_are_dropped_not_retried),
        T(closing_waits_a_bounded_time_for_requests_in_flight),
        T(the_router_metrics_give_inflight_per_backend),
        T(deletion_costs_follow_the_rules),
        T(pods_get_costs_from_the_router),
        T(a_failing_round_still_ends_once),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
