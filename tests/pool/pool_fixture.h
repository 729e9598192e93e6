/* The pool tests' fixture (tests/pool/): one loop, one pool, a temporary
 * log directory, hooks that count what they hear, and helpers to pump the
 * loop and read replicas' logs. */
#ifndef EBB_TESTS_POOL_FIXTURE_H
#define EBB_TESTS_POOL_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>
#include <uv.h>

#include "autoscaler/pool.h"

#define NAME "pool-test"
#define MODEL "meta-llama/Llama-3.1-8B-Instruct"
#define SLOTS 8

struct fx {
    uv_loop_t loop;
    uv_timer_t tick;
    struct pool pool;
    struct cfg_deployment d;
    struct pool_hooks hooks;
    struct pool_options o;
    const char *argv[8];
    struct cfg_kv env[2];
    char dir[64], logs[96];
    bool inited, stopped, use_in_flight, saw_backoff;
    int ready[SLOTS], unready[SLOTS], draining[SLOTS], changed;
    unsigned flight[SLOTS];
    struct pool_replica_info last_unready[SLOTS];
};

#define WAIT_UNTIL(f, cond, ms)                                                                    \
    do {                                                                                           \
        uint64_t end_ = uv_now(&(f)->loop) + (ms);                                                 \
        while (!(cond)) {                                                                          \
            if (uv_now(&(f)->loop) >= end_)                                                        \
                fail_msg("timed out after %d ms waiting for %s", (int)(ms), #cond);                \
            pump(f);                                                                               \
        }                                                                                          \
    } while (0)

/* A base port with n free ports after it, on 127.0.0.1. */
int32_t free_base(int n);
/* One loop iteration, at most about 10 ms: the tick timer repeats (a
 * one-shot timer could fire before the poll when the loop's clock lags, and
 * the poll would then wait for the next signal). */
void pump(struct fx *f);
void pump_ms(struct fx *f, uint64_t ms);
/* Replica index's info; false when there is none. */
bool replica(struct fx *f, int32_t index, struct pool_replica_info *out);
bool in_state(struct fx *f, int32_t index, enum pool_replica_state s);
/* The whole log of replica index (empty when there is none yet). */
const char *read_log(struct fx *f, int32_t index);
bool log_has(struct fx *f, int32_t index, const char *s);
int count_in_log(struct fx *f, int32_t index, const char *s);
bool pid_gone(pid_t pid);
void on_ready(struct pool *p, const struct pool_replica_info *r, void *ud);
void on_unready(struct pool *p, const struct pool_replica_info *r, void *ud);
void on_draining(struct pool *p, const struct pool_replica_info *r, void *ud);
void on_changed(struct pool *p, void *ud);
void on_stopped(struct pool *p);
int setup(void **state);
/* Sets the command (NULL-terminated) and starts the pool with the hooks and
 * options as the test left them. */
void start(struct fx *f, const char *const *argv);
void stop(struct fx *f);
int teardown(void **state);

#endif
