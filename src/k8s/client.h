/* k8s/client: requests to the Kubernetes API on the libuv loop, through
 * fetch (http/fetch.h): get, list, patch, put, a watch stream read line by
 * line, the /scale subresource, and updates with optimistic concurrency
 * (409 Conflict → read again, change again, retry). docs/k8s.md.
 *
 * Use:
 *     struct k8s_client c;
 *     k8s_client_init(&c, loop, &fetcher, &config);   // all outlive c
 *     k8s_request(&c, "GET", "/api/v1/namespaces/default/pods", NULL, NULL, on_done, ud, NULL);
 *
 * Every callback runs from the loop, once; a request in flight ends with the
 * fetcher's close (its callback does not run then). */
#ifndef EBB_K8S_CLIENT_H
#define EBB_K8S_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "http/fetch.h"
#include "k8s/config.h"
#include "k8s/object.h"

#define K8S_BODY_MAX (16u << 20) /* bytes of one answer (a list) */
#define K8S_LINE_MAX (4u << 20)  /* bytes of one watch event */
#define K8S_TIMEOUT_MS 30000     /* one request, not a watch */

struct k8s_client {
    uv_loop_t *loop;        /* its clock times the token's re-reading */
    struct fetcher *f;      /* not owned */
    struct k8s_config *cfg; /* not owned */
    long timeout_ms;        /* per request; K8S_TIMEOUT_MS after init */
    bool reread_token;      /* a 401 was seen: read the token file again */
};

void k8s_client_init(struct k8s_client *c, uv_loop_t *loop, struct fetcher *f,
                     struct k8s_config *cfg);

/* What a request got. err is NULL for a 2xx answer with a JSON body; else,
 * for people: `GET /api/v1/namespaces/default/pods: 401 Unauthorized:
 * Unauthorized` or `…: connection refused (after 0.0 s)`. obj is the parsed
 * body (for errors, the Status if there is one) or NULL; the callback may
 * take it (set r->obj = NULL), else it is freed after the callback. */
struct k8s_response {
    const char *err;
    long status; /* 0 without an answer */
    cJSON *obj;
    const char *body; /* the raw body, during the callback only */
    size_t len;
};

typedef void (*k8s_cb)(void *ud, struct k8s_response *r);

struct k8s_req;

/* Sends method path (path starts with "/", with its query) with body
 * (NULL: none) of content_type (NULL: application/json). 0, or a negative
 * errno (cb does not run then). *out (may be NULL) lets the caller cancel
 * until cb runs. */
int k8s_request(struct k8s_client *c, const char *method, const char *path, const char *body,
                const char *content_type, k8s_cb cb, void *ud, struct k8s_req **out);
/* Cancels a request: its callback does not run. Not from inside it. */
void k8s_request_cancel(struct k8s_req *q);

/* Appends s percent-encoded for a query value to out (cap bytes, always
 * terminated). -ENOBUFS when it does not fit. */
int k8s_query_escape(char *out, size_t cap, const char *s);

/* ---------- watch ---------- */

struct k8s_watch;

/* An event of the stream, from the loop (never from inside curl: the
 * handler may start requests); return 0 to go on, anything else to end the
 * watch (its on_end then runs with err "...: stopped"). ev is released
 * after. */
typedef int (*k8s_event_cb)(void *ud, const struct k8s_event *ev);
/* The stream ended: err NULL for a clean end (the server's timeoutSeconds),
 * else why (an HTTP error with its Status text, a cut connection, a line
 * that is not an event). status: the HTTP status (0 without an answer). */
typedef void (*k8s_watch_end_cb)(void *ud, const char *err, long status);

/* Starts a watch: GET path (with its query: watch=1, resourceVersion, ...)
 * read as one JSON event per line, each line at most K8S_LINE_MAX bytes.
 * timeout_ms bounds the whole stream. 0, or a negative errno. *out lets the
 * caller cancel until on_end runs. */
int k8s_watch_start(struct k8s_client *c, const char *path, long timeout_ms, k8s_event_cb on_event,
                    k8s_watch_end_cb on_end, void *ud, struct k8s_watch **out);

/* Ends a watch without its on_end; its memory goes from the loop (run it
 * before closing the loop). May be called from its on_event (the events
 * not yet read are dropped), not from its on_end (it is over then). */
void k8s_watch_cancel(struct k8s_watch *w);

/* ---------- the /scale subresource ---------- */

struct k8s_scale {
    long spec_replicas;   /* spec.replicas */
    long status_replicas; /* status.replicas (0 when absent) */
    char rv[K8S_RV_MAX + 1];
};

typedef void (*k8s_scale_cb)(void *ud, const char *err, const struct k8s_scale *s);

/* GET object_path + "/scale" (object_path: "/apis/apps/v1/namespaces/ns/
 * deployments/web"). 0, or a negative errno. */
int k8s_scale_get(struct k8s_client *c, const char *object_path, k8s_scale_cb cb, void *ud);

/* PATCH object_path + "/scale" with application/merge-patch+json
 * {"spec":{"replicas":N}}; cb gets the scale the server answers with. */
int k8s_scale_patch(struct k8s_client *c, const char *object_path, long replicas, k8s_scale_cb cb,
                    void *ud);

/* ---------- updates with optimistic concurrency ---------- */

/* Changes obj (the object as just read) in place for the PUT. 0, or a
 * negative errno to give up (the update ends with an error). */
typedef int (*k8s_mutate_fn)(void *ud, cJSON *obj);
/* err NULL when the PUT succeeded; obj the object the server stored. */
typedef void (*k8s_update_cb)(void *ud, const char *err, const cJSON *obj);

/* GET path, mutate, PUT path with the resourceVersion as read; on 409
 * Conflict read again and retry, at most attempts times in all (client-go's
 * RetryOnConflict tries 5). 0, or a negative errno. */
int k8s_update(struct k8s_client *c, const char *path, int attempts, k8s_mutate_fn mutate,
               k8s_update_cb cb, void *ud);

#endif
