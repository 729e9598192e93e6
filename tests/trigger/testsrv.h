/* testsrv: a tiny HTTP/1.1 server on 127.0.0.1, on the test's own loop, for
 * fetch's and the trigger's tests. It keeps the request heads it receives
 * byte for byte, answers by path, and closes every connection after its
 * answer:
 *   /ok            200 "hello"
 *   /status/404    404 "not here"
 *   /hang          never answers
 *   /big           200, 5000 bytes with a Content-Length
 *   /bigclose      200, 5000 bytes delimited by the close
 *   /redirect      302 to /ok;  /loop: 302 to itself
 *   /garbage       bytes that are not HTTP, then the close
 *   /early         the close, nothing written
 *   anything else  the next scripted reply (tsrv_script), else 200 with an
 *                  empty Prometheus vector */
#ifndef EBB_TESTS_TRIGGER_TESTSRV_H
#define EBB_TESTS_TRIGGER_TESTSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "http/fetch.h"

#define TSRV_SCRIPT_MAX 8
#define TSRV_HEADS_MAX 8
#define TSRV_HEAD_MAX 4096

struct tsrv_reply {
    int status; /* 0: never answer */
    const char *body;
};

struct tsrv_conn;

struct tsrv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    struct tsrv_conn *conns;
    struct tsrv_reply script[TSRV_SCRIPT_MAX];
    size_t nscript, next;
    char heads[TSRV_HEADS_MAX][TSRV_HEAD_MAX]; /* heads of scripted requests, in order */
    size_t nheads;
    unsigned requests; /* every request head received */
};

/* Listens on 127.0.0.1, a free port (s->port). */
void tsrv_start(struct tsrv *s, uv_loop_t *loop);
/* Queues a reply for the next request outside the fixed paths. */
void tsrv_script(struct tsrv *s, int status, const char *body);
/* Closes the listener and every connection; run the loop afterwards. */
void tsrv_close(struct tsrv *s);

/* What every test here starts from: a loop, the server and a fetcher on it. */
struct tenv {
    uv_loop_t loop;
    struct tsrv srv;
    struct fetcher f; /* f.data is the tenv */
    int closed;       /* the fetcher's on_closed calls */
};

void tenv_open(struct tenv *e);
/* fetcher_close's callback for e->f: counts in e->closed. */
void tenv_on_closed(struct fetcher *f);
/* Closes the fetcher (unless a test did) and the server and runs the loop
 * dry. 0 when on_closed ran once and the loop closed clean. */
int tenv_close(struct tenv *e);

/* A port on 127.0.0.1 nobody listens on (bound, then closed). */
int tsrv_free_port(void);

/* Rewrites every "(after 0.2 s)" in s as "(after N s)": the time an error
 * took depends on the machine's load. Returns s. */
char *tsrv_mask_seconds(char *s);

/* Runs loop until *counter reaches want or max_ms pass. */
void tsrv_run_until(uv_loop_t *loop, const int *counter, int want, int max_ms);
/* Runs loop for ms milliseconds. */
void tsrv_run_for(uv_loop_t *loop, int ms);

#endif
