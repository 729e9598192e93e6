/* sse: Server-Sent Events reader. See sse.h. */
#include "load/sse.h"

#include <errno.h>
#include <string.h>

void sse_reader_init(struct sse_reader *r, size_t max_event, sse_event_fn on_event, void *ud)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->line, max_event);
    buf_init(&r->data, max_event);
    r->on_event = on_event;
    r->ud = ud;
}

void sse_reader_release(struct sse_reader *r)
{
    buf_release(&r->line);
    buf_release(&r->data);
}

static void reset_event(struct sse_reader *r)
{
    buf_reset(&r->data);
    r->has_data = false;
    r->type[0] = '\0';
}

/* One complete line (without its end). A blank line dispatches. */
static int process_line(struct sse_reader *r, const char *s, size_t n)
{
    if (n == 0) {
        if (!r->has_data) {
            reset_event(r);
            return 0;
        }
        /* The spec drops the data's last '\n'; we never add it (below). */
        const char *type = r->type[0] ? r->type : "message";
        r->events++;
        int rc = r->on_event(r->ud, type, r->data.data ? r->data.data : "", r->data.len);
        reset_event(r);
        return rc;
    }
    if (s[0] == ':')
        return 0; /* a comment, e.g. a keep-alive */
    const char *colon = memchr(s, ':', n);
    size_t nlen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (nlen == 4 && memcmp(s, "data", 4) == 0) {
        if (r->has_data && buf_append(&r->data, "\n", 1))
            return -ENOBUFS;
        r->has_data = true;
        int err = buf_append(&r->data, v, vlen);
        if (!err && !r->data.data)
            err = buf_reserve(&r->data, 1); /* an empty first line: keep "" valid */
        return err;
    }
    if (nlen == 5 && memcmp(s, "event", 5) == 0) {
        size_t k = vlen < sizeof(r->type) - 1 ? vlen : sizeof(r->type) - 1;
        memcpy(r->type, v, k);
        r->type[k] = '\0';
    }
    return 0; /* id, retry and unknown fields are ignored */
}

int sse_reader_feed(struct sse_reader *r, const char *p, size_t len)
{
    const char *end = p + len;
    while (p < end) {
        if (r->after_cr) {
            r->after_cr = false;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        /* The next line end: LF or CR, whichever comes first. */
        const char *e = p;
        while (e < end && *e != '\n' && *e != '\r')
            e++;
        if (e == end) {
            /* No end yet: keep the piece for the next read. */
            return buf_append(&r->line, p, (size_t)(end - p));
        }
        int rc;
        if (r->line.len) {
            rc = buf_append(&r->line, p, (size_t)(e - p));
            if (rc)
                return rc;
            rc = process_line(r, r->line.data, r->line.len);
            buf_reset(&r->line);
        } else {
            rc = process_line(r, p, (size_t)(e - p));
        }
        if (rc)
            return rc;
        r->after_cr = *e == '\r';
        p = e + 1;
    }
    return 0;
}

bool sse_reader_pending(const struct sse_reader *r)
{
    return r->line.len > 0 || r->has_data;
}
