/* k8s/lease against fake_apiserver.py (k8s_fixture.h): two electors on one
 * loop with short durations (lease 2 s, renew deadline 1 s, retry 0.2 s),
 * each with its own client so that one's token can be cut: one leads; a
 * release hands over at once; a leader that cannot renew stops before the
 * other starts; a conflict is not leadership; a lease kept renewed by
 * another is never stolen. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/lease.h"
#include "k8s_fixture.h"

#define LEASE "/apis/coordination.k8s.io/v1/namespaces/default/leases/ebb-autoscaler"

/* One elector and what its callbacks saw. */
struct elector {
    struct k8s_leader le;
    bool open;
    int started, stopped, released;
    uint64_t started_ms, stopped_ms;
    bool release_in_started, release_in_stopped; /* k8s_leader_release from the callbacks */
};

static struct elector ea, eb;

static void on_released(void *ud)
{
    struct elector *e = ud;
    e->released++;
}

static int setup(void **state)
{
    kfx_open();
    memset(&ea, 0, sizeof(ea));
    memset(&eb, 0, sizeof(eb));
    return 0;
}

static int teardown(void **state)
{
    struct elector *es[] = {&ea, &eb};
    for (int i = 0; i < 2; i++) {
        if (!es[i]->open)
            continue;
        if (!es[i]->released)
            k8s_leader_release(&es[i]->le, on_released, es[i]);
        tsrv_run_until(&K->loop, &es[i]->released, 1, 5000);
        assert_int_equal(es[i]->released, 1);
    }
    kfx_close();
    return 0;
}

/* ---------- leader election ---------- */

static void on_started(void *ud)
{
    struct elector *e = ud;
    e->started++;
    e->started_ms = uv_now(&K->loop);
    if (e->release_in_started)
        k8s_leader_release(&e->le, on_released, e);
}

static void on_stopped(void *ud)
{
    struct elector *e = ud;
    e->stopped++;
    e->stopped_ms = uv_now(&K->loop);
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
        k8s_leader_start(&e->le, &K->loop, c, &cfg, on_started, on_stopped, e, err, sizeof(err)),
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
        assert_int_equal(k8s_leader_start(&le, &K->loop, &K->a, &rows[i].cfg, NULL, NULL, NULL, err,
                                          sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, rows[i].err);
    }
    /* The default identity: $POD_NAME when set. */
    setenv("POD_NAME", "ebb-autoscaler-7d9f-x2x", 1);
    elect(&ea, &K->a, NULL);
    unsetenv("POD_NAME");
    assert_string_equal(ea.le.identity, "ebb-autoscaler-7d9f-x2x");
    assert_int_equal(ea.le.lease_ms, 2000);
}

/* The record as read from a Lease's spec: numbers are int32s, not negative
 * (fuzz: corpus/k8s_answers/repro-lease-number-range). */
static void the_lease_record_is_read_within_its_ranges(void **state)
{
    static const struct {
        const char *rule, *spec;
        const char *holder;
        long duration_s, transitions;
    } rows[] = {
        {"a held lease", "{\"holderIdentity\":\"b\",\"leaseDurationSeconds\":15,"
                         "\"leaseTransitions\":3}", "b", 15, 3},
        {"absent fields read as empty", "{}", "", 0, 0},
        {"a fraction is cut", "{\"leaseDurationSeconds\":2.9}", "", 2, 0},
        {"past int32: INT32_MAX", "{\"leaseDurationSeconds\":1e300,\"leaseTransitions\":3e9}",
         "", INT32_MAX, INT32_MAX},
        {"negative: 0", "{\"leaseDurationSeconds\":-5,\"leaseTransitions\":-1e300}", "", 0, 0},
        {"not a number: 0", "{\"leaseDurationSeconds\":\"15\",\"holderIdentity\":7}", "", 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        printf("%s\n", rows[i].rule);
        cJSON *spec = cJSON_Parse(rows[i].spec);
        assert_non_null(spec);
        struct k8s_lease_seen s = {.hash = 7, .changed_ms = 9};
        k8s_lease_record_read(&s, spec);
        cJSON_Delete(spec);
        assert_string_equal(s.holder, rows[i].holder);
        assert_int_equal(s.duration_s, rows[i].duration_s);
        assert_int_equal(s.transitions, rows[i].transitions);
        assert_true(s.hash == 7 && s.changed_ms == 9);
    }
}

static void two_electors_exactly_one_leads(void **state)
{
    elect(&ea, &K->a, "pod-a");
    elect(&eb, &K->b, "pod-b");
    tsrv_run_for(&K->loop, 300);
    assert_int_equal(ea.started + eb.started, 1);
    /* Long past a lease duration: the leader renews, the other waits. */
    tsrv_run_for(&K->loop, 2500);
    assert_int_equal(ea.started + eb.started, 1);
    assert_int_equal(ea.stopped + eb.stopped, 0);
    assert_true(k8s_leader_leading(&ea.le) != k8s_leader_leading(&eb.le));
    struct elector *leader = k8s_leader_leading(&ea.le) ? &ea : &eb;
    assert_true(leader->le.writes >= 10); /* renewed every 0.2 s */
    cJSON *lease = kfx_object_at(LEASE);
    assert_non_null(lease);
    assert_string_equal(kfx_str(lease, "spec", "holderIdentity"), leader->le.identity);
    assert_int_equal(kfx_num(lease, "spec", "leaseDurationSeconds"), 2);
    assert_int_equal(kfx_num(lease, "spec", "leaseTransitions"), 0);
    /* MicroTime: "2026-11-28T03:30:00.000000Z" */
    const char *renew = kfx_str(lease, "spec", "renewTime");
    assert_int_equal(strlen(renew), 27);
    assert_int_equal(renew[19], '.');
    assert_int_equal(renew[26], 'Z');
    cJSON_Delete(lease);
    /* The lease was created once (the other's POST, if any, got 409). */
    cJSON *w = kfx_records("/apis/coordination.k8s.io/v1/namespaces/default/leases");
    int posts = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, w) posts += strcmp(kfx_str(x, "method", NULL), "POST") == 0;
    assert_true(posts >= 1 && posts <= 2);
    cJSON_Delete(w);
}

static void a_released_lease_is_taken_over_at_once(void **state)
{
    elect(&ea, &K->a, "pod-a");
    tsrv_run_until(&K->loop, &ea.started, 1, 3000);
    assert_int_equal(ea.started, 1);
    elect(&eb, &K->b, "pod-b");
    tsrv_run_for(&K->loop, 500);
    assert_int_equal(eb.started, 0);
    k8s_leader_release(&ea.le, on_released, &ea);
    assert_false(k8s_leader_leading(&ea.le));
    uint64_t t0 = uv_now(&K->loop);
    tsrv_run_until(&K->loop, &ea.released, 1, 3000);
    assert_int_equal(ea.released, 1);
    assert_int_equal(ea.stopped, 0); /* a release is not a loss */
    tsrv_run_until(&K->loop, &eb.started, 1, 3000);
    assert_int_equal(eb.started, 1);
    /* At once: within a couple of retry periods, not after the 2 s lease. */
    assert_true(uv_now(&K->loop) - t0 < 1000);
    /* The release wrote no holder and a one-second lease. */
    cJSON *w = kfx_records(LEASE);
    bool released = false;
    cJSON *x;
    cJSON_ArrayForEach(x, w)
    {
        cJSON *b = cJSON_Parse(kfx_str(x, "body", NULL));
        if (strcmp(kfx_str(x, "method", NULL), "PUT") == 0 &&
            strcmp(kfx_str(b, "spec", "holderIdentity"), "") == 0) {
            released = true;
            assert_int_equal(kfx_num(b, "spec", "leaseDurationSeconds"), 1);
        }
        cJSON_Delete(b);
    }
    assert_true(released);
    cJSON_Delete(w);
    cJSON *lease = kfx_object_at(LEASE);
    assert_string_equal(kfx_str(lease, "spec", "holderIdentity"), "pod-b");
    assert_int_equal(kfx_num(lease, "spec", "leaseTransitions"), 1);
    cJSON_Delete(lease);
}

static void a_leader_that_cannot_renew_stops_before_the_other_starts(void **state)
{
    elect(&ea, &K->a, "pod-a");
    tsrv_run_until(&K->loop, &ea.started, 1, 3000);
    elect(&eb, &K->b, "pod-b");
    tsrv_run_for(&K->loop, 400);
    /* The server takes a new token that only B has: A's renewals get 401. */
    free(K->cfg_b.token);
    K->cfg_b.token = strdup("rotated");
    CTL("{\"op\":\"set_token\",\"token\":\"rotated\"}");
    uint64_t cut = uv_now(&K->loop);
    tsrv_run_until(&K->loop, &ea.stopped, 1, 3000);
    assert_int_equal(ea.stopped, 1);
    assert_false(k8s_leader_leading(&ea.le));
    /* Within the renew deadline of the last renewal (at most a retry
     * period before the cut), give or take the loop. */
    assert_true(ea.stopped_ms - cut <= 1000 + 150);
    assert_true(ea.le.failures >= 2);
    tsrv_run_until(&K->loop, &eb.started, 1, 4000);
    assert_int_equal(eb.started, 1);
    /* B waited for the lease to expire on its own clock, and never led
     * while A still did. */
    assert_true(eb.started_ms > ea.stopped_ms);
    assert_true(eb.started_ms - cut >= 2000 - 250);
    tsrv_run_for(&K->loop, 500);
    assert_int_equal(ea.started, 1); /* nothing more is tried after a loss */
}

static void the_elector_may_be_released_from_its_callbacks(void **state)
{
    /* From on_started: it gives the lease straight back. */
    ea.release_in_started = true;
    elect(&ea, &K->a, "pod-a");
    tsrv_run_until(&K->loop, &ea.released, 1, 3000);
    assert_int_equal(ea.started, 1);
    assert_int_equal(ea.released, 1);
    cJSON *lease = kfx_object_at(LEASE);
    assert_string_equal(kfx_str(lease, "spec", "holderIdentity"), "");
    cJSON_Delete(lease);
    /* From on_stopped: a leader whose renewals fail. */
    eb.release_in_stopped = true;
    elect(&eb, &K->b, "pod-b");
    tsrv_run_until(&K->loop, &eb.started, 1, 3000);
    assert_int_equal(eb.started, 1);
    CTL("{\"op\":\"set_token\",\"token\":\"rotated\"}");
    tsrv_run_until(&K->loop, &eb.released, 1, 3000);
    assert_int_equal(eb.stopped, 1);
    assert_int_equal(eb.released, 1);
}

static void a_conflict_on_acquire_is_not_leadership(void **state)
{
    /* A released lease (no holder): the elector goes straight to the PUT,
     * but someone else writes in between, twice: 409, 409, then it wins. */
    CTL("{\"op\":\"put_object\",\"path\":\"" LEASE "\",\"obj\":{\"apiVersion\":"
        "\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"spec\":{\"holderIdentity\":\"\","
        "\"leaseDurationSeconds\":1,\"leaseTransitions\":4}}}");
    CTL("{\"op\":\"bump\",\"path\":\"" LEASE "\",\"times\":2}");
    elect(&ea, &K->a, "pod-a");
    tsrv_run_for(&K->loop, 150);
    assert_int_equal(ea.le.conflicts, 1);
    assert_false(k8s_leader_leading(&ea.le));
    tsrv_run_until(&K->loop, &ea.started, 1, 3000);
    assert_int_equal(ea.started, 1);
    assert_int_equal(ea.le.conflicts, 2);
    cJSON *lease = kfx_object_at(LEASE);
    assert_int_equal(kfx_num(lease, "spec", "leaseTransitions"), 5);
    cJSON_Delete(lease);
    /* A create that loses the race (409 AlreadyExists) is not leadership either. */
    ea.started = 0;
    k8s_leader_release(&ea.le, on_released, &ea);
    tsrv_run_until(&K->loop, &ea.released, 1, 3000);
    CTL("{\"op\":\"delete_object\",\"path\":\"" LEASE "\"}");
    CTL("{\"op\":\"script\",\"prefix\":\"/apis/coordination.k8s.io/v1/namespaces/default/"
        "leases\",\"method\":\"POST\",\"status\":409,\"body\":\"{\\\"kind\\\":\\\"Status\\\","
        "\\\"reason\\\":\\\"AlreadyExists\\\",\\\"message\\\":\\\"leases.coordination.k8s.io "
        "ebb-autoscaler already exists\\\",\\\"code\\\":409}\"}");
    ea.released = 0;
    elect(&ea, &K->a, "pod-a");
    tsrv_run_for(&K->loop, 100);
    assert_int_equal(ea.le.conflicts, 1);
    assert_false(k8s_leader_leading(&ea.le));
    tsrv_run_until(&K->loop, &ea.started, 1, 3000);
    assert_int_equal(ea.started, 1);
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
    elect(&ea, &K->a, "pod-a");
    for (int i = 1; i <= 8; i++) {
        tsrv_run_for(&K->loop, 400);
        put_lease_held_by("other-pod", i);
    }
    assert_int_equal(ea.started, 0);
    assert_true(ea.le.tries >= 8);
    assert_string_equal(ea.le.seen.holder, "other-pod");
    /* It stops renewing: a lease duration later, it is ours. */
    uint64_t t0 = uv_now(&K->loop);
    tsrv_run_until(&K->loop, &ea.started, 1, 3000);
    assert_int_equal(ea.started, 1);
    assert_true(uv_now(&K->loop) - t0 >= 900);
    cJSON *lease = kfx_object_at(LEASE);
    assert_string_equal(kfx_str(lease, "spec", "holderIdentity"), "pod-a");
    assert_int_equal(kfx_num(lease, "spec", "leaseTransitions"), 1);
    cJSON_Delete(lease);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(lease_config_is_checked),
        T(the_lease_record_is_read_within_its_ranges),
        T(two_electors_exactly_one_leads),
        T(a_released_lease_is_taken_over_at_once),
        T(a_leader_that_cannot_renew_stops_before_the_other_starts),
        T(the_elector_may_be_released_from_its_callbacks),
        T(a_conflict_on_acquire_is_not_leadership),
        T(a_lease_kept_renewed_by_another_is_never_stolen),
    };
    return cmocka_run_group_tests(tests, kfx_group_setup, kfx_group_teardown);
}
