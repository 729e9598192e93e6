/* router: the OpenAI-compatible router — production-stack's vllm_router
 * where users depend on it, and better where they complain: requests are
 * held (not refused) while no backend is ready, upstream connections are
 * pooled with timeouts, a failure before anything was sent is retried on
 * another backend, and a backend killed mid-stream ends its streams cleanly.
 *
 * Backends are added, drained and removed at run time through
 * router_backend_*; static discovery uses the same calls at start-up, and
 * the local pool and Kubernetes discovery will too. */
#ifndef EBB_ROUTER_ROUTER_H
#define EBB_ROUTER_ROUTER_H

#include <stdbool.h>
#include <uv.h>

#include "http/client.h"
#include "http/server.h"
#include "prom/expo.h"
#include "router/backend.h"
#include "router/body.h"
#include "router/hold.h"
#include "router/policy.h"
#include "router/prefix.h"

#define ROUTER_MAX_ALIASES 32
#define ROUTER_MAX_KNOWN_MODELS 64

struct router_config {
    const char *host;
    int port;
    const char *routing_logic;     /* least-loaded|roundrobin|session|prefixaware */
    const char *session_key;       /* header (or body field) with the session id */
    const char *static_backends;   /* comma-separated URLs */
    const char *static_models;     /* comma-separated, one per backend */
    const char *static_aliases;    /* "alias:model,alias2:model2" */
    const char *on_no_backend;     /* "hold" or "503" */
    int hold_max_requests;         /* per model */
    int hold_max_mib;              /* bodies held, all models */
    double hold_timeout;           /* seconds */
    double connect_timeout;        /* seconds */
    double response_header_timeout; /* seconds; 0: none */
    double health_check_interval;  /* seconds between /health probes of a down backend */
    double engine_stats_interval;  /* seconds between /metrics scrapes of backends; 0: off */
    double request_stats_window;   /* seconds, for vllm:current_qps and averages */
    double shutdown_grace;         /* seconds in-flight requests get on SIGTERM */
    int prefix_max_entries;        /* prefixaware: prefixes remembered (24 bytes each) */
    int max_body_mib;
    double client_read_timeout;    /* seconds a client may take to send a whole request */
    double client_keepalive_timeout; /* seconds an idle client connection is kept */
    double client_send_timeout;    /* seconds a client may take no response bytes */
    unsigned max_connections;      /* client connections at once; 0: the HTTP server's default.
                                    * ebb router derives it from the open-files limit */
};

void router_config_defaults(struct router_config *cfg);

/* One backend and everything the router keeps for it. */
struct rbackend {
    struct backend b;
    struct upstream_pool pool;
    struct router *router;
    struct rbackend *next;
    unsigned long long requests_total;  /* sent to it */
    double qps_window_start;
    unsigned qps_count, qps_prev;       /* requests started in the current / previous window */
    double latency_sum;                 /* finished requests in the window */
    unsigned latency_count;
    bool probing;                       /* a /health probe or scrape is in flight */
    bool scraping;
    bool removing;                      /* removed: freed when its pool has closed */
    /* vllm:request_latency_seconds{status="success"|"error"} */
    struct prom_histogram latency[2];
    uint64_t latency_cells[2][16];
    unsigned long long errors[UPSTREAM_ERROR_KINDS]; /* by enum upstream_error */
};

struct router_metrics {
    struct prom_histogram hold_seconds;
    uint64_t hold_cells[16];
    unsigned long long retries_total;
    unsigned long long upstream_errors[UPSTREAM_ERROR_KINDS]; /* by enum upstream_error */
    /* vllm:num_incoming_requests_total{model}: a bounded table of the model
     * names clients asked for; past it, they count as model="other". */
    char *incoming_models[ROUTER_MAX_KNOWN_MODELS];
    unsigned long long incoming[ROUTER_MAX_KNOWN_MODELS + 1];
    size_t nincoming;
    unsigned long long hold_overflows_total, hold_timeouts_total, held_total;
};

struct router {
    uv_loop_t *loop;
    struct router_config cfg;
    struct http_server http;
    struct upstream_config upstream;
    struct policy policy;
    struct hold hold;
    struct prefix_index prefix;   /* prefixaware only */
    struct rbackend *backends;
    unsigned nbackends;
    struct alias aliases[ROUTER_MAX_ALIASES];
    size_t naliases;
    /* Models ever served or configured: a request for one of them with no
     * ready backend is held (or 503); any other model is 404. */
    char *known_models[ROUTER_MAX_KNOWN_MODELS];
    size_t nknown;
    struct router_metrics metrics;
    struct rreq *reqs;          /* live proxied requests */
    unsigned nreqs;
    struct rreq *spare_reqs;    /* finished ones kept for reuse (no malloc per request) */
    unsigned nspare;
    uv_timer_t hold_timer, health_timer, stats_timer, grace_timer;
    bool handles_ready;
    bool stopping;
    double started_at;
    struct buf scratch;
    /* Hooks for an in-process owner (ebb up): a request was held for model
     * (wake the autoscaler); a draining backend's last request ended. */
    void (*on_held)(struct router *r, const char *model, void *ud);
    void (*on_drained)(struct router *r, struct backend *b, void *ud);
    void *hooks_ud;
    void (*on_stopped)(struct router *r);
};

/* Validates cfg, sets the router up on loop and adds the static backends.
 * 0 or -EINVAL with a message for people in err. */
int router_init(struct router *r, uv_loop_t *loop, const struct router_config *cfg, char *err,
                size_t errlen);
int router_start(struct router *r);
void router_stop(struct router *r, void (*on_stopped)(struct router *r));
void router_release(struct router *r);

/* Backends at run time. url is "http://host:port"; models are the model
 * names it serves. Adding a ready backend sends it held requests at once. */
int router_backend_add(struct router *r, const char *url, const char *const *models,
                       size_t nmodels, char *err, size_t errlen);
/* Stops new requests to url; on_drained runs when its last one ends
 * (possibly at once). 0 or -ENOENT. */
int router_backend_drain(struct router *r, const char *url);
/* Removes url (after draining, or at once: in-flight requests to it fail). */
int router_backend_remove(struct router *r, const char *url);
struct rbackend *router_backend_find(struct router *r, const char *url);
/* Makes model known with no backend yet: a request for it is held (or
 * 503), not 404, and its incoming counter exists at 0. The local pool's
 * models are known before their first replica starts. */
void router_model_add(struct router *r, const char *model);
/* Marks a backend ready again (e.g. after a probe) and serves held requests. */
void router_backend_ready(struct router *r, struct rbackend *rb);

/* Internal, shared by the router's files. */
void router_handle(struct http_req *req, void *ud);
void router_dispatch_held(struct router *r, const char *model);
int router_known_model(const struct router *r, const char *model);
/* The model's cell in metrics.incoming (created at 0 when new); past the
 * table's bound, the "other" cell. */
size_t router_incoming_slot(struct router *r, const char *model);
void router_send_error(struct http_req *req, int status, const char *request_id,
                       const char *retry_after, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int router_metrics_render(struct router *r, struct buf *out);
void router_serve_local(struct router *r, struct http_req *req, int route);
void router_arm_hold_timer(struct router *r);
void router_proxy(struct router *r, struct http_req *req, struct rbackend *forced);
void router_backend_metrics_init(struct rbackend *rb);
void rreq_free_all(struct router *r);

#endif
