/* sched: vLLM V1 continuous batching, simulated. See sched.h. */
#include "engine/sched.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void list_remove(struct seq_list *l, struct seq *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        l->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        l->tail = q->prev;
    q->prev = q->next = NULL;
    l->count--;
}

static void list_push_back(struct seq_list *l, struct seq *q)
{
    q->next = NULL;
    q->prev = l->tail;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->count++;
}

static void list_push_front(struct seq_list *l, struct seq *q)
{
    q->prev = NULL;
    q->next = l->head;
    if (l->head)
        l->head->prev = q;
    else
        l->tail = q;
    l->head = q;
    l->count++;
}

int sched_init(struct sched *s, const struct sched_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->free_blocks = cfg->num_gpu_blocks;
    s->step = calloc((size_t)cfg->max_num_seqs, sizeof(*s->step));
    return s->step ? 0 : -ENOMEM;
}

void sched_release(struct sched *s)
{
    free(s->step);
    s->step = NULL;
}

void sched_add(struct sched *s, struct seq *q, double now)
{
    q->state = SEQ_WAITING;
    q->computed = 0;
    q->generated = 0;
    q->blocks = 0;
    q->step_tokens = 0;
    q->step_slot = -1;
    q->preemptions = 0;
    q->t_arrival = now;
    q->t_scheduled = q->t_first_token = q->t_last_token = 0;
    q->finish = FINISH_NONE;
    list_push_back(&s->waiting, q);
}

static int blocks_for(int tokens)
{
    return (tokens + SCHED_BLOCK_SIZE - 1) / SCHED_BLOCK_SIZE;
}

static void free_seq_blocks(struct sched *s, struct seq *q)
{
    s->free_blocks += q->blocks;
    q->blocks = 0;
}

static void drop_from_step(struct sched *s, struct seq *q)
{
    if (q->step_slot >= 0) {
        s->step[q->step_slot] = NULL;
        q->step_slot = -1;
    }
    q->step_tokens = 0;
}

void sched_abort(struct sched *s, struct seq *q)
{
    if (q->state == SEQ_WAITING)
        list_remove(&s->waiting, q);
    else if (q->state == SEQ_RUNNING)
        list_remove(&s->running, q);
    drop_from_step(s, q);
    free_seq_blocks(s, q);
    q->state = SEQ_FINISHED;
    q->finish = FINISH_ABORT;
}

bool sched_has_work(const struct sched *s)
{
    return s->waiting.count > 0 || s->running.count > 0;
}

/* Tokens the request needs KV for before it can sample: its prompt plus what
 * it has generated so far (all of it again after a preemption). */
static int total_tokens(const struct seq *q)
{
    return q->prompt_tokens + q->generated;
}

/* Preempts q (recompute): frees its blocks and puts it at the front of the
 * waiting queue, as vLLM's _preempt_request does. */
static void preempt(struct sched *s, struct seq *q)
{
    list_remove(&s->running, q);
    drop_from_step(s, q);
    free_seq_blocks(s, q);
    q->computed = 0;
    q->state = SEQ_WAITING;
    q->preemptions++;
    s->preemptions_total++;
    list_push_front(&s->waiting, q);
}

static void add_to_step(struct sched *s, struct seq *q, int tokens, struct step_shape *shape)
{
    q->step_tokens = tokens;
    q->step_slot = s->nstep;
    s->step[s->nstep++] = q;
    shape->nseqs++;
    if (q->computed + tokens >= total_tokens(q) && tokens == 1 && q->computed > 0) {
        shape->decode_seqs++;
        shape->decode_context += q->computed + 1;
    } else {
        shape->prefill_tokens += tokens;
    }
}

int sched_plan(struct sched *s, double now, struct step_shape *shape)
{
    memset(shape, 0, sizeof(*shape));
    s->nstep = 0;
    int budget = s->cfg.max_num_batched_tokens;
    bool preempted = false;

    /* Phase 1: the running requests, in order. */
    struct seq *q = s->running.head;
    while (q && budget > 0) {
        struct seq *next = q->next;
        int need = total_tokens(q) - q->computed;
        int tokens = need < budget ? need : budget;
        if (tokens <= 0) {
            q = next;
            continue;
        }
        int want_blocks = blocks_for(q->computed + tokens) - q->blocks;
        bool self_preempted = false;
        while (want_blocks > s->free_blocks) {
            struct seq *victim = s->running.tail;
            preempt(s, victim);
            preempted = true;
            if (victim == q) {
                self_preempted = true;
                break;
            }
            if (next == victim)
                next = NULL; /* it was after us and is gone now */
        }
        if (self_preempted)
            break;
        s->free_blocks -= want_blocks;
        q->blocks += want_blocks;
        add_to_step(s, q, tokens, shape);
        budget -= tokens;
        q = next;
    }

    /* Phase 2: admit waiting requests FCFS, unless this step preempted. */
    while (!preempted && budget > 0 && s->waiting.head && s->running.count < s->cfg.max_num_seqs) {
        q = s->waiting.head;
        int need = total_tokens(q) - q->computed;
        if (!s->cfg.chunked_prefill && need > budget)
            break;
        int tokens = need < budget ? need : budget;
        int want_blocks = blocks_for(q->computed + tokens) - q->blocks;
        if (want_blocks > s->free_blocks)
            break;
        list_remove(&s->waiting, q);
        list_push_back(&s->running, q);
        q->state = SEQ_RUNNING;
        if (q->t_scheduled == 0)
            q->t_scheduled = now;
        s->free_blocks -= want_blocks;
        q->blocks += want_blocks;
        add_to_step(s, q, tokens, shape);
        budget -= tokens;
    }
    s->step_planned = s->nstep > 0;
    return s->nstep;
}

static void finish(struct sched *s, struct seq *q, enum finish_reason why)
{
    list_remove(&s->running, q);
    free_seq_blocks(s, q);
    q->state = SEQ_FINISHED;
    q->finish = why;
}

int sched_commit(struct sched *s, double now, struct sched_output *out)
{
    int n = 0;
    for (int i = 0; i < s->nstep; i++) {
        struct seq *q = s->step[i];
        if (!q)
            continue; /* aborted while the step ran */
        q->step_slot = -1;
        q->computed += q->step_tokens;
        q->step_tokens = 0;
        if (q->computed < total_tokens(q))
            continue; /* a prefill chunk: nothing to sample yet */
        struct sched_output *o = &out[n++];
        o->seq = q;
        o->token = true;
        o->first = q->generated == 0;
        o->finished = false;
        q->generated++;
        if (o->first)
            q->t_first_token = now;
        q->t_last_token = now;
        /* vLLM's check_stop tests the length limits before EOS, so an EOS
         * on the last allowed token still finishes as "length". */
        enum finish_reason why = FINISH_NONE;
        if (q->generated >= q->max_tokens || q->prompt_tokens + q->generated >= s->cfg.max_model_len)
            why = FINISH_LENGTH;
        else if (q->generated >= q->stop_after)
            why = FINISH_STOP;
        if (why != FINISH_NONE) {
            finish(s, q, why);
            o->finished = true;
        }
    }
    s->nstep = 0;
    s->step_planned = false;
    s->steps_total++;
    return n;
}

double sched_kv_usage(const struct sched *s)
{
    if (s->cfg.num_gpu_blocks <= 0)
        return 0;
    return 1.0 - (double)s->free_blocks / (double)s->cfg.num_gpu_blocks;
}
