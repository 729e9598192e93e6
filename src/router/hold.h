/* hold: requests held while no backend can take them (scale from zero).
 *
 * Instead of production-stack's immediate 503, a request for a known model
 * with no ready backend waits here, FIFO per model, until a backend for the
 * model becomes ready — or until a limit says no: too many held for the
 * model, too many bytes held in all, or held too long. Then the client gets
 * 503 with Retry-After. Pure: time is an argument; the caller owns the
 * entries (embedded in its request structs) and the timer. */
#ifndef EBB_ROUTER_HOLD_H
#define EBB_ROUTER_HOLD_H

#include <stdbool.h>
#include <stddef.h>

struct hold_limits {
    size_t max_requests; /* per model */
    size_t max_bytes;    /* request bodies held, all models together */
    double max_wait;     /* seconds a request may be held */
};

struct held {
    struct held *prev, *next;
    struct hold_queue *queue; /* NULL when not held */
    double since;             /* when it was held, seconds */
    size_t bytes;
};

struct hold_queue {
    char model[256];
    struct held *head, *tail;
    size_t count;
    struct hold_queue *next;
};

struct hold {
    struct hold_limits limits;
    struct hold_queue *queues; /* one per model ever held, owned */
    size_t count, bytes;       /* over all queues */
    unsigned long long held_total, timeouts_total, overflows_total;
};

void hold_init(struct hold *h, const struct hold_limits *limits);
void hold_release(struct hold *h);

/* Holds e for model at time now. 0, -ENOBUFS when a limit is reached, or
 * -ENOMEM. */
int hold_push(struct hold *h, const char *model, struct held *e, size_t bytes, double now);
/* The oldest held request for model, left in the queue, or NULL. */
struct held *hold_peek(const struct hold *h, const char *model);
/* The oldest held request for model, removed from the queue, or NULL. */
struct held *hold_pop(struct hold *h, const char *model);
/* Takes e out of its queue (the client gave up, or it is being served). */
void hold_remove(struct hold *h, struct held *e);
/* The oldest request held past max_wait at time now, removed, or NULL. */
struct held *hold_pop_expired(struct hold *h, double now);
/* Seconds until the next request expires (0 if one has), or -1 if none is held. */
double hold_next_expiry(const struct hold *h, double now);
/* Requests held for model. */
size_t hold_count(const struct hold *h, const char *model);

#endif
