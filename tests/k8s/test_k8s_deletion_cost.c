/* k8s/deletion_cost against fake_apiserver.py (k8s_fixture.h), the router's
 * /metrics served by testsrv: the in-flight series read; the cost rules, one
 * row each; a round that PATCHes only the pods whose cost changes; a round
 * that fails (a refused list, a failed PATCH, a server that never answers)
 * still ends exactly once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/deletion_cost.h"
#include "k8s_fixture.h"

#define PODS "/api/v1/namespaces/default/pods"

static int setup(void **state)
{
    kfx_open();
    return 0;
}

static int teardown(void **state)
{
    kfx_close();
    return 0;
}

/* ---------- deletion cost ---------- */

static const char router_metrics[] =
    "# HELP vllm:num_requests_running Number of running requests as seen by the router\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{server=\"http://10.0.0.1:8000\"} 7\n"
    "vllm:num_requests_running{server=\"http://10.0.0.2:8000\"} 0\n"
    "vllm:num_requests_running{server=\"http://10.0.0.5:8000\"} 2\n"
    "vllm:num_requests_running{server=\"http://10.0.0.5:8001\"} 3\n"
    "vllm:num_requests_running{server=\"http://[fd00::9]:8000\"} 4\n"
    "# HELP vllm:num_prefill_requests Number of Prefill Requests\n"
    "# TYPE vllm:num_prefill_requests gauge\n"
    "vllm:num_prefill_requests{server=\"http://10.0.0.1:8000\"} 99\n";

static void the_router_metrics_give_inflight_per_backend(void **state)
{
    struct k8s_backend_load loads[8];
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(k8s_router_load_parse(router_metrics, strlen(router_metrics), loads, 8, &n,
                                           err, sizeof(err)),
                     0);
    assert_int_equal(n, 5);
    assert_string_equal(loads[0].url, "http://10.0.0.1:8000");
    assert_true(loads[0].inflight == 7);
    assert_string_equal(loads[4].url, "http://[fd00::9]:8000");
    /* Bounded, and a body that is not the text format is an error. */
    assert_int_equal(k8s_router_load_parse(router_metrics, strlen(router_metrics), loads, 2, &n,
                                           err, sizeof(err)),
                     -E2BIG);
    assert_string_equal(err, "the router reports more than 2 backends");
    const char bad[] = "vllm:num_requests_running{server=\"x\" 1\n";
    assert_int_equal(k8s_router_load_parse(bad, strlen(bad), loads, 8, &n, err, sizeof(err)),
                     -EINVAL);
    assert_true(strncmp(err, "line 1: ", 8) == 0);
    /* One of the text format's limits (a name too long) is not the format
     * either: -EINVAL with where, not -E2BIG without a message (fuzz:
     * corpus/k8s_answers/repro-metrics-limit). */
    char long_name[1200];
    memset(long_name, 'a', 1100);
    snprintf(long_name + 1100, sizeof(long_name) - 1100, " 1\n");
    err[0] = '\0';
    assert_int_equal(k8s_router_load_parse(long_name, strlen(long_name), loads, 8, &n, err,
                                           sizeof(err)),
                     -EINVAL);
    assert_true(strncmp(err, "line 1: ", 8) == 0);
}

/* A pod as the API lists it. */
static cJSON *pod(const char *name, const char *ip, bool ready, const char *cost, bool deleting)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"1\"%s%s%s%s},"
             "\"status\":{\"podIP\":\"%s\",\"conditions\":[{\"type\":\"Ready\","
             "\"status\":\"%s\"}]}}",
             name, cost ? ",\"annotations\":{\"" K8S_DELETION_COST_ANNOTATION "\":\"" : "",
             cost ? cost : "", cost ? "\"}" : "",
             deleting ? ",\"deletionTimestamp\":\"2026-11-28T03:30:00Z\"" : "", ip ? ip : "",
             ready ? "True" : "False");
    cJSON *p = cJSON_Parse(text);
    assert_non_null(p);
    return p;
}

static void deletion_costs_follow_the_rules(void **state)
{
    static const struct {
        const char *rule, *name, *ip;
        bool ready;
        const char *have;
        bool deleting;
        long cost;
        bool change;
    } rows[] = {
        {"busy: its requests in flight", "busy", "10.0.0.1", true, NULL, false, 7, true},
        {"idle: 0", "idle", "10.0.0.2", true, NULL, false, 0, true},
        {"unknown to the router: 0", "unknown", "10.0.0.3", true, NULL, false, 0, true},
        {"not ready: the lowest", "starting", "10.0.0.4", false, NULL, false, -1, true},
        {"no IP yet: the lowest", "pending", NULL, true, NULL, false, -1, true},
        {"two ports on one pod: summed", "two", "10.0.0.5", true, NULL, false, 5, true},
        {"IPv6: the host in brackets", "six", "fd00::9", true, NULL, false, 4, true},
        {"already right: not patched", "same", "10.0.0.1", true, "7", false, 7, false},
        {"stale value: patched", "stale", "10.0.0.1", true, "3", false, 7, true},
    };
    struct k8s_backend_load loads[8];
    size_t nl = 0;
    char err[256];
    assert_int_equal(k8s_router_load_parse(router_metrics, strlen(router_metrics), loads, 8, &nl,
                                           err, sizeof(err)),
                     0);
    cJSON *items = cJSON_CreateArray();
    size_t nrows = sizeof(rows) / sizeof(rows[0]);
    for (size_t i = 0; i < nrows; i++)
        cJSON_AddItemToArray(
            items, pod(rows[i].name, rows[i].ip, rows[i].ready, rows[i].have, rows[i].deleting));
    cJSON_AddItemToArray(items, pod("going", "10.0.0.1", true, NULL, true));
    /* Not a pod name: it would go into the PATCH's path (fuzz:
     * corpus/k8s_answers/repro-plan-pod-name). */
    cJSON_AddItemToArray(items, pod("../../secrets/x", "10.0.0.1", true, NULL, false));
    struct k8s_pod_cost out[16];
    size_t n = 0;
    assert_int_equal(k8s_deletion_cost_plan(items, loads, nl, out, 16, &n), 0);
    assert_int_equal(n, nrows); /* "going" is being deleted, "../../secrets/x" no pod: left alone */
    for (size_t i = 0; i < nrows; i++) {
        printf("%s\n", rows[i].rule);
        assert_string_equal(out[i].name, rows[i].name);
        assert_int_equal(out[i].cost, rows[i].cost);
        assert_int_equal(out[i].change, rows[i].change);
    }
    assert_int_equal(k8s_deletion_cost_plan(items, loads, nl, out, 3, &n), -E2BIG);
    cJSON_Delete(items);
}

static char dc_err[1024];
static struct k8s_deletion_cost_stats dc_st;
static int dc_done;

static void on_cost_done(void *ud, const char *err, const struct k8s_deletion_cost_stats *st)
{
    dc_done++;
    snprintf(dc_err, sizeof(dc_err), "%s", err ? err : "");
    dc_st = *st;
}

static struct k8s_backend_load got_loads[16];
static size_t got_n;
static char load_err[512];

static void on_loads(void *ud, const char *err, const struct k8s_backend_load *loads, size_t n)
{
    K->done++;
    snprintf(load_err, sizeof(load_err), "%s", err ? err : "");
    got_n = n;
    if (n)
        memcpy(got_loads, loads, n * sizeof(*loads));
}

static const char *annotation_of(const char *name, char *out, size_t cap)
{
    char path[256];
    snprintf(path, sizeof(path), PODS "/%s", name);
    cJSON *p = kfx_object_at(path);
    const cJSON *a =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "metadata"), "annotations"),
                            K8S_DELETION_COST_ANNOTATION);
    snprintf(out, cap, "%s", cJSON_IsString(a) ? a->valuestring : "(none)");
    cJSON_Delete(p);
    return out;
}

static void pods_get_costs_from_the_router(void **state)
{
    tsrv_start(&K->router, &K->loop);
    K->router_open = true;
    tsrv_script(&K->router, 200, router_metrics);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", K->router.port);
    K->done = 0;
    assert_int_equal(k8s_router_load_fetch(&K->f, url, 2000, on_loads, NULL, NULL), 0);
    tsrv_run_until(&K->loop, &K->done, 1, 3000);
    assert_string_equal(load_err, "");
    assert_int_equal(got_n, 5);

    CTL("{\"op\":\"add_pod\",\"name\":\"busy\",\"labels\":{\"app\":\"vllm\"},\"ip\":\"10.0.0.1\"}");
    CTL("{\"op\":\"add_pod\",\"name\":\"idle\",\"labels\":{\"app\":\"vllm\"},\"ip\":\"10.0.0.2\"}");
    CTL("{\"op\":\"add_pod\",\"name\":\"starting\",\"labels\":{\"app\":\"vllm\"},"
        "\"ip\":\"10.0.0.4\",\"ready\":false}");
    CTL("{\"op\":\"add_pod\",\"name\":\"same\",\"labels\":{\"app\":\"vllm\"},\"ip\":\"10.0.0.5\"}");
    CTL("{\"op\":\"add_pod\",\"name\":\"web\",\"labels\":{\"app\":\"web\"},\"ip\":\"10.0.0.7\"}");
    /* "same" already carries its cost. */
    CTL("{\"op\":\"put_object\",\"path\":\"" PODS "/same\",\"obj\":{\"kind\":\"Pod\","
        "\"apiVersion\":\"v1\",\"metadata\":{\"labels\":{\"app\":\"vllm\"},\"annotations\":"
        "{\"" K8S_DELETION_COST_ANNOTATION "\":\"5\"}},\"status\":{\"podIP\":\"10.0.0.5\","
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}}");
    struct k8s_deletion_cost_opts o = {.namespace = "default",
                                       .selector = "app=vllm",
                                       .loads = got_loads,
                                       .nloads = got_n,
                                       .timeout_ms = 3000};
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&K->a, &K->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&K->loop, &dc_done, 1, 4000);
    tsrv_run_for(&K->loop, 50);
    assert_int_equal(dc_done, 1);
    assert_string_equal(dc_err, "");
    assert_int_equal(dc_st.pods, 4);
    assert_int_equal(dc_st.patched, 3);
    assert_int_equal(dc_st.unchanged, 1);
    char a[64];
    assert_string_equal(annotation_of("busy", a, sizeof(a)), "7");
    assert_string_equal(annotation_of("idle", a, sizeof(a)), "0");
    assert_string_equal(annotation_of("starting", a, sizeof(a)), "-1");
    assert_string_equal(annotation_of("same", a, sizeof(a)), "5");
    assert_string_equal(annotation_of("web", a, sizeof(a)), "(none)");
    cJSON *w = kfx_records(PODS "/");
    assert_int_equal(cJSON_GetArraySize(w), 3); /* "same" and "web" not PATCHed */
    cJSON *x;
    cJSON_ArrayForEach(x, w)
    {
        assert_string_equal(kfx_str(x, "method", NULL), "PATCH");
        assert_string_equal(kfx_str(x, "content_type", NULL), "application/merge-patch+json");
        if (strcmp(kfx_str(x, "path", NULL), PODS "/busy") == 0)
            assert_string_equal(kfx_str(x, "body", NULL),
                                "{\"metadata\":{\"annotations\":{\"controller.kubernetes.io/"
                                "pod-deletion-cost\":\"7\"}}}");
    }
    cJSON_Delete(w);
    /* Again with nothing changed: no PATCH at all. */
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&K->a, &K->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&K->loop, &dc_done, 1, 4000);
    assert_int_equal(dc_done, 1);
    assert_int_equal(dc_st.patched, 0);
    assert_int_equal(dc_st.unchanged, 4);
    w = kfx_records(PODS "/");
    assert_int_equal(cJSON_GetArraySize(w), 3);
    cJSON_Delete(w);
}

static void a_failing_round_still_ends_once(void **state)
{
    struct k8s_deletion_cost_opts o = {.namespace = "default", .selector = "app=vllm"};
    /* A list the server refuses. */
    CTL("{\"op\":\"script\",\"prefix\":\"" PODS "\",\"status\":403,\"body\":\"{\\\"kind\\\":"
        "\\\"Status\\\",\\\"reason\\\":\\\"Forbidden\\\",\\\"message\\\":\\\"pods is forbidden\\\","
        "\\\"code\\\":403}\"}");
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&K->a, &K->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&K->loop, &dc_done, 1, 4000);
    tsrv_run_for(&K->loop, 100);
    assert_int_equal(dc_done, 1);
    assert_string_equal(dc_err, "GET " PODS ": HTTP 403: Forbidden: pods is forbidden");
    /* A PATCH that fails: the others still go, done says how many failed. */
    CTL("{\"op\":\"add_pod\",\"name\":\"p1\",\"labels\":{\"app\":\"vllm\"}}");
    CTL("{\"op\":\"add_pod\",\"name\":\"p2\",\"labels\":{\"app\":\"vllm\"}}");
    CTL("{\"op\":\"script\",\"prefix\":\"" PODS "/p1\",\"method\":\"PATCH\",\"status\":500,"
        "\"body\":\"{}\"}");
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&K->a, &K->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&K->loop, &dc_done, 1, 4000);
    tsrv_run_for(&K->loop, 100);
    assert_int_equal(dc_done, 1);
    assert_string_equal(dc_err, "1 of 2 pods not annotated: PATCH " PODS "/p1: HTTP 500: {}");
    assert_int_equal(dc_st.patched, 1);
    /* An API server that never answers: the round's time limit. */
    tsrv_start(&K->router, &K->loop);
    K->router_open = true;
    tsrv_script(&K->router, 0, NULL);
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", K->router.port);
    k8s_config_release(&K->cfg_b);
    kfx_config_for(&K->cfg_b, server);
    o.timeout_ms = 300;
    dc_done = 0;
    uint64_t t0 = uv_now(&K->loop);
    assert_int_equal(k8s_deletion_cost_start(&K->b, &K->loop, &o, on_cost_done, NULL, NULL), 0);
    tsrv_run_until(&K->loop, &dc_done, 1, 4000);
    tsrv_run_for(&K->loop, 100);
    assert_int_equal(dc_done, 1);
    assert_true(uv_now(&K->loop) - t0 < 1000);
    assert_string_equal(dc_err, "timed out after 0.3 s (0 of 0 pods annotated)");
    /* Refused before anything is sent: done does not run. */
    o.selector = "";
    assert_int_equal(k8s_deletion_cost_start(&K->a, &K->loop, &o, on_cost_done, NULL, NULL),
                     -EINVAL);
    /* Cancelled: done does not run. */
    struct k8s_deletion_cost *d;
    o.selector = "app=vllm";
    o.timeout_ms = 0;
    dc_done = 0;
    assert_int_equal(k8s_deletion_cost_start(&K->a, &K->loop, &o, on_cost_done, NULL, &d), 0);
    k8s_deletion_cost_cancel(d);
    tsrv_run_for(&K->loop, 200);
    assert_int_equal(dc_done, 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(the_router_metrics_give_inflight_per_backend),
        T(deletion_costs_follow_the_rules),
        T(pods_get_costs_from_the_router),
        T(a_failing_round_still_ends_once),
    };
    return cmocka_run_group_tests(tests, kfx_group_setup, kfx_group_teardown);
}
