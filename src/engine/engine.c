/* engine: lifecycle and the step loop of the simulated vLLM engine. The HTTP
 * side (routes, JSON, SSE) is in api.c. See engine.h. */
#include "engine/engine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* Steps committed per timer callback when catching up, so a busy engine
 * still lets I/O run between bursts of steps. */
#define MAX_STEPS_PER_TURN 64
/* With timing off, steps run back to back, this many per loop turn: each
 * stream then gets one write per turn instead of one per token. */
#define FAST_STEPS_PER_TURN 8

void engine_config_defaults(struct engine_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->model = "meta-llama/Llama-3.1-8B-Instruct";
    cfg->max_model_len = 131072;
    cfg->max_num_seqs = 1024;          /* vllm serve on an H100 */
    cfg->max_num_batched_tokens = 8192;
    cfg->gpu_memory_utilization = 0.9;
    cfg->gpu_memory_gib = 80;
    cfg->model_weights_gib = 15;
    cfg->activation_gib = 3;
    timing_defaults(&cfg->timing);
    cfg->time_scale = 1;
    cfg->wake_up_delay = 0.5;
    cfg->shutdown_grace = 30;
    cfg->output_len_min = 128;
    cfg->output_len_max = 512;
    cfg->error_format = "v1";
    cfg->vllm_version = "0.11.0";
    cfg->max_body_mib = 32;
}

double engine_now(void)
{
    return (double)uv_hrtime() / 1e9;
}

/* KV blocks that fit in the memory vLLM would leave for the cache. */
static int derive_blocks(const struct engine_config *c)
{
    double kv_gib = c->gpu_memory_gib * c->gpu_memory_utilization - c->model_weights_gib -
                    c->activation_gib;
    if (kv_gib <= 0)
        return 0;
    double block_bytes = c->timing.kv_bytes_per_token * SCHED_BLOCK_SIZE;
    double blocks = floor(kv_gib * 1024 * 1024 * 1024 / block_bytes);
    return blocks > (double)(1 << 28) ? 1 << 28 : (int)blocks; /* the flag's own ceiling */
}

static int split_served_names(struct engine *e, char *err, size_t errlen)
{
    const char *src = e->cfg.served_model_name && *e->cfg.served_model_name
                          ? e->cfg.served_model_name
                          : e->cfg.model;
    e->served_storage = strdup(src);
    if (!e->served_storage) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char *p = e->served_storage;
    while (p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0') {
            snprintf(err, errlen, "--served-model-name has an empty name in \"%s\"", src);
            return -EINVAL;
        }
        if (e->nserved == ENGINE_MAX_SERVED_NAMES) {
            snprintf(err, errlen, "--served-model-name takes at most %d names",
                     ENGINE_MAX_SERVED_NAMES);
            return -EINVAL;
        }
        e->served[e->nserved++] = p;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

int engine_init(struct engine *e, uv_loop_t *loop, const struct engine_config *cfg, char *err,
                size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->loop = loop;
    e->cfg = *cfg;
    struct engine_config *c = &e->cfg;
    if (!c->model || !*c->model) {
        snprintf(err, errlen, "--model must not be empty");
        return -EINVAL;
    }
    int rc = split_served_names(e, err, errlen);
    if (rc)
        return rc;
    if (c->num_gpu_blocks == 0)
        c->num_gpu_blocks = derive_blocks(c);
    long long kv_tokens = (long long)c->num_gpu_blocks * SCHED_BLOCK_SIZE;
    if (kv_tokens < c->max_model_len) {
        /* vLLM refuses to start in this case too. */
        snprintf(err, errlen,
                 "the model's max seq len (%d) is larger than the maximum number of tokens that "
                 "can be stored in KV cache (%lld); raise --gpu-memory-utilization or "
                 "--num-gpu-blocks, or lower --max-model-len",
                 c->max_model_len, kv_tokens);
        return -EINVAL;
    }
    if (c->no_chunked_prefill && c->max_num_batched_tokens < c->max_model_len) {
        snprintf(err, errlen,
                 "--max-num-batched-tokens (%d) is smaller than --max-model-len (%d) with chunked "
                 "prefill off: long prompts could never be scheduled",
                 c->max_num_batched_tokens, c->max_model_len);
        return -EINVAL;
    }
    if (c->output_len_min > c->output_len_max) {
        snprintf(err, errlen, "--output-len-min (%d) is above --output-len-max (%d)",
                 c->output_len_min, c->output_len_max);
        return -EINVAL;
    }
    struct sched_config sc = {
        .max_num_seqs = c->max_num_seqs,
        .max_num_batched_tokens = c->max_num_batched_tokens,
        .num_gpu_blocks = c->num_gpu_blocks,
        .max_model_len = c->max_model_len,
        .chunked_prefill = !c->no_chunked_prefill,
    };
    e->outs = calloc((size_t)c->max_num_seqs, sizeof(*e->outs));
    if (!e->outs || sched_init(&e->sched, &sc) ||
        engine_metrics_init(&e->metrics, e->served[0], c->max_model_len, c->num_gpu_blocks,
                            c->gpu_memory_utilization)) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    e->limits = (struct api_limits){
        .max_model_len = c->max_model_len,
        .served_names = e->served,
        .nserved = e->nserved,
        .default_max_tokens = 16,
        .natural_min = c->output_len_min,
        .natural_max = c->output_len_max,
    };
    buf_init(&e->scratch, 64 * 1024 * 1024);

    struct http_server_config hc;
    http_server_config_defaults(&hc);
    hc.host = c->host;
    hc.port = c->port;
    hc.max_body_bytes = (size_t)c->max_body_mib * 1024 * 1024;
    if (c->max_connections)
        hc.max_connections = c->max_connections;
    http_server_init(&e->http, loop, &hc, engine_handle, e);

    uv_timer_init(loop, &e->step_timer);
    uv_timer_init(loop, &e->startup_timer);
    uv_timer_init(loop, &e->wake_timer);
    uv_timer_init(loop, &e->grace_timer);
    e->step_timer.data = e->startup_timer.data = e->wake_timer.data = e->grace_timer.data = e;
    e->handles_ready = true;
    return 0;
}

/* --- the step loop ------------------------------------------------------- */

static void on_step_timer(uv_timer_t *t);

static void arm_step_timer(struct engine *e)
{
    double wait = e->step_end - engine_now();
    uint64_t ms = wait > 0 ? (uint64_t)ceil(wait * 1000) : 0;
    uv_timer_start(&e->step_timer, on_step_timer, ms, 0);
}

/* Plans a step starting at virtual time t0. Returns false when there is
 * nothing to run. */
static bool start_step(struct engine *e, double t0)
{
    if (e->sleep_level || !sched_has_work(&e->sched))
        return false;
    struct step_shape shape;
    if (sched_plan(&e->sched, t0, &shape) == 0)
        return false;
    double d = 0;
    if (e->cfg.time_scale > 0)
        d = timing_step_seconds(&e->cfg.timing, &shape) / e->cfg.time_scale;
    e->step_active = true;
    e->step_end = t0 + d;
    return true;
}

static double clamp0(double v)
{
    return v > 0 ? v : 0;
}

/* Applies the step that ended at virtual time t: counts, emits tokens,
 * finishes requests. */
static void commit_step(struct engine *e, double t)
{
    int n = sched_commit(&e->sched, t, e->outs);
    e->step_active = false;
    /* Answering a request can dispatch a pipelined one on the same
     * connection; it must wait for the next step, not plan one mid-commit. */
    e->committing = true;
    for (int i = 0; i < n; i++) {
        struct sched_output *o = &e->outs[i];
        struct engine_req *r = (struct engine_req *)o->seq;
        struct engine_metrics *m = &e->metrics;
        if (o->first) {
            m->prompt_tokens += (uint64_t)r->seq.prompt_tokens;
            prom_histogram_observe(&m->hist[H_TTFT], clamp0(t - r->seq.t_arrival));
        } else {
            engine_metrics_itl(m, clamp0(t - r->last_token_at));
        }
        m->generation_tokens++;
        r->last_token_at = t;
        if (o->finished)
            engine_metrics_request_done(m, &r->seq, r->gen.max_tokens, t);
        int rc = api_emit_token(r, o->first, o->finished); /* buffered until the turn ends */
        if (rc < 0 && !o->finished) {
            /* The client cannot take more (gone, or too far behind): stop
             * generating for it, as vLLM aborts on disconnect. */
            sched_abort(&e->sched, &r->seq);
            engine_metrics_request_done(m, &r->seq, r->gen.max_tokens, t);
            engine_req_free(r);
            continue;
        }
        if (o->finished) {
            if (rc == 0)
                api_finish(r);
            engine_req_free(r);
        }
    }
    e->committing = false;
}

void engine_mark_dirty(struct engine_req *r)
{
    struct engine *e = r->engine;
    if (r->dirty)
        return;
    r->dirty = true;
    r->dirty_prev = NULL;
    r->dirty_next = e->dirty;
    if (e->dirty)
        e->dirty->dirty_prev = r;
    e->dirty = r;
}

void engine_unmark_dirty(struct engine_req *r)
{
    if (!r->dirty)
        return;
    if (r->dirty_prev)
        r->dirty_prev->dirty_next = r->dirty_next;
    else
        r->engine->dirty = r->dirty_next;
    if (r->dirty_next)
        r->dirty_next->dirty_prev = r->dirty_prev;
    r->dirty = false;
    r->dirty_prev = r->dirty_next = NULL;
}

/* Writes every stream's events of this turn, one write per stream. A
 * stream that cannot take them (gone, or too far behind) is aborted. */
static void flush_streams(struct engine *e)
{
    while (e->dirty) {
        struct engine_req *r = e->dirty;
        engine_unmark_dirty(r);
        if (api_flush(r) < 0) {
            if (r->seq.state != SEQ_FINISHED) {
                sched_abort(&e->sched, &r->seq);
                engine_metrics_request_done(&e->metrics, &r->seq, r->gen.max_tokens, engine_now());
            }
            engine_req_free(r);
        }
    }
}

static void on_step_timer(uv_timer_t *t)
{
    struct engine *e = t->data;
    double now = engine_now();
    int max_steps = e->cfg.time_scale == 0 ? FAST_STEPS_PER_TURN : MAX_STEPS_PER_TURN;
    bool yielded = false;
    for (int steps = 0; e->step_active && e->step_end <= now + 1e-4; steps++) {
        if (steps == max_steps) {
            /* Behind real time (or timing off): let I/O run, come straight back. */
            uv_timer_start(&e->step_timer, on_step_timer, 0, 0);
            yielded = true;
            break;
        }
        double end = e->step_end;
        commit_step(e, end);
        /* The next step starts where this one ended (virtual time), unless
         * the engine sat idle in between. */
        if (!start_step(e, end > now ? now : end))
            break;
    }
    flush_streams(e);
    if (e->step_active && !yielded)
        arm_step_timer(e);
}

void engine_wake(struct engine *e)
{
    if (e->step_active || !e->ready || e->committing)
        return;
    if (start_step(e, engine_now()))
        arm_step_timer(e);
}

void engine_submit(struct engine *e, struct engine_req *r)
{
    r->next = e->reqs;
    if (e->reqs)
        e->reqs->prev = r;
    e->reqs = r;
    e->nreqs++;
    sched_add(&e->sched, &r->seq, engine_now());
    engine_wake(e);
}

void engine_req_free(struct engine_req *r)
{
    struct engine *e = r->engine;
    if (r->prev)
        r->prev->next = r->next;
    else
        e->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    e->nreqs--;
    if (r->http) {
        /* Freed with its response unfinished (the client fell behind, or
         * an error): the connection cannot be reused, so it is closed. */
        r->http->on_abort = NULL;
        r->http->data = NULL;
        http_req_close(r->http);
        r->http = NULL;
    }
    engine_unmark_dirty(r);
    gen_request_release(&r->gen);
    buf_release(&r->text);
    buf_release(&r->chunk);
    buf_release(&r->head);
    free(r);
}

/* --- start and stop ------------------------------------------------------ */

static void listen_now(struct engine *e)
{
    int err = http_server_listen(&e->http);
    if (err) {
        log_error("cannot listen on %s:%d: %s", e->cfg.host, e->cfg.port, uv_strerror(err));
        e->exit_code = 1;
        engine_stop(e, NULL);
        return;
    }
    e->ready = true;
    log_info("serving model \"%s\" on http://%s:%d (max_num_seqs=%d, max_num_batched_tokens=%d, "
             "num_gpu_blocks=%d, time_scale=%g)",
             e->served[0], e->cfg.host, e->cfg.port, e->cfg.max_num_seqs,
             e->cfg.max_num_batched_tokens, e->cfg.num_gpu_blocks, e->cfg.time_scale);
}

static void on_startup_done(uv_timer_t *t)
{
    listen_now(t->data);
}

int engine_start(struct engine *e, void (*on_stopped)(struct engine *e))
{
    e->on_stopped = on_stopped;
    if (e->cfg.startup_delay <= 0) {
        int err = http_server_listen(&e->http);
        if (err)
            return err;
        e->ready = true;
        log_info("serving model \"%s\" on http://%s:%d (max_num_seqs=%d, "
                 "max_num_batched_tokens=%d, num_gpu_blocks=%d, time_scale=%g)",
                 e->served[0], e->cfg.host, e->cfg.port, e->cfg.max_num_seqs,
                 e->cfg.max_num_batched_tokens, e->cfg.num_gpu_blocks, e->cfg.time_scale);
        return 0;
    }
    /* vLLM binds its port only after loading weights, compiling and
     * capturing CUDA graphs: until then clients get "connection refused". */
    log_info("loading model \"%s\" (simulated start-up: %g s)", e->cfg.model,
             e->cfg.startup_delay);
    uv_timer_start(&e->startup_timer, on_startup_done, (uint64_t)(e->cfg.startup_delay * 1000),
                   0);
    return 0;
}

static void on_http_empty(struct http_server *s)
{
    struct engine *e = s->ud;
    uv_timer_stop(&e->grace_timer);
    log_info("all connections closed");
    if (e->on_stopped) {
        void (*cb)(struct engine *) = e->on_stopped;
        e->on_stopped = NULL;
        cb(e);
    }
}

static void on_grace_expired(uv_timer_t *t)
{
    struct engine *e = t->data;
    log_warn("shutdown grace period of %g s is over: aborting %u in-flight requests",
             e->cfg.shutdown_grace, e->nreqs);
    http_server_close_all(&e->http);
}

void engine_stop(struct engine *e, void (*on_stopped)(struct engine *e))
{
    if (e->stopping)
        return;
    e->stopping = true;
    if (on_stopped)
        e->on_stopped = on_stopped;
    uv_timer_stop(&e->startup_timer);
    log_info("shutting down: %u requests in flight, waiting up to %g s for them", e->nreqs,
             e->cfg.shutdown_grace);
    uv_timer_start(&e->grace_timer, on_grace_expired, (uint64_t)(e->cfg.shutdown_grace * 1000), 0);
    http_server_shutdown(&e->http, on_http_empty);
}

void engine_release(struct engine *e)
{
    while (e->reqs)
        engine_req_free(e->reqs);
    if (e->handles_ready) {
        uv_close((uv_handle_t *)&e->step_timer, NULL);
        uv_close((uv_handle_t *)&e->startup_timer, NULL);
        uv_close((uv_handle_t *)&e->wake_timer, NULL);
        uv_close((uv_handle_t *)&e->grace_timer, NULL);
        e->handles_ready = false;
    }
    http_server_release(&e->http);
    sched_release(&e->sched);
    engine_metrics_release(&e->metrics);
    free(e->outs);
    free(e->served_storage);
    buf_release(&e->scratch);
}
