/* body: what the router reads from a request body — the model (after an
 * alias rewrite), the session id when it is a body field, and for
 * prefixaware the prompt text — and the bytes to forward. Pure, so the
 * fuzzer runs exactly the router's request path. */
#ifndef EBB_ROUTER_BODY_H
#define EBB_ROUTER_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

struct alias {
    char *alias, *model;
};

enum route_body_status {
    BODY_OK = 0,
    BODY_NOT_JSON,   /* 400 */
    BODY_NOT_OBJECT, /* 400 */
    BODY_NO_MODEL,   /* 400 */
    BODY_TOO_LARGE,  /* 500: the forward buffer's limit */
};

struct route_body {
    char model[256];
    char session[256];   /* from session_field, if the body has it */
    size_t session_len;
    bool rewritten;      /* forward holds the body re-serialized after an alias rewrite */
};

/* Parses len bytes of body. On BODY_OK: out->model is the model to route
 * on; if an alias rewrote it, forward holds the body to send upstream
 * instead (re-serialized, out->rewritten), otherwise forward is untouched
 * and the body goes upstream as it came; prompt (if not NULL) holds the
 * prompt text, up to its limit.
 *
 * Bodies of the common shape — a JSON object with one top-level "model"
 * whose value is a plain string — are read by route_body_scan_model
 * without building a tree when nothing else is needed (no session field,
 * no prompt, no alias); anything else goes through cJSON. Either way the
 * answer is route_body_parse_full's. */
enum route_body_status route_body_parse(const char *data, size_t len, const struct alias *aliases,
                                        size_t naliases, const char *session_field,
                                        struct buf *forward, struct buf *prompt,
                                        struct route_body *out);
/* The reference reading, through cJSON; route_body_parse must always agree
 * with it (the unit tests and fuzz target router_body check that). Where a
 * key repeats, the last one counts, as in Python's json (production-stack,
 * and the engine behind us). */
enum route_body_status route_body_parse_full(const char *data, size_t len,
                                             const struct alias *aliases, size_t naliases,
                                             const char *session_field, struct buf *forward,
                                             struct buf *prompt, struct route_body *out);
/* The fast path's scan: true when data is strict JSON of a shape whose
 * reading by cJSON is certain — a top-level object, nesting at most 32
 * deep, strings without \u escapes or raw control bytes, numbers of at most
 * 32 characters, only JSON whitespace, nothing after the object — holding
 * exactly one top-level "model" whose value is a string of 1-255 bytes
 * without escapes. Then *model points into data (model_len bytes). False
 * means "not sure", never "invalid": the caller asks cJSON. */
bool route_body_scan_model(const char *data, size_t len, const char **model, size_t *model_len);
/* production-stack's error message for a status, e.g. "Invalid request:
 * request body must be valid JSON." */
const char *route_body_error(enum route_body_status s);

#endif
