/* trigger: KEDA's prometheus scaler, live (reference/keda-hpa-spec.md §3):
 * the request of §3.2 (query URL with time, namespace and queryParameters;
 * customHeaders, then bearer, basic or custom auth; unsafeSsl; timeout,
 * default 3 s) sent through fetch, the answer read by prom_query_answer
 * (§3.3), and on any error one immediate retry whose result is final
 * (§3.6). The outcome is a keda_sample for the policy plus what status and
 * /metrics show. */
#ifndef EBB_AUTOSCALER_TRIGGER_H
#define EBB_AUTOSCALER_TRIGGER_H

#include <stdbool.h>

#include "config/config.h"
#include "http/fetch.h"
#include "prom/query.h"
#include "scale/keda.h"

/* The timeout when the trigger sets none, in milliseconds: KEDA's global
 * default (KEDA_HTTP_DEFAULT_TIMEOUT is not read). */
#define TRIGGER_DEFAULT_TIMEOUT_MS 3000L
/* Limits, in bytes: of an answer (more is an error), of the query URL and of
 * all header lines together (more: trigger_poll_start fails). */
#define TRIGGER_MAX_BODY (4u << 20)
#define TRIGGER_MAX_URL (64u << 10)
#define TRIGGER_MAX_HEADERS (64u << 10)

struct trigger_result {
    struct keda_sample sample; /* ok/value for keda_poll */
    struct prom_answer answer; /* the last attempt's reading: err, summed, empty, nseries */
    long http_status;          /* of the last attempt; 0 without a response */
    int attempts;              /* 1 or 2 */
    double seconds;            /* the whole poll, retry included */
};

typedef void (*trigger_cb)(void *ud, const struct trigger_result *r);

struct trigger_poll;

/* Queries t (a prometheus trigger: t->is_prometheus) as of now (unix
 * seconds, for &time=; the retry adds the time spent); strict: several
 * series are KEDA's error instead of summed. t is read again for the retry:
 * it must stay valid until cb or cancel. cb runs exactly once, later, from
 * the loop; result is valid during cb only. *out (may be NULL) allows
 * cancelling until cb runs. 0 or a negative errno (cb does not run then):
 * -EINVAL for a trigger that is not prometheus or a header value with CR or
 * LF, -ENOBUFS for a URL over TRIGGER_MAX_URL, or fetch_start's errors.
 * If the fetcher is closed (fetcher_close) with the poll in flight, cb does
 * not run and the poll is freed: the handle must not be used after that. */
int trigger_poll_start(struct fetcher *f, const struct cfg_trigger *t, double now, bool strict,
                       trigger_cb cb, void *ud, struct trigger_poll **out);

/* Cancels a poll in flight: its callback does not run, and tp is freed.
 * Does nothing from inside tp's own callback. */
void trigger_poll_cancel(struct trigger_poll *tp);

#endif
