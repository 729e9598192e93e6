/* timing: simulated step durations. See timing.h. */
#include "engine/timing.h"

void timing_defaults(struct timing *t)
{
    t->step_base_ms = 5.5;
    t->prefill_ms_per_token = 0.03;
    t->kv_bytes_per_token = 131072; /* 2 * 32 layers * 8 KV heads * 128 dims * 2 bytes */
    t->mem_bandwidth_gbps = 3000;
}

double timing_step_seconds(const struct timing *t, const struct step_shape *shape)
{
    if (shape->nseqs == 0)
        return 0;
    double ms = t->step_base_ms + t->prefill_ms_per_token * shape->prefill_tokens;
    double kv_seconds = 0;
    if (t->mem_bandwidth_gbps > 0)
        kv_seconds = (double)shape->decode_context * t->kv_bytes_per_token /
                     (t->mem_bandwidth_gbps * 1e9);
    return ms / 1000.0 + kv_seconds;
}
