/* http_drive: the server's feeding loop over fuzz input. See http_drive.h. */
#include "http_drive.h"

#include <errno.h>
#include <string.h>

#include "fuzz.h"

/* Limits per bits 0-1 of byte 0: the server's defaults (with a body limit
 * kept small enough for the fuzzer), then limits small enough that inputs
 * of a few hundred bytes reach the 413 and 431 paths. */
static const struct {
    size_t head, body;
} limits[4] = {
    {64 * 1024, 1024 * 1024},
    {256, 64},
    {32, 8},
    {1024, 1024},
};

/* Sizes of successive reads, from byte 1 of the input. */
struct reads {
    uint8_t mode;
    uint32_t state;
};

static size_t reads_next(struct reads *r, size_t left)
{
    size_t n;
    if (r->mode == 0) {
        n = left;
    } else if (r->mode < 0x80) {
        n = r->mode;
    } else {
        r->state = r->state * 1103515245u + 12345u; /* an LCG: cheap and repeatable */
        n = 1 + ((r->state >> 16) & 7);
    }
    return n < left ? n : left;
}

static void check_span_in_head(const struct http_parser *p, struct http_span s)
{
    FUZZ_CHECK((size_t)s.off + s.len <= p->head.len);
}

/* What holds for every complete message, whatever the bytes were. */
static void check_message(const struct http_parser *p)
{
    FUZZ_CHECK(p->headers_done);
    FUZZ_CHECK(p->error_status == 0);
    FUZZ_CHECK(p->head.len <= p->head.limit);
    FUZZ_CHECK(p->body.len <= p->body.limit);
    FUZZ_CHECK(p->nheaders <= HTTP_MAX_HEADERS);
    FUZZ_CHECK(p->is_response ? p->status >= 0 && p->status <= 999 : p->method_name != NULL);
    for (unsigned i = 0; i < p->nheaders; i++) {
        const struct http_header_span *h = &p->headers[i];
        check_span_in_head(p, h->name);
        if (h->value.len == UINT32_MAX)
            continue;
        check_span_in_head(p, h->value);
        /* Values are NUL-terminated in place, trailing blanks trimmed. */
        FUZZ_CHECK(p->head.data[h->value.off + h->value.len] == '\0');
        /* Looking a header up by its own name finds a header of that name. */
        char name[128];
        if (h->name.len < sizeof(name) && !memchr(p->head.data + h->name.off, '\0', h->name.len)) {
            memcpy(name, p->head.data + h->name.off, h->name.len);
            name[h->name.len] = '\0';
            FUZZ_CHECK(http_parser_header(p, name) != NULL);
        }
    }
    static const char *const names[] = {
        "host", "content-type", "content-length", "transfer-encoding", "connection",
        "expect", "authorization", "accept", "upgrade", "",
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = http_parser_header(p, names[i]);
        if (v)
            total += strlen(v);
    }
    FUZZ_CHECK(total <= p->head.len);

    const char *path, *query;
    size_t path_len, query_len;
    http_parser_path(p, &path, &path_len, &query, &query_len);
    FUZZ_CHECK(path_len <= p->url.len);
    if (path_len < p->url.len) {
        FUZZ_CHECK(path[path_len] == '?' && query == path + path_len + 1);
        FUZZ_CHECK(path_len + 1 + query_len == p->url.len);
    } else {
        FUZZ_CHECK(query_len == 0);
    }
    FUZZ_CHECK(!memchr(path, '?', path_len));
    if (!p->is_response) {
        check_span_in_head(p, p->url);
        FUZZ_CHECK(p->head.data[p->url.off + p->url.len] == '\0'); /* on_url_complete's NUL */
    }
    /* Touch every byte handed out, so ASan checks each one is inside a block. */
    unsigned sum = 0;
    for (size_t i = 0; i < path_len; i++)
        sum += (unsigned char)path[i];
    for (size_t i = 0; i < query_len; i++)
        sum += (unsigned char)query[i];
    for (size_t i = 0; i < p->body.len; i++)
        sum += (unsigned char)p->body.data[i];
    (void)sum;
    if (p->body.len)
        FUZZ_CHECK(p->body.data[p->body.len] == '\0'); /* struct buf keeps a NUL after the bytes */
}

/* Errors carry what the server answers with. */
static void check_error(const struct http_parser *p, int r)
{
    FUZZ_CHECK(r == -EINVAL || r == -ENOBUFS);
    FUZZ_CHECK(p->error_status == 400 || p->error_status == 413 || p->error_status == 414 ||
               p->error_status == 431 || p->error_status == 500 || p->error_status == 501);
    FUZZ_CHECK(p->error != NULL);
    (void)strlen(p->error);
}

static void deliver(struct http_parser *p, http_drive_cb cb, void *ud)
{
    check_message(p);
    if (cb)
        cb(p, ud);
}

void http_drive(const uint8_t *data, size_t size, bool is_response, http_drive_cb cb, void *ud)
{
    if (size < HTTP_DRIVE_PREFIX)
        return;
    struct http_parser p;
    unsigned preset = data[0] & 3;
    FUZZ_CHECK(http_parser_init(&p, is_response, limits[preset].head, limits[preset].body) == 0);
    struct reads reads = {data[1], data[1]};
    const char *wire = (const char *)data + HTTP_DRIVE_PREFIX;
    size_t len = size - HTTP_DRIVE_PREFIX;
    size_t start = 0, avail = 0; /* wire[start, avail) has been read, not yet fed */
    bool open = true;
    while (open) {
        if (start == avail) {
            if (avail == len)
                break; /* end of input: the peer closed */
            avail += reads_next(&reads, len - avail);
        }
        size_t n = avail - start, used = 0;
        char *piece = malloc(n);
        FUZZ_CHECK(piece != NULL);
        memcpy(piece, wire + start, n);
        int r = http_parser_feed(&p, piece, n, &used);
        free(piece);
        FUZZ_CHECK(used <= n);
        if (r < 0) {
            check_error(&p, r);
            open = false;
        } else if (r == HTTP_PARSE_MORE) {
            FUZZ_CHECK(used == n);
            start = avail;
        } else {
            FUZZ_CHECK(r == HTTP_PARSE_COMPLETE);
            start += used;
            deliver(&p, cb, ud);
            open = p.keep_alive; /* the server closes after a non-keep-alive message */
            http_parser_next(&p);
            FUZZ_CHECK(!http_parser_in_message(&p));
        }
    }
    if (open && http_parser_in_message(&p)) {
        int r = http_parser_finish(&p);
        if (r == HTTP_PARSE_COMPLETE)
            deliver(&p, cb, ud);
        else if (r < 0)
            check_error(&p, r);
    }
    http_parser_release(&p);
}
