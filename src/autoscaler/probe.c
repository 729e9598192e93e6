/* probe: a tiny httpGet readiness probe (probe.h). One allocation holds the
 * connection, the timeout timer, the request and the status line read so
 * far; the probe frees itself once both handles are closed, which is also
 * when the owner hears the result, so an owner that frees its replica
 * after the result never races a close callback. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/probe.h"

struct probe {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    probe_done_fn done;
    void *ud;
    int closing; /* handles still to close */
    bool finished;
    enum probe_result result;
    char detail[96];
    char req[PROBE_PATH_MAX + 160];
    char line[PROBE_LINE_MAX];
    size_t line_len;
};

static void probe_closed(uv_handle_t *h)
{
    struct probe *pr = h->data;
    if (--pr->closing > 0)
        return;
    pr->done(pr, pr->result, pr->detail, pr->ud);
    free(pr);
}

/* Records the first result and closes both handles; later calls do nothing. */
static void probe_finish(struct probe *pr, enum probe_result r, const char *detail)
{
    if (pr->finished)
        return;
    pr->finished = true;
    pr->result = r;
    snprintf(pr->detail, sizeof pr->detail, "%s", detail);
    pr->closing = 2;
    uv_close((uv_handle_t *)&pr->timer, probe_closed);
    uv_close((uv_handle_t *)&pr->tcp, probe_closed);
}

static void on_timeout(uv_timer_t *t)
{
    probe_finish(t->data, PROBE_FAILURE, "timed out");
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct probe *pr = h->data;
    b->base = pr->line + pr->line_len;
    b->len = sizeof pr->line - 1 - pr->line_len;
}

/* Judges the status line "HTTP/1.x NNN ...", as the kubelet does: 200-399
 * is a success, anything else (or no HTTP at all) a failure. */
static void probe_judge(struct probe *pr)
{
    char detail[64];
    int status = 0;
    if (strncmp(pr->line, "HTTP/1.", 7) != 0 || pr->line_len < 12 || pr->line[8] != ' ' ||
        sscanf(pr->line + 9, "%3d", &status) != 1) {
        probe_finish(pr, PROBE_FAILURE, "the answer is not HTTP");
        return;
    }
    snprintf(detail, sizeof detail, "status %d", status);
    probe_finish(pr, status >= 200 && status < 400 ? PROBE_SUCCESS : PROBE_FAILURE, detail);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct probe *pr = s->data;
    if (n < 0) {
        if (pr->line_len >= 12)
            probe_judge(pr);
        else
            probe_finish(pr, PROBE_FAILURE,
                         n == UV_EOF ? "closed without an answer" : uv_strerror((int)n));
        return;
    }
    pr->line_len += (size_t)n;
    pr->line[pr->line_len] = '\0';
    if (memchr(pr->line, '\n', pr->line_len) || pr->line_len >= sizeof pr->line - 1)
        probe_judge(pr);
}

static void on_written(uv_write_t *w, int status)
{
    struct probe *pr = w->data;
    if (status < 0)
        probe_finish(pr, PROBE_FAILURE, uv_strerror(status));
}

static void on_connect(uv_connect_t *c, int status)
{
    struct probe *pr = c->data;
    if (pr->finished)
        return;
    if (status < 0) {
        probe_finish(pr, PROBE_FAILURE, uv_strerror(status));
        return;
    }
    uv_buf_t b = uv_buf_init(pr->req, (unsigned)strlen(pr->req));
    int rc = uv_write(&pr->write, (uv_stream_t *)&pr->tcp, &b, 1, on_written);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&pr->tcp, on_alloc, on_read);
    if (rc < 0)
        probe_finish(pr, PROBE_FAILURE, uv_strerror(rc));
}

struct probe *probe_start(uv_loop_t *loop, int32_t port, const char *path, uint64_t timeout_ms,
                          probe_done_fn done, void *ud)
{
    struct probe *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    pr->done = done;
    pr->ud = ud;
    pr->tcp.data = pr->timer.data = pr->connect.data = pr->write.data = pr;
    snprintf(pr->req, sizeof pr->req,
             "GET %.*s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: kube-probe/1.31 (ebb)\r\n"
             "Accept: */*\r\nConnection: close\r\n\r\n",
             PROBE_PATH_MAX, path && *path ? path : "/", (int)port);
    uv_tcp_init(loop, &pr->tcp);
    uv_timer_init(loop, &pr->timer);
    uv_timer_start(&pr->timer, on_timeout, timeout_ms, 0);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    int rc = uv_tcp_connect(&pr->connect, &pr->tcp, (const struct sockaddr *)&addr, on_connect);
    if (rc < 0)
        probe_finish(pr, PROBE_FAILURE, uv_strerror(rc));
    return pr;
}

void probe_cancel(struct probe *pr)
{
    probe_finish(pr, PROBE_CANCELLED, "cancelled");
}
