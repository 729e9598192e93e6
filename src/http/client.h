/* client: HTTP/1.1 exchanges with one upstream (host:port) over a pool of
 * keep-alive connections — the router's data path.
 *
 * upstream_send writes a request (head and body, already formatted) on an
 * idle pooled connection or a new one, then streams the response back
 * through callbacks: on_head once, on_body for each piece as it arrives
 * (de-chunked), on_done exactly once. The owner may pause reading (back-
 * pressure from a slow client) or abort (the client went away); after
 * upstream_abort no callback runs. A connection goes back to the pool only
 * after a complete response that allows keep-alive. */
#ifndef EBB_HTTP_CLIENT_H
#define EBB_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "http/parser.h"

struct upstream_conn;

/* Why an exchange failed, for metrics and retries. */
enum upstream_error {
    UPSTREAM_OK = 0,
    UPSTREAM_CONNECT,        /* refused, unreachable or connect timeout: nothing was sent */
    UPSTREAM_STALE,          /* a reused connection closed before any response: nothing was processed */
    UPSTREAM_HEADER_TIMEOUT, /* no response head in time */
    UPSTREAM_RESET,          /* the connection failed after the request was sent */
    UPSTREAM_PROTOCOL,       /* the response was not valid HTTP */
    UPSTREAM_LOCAL,          /* no connection could be opened here (open files, memory, local
                              * ports): not the backend's fault; nothing was sent */
};
#define UPSTREAM_ERROR_KINDS (UPSTREAM_LOCAL + 1)

const char *upstream_error_name(enum upstream_error e);

struct upstream_callbacks {
    void (*on_head)(void *ud, const struct http_parser *resp);
    void (*on_body)(void *ud, const char *at, size_t len);
    /* err: UPSTREAM_OK when the response is complete. */
    void (*on_done)(void *ud, enum upstream_error err);
};

struct upstream_config {
    unsigned connect_timeout_ms;
    unsigned idle_timeout_ms;  /* pooled connections close after this (below the server's keep-alive) */
    unsigned max_idle;         /* pooled connections kept */
    size_t max_head_bytes;     /* response status line + headers */
};

void upstream_config_defaults(struct upstream_config *cfg);

struct upstream_pool {
    uv_loop_t *loop;
    struct upstream_config cfg;
    struct sockaddr_storage addr;
    struct upstream_conn *idle; /* pooled connections, most recent first */
    unsigned nidle;
    unsigned nopen;             /* every connection, idle or busy */
    bool closing;
    void (*on_closed)(struct upstream_pool *p); /* closing and the last connection closed */
    void *data;                 /* the owner's */
};

/* Resolves host (numeric or a name, on the start-up path) and port. 0 or a
 * negative libuv/getaddrinfo error. */
int upstream_pool_init(struct upstream_pool *p, uv_loop_t *loop, const char *host, int port,
                       const struct upstream_config *cfg);
/* Closes idle connections and refuses new exchanges; busy ones are closed
 * by their owners (abort) or when they finish. on_closed runs once nopen is
 * 0 (possibly at once); after it the pool's memory may be freed. */
void upstream_pool_close(struct upstream_pool *p, void (*on_closed)(struct upstream_pool *p));

/* Sends a request — head (head_len bytes) then body (body_len bytes, may
 * be 0) — and returns the exchange's connection, or NULL if the pool is
 * closing or memory ran out (on_done is not called then). The bytes are
 * only read during the call: on a pooled connection as much as the socket
 * takes goes out at once, and only the rest is copied. header_timeout_ms
 * bounds the wait for the response head (0: none). */
struct upstream_conn *upstream_send(struct upstream_pool *p, const char *head, size_t head_len,
                                    const char *body, size_t body_len,
                                    const struct upstream_callbacks *cb, void *ud,
                                    unsigned header_timeout_ms);
/* Stops / restarts reading the response (back-pressure). */
void upstream_pause(struct upstream_conn *c);
void upstream_resume(struct upstream_conn *c);
/* Gives up on the exchange: the connection is closed, no callback follows. */
void upstream_abort(struct upstream_conn *c);

#endif
