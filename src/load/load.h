/* load: the load generator behind `ebb load`. It streams completions from
 * an OpenAI-compatible server over ebb's pooled HTTP/1.1 client on a libuv
 * loop and measures each request: time to first token (TTFT), the gaps
 * between token events (ITL) and the whole request (e2e).
 *
 * Four ways to send (enum load_mode): the tutorial's burst (every request
 * put in flight back to back, each once the previous one's response head
 * arrived, as example-10-load-generator.py does), Poisson arrivals at a
 * rate, a closed loop of N concurrent requests for a duration, and a trace
 * replay. In-flight requests are capped; each request's memory is bounded
 * (SSE event, response and kept text limits below). */
#ifndef EBB_LOAD_LOAD_H
#define EBB_LOAD_LOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "load/stats.h"
#include "load/trace.h"

#define LOAD_MAX_EVENT_BYTES (1u << 20)     /* one SSE event */
#define LOAD_MAX_RESPONSE_BYTES (64u << 20) /* one response body */
#define LOAD_MAX_TEXT_BYTES (1u << 20)      /* generated text kept for the script's lines */
#define LOAD_MAX_ERROR_BYTES 4096           /* error body kept */
#define LOAD_MAX_MODELS 64                  /* models taken from /v1/models */
#define LOAD_SAMPLE_CAP 1000000             /* latency values kept per metric (then reservoir) */

enum load_mode {
    LOAD_BURST,  /* the tutorial script: num_requests per model, all in flight */
    LOAD_RATE,   /* Poisson arrivals at rate per second */
    LOAD_CLOSED, /* concurrency requests in flight until duration */
    LOAD_TRACE,  /* arrivals and sizes from a trace */
};

/* Why a request failed. */
enum load_fail {
    LOAD_FAIL_CONNECT,    /* no connection: refused, unreachable, connect timeout */
    LOAD_FAIL_HTTP,       /* a status other than 200 */
    LOAD_FAIL_STREAM,     /* an error event in the stream */
    LOAD_FAIL_TIMEOUT,    /* longer than the request timeout */
    LOAD_FAIL_INCOMPLETE, /* the connection ended before "data: [DONE]" */
    LOAD_FAIL_PROTOCOL,   /* not HTTP, not an event stream, bad JSON, over a size limit */
    LOAD_FAIL_CANCELLED,  /* interrupted (SIGINT) */
    LOAD_FAIL_KINDS
};

const char *load_fail_name(enum load_fail f);

struct load_config {
    const char *base_url; /* "http://host:port/v1/" (http only) */
    const char *api_key;  /* sent as "Authorization: Bearer KEY" */
    const char *model;    /* NULL: every model of GET /v1/models (burst), or the first */
    bool chat;            /* /v1/chat/completions instead of /v1/completions */
    enum load_mode mode;
    long num_requests; /* per model (burst); most requests otherwise (0: no limit) */
    int prompt_len;    /* "Hi " repeats in the script's prompt */
    int max_tokens;
    double rate;               /* arrivals per second (LOAD_RATE) */
    double duration;           /* seconds of arrivals (0: none) */
    int concurrency;           /* most requests in flight */
    double timeout;            /* seconds for a whole request */
    uint64_t seed;             /* arrivals and reservoir sampling */
    const struct trace *trace; /* LOAD_TRACE */
    bool print_lines;          /* the script's lines on out */
    bool progress;             /* a progress bar on err */
    FILE *out, *err;
};

struct load_result {
    char model[256]; /* the (last) model used */
    uint64_t sent, ok, failed;
    uint64_t fail[LOAD_FAIL_KINDS];
    uint64_t http_status[600];     /* failures by status code */
    uint64_t prompt_tokens;        /* from the usage chunks of successful requests */
    uint64_t output_tokens;        /* usage, or token events when a server sends no usage */
    uint64_t usage_reports;        /* successful requests that reported usage */
    struct samples ttft, itl, e2e; /* seconds, successful requests only */
    double elapsed;                /* seconds from the first request sent to the last finished */
    bool interrupted;
};

/* Runs the load described by cfg to the end (or SIGINT) and fills res,
 * which load_result_release frees. 0 when the run happened (requests may
 * have failed: see res), or a negative errno with err set when it could not
 * start (a bad URL, /v1/models unreachable). */
int load_run(const struct load_config *cfg, struct load_result *res, char *err, size_t errlen);
void load_result_release(struct load_result *res);

/* The summary for people, and as one JSON object (one line). */
void load_report_text(struct load_result *res, const struct load_config *cfg, FILE *out);
void load_report_json(struct load_result *res, const struct load_config *cfg, FILE *out);

#endif
