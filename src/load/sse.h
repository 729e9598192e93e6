/* sse: a reader for Server-Sent Events (the WHATWG event-stream format), as
 * OpenAI-compatible servers stream completions.
 *
 * Pure: bytes in, events out through a callback. Lines end in LF, CRLF or a
 * lone CR, and any of them may be split across reads. "data" lines are
 * joined with '\n'; "event" sets the type; comments (':'), "id" and "retry"
 * are ignored; a blank line dispatches the event if it has data. One event
 * is bounded (max_event bytes) so a server that never ends a line cannot
 * grow memory. */
#ifndef EBB_LOAD_SSE_H
#define EBB_LOAD_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Called once per event: type is "message" unless an "event" line said
 * otherwise; data (len bytes, NUL-terminated) is valid during the call. A
 * non-zero return stops the feed and is returned by sse_reader_feed. */
typedef int (*sse_event_fn)(void *ud, const char *type, const char *data, size_t len);

struct sse_reader {
    struct buf line; /* the line being assembled */
    struct buf data; /* the event's data so far */
    char type[32];   /* the event's type; longer names are cut */
    bool has_data;   /* a data line was seen (an empty one counts) */
    bool after_cr;   /* the last byte was CR: a following LF ends nothing */
    size_t events;   /* dispatched so far */
    sse_event_fn on_event;
    void *ud;
};

/* Sets up a reader whose events may hold at most max_event bytes. Allocates
 * nothing until bytes arrive. */
void sse_reader_init(struct sse_reader *r, size_t max_event, sse_event_fn on_event, void *ud);
/* Frees the buffers; the reader may be initialized again. */
void sse_reader_release(struct sse_reader *r);
/* Feeds len bytes. 0, -ENOBUFS when an event (or a line) is over the limit,
 * -ENOMEM, or the callback's non-zero return. */
int sse_reader_feed(struct sse_reader *r, const char *p, size_t len);
/* True when bytes of an unfinished event are held (the stream was cut). */
bool sse_reader_pending(const struct sse_reader *r);

#endif
