/* query: KEDA's prometheus scaler, the pure parts — the query URL it sends
 * (keda-hpa-spec.md §3.2) and how it reads the answer (§3.3's decision
 * table, row for row). The HTTP call itself belongs to the caller. */
#ifndef EBB_PROM_QUERY_H
#define EBB_PROM_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

struct prom_kv {
    const char *key, *value;
};

/* Appends serverAddress + "/api/v1/query?query=" + QueryEscape(query) +
 * "&time=" + time_rfc3339, then "&namespace=" + namespace (raw, as KEDA does)
 * and each query parameter escaped. 0 or -ENOBUFS. */
int prom_query_url(struct buf *out, const char *server, const char *query, const char *time_rfc3339,
                   const char *namespace_, const struct prom_kv *params, size_t nparams);

/* Appends s escaped as Go's url.QueryEscape does (space -> '+'). */
int prom_query_escape(struct buf *out, const char *s);

/* Formats unix seconds as RFC 3339 in UTC with whole seconds
 * ("2026-08-20T17:53:42Z"); out holds at least 21 bytes. */
void prom_rfc3339(double unix_seconds, char *out, size_t n);

enum prom_outcome {
    PROM_VALUE,        /* *value is the answer */
    PROM_ERROR,        /* err says why; KEDA would report the trigger failed */
};

struct prom_answer {
    enum prom_outcome outcome;
    double value;
    bool empty;        /* an empty result counted as 0 (keda_scaler_empty_upstream_responses_total) */
    size_t nseries;    /* series in the result */
    bool summed;       /* several series were summed (ebb's default; KEDA errors) */
    char err[256];
};

/* Reads a Prometheus /api/v1/query answer as KEDA does. http_status is the
 * response status; ignore_null_values is the trigger's ignoreNullValues
 * (default true); strict: several series are KEDA's error instead of summed. */
void prom_query_answer(int http_status, const char *body, size_t len, const char *query,
                       bool ignore_null_values, bool strict, struct prom_answer *out);

#endif
