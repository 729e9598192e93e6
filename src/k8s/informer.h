/* k8s/informer: a cache of the objects of one kind (pods of a namespace,
 * by label selector) kept current by list + watch, as client-go's informer.
 *
 * The cache is always either fresh (listed, then watched from the list's
 * resourceVersion) or being re-listed: after ANY end of the watch — a 410
 * Gone (HTTP or an ERROR event), another error, a cut connection, a line
 * that is not an event, even a clean end — the informer lists again (after a
 * back-off) and compares: what the new list lacks is reported deleted. So a
 * pod deleted while the watch was down cannot stay in the cache (the
 * production-stack bug, vllm-stack-spec.md §6.2). docs/k8s.md.
 *
 * Callbacks run from the loop, never from inside curl: they may start
 * requests, read the informer, and close it (what was left of that list or
 * watch is dropped). */
#ifndef EBB_K8S_INFORMER_H
#define EBB_K8S_INFORMER_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>
#include <uv.h>

#include "k8s/client.h"

struct k8s_informer_opts {
    const char *path;           /* a collection: "/api/v1/namespaces/default/pods" (copied) */
    const char *label_selector; /* "app=vllm,tier=gpu", or NULL for all (copied) */
    /* Each may be NULL. obj, old and last are valid during the call only. */
    void (*on_add)(void *ud, const char *name, const cJSON *obj);
    void (*on_update)(void *ud, const char *name, const cJSON *old, const cJSON *obj);
    void (*on_delete)(void *ud, const char *name, const cJSON *last);
    void (*on_error)(void *ud, const char *err); /* each failed list or watch, for the log */
    void *ud;
    unsigned backoff_min_ms;  /* first wait before a re-list; 0: 200 */
    unsigned backoff_max_ms;  /* the wait doubles up to this; 0: 30000 */
    unsigned watch_timeout_s; /* timeoutSeconds asked of the server; 0: 300 */
    size_t max_objects;       /* a bigger list is an error; 0: 10000 */
    /* Key objects by "namespace/name" instead of name: for a collection
     * across namespaces, where names collide. The callbacks' name and
     * k8s_informer_get then take that key. Off: keyed by name, as before. */
    bool key_namespace;
};

struct k8s_item {
    char *name;
    cJSON *obj;
};

enum k8s_informer_state { K8S_INF_IDLE, K8S_INF_LISTING, K8S_INF_WATCHING, K8S_INF_WAITING };

struct k8s_informer {
    struct k8s_client *c; /* not owned */
    struct k8s_informer_opts o;
    char *path, *selector;
    enum k8s_informer_state state;
    bool synced; /* a list has succeeded once (client-go's HasSynced) */
    bool fresh;  /* listed and watching now: no gap in what it has seen */
    char rv[K8S_RV_MAX + 1]; /* the last resourceVersion seen */
    struct k8s_item *items;  /* n of them, unordered */
    size_t n;
    unsigned backoff_ms;         /* the next wait */
    uint64_t watch_started_ms;   /* loop time */
    unsigned watch_events;       /* events of the current watch */
    struct k8s_watch *watch;
    uv_timer_t timer;
    struct k8s_req *list_req; /* the list in flight */
    bool closing;
    void (*on_closed)(struct k8s_informer *inf);
    /* Counters, for tests and metrics. */
    unsigned lists, list_errors, watches, watch_errors, expired;
};

/* Copies opts (and its strings). 0, or -ENOMEM/-EINVAL. c outlives inf. */
int k8s_informer_init(struct k8s_informer *inf, uv_loop_t *loop, struct k8s_client *c,
                      const struct k8s_informer_opts *opts);
/* Lists, then watches, until closed. 0, or a negative errno. */
int k8s_informer_start(struct k8s_informer *inf);
/* The cached object of that name (or "namespace/name" with key_namespace),
 * or NULL; valid until the next loop turn. */
const cJSON *k8s_informer_get(const struct k8s_informer *inf, const char *name);
/* Stops listing and watching, frees the cache, and calls on_closed (may be
 * NULL) from the loop; then inf may be freed. Call it before closing the
 * client's fetcher. */
void k8s_informer_close(struct k8s_informer *inf, void (*on_closed)(struct k8s_informer *inf));

#endif
