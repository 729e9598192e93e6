/* metrics: the router's /metrics — production-stack's names and labels
 * (vllm-stack-spec.md §1.8) plus ebb_router_* for what it adds (holding,
 * retries, upstream errors by kind). Label pairs are written sorted, as
 * prometheus_client does. */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "router/router.h"

static const double latency_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

void router_backend_metrics_init(struct rbackend *rb)
{
    for (int i = 0; i < 2; i++)
        prom_histogram_init(&rb->latency[i], latency_buckets, ARRAY_SIZE(latency_buckets),
                            rb->latency_cells[i]);
}

/* 'name="value"' with the value escaped. */
static void label(struct buf *b, const char *name, const char *value)
{
    buf_appendf(b, "%s=\"", name);
    prom_escape_label(b, value);
    buf_append_str(b, "\"");
}

static int per_server_gauge(struct router *r, struct buf *out, const char *name, const char *help,
                            double (*value)(const struct rbackend *rb))
{
    int err = prom_family(out, name, "gauge", help);
    struct buf l = BUF_INIT(1024);
    for (struct rbackend *rb = r->backends; rb && !err; rb = rb->next) {
        buf_reset(&l);
        label(&l, "server", rb->b.url);
        err = prom_sample(out, name, l.data, value(rb));
    }
    buf_release(&l);
    return err;
}

static double v_qps(const struct rbackend *rb)
{
    /* Requests started in the last full window, per second. */
    double window = rb->router->cfg.request_stats_window;
    unsigned n = rb->qps_prev > rb->qps_count ? rb->qps_prev : rb->qps_count;
    return window > 0 ? n / window : 0;
}

static double v_prefill(const struct rbackend *rb)
{
    return rb->b.prefill;
}

static double v_decoding(const struct rbackend *rb)
{
    return rb->b.inflight - rb->b.prefill;
}

static double v_running(const struct rbackend *rb)
{
    return rb->b.inflight;
}

static double v_avg_latency(const struct rbackend *rb)
{
    return rb->latency_count ? rb->latency_sum / rb->latency_count : -1;
}

static double v_unknown(const struct rbackend *rb)
{
    (void)rb;
    return -1; /* production-stack never feeds these either */
}

static double v_zero(const struct rbackend *rb)
{
    (void)rb;
    return 0;
}

static double v_healthy(const struct rbackend *rb)
{
    return rb->b.state == BACKEND_READY ? 1 : 0;
}

static int write_incoming(struct router *r, struct buf *out)
{
    const struct router_metrics *m = &r->metrics;
    int err = prom_family(out, "vllm:num_incoming_requests_total", "counter",
                          "Number of incoming requests");
    struct buf l = BUF_INIT(1024);
    for (size_t i = 0; i <= m->nincoming && !err; i++) {
        if (i == m->nincoming && m->incoming[ROUTER_MAX_KNOWN_MODELS] == 0)
            break;
        buf_reset(&l);
        label(&l, "model", i < m->nincoming ? m->incoming_models[i] : "other");
        double v = (double)(i < m->nincoming ? m->incoming[i] : m->incoming[ROUTER_MAX_KNOWN_MODELS]);
        err = prom_sample(out, "vllm:num_incoming_requests_total", l.data, v);
    }
    buf_release(&l);
    return err;
}

static int write_latency(struct router *r, struct buf *out)
{
    static const char *const status[] = {"success", "error"};
    const char *name = "vllm:request_latency_seconds";
    int err = prom_family(out, name, "histogram", "Request latency in seconds");
    struct buf l = BUF_INIT(2048);
    for (struct rbackend *rb = r->backends; rb && !err; rb = rb->next) {
        for (int s = 0; s < 2 && !err; s++) {
            buf_reset(&l);
            label(&l, "model", rb->b.models[0]);
            buf_append_str(&l, ",");
            label(&l, "server", rb->b.url);
            buf_append_str(&l, ",");
            label(&l, "status", status[s]);
            err = prom_histogram_write(out, name, NULL, l.data, &rb->latency[s]);
        }
    }
    buf_release(&l);
    return err;
}

static int write_errors(struct router *r, struct buf *out)
{
    int err = prom_family(out, "vllm:request_errors_total", "counter",
                          "Total number of request errors");
    struct buf l = BUF_INIT(2048);
    for (struct rbackend *rb = r->backends; rb && !err; rb = rb->next) {
        for (int k = UPSTREAM_CONNECT; k < UPSTREAM_ERROR_KINDS && !err; k++) {
            if (!rb->errors[k])
                continue;
            buf_reset(&l);
            label(&l, "error_type", upstream_error_name((enum upstream_error)k));
            buf_append_str(&l, ",");
            label(&l, "model", rb->b.models[0]);
            buf_append_str(&l, ",");
            label(&l, "server", rb->b.url);
            err = prom_sample(out, "vllm:request_errors_total", l.data, (double)rb->errors[k]);
        }
    }
    buf_release(&l);
    return err;
}

static int write_ebb(struct router *r, struct buf *out)
{
    const struct router_metrics *m = &r->metrics;
    struct buf l = BUF_INIT(1024);
    int err = prom_family(out, "ebb_router_held_requests", "gauge",
                          "Requests held because no backend for their model is ready.");
    for (const struct hold_queue *q = r->hold.queues; q && !err; q = q->next) {
        buf_reset(&l);
        label(&l, "model", q->model);
        err = prom_sample(out, "ebb_router_held_requests", l.data, (double)q->count);
    }
    if (!err)
        err = prom_family(out, "ebb_router_hold_seconds", "histogram",
                          "How long held requests waited for a backend, in seconds.");
    if (!err)
        err = prom_histogram_write(out, "ebb_router_hold_seconds", NULL, NULL, &m->hold_seconds);
    struct {
        const char *name, *help;
        unsigned long long v;
    } counters[] = {
        {"ebb_router_held_total", "Requests held since start.", m->held_total},
        {"ebb_router_hold_overflows_total", "Requests refused with 503 because the hold queue was full.",
         m->hold_overflows_total},
        {"ebb_router_hold_timeouts_total", "Held requests refused with 503 after --hold-timeout.",
         m->hold_timeouts_total},
        {"ebb_router_retries_total", "Requests re-sent after a failure before anything reached the backend.",
         m->retries_total},
    };
    for (size_t i = 0; i < ARRAY_SIZE(counters) && !err; i++) {
        err = prom_family(out, counters[i].name, "counter", counters[i].help);
        if (!err)
            err = prom_sample(out, counters[i].name, NULL, (double)counters[i].v);
    }
    if (!err)
        err = prom_family(out, "ebb_router_upstream_errors_total", "counter",
                          "Upstream failures by kind.");
    for (int k = UPSTREAM_CONNECT; k < UPSTREAM_ERROR_KINDS && !err; k++) {
        buf_reset(&l);
        label(&l, "kind", upstream_error_name((enum upstream_error)k));
        err = prom_sample(out, "ebb_router_upstream_errors_total", l.data,
                          (double)m->upstream_errors[k]);
    }
    if (!err)
        err = prom_family(out, "ebb_router_backend_up", "gauge",
                          "1 if the backend takes new requests, 0 if draining or down.");
    for (struct rbackend *rb = r->backends; rb && !err; rb = rb->next) {
        buf_reset(&l);
        label(&l, "server", rb->b.url);
        buf_append_str(&l, ",");
        label(&l, "state", rb->b.state == BACKEND_READY      ? "ready"
                           : rb->b.state == BACKEND_DRAINING ? "draining"
                                                             : "down");
        err = prom_sample(out, "ebb_router_backend_up", l.data, rb->b.state == BACKEND_READY);
    }
    buf_release(&l);
    return err;
}

int router_metrics_render(struct router *r, struct buf *out)
{
    int err = write_incoming(r, out);
    if (!err)
        err = per_server_gauge(r, out, "vllm:current_qps", "Current Queries Per Second", v_qps);
    if (!err)
        err = per_server_gauge(r, out, "vllm:num_prefill_requests",
                               "Number of Prefill Requests", v_prefill);
    if (!err)
        err = per_server_gauge(r, out, "vllm:num_decoding_requests",
                               "Number of Decoding Requests", v_decoding);
    if (!err)
        err = per_server_gauge(r, out, "vllm:num_requests_running",
                               "Number of running requests as seen by the router", v_running);
    if (!err)
        err = per_server_gauge(r, out, "vllm:avg_latency", "Average end-to-end request latency",
                               v_avg_latency);
    if (!err)
        err = per_server_gauge(r, out, "vllm:avg_itl", "Average Inter-Token Latency", v_unknown);
    if (!err)
        err = per_server_gauge(r, out, "vllm:avg_decoding_length", "Average decoding length",
                               v_unknown);
    if (!err)
        err = per_server_gauge(r, out, "vllm:num_requests_swapped", "Number of swapped requests",
                               v_zero);
    if (!err)
        err = per_server_gauge(r, out, "vllm:healthy_pods_total", "Number of healthy vLLM pods",
                               v_healthy);
    if (!err)
        err = write_errors(r, out);
    if (!err)
        err = write_latency(r, out);
    if (!err)
        err = write_ebb(r, out);
    return err;
}
