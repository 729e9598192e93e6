/* body: what the router reads from a request body — the model (after an
 * alias rewrite), the session id when it is a body field, and for
 * prefixaware the prompt text — and the bytes to forward. Pure, so the
 * fuzzer runs exactly the router's request path. */
#ifndef EBB_ROUTER_BODY_H
#define EBB_ROUTER_BODY_H

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
};

/* Parses len bytes of body. On BODY_OK, forward holds the bytes to send
 * upstream (the body itself, or re-serialized if an alias rewrote the
 * model), and prompt (if not NULL) the prompt text, up to its limit. */
enum route_body_status route_body_parse(const char *data, size_t len, const struct alias *aliases,
                                        size_t naliases, const char *session_field,
                                        struct buf *forward, struct buf *prompt,
                                        struct route_body *out);
/* production-stack's error message for a status, e.g. "Invalid request:
 * request body must be valid JSON." */
const char *route_body_error(enum route_body_status s);

#endif
