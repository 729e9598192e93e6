/* sched: vLLM V1 scheduling rules (reference/vllm-stack-spec.md §5), one
 * test per rule, named after it. */
#include "unit.h"

#include <limits.h>

#include "engine/sched.h"

static struct sched_config small_config(void)
{
    return (struct sched_config){
        .max_num_seqs = 4,
        .max_num_batched_tokens = 100,
        .num_gpu_blocks = 1000,
        .max_model_len = 4096,
        .chunked_prefill = true,
    };
}

static void seq_setup(struct seq *q, int prompt, int max_tokens)
{
    memset(q, 0, sizeof(*q));
    q->prompt_tokens = prompt;
    q->max_tokens = max_tokens;
    q->stop_after = INT_MAX;
}

/* Runs one whole step (plan + commit) at time t; returns outputs. */
static int step(struct sched *s, double t, struct sched_output *out, struct step_shape *shape)
{
    struct step_shape tmp;
    sched_plan(s, t, shape ? shape : &tmp);
    return sched_commit(s, t + 0.01, out);
}

static void rule_waiting_until_first_chunk_then_running(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq a;
    seq_setup(&a, 50, 5);
    sched_add(&s, &a, 0);
    assert_int_equal(s.waiting.count, 1);
    assert_int_equal(s.running.count, 0);
    struct sched_output out[8];
    struct step_shape shape;
    int n = step(&s, 0, out, &shape);
    assert_int_equal(s.waiting.count, 0);
    assert_int_equal(s.running.count, 1);
    assert_int_equal(shape.prefill_tokens, 50);
    assert_int_equal(n, 1);
    assert_true(out[0].first);
    assert_int_equal(a.generated, 1);
    sched_release(&s);
}

static void rule_chunked_prefill_splits_prompt_and_samples_after_last_chunk(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq a;
    seq_setup(&a, 250, 5);
    sched_add(&s, &a, 0);
    struct sched_output out[8];
    struct step_shape shape;
    assert_int_equal(step(&s, 0, out, &shape), 0); /* 100 of 250: no token */
    assert_int_equal(shape.prefill_tokens, 100);
    assert_int_equal(a.state, SEQ_RUNNING);       /* running while still prefilling */
    assert_int_equal(step(&s, 1, out, &shape), 0); /* 200 of 250 */
    assert_int_equal(step(&s, 2, out, &shape), 1); /* the last 50: first token */
    assert_int_equal(shape.prefill_tokens, 50);
    assert_true(out[0].first);
    assert_int_equal(a.computed, 250);
    sched_release(&s);
}

static void rule_decode_is_one_token_per_step(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq a, b;
    seq_setup(&a, 10, 100);
    seq_setup(&b, 10, 100);
    sched_add(&s, &a, 0);
    sched_add(&s, &b, 0);
    struct sched_output out[8];
    struct step_shape shape;
    step(&s, 0, out, &shape);
    int n = step(&s, 1, out, &shape);
    assert_int_equal(n, 2);
    assert_int_equal(shape.decode_seqs, 2);
    assert_int_equal(shape.prefill_tokens, 0);
    assert_int_equal(a.generated, 2);
    assert_int_equal(b.generated, 2);
    sched_release(&s);
}

static void rule_max_num_seqs_caps_running(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq q[6];
    for (int i = 0; i < 6; i++) {
        seq_setup(&q[i], 5, 100);
        sched_add(&s, &q[i], 0);
    }
    struct sched_output out[8];
    step(&s, 0, out, NULL);
    assert_int_equal(s.running.count, 4);
    assert_int_equal(s.waiting.count, 2);
    sched_release(&s);
}

static void rule_token_budget_limits_admission_fcfs(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq a, b, d;
    seq_setup(&a, 60, 10);
    seq_setup(&b, 60, 10);
    seq_setup(&d, 10, 10);
    sched_add(&s, &a, 0);
    sched_add(&s, &b, 0);
    sched_add(&s, &d, 0);
    struct sched_output out[8];
    struct step_shape shape;
    sched_plan(&s, 0, &shape);
    /* a takes 60, b gets the remaining 40 as a chunk, d waits (FCFS). */
    assert_int_equal(a.step_tokens, 60);
    assert_int_equal(b.step_tokens, 40);
    assert_int_equal(d.state, SEQ_WAITING);
    sched_commit(&s, 0.1, out);
    sched_release(&s);
}

static void rule_running_requests_are_served_before_waiting(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq a, b;
    seq_setup(&a, 250, 10);
    sched_add(&s, &a, 0);
    struct sched_output out[8];
    step(&s, 0, out, NULL); /* a: 100 */
    seq_setup(&b, 10, 10);
    sched_add(&s, &b, 1);
    struct step_shape shape;
    sched_plan(&s, 1, &shape);
    assert_int_equal(a.step_tokens, 100); /* a's next chunk uses the whole budget */
    assert_int_equal(b.state, SEQ_WAITING);
    sched_commit(&s, 1.1, out);
    sched_release(&s);
}

static void rule_kv_blocks_are_ceil_tokens_over_16(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq a;
    seq_setup(&a, 33, 10);
    sched_add(&s, &a, 0);
    struct sched_output out[8];
    step(&s, 0, out, NULL);
    assert_int_equal(a.blocks, 3); /* 33 tokens -> 3 blocks */
    assert_int_equal(s.free_blocks, 997);
    sched_release(&s);
}

static void rule_preemption_takes_newest_running_and_recomputes(void **state)
{
    struct sched_config c = small_config();
    c.num_gpu_blocks = 4; /* 64 tokens of KV */
    c.max_num_batched_tokens = 1000;
    struct sched s;
    sched_init(&s, &c);
    struct seq a, b;
    seq_setup(&a, 32, 100); /* 2 blocks */
    seq_setup(&b, 31, 100); /* 2 blocks */
    sched_add(&s, &a, 0);
    sched_add(&s, &b, 0);
    struct sched_output out[8];
    step(&s, 0, out, NULL); /* both prefill; a computed 32, b computed 31 */
    assert_int_equal(s.free_blocks, 0);
    /* a's decode needs a third block: b (the newest) is preempted. */
    step(&s, 1, out, NULL);
    assert_int_equal(b.state, SEQ_WAITING);
    assert_int_equal(b.computed, 0);
    assert_int_equal(b.preemptions, 1);
    assert_int_equal(s.preemptions_total, 1);
    assert_ptr_equal(s.waiting.head, &b); /* preempted requests go to the front */
    assert_int_equal(a.generated, 2);
    sched_release(&s);
}

static void rule_no_admission_in_a_step_that_preempted(void **state)
{
    struct sched_config c = small_config();
    c.num_gpu_blocks = 4;
    c.max_num_batched_tokens = 1000;
    struct sched s;
    sched_init(&s, &c);
    struct seq a, b;
    seq_setup(&a, 32, 100);
    seq_setup(&b, 31, 100);
    sched_add(&s, &a, 0);
    sched_add(&s, &b, 0);
    struct sched_output out[8];
    step(&s, 0, out, NULL);
    struct step_shape shape;
    sched_plan(&s, 1, &shape);
    /* b was preempted this step; even though blocks are free again, it is
     * not re-admitted until the next step. */
    assert_int_equal(b.state, SEQ_WAITING);
    assert_int_equal(shape.nseqs, 1);
    sched_commit(&s, 1.1, out);
    sched_release(&s);
}

static void rule_finish_length_stop_and_length_wins_ties(void **state)
{
    static const struct {
        const char *name;
        int max_tokens, stop_after;
        int want_generated;
        enum finish_reason want;
    } cases[] = {
        {"length: max_tokens reached", 3, INT_MAX, 3, FINISH_LENGTH},
        {"stop: natural EOS before max_tokens", 10, 4, 4, FINISH_STOP},
        {"length wins when EOS lands on max_tokens (vLLM checks length first)", 5, 5, 5,
         FINISH_LENGTH},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sched_config c = small_config();
        struct sched s;
        sched_init(&s, &c);
        struct seq a;
        seq_setup(&a, 5, cases[i].max_tokens);
        a.stop_after = cases[i].stop_after;
        sched_add(&s, &a, 0);
        struct sched_output out[8];
        bool finished = false;
        for (int t = 0; t < 50 && !finished; t++) {
            int n = step(&s, t, out, NULL);
            finished = n == 1 && out[0].finished;
        }
        if (!finished || a.generated != cases[i].want_generated || a.finish != cases[i].want)
            fail_msg("%s: generated %d, reason %d", cases[i].name, a.generated, a.finish);
        assert_int_equal(s.free_blocks, c.num_gpu_blocks); /* blocks returned */
        assert_int_equal(s.running.count, 0);
        sched_release(&s);
    }
}

static void rule_length_at_max_model_len(void **state)
{
    struct sched_config c = small_config();
    c.max_model_len = 12;
    struct sched s;
    sched_init(&s, &c);
    struct seq a;
    seq_setup(&a, 10, 100);
    sched_add(&s, &a, 0);
    struct sched_output out[8];
    step(&s, 0, out, NULL);
    int n = step(&s, 1, out, NULL);
    assert_int_equal(n, 1);
    assert_true(out[0].finished);
    assert_int_equal(a.finish, FINISH_LENGTH);
    assert_int_equal(a.generated, 2);
    sched_release(&s);
}

static void rule_abort_during_step_frees_blocks_and_skips_commit(void **state)
{
    struct sched_config c = small_config();
    struct sched s;
    sched_init(&s, &c);
    struct seq a, b;
    seq_setup(&a, 20, 10);
    seq_setup(&b, 20, 10);
    sched_add(&s, &a, 0);
    sched_add(&s, &b, 0);
    struct step_shape shape;
    struct sched_output out[8];
    sched_plan(&s, 0, &shape);
    sched_abort(&s, &a);
    assert_int_equal(a.finish, FINISH_ABORT);
    int n = sched_commit(&s, 0.1, out);
    assert_int_equal(n, 1);
    assert_ptr_equal(out[0].seq, &b);
    assert_int_equal(s.free_blocks, c.num_gpu_blocks - b.blocks);
    sched_abort(&s, &b);
    assert_int_equal(s.free_blocks, c.num_gpu_blocks);
    assert_false(sched_has_work(&s));
    sched_release(&s);
}

static void rule_without_chunked_prefill_a_prompt_must_fit_the_budget(void **state)
{
    struct sched_config c = small_config();
    c.chunked_prefill = false;
    struct sched s;
    sched_init(&s, &c);
    struct seq a, b;
    seq_setup(&a, 60, 10);
    seq_setup(&b, 60, 10);
    sched_add(&s, &a, 0);
    sched_add(&s, &b, 0);
    struct step_shape shape;
    struct sched_output out[8];
    sched_plan(&s, 0, &shape);
    assert_int_equal(a.step_tokens, 60);
    assert_int_equal(b.state, SEQ_WAITING); /* 60 > the 40 left: not chunked */
    sched_commit(&s, 0.1, out);
    sched_release(&s);
}

static void rule_kv_usage_is_fraction_of_blocks(void **state)
{
    struct sched_config c = small_config();
    c.num_gpu_blocks = 10;
    struct sched s;
    sched_init(&s, &c);
    struct seq a;
    seq_setup(&a, 64, 10);
    sched_add(&s, &a, 0);
    struct sched_output out[8];
    step(&s, 0, out, NULL);
    assert_near(sched_kv_usage(&s), 0.4, 1e-9); /* 4 of 10 blocks */
    sched_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_waiting_until_first_chunk_then_running),
        cmocka_unit_test(rule_chunked_prefill_splits_prompt_and_samples_after_last_chunk),
        cmocka_unit_test(rule_decode_is_one_token_per_step),
        cmocka_unit_test(rule_max_num_seqs_caps_running),
        cmocka_unit_test(rule_token_budget_limits_admission_fcfs),
        cmocka_unit_test(rule_running_requests_are_served_before_waiting),
        cmocka_unit_test(rule_kv_blocks_are_ceil_tokens_over_16),
        cmocka_unit_test(rule_preemption_takes_newest_running_and_recomputes),
        cmocka_unit_test(rule_no_admission_in_a_step_that_preempted),
        cmocka_unit_test(rule_finish_length_stop_and_length_wins_ties),
        cmocka_unit_test(rule_length_at_max_model_len),
        cmocka_unit_test(rule_abort_during_step_frees_blocks_and_skips_commit),
        cmocka_unit_test(rule_without_chunked_prefill_a_prompt_must_fit_the_budget),
        cmocka_unit_test(rule_kv_usage_is_fraction_of_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
