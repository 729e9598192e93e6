/* k8s/lease: leader election on a coordination.k8s.io/v1 Lease, by the
 * algorithm of client-go's leaderelection (docs/k8s.md), so that of two
 * `ebb autoscaler --kubernetes` replicas only one scales.
 *
 * Every retry period the elector reads the Lease. Missing: it creates it with
 * itself as the holder. Held by another identity and not expired: it waits.
 * Expired, released (no holder) or its own: it writes itself as the holder
 * with a PUT that carries the resourceVersion it read, so of two electors
 * racing for it one gets 409 Conflict and goes on waiting. "Expired" is
 * judged as client-go judges it, by the local clock: the record's
 * leaseDurationSeconds after the moment this process last SAW the record
 * change — never by the renewTime written by another machine's clock. The
 * leader renews every retry period; when no renewal has succeeded for the
 * renew deadline it has lost the lease, and on_stopped runs (the command
 * exits, as controller-runtime's managers do: a process that may have lost
 * the lease must not keep scaling). The renew deadline is shorter than the
 * lease duration, so an old leader stops before anyone else may start.
 *
 * Use:
 *     struct k8s_leader le;
 *     struct k8s_leader_config cfg = {.namespace = "ebb", .name = "ebb-autoscaler"};
 *     k8s_leader_start(&le, loop, &client, &cfg, on_started, on_stopped, ud, err, sizeof(err));
 *     ...
 *     k8s_leader_release(&le, on_released, ud); // gives the lease up; le may go in on_released
 *
 * Callbacks run from the loop; each may call k8s_leader_release. */
#ifndef EBB_K8S_LEASE_H
#define EBB_K8S_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "k8s/client.h"

#define K8S_LEASE_DURATION_MS 15000 /* client-go's and controller-runtime's defaults */
#define K8S_LEASE_RENEW_DEADLINE_MS 10000
#define K8S_LEASE_RETRY_PERIOD_MS 2000
#define K8S_LEASE_IDENTITY_MAX 255 /* bytes of an identity */

struct k8s_leader_config {
    const char *namespace; /* of the Lease (copied) */
    const char *name;      /* of the Lease: "ebb-autoscaler" (copied) */
    /* Who this process is (copied). NULL or "": $POD_NAME, else
     * "<hostname>_<pid>". Two processes must never share one. */
    const char *identity;
    /* 0: the defaults above. The lease duration is written to the Lease in
     * whole seconds, rounded up. Must hold: lease_duration > renew_deadline
     * > 1.2 * retry_period (client-go's rule). */
    unsigned lease_duration_ms; /* how long a holder that stopped renewing keeps it */
    unsigned renew_deadline_ms; /* the leader gives up after this long without a renewal */
    unsigned retry_period_ms;   /* between two tries, and between two renewals */
};

enum k8s_leader_phase {
    K8S_LEADER_FOLLOWING, /* trying to acquire */
    K8S_LEADER_LEADING,
    K8S_LEADER_STOPPED,   /* lost the lease: on_stopped has run; nothing more is tried */
    K8S_LEADER_RELEASING, /* k8s_leader_release: giving the lease up */
    K8S_LEADER_CLOSED,    /* the timers are closing or closed */
};

/* The record as last read, and when it last changed (client-go's
 * observedRecord and observedTime). */
struct k8s_lease_seen {
    uint64_t hash;       /* of the Lease's spec as read: a change is a sign of life */
    uint64_t changed_ms; /* loop time when the spec last changed */
    char holder[K8S_LEASE_IDENTITY_MAX + 1];
    long duration_s;       /* leaseDurationSeconds; 0 when absent */
    long transitions;      /* leaseTransitions */
    char acquire_time[40]; /* acquireTime, kept across our renewals */
};

/* Caller-owned; its members are read-only for the caller. */
struct k8s_leader {
    uv_loop_t *loop;
    struct k8s_client *c; /* not owned; outlives le */
    char ns[K8S_NAME_MAX + 1];
    char name[K8S_NAME_MAX + 1];
    char identity[K8S_LEASE_IDENTITY_MAX + 1];
    char path[640]; /* /apis/coordination.k8s.io/v1/namespaces/NS/leases/NAME */
    unsigned lease_ms, renew_ms, retry_ms;
    enum k8s_leader_phase phase;
    void (*on_started)(void *ud);
    void (*on_stopped)(void *ud);
    void *ud;
    void (*released)(void *ud); /* k8s_leader_release's done */
    void *released_ud;
    uv_timer_t tick;     /* the next try or renewal */
    uv_timer_t deadline; /* leading: the renew deadline; releasing: its time limit */
    int open_handles;
    struct k8s_req *req; /* the request in flight, at most one */
    struct k8s_lease_seen seen;
    uint64_t renewed_ms;    /* loop time of the last successful write */
    uint64_t err_logged_ms; /* loop time of the last failure logged */
    /* Counters, for tests and metrics. */
    unsigned tries, writes, conflicts, failures;
};

/* Pure: reads a Lease's spec (NULL: none) into s's record — holder,
 * duration_s, transitions, acquire_time (what is absent reads as "" or 0; a
 * number is brought into 0..INT32_MAX; a string too long is cut) — and
 * leaves hash and changed_ms alone. */
void k8s_lease_record_read(struct k8s_lease_seen *s, const cJSON *spec);

/* Starts electing: the first try runs from the loop at once. The config's
 * strings are copied. on_started (leadership acquired) and on_stopped
 * (leadership lost: no renewal within the renew deadline) may be NULL and
 * run at most once each; after on_stopped nothing more is tried and the
 * caller ends with k8s_leader_release. 0, or -EINVAL with err (errlen bytes)
 * saying which setting is wrong; nothing to release then. */
int k8s_leader_start(struct k8s_leader *le, uv_loop_t *loop, struct k8s_client *c,
                     const struct k8s_leader_config *cfg, void (*on_started)(void *ud),
                     void (*on_stopped)(void *ud), void *ud, char *err, size_t errlen);

/* True while this process holds the lease (from on_started until it is lost
 * or released). */
bool k8s_leader_leading(const struct k8s_leader *le);

/* Ends the election. When leading, the lease is given up first — written
 * with no holder and leaseDurationSeconds 1, as client-go's ReleaseOnCancel
 * does — so that another replica takes over at once instead of after the
 * lease duration; this takes at most the renew deadline. k8s_leader_leading
 * is false from this call on, and on_stopped does not run. Then the timers
 * close and done (may be NULL) runs from the loop; after it le may be freed.
 * Call it once, after a successful start, and before closing the client's
 * fetcher. */
void k8s_leader_release(struct k8s_leader *le, void (*done)(void *ud), void *ud);

#endif
