/* keda: the KEDA operator's scale decisions. See keda.h. Functions follow
 * KEDA's (pkg/scaling/scale_handler.go, pkg/fallback/fallback.go,
 * pkg/scaling/modifiers/formula.go, pkg/scaling/executor/scale_scaledobjects.go). */
#include "scale/keda.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scale/quantity.h"

void keda_state_init(struct keda_state *st, double created)
{
    memset(st, 0, sizeof(*st));
    st->created = created;
}

/* ---------- fallback (§4.6) ---------- */

/* The replica count fallback stands for (doFallback's switch). */
static double fallback_replicas(const struct so_spec *so, int32_t current)
{
    int32_t fb = so->fallback.replicas;
    switch (so->fallback.behavior) {
    case SO_FALLBACK_CURRENT_REPLICAS: return current;
    case SO_FALLBACK_CURRENT_IF_HIGHER: return current > fb ? current : fb;
    case SO_FALLBACK_CURRENT_IF_LOWER: return current < fb ? current : fb;
    default: return fb;
    }
}

/* The target fallback normalizes by: the HPA's target of the trigger (its
 * threshold as the HPA holds it), or with modifiers the integer target. */
static double modifiers_target(const struct so_spec *so)
{
    double v = 0;
    so_parse_float(so->modifiers.target, &v); /* a whole number: so_fallback_enabled */
    return v;
}

static double fallback_target(const struct so_spec *so, const struct so_trigger *t)
{
    if (so->has_modifiers)
        return modifiers_target(so);
    return quantity_milli_to_double(quantity_milli_from_double(t->threshold));
}

static int64_t milli_of(double v)
{
    /* Go's int64() of a float: truncation toward zero. */
    if (!(v > -9.2e18 && v < 9.2e18))
        return v > 0 ? INT64_MAX : v < 0 ? INT64_MIN : 0;
    return (int64_t)v;
}

/* One trigger through the scaler's result and GetMetricsWithFallback. Shared
 * by the poll and the HPA paths, which both count failures. */
static void eval_trigger(const struct so_spec *so, struct keda_state *st, size_t i,
                         const struct keda_input *in, struct keda_trigger_result *r)
{
    const struct so_trigger *t = &so->triggers[i];
    const struct keda_sample *s = &in->samples[i];
    bool fb = so_fallback_enabled(so);
    memset(r, 0, sizeof(*r));
    if (s->ok) {
        if (fb)
            st->failures[i] = 0;
        r->milli = quantity_milli_from_double(s->value);
        r->active = s->value > t->activation_threshold; /* the raw value (§3.5) */
        return;
    }
    if (fb && st->failures[i] < INT32_MAX)
        st->failures[i]++;
    if (!fb || st->failures[i] <= so->fallback.failure_threshold) {
        r->error = true;
        return;
    }
    r->fallback = true;
    r->active = true; /* since v2.19.0 fallback also activates (#7239) */
    if (so->fallback.behavior == SO_FALLBACK_SCALING_MODIFIERS) {
        r->nil = true; /* the formula routes around it with ?? */
        return;
    }
    double replicas = fallback_replicas(so, in->current);
    enum so_metric_type type = so->has_modifiers ? so->modifiers.metric_type : t->metric_type;
    if (type == SO_VALUE) {
        if (in->ready_pods <= 0) {
            r->error = true; /* nothing to divide by: fallback fails */
            r->fallback = r->active = false;
            return;
        }
        replicas /= in->ready_pods;
    }
    r->milli = milli_of(fallback_target(so, t) * 1000 * replicas);
}

bool keda_fallback_active(const struct so_spec *so, const struct keda_state *st)
{
    if (!so_fallback_enabled(so))
        return false;
    for (size_t i = 0; i < so->n_triggers; i++) {
        if (st->failures[i] > so->fallback.failure_threshold)
            return true;
    }
    return false;
}

/* ---------- scalingModifiers (§4.7) ---------- */

/* The composite metric: with fallback active on the HPA path (and a
 * behavior other than scalingModifiers) the first fallback metric, else the
 * formula over the triggers' metrics as the HPA would get them. */
static int composite(const struct so_spec *so, const struct formula *f,
                     const struct keda_trigger_result *tr, bool hpa_path, int64_t *milli, char *err,
                     size_t errlen)
{
    if (hpa_path && so->fallback.behavior != SO_FALLBACK_SCALING_MODIFIERS) {
        for (size_t i = 0; i < so->n_triggers; i++) {
            if (tr[i].fallback) {
                *milli = tr[i].milli;
                return 0;
            }
        }
    }
    double vals[SO_TRIGGERS_MAX], out;
    bool nils[SO_TRIGGERS_MAX], nil;
    for (size_t i = 0; i < so->n_triggers; i++) {
        vals[i] = quantity_milli_to_double(tr[i].milli); /* AsApproximateFloat64 */
        nils[i] = tr[i].nil;
    }
    int rc = formula_eval(f, vals, nils, &out, &nil, err, errlen);
    if (rc < 0)
        return rc;
    if (nil) {
        /* Every trigger in the ?? chain failed and no literal ends it:
         * fallback.replicas stands in (KEDA docs, fallback.behavior). */
        if (!so_fallback_enabled(so)) {
            snprintf(err, errlen, "formula: the formula gave nil");
            return -EDOM;
        }
        *milli = milli_of(modifiers_target(so) * 1000 * so->fallback.replicas);
        return 0;
    }
    double scaled = out * 1000;
    if (!(scaled > -9.2e18 && scaled < 9.2e18)) {
        snprintf(err, errlen, "formula: the result %g is out of range", out);
        return -EDOM;
    }
    *milli = (int64_t)scaled; /* SetMilli(int64(out * 1000)): truncation, sign kept */
    return 0;
}

/* ---------- the scale loop (§4.2, §4.3) ---------- */

static bool only_resource_triggers(const struct so_spec *so)
{
    for (size_t i = 0; i < so->n_triggers; i++) {
        if (!so_trigger_is_resource(&so->triggers[i]))
            return false;
    }
    return so->n_triggers > 0;
}

static int check_input(const struct so_spec *so, const struct formula *f,
                       const struct keda_input *in)
{
    if (in->current < 0 || in->ready_pods < 0 || !in->samples || so->n_triggers == 0 ||
        so->n_triggers > SO_TRIGGERS_MAX)
        return -EINVAL;
    if (so->has_modifiers && (!f || f->root < 0))
        return -EINVAL;
    return 0;
}

/* getScaledObjectState: every trigger, then activity and error. */
static void scaled_object_state(const struct so_spec *so, const struct formula *f,
                                struct keda_state *st, const struct keda_input *in,
                                struct keda_decision *d)
{
    d->n_triggers = so->n_triggers;
    for (size_t i = 0; i < so->n_triggers; i++) {
        if (so_trigger_is_resource(&so->triggers[i]))
            continue;
        struct keda_trigger_result *r = &d->triggers[i];
        eval_trigger(so, st, i, in, r);
        d->error = d->error || r->error;
        d->active = d->active || (!r->error && r->active);
    }
    d->fallback = keda_fallback_active(so, st);
    if (so->has_modifiers) {
        /* "when we are using formula, we need to reevaluate if it's active" */
        d->active = false;
        double act = 0;
        if (so->modifiers.activation_target[0])
            so_parse_float(so->modifiers.activation_target, &act);
        if (!d->error && composite(so, f, d->triggers, false, &d->composite_milli, d->formula_error,
                                   sizeof(d->formula_error)) == 0) {
            d->has_composite = true;
            d->active = quantity_milli_to_double(d->composite_milli) > act;
        }
    }
    if (only_resource_triggers(so) && !d->error)
        d->active = true;
}

static void keep(struct keda_decision *d, const char *reason)
{
    d->action = KEDA_KEEP;
    d->reason = reason;
}

static void scale(struct keda_decision *d, int32_t replicas, const char *reason)
{
    d->action = KEDA_SCALE;
    d->replicas = replicas;
    d->reason = reason;
}

/* scaleToZeroOrIdle: after cooldownPeriod since lastActiveTime, or
 * initialCooldownPeriod since creation when never active (strictly after). */
static void scale_to_zero_or_idle(const struct so_spec *so, const struct keda_state *st, double now,
                                  struct keda_decision *d)
{
    if (so->pause.pause_scale_in) {
        keep(d, "ScaleInPaused");
        return;
    }
    bool due = st->has_last_active ? st->last_active + so->cooldown_period < now
                                   : st->created + so->initial_cooldown_period < now;
    if (!due) {
        keep(d, "ScalerCooldown");
        d->active_cond = KEDA_COND_FALSE;
        d->active_reason = "ScalerCooldown";
        return;
    }
    if (so->has_idle_replicas)
        scale(d, so->idle_replicas, "ScaleToIdle");
    else
        scale(d, so_min_replicas(so), "ScaleToZero");
}

/* RequestScale's table, first match wins. */
static void request_scale(const struct so_spec *so, const struct keda_state *st,
                          const struct keda_input *in, struct keda_decision *d)
{
    int32_t current = in->current, min = so_min_replicas(so);
    if (!d->error) {
        d->ready = KEDA_COND_TRUE;
        d->ready_reason = "ScaledObjectReady";
    }
    d->active = d->active || so->pause.force_activation;
    d->active_cond = d->active ? KEDA_COND_TRUE : KEDA_COND_FALSE;
    d->active_reason = d->active ? "ScalerActive" : "ScalerNotActive";
    if (d->active) {
        if ((so->has_idle_replicas && current < min) || current == 0) {
            if (so->pause.pause_scale_out) {
                keep(d, "ScaleOutPaused");
                return;
            }
            scale(d, min > 0 ? min : 1, "ScaleFromZero");
            d->touch_last_active = true;
        } else if (d->error) {
            keep(d, "PartialTriggerError"); /* lastActiveTime is not refreshed */
            d->ready = KEDA_COND_UNKNOWN;
            d->ready_reason = "PartialTriggerError";
        } else {
            keep(d, "Active");
            d->touch_last_active = true;
        }
        return;
    }
    if (d->error && so->has_fallback && so->fallback.replicas != 0) {
        keep(d, "WaitingForFallback");
    } else if (d->error && !so->has_fallback) {
        keep(d, "TriggerError"); /* never scale down on errors */
        d->ready = KEDA_COND_FALSE;
        d->ready_reason = "TriggerError";
    } else if ((so->has_idle_replicas && current > so->idle_replicas) ||
               (current > 0 && min == 0)) {
        scale_to_zero_or_idle(so, st, in->now, d);
    } else if (!so->has_idle_replicas && current < min) {
        scale(d, min, "ScaleToMin");
    } else {
        keep(d, "NoChange");
    }
}

int keda_poll(const struct so_spec *so, const struct formula *f, struct keda_state *st,
              const struct keda_input *in, struct keda_decision *d)
{
    memset(d, 0, sizeof(*d));
    int rc = check_input(so, f, in);
    if (rc < 0)
        return rc;
    if (so->pause.has_paused_replicas) {
        /* The loop is stopped and the target held at the paused count. */
        if (in->current != so->pause.paused_replicas)
            scale(d, so->pause.paused_replicas, "PausedReplicas");
        else
            keep(d, "Paused");
        d->n_triggers = so->n_triggers;
        return 0;
    }
    if (so->pause.paused) {
        keep(d, "Paused");
        d->n_triggers = so->n_triggers;
        return 0;
    }
    scaled_object_state(so, f, st, in, d);
    request_scale(so, st, in, d);
    return 0;
}

void keda_commit(struct keda_state *st, const struct keda_decision *d, bool scaled, double now)
{
    if (d->touch_last_active && (d->action == KEDA_KEEP || scaled)) {
        st->has_last_active = true;
        st->last_active = now;
    }
}

/* ---------- the HPA's metrics (§4.4) ---------- */

int keda_hpa_metrics(const struct so_spec *so, const struct formula *f, struct keda_state *st,
                     const struct keda_input *in, struct hpa_sample *out, size_t cap, size_t *n)
{
    *n = 0;
    int rc = check_input(so, f, in);
    if (rc < 0)
        return rc;
    struct keda_trigger_result tr[SO_TRIGGERS_MAX];
    bool any_error = false, any_fallback = false;
    memset(tr, 0, sizeof(tr));
    for (size_t i = 0; i < so->n_triggers; i++) {
        if (so_trigger_is_resource(&so->triggers[i]))
            continue;
        eval_trigger(so, st, i, in, &tr[i]);
        any_error = any_error || tr[i].error;
        any_fallback = any_fallback || tr[i].fallback;
        if (!so->has_modifiers) {
            if (*n >= cap)
                return -ENOSPC;
            out[*n].ok = !tr[i].error;
            out[*n].total_milli = tr[i].error ? 0 : tr[i].milli;
            (*n)++;
        }
    }
    if (!so->has_modifiers)
        return 0;
    if (cap < 1)
        return -ENOSPC;
    /* "any error and no fallback active": the composite fails. With a
     * fallback active, a trigger that failed below the threshold has no
     * metric, so the formula sees it as nil. */
    for (size_t i = 0; i < so->n_triggers; i++)
        tr[i].nil = tr[i].nil || tr[i].error;
    char err[FORMULA_ERR_MAX];
    out[0].ok = (!any_error || any_fallback) &&
                composite(so, f, tr, true, &out[0].total_milli, err, sizeof(err)) == 0;
    if (!out[0].ok)
        out[0].total_milli = 0;
    *n = 1;
    return 0;
}
