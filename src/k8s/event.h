/* k8s/event: Kubernetes Events (core/v1) about an object — a ScaledObject
 * scaled, a scaler failing — as client-go's event recorder writes them, so
 * that `kubectl describe scaledobject` shows what ebb did (the reasons KEDA
 * uses: KEDAScaleTargetActivated, KEDAScalerFailed, ...). docs/k8s.md.
 *
 * As client-go's EventCorrelator, in spirit:
 * - the same (object, type, reason, message) again within 10 minutes of its
 *   last time is not a new Event: the existing one gets count+1 and a new
 *   lastTimestamp (a merge PATCH). A cache of K8S_EVENTS_CACHE entries,
 *   least recently used out, remembers what was sent;
 * - a token bucket per involved object (burst 25, one more every 5 minutes,
 *   client-go's spam filter) drops what a flapping object emits past that,
 *   PATCHes included, so it cannot flood the API server.
 * Emitting never blocks and never fails the caller: requests go out on the
 * loop, at most K8S_EVENTS_INFLIGHT at a time; failures are logged (at most
 * once a minute) and dropped, never retried. */
#ifndef EBB_K8S_EVENT_H
#define EBB_K8S_EVENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "k8s/client.h"

#define K8S_EVENTS_CACHE 4096       /* events kept for correlation; objects for the spam filter */
#define K8S_EVENTS_WINDOW_MS 600000 /* a repeat within this of the last is counted, not sent */
#define K8S_EVENTS_BURST 25         /* events per object at once */
#define K8S_EVENTS_REFILL_MS 300000 /* then one more per 5 minutes */
#define K8S_EVENTS_INFLIGHT 32      /* requests at once; more events are dropped */
#define K8S_EVENTS_CLOSE_MS 2000    /* k8s_events_close waits this long for requests in flight */
#define K8S_EVENT_MESSAGE_MAX 1024  /* bytes of a message; longer ones are cut */
#define K8S_EVENT_REASON_MAX 128    /* bytes of a reason */

/* The object an Event is about (its involvedObject). The strings are read
 * during k8s_event_emit only. */
struct k8s_involved {
    const char *api_version; /* "keda.sh/v1alpha1" */
    const char *kind;        /* "ScaledObject" */
    const char *name;
    const char *namespace;        /* the Event is created there too */
    const char *uid;              /* may be NULL */
    const char *resource_version; /* may be NULL */
};

/* An Event sent, for correlation. key 0: a free cell. */
struct k8s_event_seen {
    uint64_t key;     /* hash of component, object, type, reason and message */
    uint64_t used;    /* the cache's clock when last emitted: the least is evicted */
    uint64_t last_ms; /* loop time of the last emit */
    double last_s;    /* wall time of the last emit (lastTimestamp) */
    long count;
    bool busy;    /* a request for it is in flight */
    bool pending; /* emitted again meanwhile: PATCH the count when it ends */
    char name[K8S_NAME_MAX + 1];
    char ns[K8S_NAME_MAX + 1];
};

/* The spam filter's state for one object. */
struct k8s_event_bucket {
    uint64_t key, used;
    double tokens;
    uint64_t filled_ms; /* loop time tokens were last topped up */
};

/* One request in flight. */
struct k8s_event_call {
    struct k8s_events *ev;
    struct k8s_req *req; /* NULL: the cell is free */
    uint64_t key;        /* the k8s_event_seen it is for */
};

/* Caller-owned. burst and refill_ms may be changed after init (tests). */
struct k8s_events {
    uv_loop_t *loop;
    struct k8s_client *c;             /* not owned; outlives ev */
    char component[64];               /* source.component and reportingComponent */
    struct k8s_event_seen *seen;      /* K8S_EVENTS_CACHE cells */
    struct k8s_event_bucket *buckets; /* K8S_EVENTS_CACHE cells */
    struct k8s_event_call calls[K8S_EVENTS_INFLIGHT];
    uint64_t clock;      /* the caches' LRU clock */
    uint64_t last_nanos; /* names are "<object>.<hex nanoseconds>", each one new */
    unsigned burst;      /* K8S_EVENTS_BURST after init */
    unsigned refill_ms;  /* K8S_EVENTS_REFILL_MS after init */
    uv_timer_t timer;    /* close's grace period */
    bool closing;
    void (*closed)(void *ud);
    void *closed_ud;
    uint64_t err_logged_ms;
    unsigned errs_unlogged;
    /* Counters, for tests and metrics. */
    unsigned created, patched, limited, dropped, failed;
};

/* Sets ev up; component (NULL: "ebb-autoscaler") is copied. Allocates the
 * caches (about 2 MB). 0 or -ENOMEM (nothing to close then). */
int k8s_events_init(struct k8s_events *ev, uv_loop_t *loop, struct k8s_client *c,
                    const char *component);

/* Records an Event of type "Normal" or "Warning" with reason (CamelCase, at
 * most K8S_EVENT_REASON_MAX bytes) and a printf message about obj. 0 when a
 * request went out or the repeat was counted for one in flight; -EBUSY when
 * the object's rate limit dropped it; -ENOBUFS when too many requests are in
 * flight; -EINVAL for a bad type, reason or object; -ESHUTDOWN after close.
 * The caller may ignore all of these: an Event is a notice, not a duty. */
int k8s_event_emit(struct k8s_events *ev, const struct k8s_involved *obj, const char *type,
                   const char *reason, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int k8s_event_vemit(struct k8s_events *ev, const struct k8s_involved *obj, const char *type,
                    const char *reason, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Lets the requests in flight finish for up to K8S_EVENTS_CLOSE_MS, cancels
 * the rest, frees the caches and calls done (may be NULL) from the loop;
 * after it ev may be freed. Emits are refused from this call on. Call it
 * before closing the client's fetcher. */
void k8s_events_close(struct k8s_events *ev, void (*done)(void *ud), void *ud);

#endif
