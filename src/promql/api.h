/* api: Prometheus's HTTP query API (/api/v1/query, query_range, series,
 * labels, label/<name>/values) over the embedded store, answering with
 * the JSON and error shapes Prometheus 2.42 does, so KEDA's Prometheus
 * client, Grafana and curl can use ebb as their Prometheus.
 *
 * promql_api_answer is the pure part (request in, status and body out, the
 * clock an argument); promql_api_handle wires it to ebb's HTTP server. */
#ifndef EBB_PROMQL_API_H
#define EBB_PROMQL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "http/server.h"
#include "promql/promql.h"

#define PROMQL_API_MAX_PARAMS 64 /* form fields per request */

struct promql_api {
    struct store *store;        /* not owned */
    struct promql_limits lim;
    /* The time of a query without "time": now, in ms since the epoch. */
    int64_t (*now_ms)(void *ud);
    void *now_ud;
};

/* Sets up the API over s with a copy of lim (NULL: defaults) and the wall
 * clock. Allocates nothing. */
void promql_api_init(struct promql_api *a, struct store *s, const struct promql_limits *lim);

struct promql_api_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* path_len bytes, without the query string */
    size_t path_len;
    const char *query;        /* the URL's query string, query_len bytes */
    size_t query_len;
    const char *body;         /* the form body of a POST, body_len bytes */
    size_t body_len;
    const char *content_type; /* or NULL */
};

/* Answers r into out (its limit bounds the answer) and *status. -ENOENT
 * when the path is not the API's (nothing written), else 0: errors are
 * answers too ({"status":"error",...} with 400, 405 or 422). */
int promql_api_answer(struct promql_api *a, const struct promql_api_request *r, struct buf *out,
                      int *status);

/* Answers req if its path starts with /api/v1/ and returns true; false
 * leaves req to the caller. */
bool promql_api_handle(struct promql_api *a, struct http_req *req);

#endif
