/* buf: a growable byte buffer with a hard limit, set when it is created.
 *
 * Every buffer that holds bytes from outside (request heads, bodies, response
 * backlogs) is a struct buf, so overflow is always an explicit -ENOBUFS and
 * never silent growth (curl's dynbuf "toobig" rule). The data is kept
 * NUL-terminated so text can be handed to C string functions directly. */
#ifndef EBB_BASE_BUF_H
#define EBB_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
    char *data;   /* NULL until the first append; data[len] == '\0' after that */
    size_t len;   /* bytes in use, not counting the terminating NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* appends past it fail; a caller may raise it for one append and restore it */
};

#define BUF_INIT(lim) {NULL, 0, 0, (lim)}

/* Sets up an empty buffer that may hold at most limit bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t limit);
/* Frees the contents; the buffer is empty and reusable afterwards with the same limit. */
void buf_release(struct buf *b);
/* Empties the buffer but keeps its memory for reuse. */
void buf_reset(struct buf *b);

/* Makes room for extra more bytes. 0, -ENOBUFS past the limit, or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Appends len bytes. 0, -ENOBUFS past the limit (nothing is appended), or
 * -ENOMEM. Inline for the common case, room already there: heads are built
 * from many small pieces. */
int buf_append_slow(struct buf *b, const void *data, size_t len);
static inline int buf_append(struct buf *b, const void *data, size_t len)
{
    if (b->len <= b->limit && len <= b->limit - b->len && len < b->cap - b->len) {
        if (len)
            memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append_slow(b, data, len);
}
int buf_append_str(struct buf *b, const char *s);
/* Appends v in decimal: what "%llu" gives, without printf's cost on hot paths. */
int buf_append_uint(struct buf *b, unsigned long long v);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s (len bytes) as a quoted JSON string, escaping what JSON requires. */
int buf_append_json_str(struct buf *b, const char *s, size_t len);
/* Drops the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

#endif
