/* api_check: the invariants of api_parse_request's answer, shared by the
 * api_request and request_path targets. */
#ifndef EBB_TESTS_FUZZ_API_CHECK_H
#define EBB_TESTS_FUZZ_API_CHECK_H

#include <stddef.h>

#include "engine/request.h"

/* Runs api_parse_request on body[0..len) and checks what it returns: a
 * request that fits the limits, or an error a client can be sent. Releases
 * the request. */
void api_check_parse(enum api_kind kind, const char *body, size_t len,
                     const struct api_limits *lim);

#endif
