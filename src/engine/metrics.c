/* metrics: vLLM engine metrics. See metrics.h.
 *
 * Left out on purpose: vllm:iteration_tokens_total, a histogram whose name
 * ends in _total, which `promtool check metrics` rejects; and the prefix
 * cache counters, since the simulator has no prefix cache. */
#include "engine/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static const double ttft_buckets[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                      0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0,
                                      20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
static const double itl_buckets[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                     0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
static const double req_time_buckets[] = {0.3,  0.5,  0.8,  1.0,   1.5,   2.0,   2.5,
                                          5.0,  10.0, 15.0, 20.0,  30.0,  40.0,  50.0,
                                          60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
static const double n_buckets[] = {1, 2, 5, 10, 20};

struct hist_def {
    const char *name;
    const char *help;
};

static const struct hist_def hist_defs[H_COUNT] = {
    [H_TTFT] = {"vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds."},
    [H_ITL] = {"vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds."},
    [H_TPOT] = {"vllm:time_per_output_token_seconds",
                "Histogram of time per output token in seconds.DEPRECATED: Use vllm:inter_token_latency_seconds instead."},
    [H_REQ_TPOT] = {"vllm:request_time_per_output_token_seconds",
                    "Histogram of time_per_output_token_seconds per request."},
    [H_E2E] = {"vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds."},
    [H_QUEUE] = {"vllm:request_queue_time_seconds",
                 "Histogram of time spent in WAITING phase for request."},
    [H_INFERENCE] = {"vllm:request_inference_time_seconds",
                     "Histogram of time spent in RUNNING phase for request."},
    [H_PREFILL] = {"vllm:request_prefill_time_seconds",
                   "Histogram of time spent in PREFILL phase for request."},
    [H_DECODE] = {"vllm:request_decode_time_seconds",
                  "Histogram of time spent in DECODE phase for request."},
    [H_PROMPT_TOKENS] = {"vllm:request_prompt_tokens",
                         "Number of prefill tokens processed."},
    [H_GEN_TOKENS] = {"vllm:request_generation_tokens", "Number of generation tokens processed."},
    [H_MAX_GEN_TOKENS] = {"vllm:request_max_num_generation_tokens",
                          "Histogram of maximum number of requested generation tokens."},
    [H_PARAMS_MAX_TOKENS] = {"vllm:request_params_max_tokens",
                             "Histogram of the max_tokens request parameter."},
    [H_PARAMS_N] = {"vllm:request_params_n", "Histogram of the n request parameter."},
};

/* vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to max_value. */
static size_t build_1_2_5(double *out, size_t cap, int max_value)
{
    static const int mant[] = {1, 2, 5};
    size_t n = 0;
    for (double exp = 1; n < cap; exp *= 10) {
        for (size_t i = 0; i < 3 && n < cap; i++) {
            double v = mant[i] * exp;
            if (v > max_value)
                return n;
            out[n++] = v;
        }
    }
    return n;
}

int engine_metrics_init(struct engine_metrics *m, const char *model_name, int max_model_len,
                        int num_gpu_blocks, double gpu_memory_utilization)
{
    memset(m, 0, sizeof(*m));
    struct buf label = BUF_INIT(sizeof(m->model_label) - 1);
    int err = buf_append_str(&label, "model_name=\"");
    if (!err)
        err = prom_escape_label(&label, model_name);
    if (!err)
        err = buf_append_str(&label, "\"");
    if (err) {
        buf_release(&label);
        return -EINVAL;
    }
    memcpy(m->model_label, label.data, label.len + 1);
    buf_release(&label);
    m->created = wall_time();
    m->num_gpu_blocks = num_gpu_blocks;
    m->gpu_memory_utilization = gpu_memory_utilization;

    m->len_buckets = calloc(32, sizeof(double));
    if (!m->len_buckets)
        return -ENOMEM;
    size_t nlen = build_1_2_5(m->len_buckets, 32, max_model_len);
    struct {
        const double *b;
        size_t n;
    } bounds[H_COUNT] = {
        [H_TTFT] = {ttft_buckets, ARRAY_SIZE(ttft_buckets)},
        [H_ITL] = {itl_buckets, ARRAY_SIZE(itl_buckets)},
        [H_TPOT] = {itl_buckets, ARRAY_SIZE(itl_buckets)},
        [H_REQ_TPOT] = {itl_buckets, ARRAY_SIZE(itl_buckets)},
        [H_E2E] = {req_time_buckets, ARRAY_SIZE(req_time_buckets)},
        [H_QUEUE] = {req_time_buckets, ARRAY_SIZE(req_time_buckets)},
        [H_INFERENCE] = {req_time_buckets, ARRAY_SIZE(req_time_buckets)},
        [H_PREFILL] = {req_time_buckets, ARRAY_SIZE(req_time_buckets)},
        [H_DECODE] = {req_time_buckets, ARRAY_SIZE(req_time_buckets)},
        [H_PROMPT_TOKENS] = {m->len_buckets, nlen},
        [H_GEN_TOKENS] = {m->len_buckets, nlen},
        [H_MAX_GEN_TOKENS] = {m->len_buckets, nlen},
        [H_PARAMS_MAX_TOKENS] = {m->len_buckets, nlen},
        [H_PARAMS_N] = {n_buckets, ARRAY_SIZE(n_buckets)},
    };
    size_t cells = 0;
    for (int i = 0; i < H_COUNT; i++)
        cells += bounds[i].n + 1;
    m->cells = calloc(cells, sizeof(uint64_t));
    if (!m->cells) {
        free(m->len_buckets);
        return -ENOMEM;
    }
    size_t at = 0;
    for (int i = 0; i < H_COUNT; i++) {
        prom_histogram_init(&m->hist[i], bounds[i].b, bounds[i].n, m->cells + at);
        at += bounds[i].n + 1;
    }
    return 0;
}

void engine_metrics_release(struct engine_metrics *m)
{
    free(m->cells);
    free(m->len_buckets);
    m->cells = NULL;
    m->len_buckets = NULL;
}

void engine_metrics_request_done(struct engine_metrics *m, const struct seq *q, int max_tokens,
                                 double now)
{
    m->success[q->finish]++;
    if (q->finish == FINISH_ABORT)
        return; /* vLLM records no latency for aborted requests */
    prom_histogram_observe(&m->hist[H_E2E], now - q->t_arrival);
    prom_histogram_observe(&m->hist[H_QUEUE], q->t_scheduled - q->t_arrival);
    prom_histogram_observe(&m->hist[H_INFERENCE], now - q->t_scheduled);
    prom_histogram_observe(&m->hist[H_PREFILL], q->t_first_token - q->t_scheduled);
    prom_histogram_observe(&m->hist[H_DECODE], q->t_last_token - q->t_first_token);
    prom_histogram_observe(&m->hist[H_PROMPT_TOKENS], q->prompt_tokens);
    prom_histogram_observe(&m->hist[H_GEN_TOKENS], q->generated);
    prom_histogram_observe(&m->hist[H_MAX_GEN_TOKENS], q->generated);
    prom_histogram_observe(&m->hist[H_PARAMS_MAX_TOKENS], max_tokens);
    prom_histogram_observe(&m->hist[H_PARAMS_N], 1);
    if (q->generated > 1)
        prom_histogram_observe(&m->hist[H_REQ_TPOT],
                               (q->t_last_token - q->t_first_token) / (q->generated - 1));
}

void engine_metrics_itl(struct engine_metrics *m, double seconds)
{
    prom_histogram_observe(&m->hist[H_ITL], seconds);
    prom_histogram_observe(&m->hist[H_TPOT], seconds);
}

/* A counter family: name_total with its value, then name_created, as
 * prometheus_client writes it. */
static int write_counter(struct buf *b, const char *base, const char *help, const char *labels,
                         double value, double created)
{
    char name[128];
    snprintf(name, sizeof(name), "%s_total", base);
    int err = prom_family(b, name, "counter", help);
    if (!err)
        err = prom_sample(b, name, labels, value);
    snprintf(name, sizeof(name), "%s_created", base);
    if (!err)
        err = prom_family(b, name, "gauge", help);
    if (!err)
        err = prom_sample(b, name, labels, created);
    return err;
}

static int write_gauge(struct buf *b, const char *name, const char *help, const char *labels,
                       double value)
{
    int err = prom_family(b, name, "gauge", help);
    if (!err)
        err = prom_sample(b, name, labels, value);
    return err;
}

int engine_metrics_render(const struct engine_metrics *m, const struct sched *s, struct buf *out)
{
    char labels[600];
    snprintf(labels, sizeof(labels), "engine=\"0\",%s", m->model_label);
    const char *L = labels;
    int err = 0;
    err = err ? err : write_gauge(out, "vllm:num_requests_running",
                                  "Number of requests in model execution batches.", L,
                                  s->running.count);
    err = err ? err : write_gauge(out, "vllm:num_requests_waiting",
                                  "Number of requests waiting to be processed.", L,
                                  s->waiting.count);
    err = err ? err : write_gauge(out, "vllm:kv_cache_usage_perc",
                                  "KV-cache usage. 1 means 100 percent usage.", L,
                                  sched_kv_usage(s));
    if (!err) {
        static const char *const states[] = {"awake", "weights_offloaded", "discard_all"};
        err = prom_family(out, "vllm:engine_sleep_state", "gauge",
                          "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means "
                          "engine is awake; weights_offloaded = 1 means sleep level 1; "
                          "discard_all = 1 means sleep level 2.");
        for (int i = 0; i < 3 && !err; i++) {
            char l[700];
            snprintf(l, sizeof(l), "%s,sleep_state=\"%s\"", L, states[i]);
            double v = i == 0 ? (m->sleeping == 0) : (m->sleeping == i);
            err = prom_sample(out, "vllm:engine_sleep_state", l, v);
        }
    }
    if (!err) {
        char info[800];
        char util[40];
        prom_format_value(m->gpu_memory_utilization, util, sizeof(util));
        snprintf(info, sizeof(info),
                 "block_size=\"%d\",cache_dtype=\"auto\",enable_prefix_caching=\"False\","
                 "engine=\"0\",gpu_memory_utilization=\"%s\",num_gpu_blocks=\"%d\"",
                 SCHED_BLOCK_SIZE, util, m->num_gpu_blocks);
        err = write_gauge(out, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
                          info, 1.0);
    }
    err = err ? err : write_counter(out, "vllm:num_preemptions", "Cumulative number of preemption from the engine.",
                                    L, (double)s->preemptions_total, m->created);
    err = err ? err : write_counter(out, "vllm:prompt_tokens", "Number of prefill tokens processed.",
                                    L, (double)m->prompt_tokens, m->created);
    err = err ? err : write_counter(out, "vllm:generation_tokens",
                                    "Number of generation tokens processed.", L,
                                    (double)m->generation_tokens, m->created);
    if (!err) {
        static const struct {
            enum finish_reason r;
            const char *name;
        } reasons[] = {{FINISH_STOP, "stop"}, {FINISH_LENGTH, "length"}, {FINISH_ABORT, "abort"}};
        err = prom_family(out, "vllm:request_success_total", "counter",
                          "Count of successfully processed requests.");
        for (size_t i = 0; i < ARRAY_SIZE(reasons) && !err; i++) {
            char l[700];
            snprintf(l, sizeof(l), "engine=\"0\",finished_reason=\"%s\",%s", reasons[i].name,
                     m->model_label);
            err = prom_sample(out, "vllm:request_success_total", l,
                              (double)m->success[reasons[i].r]);
        }
        err = err ? err : prom_family(out, "vllm:request_success_created", "gauge",
                                      "Count of successfully processed requests.");
        for (size_t i = 0; i < ARRAY_SIZE(reasons) && !err; i++) {
            char l[700];
            snprintf(l, sizeof(l), "engine=\"0\",finished_reason=\"%s\",%s", reasons[i].name,
                     m->model_label);
            err = prom_sample(out, "vllm:request_success_created", l, m->created);
        }
    }
    for (int i = 0; i < H_COUNT && !err; i++) {
        const char *name = hist_defs[i].name;
        err = prom_family(out, name, "histogram", hist_defs[i].help);
        if (!err)
            err = prom_histogram_write(out, name, "engine=\"0\"", m->model_label, &m->hist[i]);
        if (!err) {
            char created[128];
            snprintf(created, sizeof(created), "%s_created", name);
            err = prom_family(out, created, "gauge", hist_defs[i].help);
            if (!err)
                err = prom_sample(out, created, L, m->created);
        }
    }
    return err;
}
