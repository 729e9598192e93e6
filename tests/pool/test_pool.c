/* The local process pool (src/autoscaler/pool.c), driven in-process on a
 * real libuv loop with real child processes: substitution and environment,
 * readiness probes (the real `ebb engine` with a start-up delay, and a
 * server that turns unhealthy), crash restarts with back-off and its reset,
 * the scale-down victim (in-flight hook, not-ready first, newest), the
 * drain handshake, SIGKILL after the grace period, indexes kept while a
 * replica terminates, pool_stop reaping everything, exec failures, the
 * errors people see, and no orphans when the owner is SIGKILLed (the test
 * binary re-executed as a driver). Every test closes its loop cleanly.
 *
 * argv[1]: the ebb executable (from meson); the engine test is skipped
 * without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "autoscaler/pool.h"
#include "base/util.h"
#include "pool_fixture.h"

static const char *ebb_path;

/* ---- tests ---- */

/* issue 4: "starts replicas with ${PORT} and ${INDEX} substituted", in their
 * own process group, env = ebb's plus the deployment's, in workingDir, output
 * appended to <logDir>/<name>-<index>.log; no probe: ready once started. */
static void start_substitutes_port_index_model_env(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {
        "sh", "-c",
        "echo port=${PORT} index=${INDEX} model=${MODEL} foo=$FOO inherited=$EBB_POOL_TEST "
        "cwd=$(pwd) pgid=$(cut -d' ' -f5 /proc/$$$$/stat) pid=$$$$ price='$$5'; exec sleep 30",
        NULL};
    setenv("EBB_POOL_TEST", "yes", 1);
    f->env[0] = (struct cfg_kv){.key = "FOO", .value = "foo-${INDEX}-${PORT}"};
    f->d.env = f->env;
    f->d.n_env = 1;
    f->d.working_dir = f->dir;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 2), 0);
    assert_int_equal(pool_spec_replicas(&f->pool), 2);
    assert_int_equal(pool_status_replicas(&f->pool), 2);
    WAIT_UNTIL(f, pool_ready_replicas(&f->pool) == 2, 5000);
    assert_int_equal(f->ready[0], 1);
    assert_int_equal(f->ready[1], 1);
    assert_true(f->changed > 0);
    for (int i = 0; i < 2; i++) {
        char want[512];
        struct pool_replica_info info;
        WAIT_UNTIL(f, log_has(f, i, "price=$5\n"), 5000);
        assert_true(replica(f, i, &info));
        assert_int_equal(info.port, f->d.base_port + i);
        assert_int_equal(info.restarts, 0);
        snprintf(want, sizeof want,
                 "port=%d index=%d model=%s foo=foo-%d-%d inherited=yes cwd=%s pgid=%d pid=%d "
                 "price=$5\n",
                 f->d.base_port + i, i, MODEL, i, f->d.base_port + i, f->dir, (int)info.pid,
                 (int)info.pid);
        assert_non_null(strstr(read_log(f, i), want));
        assert_non_null(strstr(read_log(f, i), "--- "));
        assert_non_null(strstr(read_log(f, i), "ebb: starting replica \"" NAME));
    }
}

/* readinessProbe.httpGet against the real `ebb engine --port ${PORT}`, which
 * opens its port only after --startup-delay: starting until then, ready after. */
static void readiness_waits_for_the_probe(void **state)
{
    struct fx *f = *state;
    if (!ebb_path)
        skip();
    const char *const argv[] = {ebb_path,   "engine",          "--port", "${PORT}", "--model",
                                "${MODEL}", "--startup-delay", "1.5",    NULL};
    f->d.readiness.set = true;
    f->d.readiness.path = "/health";
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    pump_ms(f, 700);
    assert_true(in_state(f, 0, POOL_STARTING));
    assert_int_equal(pool_ready_replicas(&f->pool), 0);
    assert_int_equal(pool_status_replicas(&f->pool), 1);
    WAIT_UNTIL(f, pool_ready_replicas(&f->pool) == 1, 15000);
    struct pool_replica_info info;
    assert_true(replica(f, 0, &info));
    assert_true(info.ready_at - info.started_at >= 1.4);
    assert_int_equal(f->ready[0], 1);
}

/* successThreshold successes in a row make it ready; after that,
 * failureThreshold failures make it unready again — but readiness is not
 * liveness: the process keeps running. */
static void readiness_lost_after_failures_keeps_the_process(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {
        "python3", "-c",
        "import http.server, sys\n"
        "n = [0]\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(s):\n"
        "        n[0] += 1\n"
        "        s.send_response(200 if n[0] <= 2 else 503)\n"
        "        s.end_headers()\n"
        "    def log_message(s, *a):\n"
        "        pass\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
        "${PORT}", NULL};
    f->d.readiness.set = true;
    f->d.readiness.initial_delay_s = 1;
    f->d.readiness.success_threshold = 2;
    f->d.readiness.failure_threshold = 1;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    struct pool_replica_info before, after;
    assert_true(replica(f, 0, &before));
    WAIT_UNTIL(f, f->ready[0] == 1, 8000);
    WAIT_UNTIL(f, f->unready[0] == 1, 8000);
    assert_true(replica(f, 0, &after));
    assert_int_equal(after.state, POOL_STARTING);
    assert_int_equal(after.pid, before.pid);
    assert_int_equal(kill(after.pid, 0), 0);
    assert_int_equal(after.restarts, 0);
    assert_int_equal(pool_ready_replicas(&f->pool), 0);
    assert_int_equal(pool_status_replicas(&f->pool), 1);
}

/* Records when replica 0 started the first n times (within 10 s); each
 * look at it in between goes through check when there is one. */
static void collect_starts(struct fx *f, double *starts, int n,
                           void (*check)(struct fx *f, const struct pool_replica_info *i))
{
    int seen = 0;
    uint64_t end = uv_now(&f->loop) + 10000;
    while (seen < n) {
        struct pool_replica_info i;
        if (uv_now(&f->loop) >= end)
            fail_msg("timed out waiting for start %d", seen + 1);
        pump(f);
        assert_true(replica(f, 0, &i));
        if (i.restarts == seen)
            starts[seen++] = i.started_at;
        if (check)
            check(f, &i);
    }
}

/* In back-off: no process, the exit code kept, ready and unready paired. */
static void check_backoff(struct fx *f, const struct pool_replica_info *i)
{
    if (i->state != POOL_BACKOFF)
        return;
    f->saw_backoff = true;
    assert_int_equal(i->pid, 0);
    assert_int_equal(i->exit_code, 3);
    assert_int_equal(f->ready[0], f->unready[0]);
    assert_int_equal(pool_status_replicas(&f->pool), 1);
    assert_int_equal(pool_ready_replicas(&f->pool), 0);
}

/* A replica that exits on its own restarts after 1x, 2x, 4x the initial
 * back-off, capped at the maximum (the kubelet's CrashLoopBackOff). */
static void crash_restarts_with_doubling_backoff(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sh", "-c", "echo run; exit 3", NULL};
    f->o.backoff_initial_s = 0.1;
    f->o.backoff_max_s = 0.4;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    double starts[5] = {0};
    collect_starts(f, starts, 5, check_backoff);
    assert_true(f->saw_backoff);
    const double want[] = {0.1, 0.2, 0.4, 0.4};
    for (int k = 0; k < 4; k++) {
        double gap = starts[k + 1] - starts[k];
        if (gap < want[k] - 0.01 || gap > want[k] + 0.6)
            fail_msg("restart %d came %.3f s after the start before, want about %.1f s", k + 1, gap,
                     want[k]);
    }
    WAIT_UNTIL(f, count_in_log(f, 0, "\nrun\n") >= 5, 5000);
}

/* A replica that ran at least backoff_reset_s restarts after the initial
 * back-off again (the kubelet resets after 10 minutes). */
static void backoff_resets_after_a_long_run(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sh", "-c", "sleep 0.3; exit 1", NULL};
    f->o.backoff_initial_s = 0.1;
    f->o.backoff_max_s = 10;
    f->o.backoff_reset_s = 0.2;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    double starts[4] = {0};
    collect_starts(f, starts, 4, NULL);
    for (int k = 0; k < 3; k++) {
        double gap = starts[k + 1] - starts[k];
        if (gap > 0.3 + 0.1 + 0.25)
            fail_msg("restart %d came %.3f s after the start before: the back-off was not reset",
                     k + 1, gap);
    }
}

/* Scale-down picks the ready replica with the fewest requests in flight,
 * calls on_draining, and signals it only when the owner says it is drained;
 * on_unready comes when it has been reaped. */
static void scale_down_drains_the_least_busy(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {
        "sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo up; while :; do sleep 0.05; done",
        NULL};
    f->use_in_flight = true;
    f->hooks.on_draining = on_draining;
    f->flight[0] = 5;
    f->flight[1] = 0;
    f->flight[2] = 3;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 3), 0);
    WAIT_UNTIL(f, pool_ready_replicas(&f->pool) == 3, 5000);
    WAIT_UNTIL(f, log_has(f, 0, "\nup\n") && log_has(f, 1, "\nup\n") && log_has(f, 2, "\nup\n"),
               5000);
    assert_int_equal(pool_scale(&f->pool, 2), 0);
    assert_true(in_state(f, 1, POOL_TERMINATING));
    assert_int_equal(pool_status_replicas(&f->pool), 2);
    assert_int_equal(pool_ready_replicas(&f->pool), 2);
    assert_int_equal(f->draining[1], 0); /* hooks never run inside pool_scale */
    WAIT_UNTIL(f, f->draining[1] == 1, 2000);
    assert_int_equal(f->draining[0] + f->draining[2], 0);
    pump_ms(f, 300);
    struct pool_replica_info info;
    assert_true(replica(f, 1, &info));
    assert_int_equal(kill(info.pid, 0), 0); /* not signalled before the drain ends */
    assert_false(log_has(f, 1, "\ngot TERM\n"));
    assert_int_equal(f->unready[1], 0);
    assert_int_equal(pool_replica_drained(&f->pool, 1), 0);
    WAIT_UNTIL(f, !replica(f, 1, NULL), 5000);
    assert_true(log_has(f, 1, "\ngot TERM\n"));
    assert_int_equal(f->unready[1], 1);
    assert_int_equal(f->last_unready[1].exit_code, 0);
    assert_int_equal(pool_replica_drained(&f->pool, 1), -ENOENT);
    assert_int_equal(pool_replica_drained(&f->pool, 0), -ENOENT);
    assert_int_equal(pool_ready_replicas(&f->pool), 2);
}

/* Without hooks: not-ready replicas go first (one in back-off just
 * disappears), then the newest; without on_draining the victim is signalled
 * at once; scale-up takes the lowest free index. */
static void scale_down_not_ready_first_then_newest(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sh", "-c",
                                       "if [ ${INDEX} = 0 ]; then exit 1; fi; exec sleep 30", NULL};
    f->o.backoff_initial_s = 30;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 3), 0);
    WAIT_UNTIL(f, in_state(f, 0, POOL_BACKOFF) && pool_ready_replicas(&f->pool) == 2, 5000);
    assert_int_equal(pool_status_replicas(&f->pool), 3);
    assert_int_equal(pool_scale(&f->pool, 2), 0);
    assert_false(replica(f, 0, NULL)); /* gone at once: no process */
    assert_int_equal(pool_status_replicas(&f->pool), 2);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    assert_true(in_state(f, 2, POOL_TERMINATING));
    assert_true(in_state(f, 1, POOL_READY));
    WAIT_UNTIL(f, !replica(f, 2, NULL), 5000);
    assert_int_equal(f->unready[2], 1);
    assert_int_equal(f->last_unready[2].exit_signal, SIGTERM);
    assert_int_equal(pool_scale(&f->pool, 2), 0);
    assert_true(replica(f, 0, NULL)); /* the lowest free index */
    assert_int_equal(pool_status_replicas(&f->pool), 2);
    assert_int_equal(pool_spec_replicas(&f->pool), 2);
}

/* A replica that ignores SIGTERM gets SIGKILL terminationGracePeriodSeconds
 * after its drain began; meanwhile its index (and port) stays taken. */
static void sigkill_after_grace_and_index_kept(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sh", "-c", "trap '' TERM; echo up; exec sleep 30", NULL};
    f->d.termination_grace_s = 1;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 2), 0);
    WAIT_UNTIL(f, log_has(f, 0, "\nup\n") && log_has(f, 1, "\nup\n"), 5000);
    WAIT_UNTIL(f, pool_ready_replicas(&f->pool) == 2, 5000);
    double t0 = wall_time();
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    assert_true(in_state(f, 1, POOL_TERMINATING));
    assert_int_equal(pool_scale(&f->pool, 2), 0);
    assert_true(replica(f, 2, NULL)); /* not index 1: it still runs */
    assert_true(in_state(f, 1, POOL_TERMINATING));
    pump_ms(f, 500);
    assert_true(in_state(f, 1, POOL_TERMINATING));
    WAIT_UNTIL(f, !replica(f, 1, NULL), 5000);
    double took = wall_time() - t0;
    if (took < 0.95 || took > 3)
        fail_msg("SIGKILL came %.2f s after the drain began, want 1 s", took);
    assert_int_equal(f->last_unready[1].exit_signal, SIGKILL);
    assert_int_equal(pool_status_replicas(&f->pool), 2);
}

/* pool_stop terminates everything (SIGKILL for the one that ignores
 * SIGTERM), drops back-off replicas, reaps every process, runs no hook, and
 * the loop closes cleanly (teardown checks uv_loop_close). */
static void stop_reaps_everything(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {
        "sh", "-c",
        "if [ ${INDEX} = 2 ]; then exit 1; fi; if [ ${INDEX} = 1 ]; then trap '' TERM; fi; "
        "echo up; exec sleep 30",
        NULL};
    f->d.termination_grace_s = 1;
    f->o.backoff_initial_s = 30;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 3), 0);
    WAIT_UNTIL(f,
               log_has(f, 0, "\nup\n") && log_has(f, 1, "\nup\n") && in_state(f, 2, POOL_BACKOFF),
               5000);
    struct pool_replica_info a, b;
    assert_true(replica(f, 0, &a));
    assert_true(replica(f, 1, &b));
    int unready = f->unready[0] + f->unready[1], changed = f->changed;
    double t0 = wall_time();
    pool_stop(&f->pool, on_stopped);
    pool_stop(&f->pool, on_stopped); /* twice: nothing more */
    assert_false(f->stopped);
    assert_int_equal(pool_scale(&f->pool, 1), -EINVAL);
    WAIT_UNTIL(f, f->stopped, 5000);
    assert_true(wall_time() - t0 >= 0.95);
    assert_true(pid_gone(a.pid));
    assert_true(pid_gone(b.pid));
    assert_int_equal(f->unready[0] + f->unready[1], unready);
    assert_int_equal(f->changed, changed);
    pool_release(&f->pool);
    f->inited = false;
}

/* A command that cannot be run leaves a line in the replica's log, exits
 * 127 and is restarted with back-off like any crash. */
static void exec_failure_is_logged_and_backs_off(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"ebb-no-such-command-for-the-pool-test", "--port", "${PORT}",
                                       NULL};
    f->o.backoff_initial_s = 0.1;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    struct pool_replica_info i;
    WAIT_UNTIL(f, replica(f, 0, &i) && i.restarts >= 1, 5000);
    WAIT_UNTIL(f, replica(f, 0, &i) && i.state == POOL_BACKOFF, 5000);
    assert_int_equal(i.exit_code, 127);
    assert_true(log_has(f, 0,
                        "ebb: cannot run \"ebb-no-such-command-for-the-pool-test\" (not "
                        "found in PATH) for replica \"" NAME "-0\": no such file or "
                        "directory\n"));
}

static void bad_working_dir_is_logged(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"/bin/true", NULL};
    f->d.working_dir = "/nonexistent/ebb-pool-test";
    f->o.backoff_initial_s = 5;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    WAIT_UNTIL(f, in_state(f, 0, POOL_BACKOFF), 5000);
    assert_true(log_has(f, 0, "cannot change to the working directory: no such file"));
}

/* A starting victim serves nothing: it is stopped at once, with no drain
 * (even with an on_draining hook) and no on_unready (it never was ready). */
static void starting_victim_is_stopped_without_drain(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sleep", "30", NULL};
    f->d.readiness.set = true; /* nothing listens: never ready */
    f->hooks.on_draining = on_draining;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    pump_ms(f, 200);
    assert_true(in_state(f, 0, POOL_STARTING));
    assert_int_equal(pool_scale(&f->pool, 0), 0);
    assert_true(in_state(f, 0, POOL_TERMINATING));
    assert_int_equal(pool_status_replicas(&f->pool), 0);
    WAIT_UNTIL(f, !replica(f, 0, NULL), 3000);
    assert_int_equal(f->draining[0], 0);
    assert_int_equal(f->unready[0], 0);
    assert_int_equal(f->ready[0], 0);
}

static void stop_from_hook(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct fx *f = ud;
    f->ready[r->index]++;
    pool_scale(p, 0);
    pool_stop(p, on_stopped);
    assert_int_equal(pool_scale(p, 3), -EINVAL);
}

/* Hooks may call the pool, pool_stop included, from inside a callback. */
static void hook_may_stop_the_pool(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sleep", "30", NULL};
    f->hooks.on_ready = stop_from_hook;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 2), 0);
    WAIT_UNTIL(f, f->stopped, 5000);
    assert_int_equal(f->ready[0] + f->ready[1], 1); /* no hook after pool_stop */
    pool_release(&f->pool);
    f->inited = false;
}

static void on_spawned_exit(uv_process_t *proc, int64_t status, int sig)
{
    *(int64_t *)proc->data = status;
    uv_close((uv_handle_t *)proc, NULL);
}

/* The pool reaps only its own children: uv_spawn's exit callbacks on the
 * same loop keep working beside it. */
static void uv_spawn_still_works_beside_the_pool(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sh", "-c", "sleep 0.2; exit 1", NULL};
    char *args[] = {"sh", "-c", "sleep 0.1; exit 7", NULL};
    f->o.backoff_initial_s = 30;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, 1), 0);
    uv_process_t proc;
    int64_t status = -1;
    uv_process_options_t o = {.exit_cb = on_spawned_exit, .file = "sh", .args = args};
    proc.data = &status;
    assert_int_equal(uv_spawn(&f->loop, &proc, &o), 0);
    WAIT_UNTIL(f, status == 7 && in_state(f, 0, POOL_BACKOFF), 5000);
    struct pool_replica_info i;
    assert_true(replica(f, 0, &i));
    assert_int_equal(i.exit_code, 1);
}

/* Limits and the errors people read. */
static void limits_and_errors(void **state)
{
    struct fx *f = *state;
    static const char *const argv[] = {"sleep", "30", NULL};
    char err[256], file[128];
    struct pool p;
    start(f, argv);
    assert_int_equal(pool_scale(&f->pool, -1), -EINVAL);
    assert_int_equal(pool_scale(&f->pool, POOL_REPLICAS_MAX + 1), -EINVAL);
    assert_int_equal(pool_replica_drained(&f->pool, 0), -ENOENT);
    assert_int_equal(pool_replica_drained(&f->pool, -1), -ENOENT);
    assert_int_equal(pool_replica_drained(&f->pool, POOL_REPLICAS_MAX), -ENOENT);
    assert_string_equal(pool_replica_state_name(POOL_BACKOFF), "backoff");
    assert_string_equal(pool_replica_state_name(POOL_TERMINATING), "terminating");
    /* Never scaled: on_stopped at once, nothing to close. */
    pool_stop(&f->pool, on_stopped);
    assert_true(f->stopped);
    pool_release(&f->pool);
    f->inited = false;

    struct cfg_deployment high = f->d;
    high.base_port = 65535;
    assert_int_equal(pool_init(&p, &f->loop, &high, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(pool_scale(&p, 2), -EINVAL);
    pool_release(&p);

    snprintf(file, sizeof file, "%s/a-file", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    struct pool_options o;
    pool_options_defaults(&o);
    snprintf(file, sizeof file, "%s/a-file/logs", f->dir);
    o.log_dir = file;
    assert_int_equal(pool_init(&p, &f->loop, &f->d, &o, NULL, err, sizeof err), -ENOTDIR);
    assert_non_null(strstr(err, "cannot create the log directory \""));
    assert_non_null(strstr(err, "of deployment \"" NAME "\""));

    struct cfg_deployment none = f->d;
    none.n_command = 0;
    assert_int_equal(pool_init(&p, &f->loop, &none, NULL, NULL, err, sizeof err), -EINVAL);
    assert_string_equal(err, "deployment \"" NAME "\" has no command to run");
}

/* ---- orphans ---- */

static void driver_ready(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct fx *f = ud;
    f->ready[r->index]++;
    if (pool_ready_replicas(p) < 2)
        return;
    char path[128], tmp[140];
    struct pool_replica_info a = {0}, b = {0};
    if (!replica(f, 0, &a) || !replica(f, 1, &b))
        return;
    snprintf(path, sizeof path, "%s/pids", f->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return;
    fprintf(fp, "%d %d\n", (int)a.pid, (int)b.pid);
    fclose(fp);
    rename(tmp, path);
}

/* The driver: `test_pool --orphan-driver DIR BASE_PORT` runs a pool of two
 * replicas until it is killed, and writes their pids to DIR/pids. */
static int orphan_driver(const char *dir, const char *port)
{
    static struct fx f;
    static const char *const argv[] = {"sleep", "60", NULL};
    snprintf(f.dir, sizeof f.dir, "%s", dir);
    snprintf(f.logs, sizeof f.logs, "%s/logs", dir);
    uv_loop_init(&f.loop);
    f.d.name = NAME;
    f.d.model = MODEL;
    f.d.command = f.argv;
    f.d.working_dir = "";
    f.d.log_dir = f.logs;
    f.d.base_port = (int32_t)strtol(port, NULL, 10);
    f.d.termination_grace_s = 1;
    f.hooks = (struct pool_hooks){.on_ready = driver_ready, .ud = &f};
    start(&f, argv);
    pool_scale(&f.pool, 2);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    return 1;
}

/* issue 4: "no orphaned replicas when ebb ... is killed": the driver is
 * SIGKILLed (no chance to clean up); PR_SET_PDEATHSIG kills its replicas. */
static void no_orphans_when_the_owner_is_killed(void **state)
{
    struct fx *f = *state;
    char path[128], port[16];
    snprintf(path, sizeof path, "%s/pids", f->dir);
    snprintf(port, sizeof port, "%d", f->d.base_port);
    /* Orphans come to this process, so that they can be reaped here. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t driver = fork();
    assert_true(driver >= 0);
    if (driver == 0) {
        execl("/proc/self/exe", "test_pool", "--orphan-driver", f->dir, port, (char *)NULL);
        _exit(127);
    }
    int a = 0, b = 0;
    uint64_t end = uv_now(&f->loop) + 10000;
    for (;;) {
        FILE *fp = fopen(path, "r");
        if (fp) {
            int n = fscanf(fp, "%d %d", &a, &b);
            fclose(fp);
            if (n == 2)
                break;
        }
        if (uv_now(&f->loop) >= end) {
            kill(driver, SIGKILL);
            waitpid(driver, NULL, 0);
            fail_msg("the driver did not start its replicas");
        }
        pump(f);
    }
    assert_int_equal(kill(a, 0), 0);
    assert_int_equal(kill(b, 0), 0);
    assert_int_equal(kill(driver, SIGKILL), 0);
    assert_int_equal(waitpid(driver, NULL, 0), driver);
    end = uv_now(&f->loop) + 3000;
    while (!(pid_gone(a) && pid_gone(b))) {
        waitpid(a, NULL, WNOHANG);
        waitpid(b, NULL, WNOHANG);
        if (uv_now(&f->loop) >= end)
            fail_msg("replicas %d and %d outlived their killed owner", a, b);
        pump(f);
    }
    waitpid(a, NULL, WNOHANG);
    waitpid(b, NULL, WNOHANG);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--orphan-driver") == 0)
        return orphan_driver(argv[2], argv[3]);
    ebb_path = argc > 1 ? argv[1] : NULL;
    srandom((unsigned)getpid() ^ (unsigned)time(NULL));
    const struct CMUnitTest tests[] = {
        T(start_substitutes_port_index_model_env),
        T(readiness_waits_for_the_probe),
        T(readiness_lost_after_failures_keeps_the_process),
        T(crash_restarts_with_doubling_backoff),
        T(backoff_resets_after_a_long_run),
        T(scale_down_drains_the_least_busy),
        T(scale_down_not_ready_first_then_newest),
        T(sigkill_after_grace_and_index_kept),
        T(stop_reaps_everything),
        T(exec_failure_is_logged_and_backs_off),
        T(bad_working_dir_is_logged),
        T(starting_victim_is_stopped_without_drain),
        T(hook_may_stop_the_pool),
        T(uv_spawn_still_works_beside_the_pool),
        T(limits_and_errors),
        T(no_orphans_when_the_owner_is_killed),
    };
    if (getenv("POOL_TEST_FILTER")) /* one test by name, when debugging */
        cmocka_set_test_filter(getenv("POOL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
