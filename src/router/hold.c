/* hold: bounded FIFO queues of held requests. See hold.h. */
#include "router/hold.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hold_init(struct hold *h, const struct hold_limits *limits)
{
    memset(h, 0, sizeof(*h));
    h->limits = *limits;
}

void hold_release(struct hold *h)
{
    struct hold_queue *q = h->queues;
    while (q) {
        struct hold_queue *next = q->next;
        free(q);
        q = next;
    }
    h->queues = NULL;
}

static struct hold_queue *find_queue(const struct hold *h, const char *model)
{
    for (struct hold_queue *q = h->queues; q; q = q->next) {
        if (strcmp(q->model, model) == 0)
            return q;
    }
    return NULL;
}

int hold_push(struct hold *h, const char *model, struct held *e, size_t bytes, double now)
{
    struct hold_queue *q = find_queue(h, model);
    size_t count = q ? q->count : 0;
    if (count >= h->limits.max_requests || bytes > h->limits.max_bytes - h->bytes ||
        h->limits.max_wait <= 0) {
        h->overflows_total++;
        return -ENOBUFS;
    }
    if (!q) {
        /* Queues are per model and models are few (they come from the
         * router's configuration or discovery, never from clients). */
        q = calloc(1, sizeof(*q));
        if (!q)
            return -ENOMEM;
        snprintf(q->model, sizeof(q->model), "%s", model);
        q->next = h->queues;
        h->queues = q;
    }
    e->queue = q;
    e->since = now;
    e->bytes = bytes;
    e->next = NULL;
    e->prev = q->tail;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->count++;
    h->count++;
    h->bytes += bytes;
    h->held_total++;
    return 0;
}

void hold_remove(struct hold *h, struct held *e)
{
    struct hold_queue *q = e->queue;
    if (!q)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        q->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        q->tail = e->prev;
    e->prev = e->next = NULL;
    e->queue = NULL;
    q->count--;
    h->count--;
    h->bytes -= e->bytes;
}

struct held *hold_peek(const struct hold *h, const char *model)
{
    struct hold_queue *q = find_queue(h, model);
    return q ? q->head : NULL;
}

struct held *hold_pop(struct hold *h, const char *model)
{
    struct hold_queue *q = find_queue(h, model);
    if (!q || !q->head)
        return NULL;
    struct held *e = q->head;
    hold_remove(h, e);
    return e;
}

struct held *hold_pop_expired(struct hold *h, double now)
{
    for (struct hold_queue *q = h->queues; q; q = q->next) {
        /* FIFO: the head is the oldest of its queue. */
        if (q->head && now - q->head->since >= h->limits.max_wait) {
            struct held *e = q->head;
            hold_remove(h, e);
            h->timeouts_total++;
            return e;
        }
    }
    return NULL;
}

double hold_next_expiry(const struct hold *h, double now)
{
    double next = -1;
    for (const struct hold_queue *q = h->queues; q; q = q->next) {
        if (!q->head)
            continue;
        double left = q->head->since + h->limits.max_wait - now;
        if (left < 0)
            left = 0;
        if (next < 0 || left < next)
            next = left;
    }
    return next;
}

size_t hold_count(const struct hold *h, const char *model)
{
    const struct hold_queue *q = find_queue(h, model);
    return q ? q->count : 0;
}
