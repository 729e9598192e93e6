/* control: the autoscaler's HTTP port — JSON status per ScaledObject
 * (/status), the rows of `kubectl get hpa` (/hpa, read by `ebb get hpa`),
 * KEDA's metrics (/metrics), /health, and POST /evaluate?scaledobject=NAME
 * to poll an object now. Reads only what the autoscaler already holds. */
#ifndef EBB_AUTOSCALER_CONTROL_H
#define EBB_AUTOSCALER_CONTROL_H

#include "autoscaler/autoscaler.h"
#include "http/server.h"

#define CONTROL_OUT_MAX (64u << 20) /* one status or metrics answer */

struct control {
    struct http_server http;
    struct autoscaler *as; /* borrowed */
    struct buf out;
    void (*on_closed)(struct control *c);
    void *data; /* the owner's */
};

/* Answers /status, /hpa and POST /evaluate for as, using out as scratch;
 * false for any other path (for a server that serves more, as ebb up's). */
bool autoscaler_http_handle(struct autoscaler *as, struct buf *out, struct http_req *req);

/* Listens on host:port. 0 or a negative libuv error. */
int control_start(struct control *c, uv_loop_t *loop, struct autoscaler *as, const char *host,
                  int port);
/* Closes the port and its connections, then on_closed. */
void control_stop(struct control *c, void (*on_closed)(struct control *c));

#endif
