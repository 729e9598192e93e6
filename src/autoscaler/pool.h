/* pool: the LocalDeployment target — replicas as local processes, kept at
 * the count the autoscaler asks for, as a ReplicaSet keeps pods
 * (design.md §4, issue 4).
 *
 * A replica i runs the deployment's command with ${PORT} = base_port + i,
 * ${INDEX} = i and ${MODEL} substituted, in its own process group, with
 * PR_SET_PDEATHSIG so it dies with ebb, output appended to
 * <log_dir>/<name>-<i>.log. It is ready once its readinessProbe passes
 * (successThreshold times in a row) or, without a probe, once started. A
 * replica that exits on its own is restarted with exponential back-off
 * (1 s doubling to 5 min, reset after 10 min of running), as the kubelet
 * does. Scale-down picks the victim with the fewest in-flight requests
 * (hooks.in_flight; without it the newest), marks it terminating, calls
 * hooks.on_draining and, once pool_replica_drained says its requests are
 * done (at once without that hook), sends SIGTERM to its process group and
 * SIGKILL terminationGracePeriodSeconds after the drain began.
 *
 * Use:
 *     struct pool p;
 *     pool_init(&p, loop, deployment, &opts, &hooks, err, sizeof err);
 *     pool_scale(&p, 2);                    // any time, any number of times
 *     ... hooks report readiness, exits, drains ...
 *     pool_stop(&p, on_stopped);            // every replica terminated and reaped
 *     pool_release(&p);                     // after on_stopped
 */
#ifndef EBB_AUTOSCALER_POOL_H
#define EBB_AUTOSCALER_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config/config.h"

#define POOL_REPLICAS_MAX 1024

enum pool_replica_state {
    POOL_STARTING,    /* process running, readiness not yet passed */
    POOL_READY,       /* readiness passed: may take requests */
    POOL_TERMINATING, /* chosen for scale-down (or stopping): draining, then signalled */
    POOL_BACKOFF,     /* exited on its own; restarts when the back-off ends */
};

const char *pool_replica_state_name(enum pool_replica_state s);

/* What the pool tells its owner about one replica (valid during the call). */
struct pool_replica_info {
    int32_t index;
    int32_t port;
    pid_t pid; /* 0 while in back-off */
    enum pool_replica_state state;
    const char *url; /* "http://127.0.0.1:<port>" */
    const char *model;
    double started_at;   /* unix seconds of the last start */
    double ready_at;     /* unix seconds, 0 when not ready */
    int32_t restarts;    /* starts after the first (crash restarts) */
    int32_t exit_code;   /* of the last exit: its code, -1 when none or signalled */
    int32_t exit_signal; /* of the last exit: the signal that ended it, 0 when none */
};

struct pool;

/* All optional. Hooks run on the loop thread, from the pool's own libuv
 * callbacks (never from inside a pool_* call), and may call pool_*
 * functions, pool_stop included — except in_flight, which must only answer.
 * Every on_ready is followed by exactly one on_unready (unless pool_stop
 * comes first: no hook runs after it); on_draining, when it comes, is in
 * between. */
struct pool_hooks {
    void (*on_ready)(struct pool *p, const struct pool_replica_info *r, void *ud);
    /* The replica stopped being usable: it exited, was killed, or failed
     * readiness (failureThreshold in a row) after having been ready. A
     * drained replica gets it when its process has been reaped. */
    void (*on_unready)(struct pool *p, const struct pool_replica_info *r, void *ud);
    /* The replica was chosen for scale-down: stop sending it requests and
     * call pool_replica_drained when its last one ends. */
    void (*on_draining)(struct pool *p, const struct pool_replica_info *r, void *ud);
    /* Requests in flight on a replica, for the victim choice. Called during
     * pool_scale; must not call pool functions. */
    unsigned (*in_flight)(struct pool *p, const struct pool_replica_info *r, void *ud);
    /* Any change in the counts below (for status and the autoscaler). */
    void (*on_changed)(struct pool *p, void *ud);
    void *ud;
};

struct pool_options {
    const char *log_dir;      /* overrides the deployment's; NULL: the deployment's */
    double backoff_initial_s; /* 1 */
    double backoff_max_s;     /* 300 */
    double backoff_reset_s;   /* 600: ran this long, the next back-off is the initial one */
};

void pool_options_defaults(struct pool_options *o);

/* The pool's state lives behind this pointer-sized handle; opaque to owners. */
struct pool_impl;
struct pool {
    struct pool_impl *impl;
    const struct cfg_deployment *d; /* borrowed: outlives the pool */
    void *data;                     /* the owner's */
};

/* Sets the pool up on loop with no replicas running (pool_scale starts
 * them). d and hooks are borrowed and must outlive the pool. Creates the log
 * directory. 0 or negative errno with a message for people in err. */
int pool_init(struct pool *p, uv_loop_t *loop, const struct cfg_deployment *d,
              const struct pool_options *o, const struct pool_hooks *hooks, char *err,
              size_t errlen);

/* Sets the wanted replica count (spec.replicas), 0..POOL_REPLICAS_MAX
 * (and no port past 65535): starts replicas at the lowest free indexes
 * (an index stays taken until its terminating replica is reaped), or
 * drains victims: not-ready replicas first, then the fewest in_flight,
 * then the most recently ready, the most restarted, the highest index.
 * Calls no hook. 0 or -EINVAL (out of range, stopping). */
int pool_scale(struct pool *p, int32_t replicas);

/* The owner's report that a draining replica has no request left: it is
 * signalled now. -ENOENT when index is not terminating. */
int pool_replica_drained(struct pool *p, int32_t index);

/* Counts, as a Deployment's status would show them. */
int32_t pool_spec_replicas(const struct pool *p);   /* what pool_scale asked */
int32_t pool_status_replicas(const struct pool *p); /* replicas not terminating */
int32_t pool_ready_replicas(const struct pool *p);  /* of those, ready */

/* Calls fn for every replica (terminating ones included), by index. */
void pool_foreach(const struct pool *p, void (*fn)(const struct pool_replica_info *r, void *arg),
                  void *arg);

/* Terminates every replica (SIGTERM to its group, SIGKILL after the grace
 * period), without draining, reaps them, closes every handle, then calls
 * on_stopped: from a close callback, or at once when the pool never
 * started anything. No hook runs after this. Twice: the second does nothing. */
void pool_stop(struct pool *p, void (*on_stopped)(struct pool *p));

/* Frees what the pool holds; only before pool_init's first pool_scale or
 * after on_stopped. */
void pool_release(struct pool *p);

#endif
