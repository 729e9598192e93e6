/* probe: one Kubernetes-style httpGet readiness probe on the loop — connect
 * to 127.0.0.1:port, send "GET path HTTP/1.1", read the status line; a
 * 200-399 status is a success, as the kubelet counts it. Self-contained
 * (no keep-alive, no body read) so that a probe costs one short connection
 * and can never hold a replica's request slot. */
#ifndef EBB_AUTOSCALER_PROBE_H
#define EBB_AUTOSCALER_PROBE_H

#include <stdint.h>
#include <uv.h>

#define PROBE_PATH_MAX 1024 /* bytes of httpGet.path sent */
#define PROBE_LINE_MAX 256  /* bytes of the status line read */

enum probe_result {
    PROBE_SUCCESS,
    PROBE_FAILURE,   /* refused, timed out, not HTTP, or a status outside 200-399 */
    PROBE_CANCELLED, /* probe_cancel was called: the owner's object may be gone */
};

struct probe;

/* Called exactly once per probe, after its handles are closed; the probe's
 * memory is freed when it returns. detail says why a probe failed
 * ("connection refused", "status 503"), valid during the call. */
typedef void (*probe_done_fn)(struct probe *pr, enum probe_result r, const char *detail, void *ud);

/* Starts a probe of http://127.0.0.1:port<path> that fails after timeout_ms.
 * The probe owns its memory. NULL when memory ran out (done is not called). */
struct probe *probe_start(uv_loop_t *loop, int32_t port, const char *path, uint64_t timeout_ms,
                          probe_done_fn done, void *ud);

/* Stops a probe: done still runs once, later, with PROBE_CANCELLED. */
void probe_cancel(struct probe *pr);

#endif
