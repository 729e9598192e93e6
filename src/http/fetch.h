/* fetch: outgoing HTTP requests through libcurl's multi interface driven by
 * the libuv loop (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION on uv_poll and
 * uv_timer): nothing blocks the loop, and a slow server delays only its own
 * requests. For the autoscaler's Prometheus queries, later the Kubernetes
 * API — not the router's data path (http/client.c).
 *
 * Use:
 *     struct fetcher f;
 *     fetcher_init(&f, loop);
 *     struct fetch_request rq = {.url = url, .timeout_ms = 3000, .max_body = 1 << 20};
 *     fetch_start(&f, &rq, on_done, ud, &handle);   // on_done runs once, later
 *     ...
 *     fetcher_close(&f, on_closed);                   // cancels what is in flight
 *
 * Requests are GETs unless the request names another method (with an
 * optional body: the Kubernetes API's PATCH, PUT and POST). A response may
 * be streamed to an on_data callback instead of kept (a Kubernetes watch).
 * Like Go's http.Client (what KEDA uses), redirects are
 * followed up to 10 times; only http and https are allowed, also as redirect
 * targets. The proxy comes from the environment (libcurl's default, as Go's
 * ProxyFromEnvironment). Design notes: docs/fetch.md.
 */
#ifndef EBB_HTTP_FETCH_H
#define EBB_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct fetch;

struct fetch_request {
    const char *url;
    const char *const *headers; /* "Name: value" lines, sent as given (no CR or LF) */
    size_t n_headers;
    const char *username, *password; /* basic auth when username is not NULL */
    bool insecure;                   /* skip TLS verification (KEDA's unsafeSsl) */
    long timeout_ms;                 /* whole request; > 0 */
    size_t max_body;                 /* a longer response body is an error */
    /* Optional: called instead of the callback when fetcher_close cancels
     * the request, so that whoever owns ud can free it. Not called by
     * fetch_cancel (the caller knows then). */
    void (*dropped)(void *ud);

    /* Optional, all of them: a zero-initialised request is a GET as before. */
    const char *method; /* "PATCH", "PUT", "POST", "DELETE"; NULL: GET */
    const char *body;   /* sent as the request body (copied); NULL: none */
    size_t body_len;
    /* PEM text (NUL-terminated, copied): the CA bundle that replaces the
     * system's, and a client certificate with its key. NULL: not used. */
    const char *ca_pem, *cert_pem, *key_pem;
    /* When set, the response body is not kept: each piece is passed here as
     * it arrives (status: the HTTP status of the response it belongs to),
     * and the final callback gets an empty body. Return 0 to go on, anything
     * else to end the transfer (the callback then reports "aborted by the
     * receiver"). max_body does not apply. It must not cancel its own
     * request or close the fetcher: return non-zero instead. */
    int (*on_data)(void *ud, long status, const char *data, size_t len);
};

struct fetch_result {
    /* NULL when a response arrived; else why not, for people:
     * "GET http://…: connection refused (after 0.2 s)" (the request's method) */
    const char *err;
    const char *reason; /* the part of err after the URL: "connection refused (after 0.2 s)" */
    long status;        /* HTTP status when err is NULL */
    const char *body;   /* valid during the callback only; "" when empty */
    size_t len;
    double seconds; /* from start to done */
};

typedef void (*fetch_cb)(void *ud, const struct fetch_result *r);

struct fetcher_impl;
struct fetcher {
    struct fetcher_impl *impl;
    void *data; /* the owner's */
};

/* 0 or a negative errno. Calls curl_global_init once per process. */
int fetcher_init(struct fetcher *f, uv_loop_t *loop);

/* Starts a request. The request's strings are copied. cb runs exactly once,
 * from the loop, never from inside fetch_start; a failure to connect or a
 * refused URL also arrives there. *out (may be NULL) lets the caller cancel
 * until cb runs. 0, or a negative errno (cb does not run then): -EINVAL for
 * a header with CR or LF, -ESHUTDOWN once fetcher_close was called,
 * -ENOMEM. */
int fetch_start(struct fetcher *f, const struct fetch_request *rq, fetch_cb cb, void *ud,
                struct fetch **out);

/* Cancels a request in flight: its callback does not run, and x is freed.
 * Cancelling a request from inside its own callback does nothing (it ends
 * when the callback returns). */
void fetch_cancel(struct fetch *x);

/* Cancels everything in flight (no callback runs; `dropped` does), closes
 * the handles, then calls on_closed (may be NULL) from the loop; after it the
 * fetcher may be freed. May be called from a fetch callback; does nothing on
 * a fetcher that is closing or closed (f->impl NULL). */
void fetcher_close(struct fetcher *f, void (*on_closed)(struct fetcher *f));

#endif
