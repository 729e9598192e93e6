/* target_k8s: a workload's /scale subresource as the autoscaler's target,
 * against testsrv (tests/trigger/testsrv.h) standing in for the API server
 * over plain HTTP: the API paths of scaleTargetRef (a table), the reads
 * before a decision, the merge-patch write, the before-scale-down hook (the
 * PATCH waits for go; a released target's go only frees), and failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "autoscaler/target_k8s.h"
#include "testsrv.h"

/* One answer serves both reads (their order on the wire is not fixed). */
#define WEB3                                                                                       \
    "{\"kind\":\"Scale\",\"spec\":{\"replicas\":3},\"status\":{\"replicas\":3,"                    \
    "\"readyReplicas\":2,\"selector\":\"app=web\"}}"

static void test_paths(void **state)
{
    static const struct {
        const char *rule, *api, *kind, *want;
    } rows[] = {
        {"apps/v1 Deployment", "apps/v1", "Deployment",
         "/apis/apps/v1/namespaces/team-a/deployments/web"},
        {"apps/v1 StatefulSet", "apps/v1", "StatefulSet",
         "/apis/apps/v1/namespaces/team-a/statefulsets/web"},
        {"a core kind goes under /api", "v1", "ReplicationController",
         "/api/v1/namespaces/team-a/replicationcontrollers/web"},
        {"a custom kind by its group and plural", "example.com/v2", "InferencePool",
         "/apis/example.com/v2/namespaces/team-a/inferencepools/web"},
        {"-y after a consonant: -ies", "x.io/v1", "Policy",
         "/apis/x.io/v1/namespaces/team-a/policies/web"},
        {"-s: -es", "x.io/v1", "Ingress", "/apis/x.io/v1/namespaces/team-a/ingresses/web"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[512];
        assert_int_equal(
            target_k8s_path(out, sizeof(out), "team-a", rows[i].api, rows[i].kind, "web"), 0);
        if (strcmp(out, rows[i].want) != 0)
            fail_msg("%s: got %s", rows[i].rule, out);
    }
    char out[512];
    assert_int_equal(target_k8s_path(out, sizeof(out), "a/b", "apps/v1", "Deployment", "web"),
                     -EINVAL);
    assert_int_equal(target_k8s_path(out, sizeof(out), "ns", "a/b/c", "Deployment", "web"),
                     -EINVAL);
    assert_int_equal(target_k8s_path(out, sizeof(out), "ns", "apps/v1", "Deployment", "w?x"),
                     -EINVAL);
    assert_int_equal(target_k8s_path(out, 20, "ns", "apps/v1", "Deployment", "web"), -ENAMETOOLONG);
}

/* ---------- against the server ---------- */

struct fx {
    struct tenv e;
    struct k8s_config cfg;
    struct k8s_client c;
    struct target_k8s t;
    int done;
    char err[512];
    /* the hook */
    int hooked;
    char hook_ns[64], hook_sel[64];
    int32_t hook_from, hook_to;
    void (*go)(void *arg);
    void *arg;
    int hook_rc;
};

static struct fx *F;

static void on_done(void *ud, const char *err)
{
    F->done++;
    snprintf(F->err, sizeof(F->err), "%s", err ? err : "");
}

static int hook(void *ud, const char *ns, const char *selector, int32_t from, int32_t to,
                void (*go)(void *arg), void *arg)
{
    F->hooked++;
    snprintf(F->hook_ns, sizeof(F->hook_ns), "%s", ns);
    snprintf(F->hook_sel, sizeof(F->hook_sel), "%s", selector);
    F->hook_from = from;
    F->hook_to = to;
    if (F->hook_rc < 0)
        return F->hook_rc;
    F->go = go;
    F->arg = arg;
    return 0;
}

static int setup(void **state)
{
    static struct fx fx;
    memset(&fx, 0, sizeof(fx));
    F = &fx;
    tenv_open(&fx.e);
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", fx.e.srv.port);
    fx.cfg.server = strdup(server);
    fx.cfg.token = strdup("t0ken");
    k8s_client_init(&fx.c, &fx.e.loop, &fx.e.f, &fx.cfg);
    struct so_spec spec;
    so_spec_init(&spec);
    snprintf(spec.target_name, sizeof(spec.target_name), "web");
    so_spec_default(&spec);
    struct target_k8s_options o = {.before_scale_down = hook};
    char err[256];
    assert_int_equal(target_k8s_init(&fx.t, &fx.c, "team-a", &spec, &o, err, sizeof(err)), 0);
    assert_string_equal(fx.t.path, "/apis/apps/v1/namespaces/team-a/deployments/web");
    return 0;
}

static int teardown(void **state)
{
    target_k8s_release(&F->t);
    int rc = tenv_close(&F->e);
    k8s_config_release(&F->cfg);
    return rc;
}

static void refresh(struct as_target at)
{
    tsrv_script(&F->e.srv, 200, WEB3);
    tsrv_script(&F->e.srv, 200, WEB3);
    int want = F->done + 1;
    assert_int_equal(at.ops->refresh(at.t, on_done, NULL), 0);
    tsrv_run_until(&F->e.loop, &F->done, want, 5000);
    assert_int_equal(F->done, want);
}

static void test_refresh_reads_scale_and_object(void **state)
{
    struct as_target at = target_k8s(&F->t);
    refresh(at);
    assert_string_equal(F->err, "");
    assert_int_equal(at.ops->spec_replicas(at.t), 3);
    assert_int_equal(at.ops->status_replicas(at.t), 3);
    assert_int_equal(at.ops->ready_replicas(at.t), 2);
    assert_string_equal(F->t.selector, "app=web");
    assert_int_equal(F->t.first_spec, 3);
    assert_int_equal(F->e.srv.nheads, 2);
    bool scale = false, obj = false;
    for (size_t i = 0; i < 2; i++) {
        scale = scale || strstr(F->e.srv.heads[i],
                                "GET /apis/apps/v1/namespaces/team-a/deployments/web/scale ");
        obj = obj ||
              strstr(F->e.srv.heads[i], "GET /apis/apps/v1/namespaces/team-a/deployments/web ");
        assert_non_null(strstr(F->e.srv.heads[i], "Authorization: Bearer t0ken"));
    }
    assert_true(scale && obj);
}

static void test_refresh_failure_is_reported(void **state)
{
    struct as_target at = target_k8s(&F->t);
    tsrv_script(&F->e.srv, 200, WEB3);
    tsrv_script(&F->e.srv, 401,
                "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"message\":\"Unauthorized\","
                "\"code\":401}");
    assert_int_equal(at.ops->refresh(at.t, on_done, NULL), 0);
    tsrv_run_until(&F->e.loop, &F->done, 1, 5000);
    assert_int_equal(F->done, 1);
    assert_non_null(strstr(F->err, "401"));
    assert_int_equal(F->t.read_errors, 1);
}

static void test_scale_up_patches_at_once(void **state)
{
    struct as_target at = target_k8s(&F->t);
    refresh(at);
    tsrv_script(&F->e.srv, 200, "{\"spec\":{\"replicas\":5},\"status\":{\"replicas\":3}}");
    assert_int_equal(at.ops->scale_async(at.t, 3, 5, on_done, NULL), 0);
    tsrv_run_until(&F->e.loop, &F->done, 2, 5000);
    assert_int_equal(F->done, 2);
    assert_string_equal(F->err, "");
    assert_int_equal(F->hooked, 0); /* not a scale-down */
    assert_int_equal(at.ops->spec_replicas(at.t), 5);
    const char *h = F->e.srv.heads[2];
    assert_non_null(strstr(h, "PATCH /apis/apps/v1/namespaces/team-a/deployments/web/scale "));
    assert_non_null(strstr(h, "Content-Type: application/merge-patch+json"));
}

static void test_scale_down_waits_for_the_hook(void **state)
{
    struct as_target at = target_k8s(&F->t);
    refresh(at);
    unsigned before = F->e.srv.requests;
    assert_int_equal(at.ops->scale_async(at.t, 3, 1, on_done, NULL), 0);
    assert_int_equal(F->hooked, 1);
    assert_string_equal(F->hook_ns, "team-a");
    assert_string_equal(F->hook_sel, "app=web");
    assert_int_equal(F->hook_from, 3);
    assert_int_equal(F->hook_to, 1);
    tsrv_run_for(&F->e.loop, 200);
    assert_int_equal(F->e.srv.requests, before); /* nothing sent before go */
    assert_int_equal(F->done, 1);
    tsrv_script(&F->e.srv, 200, "{\"spec\":{\"replicas\":1},\"status\":{\"replicas\":3}}");
    F->go(F->arg);
    tsrv_run_until(&F->e.loop, &F->done, 2, 5000);
    assert_int_equal(F->done, 2);
    assert_string_equal(F->err, "");
    assert_int_equal(at.ops->spec_replicas(at.t), 1);
    assert_non_null(strstr(F->e.srv.heads[2], "PATCH /apis/apps/v1/namespaces/team-a/"));
}

static void test_released_target_go_only_frees(void **state)
{
    struct as_target at = target_k8s(&F->t);
    refresh(at);
    unsigned before = F->e.srv.requests;
    assert_int_equal(at.ops->scale_async(at.t, 3, 0, on_done, NULL), 0);
    at.ops->cancel(at.t); /* the object was removed meanwhile */
    F->go(F->arg);        /* frees the gate; no PATCH, no callback */
    tsrv_run_for(&F->e.loop, 200);
    assert_int_equal(F->e.srv.requests, before);
    assert_int_equal(F->done, 1);
}

static void test_hook_that_does_not_start_patches_at_once(void **state)
{
    struct as_target at = target_k8s(&F->t);
    refresh(at);
    F->hook_rc = -EIO;
    tsrv_script(&F->e.srv, 200, "{\"spec\":{\"replicas\":2},\"status\":{\"replicas\":3}}");
    assert_int_equal(at.ops->scale_async(at.t, 3, 2, on_done, NULL), 0);
    tsrv_run_until(&F->e.loop, &F->done, 2, 5000);
    assert_int_equal(F->done, 2);
    assert_int_equal(F->hooked, 1);
    assert_int_equal(at.ops->spec_replicas(at.t), 2);
}

static void test_failed_write_is_reported(void **state)
{
    struct as_target at = target_k8s(&F->t);
    refresh(at);
    tsrv_script(&F->e.srv, 422,
                "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"message\":"
                "\"invalid scale patch\",\"code\":422}");
    assert_int_equal(at.ops->scale_async(at.t, 3, 4, on_done, NULL), 0);
    tsrv_run_until(&F->e.loop, &F->done, 2, 5000);
    assert_int_equal(F->done, 2);
    assert_non_null(strstr(F->err, "422"));
    assert_int_equal(F->t.write_errors, 1);
    assert_int_equal(at.ops->spec_replicas(at.t), 3); /* unchanged */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test_setup_teardown(test_refresh_reads_scale_and_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_failure_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_up_patches_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_down_waits_for_the_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_released_target_go_only_frees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_that_does_not_start_patches_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
