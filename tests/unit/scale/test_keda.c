/* keda: the KEDA operator's decisions, one row per rule of spec §3.4-§4 (and
 * §10's keda_poll, with_fallback, keda_metric_for_hpa). Each row is a short
 * script of polls; between polls the target keeps what KEDA wrote. */
#include "scale_test.h"

#include "scale/keda.h"

enum { ANY, YES, NO };
#define SET(current_, ready_) .set = true, .current = (current_), .ready = (ready_)
#define HPA_OK(milli) .hpa = YES, .hpa_milli = (milli)

struct kstep {
    double t;
    double v[4];        /* trigger values; FAIL: the query failed */
    int32_t want;       /* the target's replicas after the step */
    const char *reason; /* the decision's reason, NULL: not checked */
    int active;         /* isActive */
    bool set;           /* the target has current/ready replicas before the step */
    int32_t current, ready;
    bool write_fails; /* KEDA's write to the target fails */
    int touched;      /* lastActiveTime was set to t */
    bool hpa_only;    /* only the HPA reads metrics at this step */
    int hpa;          /* YES/NO: read the HPA's metric 0 after the poll; it must be ok/fail */
    int64_t hpa_milli;
    int fallback; /* the Fallback condition */
};

struct krow {
    const char *name;
    struct so_desc so;
    int32_t start;  /* the target's replicas before the first step */
    double created; /* the ScaledObject's creation time */
    struct kstep steps[8];
};

#define ACT(th, act) .n = 1, .t = {{"t", (th), (act), SO_AVERAGE_VALUE, NULL}}
#define VALUE(th) .n = 1, .t = {{"t", (th), 0, SO_VALUE, NULL}}

/* clang-format off: a table reads best one rule per row */
static const struct krow rows[] = {
    /* §3.5 activation */
    {"keda: a value above activationThreshold is active",
     {MINREP(0), ACT(5, 2)},
     0,
     0,
     {{0, {3}, 1, "ScaleFromZero", YES}, END}},
    {"keda: a value equal to activationThreshold is not active",
     {MINREP(0), ACT(5, 2)},
     0,
     0,
     {{0, {2}, 0, "NoChange", NO}, END}},
    {"keda: activation compares the raw value, before rounding to thousandths",
     {MINREP(0), ONE(5)},
     0,
     0,
     {{0, {0.0004}, 1, "ScaleFromZero", YES, HPA_OK(0)}, END}},
    {"keda: zero, negative and null (-1) values are inactive",
     {MINREP(0), ONE(5)},
     0,
     0,
     {{0, {0}, 0, .active = NO}, {15, {-3}, 0, .active = NO}, {30, {-1}, 0, .active = NO}, END}},
    /* §3.4 the metric the HPA gets */
    {"keda: the HPA metric is the value rounded as %.3f rounds its binary value",
     {MINREP(1), ONE(5)},
     1,
     0,
     {{0, {2.0015}, 1, HPA_OK(2002)}, {15, {1.0005}, 1, HPA_OK(1000)}, END}},
    {"keda: a negative value reaches the HPA as 0",
     {MINREP(1), ONE(5)},
     1,
     0,
     {{0, {-3}, 1, HPA_OK(0)}, END}},
    /* §4.5 several triggers */
    {"keda: active when any trigger is active",
     {MINREP(0), DUAL},
     0,
     0,
     {{0, {0, 1}, 1, "ScaleFromZero", YES}, END}},
    {"keda: inactive when every trigger is inactive",
     {MINREP(0), DUAL},
     1,
     0,
     {{1, {0, 0}, 0, "ScaleToZero", NO}, END}},
    {"keda: a failing trigger is never active and blocks scale to zero",
     {MINREP(0), DUAL},
     1,
     0,
     {{1000, {FAIL, 0}, 1, "TriggerError", NO}, END}},
    {"keda: another trigger's activity still scales from zero despite an error",
     {MINREP(0), DUAL},
     0,
     0,
     {{0, {FAIL, 1}, 1, "ScaleFromZero", YES}, END}},
    {"keda: active with an error keeps replicas and does not refresh lastActiveTime",
     {MINREP(0), DUAL},
     1,
     0,
     {{0, {FAIL, 1}, 1, "PartialTriggerError", YES, .touched = NO}, END}},
    {"keda: only cpu/memory triggers without errors count as active",
     {MINREP(1), .n = 1, .t = {{"c", 50, 0, SO_UTILIZATION, "cpu"}}},
     0,
     0,
     {{0, {0}, 1, "ScaleFromZero", YES}, END}},
    /* §4.3 RequestScale, active */
    {"keda: active at 0 scales to minReplicaCount",
     {MINREP(2), ONE(5)},
     0,
     0,
     {{0, {1}, 2, "ScaleFromZero"}, END}},
    {"keda: active at 0 with minReplicaCount 0 scales to 1",
     {MINREP(0), ONE(5)},
     0,
     0,
     {{0, {1}, 1, "ScaleFromZero", .touched = YES}, END}},
    {"keda: active below min with idleReplicaCount scales to min",
     {IDLE(0), MINREP(3), ONE(5)},
     1,
     0,
     {{0, {1}, 3, "ScaleFromZero"}, END}},
    {"keda: scale from zero sets lastActiveTime only once the write succeeded",
     {MINREP(0), ONE(5)},
     0,
     0,
     {{0, {1}, 0, "ScaleFromZero", .write_fails = true, .touched = NO},
      {15, {1}, 1, "ScaleFromZero", .touched = YES},
      END}},
    {"keda: paused-scale-out blocks scale from zero",
     {MINREP(0), ONE(5), .pause = {.pause_scale_out = true}},
     0,
     0,
     {{0, {1}, 0, "ScaleOutPaused", YES}, END}},
    {"keda: active at N refreshes lastActiveTime and leaves 1..N to the HPA",
     {MINREP(0), ONE(5)},
     3,
     0,
     {{0, {10}, 3, "Active", YES, .touched = YES}, END}},
    {"keda: force-activation counts as active",
     {MINREP(0), ONE(5), .pause = {.force_activation = true}},
     0,
     0,
     {{0, {0}, 1, "ScaleFromZero", YES}, END}},
    /* §4.3 RequestScale, inactive */
    {"keda: an error with fallback.replicas != 0 waits for fallback",
     {MINREP(0), ONE(5), FALLBACK(3, 2, SO_FALLBACK_STATIC)},
     1,
     0,
     {{1, {FAIL}, 1, "WaitingForFallback", NO}, END}},
    {"keda: an error without fallback never scales down",
     {MINREP(0), ONE(5)},
     1,
     0,
     {{1000, {FAIL}, 1, "TriggerError", NO}, END}},
    {"keda: an error with fallback.replicas 0 scales to zero like inactivity",
     {MINREP(0), ONE(5), FALLBACK(3, 0, SO_FALLBACK_STATIC)},
     1,
     0,
     {{1, {FAIL}, 0, "ScaleToZero", NO}, END}},
    {"keda: cooldown not elapsed keeps replicas at 1; its end is strict",
     {MINREP(0), COOLDOWN(300), ONE(5)},
     0,
     0,
     {{0, {1}, 1, "ScaleFromZero"},
      {15, {0}, 1, "ScalerCooldown", NO},
      {300, {0}, 1, "ScalerCooldown"},
      {315, {0}, 0, "ScaleToZero"},
      END}},
    {"keda: the cooldown restarts at every active poll",
     {MINREP(0), COOLDOWN(300), ONE(5)},
     0,
     0,
     {{0, {1}, 1},
      {200, {1}, 1, "Active", .touched = YES},
      {400, {0}, 1, "ScalerCooldown"},
      {501, {0}, 0, "ScaleToZero"},
      END}},
    {"keda: never active: initialCooldownPeriod counts from creation",
     {MINREP(0), INITIAL(120), ONE(5)},
     1,
     1000,
     {{1000, {0}, 1, "ScalerCooldown"},
      {1120, {0}, 1, "ScalerCooldown"},
      {1121, {0}, 0, "ScaleToZero"},
      END}},
    {"keda: never active, initialCooldownPeriod 0: to zero at the first poll after creation",
     {MINREP(0), ONE(5)},
     1,
     0,
     {{0, {0}, 1, "ScalerCooldown"}, {15, {0}, 0, "ScaleToZero"}, END}},
    {"keda: idleReplicaCount: inactive scales to idle after cooldown",
     {IDLE(0), MINREP(2), COOLDOWN(60), ONE(5)},
     0,
     0,
     {{0, {1}, 2, "ScaleFromZero"},
      {15, {0}, 2, "ScalerCooldown"},
      {61, {0}, 0, "ScaleToIdle"},
      END}},
    {"keda: idleReplicaCount: nothing to do at idle",
     {IDLE(0), MINREP(2), ONE(5)},
     0,
     0,
     {{0, {0}, 0, "NoChange"}, END}},
    {"keda: paused-scale-in blocks scale to zero",
     {MINREP(0), ONE(5), .pause = {.pause_scale_in = true}},
     1,
     0,
     {{1000, {0}, 1, "ScaleInPaused"}, END}},
    {"keda: minReplicaCount >= 1 without idle: KEDA never scales down",
     {MINREP(1), ONE(5)},
     3,
     0,
     {{1000, {0}, 3, "NoChange"}, END}},
    {"keda: below minReplicaCount without idle: min at once, no cooldown",
     {MINREP(2), ONE(5)},
     1,
     0,
     {{0, {0}, 2, "ScaleToMin"}, END}},
    {"keda: scale to zero jumps from N straight to 0",
     {MINREP(0), ONE(5)},
     5,
     0,
     {{1, {0}, 0, "ScaleToZero"}, END}},
    {"keda: inactive at zero: nothing to do",
     {MINREP(0), ONE(5)},
     0,
     0,
     {{0, {0}, 0, "NoChange"}, END}},
    {"keda: paused keeps the replicas and reads no trigger",
     {MINREP(0), ONE(5), .pause = {.paused = true}},
     3,
     0,
     {{1000, {FAIL}, 3, "Paused"}, END}},
    {"keda: paused-replicas holds the target at N",
     {MINREP(0), ONE(5), .pause = {.has_paused_replicas = true, .paused_replicas = 4}},
     1,
     0,
     {{0, {9}, 4, "PausedReplicas"}, {15, {0}, 4, "Paused"}, END}},
    /* §4.6 fallback */
    {"fallback: failures up to failureThreshold stay errors",
     {MINREP(1), ONE(5), FALLBACK(2, 3, SO_FALLBACK_STATIC)},
     1,
     0,
     {{0, {FAIL}, 1, .hpa_only = true, .hpa = NO, .fallback = NO},
      {15, {FAIL}, 1, .hpa_only = true, .hpa = NO},
      {30, {FAIL}, 1, .hpa_only = true, HPA_OK(15000), .fallback = YES},
      END}},
    {"fallback: past failureThreshold the HPA gets target * fallback.replicas",
     {MINREP(1), ONE(5), FALLBACK(0, 3, SO_FALLBACK_STATIC)},
     1,
     0,
     {{0, {FAIL}, 1, .hpa_only = true, HPA_OK(15000)}, END}},
    {"fallback: a success resets the failure count",
     {MINREP(1), ONE(5), FALLBACK(1, 3, SO_FALLBACK_STATIC)},
     1,
     0,
     {{0, {FAIL}, 1, .hpa_only = true, .hpa = NO},
      {15, {2}, 1, .hpa_only = true, HPA_OK(2000), .fallback = NO},
      {30, {FAIL}, 1, .hpa_only = true, .hpa = NO},
      {45, {FAIL}, 1, .hpa_only = true, HPA_OK(15000)},
      END}},
    {"fallback: currentReplicas stands for the target's replicas",
     {MINREP(1), ONE(5), FALLBACK(0, 3, SO_FALLBACK_CURRENT_REPLICAS)},
     5,
     0,
     {{0, {FAIL}, 5, .hpa_only = true, HPA_OK(25000)}, END}},
    {"fallback: currentReplicasIfHigher takes the higher",
     {MINREP(1), ONE(5), FALLBACK(0, 3, SO_FALLBACK_CURRENT_IF_HIGHER)},
     5,
     0,
     {{0, {FAIL}, 5, .hpa_only = true, HPA_OK(25000)},
      {15, {FAIL}, 2, SET(2, 2), .hpa_only = true, HPA_OK(15000)},
      END}},
    {"fallback: currentReplicasIfLower takes the lower",
     {MINREP(1), ONE(5), FALLBACK(0, 3, SO_FALLBACK_CURRENT_IF_LOWER)},
     5,
     0,
     {{0, {FAIL}, 5, .hpa_only = true, HPA_OK(15000)},
      {15, {FAIL}, 2, SET(2, 2), .hpa_only = true, HPA_OK(10000)},
      END}},
    {"fallback: a Value target divides by the ready pods",
     {MINREP(1), VALUE(5), FALLBACK(0, 3, SO_FALLBACK_STATIC)},
     2,
     0,
     {{0, {FAIL}, 2, .hpa_only = true, HPA_OK(7500)}, END}},
    {"fallback: a Value target with no ready pods fails",
     {MINREP(1), VALUE(5), FALLBACK(0, 3, SO_FALLBACK_STATIC)},
     2,
     0,
     {{0, {FAIL}, 2, SET(2, 0), .hpa_only = true, .hpa = NO}, END}},
    {"fallback: the fallback metric is truncated to whole milli-units",
     {MINREP(1), VALUE(0.333), FALLBACK(0, 3, SO_FALLBACK_STATIC)},
     7,
     0,
     {{0, {FAIL}, 7, .hpa_only = true, HPA_OK(142)}, END}},
    {"fallback: an active fallback scales from zero (v2.19.0)",
     {MINREP(0), ONE(5), FALLBACK(0, 3, SO_FALLBACK_STATIC)},
     0,
     0,
     {{0, {FAIL}, 1, "ScaleFromZero", YES, .fallback = YES}, END}},
    {"fallback: the poll and the HPA paths share the failure count",
     {MINREP(1), ONE(5), FALLBACK(1, 3, SO_FALLBACK_STATIC)},
     1,
     0,
     {{0, {FAIL}, 1, .active = NO, HPA_OK(15000)}, END}},
    {"fallback: a fractional scalingModifiers target disables fallback",
     {MINREP(1), ONE(5), FALLBACK(0, 3, SO_FALLBACK_STATIC), .formula = "t", .mod_target = "2.5"},
     1,
     0,
     {{0, {FAIL}, 1, .hpa_only = true, .hpa = NO, .fallback = NO}, END}},
    /* §4.7 scalingModifiers */
    {"modifiers: the HPA gets one composite metric, the formula over the triggers",
     {MINREP(1), DUAL, .formula = "queue + keepalive", .mod_target = "2"},
     1,
     0,
     {{0, {3, 1}, 1, HPA_OK(4000)}, END}},
    {"modifiers: active iff the composite is above activationTarget",
     {MINREP(0), DUAL, .formula = "queue + keepalive", .mod_target = "2", .mod_activation = "3"},
     0,
     0,
     {{0, {2, 1}, 0, "NoChange", NO}, {15, {2, 2}, 1, "ScaleFromZero", YES}, END}},
    {"modifiers: the formula sees values as the HPA would (thousandths, negatives as 0)",
     {MINREP(1), ONE(5), .formula = "t * 1000", .mod_target = "1"},
     1,
     0,
     {{0, {-2}, 1, HPA_OK(0)}, {15, {1.0006}, 1, HPA_OK(1001000)}, END}},
    {"modifiers: the composite truncates toward zero and keeps its sign",
     {MINREP(1), ONE(5), .formula = "t / 3 - 1", .mod_target = "1"},
     1,
     0,
     {{0, {1}, 1, HPA_OK(-666)}, END}},
    {"modifiers: any trigger error: inactive, and the composite fails for the HPA",
     {MINREP(0), DUAL, .formula = "queue + keepalive", .mod_target = "2"},
     1,
     0,
     {{0, {FAIL, 5}, 1, "TriggerError", NO, .hpa = NO}, END}},
    {"modifiers: with fallback active the composite is the first fallback metric",
     {MINREP(1), DUAL, FALLBACK(0, 4, SO_FALLBACK_STATIC), .formula = "queue + keepalive",
      .mod_target = "2"},
     1,
     0,
     {{0, {FAIL, 5}, 1, .hpa_only = true, HPA_OK(8000)}, END}},
    {"modifiers: with fallback active, an error elsewhere does not fail the composite",
     {MINREP(1), .n = 3, .t = {{"a", 5}, {"b", 5}, {"c", 5}}, FALLBACK(1, 4, SO_FALLBACK_STATIC),
      .formula = "a + b + c", .mod_target = "2"},
     1, 0,
     {{0, {FAIL, 1, 1}, 1, .hpa_only = true, .hpa = NO},
      {15, {FAIL, FAIL, 1}, 1, .hpa_only = true, HPA_OK(8000)},
      END}},
    {"modifiers: behavior scalingModifiers passes failed triggers as nil to ??",
     {MINREP(1), DUAL, FALLBACK(0, 4, SO_FALLBACK_SCALING_MODIFIERS),
      .formula = "queue ?? keepalive", .mod_target = "2"},
     1,
     0,
     {{0, {FAIL, 5}, 1, .hpa_only = true, HPA_OK(5000)}, END}},
    {"modifiers: a nil result falls back to fallback.replicas * target",
     {MINREP(1), DUAL, FALLBACK(0, 4, SO_FALLBACK_SCALING_MODIFIERS),
      .formula = "queue ?? keepalive", .mod_target = "2"},
     1,
     0,
     {{0, {FAIL, FAIL}, 1, .hpa_only = true, HPA_OK(8000)}, END}},
    {"modifiers: a formula that fails at run time leaves no composite: inactive, no error",
     {MINREP(0), ONE(5), .formula = "1 % int(t)", .mod_target = "1"},
     1,
     0,
     {{1, {0}, 0, "ScaleToZero", NO, .hpa = NO}, END}},
};
/* clang-format on */

static void run_row(const struct krow *r)
{
    struct so_spec so;
    struct formula f;
    struct keda_state st;
    so_build(&r->so, &so, &f);
    const struct formula *fp = r->so.formula ? &f : NULL;
    keda_state_init(&st, r->created);
    int32_t replicas = r->start, ready = r->start;
    for (const struct kstep *s = r->steps; s->t >= 0; s++) {
        struct keda_sample samples[SO_DESC_TRIGGERS];
        for (size_t i = 0; i < SO_DESC_TRIGGERS; i++) {
            samples[i].ok = !isnan(s->v[i]);
            samples[i].value = samples[i].ok ? s->v[i] : 0;
        }
        if (s->set) {
            replicas = s->current;
            ready = s->ready;
        }
        struct keda_input in = {s->t, replicas, ready, samples};
        struct keda_decision d;
        bool before = st.has_last_active;
        double before_t = st.last_active;
        if (!s->hpa_only) {
            assert_int_equal(keda_poll(&so, fp, &st, &in, &d), 0);
            bool scaled = d.action == KEDA_SCALE && !s->write_fails;
            keda_commit(&st, &d, scaled, s->t);
            if (scaled)
                replicas = ready = d.replicas;
            if (s->reason && strcmp(d.reason, s->reason) != 0)
                fail_msg("at t=%g: reason %s, want %s", s->t, d.reason, s->reason);
            if (s->active)
                assert_int_equal(d.active, s->active == YES);
            if (s->fallback)
                assert_int_equal(d.fallback, s->fallback == YES);
        }
        if (replicas != s->want)
            fail_msg("at t=%g: replicas %d, want %d", s->t, replicas, s->want);
        bool touched =
            st.has_last_active && st.last_active == s->t && !(before && before_t == s->t);
        if (s->touched)
            assert_int_equal(touched, s->touched == YES);
        if (s->hpa) {
            struct hpa_sample out[SO_TRIGGERS_MAX];
            size_t n;
            assert_int_equal(keda_hpa_metrics(&so, fp, &st, &in, out, SO_TRIGGERS_MAX, &n), 0);
            assert_true(n >= 1);
            assert_int_equal(out[0].ok, s->hpa == YES);
            if (s->hpa == YES && out[0].total_milli != s->hpa_milli)
                fail_msg("at t=%g: HPA metric %lld, want %lld", s->t, (long long)out[0].total_milli,
                         (long long)s->hpa_milli);
        }
        if (s->hpa_only && s->fallback) {
            /* the condition as the next poll would report it */
            bool fb = false;
            for (size_t i = 0; i < so.n_triggers; i++)
                fb = fb || st.failures[i] > so.fallback.failure_threshold;
            assert_int_equal(fb, s->fallback == YES);
        }
    }
}

/* Per-trigger results are what keda_scaler_metrics_value and
 * keda_scaler_active report. */
static void per_trigger_results(void **state)
{
    const struct so_desc desc = {MINREP(0), DUAL};
    struct so_spec so;
    struct keda_state st;
    struct keda_decision d;
    struct keda_sample s[2] = {{true, 7.5}, {true, 0}};
    so_build(&desc, &so, NULL);
    keda_state_init(&st, 0);
    struct keda_input in = {0, 1, 1, s};
    assert_int_equal(keda_poll(&so, NULL, &st, &in, &d), 0);
    assert_int_equal(d.n_triggers, 2);
    assert_int_equal(d.triggers[0].milli, 7500);
    assert_true(d.triggers[0].active);
    assert_int_equal(d.triggers[1].milli, 0);
    assert_false(d.triggers[1].active);
    assert_int_equal(d.ready, KEDA_COND_TRUE);
    assert_int_equal(d.active_cond, KEDA_COND_TRUE);
}

/* The Ready condition: True without errors, Unknown (PartialTriggerError)
 * when active with an error, False (TriggerError) when inactive with an error
 * and no fallback. */
static void ready_condition(void **state)
{
    const struct so_desc desc = {MINREP(0), DUAL};
    struct so_spec so;
    struct keda_state st;
    struct keda_decision d;
    so_build(&desc, &so, NULL);
    keda_state_init(&st, 0);
    struct keda_sample partial[2] = {{false, 0}, {true, 1}};
    struct keda_input in = {10, 1, 1, partial};
    assert_int_equal(keda_poll(&so, NULL, &st, &in, &d), 0);
    assert_int_equal(d.ready, KEDA_COND_UNKNOWN);
    assert_string_equal(d.ready_reason, "PartialTriggerError");
    struct keda_sample broken[2] = {{false, 0}, {true, 0}};
    in.samples = broken;
    assert_int_equal(keda_poll(&so, NULL, &st, &in, &d), 0);
    assert_int_equal(d.ready, KEDA_COND_FALSE);
    assert_string_equal(d.ready_reason, "TriggerError");
    assert_int_equal(d.active_cond, KEDA_COND_FALSE);
    assert_string_equal(d.active_reason, "ScalerNotActive");
}

static void bad_inputs_are_refused(void **state)
{
    const struct so_desc desc = {MINREP(0), ONE(5)};
    const struct so_desc mod = {MINREP(0), ONE(5), .formula = "t", .mod_target = "1"};
    struct so_spec so;
    struct keda_state st;
    struct keda_decision d;
    struct keda_sample s = {true, 1};
    struct hpa_sample out[1];
    size_t n;
    so_build(&desc, &so, NULL);
    keda_state_init(&st, 0);
    struct keda_input in = {0, -1, 0, &s};
    assert_int_equal(keda_poll(&so, NULL, &st, &in, &d), -EINVAL);
    in.current = 1;
    in.samples = NULL;
    assert_int_equal(keda_poll(&so, NULL, &st, &in, &d), -EINVAL);
    in.samples = &s;
    assert_int_equal(keda_hpa_metrics(&so, NULL, &st, &in, out, 0, &n), -ENOSPC);
    so_build(&mod, &so, NULL);
    assert_int_equal(keda_poll(&so, NULL, &st, &in, &d), -EINVAL); /* the formula is missing */
}

int main(void)
{
    int rc = RUN_ROWS("keda", rows, run_row);
    const struct CMUnitTest more[] = {
        {"keda: per-trigger results feed keda_scaler_metrics_value and keda_scaler_active",
         per_trigger_results, NULL, NULL, NULL},
        {"keda: the Ready condition follows errors and activity", ready_condition, NULL, NULL,
         NULL},
        {"keda: impossible inputs are refused", bad_inputs_are_refused, NULL, NULL, NULL},
    };
    return rc | cmocka_run_group_tests_name("keda results", more, NULL, NULL);
}
