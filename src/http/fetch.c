/* fetch: libcurl's multi_socket interface on the libuv loop (docs/fetch.md).
 *
 * curl tells us which sockets to watch (on_socket) and when to wake it up
 * (on_timer); a uv_poll_t per socket and one uv_timer_t call
 * curl_multi_socket_action back, and after each call the finished transfers
 * are collected (curl_multi_info_read) and their callbacks run. Callbacks run
 * only from there, so never from inside fetch_start, and never while curl is
 * on the stack: a callback may start, cancel or close anything. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "http/fetch.h"

#define FETCH_MAX_REDIRS 10 /* Go's http.Client default */
#define FETCH_ERR_MAX 1024

/* One socket curl asked us to watch. Freed in its close callback, so curl may
 * reuse the descriptor for a new socket (a new struct) meanwhile. */
struct fetch_sock {
    uv_poll_t poll;
    struct fetcher_impl *fi;
    curl_socket_t fd;
    struct fetch_sock *prev, *next; /* fi->socks */
};

struct fetch {
    struct fetcher_impl *fi;
    CURL *easy;
    struct curl_slist *headers;
    char *url; /* for error messages, password redacted */
    struct buf body;
    size_t max_body;
    fetch_cb cb;
    void (*dropped)(void *ud);
    int (*on_data)(void *ud, long status, const char *data, size_t len);
    char *req_body;     /* the request body, kept until the transfer ends */
    char method[16];    /* for error messages */
    bool aborted;       /* on_data asked to stop */
    void *ud;
    uint64_t started_ns;
    CURLcode code;
    bool finished; /* curl is done with it: it is on fi->done */
    bool over_cap;
    bool in_cb;
    struct fetch *prev, *next; /* fi->active, or fi->done once finished */
    char errbuf[CURL_ERROR_SIZE];
};

struct fetcher_impl {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct fetcher *owner;
    struct fetch *active; /* added to the multi handle */
    struct fetch *done;   /* finished, callback not yet run (in finishing order) */
    struct fetch_sock *socks;
    unsigned open_handles; /* uv handles not yet closed: the timer and the polls */
    bool closing;
    void (*on_closed)(struct fetcher *f);
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------- intrusive lists ---------- */

static void list_push(struct fetch **head, struct fetch *x)
{
    x->prev = NULL;
    x->next = *head;
    if (*head)
        (*head)->prev = x;
    *head = x;
}

static void list_append(struct fetch **head, struct fetch *x)
{
    struct fetch *last = *head;
    while (last && last->next)
        last = last->next;
    x->prev = last;
    x->next = NULL;
    if (last)
        last->next = x;
    else
        *head = x;
}

static void list_unlink(struct fetch **head, struct fetch *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        *head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* ---------- handles and their close callbacks ---------- */

static void handle_closed(struct fetcher_impl *fi)
{
    if (--fi->open_handles)
        return;
    struct fetcher *f = fi->owner;
    void (*on_closed)(struct fetcher *) = fi->on_closed;
    free(fi);
    f->impl = NULL;
    if (on_closed)
        on_closed(f);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct fetch_sock *s = h->data;
    struct fetcher_impl *fi = s->fi;
    free(s);
    handle_closed(fi);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* Stops watching a socket now (curl may close the descriptor right after we
 * return) and frees its struct once libuv lets go of it. */
static void sock_close(struct fetch_sock *s)
{
    struct fetcher_impl *fi = s->fi;
    if (s->prev)
        s->prev->next = s->next;
    else
        fi->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* ---------- a transfer ---------- */

static void fetch_free(struct fetch *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    buf_release(&x->body);
    free(x->req_body);
    free(x->url);
    free(x);
}

/* Takes x out of the multi handle (or the done list) and frees it. */
static void fetch_drop(struct fetch *x)
{
    struct fetcher_impl *fi = x->fi;
    if (x->finished) {
        list_unlink(&fi->done, x);
    } else {
        list_unlink(&fi->active, x);
        curl_multi_remove_handle(fi->multi, x->easy);
    }
    fetch_free(x);
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    struct fetch *x = ud;
    size_t len = size * n;
    if (x->on_data) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (x->on_data(x->ud, status, data, len) != 0) {
            x->aborted = true;
            return 0;
        }
        return len;
    }
    if (x->body.len + len > x->max_body) {
        x->over_cap = true;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    return buf_append(&x->body, data, len) == 0 ? len : 0;
}

/* The URL as people may see it: a password in it becomes "***", as Go's
 * url.Redacted does. */
static char *redacted_url(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    size_t hostlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hostlen);
    const char *colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
    if (!colon)
        return strdup(url);
    struct buf b = BUF_INIT(strlen(url) + 4);
    if (buf_append(&b, url, (size_t)(colon + 1 - url)) < 0 || buf_append_str(&b, "***") < 0 ||
        buf_append_str(&b, at) < 0) {
        buf_release(&b);
        return NULL;
    }
    return b.data;
}

static bool header_ok(const char *h)
{
    return !strpbrk(h, "\r\n");
}

/* Builds curl's header list. A line "Name:" with an empty value is sent as
 * an empty header ("Name;" in curl's syntax: "Name:" would remove it). curl's
 * own "Accept: * / *" is dropped unless the caller sends an Accept: Go sends
 * none. */
static int build_headers(struct fetch *x, const struct fetch_request *rq)
{
    bool accept = false;
    char line[8192];
    for (size_t i = 0; i < rq->n_headers; i++) {
        const char *h = rq->headers[i];
        if (!header_ok(h))
            return -EINVAL;
        accept = accept || strncasecmp(h, "accept:", 7) == 0;
        size_t len = strlen(h);
        while (len && h[len - 1] == ' ')
            len--;
        const char *send = h;
        if (len && h[len - 1] == ':' && len < sizeof(line)) {
            snprintf(line, sizeof(line), "%.*s;", (int)(len - 1), h);
            send = line;
        }
        struct curl_slist *l = curl_slist_append(x->headers, send);
        if (!l)
            return -ENOMEM;
        x->headers = l;
    }
    /* A body is sent at once, without curl's "Expect: 100-continue" wait. */
    if (rq->body) {
        struct curl_slist *l = curl_slist_append(x->headers, "Expect:");
        if (!l)
            return -ENOMEM;
        x->headers = l;
    }
    if (!accept) {
        struct curl_slist *l = curl_slist_append(x->headers, "Accept:");
        if (!l)
            return -ENOMEM;
        x->headers = l;
    }
    return 0;
}

/* A PEM text as a blob that curl copies: it is never written to. */
static struct curl_blob pem_blob(const char *pem)
{
    return (struct curl_blob){(void *)(uintptr_t)pem, strlen(pem), CURL_BLOB_COPY};
}

static int easy_setup(struct fetch *x, const struct fetch_request *rq)
{
    CURL *e = x->easy;
    CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(e, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, rq->url);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 1L);
    if (!rq->on_data)
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_body);
    if (rq->method)
        SET(CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body) {
        SET(CURLOPT_POSTFIELDS, x->req_body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (rq->ca_pem) {
        struct curl_blob b = pem_blob(rq->ca_pem);
        SET(CURLOPT_CAINFO_BLOB, &b);
    }
    if (rq->cert_pem) {
        struct curl_blob b = pem_blob(rq->cert_pem);
        SET(CURLOPT_SSLCERT_BLOB, &b);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (rq->key_pem) {
        struct curl_blob b = pem_blob(rq->key_pem);
        SET(CURLOPT_SSLKEY_BLOB, &b);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_ACCEPT_ENCODING, "gzip"); /* Go's transport asks for gzip too */
    SET(CURLOPT_USERAGENT, "ebb/" EBB_VERSION);
    SET(CURLOPT_HTTPHEADER, x->headers);
    if (rq->username) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, rq->username);
        SET(CURLOPT_PASSWORD, rq->password ? rq->password : "");
    }
    if (rq->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
#undef SET
    return c == CURLE_OK ? 0 : c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

int fetch_start(struct fetcher *f, const struct fetch_request *rq, fetch_cb cb, void *ud,
                struct fetch **out)
{
    struct fetcher_impl *fi = f->impl;
    if (!fi || fi->closing)
        return -ESHUTDOWN;
    struct fetch *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->fi = fi;
    x->cb = cb;
    x->ud = ud;
    x->dropped = rq->dropped;
    x->max_body = rq->max_body;
    x->on_data = rq->on_data;
    snprintf(x->method, sizeof(x->method), "%s", rq->method ? rq->method : "GET");
    buf_init(&x->body, rq->max_body);
    if (rq->method && (strlen(rq->method) >= sizeof(x->method) || !header_ok(rq->method))) {
        free(x);
        return -EINVAL;
    }
    if (rq->body) {
        /* curl sends POSTFIELDS from our memory: a copy lives as long as x. */
        x->req_body = malloc(rq->body_len + 1);
        if (!x->req_body) {
            free(x);
            return -ENOMEM;
        }
        memcpy(x->req_body, rq->body, rq->body_len);
        x->req_body[rq->body_len] = '\0';
    }
    x->url = redacted_url(rq->url);
    x->easy = curl_easy_init();
    int rc = x->url && x->easy ? 0 : -ENOMEM;
    rc = rc ? rc : build_headers(x, rq);
    rc = rc ? rc : easy_setup(x, rq);
    if (rc == 0 && curl_multi_add_handle(fi->multi, x->easy) != CURLM_OK)
        rc = -ENOMEM;
    if (rc < 0) {
        fetch_free(x);
        return rc;
    }
    list_push(&fi->active, x);
    x->started_ns = uv_hrtime();
    if (out)
        *out = x;
    return 0;
}

/* ---------- finishing ---------- */

static void lower_first(char *s)
{
    if (s[0] && isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]))
        s[0] = (char)tolower((unsigned char)s[0]);
}

/* Why a transfer failed, in a few words: the system's words for a refused or
 * unreachable connection, curl's otherwise. */
static void failure_reason(struct fetch *x, char *out, size_t n)
{
    long os_errno = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (x->aborted)
        snprintf(out, n, "aborted by the receiver");
    else if (x->over_cap || x->code == CURLE_FILESIZE_EXCEEDED)
        snprintf(out, n, "response body over %zu bytes", x->max_body);
    else if (x->code == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, n, "timed out");
    else if (x->code == CURLE_COULDNT_CONNECT && os_errno)
        snprintf(out, n, "%s", strerror((int)os_errno));
    else if (x->errbuf[0])
        snprintf(out, n, "%s", x->errbuf);
    else
        snprintf(out, n, "%s", curl_easy_strerror(x->code));
    lower_first(out);
}

/* Runs x's callback and frees it. */
static void fetch_finish(struct fetch *x)
{
    struct fetch_result r = {0};
    char err[FETCH_ERR_MAX];
    r.seconds = (double)(uv_hrtime() - x->started_ns) / 1e9;
    if (x->code == CURLE_OK && !x->over_cap) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
        r.body = x->body.data ? x->body.data : "";
        r.len = x->body.len;
    } else {
        char why[CURL_ERROR_SIZE + 64];
        failure_reason(x, why, sizeof(why));
        int n = snprintf(err, sizeof(err), "%s %s: ", x->method, x->url);
        size_t off = n < 0 ? 0 : (size_t)n >= sizeof(err) ? sizeof(err) - 1 : (size_t)n;
        snprintf(err + off, sizeof(err) - off, "%s (after %.1f s)", why, r.seconds);
        r.err = err;
        r.reason = err + off;
        r.body = "";
    }
    x->in_cb = true;
    x->cb(x->ud, &r);
    fetch_free(x);
}

/* Collects what curl finished, then runs the callbacks one by one. A
 * callback may cancel a request that finished in the same batch (it leaves
 * the done list) or close the fetcher (the rest are dropped there). */
static void check_done(struct fetcher_impl *fi)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(fi->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct fetch *x = NULL;
        CURL *e = m->easy_handle;
        CURLcode code = m->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(fi->multi, e);
        list_unlink(&fi->active, x);
        x->code = code;
        x->finished = true;
        list_append(&fi->done, x); /* callbacks run in finishing order */
    }
    while (fi->done && !fi->closing) {
        struct fetch *x = fi->done;
        list_unlink(&fi->done, x);
        fetch_finish(x);
    }
}

/* ---------- curl's sockets and timer on the loop ---------- */

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct fetch_sock *s = h->data;
    struct fetcher_impl *fi = s->fi;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    /* s may be closed inside socket_action (CURL_POLL_REMOVE): not used after. */
    curl_multi_socket_action(fi->multi, s->fd, flags, &running);
    check_done(fi);
}

static void on_timeout(uv_timer_t *t)
{
    struct fetcher_impl *fi = t->data;
    int running;
    curl_multi_socket_action(fi->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(fi);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop. One
 * uv_poll_t per socket, found again through curl_multi_assign. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct fetcher_impl *fi = userp;
    struct fetch_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(fi->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        if (uv_poll_init_socket(fi->loop, &s->poll, fd) < 0) {
            free(s);
            return -1; /* curl fails the transfers on this socket */
        }
        s->fi = fi;
        s->fd = fd;
        s->poll.data = s;
        s->next = fi->socks;
        if (fi->socks)
            fi->socks->prev = s;
        fi->socks = s;
        fi->open_handles++;
        curl_multi_assign(fi->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants on_timeout in timeout_ms (-1: never).
 * Even 0 goes through the loop, so that nothing curl does on a timeout runs
 * inside the call that set it (fetch_start). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct fetcher_impl *fi = userp;
    if (fi->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&fi->timer);
    else
        uv_timer_start(&fi->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---------- the fetcher ---------- */

int fetcher_init(struct fetcher *f, uv_loop_t *loop)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return -ENOMEM;
    struct fetcher_impl *fi = calloc(1, sizeof(*fi));
    if (!fi)
        return -ENOMEM;
    fi->multi = curl_multi_init();
    if (!fi->multi) {
        free(fi);
        return -ENOMEM;
    }
    fi->loop = loop;
    fi->owner = f;
    curl_multi_setopt(fi->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(fi->multi, CURLMOPT_SOCKETDATA, fi);
    curl_multi_setopt(fi->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(fi->multi, CURLMOPT_TIMERDATA, fi);
    uv_timer_init(loop, &fi->timer);
    fi->timer.data = fi;
    fi->open_handles = 1;
    f->impl = fi;
    return 0;
}

void fetch_cancel(struct fetch *x)
{
    if (x && !x->in_cb)
        fetch_drop(x);
}

void fetcher_close(struct fetcher *f, void (*on_closed)(struct fetcher *f))
{
    struct fetcher_impl *fi = f->impl;
    if (!fi || fi->closing)
        return;
    fi->closing = true;
    fi->on_closed = on_closed;
    /* A request whose callback is running is on neither list: it is freed
     * when its callback returns. */
    struct fetch *lists[2] = {fi->active, fi->done};
    fi->active = fi->done = NULL;
    for (int i = 0; i < 2; i++) {
        while (lists[i]) {
            struct fetch *x = lists[i];
            lists[i] = x->next;
            if (!x->finished)
                curl_multi_remove_handle(fi->multi, x->easy);
            void (*dropped)(void *) = x->dropped;
            void *ud = x->ud;
            fetch_free(x);
            if (dropped)
                dropped(ud);
        }
    }
    /* Closes the connections curl kept; their sockets come back through
     * on_socket(CURL_POLL_REMOVE), which still works while closing. */
    curl_multi_cleanup(fi->multi);
    fi->multi = NULL;
    while (fi->socks)
        sock_close(fi->socks);
    uv_timer_stop(&fi->timer);
    uv_close((uv_handle_t *)&fi->timer, on_timer_closed);
}
