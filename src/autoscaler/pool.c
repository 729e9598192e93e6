/* pool: placeholder so the tree builds while the pool is written (issue 4). */
#include <errno.h>
#include <stdio.h>

#include "autoscaler/pool.h"

const char *pool_replica_state_name(enum pool_replica_state s)
{
    return "starting";
}

void pool_options_defaults(struct pool_options *o)
{
    o->log_dir = NULL;
    o->backoff_initial_s = 1;
    o->backoff_max_s = 300;
}

int pool_init(struct pool *p, uv_loop_t *loop, const struct cfg_deployment *d,
              const struct pool_options *o, const struct pool_hooks *hooks, char *err,
              size_t errlen)
{
    snprintf(err, errlen, "the local pool is not built yet");
    return -ENOSYS;
}

int pool_scale(struct pool *p, int32_t replicas) { return -ENOSYS; }
int pool_replica_drained(struct pool *p, int32_t index) { return -ENOENT; }
int32_t pool_spec_replicas(const struct pool *p) { return 0; }
int32_t pool_status_replicas(const struct pool *p) { return 0; }
int32_t pool_ready_replicas(const struct pool *p) { return 0; }
void pool_foreach(const struct pool *p, void (*fn)(const struct pool_replica_info *r, void *arg),
                  void *arg)
{
}
void pool_stop(struct pool *p, void (*on_stopped)(struct pool *p)) { on_stopped(p); }
void pool_release(struct pool *p) {}
