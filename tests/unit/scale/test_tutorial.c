/* The tutorial's two ScaledObjects (threshold 5, min 0 or 1, max 2, polling
 * 15 s, cooldown 360 s; the dual trigger for scale to zero) driven through
 * KEDA's scale loop and the HPA together, time stepping 15 s at a time as
 * both loops would. The target follows every write at once (pods start
 * instantly), so what is checked is the decisions alone. */
#include "scale_test.h"

#include "scale/keda.h"
#include "scale/kubectl.h"

struct phase {
    double until;     /* this phase lasts while t < until */
    double waiting;   /* vllm:num_requests_waiting, summed */
    double keepalive; /* sum(rate(vllm:num_incoming_requests_total[1m]) > bool 0) */
};

struct checkpoint {
    double t;
    int32_t replicas;    /* after both loops ran at t */
    const char *targets; /* `kubectl get hpa` TARGETS, NULL: not checked */
    const char *note;    /* what the spec says happens here */
};

struct world {
    struct so_spec so;
    struct hpa_spec h;
    struct keda_state keda;
    struct hpa_state hpa;
    int32_t replicas;
};

static void world_init(struct world *w, const struct so_desc *d, int32_t replicas)
{
    so_build(d, &w->so, NULL);
    snprintf(w->so.name, sizeof(w->so.name), "vllm-scaledobject");
    snprintf(w->so.target_name, sizeof(w->so.target_name), "vllm-llama3-deployment-vllm");
    struct so_issue issues[8];
    size_t n;
    assert_int_equal(so_spec_validate(&w->so, issues, ARRAY_LEN(issues), &n), 0);
    assert_int_equal(hpa_spec_from_so(&w->so, &w->h), 0);
    keda_state_init(&w->keda, 0);
    hpa_state_init(&w->hpa);
    w->replicas = replicas;
}

/* One tick at t: the KEDA poll, then the HPA sync (both every 15 s). */
static void world_tick(struct world *w, double t, const struct phase *p)
{
    struct keda_sample samples[2] = {{true, p->waiting}, {true, p->keepalive}};
    struct keda_input in = {t, w->replicas, w->replicas, samples};
    struct keda_decision d;
    assert_int_equal(keda_poll(&w->so, NULL, &w->keda, &in, &d), 0);
    if (d.action == KEDA_SCALE)
        w->replicas = d.replicas;
    keda_commit(&w->keda, &d, true, t);
    if (!so_hpa_enabled(&w->so))
        return;
    struct hpa_sample metrics[HPA_METRICS_MAX];
    size_t n;
    in.current = in.ready_pods = w->replicas;
    assert_int_equal(keda_hpa_metrics(&w->so, NULL, &w->keda, &in, metrics, HPA_METRICS_MAX, &n),
                     0);
    assert_int_equal(n, w->h.n_metrics);
    struct hpa_input hin = {t, w->replicas, w->replicas, w->replicas, w->replicas, metrics};
    struct hpa_decision hd;
    assert_int_equal(hpa_sync(&w->h, &w->hpa, &hin, &hd), 0);
    if (hd.rescale) {
        hpa_scaled(&w->h, &w->hpa, w->replicas, hd.replicas, t);
        w->replicas = hd.replicas;
    }
}

static void run_script(const struct so_desc *d, int32_t start, const struct phase *phases,
                       const struct checkpoint *checks, size_t n_checks, double end)
{
    struct world w;
    size_t next = 0, ph = 0;
    world_init(&w, d, start);
    for (double t = 0; t <= end; t += HPA_SYNC_PERIOD_S) {
        while (t >= phases[ph].until)
            ph++;
        world_tick(&w, t, &phases[ph]);
        assert_true(w.replicas >= 0 && w.replicas <= w.h.max_replicas);
        if (next < n_checks && checks[next].t == t) {
            const struct checkpoint *c = &checks[next++];
            if (w.replicas != c->replicas)
                fail_msg("t=%g (%s): replicas %d, want %d", t, c->note, w.replicas, c->replicas);
            char targets[KUBECTL_TARGETS_MAX];
            assert_true(kubectl_hpa_targets(&w.h, &w.hpa.status, targets, sizeof(targets)) > 0);
            if (c->targets && strcmp(targets, c->targets) != 0)
                fail_msg("t=%g (%s): TARGETS %s, want %s", t, c->note, targets, c->targets);
        }
    }
    assert_int_equal(next, n_checks);
}

/* The second ScaledObject: minReplicaCount 0 and the keepalive trigger. */
static void scale_to_zero_and_back(void **state)
{
    const struct so_desc d = {MINREP(0), MAXREP(2), POLLING(15), COOLDOWN(360), DUAL};
    static const struct phase phases[] = {
        {75, 0, 0},   /* deployed, nothing happens */
        {90, 0, 1},   /* a request reaches the router at zero: keepalive only */
        {300, 12, 1}, /* the load script: 12 waiting, traffic */
        {360, 0, 1},  /* queue drained; the 1m rate still sees traffic */
        {900, 0, 0},  /* idle */
        {1e9, 0, 1},  /* a request at zero */
    };
    static const struct checkpoint checks[] = {
        {0, 1, "0/5 (avg), 0/1 (avg)",
         "created at 1 replica; initialCooldownPeriod 0 has not passed (strictly)"},
        {15, 0, "<unknown>/5 (avg), <unknown>/1 (avg)",
         "never active: KEDA scales 1 -> 0; the HPA is disabled at 0"},
        {60, 0, NULL, "inactive at zero: nothing to do"},
        {75, 1, "0/5 (avg), 1/1 (avg)", "keepalive > 0 activates: KEDA scales 0 -> 1"},
        {90, 2, NULL, "12 waiting: the HPA proposes ceil(12/5) = 3, capped at max 2"},
        {105, 2, "6/5 (avg), 500m/1 (avg)", "at max: 12000m over 2 pods shows 6/5 (avg)"},
        {300, 2, "0/5 (avg), 500m/1 (avg)",
         "queue drained: the HPA holds 2 by the 5-minute stabilization"},
        {585, 2, NULL, "the recommendation of 3 at t=285 is still in the window"},
        {600, 1, NULL, "it left the window: the HPA scales 2 -> 1"},
        {705, 1, NULL, "last active at 345 + cooldown 360 = 705: not yet (strict)"},
        {720, 0, NULL, "cooldown passed: KEDA scales 1 -> 0"},
        {885, 0, NULL, "idle at zero"},
        {900, 1, NULL, "a request at zero: KEDA scales 0 -> 1 at the next poll"},
    };
    run_script(&d, 1, phases, checks, ARRAY_LEN(checks), 900);
}

/* The first ScaledObject: minReplicaCount 1, one trigger. */
static void one_to_two_and_back(void **state)
{
    const struct so_desc d = {MINREP(1), MAXREP(2), POLLING(15), COOLDOWN(360), ONE(5)};
    static const struct phase phases[] = {
        {15, 0, 0},
        {300, 12, 0},
        {1e9, 0, 0},
    };
    static const struct checkpoint checks[] = {
        {0, 1, "0/5 (avg)", "the tutorial's first line: 0/5 (avg), MINPODS 1, MAXPODS 2, 1"},
        {15, 2, NULL, "the load: 1 -> 2 (3 wanted, max 2)"},
        {30, 2, "6/5 (avg)", "at max"},
        {585, 2, NULL, "stabilization holds 2 for 300 s after the last high recommendation"},
        {600, 1, "0/5 (avg)", "back to 1 by the stabilization rules"},
        {1800, 1, NULL, "min 1: KEDA never scales to zero"},
    };
    run_script(&d, 1, phases, checks, ARRAY_LEN(checks), 1800);
}

/* Prometheus stops answering: no scale to zero on errors; fallback applies
 * after failureThreshold; scaling recovers when it returns. */
static void prometheus_outage(void **state)
{
    const struct so_desc d = {MINREP(0), MAXREP(4), COOLDOWN(60), ONE(5),
                              FALLBACK(2, 3, SO_FALLBACK_STATIC)};
    struct world w;
    world_init(&w, &d, 1);
    const struct phase ok = {0, 5, 0};
    world_tick(&w, 0, &ok); /* active, 1 replica */
    assert_int_equal(w.replicas, 1);
    /* The outage: the poll and the HPA each count a failure per tick. */
    for (double t = 15; t <= 30; t += 15) {
        struct keda_sample fail = {false, 0};
        struct keda_input in = {t, w.replicas, w.replicas, &fail};
        struct keda_decision kd;
        assert_int_equal(keda_poll(&w.so, NULL, &w.keda, &in, &kd), 0);
        assert_true(kd.error || kd.fallback);
        assert_int_equal(kd.action, KEDA_KEEP); /* never to zero on errors */
        keda_commit(&w.keda, &kd, true, t);
        struct hpa_sample m[1];
        size_t n;
        assert_int_equal(keda_hpa_metrics(&w.so, NULL, &w.keda, &in, m, 1, &n), 0);
        struct hpa_input hin = {t, w.replicas, w.replicas, w.replicas, w.replicas, m};
        struct hpa_decision hd;
        assert_int_equal(hpa_sync(&w.h, &w.hpa, &hin, &hd), 0);
        if (hd.rescale) {
            hpa_scaled(&w.h, &w.hpa, w.replicas, hd.replicas, t);
            w.replicas = hd.replicas;
        }
    }
    /* 4 failures > failureThreshold 2: the HPA got 3 * 5 and went to 3. */
    assert_int_equal(w.replicas, 3);
    /* Prometheus is back with an idle queue: KEDA's cooldown from the last
     * active poll (the fallback's, at t=30), the HPA's stabilization. */
    const struct phase idle = {0, 0, 0};
    for (double t = 45; t <= 90; t += 15)
        world_tick(&w, t, &idle);
    assert_int_equal(w.replicas, 3); /* t=90: 30 + 60 < 90 is false */
    world_tick(&w, 105, &idle);
    assert_int_equal(w.replicas, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        {"tutorial: scale to zero with the dual trigger, and back from zero",
         scale_to_zero_and_back, NULL, NULL, NULL},
        {"tutorial: 1 -> 2 under load, back to 1 by stabilization, never 0", one_to_two_and_back,
         NULL, NULL, NULL},
        {"tutorial: a Prometheus outage: no scale to zero, fallback, recovery", prometheus_outage,
         NULL, NULL, NULL},
    };
    return cmocka_run_group_tests_name("tutorial", tests, NULL, NULL);
}
