/* autoscaler: the live loop (autoscaler.h). Timers start query rounds, a
 * round's trigger results go through the pure policy of scale/, and the
 * policy's decisions are written to the targets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/autoscaler.h"
#include "base/log.h"
#include "base/util.h"

/* ebb_autoscaler_replica_ready_seconds: from a replica's start to its first
 * passed readiness probe. vLLM loads weights for tens of seconds to minutes. */
static const double ready_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};

static void round_begin(struct as_object *o, enum as_round kind);
static void object_arm(struct as_object *o);

void as_options_defaults(struct as_options *o)
{
    o->hpa_sync_period = HPA_SYNC_PERIOD_S;
    o->tolerance = HPA_TOLERANCE_DEFAULT;
    o->down_stabilization = HPA_DOWN_STABILIZATION_DEFAULT_S;
    o->keda_strict = false;
    o->local_query = NULL;
    o->local_ud = NULL;
    o->on_event = NULL;
    o->on_round = NULL;
    o->hooks_ud = NULL;
}

static void cond_set(struct as_condition *c, const char *status, const char *reason)
{
    c->status = status;
    c->reason = reason;
}

static int object_init(struct autoscaler *as, struct as_object *o,
                       const struct cfg_scaled_object *so, double now, char *err, size_t errlen)
{
    o->as = as;
    o->cfg = so;
    o->spec = so->spec;
    o->created = now;
    if (o->spec.has_modifiers) {
        char ferr[FORMULA_ERR_MAX];
        if (so_formula_compile(&o->spec, &o->formula, ferr, sizeof(ferr)) < 0) {
            snprintf(err, errlen, "scaledobject %s/%s: scalingModifiers.formula: %s",
                     so->namespace_, so->spec.name, ferr);
            return -EINVAL;
        }
        o->has_formula = true;
    }
    if (hpa_spec_from_so(&o->spec, &o->hpa) < 0) {
        snprintf(err, errlen, "scaledobject %s/%s: cannot build its HPA", so->namespace_,
                 so->spec.name);
        return -EINVAL;
    }
    o->hpa.tolerance = as->opts.tolerance;
    o->hpa.down_stabilization_s = as->opts.down_stabilization;
    hpa_state_init(&o->hpa_state);
    keda_state_init(&o->keda, now);
    for (size_t i = 0; i < o->spec.n_triggers; i++)
        snprintf(o->triggers[i].metric_name, sizeof(o->triggers[i].metric_name), "s%zu-%s", i,
                 o->spec.triggers[i].type);
    /* KEDA's conditions right after the ScaledObject is reconciled. */
    cond_set(&o->ready, "True", "ScaledObjectReady");
    cond_set(&o->active, "False", "ScalerNotActive");
    cond_set(&o->fallback, "False", "NoFallbackFound");
    if (o->spec.pause.paused || o->spec.pause.has_paused_replicas)
        cond_set(&o->paused, "True", "ScaledObjectPaused");
    else
        cond_set(&o->paused, "False", "ScaledObjectUnpaused");
    o->desired = -1;
    return 0;
}

/* Room for one more object. 0, -ENOSPC or -ENOMEM. */
static int objs_reserve(struct autoscaler *as)
{
    if (as->n_objs < as->cap_objs)
        return 0;
    if (as->n_objs >= AS_OBJECTS_MAX)
        return -ENOSPC;
    size_t cap = as->cap_objs ? 2 * as->cap_objs : 8;
    struct as_object **a = realloc(as->objs, cap * sizeof(*a));
    if (!a)
        return -ENOMEM;
    as->objs = a;
    as->cap_objs = cap;
    return 0;
}

static void objs_free(struct autoscaler *as)
{
    for (size_t i = 0; i < as->n_objs; i++)
        free(as->objs[i]);
    free(as->objs);
    as->objs = NULL;
    as->n_objs = as->cap_objs = 0;
}

int autoscaler_init(struct autoscaler *as, uv_loop_t *loop, const struct config *cfg,
                    const struct as_options *opts, char *err, size_t errlen)
{
    memset(as, 0, sizeof(*as));
    as->loop = loop;
    as->cfg = cfg;
    as->opts = *opts;
    as->started_at = wall_time();
    prom_histogram_init(&as->ready_seconds, ready_bounds, ARRAY_SIZE(ready_bounds),
                        as->ready_cells);
    if (cfg && cfg->n_sos == 0) {
        snprintf(err, errlen, "no ScaledObject to run");
        return -EINVAL;
    }
    for (size_t i = 0; cfg && i < cfg->n_sos; i++) {
        struct as_object *o = calloc(1, sizeof(*o));
        int rc = o ? objs_reserve(as) : -ENOMEM;
        if (rc == 0)
            rc = object_init(as, o, cfg->sos[i], as->started_at, err, errlen);
        if (rc < 0) {
            if (rc != -EINVAL)
                snprintf(err, errlen, "%s",
                         rc == -ENOSPC ? "too many ScaledObjects" : "out of memory");
            free(o);
            objs_free(as); /* no timer is initialized before the first start */
            return rc;
        }
        as->objs[as->n_objs++] = o;
    }
    int rc = fetcher_init(&as->fetcher, loop);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the HTTP client: %s", strerror(-rc));
        objs_free(as);
        return rc;
    }
    return 0;
}

struct as_object *autoscaler_add(struct autoscaler *as, const struct cfg_scaled_object *so,
                                 struct as_target target, void *data, double created,
                                 double last_active, char *err, size_t errlen)
{
    if (as->stopping) {
        snprintf(err, errlen, "the autoscaler is stopping");
        return NULL;
    }
    int rc = objs_reserve(as);
    if (rc < 0) {
        snprintf(err, errlen, rc == -ENOSPC ? "more than %d ScaledObjects" : "out of memory",
                 AS_OBJECTS_MAX);
        return NULL;
    }
    struct as_object *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (object_init(as, o, so, created, err, errlen) < 0) {
        free(o);
        return NULL;
    }
    o->target = target;
    o->data = data;
    if (last_active > 0) {
        o->keda.has_last_active = true;
        o->keda.last_active = last_active;
    }
    as->objs[as->n_objs++] = o;
    if (as->started)
        object_arm(o);
    return o;
}

void autoscaler_bind(struct autoscaler *as, size_t i, struct as_target target)
{
    as->objs[i]->target = target;
}

long autoscaler_find_target(const struct autoscaler *as, const char *target_name)
{
    for (size_t i = 0; i < as->n_objs; i++)
        if (strcmp(as->objs[i]->spec.target_name, target_name) == 0)
            return (long)i;
    return -1;
}

void autoscaler_observe_ready(struct autoscaler *as, double start_to_ready)
{
    prom_histogram_observe(&as->ready_seconds, start_to_ready);
}

/* ---- writing replicas ------------------------------------------------- */

static const char *so_ns(const struct as_object *o)
{
    return o->cfg->namespace_;
}

static void record_event(struct as_object *o, int32_t from, int32_t to, const char *source,
                         const char *reason, bool failed)
{
    struct as_event *e = &o->events[o->n_events % AS_EVENTS_MAX];
    o->n_events++;
    e->at = wall_time();
    e->from = from;
    e->to = to;
    e->source = source;
    e->failed = failed;
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
    const struct as_options *op = &o->as->opts;
    if (op->on_event)
        op->on_event(op->hooks_ud, so_ns(o), o->spec.name, e);
}

/* A write ended (err NULL: it worked): logged, kept as an event, and the
 * deciding round's bookkeeping done — lastActiveTime for a poll (KEDA sets
 * it only after a successful scale), the HPA's scale events for a sync. */
static void write_end(struct as_object *o, const char *err)
{
    const struct as_write *w = &o->write;
    o->writing = false;
    if (err) {
        log_error("scaledobject %s/%s: cannot scale %s %s from %d to %d (%s: %s): %s", so_ns(o),
                  o->spec.name, o->spec.target_kind, o->spec.target_name, w->from, w->to,
                  w->source, w->reason, err);
        char why[160];
        snprintf(why, sizeof(why), "%.60s failed: %.90s", w->reason, err);
        o->target_errors++;
        record_event(o, w->from, w->to, w->source, why, true);
    } else {
        log_info("scaledobject %s/%s: %s %s scaled from %d to %d replicas (%s: %s)", so_ns(o),
                 o->spec.name, o->spec.target_kind, o->spec.target_name, w->from, w->to,
                 w->source, w->reason);
        record_event(o, w->from, w->to, w->source, w->reason, false);
        o->desired = w->to;
        if (w->to > w->from)
            o->scale_ups++;
        else
            o->scale_downs++;
    }
    if (w->kind == AS_ROUND_POLL)
        keda_commit(&o->keda, &o->decision, err == NULL, w->now);
    else if (!err)
        hpa_scaled(&o->hpa, &o->hpa_state, w->from, w->to, w->now);
}

static void round_finish(struct as_object *o);

static void on_written(void *ud, const char *err)
{
    struct as_object *o = ud;
    if (!o->writing)
        return;
    write_end(o, err);
    round_finish(o);
}

/* Sets the target's replicas for the round in flight. True when the write
 * is still in flight (an asynchronous target): the round ends in
 * on_written. Else the write is over (write_end has run). */
static bool write_replicas(struct as_object *o, int32_t from, int32_t to, const char *source,
                           const char *reason, double now)
{
    o->write = (struct as_write){.kind = o->round, .from = from, .to = to, .source = source,
                                 .now = now};
    snprintf(o->write.reason, sizeof(o->write.reason), "%s", reason);
    o->writing = true;
    const struct as_target_ops *ops = o->target.ops;
    if (ops->scale_async) {
        int rc = ops->scale_async(o->target.t, from, to, on_written, o);
        if (rc == 0)
            return true;
        write_end(o, strerror(-rc));
        return false;
    }
    char err[256] = "";
    int rc = ops->scale(o->target.t, to, err, sizeof(err));
    write_end(o, rc < 0 ? (err[0] ? err : strerror(-rc)) : NULL);
    return false;
}

/* ---- applying a round -------------------------------------------------- */

static struct keda_input keda_input_now(const struct as_object *o, double now)
{
    struct keda_input in = {
        .now = now,
        .current = o->target.ops->spec_replicas(o->target.t),
        .ready_pods = o->target.ops->ready_replicas(o->target.t),
        .samples = o->samples,
    };
    return in;
}

static void note_trigger_metrics(struct as_object *o, const struct keda_decision *d)
{
    for (size_t i = 0; i < d->n_triggers && i < o->spec.n_triggers; i++) {
        const struct keda_trigger_result *t = &d->triggers[i];
        struct as_trigger_state *ts = &o->triggers[i];
        ts->active = t->active;
        ts->has_metric = !t->error && !t->nil;
        if (ts->has_metric)
            ts->metric_value = (double)t->milli / 1000.0;
    }
}

static void update_conditions(struct as_object *o, const struct keda_decision *d)
{
    static const char *const names[] = {[KEDA_COND_TRUE] = "True", [KEDA_COND_FALSE] = "False",
                                        [KEDA_COND_UNKNOWN] = "Unknown"};
    if (d->ready != KEDA_COND_KEEP)
        cond_set(&o->ready, names[d->ready], d->ready_reason);
    if (d->active_cond != KEDA_COND_KEEP)
        cond_set(&o->active, names[d->active_cond], d->active_reason);
    if (d->fallback)
        cond_set(&o->fallback, "True", "FallbackExists");
    else
        cond_set(&o->fallback, "False", "NoFallbackFound");
}

/* KEDA's poll: getScaledObjectState then RequestScale (spec §4.2, §4.3).
 * True when a write is in flight. */
static bool poll_apply(struct as_object *o, double now)
{
    struct keda_input in = keda_input_now(o, now);
    struct keda_decision d;
    bool held = o->held_demand;
    o->held_demand = false;
    /* Requests held at the router are demand the metrics cannot show yet
     * (no replica is there to count them): this poll treats the object as
     * force-activated, which scales it from zero and nothing else. */
    bool forced = held && in.current == 0 && !o->spec.pause.force_activation;
    if (forced)
        o->spec.pause.force_activation = true;
    int rc = keda_poll(&o->spec, o->has_formula ? &o->formula : NULL, &o->keda, &in, &d);
    if (forced)
        o->spec.pause.force_activation = false;
    if (rc < 0) {
        log_error("scaledobject %s/%s: the policy refused its inputs (%s)", so_ns(o),
                  o->spec.name, strerror(-rc));
        return false;
    }
    if (d.error)
        o->errors_total++;
    note_trigger_metrics(o, &d);
    update_conditions(o, &d);
    o->decision = d;
    o->has_decision = true;
    if (o->desired < 0)
        o->desired = in.current;
    if (d.action == KEDA_SCALE && d.replicas != in.current)
        return write_replicas(o, in.current, d.replicas, "keda",
                              forced ? "ScaleFromZero (requests held)" : d.reason, now);
    keda_commit(&o->keda, &d, true, now);
    return false;
}

/* The HPA's sync on the External metrics KEDA serves (spec §4.4, §5.2).
 * True when a write is in flight. */
static bool hpa_apply(struct as_object *o, double now)
{
    if (!so_hpa_enabled(&o->spec))
        return false;
    struct keda_input in = keda_input_now(o, now);
    struct hpa_sample hs[HPA_METRICS_MAX];
    size_t n = 0;
    const struct formula *f = o->has_formula ? &o->formula : NULL;
    if (keda_hpa_metrics(&o->spec, f, &o->keda, &in, hs, HPA_METRICS_MAX, &n) < 0) {
        log_error("scaledobject %s/%s: cannot compute the HPA's metrics", so_ns(o), o->spec.name);
        return false;
    }
    /* The HPA path counts failures too, and KEDA updates the condition there. */
    if (keda_fallback_active(&o->spec, &o->keda))
        cond_set(&o->fallback, "True", "FallbackExists");
    else
        cond_set(&o->fallback, "False", "NoFallbackFound");
    for (size_t i = 0; i < n && !o->has_formula && i < o->spec.n_triggers; i++)
        if (hs[i].ok) {
            o->triggers[i].has_metric = true;
            o->triggers[i].metric_value = (double)hs[i].total_milli / 1000.0;
        }
    int32_t status = o->target.ops->status_replicas(o->target.t);
    struct hpa_input hi = {
        .now = now,
        .spec_replicas = in.current,
        .status_replicas = status,
        .pods = status,
        .ready_pods = in.ready_pods,
        .samples = hs,
    };
    struct hpa_decision hd;
    if (hpa_sync(&o->hpa, &o->hpa_state, &hi, &hd) < 0) {
        log_error("scaledobject %s/%s: the HPA refused its inputs", so_ns(o), o->spec.name);
        return false;
    }
    o->hpa_decision = hd;
    o->has_hpa_decision = true;
    if (hd.rescale && hd.replicas != in.current)
        return write_replicas(o, in.current, hd.replicas, "hpa", hd.reason, now);
    return false;
}

/* ---- query rounds ------------------------------------------------------ */

/* The round in flight is over (its write too): the hooks hear of it, and a
 * round that came due meanwhile starts. */
static void round_finish(struct as_object *o)
{
    o->round = AS_ROUND_NONE;
    if (o->as->stopping || o->removed)
        return;
    const struct as_options *op = &o->as->opts;
    if (op->on_round)
        op->on_round(op->hooks_ud, o);
    if (o->poll_due) {
        o->poll_due = false;
        round_begin(o, AS_ROUND_POLL);
    } else if (o->hpa_due) {
        o->hpa_due = false;
        round_begin(o, AS_ROUND_HPA);
    }
}

/* Every query (and the target's refresh) of the round has answered. */
static void round_end(struct as_object *o)
{
    if (o->as->stopping || o->removed) {
        o->round = AS_ROUND_NONE;
        return;
    }
    double now = wall_time();
    bool writing = false;
    if (o->target_err[0])
        log_debug("scaledobject %s/%s: no decision this round: the target's replicas are not "
                  "known",
                  so_ns(o), o->spec.name);
    else if (o->round == AS_ROUND_POLL)
        writing = poll_apply(o, now);
    else
        writing = hpa_apply(o, now);
    if (!writing)
        round_finish(o);
}

static void on_refreshed(void *ud, const char *err)
{
    struct as_object *o = ud;
    if (!o->refreshing)
        return;
    o->refreshing = false;
    if (err) {
        if (!o->target_err[0])
            log_warn("scaledobject %s/%s: cannot read %s %s's replicas; no scaling until it can: "
                     "%s",
                     so_ns(o), o->spec.name, o->spec.target_kind, o->spec.target_name, err);
        snprintf(o->target_err, sizeof(o->target_err), "%s", err);
        o->target_errors++;
    } else {
        if (o->target_err[0])
            log_info("scaledobject %s/%s: %s %s's replicas can be read again", so_ns(o),
                     o->spec.name, o->spec.target_kind, o->spec.target_name);
        o->target_err[0] = '\0';
    }
    if (--o->pending == 0)
        round_end(o);
}

static void on_trigger_done(void *ud, const struct trigger_result *r)
{
    struct as_trigger_state *ts = ud;
    struct as_object *o = ts->obj;
    size_t i = (size_t)(ts - o->triggers);
    o->polls[i] = NULL;
    bool was_summed = ts->polled && ts->last.answer.summed;
    ts->last = *r;
    ts->at = wall_time();
    ts->polled = true;
    o->samples[i] = r->sample;
    if (!r->sample.ok) {
        ts->errors_total++;
        log_warn("scaledobject %s/%s: trigger %zu (%s) failed after %d attempt%s: %s", so_ns(o),
                 o->spec.name, i, ts->metric_name, r->attempts, r->attempts == 1 ? "" : "s",
                 r->answer.err);
    }
    if (r->sample.ok && r->answer.empty)
        ts->empty_total++;
    if (r->answer.summed && !was_summed)
        log_warn("scaledobject %s/%s: trigger %zu's query returned %zu series; ebb sums them "
                 "(KEDA would fail: --keda-strict)",
                 so_ns(o), o->spec.name, i, r->answer.nseries);
    if (--o->pending == 0)
        round_end(o);
}

/* Reads the target again (targets behind an API) as part of the round. */
static void refresh_begin(struct as_object *o)
{
    const struct as_target_ops *ops = o->target.ops;
    if (!ops->refresh)
        return;
    o->pending++;
    o->refreshing = true;
    int rc = ops->refresh(o->target.t, on_refreshed, o);
    if (rc < 0) {
        o->pending--;
        o->refreshing = false;
        snprintf(o->target_err, sizeof(o->target_err), "cannot read the target: %s",
                 strerror(-rc));
        o->target_errors++;
    }
}

static void round_begin(struct as_object *o, enum as_round kind)
{
    if (o->round != AS_ROUND_NONE) {
        if (kind == AS_ROUND_POLL)
            o->poll_due = true;
        else
            o->hpa_due = true;
        return;
    }
    double now = wall_time();
    o->round = kind;
    o->round_started = now;
    o->pending = 1; /* held until every query has started, so none ends the round early */
    refresh_begin(o);
    for (size_t i = 0; i < o->spec.n_triggers; i++) {
        const struct cfg_trigger *t = &o->cfg->triggers[i];
        struct as_trigger_state *ts = &o->triggers[i];
        ts->obj = o;
        if (!t->is_prometheus) {
            /* cpu and memory: HPA Resource metrics, ignored here (config.md). */
            o->samples[i] = (struct keda_sample){.ok = true, .value = 0};
            continue;
        }
        if (kind == AS_ROUND_HPA && o->spec.triggers[i].use_cached_metrics && ts->polled)
            continue; /* the last poll's sample stands (useCachedMetrics) */
        o->pending++;
        if (o->as->opts.local_query) {
            struct trigger_result r;
            o->as->opts.local_query(o->as->opts.local_ud, t, now, o->as->opts.keda_strict, &r);
            on_trigger_done(ts, &r); /* the round is held open by pending's extra 1 */
            continue;
        }
        int rc = trigger_poll_start(&o->as->fetcher, t, now, o->as->opts.keda_strict,
                                    on_trigger_done, ts, &o->polls[i]);
        if (rc < 0) {
            o->pending--;
            o->samples[i] = (struct keda_sample){.ok = false};
            ts->errors_total++;
            log_error("scaledobject %s/%s: cannot start trigger %zu's query: %s", so_ns(o),
                      o->spec.name, i, strerror(-rc));
        }
    }
    if (--o->pending == 0)
        round_end(o);
}

static void on_poll_timer(uv_timer_t *t)
{
    struct as_object *o = t->data;
    double now = wall_time();
    if (o->next_poll_at > 0)
        o->loop_lateness = now > o->next_poll_at ? now - o->next_poll_at : 0;
    o->next_poll_at = now + o->spec.polling_interval;
    round_begin(o, AS_ROUND_POLL);
}

static void on_hpa_timer(uv_timer_t *t)
{
    round_begin(t->data, AS_ROUND_HPA);
}

/* Starts o's timers (initialized at its first start): the first poll at
 * once, unless the object is paused without paused-replicas. */
static void object_arm(struct as_object *o)
{
    struct autoscaler *as = o->as;
    if (!o->timers_up) {
        uv_timer_init(as->loop, &o->poll_timer);
        uv_timer_init(as->loop, &o->hpa_timer);
        o->poll_timer.data = o->hpa_timer.data = o;
        o->timers_up = true;
    }
    if (o->spec.pause.paused && !o->spec.pause.has_paused_replicas) {
        log_info("scaledobject %s/%s is paused (autoscaling.keda.sh/paused)", so_ns(o),
                 o->spec.name);
        return;
    }
    uint64_t hpa_ms = (uint64_t)(as->opts.hpa_sync_period * 1000);
    uint64_t poll_ms = (uint64_t)o->spec.polling_interval * 1000;
    uv_timer_start(&o->poll_timer, on_poll_timer, 0, poll_ms);
    if (so_hpa_enabled(&o->spec))
        uv_timer_start(&o->hpa_timer, on_hpa_timer, hpa_ms, hpa_ms);
    log_info("scaledobject %s/%s: scaling %s %s every %ds (HPA %s every %.0fs), min %d max %d",
             so_ns(o), o->spec.name, o->spec.target_kind, o->spec.target_name,
             o->spec.polling_interval, o->hpa.name, as->opts.hpa_sync_period,
             so_min_replicas(&o->spec), o->hpa.max_replicas);
}

int autoscaler_start(struct autoscaler *as)
{
    if (as->started || as->stopping)
        return as->started ? 0 : -EINVAL;
    for (size_t i = 0; i < as->n_objs; i++)
        if (!as->objs[i]->target.ops) {
            log_error("scaledobject %s/%s has no target", so_ns(as->objs[i]),
                      as->objs[i]->spec.name);
            return -EINVAL;
        }
    for (size_t i = 0; i < as->n_objs; i++)
        object_arm(as->objs[i]);
    as->started = true;
    return 0;
}

void autoscaler_evaluate_now(struct autoscaler *as, size_t i, bool held)
{
    if (i >= as->n_objs || !as->started || as->stopping)
        return;
    struct as_object *o = as->objs[i];
    if (!uv_is_active((uv_handle_t *)&o->poll_timer))
        return; /* paused */
    o->held_demand = o->held_demand || held;
    /* The polling interval restarts from now, as if this were a tick. */
    on_poll_timer(&o->poll_timer);
    uint64_t poll_ms = (uint64_t)o->spec.polling_interval * 1000;
    uv_timer_start(&o->poll_timer, on_poll_timer, poll_ms, poll_ms);
}

/* ---- stopping ---------------------------------------------------------- */

/* Ends what o has in flight: queries, the target's read and write (their
 * callbacks will not run), and the round. */
static void object_quiesce(struct as_object *o)
{
    for (size_t k = 0; k < SO_TRIGGERS_MAX; k++)
        if (o->polls[k]) {
            trigger_poll_cancel(o->polls[k]);
            o->polls[k] = NULL;
        }
    if ((o->refreshing || o->writing) && o->target.ops && o->target.ops->cancel)
        o->target.ops->cancel(o->target.t);
    o->refreshing = o->writing = false;
    o->round = AS_ROUND_NONE;
    o->poll_due = o->hpa_due = false;
    o->pending = 0;
    if (o->timers_up) {
        uv_timer_stop(&o->poll_timer);
        uv_timer_stop(&o->hpa_timer);
    }
}

void autoscaler_suspend(struct autoscaler *as)
{
    if (!as->started || as->stopping)
        return;
    for (size_t i = 0; i < as->n_objs; i++)
        object_quiesce(as->objs[i]);
    as->started = false;
}

static void maybe_stopped(struct autoscaler *as)
{
    if (as->closing == 0 && as->on_stopped) {
        void (*cb)(struct autoscaler *) = as->on_stopped;
        as->on_stopped = NULL;
        cb(as);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct as_object *o = h->data;
    struct autoscaler *as = o->as;
    as->closing--;
    if (--o->closing == 0 && o->removed)
        free(o);
    maybe_stopped(as);
}

/* Closes o's timers (when it has them); true when a close is under way. */
static bool object_close(struct as_object *o)
{
    if (!o->timers_up)
        return false;
    o->as->closing += 2;
    o->closing += 2;
    uv_close((uv_handle_t *)&o->poll_timer, on_timer_closed);
    uv_close((uv_handle_t *)&o->hpa_timer, on_timer_closed);
    o->timers_up = false;
    return true;
}

void autoscaler_remove(struct autoscaler *as, struct as_object *o)
{
    size_t i = 0;
    while (i < as->n_objs && as->objs[i] != o)
        i++;
    if (i == as->n_objs)
        return;
    memmove(&as->objs[i], &as->objs[i + 1], (as->n_objs - i - 1) * sizeof(*as->objs));
    as->n_objs--;
    object_quiesce(o);
    o->removed = true;
    log_info("scaledobject %s/%s: no longer scaled (%s %s left as it is)", so_ns(o), o->spec.name,
             o->spec.target_kind, o->spec.target_name);
    if (!object_close(o))
        free(o);
}

static void on_fetcher_closed(struct fetcher *f)
{
    struct autoscaler *as = f->data;
    as->closing--;
    maybe_stopped(as);
}

void autoscaler_stop(struct autoscaler *as, void (*on_stopped)(struct autoscaler *as))
{
    as->stopping = true;
    as->on_stopped = on_stopped;
    as->closing++; /* held until every close has been asked for */
    for (size_t i = 0; i < as->n_objs; i++) {
        object_quiesce(as->objs[i]);
        object_close(as->objs[i]);
    }
    as->closing++;
    as->fetcher.data = as;
    fetcher_close(&as->fetcher, on_fetcher_closed);
    as->closing--;
    maybe_stopped(as);
}

void autoscaler_release(struct autoscaler *as)
{
    objs_free(as);
}
