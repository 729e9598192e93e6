/* timing: how long one simulated forward pass takes.
 *
 * t_step = step_base + prefill_per_token * prefill tokens
 *        + (decode context tokens * kv_bytes_per_token) / memory bandwidth
 *
 * The defaults model Llama-3.1-8B in BF16 on one H100-80GB
 * (reference/vllm-stack-spec.md §5): a 5.5 ms floor per step, 0.03 ms per
 * prefill token (a 3,000-token prompt's TTFT on an idle engine is ~0.1 s),
 * 128 KiB of KV per token read at 3 TB/s. Every constant is a flag. */
#ifndef EBB_ENGINE_TIMING_H
#define EBB_ENGINE_TIMING_H

#include "engine/sched.h"

struct timing {
    double step_base_ms;          /* fixed cost of a step */
    double prefill_ms_per_token;  /* cost of each prompt token in a step */
    double kv_bytes_per_token;    /* KV cache bytes per token (all layers) */
    double mem_bandwidth_gbps;    /* HBM bandwidth, GB/s, for reading KV while decoding */
};

void timing_defaults(struct timing *t);
/* Duration of a step of the given shape, in seconds of model time. */
double timing_step_seconds(const struct timing *t, const struct step_shape *shape);

#endif
