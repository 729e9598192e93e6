/* http server: HTTP/1.1 on libuv, one request at a time per connection.
 *
 * The server owns connections; a handler gets a struct http_req when a
 * request (head and body) is complete and answers it now or later, whole
 * (http_respond) or streamed in chunks (http_stream_*). A handler that keeps
 * the request past its return must set req->on_abort: the server calls it if
 * the client goes away first, and from then on the request is gone.
 *
 * Every buffer has a limit from struct http_server_config; output that would
 * pass max_out_bytes is refused with -ENOBUFS so a slow client can never grow
 * the process. Writes go out at once (uv_try_write) and queue only when the
 * socket is full, with one uv_write in flight per connection and no
 * allocation per chunk. */
#ifndef EBB_HTTP_SERVER_H
#define EBB_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "http/parser.h"

struct http_conn;
struct http_server;

struct http_req {
    struct http_conn *conn;
    const struct http_parser *msg; /* method, headers and body; valid until the response ends */
    const char *path;              /* not NUL-terminated; path_len bytes */
    size_t path_len;
    const char *query;             /* after '?', query_len bytes (may be 0) */
    size_t query_len;
    /* Set by a handler that answers later: called once if the connection is
     * lost before the response ends. The request must not be used after it. */
    void (*on_abort)(struct http_req *req);
    /* Optional: called when the output backlog has been written out. */
    void (*on_drain)(struct http_req *req);
    void *data; /* the handler's */
};

typedef void (*http_handler_fn)(struct http_req *req, void *ud);

struct http_server_config {
    const char *host;
    int port;
    size_t max_head_bytes;         /* request line + headers */
    size_t max_body_bytes;         /* decoded request body */
    size_t max_out_bytes;          /* unsent response bytes per connection */
    unsigned keepalive_timeout_ms; /* idle time allowed between requests */
    unsigned read_timeout_ms;      /* deadline to receive a whole request, from its first byte */
    unsigned send_timeout_ms;      /* a client that takes no response bytes this long is dropped */
    unsigned max_connections;      /* beyond this, new connections are closed at once; daemons
                                    * derive it from the open-files limit
                                    * (http_server_max_connections) */
    const char *server_header;     /* value of "server:", or NULL for none */
};

/* Defaults: 64 KiB heads, 32 MiB bodies, 4 MiB backlog, 5 s keep-alive
 * (uvicorn's), 30 s read deadline, 60 s send timeout (nginx's), 10000
 * connections. */
void http_server_config_defaults(struct http_server_config *cfg);

/* Descriptors kept out of the connection budget: stdio, the listener, the
 * event loop's own, health probes and stats scrapes, log files. */
#define HTTP_FD_RESERVE 64
/* The most client connections a process with nofile open files (its soft
 * RLIMIT_NOFILE) can hold when each needs fds_per_connection descriptors
 * (the router: 2, a client and its upstream; the engine: 1), after
 * HTTP_FD_RESERVE: (nofile - reserve) / fds_per_connection, at least 1.
 * Past it a connection would fail for want of a descriptor somewhere
 * worse (an upstream socket() mid-request); refusing it at accept is clear. */
unsigned http_server_max_connections(long nofile, unsigned fds_per_connection);

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct http_server_config cfg;
    http_handler_fn handler;
    void *ud;
    struct http_conn *conns;      /* intrusive list of open connections */
    unsigned nconns;
    unsigned nactive;             /* requests handed to the handler, not yet answered */
    bool listening;
    bool draining;                /* shutdown: no new requests; close when idle */
    void (*on_empty)(struct http_server *s); /* draining and the last connection closed */
    unsigned long long requests_total;
    unsigned long long conns_refused;
    /* Streamed output is flushed once per loop turn, just before the loop
     * polls: pieces written in one turn go out in one write. */
    uv_prepare_t flush_prepare;
    bool flush_ready;
    struct http_conn *dirty;      /* connections with streamed output to flush */
};

/* Sets up a server on loop. Copies cfg. Allocates nothing until listen. */
void http_server_init(struct http_server *s, uv_loop_t *loop, const struct http_server_config *cfg,
                      http_handler_fn handler, void *ud);
/* Binds cfg.host:cfg.port and starts accepting. 0 or a negative libuv error. */
int http_server_listen(struct http_server *s);
/* Graceful shutdown: stops accepting, closes idle connections, and closes
 * busy ones after their current response. on_empty runs when none remain. */
void http_server_shutdown(struct http_server *s, void (*on_empty)(struct http_server *s));
/* Closes every connection now; in-flight requests get on_abort. */
void http_server_close_all(struct http_server *s);
/* Closes the server's own handles once it has no connection left (after
 * on_empty, or if it never listened); run the loop afterwards. */
void http_server_release(struct http_server *s);

/* The value of a request header (case-insensitive), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* True if the request path equals lit exactly. */
bool http_req_path_is(const struct http_req *req, const char *lit);

/* Sends a whole response and ends the request. extra_headers is NULL or
 * complete "name: value\r\n" lines. The body may exceed max_out_bytes (the
 * handler holds it already); the backlog limit applies to what queues
 * behind it. 0, or a negative error (the request still ends, and the
 * connection is closed). */
int http_respond(struct http_req *req, int status, const char *content_type,
                 const char *extra_headers, const void *body, size_t len);
/* Starts a chunked response. The head goes out with the first chunk or at
 * the end of this loop turn, whichever comes first. */
int http_stream_start(struct http_req *req, int status, const char *content_type,
                      const char *extra_headers);
/* Queues one chunk; it is written at the end of this loop turn, together
 * with anything else queued for the connection meanwhile. -ENOBUFS when the
 * client is too far behind (the caller decides: usually abort), -EPIPE once
 * the connection is gone (a failure to write later ends in on_abort). */
int http_stream_write(struct http_req *req, const void *data, size_t len);
/* Ends a chunked response and the request. */
int http_stream_end(struct http_req *req);
/* Sends a last chunk and ends the response, in one write. */
int http_stream_end_with(struct http_req *req, const void *data, size_t len);
/* Closes the request's connection now, without calling on_abort: for a
 * handler that gives up on a client (e.g. one too far behind). */
void http_req_close(struct http_req *req);
/* Unsent response bytes on the request's connection. */
size_t http_req_backlog(const struct http_req *req);

/* "OK", "Not Found", ... for a status code. */
const char *http_status_reason(int status);

#endif
