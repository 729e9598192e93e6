/* The pool tests' fixture (pool_fixture.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool_fixture.h"

/* ---- helpers ---- */

/* A base port with n free ports after it, on 127.0.0.1. */
int32_t free_base(int n)
{
    for (int tries = 0; tries < 50; tries++) {
        int32_t base = 20000 + (int32_t)(random() % 30000);
        bool ok = true;
        for (int i = 0; i < n && ok; i++) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(base + i))};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
            close(s);
        }
        if (ok)
            return base;
    }
    fail_msg("no free ports");
    return 0;
}

static void noop_timer(uv_timer_t *t)
{
}

/* One loop iteration, at most about 10 ms: the tick timer repeats (a
 * one-shot timer could fire before the poll when the loop's clock lags, and
 * the poll would then wait for the next signal). */
void pump(struct fx *f)
{
    uv_run(&f->loop, UV_RUN_ONCE);
}

void pump_ms(struct fx *f, uint64_t ms)
{
    uint64_t end = uv_now(&f->loop) + ms;
    while (uv_now(&f->loop) < end)
        pump(f);
}

struct find {
    int32_t index;
    bool found;
    struct pool_replica_info info;
};

static void find_one(const struct pool_replica_info *r, void *arg)
{
    struct find *q = arg;
    if (r->index == q->index) {
        q->found = true;
        q->info = *r;
        q->info.url = NULL; /* not valid after the call */
    }
}

/* Replica index's info; false when there is none. */
bool replica(struct fx *f, int32_t index, struct pool_replica_info *out)
{
    struct find q = {.index = index};
    pool_foreach(&f->pool, find_one, &q);
    if (out)
        *out = q.info;
    return q.found;
}

bool in_state(struct fx *f, int32_t index, enum pool_replica_state s)
{
    struct pool_replica_info i;
    return replica(f, index, &i) && i.state == s;
}

/* The whole log of replica index (empty when there is none yet). */
const char *read_log(struct fx *f, int32_t index)
{
    static char text[16384];
    char path[160];
    snprintf(path, sizeof path, "%s/%s-%d.log", f->logs, NAME, index);
    text[0] = '\0';
    FILE *fp = fopen(path, "r");
    if (fp) {
        size_t n = fread(text, 1, sizeof text - 1, fp);
        text[n] = '\0';
        fclose(fp);
    }
    return text;
}

bool log_has(struct fx *f, int32_t index, const char *s)
{
    return strstr(read_log(f, index), s) != NULL;
}

int count_in_log(struct fx *f, int32_t index, const char *s)
{
    int n = 0;
    for (const char *p = read_log(f, index); (p = strstr(p, s)); p++)
        n++;
    return n;
}

bool pid_gone(pid_t pid)
{
    char path[64], stat[256];
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return true;
    size_t n = fread(stat, 1, sizeof stat - 1, fp);
    fclose(fp);
    stat[n] = '\0';
    const char *close_paren = strrchr(stat, ')');
    return close_paren && close_paren[1] == ' ' && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

/* ---- hooks ---- */

void on_ready(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct fx *f = ud;
    char url[40];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", r->port);
    assert_string_equal(r->url, url);
    assert_string_equal(r->model, MODEL);
    assert_int_equal(r->state, POOL_READY);
    f->ready[r->index]++;
}

void on_unready(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct fx *f = ud;
    f->unready[r->index]++;
    f->last_unready[r->index] = *r;
    f->last_unready[r->index].url = NULL;
}

void on_draining(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct fx *f = ud;
    assert_int_equal(r->state, POOL_TERMINATING);
    f->draining[r->index]++;
}

static unsigned in_flight(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct fx *f = ud;
    return f->flight[r->index];
}

void on_changed(struct pool *p, void *ud)
{
    struct fx *f = ud;
    f->changed++;
}

void on_stopped(struct pool *p)
{
    struct fx *f = p->data;
    f->stopped = true;
}

/* ---- fixture ---- */

int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, noop_timer, 10, 10);
    snprintf(f->dir, sizeof f->dir, "/tmp/ebb-pool-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->logs, sizeof f->logs, "%s/logs/nested", f->dir); /* mkdir -p */
    f->d.name = NAME;
    f->d.namespace_ = "default";
    f->d.model = MODEL;
    f->d.command = f->argv;
    f->d.working_dir = "";
    f->d.log_dir = f->logs;
    f->d.base_port = free_base(SLOTS);
    f->d.termination_grace_s = 5;
    f->d.readiness.path = "/";
    f->d.readiness.period_s = 1;
    f->d.readiness.timeout_s = 1;
    f->d.readiness.failure_threshold = 3;
    f->d.readiness.success_threshold = 1;
    f->hooks = (struct pool_hooks){on_ready, on_unready, NULL, NULL, on_changed, f};
    pool_options_defaults(&f->o);
    *state = f;
    return 0;
}

/* Sets the command (NULL-terminated) and starts the pool with the hooks and
 * options as the test left them. */
void start(struct fx *f, const char *const *argv)
{
    char err[256];
    size_t n = 0;
    while (argv[n])
        f->argv[n] = argv[n], n++;
    f->d.n_command = n;
    if (f->use_in_flight)
        f->hooks.in_flight = in_flight;
    int rc = pool_init(&f->pool, &f->loop, &f->d, &f->o, &f->hooks, err, sizeof err);
    if (rc < 0)
        fail_msg("pool_init: %s", err);
    f->pool.data = f;
    f->inited = true;
}

void stop(struct fx *f)
{
    if (!f->inited)
        return;
    pool_stop(&f->pool, on_stopped);
    WAIT_UNTIL(f, f->stopped, 15000);
    pool_release(&f->pool);
    f->inited = false;
}

int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    stop(f);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}
