/* metrics: vLLM's engine metrics (V1 names, types, labels and buckets;
 * reference/vllm-stack-spec.md §3), sampled from the scheduler's real state
 * at scrape time and from per-request timings as requests finish. */
#ifndef EBB_ENGINE_METRICS_H
#define EBB_ENGINE_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "engine/sched.h"
#include "prom/expo.h"

/* Histograms, in the order they are written. */
enum engine_hist {
    H_TTFT,
    H_ITL,
    H_TPOT,         /* vllm:time_per_output_token_seconds, the older name of ITL */
    H_REQ_TPOT,     /* vllm:request_time_per_output_token_seconds, one per request */
    H_E2E,
    H_QUEUE,
    H_INFERENCE,
    H_PREFILL,
    H_DECODE,
    H_PROMPT_TOKENS,
    H_GEN_TOKENS,
    H_MAX_GEN_TOKENS,
    H_PARAMS_MAX_TOKENS,
    H_PARAMS_N,
    H_COUNT
};

struct engine_metrics {
    char model_label[512]; /* 'model_name="..."', escaped */
    double created;        /* process start, for the _created series */
    uint64_t prompt_tokens, generation_tokens;
    uint64_t success[4]; /* indexed by enum finish_reason (STOP, LENGTH, ABORT) */
    struct prom_histogram hist[H_COUNT];
    uint64_t *cells;     /* bucket storage for all histograms, owned */
    double *len_buckets; /* 1-2-5 buckets up to max_model_len, owned */
    int num_gpu_blocks;
    double gpu_memory_utilization;
    int sleeping;        /* 0 awake, 1 weights offloaded (level 1), 2 discard all */
};

/* 0 or -ENOMEM. model_name is the first served model name. */
int engine_metrics_init(struct engine_metrics *m, const char *model_name, int max_model_len,
                        int num_gpu_blocks, double gpu_memory_utilization);
void engine_metrics_release(struct engine_metrics *m);

/* Records a finished (or aborted) request. Times are seconds. */
void engine_metrics_request_done(struct engine_metrics *m, const struct seq *q, int max_tokens,
                                 double now);
/* Records one inter-token interval. */
void engine_metrics_itl(struct engine_metrics *m, double seconds);

/* Writes the whole exposition for the scheduler's current state. */
int engine_metrics_render(const struct engine_metrics *m, const struct sched *s, struct buf *out);

#endif
