/* pool: the LocalDeployment target (pool.h, docs/pool.md) — the replica
 * state machine, back-off, victim choice, drain and termination. The
 * process side (fork+exec, signals) is pool_proc.c, the readiness probe
 * probe.c.
 *
 * Time: one timer per pool, armed for the earliest thing due (a probe, a
 * restart, a SIGKILL, a deferred hook), so a replica costs no handle of its
 * own and a stopped pool has exactly two handles to close. Exits arrive on
 * a uv_signal_t for SIGCHLD, which reaps only this pool's pids (libuv's own
 * SIGCHLD watcher for uv_spawn keeps reaping its children, as each waits
 * for its own pids only).
 *
 * Re-entrancy: pool_scale and pool_replica_drained never call a hook; what
 * they make due (on_draining, on_changed, the ready of a replica without a
 * probe) runs from the timer. Hooks run from the pool's own callbacks, and
 * after each hook the caller re-reads its replica by index (the hook may
 * have scaled it away) and notices pool_stop. on_stopped runs from the last
 * close callback, never inside pool_stop, except when nothing was ever
 * started. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "autoscaler/pool.h"
#include "autoscaler/pool_proc.h"
#include "autoscaler/probe.h"
#include "base/log.h"
#include "base/util.h"

#define PORT_MAX 65535
#define URL_MAX 40
#define PROBE_REPORT_EVERY 10 /* failed probes of a starting replica per info line */

struct replica {
    int32_t index, port;
    enum pool_replica_state state;
    pid_t pid;          /* 0 when no process runs */
    bool was_ready;     /* on_ready was delivered: on_unready is owed */
    bool ever_ready;    /* ready at least once since this process started */
    bool ready_pending; /* no probe: ready at the next tick */
    bool drain_pending; /* on_draining (or SIGTERM) at the next tick */
    bool term_sent, kill_sent;
    uint64_t start_ms;    /* loop time of the last start */
    uint64_t probe_due;   /* loop time of the next probe */
    uint64_t restart_due; /* BACKOFF: loop time of the restart */
    uint64_t kill_due;    /* TERMINATING: loop time of the SIGKILL */
    double started_at, ready_at;
    int32_t restarts, exit_code, exit_signal;
    double backoff_s; /* the next back-off */
    int32_t successes, failures;
    struct probe *probe; /* in flight, or NULL */
    char url[URL_MAX];
};

struct pool_impl {
    struct pool *p;
    uv_loop_t *loop;
    struct pool_options o;
    struct pool_hooks hooks;
    char log_dir[PATH_MAX];
    struct replica *slots[POOL_REPLICAS_MAX];
    int32_t spec;
    bool started; /* timer and signal handles are initialised */
    bool stopping, closing, changed;
    int open_handles; /* of timer and signal, while closing */
    int probes;       /* probes whose done has not run yet */
    void (*on_stopped)(struct pool *p);
    uv_timer_t timer;
    uv_signal_t sigchld;
};

/* A copy of a replica's public view that outlives the replica (hooks may
 * free it). */
struct hook_info {
    struct pool_replica_info i;
    char url[URL_MAX];
};

static void pool_schedule(struct pool_impl *m);

const char *pool_replica_state_name(enum pool_replica_state s)
{
    switch (s) {
    case POOL_STARTING: return "starting";
    case POOL_READY: return "ready";
    case POOL_TERMINATING: return "terminating";
    case POOL_BACKOFF: return "backoff";
    }
    return "unknown";
}

void pool_options_defaults(struct pool_options *o)
{
    o->log_dir = NULL;
    o->backoff_initial_s = 1;
    o->backoff_max_s = 300;
    o->backoff_reset_s = 600;
}

static const char *dname(const struct pool_impl *m)
{
    return m->p->d->name;
}

static void info_of(const struct pool_impl *m, const struct replica *r, struct pool_replica_info *i)
{
    i->index = r->index;
    i->port = r->port;
    i->pid = r->pid;
    i->state = r->state;
    i->url = r->url;
    i->model = m->p->d->model;
    i->started_at = r->started_at;
    i->ready_at = r->ready_at;
    i->restarts = r->restarts;
    i->exit_code = r->exit_code;
    i->exit_signal = r->exit_signal;
}

static void hook_info_of(const struct pool_impl *m, const struct replica *r, struct hook_info *h)
{
    info_of(m, r, &h->i);
    memcpy(h->url, r->url, sizeof h->url);
    h->i.url = h->url;
}

static void replica_cancel_probe(struct replica *r)
{
    if (r->probe) {
        probe_cancel(r->probe);
        r->probe = NULL;
    }
}

static void replica_free(struct pool_impl *m, struct replica *r)
{
    replica_cancel_probe(r);
    m->slots[r->index] = NULL;
    free(r);
    m->changed = true;
}

/* ---- starting and restarting ---- */

static void replica_backoff(struct pool_impl *m, struct replica *r)
{
    uint64_t now = uv_now(m->loop);
    double delay = r->backoff_s;
    r->state = POOL_BACKOFF;
    r->restart_due = now + (uint64_t)(delay * 1000);
    r->backoff_s = delay * 2 < m->o.backoff_max_s ? delay * 2 : m->o.backoff_max_s;
    log_info("replica \"%s-%d\" restarts in %.1f s (back-off)", dname(m), r->index, delay);
    m->changed = true;
}

/* Starts r's process; a replica that cannot start is in back-off, as one
 * that crashed at once. */
static void replica_start(struct pool_impl *m, struct replica *r)
{
    const struct cfg_deployment *d = m->p->d;
    char log_path[PATH_MAX + 64], err[512];
    snprintf(log_path, sizeof log_path, "%s/%s-%d.log", m->log_dir, d->name, r->index);
    r->started_at = wall_time();
    r->start_ms = uv_now(m->loop);
    r->successes = r->failures = 0;
    r->term_sent = r->kill_sent = false;
    int rc = pool_proc_spawn(d, r->index, r->port, log_path, &r->pid, err, sizeof err);
    if (rc < 0) {
        r->pid = 0;
        log_error("%s", err);
        replica_backoff(m, r);
        return;
    }
    r->state = POOL_STARTING;
    r->ever_ready = false;
    const struct cfg_probe *pr = &d->readiness;
    r->ready_pending = !pr->set;
    r->probe_due = r->start_ms + (pr->set ? (uint64_t)pr->initial_delay_s * 1000 : 0);
    log_info("started replica \"%s-%d\" (pid %d, port %d, log %s)", d->name, r->index, (int)r->pid,
             r->port, log_path);
    m->changed = true;
}

static struct replica *replica_new(struct pool_impl *m, int32_t index)
{
    struct replica *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->index = index;
    r->port = m->p->d->base_port + index;
    r->exit_code = -1;
    r->backoff_s = m->o.backoff_initial_s;
    snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d", r->port);
    m->slots[index] = r;
    replica_start(m, r);
    return r;
}

/* ---- readiness ---- */

static void replica_set_ready(struct pool_impl *m, struct replica *r)
{
    struct hook_info h;
    r->state = POOL_READY;
    r->ready_at = wall_time();
    r->was_ready = true;
    r->ever_ready = true;
    m->changed = true;
    log_info("replica \"%s-%d\" is ready after %.1f s", dname(m), r->index,
             r->ready_at - r->started_at);
    hook_info_of(m, r, &h);
    if (m->hooks.on_ready)
        m->hooks.on_ready(m->p, &h.i, m->hooks.ud);
}

static void replica_set_unready(struct pool_impl *m, struct replica *r, const char *detail)
{
    struct hook_info h;
    r->state = POOL_STARTING;
    r->ready_at = 0;
    r->was_ready = false;
    m->changed = true;
    log_warn("replica \"%s-%d\" is not ready: readiness probe failed %d times in a row (%s)",
             dname(m), r->index, r->failures, detail);
    hook_info_of(m, r, &h);
    if (m->hooks.on_unready)
        m->hooks.on_unready(m->p, &h.i, m->hooks.ud);
}

static struct replica *replica_of_probe(struct pool_impl *m, const struct probe *pr)
{
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++)
        if (m->slots[i] && m->slots[i]->probe == pr)
            return m->slots[i];
    return NULL;
}

static void pool_after_callback(struct pool_impl *m);

static void on_probe_done(struct probe *pr, enum probe_result res, const char *detail, void *ud)
{
    struct pool_impl *m = ud;
    m->probes--;
    struct replica *r = res == PROBE_CANCELLED ? NULL : replica_of_probe(m, pr);
    if (r && !m->stopping) {
        const struct cfg_probe *cp = &m->p->d->readiness;
        r->probe = NULL;
        if (res == PROBE_SUCCESS) {
            r->failures = 0;
            r->successes++;
            if (r->state == POOL_STARTING && r->successes >= cp->success_threshold)
                replica_set_ready(m, r);
        } else {
            r->successes = 0;
            r->failures++;
            log_debug("replica \"%s-%d\": readiness probe failed: %s", dname(m), r->index, detail);
            if (r->state == POOL_STARTING && r->failures % PROBE_REPORT_EVERY == 0)
                log_info("replica \"%s-%d\" is still not ready after %.0f s: %d probes failed, the "
                         "last with %s",
                         dname(m), r->index, wall_time() - r->started_at, r->failures, detail);
            if (r->state == POOL_READY && r->failures >= cp->failure_threshold)
                replica_set_unready(m, r, detail);
        }
    }
    pool_after_callback(m);
}

/* A replica that has not been ready yet is probed every STARTING_PROBE_MS
 * (or its period, if shorter) instead of every periodSeconds: held requests
 * wait for exactly this moment, and an engine that listens in milliseconds
 * would otherwise wait up to a whole period. Kubernetes probes at the period
 * from the start; this is ebb's one departure, for cold starts. */
#define STARTING_PROBE_MS 100

static void replica_probe(struct pool_impl *m, struct replica *r, uint64_t now)
{
    const struct cfg_probe *cp = &m->p->d->readiness;
    uint64_t period = (uint64_t)cp->period_s * 1000;
    if (r->state == POOL_STARTING && !r->ever_ready && period > STARTING_PROBE_MS)
        period = STARTING_PROBE_MS;
    r->probe_due = now + period;
    r->probe = probe_start(m->loop, cp->port ? cp->port : r->port, cp->path,
                           (uint64_t)cp->timeout_s * 1000, on_probe_done, m);
    if (r->probe)
        m->probes++;
}

/* ---- termination ---- */

static void replica_term(struct pool_impl *m, struct replica *r, const char *why)
{
    r->term_sent = true;
    r->drain_pending = false;
    log_info("replica \"%s-%d\" (pid %d): SIGTERM to its process group (%s)", dname(m), r->index,
             (int)r->pid, why);
    pool_proc_signal(r->pid, SIGTERM);
}

/* Takes r out of service. A ready replica is drained first (on_draining at
 * the next tick); one that is starting is stopped at once; one in back-off
 * has no process and simply goes. */
static void replica_terminate(struct pool_impl *m, struct replica *r)
{
    if (r->state == POOL_BACKOFF) {
        log_info("replica \"%s-%d\" removed while in back-off", dname(m), r->index);
        replica_free(m, r);
        return;
    }
    bool drain = r->state == POOL_READY;
    replica_cancel_probe(r);
    r->state = POOL_TERMINATING;
    r->ready_pending = false;
    r->kill_due = uv_now(m->loop) + (uint64_t)m->p->d->termination_grace_s * 1000;
    m->changed = true;
    if (drain)
        r->drain_pending = true;
    else
        replica_term(m, r, "scaled down before it was ready");
}

/* Called with r's process reaped: a replica that was asked to stop goes, any
 * other one crashed and waits for its restart. */
static void replica_exited(struct pool_impl *m, struct replica *r, int status)
{
    char how[96];
    struct hook_info h;
    uint64_t ran_ms = uv_now(m->loop) - r->start_ms;
    pool_proc_describe_exit(status, how, sizeof how);
    /* Whatever the leader left behind in its group must not hold the port. */
    pool_proc_signal(r->pid, SIGKILL);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    bool owed = r->was_ready && !m->stopping;
    r->was_ready = false;
    r->ready_at = 0;
    replica_cancel_probe(r);
    if (r->state == POOL_TERMINATING) {
        log_info("replica \"%s-%d\" (pid %d) %s after %.1f s", dname(m), r->index, (int)r->pid, how,
                 (double)ran_ms / 1000);
        r->pid = 0;
        hook_info_of(m, r, &h);
        replica_free(m, r);
    } else {
        log_info("replica \"%s-%d\" (pid %d) %s after %.1f s on its own%s", dname(m), r->index,
                 (int)r->pid, how, (double)ran_ms / 1000,
                 r->exit_code == 127 ? " (its command could not be run: see its log)" : "");
        r->pid = 0;
        if ((double)ran_ms >= m->o.backoff_reset_s * 1000)
            r->backoff_s = m->o.backoff_initial_s;
        replica_backoff(m, r);
        hook_info_of(m, r, &h);
    }
    if (owed && m->hooks.on_unready)
        m->hooks.on_unready(m->p, &h.i, m->hooks.ud);
}

/* ---- scaling ---- */

static int32_t count_status(const struct pool_impl *m)
{
    int32_t n = 0;
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++)
        n += m->slots[i] && m->slots[i]->state != POOL_TERMINATING;
    return n;
}

/* Is a a better scale-down victim than b? Not ready before ready (back-off
 * before starting), then the fewest requests in flight, the most recently
 * ready, the most restarted, the highest index — as a ReplicaSet ranks the
 * pods it deletes, with in-flight requests first. */
static bool victim_before(const struct replica *a, unsigned fa, const struct replica *b,
                          unsigned fb)
{
    int ra = a->state == POOL_BACKOFF ? 0 : a->state == POOL_STARTING ? 1 : 2;
    int rb = b->state == POOL_BACKOFF ? 0 : b->state == POOL_STARTING ? 1 : 2;
    if (ra != rb)
        return ra < rb;
    if (ra == 2 && fa != fb)
        return fa < fb;
    if (ra == 2 && a->ready_at != b->ready_at)
        return a->ready_at > b->ready_at;
    if (a->restarts != b->restarts)
        return a->restarts > b->restarts;
    return a->index > b->index;
}

static void pool_scale_down(struct pool_impl *m, int32_t excess)
{
    unsigned flight[POOL_REPLICAS_MAX];
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++) {
        struct replica *r = m->slots[i];
        flight[i] = 0;
        if (r && r->state == POOL_READY && m->hooks.in_flight) {
            struct pool_replica_info info;
            info_of(m, r, &info);
            flight[i] = m->hooks.in_flight(m->p, &info, m->hooks.ud);
        }
    }
    while (excess-- > 0) {
        struct replica *v = NULL;
        for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++) {
            struct replica *r = m->slots[i];
            if (r && r->state != POOL_TERMINATING &&
                (!v || victim_before(r, flight[i], v, flight[v->index])))
                v = r;
        }
        if (!v)
            return;
        log_info("scale-down of \"%s\": replica %d (%s, %u in flight) goes", dname(m), v->index,
                 pool_replica_state_name(v->state), flight[v->index]);
        replica_terminate(m, v);
    }
}

static void pool_scale_up(struct pool_impl *m, int32_t missing)
{
    for (int32_t i = 0; i < POOL_REPLICAS_MAX && missing > 0; i++) {
        if (m->slots[i])
            continue;
        if (m->p->d->base_port + i > PORT_MAX) {
            log_warn("cannot start a replica of \"%s\" now: the free index %d would listen past "
                     "port %d (one starts when a terminating replica is reaped)",
                     dname(m), i, PORT_MAX);
            return;
        }
        if (!replica_new(m, i)) {
            log_error("cannot start a replica of \"%s\": out of memory", dname(m));
            return;
        }
        missing--;
    }
}

static void pool_reconcile(struct pool_impl *m)
{
    int32_t status = count_status(m);
    if (status < m->spec)
        pool_scale_up(m, m->spec - status);
    else if (status > m->spec)
        pool_scale_down(m, status - m->spec);
}

/* ---- the loop side ---- */

static void pool_flush_changed(struct pool_impl *m)
{
    if (m->changed && !m->stopping) {
        m->changed = false;
        if (m->hooks.on_changed)
            m->hooks.on_changed(m->p, m->hooks.ud);
    }
}

static void on_handle_closed(uv_handle_t *h);

static void pool_maybe_finish(struct pool_impl *m)
{
    if (!m->stopping)
        return;
    if (!m->closing) {
        for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++)
            if (m->slots[i])
                return;
        m->closing = true;
        m->open_handles = 2;
        uv_close((uv_handle_t *)&m->timer, on_handle_closed);
        uv_close((uv_handle_t *)&m->sigchld, on_handle_closed);
    }
    if (m->open_handles == 0 && m->probes == 0 && m->on_stopped) {
        void (*cb)(struct pool *) = m->on_stopped;
        m->on_stopped = NULL;
        log_info("pool \"%s\" stopped", dname(m));
        cb(m->p);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct pool_impl *m = h->data;
    m->open_handles--;
    pool_maybe_finish(m);
}

/* What every callback does last: hooks for the counts, the end of a stop,
 * the next timer. */
static void pool_after_callback(struct pool_impl *m)
{
    pool_flush_changed(m);
    pool_schedule(m);
    pool_maybe_finish(m); /* last: on_stopped may free m */
}

/* One replica's due work at now; may run hooks. */
static void replica_tick(struct pool_impl *m, struct replica *r, uint64_t now)
{
    if (r->state == POOL_TERMINATING) {
        if (r->drain_pending && !m->stopping) {
            r->drain_pending = false;
            if (m->hooks.on_draining) {
                struct hook_info h;
                hook_info_of(m, r, &h);
                m->hooks.on_draining(m->p, &h.i, m->hooks.ud);
            } else {
                replica_term(m, r, "scaled down");
            }
            return; /* r may be gone: its SIGKILL is looked at next tick */
        }
        if (!r->kill_sent && r->kill_due <= now) {
            r->kill_sent = true;
            if (!r->term_sent)
                r->term_sent = true;
            log_info("replica \"%s-%d\" (pid %d) still runs %d s after its drain began: SIGKILL "
                     "to its process group",
                     dname(m), r->index, (int)r->pid, m->p->d->termination_grace_s);
            pool_proc_signal(r->pid, SIGKILL);
        }
        return;
    }
    if (m->stopping)
        return;
    if (r->state == POOL_BACKOFF && r->restart_due <= now) {
        r->restarts++;
        log_info("restarting replica \"%s-%d\" (restart %d)", dname(m), r->index, r->restarts);
        replica_start(m, r);
    } else if (r->state == POOL_STARTING && r->ready_pending) {
        r->ready_pending = false;
        replica_set_ready(m, r);
    } else if ((r->state == POOL_STARTING || r->state == POOL_READY) && m->p->d->readiness.set &&
               !r->probe && r->probe_due <= now) {
        replica_probe(m, r, now);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct pool_impl *m = t->data;
    uint64_t now = uv_now(m->loop);
    for (int32_t i = 0; i < POOL_REPLICAS_MAX && !m->closing; i++)
        if (m->slots[i])
            replica_tick(m, m->slots[i], now);
    if (!m->closing)
        pool_after_callback(m);
}

static uint64_t replica_due(const struct pool_impl *m, const struct replica *r)
{
    if (r->state == POOL_TERMINATING) {
        if (r->drain_pending && !m->stopping)
            return 0;
        return r->kill_sent ? UINT64_MAX : r->kill_due;
    }
    if (m->stopping)
        return UINT64_MAX;
    if (r->state == POOL_BACKOFF)
        return r->restart_due;
    if (r->ready_pending)
        return 0;
    if (m->p->d->readiness.set && !r->probe)
        return r->probe_due;
    return UINT64_MAX;
}

static void pool_schedule(struct pool_impl *m)
{
    if (!m->started || m->closing)
        return;
    uint64_t due = m->changed && !m->stopping ? 0 : UINT64_MAX;
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++)
        if (m->slots[i]) {
            uint64_t d = replica_due(m, m->slots[i]);
            due = d < due ? d : due;
        }
    if (due == UINT64_MAX) {
        uv_timer_stop(&m->timer);
        return;
    }
    uint64_t now = uv_now(m->loop);
    uv_timer_start(&m->timer, on_tick, due > now ? due - now : 0, 0);
}

static void on_sigchld(uv_signal_t *s, int signum)
{
    struct pool_impl *m = s->data;
    for (int32_t i = 0; i < POOL_REPLICAS_MAX && !m->closing; i++) {
        struct replica *r = m->slots[i];
        int status;
        if (!r || r->pid <= 0)
            continue;
        pid_t got = waitpid(r->pid, &status, WNOHANG);
        if (got == r->pid)
            replica_exited(m, r, status);
    }
    if (m->closing)
        return;
    if (!m->stopping && count_status(m) < m->spec)
        pool_reconcile(m);
    pool_after_callback(m);
}

/* ---- the API ---- */

int pool_init(struct pool *p, uv_loop_t *loop, const struct cfg_deployment *d,
              const struct pool_options *o, const struct pool_hooks *hooks, char *err,
              size_t errlen)
{
    p->impl = NULL; /* p->data is the owner's and may be set already */
    p->d = d;
    if (!d->n_command) {
        snprintf(err, errlen, "deployment \"%s\" has no command to run", d->name);
        return -EINVAL;
    }
    struct pool_impl *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "cannot set up the pool of \"%s\": out of memory", d->name);
        return -ENOMEM;
    }
    m->p = p;
    m->loop = loop;
    pool_options_defaults(&m->o);
    if (o)
        m->o = *o;
    if (hooks)
        m->hooks = *hooks;
    const char *dir = m->o.log_dir ? m->o.log_dir : d->log_dir;
    if (!dir || !*dir)
        dir = ".";
    m->o.log_dir = NULL; /* not kept: the copy below is */
    int rc = snprintf(m->log_dir, sizeof m->log_dir, "%s", dir) >= (int)sizeof m->log_dir
                 ? -ENAMETOOLONG
                 : pool_mkdir_p(dir);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create the log directory \"%s\" of deployment \"%s\": %s",
                 dir, d->name, strerror(-rc));
        free(m);
        return rc;
    }
    p->impl = m;
    p->d = d;
    return 0;
}

/* Sets up the timer and the SIGCHLD watcher, on the first scale. */
static int pool_start_handles(struct pool_impl *m)
{
    if (m->started)
        return 0;
    uv_timer_init(m->loop, &m->timer);
    uv_signal_init(m->loop, &m->sigchld);
    m->timer.data = m->sigchld.data = m;
    m->started = true;
    int rc = uv_signal_start(&m->sigchld, on_sigchld, SIGCHLD);
    if (rc < 0)
        log_error("cannot watch SIGCHLD for the pool of \"%s\": %s", dname(m), uv_strerror(rc));
    return rc;
}

int pool_scale(struct pool *p, int32_t replicas)
{
    struct pool_impl *m = p->impl;
    if (m->stopping || replicas < 0 || replicas > POOL_REPLICAS_MAX ||
        (replicas > 0 && p->d->base_port + replicas - 1 > PORT_MAX))
        return -EINVAL;
    int rc = pool_start_handles(m);
    if (rc < 0)
        return rc;
    if (replicas != m->spec) {
        log_info("scaling \"%s\" from %d to %d replicas", dname(m), m->spec, replicas);
        m->changed = true;
    }
    m->spec = replicas;
    pool_reconcile(m);
    pool_schedule(m);
    return 0;
}

int pool_replica_drained(struct pool *p, int32_t index)
{
    struct pool_impl *m = p->impl;
    struct replica *r = index >= 0 && index < POOL_REPLICAS_MAX ? m->slots[index] : NULL;
    if (!r || r->state != POOL_TERMINATING)
        return -ENOENT;
    if (!r->term_sent)
        replica_term(m, r, "drained");
    pool_schedule(m);
    return 0;
}

int32_t pool_spec_replicas(const struct pool *p)
{
    return p->impl->spec;
}

int32_t pool_status_replicas(const struct pool *p)
{
    return count_status(p->impl);
}

int32_t pool_ready_replicas(const struct pool *p)
{
    int32_t n = 0;
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++)
        n += p->impl->slots[i] && p->impl->slots[i]->state == POOL_READY;
    return n;
}

void pool_foreach(const struct pool *p, void (*fn)(const struct pool_replica_info *r, void *arg),
                  void *arg)
{
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++) {
        const struct replica *r = p->impl->slots[i];
        if (r) {
            struct pool_replica_info info;
            info_of(p->impl, r, &info);
            fn(&info, arg);
        }
    }
}

void pool_stop(struct pool *p, void (*on_stopped)(struct pool *p))
{
    struct pool_impl *m = p->impl;
    if (m->stopping)
        return;
    m->stopping = true;
    m->on_stopped = on_stopped;
    if (!m->started) {
        m->on_stopped = NULL;
        on_stopped(p);
        return;
    }
    uint64_t kill_due = uv_now(m->loop) + (uint64_t)p->d->termination_grace_s * 1000;
    log_info("stopping the pool of \"%s\": %d replicas", dname(m), count_status(m));
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++) {
        struct replica *r = m->slots[i];
        if (!r)
            continue;
        if (r->state == POOL_BACKOFF) {
            replica_free(m, r);
            continue;
        }
        replica_cancel_probe(r);
        r->state = POOL_TERMINATING;
        r->ready_pending = false;
        if (!r->term_sent)
            replica_term(m, r, "ebb is stopping");
        if (r->kill_due == 0 || r->kill_due > kill_due)
            r->kill_due = kill_due;
    }
    pool_schedule(m);
    pool_maybe_finish(m);
}

void pool_release(struct pool *p)
{
    struct pool_impl *m = p->impl;
    if (!m)
        return;
    for (int32_t i = 0; i < POOL_REPLICAS_MAX; i++)
        free(m->slots[i]);
    free(m);
    p->impl = NULL;
}
