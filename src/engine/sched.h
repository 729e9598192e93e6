/* sched: vLLM V1's continuous-batching scheduler, simulated. Pure: no I/O and
 * no clock; the caller passes the time in.
 *
 * One step is one forward pass. sched_plan walks the running requests in
 * order, giving each min(tokens it needs, remaining budget) new tokens (1 to
 * decode, the next prompt chunk if it is still prefilling), allocating 16-token
 * KV blocks on demand and preempting the newest running request (recompute)
 * when blocks run out; then, if nothing was preempted, it admits waiting
 * requests FCFS while budget and max_num_seqs allow (chunked prefill).
 * sched_commit applies the step when its time has passed: a request whose
 * tokens are all computed samples one output token, and may finish.
 *
 * A request is "waiting" from arrival until its first chunk is scheduled (or
 * while preempted) and "running" from then until it finishes, as
 * vllm:num_requests_waiting and vllm:num_requests_running count them. */
#ifndef EBB_ENGINE_SCHED_H
#define EBB_ENGINE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_BLOCK_SIZE 16

enum seq_state { SEQ_NEW, SEQ_WAITING, SEQ_RUNNING, SEQ_FINISHED };
enum finish_reason { FINISH_NONE, FINISH_STOP, FINISH_LENGTH, FINISH_ABORT };

struct seq {
    /* Set by the caller before sched_add. */
    int prompt_tokens;
    int max_tokens; /* output limit: max_tokens, or what max_model_len leaves */
    int stop_after; /* natural length: EOS after this many tokens (INT_MAX: never) */
    /* Scheduler state. */
    enum seq_state state;
    int computed;    /* tokens whose KV is computed */
    int generated;   /* output tokens so far */
    int blocks;      /* KV blocks held */
    int step_tokens; /* tokens scheduled in the step in flight */
    int step_slot;   /* index in sched.step, or -1 */
    int preemptions;
    double t_arrival, t_scheduled, t_first_token, t_last_token; /* seconds */
    enum finish_reason finish;
    struct seq *prev, *next; /* in the waiting or the running list */
};

struct seq_list {
    struct seq *head, *tail;
    int count;
};

struct sched_config {
    int max_num_seqs;
    int max_num_batched_tokens;
    int num_gpu_blocks;
    int max_model_len;
    bool chunked_prefill; /* off: a prompt must fit the step budget whole */
};

/* What a planned step costs, for the timing model. */
struct step_shape {
    int nseqs;              /* requests in the step */
    int prefill_tokens;     /* prompt (or recompute) tokens */
    int decode_seqs;        /* requests decoding one token */
    long long decode_context; /* KV tokens the decoding requests attend over */
};

struct sched_output {
    struct seq *seq;
    bool token;     /* one output token was sampled */
    bool first;     /* it was the request's first token */
    bool finished;  /* the request finished; seq->finish says why */
};

struct sched {
    struct sched_config cfg;
    struct seq_list waiting, running;
    int free_blocks;
    struct seq **step;    /* requests scheduled in the step in flight */
    int nstep;
    bool step_planned;
    /* Counters since start, for metrics. */
    uint64_t preemptions_total;
    uint64_t steps_total;
};

/* 0 or -ENOMEM (the step array is sized for max_num_seqs). */
int sched_init(struct sched *s, const struct sched_config *cfg);
void sched_release(struct sched *s);

/* Queues a new request at time now (seconds). */
void sched_add(struct sched *s, struct seq *q, double now);
/* Removes a request wherever it is (waiting, running, in the step in
 * flight), freeing its blocks. It is marked FINISH_ABORT. */
void sched_abort(struct sched *s, struct seq *q);

/* True when a step would do something. */
bool sched_has_work(const struct sched *s);
/* Plans the next step at time now. Returns the number of requests in it
 * (0: nothing could be scheduled) and fills *shape. */
int sched_plan(struct sched *s, double now, struct step_shape *shape);
/* Applies the planned step, finished at time now. Fills out (room for the
 * step's request count, at most max_num_seqs) and returns how many entries
 * it wrote. Finished requests are no longer in the scheduler. */
int sched_commit(struct sched *s, double now, struct sched_output *out);

/* Fraction of KV blocks in use, 0..1. */
double sched_kv_usage(const struct sched *s);

#endif
