/* target_pool: a local pool (pool.h) as the target of a ScaledObject. */
#ifndef EBB_AUTOSCALER_TARGET_POOL_H
#define EBB_AUTOSCALER_TARGET_POOL_H

#include "autoscaler/autoscaler.h"
#include "autoscaler/pool.h"

/* The pool stays the caller's; the target borrows it. */
struct as_target target_pool(struct pool *p);

#endif
