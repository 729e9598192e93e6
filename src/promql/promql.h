/* promql: a subset of PromQL over the embedded store, with Prometheus 2.42's
 * semantics (docs/promql.md lists the subset and the choices made).
 *
 * A query is parsed, type-checked and evaluated in one call; its result
 * lives in an arena owned by struct promql_result until
 * promql_result_release. Every resource is bounded by struct promql_limits;
 * past a limit the query fails with a message for people. The store must
 * not change while a query runs (ebb's loop is single-threaded). */
#ifndef EBB_PROMQL_PROMQL_H
#define EBB_PROMQL_PROMQL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "config/arena.h"
#include "prom/labels.h"
#include "promql/store.h"

struct promql_limits {
    size_t max_query_bytes;  /* length of the query text */
    size_t max_nodes;        /* nodes of the syntax tree */
    size_t max_depth;        /* nesting of expressions */
    size_t max_series;       /* series one selector may select */
    size_t max_points;       /* samples loaded plus points returned, per query */
    size_t max_memory;       /* bytes the evaluation may allocate */
    size_t max_output_bytes; /* JSON bytes of an answer */
    size_t max_steps;        /* points per series of a range query (Prometheus: 11,000) */
    int64_t lookback_ms;     /* how far back an instant selector looks (5 minutes) */
};

/* 4 KiB queries, 2,000 nodes, depth 100, 100,000 series per selector,
 * 5,000,000 points, 256 MiB, 64 MiB of JSON, 11,000 steps, 5 minutes. */
void promql_limits_defaults(struct promql_limits *l);

enum promql_type {
    PROMQL_NONE,
    PROMQL_SCALAR,
    PROMQL_VECTOR, /* instant vector */
    PROMQL_MATRIX, /* range vector, or a range query's result */
    PROMQL_STRING,
};

struct promql_point {
    int64_t t; /* milliseconds since the epoch */
    double v;
};

struct promql_series {
    const struct prom_label *labels; /* sorted by name */
    size_t nlabels;
    struct promql_point *points;     /* one for a vector */
    size_t npoints;
};

struct promql_result {
    enum promql_type type;
    int64_t t_ms;             /* the evaluation time of an instant query */
    double scalar;            /* PROMQL_SCALAR */
    const char *string;       /* PROMQL_STRING */
    struct promql_series *series; /* PROMQL_VECTOR and PROMQL_MATRIX */
    size_t nseries;
    struct arena arena;       /* holds all of the above */
};

/* Error kinds, as Prometheus's API names them (errorType). */
#define PROMQL_ERR_BAD_DATA (-EINVAL) /* parse and type errors */
#define PROMQL_ERR_EXEC (-EDOM)       /* evaluation errors and limits */

/* Evaluates query at t_ms with default limits. 0, or a negative code with a
 * message in err: -EINVAL (bad_data), -EDOM (execution) or -ENOMEM. out is
 * always set up and must be released. */
int promql_query_instant(struct store *s, const char *query, int64_t t_ms, struct promql_result *out,
                         char *err, size_t errlen);
/* A range query: query at start, start + step, ... up to end (ms). The
 * result is a matrix, series sorted by labels. */
int promql_query_range(struct store *s, const char *query, int64_t start_ms, int64_t end_ms,
                       int64_t step_ms, struct promql_result *out, char *err, size_t errlen);
/* Both with explicit limits (range queries when step_ms > 0). */
int promql_exec(struct store *s, const struct promql_limits *lim, const char *query,
                int64_t start_ms, int64_t end_ms, int64_t step_ms, struct promql_result *out,
                char *err, size_t errlen);
void promql_result_release(struct promql_result *r);

/* Appends the body Prometheus's /api/v1/query or query_range answers with
 * for this result: {"status":"success","data":{"resultType":...}}.
 * 0 or -ENOBUFS (out's limit). */
int promql_result_json(const struct promql_result *r, struct buf *out);
/* Appends {"status":"error","errorType":...,"error":msg}; err is the code a
 * query returned. */
int promql_error_json(int err, const char *msg, struct buf *out);
/* "bad_data", "execution" or "internal" for a code a query returned. */
const char *promql_error_type(int err);

/* Appends v as Prometheus writes a sample value (Go's strconv.FormatFloat
 * with 'f', or 'e' below 1e-6 and from 1e21, shortest round-trip digits;
 * "+Inf", "-Inf", "NaN"). out holds at least 32 bytes. */
void promql_format_value(double v, char *out, size_t n);
/* Appends a timestamp in ms as unix seconds, as Prometheus's JSON does
 * ("1700000000.5", "12"). */
int promql_append_time(struct buf *out, int64_t t_ms);

#endif
