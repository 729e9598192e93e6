/* backend: one upstream engine as the router sees it — where it is, what it
 * serves, whether it may take requests, and how loaded it is. */
#ifndef EBB_ROUTER_BACKEND_H
#define EBB_ROUTER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKEND_MAX_MODELS 16

enum backend_state {
    BACKEND_READY,    /* takes new requests */
    BACKEND_DRAINING, /* finishes what it has, takes nothing new */
    BACKEND_DOWN,     /* failed; an active /health probe brings it back */
};

struct backend {
    char url[256];       /* "http://127.0.0.1:8000", no trailing slash */
    char host[200];      /* for connecting and the Host header */
    int port;
    char id[40];         /* engine id for /engines: a uuid4 */
    uint64_t url_hash;   /* for session hashing, fixed by the URL */
    char *models[BACKEND_MAX_MODELS]; /* owned */
    size_t nmodels;
    enum backend_state state;
    double added_at;     /* unix seconds */
    /* Load as the router sees it. */
    unsigned inflight;   /* requests sent and not finished */
    unsigned prefill;    /* of those, still waiting for the first byte */
    /* Load the engine reported on its /metrics (-1: not scraped yet). */
    double waiting, running;
    unsigned inflight_at_scrape;
};

bool backend_serves(const struct backend *b, const char *model);

#endif
