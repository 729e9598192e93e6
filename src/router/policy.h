/* policy: which backend gets a request. Pure: candidates and keys in, an
 * index out; no I/O and no clock.
 *
 *   roundrobin    production-stack's: a counter per candidate set.
 *   session       rendezvous (highest-random-weight) hashing of the session
 *                 key over backend URLs: a key moves only when its backend
 *                 leaves, and only keys of a backend that joins move to it.
 *                 Without a key: least-loaded.
 *   least-loaded  fewest requests in flight as the router counts them, plus
 *                 whatever the engine reports queued or running beyond that
 *                 (other routers' traffic). ebb's default.
 *   prefixaware   see prefix.h. */
#ifndef EBB_ROUTER_POLICY_H
#define EBB_ROUTER_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "router/backend.h"

enum routing_logic {
    ROUTING_LEAST_LOADED,
    ROUTING_ROUNDROBIN,
    ROUTING_SESSION,
    ROUTING_PREFIXAWARE,
};

/* Parses "least-loaded", "roundrobin", "session", "prefixaware". 0 or -EINVAL. */
int routing_logic_parse(const char *s, enum routing_logic *out);
const char *routing_logic_name(enum routing_logic r);

#define RR_SLOTS 64

struct policy {
    enum routing_logic logic;
    uint64_t rr_keys[RR_SLOTS];   /* candidate-set hashes, for roundrobin */
    uint64_t rr_counts[RR_SLOTS];
    uint64_t tiebreak;            /* rotates among equally loaded backends */
};

void policy_init(struct policy *p, enum routing_logic logic);

/* The load least-loaded compares: in flight here, plus what the engine
 * reports beyond it. */
double backend_load(const struct backend *b);

/* Picks one of n (> 0) candidates, all ready and serving the model. key is
 * the session id (may be NULL). Returns an index into cands. */
size_t policy_pick(struct policy *p, struct backend *const *cands, size_t n, const char *key,
                   size_t keylen);

size_t policy_least_loaded(struct policy *p, struct backend *const *cands, size_t n);
size_t policy_rendezvous(struct backend *const *cands, size_t n, const char *key, size_t keylen);

#endif
