/* target_pool: a local pool as an autoscaler target — the LocalDeployment
 * stands where KEDA finds a Deployment's scale subresource. */
#include <errno.h>
#include <stdio.h>

#include "autoscaler/target_pool.h"

static int32_t spec_replicas(void *t)
{
    return pool_spec_replicas(t);
}

static int32_t status_replicas(void *t)
{
    return pool_status_replicas(t);
}

static int32_t ready_replicas(void *t)
{
    return pool_ready_replicas(t);
}

static int scale(void *t, int32_t replicas, char *err, size_t errlen)
{
    struct pool *p = t;
    int rc = pool_scale(p, replicas);
    if (rc < 0)
        snprintf(err, errlen, "localdeployment \"%s\" cannot run %d replicas (at most %d)",
                 p->d->name, replicas, POOL_REPLICAS_MAX);
    return rc;
}

static const struct as_target_ops pool_ops = {
    .spec_replicas = spec_replicas,
    .status_replicas = status_replicas,
    .ready_replicas = ready_replicas,
    .scale = scale,
};

struct as_target target_pool(struct pool *p)
{
    return (struct as_target){&pool_ops, p};
}
