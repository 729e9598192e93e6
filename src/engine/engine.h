/* engine: a simulated vLLM engine — the OpenAI API, SSE streaming, vLLM's
 * metrics, and V1 continuous batching with a timing model — on one libuv loop.
 *
 * Time: the scheduler runs in "virtual" time anchored to the monotonic
 * clock. A step planned at t0 ends at t0 + duration / time_scale; the next
 * one starts where it ended, so sub-millisecond steps keep their exact
 * durations even though libuv timers tick in milliseconds. With time_scale 0
 * the timing model is off: one step per loop turn, as fast as the CPU goes. */
#ifndef EBB_ENGINE_ENGINE_H
#define EBB_ENGINE_ENGINE_H

#include <stdbool.h>
#include <uv.h>

#include "base/buf.h"
#include "engine/metrics.h"
#include "engine/request.h"
#include "engine/sched.h"
#include "engine/timing.h"
#include "http/server.h"

#define ENGINE_MAX_SERVED_NAMES 8

struct engine_config {
    const char *host;
    int port;
    const char *model;             /* --model: the model path or id */
    const char *served_model_name; /* comma-separated names, or NULL for the model */
    const char *api_key;           /* NULL or "": no auth */
    int max_model_len;
    int max_num_seqs;
    int max_num_batched_tokens;
    int num_gpu_blocks;            /* 0: derive from the memory settings below */
    double gpu_memory_utilization;
    double gpu_memory_gib;         /* total GPU memory */
    double model_weights_gib;      /* memory the weights take */
    double activation_gib;         /* activations and CUDA graphs */
    bool no_chunked_prefill;
    struct timing timing;
    double time_scale;             /* >1 runs faster than real time; 0: no timing */
    double startup_delay;          /* seconds before the port opens */
    double wake_up_delay;          /* seconds /wake_up takes */
    double shutdown_grace;         /* seconds in-flight requests get after SIGTERM */
    int output_len_min, output_len_max; /* simulated EOS position range */
    const char *error_format;      /* "v1" (vLLM >= 0.10.1) or "legacy" */
    const char *vllm_version;      /* what /version reports */
    int max_body_mib;
    unsigned max_connections;      /* client connections at once; 0: the HTTP server's default.
                                    * ebb engine derives it from the open-files limit */
    bool enable_request_id_headers;
};

void engine_config_defaults(struct engine_config *cfg);

/* One request in the engine: its scheduler entry, its HTTP request, and what
 * has been produced. Freed in exactly one place, engine_req_free. */
struct engine_req {
    struct seq seq;           /* first: a struct seq * is a struct engine_req * */
    struct engine *engine;
    struct http_req *http;    /* NULL once the client is gone */
    struct gen_request gen;
    char id[192];             /* "cmpl-<request id>", for logs */
    char id_json[1200];       /* the same as a quoted, escaped JSON string */
    long long created;        /* unix seconds */
    struct buf text;          /* non-streaming: the output so far */
    struct buf chunk;         /* streaming: SSE events not yet written (one write per loop turn) */
    struct buf head;          /* streaming: the head every token event shares, built once */
    struct engine_req *dirty_prev, *dirty_next; /* in engine.dirty while chunk has events */
    bool dirty;
    double last_token_at;
    bool emitting;            /* inside an emit: an abort must be deferred */
    bool aborted;             /* the client went away while emitting */
    struct engine_req *prev, *next;
};

struct engine {
    uv_loop_t *loop;
    struct engine_config cfg;
    const char *served[ENGINE_MAX_SERVED_NAMES];
    size_t nserved;
    char *served_storage;     /* backing for served[] */
    struct api_limits limits;
    struct http_server http;
    struct sched sched;
    struct engine_metrics metrics;
    struct sched_output *outs; /* max_num_seqs entries, for sched_commit */
    struct engine_req *reqs;   /* live requests */
    struct engine_req *dirty;  /* requests with events to write at the end of the turn */
    unsigned nreqs;
    uv_timer_t step_timer;
    uv_timer_t startup_timer;
    uv_timer_t wake_timer;
    uv_timer_t grace_timer;
    struct http_req *wake_req; /* a /wake_up waiting for wake_timer */
    bool handles_ready;       /* the timers are initialised (and must be closed) */
    bool committing;          /* inside commit_step: new work waits for the loop */
    int exit_code;            /* for the command: 1 if the port could not be opened */
    bool step_active;
    double step_end;          /* virtual time the step in flight ends, seconds */
    int sleep_level;          /* 0 awake */
    bool ready;               /* listening and serving */
    bool stopping;
    void (*on_stopped)(struct engine *e);
    struct buf scratch;       /* responses and /metrics */
};

/* Validates cfg and sets the engine up on loop. 0, or -EINVAL with a message
 * for people in err. Starts nothing. */
int engine_init(struct engine *e, uv_loop_t *loop, const struct engine_config *cfg, char *err,
                size_t errlen);
/* Opens the port after cfg.startup_delay. 0 or a negative libuv error (bind).
 * on_stopped runs if the engine stops by itself (the delayed bind failed;
 * exit_code says so) or after engine_stop. */
int engine_start(struct engine *e, void (*on_stopped)(struct engine *e));
/* Graceful stop: refuse new connections, let in-flight requests finish for
 * up to shutdown_grace seconds, then abort the rest. on_stopped runs once all
 * connections are closed; then call engine_release. */
void engine_stop(struct engine *e, void (*on_stopped)(struct engine *e));
/* Closes the engine's handles; run the loop afterwards to finish closing. */
void engine_release(struct engine *e);

/* Monotonic time in seconds. */
double engine_now(void);

/* Internal, shared by engine.c and api.c. */
void engine_handle(struct http_req *req, void *ud);
void engine_submit(struct engine *e, struct engine_req *r);
void engine_req_free(struct engine_req *r);
void engine_wake(struct engine *e);
int api_emit_token(struct engine_req *r, bool first, bool finished);
int api_flush(struct engine_req *r);
void engine_mark_dirty(struct engine_req *r);
void engine_unmark_dirty(struct engine_req *r);
void api_finish(struct engine_req *r);
void api_send_error(struct engine *e, struct http_req *req, const struct api_error *err);

#endif
