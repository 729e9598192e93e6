/* hpa: the HPA controller's replica calculation. See hpa.h; the structure
 * follows pkg/controller/podautoscaler (horizontal.go, replica_calculator.go)
 * so each function here can be read next to the one it reproduces. */
#include "scale/hpa.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scale/quantity.h"

static int32_t clamp32(double v)
{
    if (!(v < 2147483647.0))
        return v != v ? 0 : INT32_MAX; /* NaN gives 0 */
    if (v < -2147483648.0)
        return INT32_MIN;
    return (int32_t)v;
}

static int32_t clamp64to32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* ---------- spec ---------- */

int hpa_spec_from_so(const struct so_spec *so, struct hpa_spec *h)
{
    memset(h, 0, sizeof(*h));
    if (so_hpa_name(so, h->name, sizeof(h->name)) < 0)
        return -EINVAL;
    snprintf(h->ref_kind, sizeof(h->ref_kind), "%s",
             so->target_kind[0] ? so->target_kind : "Deployment");
    snprintf(h->ref_name, sizeof(h->ref_name), "%s", so->target_name);
    h->min_replicas = so_hpa_min_replicas(so);
    h->max_replicas = so_hpa_max_replicas(so);
    h->tolerance = HPA_TOLERANCE_DEFAULT;
    h->down_stabilization_s = HPA_DOWN_STABILIZATION_DEFAULT_S;
    if (so->has_behavior || so->pause.pause_scale_in || so->pause.pause_scale_out) {
        h->has_behavior = true;
        if (so->has_behavior)
            h->behavior = so->behavior;
        if (so->pause.pause_scale_in) {
            h->behavior.down.has_select = true;
            h->behavior.down.select = HPA_SELECT_DISABLED;
        }
        if (so->pause.pause_scale_out) {
            h->behavior.up.has_select = true;
            h->behavior.up.select = HPA_SELECT_DISABLED;
        }
        hpa_behavior_default(&h->behavior, h->down_stabilization_s);
    }
    if (so->has_modifiers) {
        double target;
        if (so_parse_float(so->modifiers.target, &target) < 0)
            return -EINVAL;
        snprintf(h->metrics[0].name, sizeof(h->metrics[0].name), "composite-metric");
        h->metrics[0].type = so->modifiers.metric_type;
        h->metrics[0].target_milli = quantity_milli_from_double(target);
        h->n_metrics = 1;
        return 0;
    }
    for (size_t i = 0; i < so->n_triggers; i++) {
        const struct so_trigger *t = &so->triggers[i];
        if (so_trigger_is_resource(t))
            continue; /* a Resource metric: ebb has no pod CPU or memory to read */
        struct hpa_metric_spec *m = &h->metrics[h->n_metrics++];
        if (snprintf(m->name, sizeof(m->name), "s%zu-%s", i, t->type) >= (int)sizeof(m->name))
            return -EINVAL;
        m->type = t->metric_type;
        m->target_milli = quantity_milli_from_double(t->threshold);
    }
    return h->n_metrics > 0 ? 0 : -EINVAL;
}

void hpa_state_init(struct hpa_state *st)
{
    memset(st, 0, sizeof(*st));
}

/* ---------- replica calculator (§5.3) ---------- */

struct tolerances {
    double down, up;
};

static struct tolerances tolerances_of(const struct hpa_spec *h)
{
    struct tolerances t = {h->tolerance, h->tolerance};
    if (h->has_behavior && h->behavior.down.has_tolerance)
        t.down = h->behavior.down.tolerance;
    if (h->has_behavior && h->behavior.up.has_tolerance)
        t.up = h->behavior.up.tolerance;
    return t;
}

/* NaN and the infinities are never within. */
static bool within(struct tolerances t, double ratio)
{
    return (1.0 - t.down) <= ratio && ratio <= (1.0 + t.up);
}

/* GetExternalPerPodMetricReplicas: AverageValue targets. */
static int32_t per_pod_proposal(struct tolerances tol, int64_t total, int64_t target,
                                int32_t status_replicas, int64_t *shown)
{
    double ratio = (double)total / ((double)target * (double)status_replicas);
    int32_t p = status_replicas;
    if (!within(tol, ratio))
        p = clamp32(ceil((double)total / (double)target));
    /* Go divides by zero replicas into Inf/NaN and converts that to int64; the
     * status shows 0 instead (spec §5.3). */
    double avg = status_replicas ? ceil((double)total / (double)status_replicas) : 0;
    *shown = avg >= 9.2e18 ? INT64_MAX : avg <= -9.2e18 ? INT64_MIN : (int64_t)avg;
    return p;
}

/* GetExternalMetricReplicas: Value targets. -1 when no pods are listed. */
static int value_proposal(struct tolerances tol, const struct hpa_input *in, int64_t total,
                          int64_t target, int32_t *p)
{
    double ratio = (double)total / (double)target;
    if (in->spec_replicas == 0) {
        *p = clamp32(ceil(ratio));
        return 0;
    }
    if (within(tol, ratio)) {
        *p = in->spec_replicas;
        return 0;
    }
    if (in->pods <= 0)
        return -1; /* "no pods returned by selector while calculating replica count" */
    *p = clamp32(ceil(ratio * (double)in->ready_pods));
    return 0;
}

/* computeReplicasForMetrics (§5.4): the largest proposal into *out. False
 * when every metric failed, or some failed and the rest would scale down. */
static bool compute_metrics(const struct hpa_spec *h, const struct hpa_input *in,
                            struct hpa_status *status, struct hpa_decision *d, size_t *best,
                            int32_t *out)
{
    struct tolerances tol = tolerances_of(h);
    int32_t replicas = 0;
    size_t invalid = 0;
    status->has_metrics = true;
    for (size_t i = 0; i < h->n_metrics; i++) {
        const struct hpa_metric_spec *m = &h->metrics[i];
        const struct hpa_sample *s = &in->samples[i];
        struct hpa_metric_status *ms = &status->metrics[i];
        int32_t p = -1;
        ms->known = false;
        d->proposals[i] = -1;
        if (!s->ok) {
            invalid++;
            continue;
        }
        if (m->type == SO_AVERAGE_VALUE) {
            p = per_pod_proposal(tol, s->total_milli, m->target_milli, in->status_replicas,
                                 &ms->current_milli);
        } else if (value_proposal(tol, in, s->total_milli, m->target_milli, &p) == 0) {
            ms->current_milli = s->total_milli;
        } else {
            invalid++;
            continue;
        }
        ms->known = true;
        d->proposals[i] = p;
        if (replicas == 0 || p > replicas) {
            replicas = p;
            *best = i;
        }
    }
    *out = replicas;
    return !(invalid >= h->n_metrics || (invalid > 0 && replicas < in->spec_replicas));
}

/* ---------- recommendation history ---------- */

/* Drops recommendations that cannot change any future result: one that has a
 * newer recommendation at least as high (for the max over the scale-down
 * window) and, when a scale-up window is in use, no higher (for the min over
 * it). Slots are reused, so array order is not time order. Returns true when
 * room was made. */
static bool recs_compact(struct hpa_state *st, bool up_window)
{
    bool keep[HPA_RECS_MAX];
    for (size_t i = 0; i < st->n_recs; i++) {
        const struct hpa_rec *a = &st->recs[i];
        keep[i] = true;
        for (size_t j = 0; j < st->n_recs && keep[i]; j++) {
            const struct hpa_rec *b = &st->recs[j];
            bool newer = b->ts > a->ts || (b->ts == a->ts && j > i);
            if (newer && b->replicas >= a->replicas && (!up_window || b->replicas <= a->replicas))
                keep[i] = false;
        }
    }
    size_t out = 0;
    for (size_t i = 0; i < st->n_recs; i++) {
        if (keep[i])
            st->recs[out++] = st->recs[i];
    }
    bool made_room = out < st->n_recs;
    st->n_recs = out;
    return made_room;
}

/* Stores a recommendation: in the old slot the caller found (k8s reuses the
 * last one older than every window), else appended. */
static void recs_store(struct hpa_state *st, long old, int32_t replicas, double now, bool up_window)
{
    struct hpa_rec rec = {now, replicas};
    if (old >= 0) {
        st->recs[old] = rec;
        return;
    }
    if (st->n_recs == HPA_RECS_MAX && !recs_compact(st, up_window)) {
        /* Every entry still matters: lose the oldest, and say so. */
        size_t oldest = 0;
        for (size_t i = 1; i < st->n_recs; i++) {
            if (st->recs[i].ts < st->recs[oldest].ts)
                oldest = i;
        }
        st->recs[oldest] = st->recs[--st->n_recs];
        st->overflows++;
    }
    st->recs[st->n_recs++] = rec;
}

/* ---------- normalization without behavior (§5.5) ---------- */

static void set_limited(struct hpa_status *s, int32_t desired, int32_t stab, const char *reason)
{
    s->scaling_limited = desired == stab ? HPA_COND_FALSE : HPA_COND_TRUE;
    s->limited_reason = reason;
}

/* convertDesiredReplicasWithRules */
static int32_t legacy_rules(const struct hpa_spec *h, int32_t current, int32_t desired,
                            const char **reason)
{
    int64_t up_limit = (int64_t)fmax(2.0 * (double)current, 4.0);
    int64_t max_allowed = h->max_replicas;
    const char *limit_reason = "TooManyReplicas";
    if (h->max_replicas > up_limit) {
        max_allowed = up_limit;
        limit_reason = "ScaleUpLimit";
    }
    if (desired < h->min_replicas) {
        *reason = "TooFewReplicas";
        return h->min_replicas;
    }
    if (desired > max_allowed) {
        *reason = limit_reason;
        return (int32_t)max_allowed;
    }
    *reason = "DesiredWithinRange";
    return desired;
}

static int32_t normalize_legacy(const struct hpa_spec *h, struct hpa_state *st, double now,
                                int32_t current, int32_t desired)
{
    double cutoff = now - h->down_stabilization_s;
    int32_t stab = desired;
    long old = -1;
    for (size_t i = 0; i < st->n_recs; i++) {
        if (st->recs[i].ts < cutoff)
            old = (long)i;
        else if (st->recs[i].replicas > stab)
            stab = st->recs[i].replicas;
    }
    recs_store(st, old, desired, now, false);
    st->status.able_to_scale = HPA_COND_TRUE;
    st->status.able_reason = stab != desired ? "ScaleDownStabilized" : "ReadyForNewScale";
    const char *reason;
    int32_t out = legacy_rules(h, current, stab, &reason);
    set_limited(&st->status, out, stab, reason);
    return out;
}

/* ---------- normalization with behavior (§5.6) ---------- */

/* Sum of the changes of the events inside the last period seconds
 * (getReplicasChangePerPeriod: strictly after the cutoff). */
static int64_t change_in_period(const struct hpa_event *ev, size_t n, int32_t period, double now)
{
    double cutoff = now - period;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].ts > cutoff)
            sum += ev[i].change;
    }
    return sum;
}

/* calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors */
static int32_t policy_limit(const struct hpa_rules *r, const struct hpa_state *st, bool up,
                            int32_t current, double now)
{
    if (r->select == HPA_SELECT_DISABLED)
        return current;
    /* For scaling up, Min picks the smallest proposal; for scaling down, the
     * largest (the smallest change). Max does the opposite. */
    bool pick_low = (r->select == HPA_SELECT_MIN) == up;
    int64_t result = pick_low ? INT32_MAX : INT32_MIN;
    for (size_t i = 0; i < r->n_policies; i++) {
        const struct hpa_policy *p = &r->policies[i];
        int64_t start = (int64_t)current -
                        change_in_period(st->up, st->n_up, p->period_seconds, now) +
                        change_in_period(st->down, st->n_down, p->period_seconds, now);
        int64_t proposed;
        if (p->type == HPA_POLICY_PODS)
            proposed = up ? start + p->value : start - p->value;
        else if (up) /* rounded up, or a small percentage would never add a pod */
            proposed = clamp32(ceil((double)start * (1 + (double)p->value / 100)));
        else
            proposed = clamp32((double)start * (1 - (double)p->value / 100));
        proposed = clamp64to32(proposed);
        result = pick_low ? (proposed < result ? proposed : result)
                          : (proposed > result ? proposed : result);
    }
    return (int32_t)result;
}

/* stabilizeRecommendationWithBehaviors: clamp the current count between the
 * lowest recommendation of the scale-up window and the highest of the
 * scale-down window (both strictly after their cutoffs). */
static int32_t stabilize_behavior(const struct hpa_spec *h, struct hpa_state *st, double now,
                                  int32_t current, int32_t desired)
{
    const struct hpa_behavior *b = &h->behavior;
    double up_cut = now - b->up.window_seconds, down_cut = now - b->down.window_seconds;
    int32_t up_rec = desired, down_rec = desired;
    long old = -1;
    for (size_t i = 0; i < st->n_recs; i++) {
        const struct hpa_rec *r = &st->recs[i];
        if (r->ts > up_cut && r->replicas < up_rec)
            up_rec = r->replicas;
        if (r->ts > down_cut && r->replicas > down_rec)
            down_rec = r->replicas;
        if (r->ts < up_cut && r->ts < down_cut)
            old = (long)i;
    }
    int32_t rec = current;
    if (rec < up_rec)
        rec = up_rec;
    if (rec > down_rec)
        rec = down_rec;
    recs_store(st, old, desired, now, b->up.window_seconds > 0);
    st->status.able_to_scale = HPA_COND_TRUE;
    st->status.able_reason = rec == desired       ? "ReadyForNewScale"
                             : desired >= current ? "ScaleUpStabilized"
                                                  : "ScaleDownStabilized";
    return rec;
}

/* convertDesiredReplicasWithBehaviorRate */
static int32_t behavior_rate(const struct hpa_spec *h, const struct hpa_state *st, double now,
                             int32_t current, int32_t desired, const char **reason)
{
    *reason = "DesiredWithinRange";
    if (desired > current) {
        int32_t limit = policy_limit(&h->behavior.up, st, true, current, now);
        if (limit < current)
            limit = current; /* no more scale-up until the events expire */
        int32_t max_allowed = h->max_replicas;
        const char *why = "TooManyReplicas";
        if (max_allowed > limit) {
            max_allowed = limit;
            why = "ScaleUpLimit";
        }
        if (desired > max_allowed) {
            *reason = why;
            return max_allowed;
        }
    } else if (desired < current) {
        int32_t limit = policy_limit(&h->behavior.down, st, false, current, now);
        if (limit > current)
            limit = current;
        int32_t min_allowed = h->min_replicas;
        const char *why = "TooFewReplicas";
        if (min_allowed < limit) {
            min_allowed = limit;
            why = "ScaleDownLimit";
        }
        if (desired < min_allowed) {
            *reason = why;
            return min_allowed;
        }
    }
    return desired;
}

static int32_t normalize_behavior(const struct hpa_spec *h, struct hpa_state *st, double now,
                                  int32_t current, int32_t desired)
{
    int32_t stab = stabilize_behavior(h, st, now, current, desired);
    const char *reason;
    int32_t out = behavior_rate(h, st, now, current, stab, &reason);
    set_limited(&st->status, out, stab, reason);
    return out;
}

/* ---------- reconcile (§5.2) ---------- */

static void metrics_unknown(struct hpa_status *s)
{
    s->has_metrics = false;
    for (size_t i = 0; i < HPA_METRICS_MAX; i++)
        s->metrics[i].known = false;
}

static void bound_rescale(const struct hpa_spec *h, struct hpa_state *st, int32_t desired,
                          const char *why, struct hpa_decision *d)
{
    metrics_unknown(&st->status);
    st->status.desired_replicas = desired;
    d->rescale = true;
    d->replicas = desired;
    snprintf(d->reason, sizeof(d->reason), "%s", why);
}

int hpa_sync(const struct hpa_spec *h, struct hpa_state *st, const struct hpa_input *in,
             struct hpa_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->metric_replicas = -1;
    for (size_t i = 0; i < HPA_METRICS_MAX; i++)
        d->proposals[i] = -1;
    if (in->spec_replicas < 0 || in->status_replicas < 0 || (h->n_metrics && !in->samples))
        return -EINVAL;
    int32_t current = in->spec_replicas;
    struct hpa_status *s = &st->status;
    d->replicas = current;
    if (st->n_recs == 0)
        recs_store(st, -1, current, in->now, false);
    s->current_replicas = current;
    if (current == 0 && h->min_replicas != 0) {
        metrics_unknown(s);
        s->desired_replicas = 0;
        d->replicas = 0;
        s->scaling_active = HPA_COND_FALSE;
        s->active_reason = "ScalingDisabled";
        return 0;
    }
    if (current > h->max_replicas) {
        bound_rescale(h, st, h->max_replicas, "Current number of replicas above Spec.MaxReplicas",
                      d);
        return 0;
    }
    if (current < h->min_replicas) {
        bound_rescale(h, st, h->min_replicas, "Current number of replicas below Spec.MinReplicas",
                      d);
        return 0;
    }
    size_t best = 0;
    int32_t proposal;
    if (!compute_metrics(h, in, s, d, &best, &proposal)) {
        s->scaling_active = HPA_COND_FALSE;
        s->active_reason = "FailedGetExternalMetric";
        return 0; /* no scaling on partial data; desiredReplicas keeps its value */
    }
    s->scaling_active = HPA_COND_TRUE;
    s->active_reason = "ValidMetricFound";
    d->metric_replicas = proposal;
    int32_t desired = proposal > 0 ? proposal : 0;
    if (desired > current)
        snprintf(d->reason, sizeof(d->reason), "%s above target", h->metrics[best].name);
    else if (desired < current)
        snprintf(d->reason, sizeof(d->reason), "All metrics below target");
    desired = h->has_behavior ? normalize_behavior(h, st, in->now, current, desired)
                              : normalize_legacy(h, st, in->now, current, desired);
    s->desired_replicas = desired;
    d->replicas = desired;
    d->rescale = desired != current;
    return 0;
}

/* ---------- scale events (behavior only) ---------- */

static int32_t longest_period(const struct hpa_rules *r)
{
    int32_t longest = 0;
    for (size_t i = 0; i < r->n_policies; i++) {
        if (r->policies[i].period_seconds > longest)
            longest = r->policies[i].period_seconds;
    }
    return longest;
}

/* storeScaleEvent: mark events older than the longest period outdated, reuse
 * one outdated slot, else append. A full array merges its two oldest events
 * into the newer of them (counted in overflows). */
static void events_store(struct hpa_event *ev, size_t *n, const struct hpa_rules *r, int32_t change,
                         double now, uint32_t *overflows)
{
    double cutoff = now - longest_period(r);
    long old = -1;
    for (size_t i = 0; i < *n; i++) {
        if (ev[i].ts < cutoff)
            ev[i].outdated = true;
        if (ev[i].outdated)
            old = (long)i;
    }
    struct hpa_event e = {now, change, false};
    if (old >= 0) {
        ev[old] = e;
        return;
    }
    if (*n == HPA_EVENTS_MAX) {
        size_t a = 0, b = 1;
        for (size_t i = 0; i < *n; i++) {
            if (ev[i].ts < ev[a].ts)
                a = i;
        }
        b = a == 0 ? 1 : 0;
        for (size_t i = 0; i < *n; i++) {
            if (i != a && ev[i].ts < ev[b].ts)
                b = i;
        }
        ev[b].change += ev[a].change;
        ev[a] = ev[--*n];
        (*overflows)++;
    }
    ev[(*n)++] = e;
}

void hpa_scaled(const struct hpa_spec *h, struct hpa_state *st, int32_t prev, int32_t next,
                double now)
{
    st->status.has_last_scale = true;
    st->status.last_scale_time = now;
    st->status.able_to_scale = HPA_COND_TRUE;
    st->status.able_reason = "SucceededRescale";
    if (!h->has_behavior)
        return; /* events are only kept when the HPA has a behavior */
    if (next > prev)
        events_store(st->up, &st->n_up, &h->behavior.up, next - prev, now, &st->overflows);
    else
        events_store(st->down, &st->n_down, &h->behavior.down, prev - next, now, &st->overflows);
}
