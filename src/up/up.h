/* up: the whole tutorial in one process, on one loop (design.md §3) — the
 * router, the autoscaler, a local pool per LocalDeployment and the embedded
 * Prometheus, wired together:
 *
 *   pool replica ready     -> router backend added, scrape target added
 *   pool replica draining  -> router backend drained -> (last request done)
 *                             -> pool_replica_drained -> SIGTERM
 *   pool replica gone      -> router backend removed, scrape target removed
 *                             (its series go stale at once)
 *   router holds a request -> autoscaler_evaluate_now(held): 0 -> 1 now
 *   scale-down victim      -> the replica with the fewest in-flight requests
 *   prometheus triggers    -> the embedded store, in-process (or a real
 *                             Prometheus with prometheus_url)
 */
#ifndef EBB_UP_UP_H
#define EBB_UP_UP_H

#include <stdbool.h>
#include <uv.h>

#include "autoscaler/autoscaler.h"
#include "autoscaler/pool.h"
#include "config/config.h"
#include "http/server.h"
#include "prom/embedded.h"
#include "router/router.h"

struct up_config {
    const char *host;           /* every port binds here; 127.0.0.1 */
    int control_port;           /* query API, status, /metrics: 9090 */
    const char *prometheus_url; /* NULL: triggers read the embedded store */
    const char *log_dir;        /* replica logs; NULL: each LocalDeployment's */
    struct router_config router; /* port 30080 and the router's flags */
    struct as_options as;
    struct embedded_prom_config prom;
};

void up_config_defaults(struct up_config *c);

struct up_pool;

struct up {
    uv_loop_t *loop;
    struct config *cfg; /* borrowed, valid (config_check(CONFIG_LOCAL) passed) */
    struct up_config ucfg;
    struct router router;
    struct autoscaler as;
    struct embedded_prom prom;
    struct http_server control;
    struct buf out;          /* control answers */
    struct buf query_out;    /* in-process trigger answers */
    struct up_pool *pools;   /* one per LocalDeployment */
    size_t npools;
    struct pool_hooks hooks;
    unsigned stopping;       /* parts still stopping */
    bool prom_ok, as_ok, router_ok, control_init, control_listening; /* what was set up */
    void (*on_stopped)(struct up *u);
    void *data; /* the owner's */
};

/* Sets every part up and starts them: ports open, replicas start at each
 * LocalDeployment's replicas, the autoscaler's first polls run. 0, or a
 * negative errno with a message in err (whatever started is stopped by
 * up_stop, which the caller must still call). */
int up_start(struct up *u, uv_loop_t *loop, struct config *cfg, const struct up_config *ucfg,
             char *err, size_t errlen);

/* Stops taking requests, lets in-flight ones finish (the router's
 * shutdown grace), stops autoscaling, terminates the replicas (their grace
 * period), closes everything, then on_stopped. */
void up_stop(struct up *u, void (*on_stopped)(struct up *u));
void up_release(struct up *u);

#endif
