/* trigger against Debian's real Prometheus, started here on loopback with a
 * temporary config that scrapes itself every second. Not skipped when
 * prometheus is missing: it fails (make test installs it). Bounded: the
 * waits below add up to well under a minute. */
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "autoscaler/trigger.h"
#include "base/util.h"
#include "testsrv.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

struct fixture {
    struct tenv env;
    uv_process_t prom;
    bool prom_running;
    int exited;
    char dir[64], server[64], log[128];
    struct cfg_trigger t;
    int calls;
    struct trigger_result res;
};

static struct fixture *F;
static pid_t prom_pid;

static void kill_prometheus(void)
{
    if (prom_pid > 0)
        kill(prom_pid, SIGKILL);
}

/* meson's timeout sends SIGTERM: Prometheus must not outlive the test. */
static void on_sigterm(int sig)
{
    kill_prometheus();
    _exit(128 + sig);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    F->exited++;
    F->prom_running = false;
    prom_pid = 0;
    uv_close((uv_handle_t *)p, NULL);
}

static void on_result(void *ud, const struct trigger_result *r)
{
    F->calls++;
    F->res = *r;
}

/* Polls query once through the trigger and waits for the result. */
static const struct trigger_result *poll_q(const char *query, bool strict)
{
    F->t.prom.query = query;
    int before = F->calls;
    assert_int_equal(trigger_poll_start(&F->env.f, &F->t, wall_time(), strict, on_result, F, NULL),
                     0);
    tsrv_run_until(&F->env.loop, &F->calls, before + 1, 10000);
    assert_int_equal(F->calls, before + 1);
    return &F->res;
}

/* Polls query until it is ok with value want, for at most max_ms. */
static bool wait_for(const char *query, double want, int max_ms)
{
    uint64_t deadline = uv_now(&F->env.loop) + (uint64_t)max_ms;
    while (uv_now(&F->env.loop) < deadline) {
        const struct trigger_result *r = poll_q(query, false);
        if (r->sample.ok && r->sample.value == want)
            return true;
        tsrv_run_for(&F->env.loop, 250);
    }
    return false;
}

static void write_config(int port)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/prometheus.yml", F->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n",
            port);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    F = &fx;
    tenv_open(&fx.env);
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/ebb-trigger-prom-XXXXXX");
    assert_non_null(mkdtemp(fx.dir));
    int port = tsrv_free_port();
    write_config(port);
    snprintf(fx.server, sizeof(fx.server), "http://127.0.0.1:%d", port);
    snprintf(fx.log, sizeof(fx.log), "%s/prometheus.log", fx.dir);

    char config[128], data[128], listen[64];
    snprintf(config, sizeof(config), "--config.file=%s/prometheus.yml", fx.dir);
    snprintf(data, sizeof(data), "--storage.tsdb.path=%s/data", fx.dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
    char *args[] = {"prometheus", config, data, listen, NULL};
    int logfd = open(fx.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(logfd >= 0);
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = logfd},
                                     {.flags = UV_INHERIT_FD, .data.fd = logfd}};
    uv_process_options_t o = {.file = "prometheus",
                              .args = args,
                              .exit_cb = on_exit_cb,
                              .stdio_count = 3,
                              .stdio = stdio};
    int rc = uv_spawn(&fx.env.loop, &fx.prom, &o);
    close(logfd);
    if (rc < 0)
        fprintf(stderr, "cannot start prometheus: %s (is it installed?)\n", uv_strerror(rc));
    assert_int_equal(rc, 0);
    fx.prom_running = true;
    prom_pid = fx.prom.pid;
    atexit(kill_prometheus);
    signal(SIGTERM, on_sigterm);
    signal(SIGINT, on_sigterm);

    fx.t.type = "prometheus";
    fx.t.is_prometheus = true;
    fx.t.prom.server_address = fx.server;
    fx.t.prom.namespace_ = "";
    fx.t.prom.ignore_null_values = true;
    fx.t.prom.timeout_ms = 2000;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    if (F->prom_running) {
        uv_process_kill(&F->prom, SIGTERM);
        tsrv_run_until(&F->env.loop, &F->exited, 1, 10000);
        if (!F->exited) {
            uv_process_kill(&F->prom, SIGKILL);
            tsrv_run_until(&F->env.loop, &F->exited, 1, 5000);
        }
    }
    if (getenv("EBB_KEEP_LOG") == NULL)
        nftw(F->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    assert_int_equal(F->exited, 1);
    assert_int_equal(tenv_close(&F->env), 0);
    return 0;
}

static void trigger_reads_real_prometheus(void **state)
{
    /* Prometheus takes a few seconds to answer at all. */
    assert_true(wait_for("vector(3)", 3, 30000));

    const struct trigger_result *r = poll_q("vector(3)", false);
    assert_true(r->sample.ok);
    assert_near(r->sample.value, 3);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->http_status, 200);
    assert_int_equal(r->answer.nseries, 1);

    /* §3.2's extras reach Prometheus and do not disturb it: the namespace,
     * queryParameters, customHeaders and a bearer token. */
    struct cfg_kv params[] = {{.key = "stats", .value = "all"}};
    struct cfg_kv headers[] = {{.key = "X-Scope-OrgID", .value = "tenant1"}};
    F->t.prom.namespace_ = "default";
    F->t.prom.query_params = params;
    F->t.prom.n_query_params = 1;
    F->t.prom.custom_headers = headers;
    F->t.prom.n_custom_headers = 1;
    F->t.prom.bearer_token = "tok";
    r = poll_q("vector(1.5) * 2", false);
    assert_true(r->sample.ok);
    assert_near(r->sample.value, 3);

    /* §3.3 against real answers. */
    r = poll_q("up{job=\"nope\"}", false);
    assert_true(r->sample.ok);
    assert_true(r->answer.empty);
    assert_near(r->sample.value, 0);
    F->t.prom.ignore_null_values = false;
    r = poll_q("up{job=\"nope\"}", false);
    assert_false(r->sample.ok);
    assert_non_null(strstr(r->answer.err, "target may be lost, the result is empty"));
    assert_int_equal(r->attempts, 2);
    F->t.prom.ignore_null_values = true;

    r = poll_q("3", false); /* a scalar result */
    assert_false(r->sample.ok);
    assert_non_null(strstr(r->answer.err, "cannot unmarshal"));

    static const char two[] = "label_replace(vector(1), \"a\", \"x\", \"\", \"\") or "
                              "label_replace(vector(2.5), \"a\", \"y\", \"\", \"\")";
    r = poll_q(two, false);
    assert_true(r->sample.ok);
    assert_near(r->sample.value, 3.5);
    assert_true(r->answer.summed);
    r = poll_q(two, true);
    assert_false(r->sample.ok);
    assert_non_null(strstr(r->answer.err, "returned multiple elements"));

    r = poll_q("sum(", false); /* Prometheus answers 400 */
    assert_false(r->sample.ok);
    assert_int_equal(r->http_status, 400);
    assert_int_equal(r->attempts, 2);
    assert_string_equal(r->answer.err, "prometheus query api returned error. status: 400");

    /* Prometheus scrapes itself: a series from a real scrape. */
    assert_true(wait_for("count(up{job=\"prometheus\"} == 1)", 1, 20000));
    r = poll_q("count(prometheus_build_info)", false);
    assert_true(r->sample.ok);
    assert_near(r->sample.value, 1);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(trigger_reads_real_prometheus, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
