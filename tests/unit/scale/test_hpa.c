/* hpa: the HPA controller's replica decision, one row per rule of spec §5
 * (and §10's hpa_sync, within, normalize_legacy), the worked examples of
 * §5.7 verbatim. Each row is a short script of syncs; between syncs the
 * target follows the HPA's writes unless a step says otherwise. */
#include "scale_test.h"

#include <stdlib.h>

#include "scale/hpa.h"

#define MFAIL INT64_MIN /* the metric could not be read */
/* A step that sets the target's counts instead of following the HPA. */
#define AT(spec_, status_, pods_, ready_)                                                          \
    .set = true, .spec = (spec_), .status = (status_), .pods = (pods_), .ready = (ready_)

struct hstep {
    double t;
    int64_t m[2]; /* metric totals in milli-units */
    int32_t want; /* desiredReplicas after the sync */
    bool set;     /* use spec/status/pods/ready below */
    int32_t spec, status, pods, ready;
    bool write_fails;
    const char *limited, *able, *active; /* condition reasons, NULL: not checked */
    bool check_shown;
    int64_t shown; /* status current of metric 0 (averageValue or value) */
    bool shown_unknown;
    int32_t proposal; /* the metrics' proposal before normalization, 0: not checked */
};

struct hrow {
    const char *name;
    int32_t min, max, start;
    size_t n;                            /* metrics (default 1) */
    enum so_metric_type type[2];         /* default AverageValue */
    int64_t target[2];                   /* milli (default 5000) */
    const struct hpa_behavior *behavior; /* NULL: behavior nil, the legacy path */
    struct hstep steps[10];
};

/* Behaviors; hpa_behavior_default fills what they leave unset. */
/* clang-format off: a table reads best one rule per row */
static const struct hpa_behavior b_default = {0};
static const struct hpa_behavior b_fast_down = {.down = {.has_window = true, .window_seconds = 0}};
static const struct hpa_behavior b_pods_down = {.down = {.has_window = true,
                                                         .window_seconds = 0,
                                                         .has_policies = true,
                                                         .n_policies = 1,
                                                         .policies = {{HPA_POLICY_PODS, 1, 60}}}};
static const struct hpa_behavior b_percent_down = {
    .down = {.has_window = true,
             .window_seconds = 0,
             .has_policies = true,
             .n_policies = 1,
             .policies = {{HPA_POLICY_PERCENT, 33, 15}}}};
static const struct hpa_behavior b_percent_up = {
    .up = {.has_policies = true, .n_policies = 1, .policies = {{HPA_POLICY_PERCENT, 50, 15}}}};
static const struct hpa_behavior b_pods_up_one = {
    .up = {.has_policies = true, .n_policies = 1, .policies = {{HPA_POLICY_PODS, 1, 15}}}};
static const struct hpa_behavior b_min_up = {.up = {.has_select = true, .select = HPA_SELECT_MIN}};
static const struct hpa_behavior b_down_two = {
    .down = {.has_window = true,
             .window_seconds = 0,
             .has_policies = true,
             .n_policies = 2,
             .policies = {{HPA_POLICY_PODS, 1, 15}, {HPA_POLICY_PERCENT, 50, 15}}}};
static const struct hpa_behavior b_min_down = {
    .down = {.has_window = true,
             .window_seconds = 0,
             .has_select = true,
             .select = HPA_SELECT_MIN,
             .has_policies = true,
             .n_policies = 2,
             .policies = {{HPA_POLICY_PODS, 1, 15}, {HPA_POLICY_PERCENT, 50, 15}}}};
static const struct hpa_behavior b_disabled_up = {
    .up = {.has_select = true, .select = HPA_SELECT_DISABLED}};
static const struct hpa_behavior b_disabled_down = {.down = {.has_window = true,
                                                             .window_seconds = 0,
                                                             .has_select = true,
                                                             .select = HPA_SELECT_DISABLED}};
static const struct hpa_behavior b_up_window = {.up = {.has_window = true, .window_seconds = 60}};
static const struct hpa_behavior b_tolerance = {.up = {.has_tolerance = true, .tolerance = 0.5}};

static const struct hrow rows[] = {
    /* §5.7, verbatim */
    {"hpa §5.7: total 12 at 1 pod: ratio 2.4, ceil(12/5) = 3, under the limit 4", 1, 10, 1,
     .steps = {{0, {12000}, 3, .limited = "DesiredWithinRange"}, END}},
    {"hpa §5.7: total 5.2 at 1 pod: ratio 1.04 is within, stays 1 (5200m/5 (avg))", 1, 10, 1,
     .steps = {{0, {5200}, 1, .check_shown = true, .shown = 5200}, END}},
    {"hpa §5.7: total 60 at 2 pods: 12, limited to 4, next sync 8, next min(10, 16) = 10", 1, 10, 2,
     .steps = {{0, {60000}, 4, .limited = "ScaleUpLimit"},
               {15, {60000}, 8, .limited = "ScaleUpLimit"},
               {30, {60000}, 10, .limited = "TooManyReplicas"},
               END}},
    {"hpa §5.7: total drops to 0 at 10: stays 10 until 5 min after the last high "
     "recommendation, then min 1",
     1, 10, 10,
     .steps = {{0, {60000}, 10},
               {15, {0}, 10, .able = "ScaleDownStabilized"},
               {300, {0}, 10},
               {315, {0}, 1, .limited = "TooFewReplicas"},
               END}},
    {"hpa §5.7: Value target 5, total 12, spec 2, 2 ready: ceil(2.4 * 2) = 5 (the legacy "
     "limit then allows 4)",
     1, 10, 2, .type = {SO_VALUE}, .steps = {{0, {12000}, 4, .proposal = 5}, END}},
    /* §5.2 reconcile */
    {"hpa: spec replicas 0 disables scaling (ScalingDisabled, metrics unknown)", 1, 10, 0,
     .steps =
         {{0, {50000}, 0, .active = "ScalingDisabled", .check_shown = true, .shown_unknown = true},
          END}},
    {"hpa: above maxReplicas goes to max without reading metrics", 1, 3, 5,
     .steps = {{0, {MFAIL}, 3, .check_shown = true, .shown_unknown = true}, END}},
    {"hpa: below minReplicas goes to min without reading metrics", 2, 10, 1,
     .steps = {{0, {MFAIL}, 2}, END}},
    {"hpa: the current count recorded at the first sync holds a legacy scale-down", 1, 10, 4,
     .steps = {{0, {0}, 4, .able = "ScaleDownStabilized"}, END}},
    /* §5.3 AverageValue */
    {"hpa: within 10% tolerance keeps replicas", 1, 10, 2, .steps = {{0, {10400}, 2}, END}},
    {"hpa: ratio exactly 1.1 is within tolerance", 1, 10, 2, .steps = {{0, {11000}, 2}, END}},
    {"hpa: ratio just above 1.1 proposes ceil(total/target)", 1, 10, 2,
     .steps = {{0, {11010}, 3}, END}},
    {"hpa: ratio exactly 0.9 is within tolerance", 1, 10, 10, .behavior = &b_fast_down,
     .steps = {{0, {45000}, 10}, END}},
    {"hpa: ratio just below 0.9 proposes ceil(total/target)", 1, 10, 10, .behavior = &b_fast_down,
     .steps = {{0, {44500}, 9}, END}},
    {"hpa: within tolerance proposes status replicas, not spec", 1, 10, 3, .behavior = &b_fast_down,
     .steps = {{0, {10000}, 2, AT(3, 2, 2, 2)}, END}},
    {"hpa: status replicas 0 is never within tolerance", 1, 10, 1,
     .steps = {{0, {12000}, 3, AT(1, 0, 0, 0), .check_shown = true, .shown = 0}, END}},
    {"hpa: the status average is ceil(total / status replicas)", 1, 10, 3,
     .steps = {{0, {10000}, 3, .check_shown = true, .shown = 3334}, END}},
    /* §5.3 Value */
    {"hpa: Value within tolerance keeps spec replicas", 1, 10, 2, .type = {SO_VALUE},
     .steps = {{0, {5200}, 2, .check_shown = true, .shown = 5200}, END}},
    {"hpa: Value proposes ceil(ratio * ready pods), not spec", 1, 10, 3, .type = {SO_VALUE},
     .steps = {{0, {12000}, 5, AT(3, 3, 3, 2)}, END}},
    {"hpa: Value with no pods listed is an invalid metric", 1, 10, 2, .type = {SO_VALUE},
     .steps = {{0, {12000}, 2, AT(2, 2, 0, 0), .active = "FailedGetExternalMetric"}, END}},
    {"hpa: Value with no ready pods proposes 0", 1, 10, 2, .type = {SO_VALUE},
     .behavior = &b_fast_down, .steps = {{0, {12000}, 1, AT(2, 2, 2, 0)}, END}},
    {"hpa: behavior tolerance replaces the 10% band (HPAConfigurableTolerance)", 1, 10, 2,
     .behavior = &b_tolerance, .steps = {{0, {14000}, 2}, {15, {16000}, 4}, END}},
    /* §5.4 several metrics */
    {"hpa: several metrics: the largest proposal wins", 1, 10, 1, .n = 2, .target = {5000, 1000},
     .steps = {{0, {12000, 4000}, 4}, END}},
    {"hpa: every metric failing: no scaling (FailedGetExternalMetric)", 1, 10, 3,
     .steps = {{0,
                {MFAIL},
                3,
                .active = "FailedGetExternalMetric",
                .check_shown = true,
                .shown_unknown = true},
               END}},
    {"hpa: a failing metric blocks scale-down", 1, 10, 4, .n = 2, .behavior = &b_fast_down,
     .steps = {{0, {0, MFAIL}, 4, .active = "FailedGetExternalMetric"}, END}},
    {"hpa: a failing metric does not block scale-up", 1, 10, 1, .n = 2,
     .steps = {{0, {20000, MFAIL}, 4, .active = "ValidMetricFound"}, END}},
    {"hpa: a failing metric with the rest at the current count still counts as valid", 1, 10, 2,
     .n = 2, .steps = {{0, {10000, MFAIL}, 2, .active = "ValidMetricFound"}, END}},
    /* §5.5 legacy normalization */
    {"hpa: legacy scale-up limit is max(2 * current, 4)", 1, 30, 1,
     .steps = {{0, {100000}, 4, .limited = "ScaleUpLimit"},
               {15, {100000}, 8, .limited = "ScaleUpLimit"},
               {30, {100000}, 16, .limited = "ScaleUpLimit"},
               END}},
    {"hpa: legacy limit below maxReplicas, max wins (TooManyReplicas)", 1, 3, 1,
     .steps = {{0, {100000}, 3, .limited = "TooManyReplicas"}, END}},
    {"hpa: legacy scale-down waits 300 s, the window including its edge", 1, 10, 4,
     .steps = {{0, {20000}, 4},
               {100, {5000}, 4, .able = "ScaleDownStabilized"},
               {300, {5000}, 4},
               {301, {5000}, 1, .able = "SucceededRescale"},
               END}},
    {"hpa: legacy takes the highest recent recommendation, even above the metric", 1, 10, 2,
     .steps = {{0, {40000}, 4}, {15, {25000}, 8}, END}},
    {"hpa: legacy desired below minReplicas is raised (TooFewReplicas)", 2, 10, 2,
     .steps = {{0, {0}, 2}, {301, {0}, 2, .limited = "TooFewReplicas"}, END}},
    /* §5.6 behavior */
    {"hpa: behavior default scale-up: max(4 pods, 100%) per 15 s", 1, 30, 1, .behavior = &b_default,
     .steps = {{0, {100000}, 5}, {15, {100000}, 10}, {30, {100000}, 20}, END}},
    {"hpa: behavior scale-up counts events inside the period (strictly after its start)", 1, 30, 1,
     .behavior = &b_default,
     .steps =
         {{0, {100000}, 5}, {10, {100000}, 5, .limited = "ScaleUpLimit"}, {15, {100000}, 10}, END}},
    {"hpa: behavior default scale-down waits the controller's 300 s, its start excluded", 1, 10, 4,
     .behavior = &b_default,
     .steps = {{0, {20000}, 4},
               {15, {0}, 4, .able = "ScaleDownStabilized"},
               {299, {0}, 4},
               {300, {0}, 1},
               END}},
    {"hpa: behavior scaleDown window 0 scales down at once", 1, 10, 4, .behavior = &b_fast_down,
     .steps = {{0, {0}, 1}, END}},
    {"hpa: behavior Pods policy limits scale-down per period", 1, 10, 5, .behavior = &b_pods_down,
     .steps = {{0, {0}, 4, .limited = "ScaleDownLimit"},
               {15, {0}, 4, .limited = "ScaleDownLimit"},
               {61, {0}, 3},
               END}},
    {"hpa: behavior Percent scale-down truncates (10 * 0.67 = 6)", 1, 10, 10,
     .behavior = &b_percent_down, .steps = {{0, {0}, 6}, END}},
    {"hpa: behavior Percent scale-up rounds up (3 * 1.5 = 5)", 1, 30, 3, .behavior = &b_percent_up,
     .steps = {{0, {100000}, 5}, END}},
    {"hpa: a policies list replaces the defaults", 1, 30, 1, .behavior = &b_pods_up_one,
     .steps = {{0, {100000}, 2}, END}},
    {"hpa: selectPolicy Min scales up by the smallest change", 1, 30, 2, .behavior = &b_min_up,
     .steps = {{0, {100000}, 4}, END}},
    {"hpa: selectPolicy Max scales down by the largest change", 1, 10, 10, .behavior = &b_down_two,
     .steps = {{0, {0}, 5}, END}},
    {"hpa: selectPolicy Min scales down by the smallest change", 1, 10, 10, .behavior = &b_min_down,
     .steps = {{0, {0}, 9}, END}},
    {"hpa: selectPolicy Disabled stops scale-up", 1, 10, 2, .behavior = &b_disabled_up,
     .steps = {{0, {100000}, 2, .limited = "ScaleUpLimit"}, END}},
    {"hpa: selectPolicy Disabled stops scale-down", 1, 10, 5, .behavior = &b_disabled_down,
     .steps = {{0, {0}, 5, .limited = "ScaleDownLimit"}, END}},
    {"hpa: a scale-up window holds the lowest recent recommendation", 1, 10, 2,
     .behavior = &b_up_window,
     .steps =
         {{0, {10000}, 2}, {15, {30000}, 2, .able = "ScaleUpStabilized"}, {61, {30000}, 6}, END}},
    {"hpa: scale-down events raise the period start for scale-up", 1, 30, 8,
     .behavior = &b_fast_down, .steps = {{0, {0}, 1}, {5, {100000}, 16}, END}},
    {"hpa: behavior clamps to maxReplicas (TooManyReplicas)", 1, 3, 1, .behavior = &b_default,
     .steps = {{0, {100000}, 3, .limited = "TooManyReplicas"}, END}},
    {"hpa: a rescale that failed to write stores no scale event", 1, 30, 1, .behavior = &b_default,
     .steps = {{0, {100000}, 5, .write_fails = true}, {5, {100000}, 5}, END}},
};
/* clang-format on */

static void build_spec(const struct hrow *r, struct hpa_spec *h)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->name, sizeof(h->name), "keda-hpa-so");
    snprintf(h->ref_kind, sizeof(h->ref_kind), "Deployment");
    snprintf(h->ref_name, sizeof(h->ref_name), "app");
    h->min_replicas = r->min;
    h->max_replicas = r->max;
    h->tolerance = HPA_TOLERANCE_DEFAULT;
    h->down_stabilization_s = HPA_DOWN_STABILIZATION_DEFAULT_S;
    if (r->behavior) {
        h->has_behavior = true;
        h->behavior = *r->behavior;
        hpa_behavior_default(&h->behavior, h->down_stabilization_s);
    }
    h->n_metrics = r->n ? r->n : 1;
    for (size_t i = 0; i < h->n_metrics; i++) {
        snprintf(h->metrics[i].name, sizeof(h->metrics[i].name), "s%zu-prometheus", i);
        h->metrics[i].type = r->type[i];
        h->metrics[i].target_milli = r->target[i] ? r->target[i] : 5000;
    }
}

static void check_reason(const char *what, const char *got, const char *want)
{
    if (want && (!got || strcmp(got, want) != 0))
        fail_msg("%s: got %s, want %s", what, got ? got : "(none)", want);
}

static void run_row(const struct hrow *r)
{
    struct hpa_spec h;
    struct hpa_state state, *st = &state;
    build_spec(r, &h);
    hpa_state_init(st);
    int32_t replicas = r->start;
    for (const struct hstep *s = r->steps; s->t >= 0; s++) {
        struct hpa_sample samples[2];
        for (size_t i = 0; i < h.n_metrics; i++) {
            samples[i].ok = s->m[i] != MFAIL;
            samples[i].total_milli = s->m[i] == MFAIL ? 0 : s->m[i];
        }
        struct hpa_input in = {s->t, replicas, replicas, replicas, replicas, samples};
        if (s->set) {
            in.spec_replicas = s->spec;
            in.status_replicas = s->status;
            in.pods = s->pods;
            in.ready_pods = s->ready;
        }
        struct hpa_decision d;
        assert_int_equal(hpa_sync(&h, st, &in, &d), 0);
        if (d.replicas != s->want)
            fail_msg("at t=%g: desired %d, want %d", s->t, d.replicas, s->want);
        if (s->proposal && d.metric_replicas != s->proposal)
            fail_msg("at t=%g: proposal %d, want %d", s->t, d.metric_replicas, s->proposal);
        replicas = in.spec_replicas;
        if (d.rescale && !s->write_fails) {
            hpa_scaled(&h, st, in.spec_replicas, d.replicas, s->t);
            replicas = d.replicas;
        }
        check_reason("ScalingLimited", st->status.limited_reason, s->limited);
        check_reason("AbleToScale", st->status.able_reason, s->able);
        check_reason("ScalingActive", st->status.active_reason, s->active);
        if (s->check_shown && s->shown_unknown)
            assert_false(st->status.has_metrics && st->status.metrics[0].known);
        else if (s->check_shown)
            assert_int_equal(st->status.metrics[0].current_milli, s->shown);
    }
    assert_int_equal(st->overflows, 0);
}

/* A reference legacy HPA with an unbounded history, to show that dropping
 * dominated recommendations never changes a decision. */
static int32_t reference_legacy(int32_t *recs, double *ts, size_t *n, double now, int32_t current,
                                int32_t desired, int32_t min, int32_t max)
{
    int32_t stab = desired;
    for (size_t i = 0; i < *n; i++) {
        if (ts[i] >= now - 300 && recs[i] > stab)
            stab = recs[i];
    }
    recs[*n] = desired;
    ts[(*n)++] = now;
    int32_t limit = current * 2 > 4 ? current * 2 : 4;
    int32_t allowed = max < limit ? max : limit;
    return stab < min ? min : stab > allowed ? allowed : stab;
}

static void bounded_history_is_exact(void **state)
{
    struct hpa_spec h;
    const struct hrow r = {"", 1, 50, 1, .n = 1};
    struct hpa_state *st = malloc(sizeof(*st));
    int32_t *recs = malloc(4000 * sizeof(*recs));
    double *ts = malloc(4000 * sizeof(*ts));
    size_t n = 0;
    assert_non_null(st);
    assert_non_null(recs);
    assert_non_null(ts);
    build_spec(&r, &h);
    hpa_state_init(st);
    int32_t replicas = 1;
    recs[n] = 1;
    ts[n++] = 0;
    uint64_t x = 42;
    for (int i = 0; i < 3000; i++) { /* one sync a second: 300 in every window */
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t total = (int64_t)((x >> 33) % 200) * 1000;
        struct hpa_sample s = {true, total};
        struct hpa_input in = {i, replicas, replicas, replicas, replicas, &s};
        double ratio = (double)total / (5000.0 * replicas);
        int32_t proposal = ratio >= 0.9 && ratio <= 1.1 ? replicas : (int32_t)ceil(total / 5000.0);
        int32_t want = reference_legacy(recs, ts, &n, i, replicas, proposal, 1, 50);
        struct hpa_decision d;
        assert_int_equal(hpa_sync(&h, st, &in, &d), 0);
        if (d.replicas != want)
            fail_msg("sync %d: desired %d, reference %d", i, d.replicas, want);
        assert_true(st->n_recs <= HPA_RECS_MAX);
        if (d.rescale)
            hpa_scaled(&h, st, replicas, d.replicas, i);
        replicas = d.replicas;
    }
    assert_int_equal(st->overflows, 0);
    free(ts);
    free(recs);
    free(st);
}

/* Scale events are bounded too: a long run of scale-ups within one long
 * policy period keeps at most HPA_EVENTS_MAX of them. */
static void events_stay_bounded(void **state)
{
    static const struct hpa_behavior slow = {
        .up = {.has_policies = true, .n_policies = 1, .policies = {{HPA_POLICY_PODS, 1, 1800}}}};
    const struct hrow r = {"", 1, 1000, 1, .behavior = &slow};
    struct hpa_spec h;
    struct hpa_state *st = malloc(sizeof(*st));
    assert_non_null(st);
    build_spec(&r, &h);
    h.behavior.up.policies[0].value = 1000;
    hpa_state_init(st);
    for (int i = 0; i < 200; i++)
        hpa_scaled(&h, st, i + 1, i + 2, i);
    assert_true(st->n_up <= HPA_EVENTS_MAX);
    assert_true(st->overflows > 0);
    free(st);
}

/* status.lastScaleTime is written with the scale, not with the decision. */
static void last_scale_time(void **state)
{
    const struct hrow r = {"", 1, 10, 1, .n = 1};
    struct hpa_spec h;
    struct hpa_state st;
    struct hpa_decision d;
    struct hpa_sample s = {true, 20000};
    build_spec(&r, &h);
    hpa_state_init(&st);
    struct hpa_input in = {30, 1, 1, 1, 1, &s};
    assert_int_equal(hpa_sync(&h, &st, &in, &d), 0);
    assert_true(d.rescale);
    assert_string_equal(d.reason, "s0-prometheus above target");
    assert_false(st.status.has_last_scale);
    hpa_scaled(&h, &st, 1, d.replicas, 30);
    assert_true(st.status.has_last_scale);
    assert_near(st.status.last_scale_time, 30, 0);
    assert_int_equal(st.status.current_replicas, 1); /* what the sync saw */
    assert_int_equal(st.status.desired_replicas, 4);
}

static void bad_inputs_are_refused(void **state)
{
    const struct hrow r = {"", 1, 10, 1, .n = 1};
    struct hpa_spec h;
    struct hpa_state st;
    struct hpa_decision d;
    struct hpa_sample s = {true, 0};
    build_spec(&r, &h);
    hpa_state_init(&st);
    struct hpa_input in = {0, -1, 0, 0, 0, &s};
    assert_int_equal(hpa_sync(&h, &st, &in, &d), -EINVAL);
    in.spec_replicas = 1;
    in.samples = NULL;
    assert_int_equal(hpa_sync(&h, &st, &in, &d), -EINVAL);
}

int main(void)
{
    int rc = RUN_ROWS("hpa", rows, run_row);
    const struct CMUnitTest more[] = {
        {"hpa: the bounded recommendation history decides as an unbounded one",
         bounded_history_is_exact, NULL, NULL, NULL},
        {"hpa: scale events stay bounded", events_stay_bounded, NULL, NULL, NULL},
        {"hpa: lastScaleTime is recorded with a successful write", last_scale_time, NULL, NULL,
         NULL},
        {"hpa: impossible inputs are refused", bad_inputs_are_refused, NULL, NULL, NULL},
    };
    return rc | cmocka_run_group_tests_name("hpa state", more, NULL, NULL);
}
