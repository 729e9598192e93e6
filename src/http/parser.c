/* http parser: llhttp with limits. See parser.h. */
#include "http/parser.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llhttp.h"

static struct http_parser *owner(llhttp_t *ll)
{
    return ll->data;
}

/* Records a parse failure for the server to answer with. Returning HPE_USER
 * makes llhttp stop and report it. */
static int fail(struct http_parser *p, int status, const char *why)
{
    if (!p->error_status) {
        p->error_status = status;
        p->error = why;
    }
    return HPE_USER;
}

static int append_head(struct http_parser *p, const char *at, size_t len)
{
    int err = buf_append(&p->head, at, len);
    if (err == -ENOBUFS)
        return fail(p, 431, "request header fields too large");
    if (err)
        return fail(p, 500, "out of memory");
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    (void)ll;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = owner(ll);
    if (p->url.len == 0)
        p->url.off = (uint32_t)p->head.len;
    p->url.len += (uint32_t)len;
    if (len > p->head.limit - p->head.len)
        return fail(p, 414, "request target too long");
    return append_head(p, at, len);
}

static int on_url_complete(llhttp_t *ll)
{
    return append_head(owner(ll), "", 1);
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = owner(ll);
    if (p->headers_done)
        return 0; /* a trailer field: never merged into the headers (RFC 9110 §6.5.1) */
    if (p->nheaders == 0 || p->in_value) {
        /* A new header starts: the previous callback ended a value. */
        if (p->nheaders >= HTTP_MAX_HEADERS)
            return fail(p, 431, "too many header fields");
        if (p->nheaders == HTTP_INLINE_HEADERS && p->headers == p->inline_headers) {
            struct http_header_span *many = malloc(HTTP_MAX_HEADERS * sizeof(*many));
            if (!many)
                return fail(p, 500, "out of memory");
            memcpy(many, p->inline_headers, sizeof(p->inline_headers));
            p->headers = many;
        }
        struct http_header_span *h = &p->headers[p->nheaders++];
        h->name.off = (uint32_t)p->head.len;
        h->name.len = 0;
        h->value.off = 0;
        h->value.len = UINT32_MAX; /* marks "value not started" */
        p->in_value = false;
    }
    p->headers[p->nheaders - 1].name.len += (uint32_t)len;
    return append_head(p, at, len);
}

static int on_header_field_complete(llhttp_t *ll)
{
    struct http_parser *p = owner(ll);
    if (p->headers_done)
        return 0;
    struct http_header_span *h = &p->headers[p->nheaders - 1];
    /* llhttp accepts "Host : x"; a space in a field name is a smuggling vector
     * (RFC 9112 §5.1), so it is rejected here. */
    for (uint32_t i = 0; i < h->name.len; i++) {
        char c = p->head.data[h->name.off + i];
        if (c == ' ' || c == '\t')
            return fail(p, 400, "whitespace in a header field name");
    }
    return append_head(p, "", 1);
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = owner(ll);
    if (p->headers_done)
        return 0; /* a trailer field: never merged into the headers (RFC 9110 §6.5.1) */
    struct http_header_span *h = &p->headers[p->nheaders - 1];
    if (h->value.len == UINT32_MAX) {
        h->value.off = (uint32_t)p->head.len;
        h->value.len = 0;
    }
    h->value.len += (uint32_t)len;
    p->in_value = true;
    return append_head(p, at, len);
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct http_parser *p = owner(ll);
    if (p->headers_done)
        return 0;
    struct http_header_span *h = &p->headers[p->nheaders - 1];
    if (h->value.len == UINT32_MAX) { /* an empty value */
        h->value.off = (uint32_t)p->head.len;
        h->value.len = 0;
    }
    while (h->value.len > 0) {
        char c = p->head.data[h->value.off + h->value.len - 1];
        if (c != ' ' && c != '\t')
            break;
        h->value.len--;
    }
    p->in_value = true;
    int err = append_head(p, "", 1);
    if (!err)
        p->head.data[h->value.off + h->value.len] = '\0';
    return err;
}

static enum http_method method_of(uint8_t m)
{
    switch (m) {
    case HTTP_GET: return HTTP_M_GET;
    case HTTP_HEAD: return HTTP_M_HEAD;
    case HTTP_POST: return HTTP_M_POST;
    case HTTP_PUT: return HTTP_M_PUT;
    case HTTP_DELETE: return HTTP_M_DELETE;
    case HTTP_OPTIONS: return HTTP_M_OPTIONS;
    default: return HTTP_M_OTHER;
    }
}

static int on_headers_complete(llhttp_t *ll)
{
    struct http_parser *p = owner(ll);
    p->headers_done = true;
    if (p->is_response) {
        p->status = llhttp_get_status_code(ll);
    } else {
        uint8_t m = llhttp_get_method(ll);
        p->method = method_of(m);
        p->method_name = llhttp_method_name((llhttp_method_t)m);
        if (m == HTTP_CONNECT)
            return fail(p, 501, "CONNECT is not supported");
        /* An Upgrade offer (e.g. curl's h2c) may be ignored (RFC 9110 §7.8):
         * clearing the flag before llhttp looks at it serves the request
         * as plain HTTP/1.1, as uvicorn does. */
        ll->upgrade = 0;
    }
    p->http_minor = llhttp_get_http_minor(ll);
    /* Reject a declared body that cannot fit before reading any of it. */
    if (!p->on_body && (ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->body.limit)
        return fail(p, 413, "request body too large");
    const char *expect = http_parser_header(p, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0)
        p->expect_continue = true;
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = owner(ll);
    if (p->on_body) {
        p->on_body(p->on_body_ud, at, len);
        return 0;
    }
    int err = buf_append(&p->body, at, len);
    if (err == -ENOBUFS)
        return fail(p, 413, "request body too large");
    if (err)
        return fail(p, 500, "out of memory");
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    struct http_parser *p = owner(ll);
    p->keep_alive = llhttp_should_keep_alive(ll);
    return HPE_PAUSED; /* hand the message to the caller before parsing on */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset_message(struct http_parser *p)
{
    buf_reset(&p->head);
    buf_reset(&p->body);
    p->url.off = p->url.len = 0;
    p->nheaders = 0;
    p->in_value = false;
    p->headers_done = false;
    p->expect_continue = false;
    p->keep_alive = false;
    p->method = HTTP_M_OTHER;
    p->method_name = "";
    p->status = 0;
    p->http_minor = 1;
    p->error_status = 0;
    p->error = NULL;
}

int http_parser_init(struct http_parser *p, bool is_response, size_t max_head, size_t max_body)
{
    memset(p, 0, sizeof(*p));
    llhttp_t *ll = malloc(sizeof(*ll));
    if (!ll)
        return -ENOMEM;
    llhttp_init(ll, is_response ? HTTP_RESPONSE : HTTP_REQUEST, &settings);
    ll->data = p;
    p->ll = ll;
    p->is_response = is_response;
    p->headers = p->inline_headers;
    buf_init(&p->head, max_head);
    buf_init(&p->body, max_body);
    reset_message(p);
    return 0;
}

void http_parser_release(struct http_parser *p)
{
    free(p->ll);
    p->ll = NULL;
    if (p->headers != p->inline_headers)
        free(p->headers);
    p->headers = p->inline_headers;
    buf_release(&p->head);
    buf_release(&p->body);
}

static int map_error(struct http_parser *p, llhttp_errno_t e)
{
    if (e == HPE_USER)
        return p->error_status == 413 || p->error_status == 431 ? -ENOBUFS : -EINVAL;
    if (!p->error_status) {
        p->error_status = 400;
        p->error = llhttp_get_error_reason(p->ll);
        if (!p->error)
            p->error = llhttp_errno_name(e);
    }
    return -EINVAL;
}

int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed)
{
    llhttp_t *ll = p->ll;
    *consumed = len;
    if (p->error_status)
        return -EINVAL;
    llhttp_errno_t e = llhttp_execute(ll, data, len);
    if (e == HPE_OK)
        return HTTP_PARSE_MORE;
    if (e == HPE_PAUSED) {
        *consumed = (size_t)(llhttp_get_error_pos(ll) - data);
        return HTTP_PARSE_COMPLETE;
    }
    return map_error(p, e);
}

int http_parser_finish(struct http_parser *p)
{
    if (p->error_status)
        return -EINVAL;
    llhttp_errno_t e = llhttp_finish(p->ll);
    if (e == HPE_OK)
        return HTTP_PARSE_MORE;
    if (e == HPE_PAUSED)
        return HTTP_PARSE_COMPLETE;
    return map_error(p, e);
}

void http_parser_next(struct http_parser *p)
{
    llhttp_resume(p->ll);
    reset_message(p);
}

bool http_parser_in_message(const struct http_parser *p)
{
    return p->head.len > 0 || p->body.len > 0;
}

const char *http_parser_header(const struct http_parser *p, const char *name)
{
    size_t nlen = strlen(name);
    for (unsigned i = 0; i < p->nheaders; i++) {
        const struct http_header_span *h = &p->headers[i];
        if (h->name.len == nlen && h->value.len != UINT32_MAX &&
            strncasecmp(p->head.data + h->name.off, name, nlen) == 0)
            return p->head.data + h->value.off;
    }
    return NULL;
}

void http_parser_path(const struct http_parser *p, const char **path, size_t *path_len,
                      const char **query, size_t *query_len)
{
    const char *u = p->head.data ? p->head.data + p->url.off : "";
    size_t n = p->url.len;
    const char *q = memchr(u, '?', n);
    *path = u;
    *path_len = q ? (size_t)(q - u) : n;
    *query = q ? q + 1 : u + n;
    *query_len = q ? n - (size_t)(q - u) - 1 : 0;
}
