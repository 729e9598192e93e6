/* timing: the step-time model against the anchors of
 * reference/vllm-stack-spec.md §5 (Llama-3.1-8B, one H100). */
#include "unit.h"

#include "engine/timing.h"

static void idle_3000_token_prompt_ttft_is_about_100ms(void **state)
{
    struct timing t;
    timing_defaults(&t);
    struct step_shape s = {.nseqs = 1, .prefill_tokens = 3011};
    double d = timing_step_seconds(&t, &s);
    assert_true(d > 0.08 && d < 0.15);
}

static void light_decode_step_is_a_few_ms(void **state)
{
    struct timing t;
    timing_defaults(&t);
    struct step_shape s = {.nseqs = 1, .decode_seqs = 1, .decode_context = 100};
    double d = timing_step_seconds(&t, &s);
    assert_true(d > 0.005 && d < 0.008);
}

static void kv_reads_stretch_heavy_decode(void **state)
{
    /* 100 sequences of 3,000 tokens: 300k tokens * 128 KiB / 3 TB/s = 13 ms. */
    struct timing t;
    timing_defaults(&t);
    struct step_shape s = {.nseqs = 100, .decode_seqs = 100, .decode_context = 300000};
    double d = timing_step_seconds(&t, &s);
    assert_near(d, 0.0055 + 300000.0 * 131072 / 3e12, 1e-9);
}

static void tutorial_burst_drains_in_about_ten_seconds(void **state)
{
    /* 100 x 3,011 prompt tokens at 8,192 per step: ~37 full steps. */
    struct timing t;
    timing_defaults(&t);
    struct step_shape full = {.nseqs = 3, .prefill_tokens = 8192};
    double total = 37 * timing_step_seconds(&t, &full);
    assert_true(total > 8 && total < 12);
}

static void empty_step_takes_no_time(void **state)
{
    struct timing t;
    timing_defaults(&t);
    struct step_shape s = {0};
    assert_near(timing_step_seconds(&t, &s), 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_3000_token_prompt_ttft_is_about_100ms),
        cmocka_unit_test(light_decode_step_is_a_few_ms),
        cmocka_unit_test(kv_reads_stretch_heavy_decode),
        cmocka_unit_test(tutorial_burst_drains_in_about_ten_seconds),
        cmocka_unit_test(empty_step_takes_no_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
