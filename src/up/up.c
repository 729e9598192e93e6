/* up: router + autoscaler + local pools + embedded Prometheus (up.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/control.h"
#include "autoscaler/target_pool.h"
#include "base/log.h"
#include "base/util.h"
#include "prom/expo.h"
#include "prom/query.h"
#include "promql/promql.h"
#include "up/up.h"

#define UP_OUT_MAX (64u << 20)

/* What up keeps per replica of a pool, by index. */
struct up_replica {
    struct scrape_target *scrape; /* its /metrics, while it is ready */
    bool in_router;               /* a router backend */
};

struct up_pool {
    struct up *up;
    struct pool pool;
    bool started; /* pool_init succeeded */
    struct up_replica *replicas; /* POOL_REPLICAS_MAX */
};

void up_config_defaults(struct up_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->control_port = 9090;
    router_config_defaults(&c->router);
    as_options_defaults(&c->as);
    embedded_prom_config_defaults(&c->prom);
}

static bool router_open(const struct up *u)
{
    return u->router_ok && !u->router.stopping;
}

static struct up_pool *pool_of(struct pool *p)
{
    return p->data;
}

/* ---- the pool's hooks ----------------------------------------------------- */

static void on_ready(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct up *u = ud;
    struct up_pool *up = pool_of(p);
    struct up_replica *rep = &up->replicas[r->index];
    char err[256];
    if (r->ready_at > 0 && r->started_at > 0)
        autoscaler_observe_ready(&u->as, r->ready_at - r->started_at);
    if (router_open(u)) {
        struct rbackend *rb = router_backend_find(&u->router, r->url);
        if (rb)
            router_backend_ready(&u->router, rb);
        else if (router_backend_add(&u->router, r->url, &r->model, 1, err, sizeof(err)) < 0)
            log_error("replica %s-%d: cannot add it to the router: %s", p->d->name, r->index, err);
        rep->in_router = true;
    }
    if (!rep->scrape) {
        char url[300], pod[300];
        snprintf(url, sizeof(url), "%s/metrics", r->url);
        snprintf(pod, sizeof(pod), "%s-%d", p->d->name, r->index);
        /* Sorted by name, as Kubernetes' service discovery would label a pod. */
        const struct prom_label labels[] = {
            {"job", p->d->name}, {"namespace", p->d->namespace_}, {"pod", pod}};
        if (embedded_prom_add_target(&u->prom, url, labels, ARRAY_SIZE(labels), 0, &rep->scrape,
                                     err, sizeof(err)) < 0)
            log_error("replica %s: cannot scrape %s: %s", pod, url, err);
    }
}

static void on_unready(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct up *u = ud;
    struct up_replica *rep = &pool_of(p)->replicas[r->index];
    if (rep->in_router && router_open(u))
        router_backend_remove(&u->router, r->url);
    rep->in_router = false;
    if (rep->scrape) {
        scrape_target_remove(rep->scrape); /* its series go stale now */
        rep->scrape = NULL;
    }
}

static void on_draining(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct up *u = ud;
    struct up_replica *rep = &pool_of(p)->replicas[r->index];
    /* The router reports the last request's end through on_drained, which
     * may run at once, inside router_backend_drain. */
    if (!rep->in_router || !router_open(u) || router_backend_drain(&u->router, r->url) < 0)
        pool_replica_drained(p, r->index);
}

static unsigned in_flight(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct up *u = ud;
    struct rbackend *rb = router_open(u) ? router_backend_find(&u->router, r->url) : NULL;
    return rb ? rb->b.inflight : 0;
}

/* ---- the router's hooks ---------------------------------------------------- */

static void on_held(struct router *r, const char *model, void *ud)
{
    struct up *u = ud;
    for (size_t i = 0; i < u->as.n_objs; i++) {
        const struct cfg_deployment *d = u->cfg->sos[i]->target;
        if (d && strcmp(d->model, model) == 0)
            autoscaler_evaluate_now(&u->as, i, true);
    }
}

static void on_drained(struct router *r, struct backend *b, void *ud)
{
    struct up *u = ud;
    for (size_t i = 0; i < u->npools; i++) {
        struct up_pool *up = &u->pools[i];
        int32_t index = b->port - up->pool.d->base_port;
        if (!up->started || index < 0 || index >= POOL_REPLICAS_MAX)
            continue;
        if (pool_replica_drained(&up->pool, index) == 0)
            return;
    }
}

/* ---- triggers against the embedded store ----------------------------------- */

/* A prometheus trigger, answered in-process: the query runs on the store,
 * and its JSON answer is read by prom_query_answer exactly as an answer
 * from a Prometheus server would be (KEDA's rules, §3.3). */
static void local_query(void *ud, const struct cfg_trigger *t, double now, bool strict,
                        struct trigger_result *out)
{
    struct up *u = ud;
    memset(out, 0, sizeof(*out));
    double t0 = wall_time();
    struct promql_result res;
    char err[256];
    int rc = promql_query_instant(&u->prom.store, t->prom.query, (int64_t)(now * 1000), &res, err,
                                  sizeof(err));
    buf_reset(&u->query_out);
    if (rc == 0 && promql_result_json(&res, &u->query_out) == 0) {
        out->http_status = 200;
        prom_query_answer(200, u->query_out.data, u->query_out.len, t->prom.query,
                          t->prom.ignore_null_values, strict, &out->answer);
    } else {
        /* KEDA would see only the status; the message says more. */
        out->http_status = rc == PROMQL_ERR_BAD_DATA ? 400 : 422;
        out->answer.outcome = PROM_ERROR;
        snprintf(out->answer.err, sizeof(out->answer.err), "query \"%.80s\": %.160s",
                 t->prom.query, rc ? err : "the answer is too large");
    }
    promql_result_release(&res);
    out->attempts = 1;
    out->sample.ok = out->answer.outcome == PROM_VALUE;
    out->sample.value = out->answer.value;
    out->seconds = wall_time() - t0;
}

/* ---- the control port: query API, status, metrics --------------------------- */

static void control_handle(struct http_req *req, void *ud)
{
    struct up *u = ud;
    if (embedded_prom_handle(&u->prom, req) || autoscaler_http_handle(&u->as, &u->out, req))
        return;
    const char *msg = "not found: try /api/v1/query, /status, /hpa, /metrics\n";
    int status = 404;
    if (http_req_path_is(req, "/metrics")) {
        buf_reset(&u->out);
        if (autoscaler_metrics(&u->as, &u->out) == 0 && embedded_prom_metrics(&u->prom, &u->out) == 0) {
            http_respond(req, 200, PROM_CONTENT_TYPE, NULL, u->out.data, u->out.len);
            return;
        }
        msg = "metrics too large\n";
        status = 500;
    } else if (http_req_path_is(req, "/health")) {
        msg = "ok\n";
        status = 200;
    }
    http_respond(req, status, "text/plain; charset=utf-8", NULL, msg, strlen(msg));
}

/* ---- starting ----------------------------------------------------------------- */

static int start_pools(struct up *u, char *err, size_t errlen)
{
    u->pools = calloc(u->cfg->n_deployments, sizeof(*u->pools));
    if (!u->pools && u->cfg->n_deployments)
        return -ENOMEM;
    u->hooks = (struct pool_hooks){.on_ready = on_ready,
                                   .on_unready = on_unready,
                                   .on_draining = on_draining,
                                   .in_flight = in_flight,
                                   .ud = u};
    struct pool_options po;
    pool_options_defaults(&po);
    po.log_dir = u->ucfg.log_dir;
    for (size_t i = 0; i < u->cfg->n_deployments; i++) {
        struct up_pool *up = &u->pools[i];
        const struct cfg_deployment *d = u->cfg->deployments[i];
        up->up = u;
        up->replicas = calloc(POOL_REPLICAS_MAX, sizeof(*up->replicas));
        if (!up->replicas)
            return -ENOMEM;
        u->npools++;
        char perr[256];
        int rc = pool_init(&up->pool, u->loop, d, &po, &u->hooks, perr, sizeof(perr));
        if (rc < 0) {
            snprintf(err, errlen, "localdeployment \"%s\": %s", d->name, perr);
            return rc;
        }
        up->pool.data = up;
        up->started = true;
        router_model_add(&u->router, d->model);
    }
    for (size_t i = 0; i < u->as.n_objs; i++)
        for (size_t k = 0; k < u->npools; k++)
            if (u->pools[k].pool.d == u->cfg->sos[i]->target)
                autoscaler_bind(&u->as, i, target_pool(&u->pools[k].pool));
    for (size_t i = 0; i < u->npools; i++)
        pool_scale(&u->pools[i].pool, u->pools[i].pool.d->replicas);
    return 0;
}

/* With a real Prometheus, every prometheus trigger asks it, whatever its
 * serverAddress (the tutorial's points into a cluster). */
static void point_triggers_at(struct config *cfg, const char *url)
{
    for (size_t i = 0; i < cfg->n_sos; i++)
        for (size_t k = 0; k < cfg->sos[i]->spec.n_triggers; k++)
            if (cfg->sos[i]->triggers[k].is_prometheus)
                cfg->sos[i]->triggers[k].prom.server_address = url;
}

int up_start(struct up *u, uv_loop_t *loop, struct config *cfg, const struct up_config *ucfg,
             char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    u->loop = loop;
    u->cfg = cfg;
    u->ucfg = *ucfg;
    buf_init(&u->out, UP_OUT_MAX);
    buf_init(&u->query_out, 16u << 20);
    int rc = embedded_prom_init(&u->prom, loop, &ucfg->prom, err, errlen);
    if (rc < 0)
        return rc;
    u->prom_ok = true;
    u->prom.data = u;
    struct as_options ao = ucfg->as;
    if (ucfg->prometheus_url) {
        point_triggers_at(cfg, ucfg->prometheus_url);
    } else {
        ao.local_query = local_query;
        ao.local_ud = u;
    }
    rc = autoscaler_init(&u->as, loop, cfg, &ao, err, errlen);
    if (rc < 0)
        return rc;
    u->as_ok = true;
    u->as.data = u;
    struct router_config rc_cfg = ucfg->router;
    rc_cfg.host = ucfg->host;
    rc_cfg.static_backends = NULL;
    rc_cfg.static_models = NULL;
    rc = router_init(&u->router, loop, &rc_cfg, err, errlen);
    if (rc < 0) {
        router_release(&u->router);
        return rc;
    }
    u->router_ok = true;
    u->router.on_held = on_held;
    u->router.on_drained = on_drained;
    u->router.hooks_ud = u;

    struct http_server_config hc;
    http_server_config_defaults(&hc);
    hc.host = ucfg->host;
    hc.port = ucfg->control_port;
    hc.max_body_bytes = 1u << 20;
    http_server_init(&u->control, loop, &hc, control_handle, u);
    u->control_init = true;
    rc = http_server_listen(&u->control);
    u->control_listening = rc == 0;
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d (control port): %s", ucfg->host,
                 ucfg->control_port, uv_strerror(rc));
        return rc;
    }
    rc = router_start(&u->router);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d (router): %s", ucfg->host,
                 ucfg->router.port, uv_strerror(rc));
        return rc;
    }
    /* The router's own metrics: vllm:num_incoming_requests_total is the
     * tutorial's keepalive trigger. */
    char url[300];
    snprintf(url, sizeof(url), "http://%s:%d/metrics", ucfg->host, ucfg->router.port);
    const struct prom_label rl[] = {{"job", "vllm-router-service"}};
    rc = embedded_prom_add_target(&u->prom, url, rl, 1, 0, NULL, err, errlen);
    if (rc < 0)
        return rc;
    rc = start_pools(u, err, errlen);
    if (rc < 0)
        return rc;
    return autoscaler_start(&u->as);
}

/* ---- stopping ------------------------------------------------------------------ */

static void part_stopped(struct up *u)
{
    if (--u->stopping == 0 && u->on_stopped)
        u->on_stopped(u);
}

static void on_pool_stopped(struct pool *p)
{
    part_stopped(pool_of(p)->up);
}

static void on_prom_stopped(struct embedded_prom *ep)
{
    part_stopped(ep->data);
}

static void on_control_empty(struct http_server *s)
{
    http_server_release(s);
    part_stopped(s->ud);
}

/* The router has let its in-flight requests finish (or never started):
 * the replicas and the rest may go. */
static void after_router(struct up *u)
{
    if (u->router_ok) {
        router_release(&u->router);
        u->router_ok = false;
    }
    for (size_t i = 0; i < u->npools; i++)
        if (u->pools[i].started) {
            u->stopping++;
            pool_stop(&u->pools[i].pool, on_pool_stopped);
        }
    if (u->prom_ok) {
        u->stopping++;
        embedded_prom_stop(&u->prom, on_prom_stopped);
    }
    if (u->control_listening) {
        u->stopping++;
        http_server_shutdown(&u->control, on_control_empty);
    } else if (u->control_init) {
        http_server_release(&u->control);
    }
    part_stopped(u); /* up_stop's hold */
}

static void on_router_stopped(struct router *r)
{
    after_router(r->hooks_ud);
}

static void on_as_stopped(struct autoscaler *as)
{
    struct up *u = as->data;
    if (u->router_ok)
        router_stop(&u->router, on_router_stopped);
    else
        after_router(u);
}

void up_stop(struct up *u, void (*on_stopped)(struct up *u))
{
    if (u->stopping)
        return;
    u->on_stopped = on_stopped;
    u->stopping = 1; /* held until every part has been asked to stop */
    u->router.hooks_ud = u;
    u->as.data = u;
    if (u->as_ok)
        autoscaler_stop(&u->as, on_as_stopped);
    else
        on_as_stopped(&u->as);
}

void up_release(struct up *u)
{
    if (u->as_ok)
        autoscaler_release(&u->as);
    for (size_t i = 0; i < u->npools; i++) {
        if (u->pools[i].started)
            pool_release(&u->pools[i].pool);
        free(u->pools[i].replicas);
    }
    free(u->pools);
    if (u->prom_ok)
        embedded_prom_release(&u->prom);
    buf_release(&u->out);
    buf_release(&u->query_out);
}
