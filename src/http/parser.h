/* http parser: HTTP/1.1 message parsing with hard limits, llhttp behind it.
 *
 * This is the one header that stands between ebb and llhttp (Debian's
 * node-llhttp C sources); nothing else includes llhttp.h. It is pure: bytes in,
 * a parsed message out, no I/O, so the fuzzer drives exactly the code the
 * server runs.
 *
 * Feeding stops at the end of each complete message so that a server answers
 * pipelined requests one at a time; the caller feeds the rest afterwards. */
#ifndef EBB_HTTP_PARSER_H
#define EBB_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define HTTP_MAX_HEADERS 100
/* Header spans kept in the parser itself; a message with more moves them to
 * the heap (up to HTTP_MAX_HEADERS), kept until http_parser_release. Every
 * connection has a parser and most messages have a handful of headers:
 * 16 x 16 bytes instead of 1.6 KB per parser. */
#define HTTP_INLINE_HEADERS 16

enum http_method {
    HTTP_M_OTHER = 0,
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
};

enum http_parse_result {
    HTTP_PARSE_MORE = 0,     /* all bytes consumed; the message is not complete yet */
    HTTP_PARSE_COMPLETE = 1, /* a message is complete; see *consumed */
};

struct http_span {
    uint32_t off, len; /* into struct http_parser.head */
};

struct http_header_span {
    struct http_span name, value;
};

struct http_parser {
    void *ll;                  /* llhttp_t, owned */
    bool is_response;
    struct buf head;           /* URL and header bytes; limit = max head size */
    struct buf body;           /* the decoded body; limit = max body size */
    struct http_span url;      /* requests only */
    struct http_header_span *headers; /* inline_headers, or a heap array of HTTP_MAX_HEADERS */
    unsigned nheaders;
    struct http_header_span inline_headers[HTTP_INLINE_HEADERS];
    bool in_value;             /* the last header callback was for a value */
    bool headers_done;
    bool expect_continue;      /* the request asked for "100 Continue" */
    bool keep_alive;           /* valid once complete */
    enum http_method method;
    const char *method_name;   /* static string, e.g. "POST" */
    int status;                /* responses only */
    int http_minor;
    /* Optional streaming: when set, body bytes go to on_body as they are
     * parsed (already de-chunked) instead of into body, and max_body does
     * not apply. Set it after init; it stays set across messages. */
    void (*on_body)(void *ud, const char *at, size_t len);
    void *on_body_ud;
    /* On error: the status a server should answer with (400, 413, 431, 501)
     * and a short reason for people. */
    int error_status;
    const char *error;
};

/* Sets up a parser for requests (is_response false) or responses. Returns 0
 * or -ENOMEM. max_head bounds the request line/status line plus headers;
 * max_body bounds the decoded body. */
int http_parser_init(struct http_parser *p, bool is_response, size_t max_head, size_t max_body);
void http_parser_release(struct http_parser *p);

/* Feeds len bytes. Returns HTTP_PARSE_MORE (all consumed), HTTP_PARSE_COMPLETE
 * (*consumed bytes belong to a now complete message; the rest is the next
 * one's), or -EINVAL / -ENOBUFS with error and error_status set. After
 * COMPLETE, read the message, then call http_parser_next before feeding more. */
int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed);
/* Signals end of input (the peer closed). Completes a message delimited by
 * EOF; returns HTTP_PARSE_COMPLETE, HTTP_PARSE_MORE (nothing pending) or an error. */
int http_parser_finish(struct http_parser *p);
/* Forgets the current message and gets ready for the next one. */
void http_parser_next(struct http_parser *p);
/* True when the parser holds part of a message (bytes of a head or body). */
bool http_parser_in_message(const struct http_parser *p);

/* The value of header name (case-insensitive), NUL-terminated in place, or
 * NULL. Valid until http_parser_next. */
const char *http_parser_header(const struct http_parser *p, const char *name);
/* The request target's path (before '?') and query (after it, may be empty). */
void http_parser_path(const struct http_parser *p, const char **path, size_t *path_len,
                      const char **query, size_t *query_len);

#endif
