/* k8s client and informer against fake_apiserver.py (a stand-in for
 * kube-apiserver that speaks the real protocol: TLS with a test CA, bearer
 * tokens, Kubernetes JSON, chunked watch streams, 410, 409). The server is
 * started once for the group (posix_spawn), reset between tests; every test
 * closes what it opened and checks that the loop closes clean. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s/client.h"
#include "k8s/informer.h"
#include "testsrv.h"
#include "fake_server.h"

extern char **environ;

#define PODS "/api/v1/namespaces/default/pods"
#define TOKEN "s3cret-token"

static struct fake_server srv;

struct fixture {
    uv_loop_t loop;
    struct fetcher f;
    struct k8s_config cfg;
    struct k8s_client c;
    struct k8s_informer inf;
    bool inf_open;
    int closed;
    int done; /* requests answered */
    char body[4096];
    long status;
    char err[1024];
    /* what the informer reported */
    int adds, updates, deletes, errors;
    bool request_in_add;
    int add_answers;
    int close_in_add; /* close the informer in the handler of this add */
    char log[8192];
};

static struct fixture *F;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    size_t n = strlen(F->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(F->log + n, sizeof(F->log) - n, fmt, ap);
    va_end(ap);
}

/* ---------- the server process ---------- */

static int group_setup(void **state)
{
    fake_server_start(&srv, TOKEN);
    return 0;
}

static int group_teardown(void **state)
{
    return fake_server_stop(&srv);
}

/* ---------- the client side ---------- */

/* A kubeconfig for the server: its CA file, a token, TLS verified. */
static void config_for(struct k8s_config *cfg, int port, const char *user_yaml)
{
    char text[2048], err[512];
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
             "contexts:\n- name: test\n  context: {cluster: fake, user: u}\n"
             "clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:%d\n"
             "    certificate-authority: %s/ca.crt\n"
             "users:\n- name: u\n  user:\n%s",
             port, srv.dir, user_yaml);
    int rc = k8s_config_kubeconfig_text(cfg, "test-kubeconfig", srv.dir, text, strlen(text), 0,
                                        err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
}

static void on_fetcher_closed(struct fetcher *f)
{
    F->closed++;
}

static void on_answer(void *ud, struct k8s_response *r)
{
    F->done++;
    F->status = r->status;
    snprintf(F->err, sizeof(F->err), "%s", r->err ? r->err : "");
    snprintf(F->body, sizeof(F->body), "%.*s", (int)(r->len < 4000 ? r->len : 4000), r->body);
}

/* POSTs a control command to the server and waits for its answer (in F->body). */
static void ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ctl(const char *fmt, ...)
{
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    int want = F->done + 1;
    assert_int_equal(k8s_request(&F->c, "POST", "/_control", body, NULL, on_answer, NULL, NULL), 0);
    tsrv_run_until(&F->loop, &F->done, want, 5000);
    assert_int_equal(F->done, want);
    assert_string_equal(F->err, "");
}

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    F = &fx;
    uv_loop_init(&fx.loop);
    assert_int_equal(fetcher_init(&fx.f, &fx.loop), 0);
    config_for(&fx.cfg, srv.port, "    token: " TOKEN "\n");
    k8s_client_init(&fx.c, &fx.loop, &fx.f, &fx.cfg);
    ctl("{\"op\":\"reset\"}");
    F->done = 0;
    return 0;
}

static void on_inf_closed(struct k8s_informer *inf)
{
    F->closed++;
}

static int teardown(void **state)
{
    if (F->inf_open)
        k8s_informer_close(&F->inf, on_inf_closed);
    fetcher_close(&F->f, on_fetcher_closed);
    uv_run(&F->loop, UV_RUN_DEFAULT);
    assert_int_equal(F->closed, F->inf_open ? 2 : 1);
    assert_int_equal(uv_loop_close(&F->loop), 0);
    k8s_config_release(&F->cfg);
    return 0;
}

/* ---------- the informer's callbacks ---------- */

static void on_add_answer(void *ud, struct k8s_response *r)
{
    if (!r->err)
        F->add_answers++;
}

static void on_add(void *ud, const char *name, const cJSON *obj)
{
    /* What a router does for a new pod: ask it something, from the handler. */
    if (F->request_in_add)
        assert_int_equal(k8s_request(&F->c, "GET", PODS, NULL, NULL, on_add_answer, NULL, NULL),
                         0);
    if (F->close_in_add && F->adds + 1 == F->close_in_add)
        k8s_informer_close(&F->inf, on_inf_closed);
    F->adds++;
    logf_("add %s;", name);
}

static void on_update(void *ud, const char *name, const cJSON *old, const cJSON *obj)
{
    F->updates++;
    logf_("update %s %s->%s;", name, k8s_obj_rv(old), k8s_obj_rv(obj));
}

static void on_delete(void *ud, const char *name, const cJSON *last)
{
    F->deletes++;
    logf_("delete %s;", name);
}

static char last_error[1024];

static void on_error(void *ud, const char *err)
{
    F->errors++;
    snprintf(last_error, sizeof(last_error), "%s", err);
}

static void informer_start(const char *selector, unsigned backoff_min, unsigned backoff_max)
{
    struct k8s_informer_opts o = {.path = PODS,
                                  .label_selector = selector,
                                  .on_add = on_add,
                                  .on_update = on_update,
                                  .on_delete = on_delete,
                                  .on_error = on_error,
                                  .backoff_min_ms = backoff_min,
                                  .backoff_max_ms = backoff_max,
                                  .watch_timeout_s = 30};
    assert_int_equal(k8s_informer_init(&F->inf, &F->loop, &F->c, &o), 0);
    F->inf_open = true;
    last_error[0] = '\0';
    assert_int_equal(k8s_informer_start(&F->inf), 0);
}

/* Runs the loop until the informer is fresh (listed and watching). */
static void until_fresh(unsigned lists)
{
    for (int i = 0; i < 500 && !(F->inf.fresh && F->inf.lists >= lists &&
                                 F->inf.state == K8S_INF_WATCHING);
         i++)
        tsrv_run_for(&F->loop, 10);
    assert_true(F->inf.fresh);
    assert_true(F->inf.lists >= lists);
    tsrv_run_for(&F->loop, 50); /* the watch is connected */
}

static void until_count(const int *counter, int want)
{
    tsrv_run_until(&F->loop, counter, want, 5000);
    assert_int_equal(*counter, want);
}

/* ---------- tests ---------- */

static void list_and_watch_reach_the_informer(void **state)
{
    ctl("{\"op\":\"add_pod\",\"name\":\"p1\",\"labels\":{\"app\":\"vllm\"}}");
    ctl("{\"op\":\"add_pod\",\"name\":\"p2\",\"labels\":{\"app\":\"vllm\"}}");
    ctl("{\"op\":\"add_pod\",\"name\":\"other\",\"labels\":{\"app\":\"web\"}}");
    F->request_in_add = true;
    informer_start("app=vllm", 50, 1000);
    assert_false(F->inf.synced);
    until_fresh(1);
    assert_true(F->inf.synced);
    assert_int_equal(F->inf.n, 2);
    assert_int_equal(F->adds, 2);
    assert_non_null(k8s_informer_get(&F->inf, "p1"));
    assert_null(k8s_informer_get(&F->inf, "other"));

    ctl("{\"op\":\"add_pod\",\"name\":\"p3\",\"labels\":{\"app\":\"vllm\"}}");
    until_count(&F->adds, 3);
    ctl("{\"op\":\"modify_pod\",\"name\":\"p1\",\"ready\":false}");
    until_count(&F->updates, 1);
    const cJSON *p1 = k8s_informer_get(&F->inf, "p1");
    const cJSON *st = cJSON_GetObjectItem(cJSON_GetObjectItem(p1, "status"), "containerStatuses");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(st, 0), "ready")));
    ctl("{\"op\":\"delete_pod\",\"name\":\"p2\"}");
    until_count(&F->deletes, 1);
    ctl("{\"op\":\"add_pod\",\"name\":\"other2\",\"labels\":{\"app\":\"web\"}}");
    ctl("{\"op\":\"bookmark\"}");
    tsrv_run_for(&F->loop, 200);
    assert_int_equal(F->adds, 3); /* other2 is not selected */
    assert_null(k8s_informer_get(&F->inf, "p2"));
    assert_int_equal(F->inf.n, 2);
    assert_int_equal(F->inf.lists, 1); /* no error: one list, one watch */
    assert_int_equal(F->inf.watches, 1);
    assert_int_equal(F->errors, 0);
    /* The bookmark moved the resourceVersion on. */
    ctl("{\"op\":\"stats\"}");
    char want[128];
    snprintf(want, sizeof(want), "\"rv\": %s", F->inf.rv);
    assert_non_null(strstr(F->body, want));
}

static void gone_410_relists_and_reports_a_pod_deleted_in_the_gap(void **state)
{
    ctl("{\"op\":\"add_pod\",\"name\":\"p1\",\"labels\":{\"app\":\"vllm\"}}");
    ctl("{\"op\":\"add_pod\",\"name\":\"p2\",\"labels\":{\"app\":\"vllm\"}}");
    informer_start("app=vllm", 50, 1000);
    until_fresh(1);
    /* The watch gets ERROR 410; p2 is deleted while nothing watches and the
     * history is compacted past its DELETED event: only a re-list shows it. */
    ctl("{\"op\":\"expire\",\"delete\":[\"p2\"]}");
    until_count(&F->deletes, 1);
    assert_true(strstr(F->log, "delete p2;") != NULL);
    assert_true(F->inf.expired >= 1);
    assert_non_null(strstr(last_error, "ERROR event 410: too old resource version"));
    until_fresh(2);
    assert_int_equal(F->inf.n, 1);
    assert_null(k8s_informer_get(&F->inf, "p2"));
    ctl("{\"op\":\"add_pod\",\"name\":\"p4\",\"labels\":{\"app\":\"vllm\"}}");
    until_count(&F->adds, 3); /* watching again */
}

static void a_cut_watch_relists_after_a_backoff(void **state)
{
    ctl("{\"op\":\"add_pod\",\"name\":\"p1\",\"labels\":{\"app\":\"vllm\"}}");
    informer_start("app=vllm", 300, 1000);
    until_fresh(1);
    uint64_t t0 = uv_now(&F->loop);
    ctl("{\"op\":\"cut\"}");
    ctl("{\"op\":\"delete_pod\",\"name\":\"p1\"}");
    ctl("{\"op\":\"add_pod\",\"name\":\"p2\",\"labels\":{\"app\":\"vllm\"}}");
    until_count(&F->deletes, 1);
    uint64_t waited = uv_now(&F->loop) - t0;
    assert_true(waited >= 250); /* the back-off, not a tight loop */
    assert_int_equal(F->inf.lists, 2);
    assert_true(F->inf.watch_errors >= 1);
    assert_non_null(k8s_informer_get(&F->inf, "p2"));
    assert_null(k8s_informer_get(&F->inf, "p1"));
    assert_true(F->errors >= 1);
    assert_non_null(strstr(last_error, "watch " PODS ": "));
}

static void a_bad_token_is_a_clear_401_retried_with_backoff(void **state)
{
    k8s_config_release(&F->cfg);
    config_for(&F->cfg, srv.port, "    token: wrong\n");
    informer_start(NULL, 20, 100);
    tsrv_run_for(&F->loop, 600);
    assert_false(F->inf.synced);
    assert_string_equal(last_error, "GET " PODS ": HTTP 401: Unauthorized: Unauthorized");
    /* 20, 40, 80, 100, 100...: a handful of tries in 600 ms, not hundreds */
    assert_true(F->inf.list_errors >= 3 && F->inf.list_errors <= 12);
}

static void a_rotated_token_file_is_read_again_after_a_401(void **state)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/token", srv.dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", TOKEN);
    fclose(f);
    k8s_config_release(&F->cfg);
    char user[600];
    snprintf(user, sizeof(user), "    tokenFile: %s\n", path);
    config_for(&F->cfg, srv.port, user);
    informer_start(NULL, 20, 100);
    until_fresh(1);
    /* The token rotates: the server takes only the new one, the file has it. */
    f = fopen(path, "w");
    fprintf(f, "rotated-token\n");
    fclose(f);
    ctl("{\"op\":\"set_token\",\"token\":\"rotated-token\"}");
    ctl("{\"op\":\"cut\"}");
    until_fresh(2);
    assert_true(F->inf.list_errors >= 1); /* one 401, then the file is read again */
    assert_non_null(strstr(last_error, "HTTP 401"));
    assert_string_equal(F->cfg.token, "rotated-token");
}

static void an_unreachable_server_is_retried_with_backoff(void **state)
{
    int port = tsrv_free_port();
    k8s_config_release(&F->cfg);
    config_for(&F->cfg, port, "    token: " TOKEN "\n");
    informer_start(NULL, 20, 80);
    tsrv_run_for(&F->loop, 500);
    assert_false(F->inf.synced);
    assert_int_equal(F->inf.n, 0);
    assert_true(F->inf.list_errors >= 3 && F->inf.list_errors <= 15);
    assert_non_null(strstr(last_error, "GET " PODS ": connection refused"));
}

static void malformed_answers_are_errors_then_recovered(void **state)
{
    ctl("{\"op\":\"add_pod\",\"name\":\"p1\",\"labels\":{\"app\":\"vllm\"}}");
    ctl("{\"op\":\"script\",\"prefix\":\"" PODS "\",\"status\":200,\"body\":\"{not json\"}");
    ctl("{\"op\":\"script\",\"prefix\":\"" PODS "\",\"status\":200,"
        "\"body\":\"{\\\"kind\\\":\\\"PodList\\\",\\\"items\\\":[]}\"}");
    ctl("{\"op\":\"script\",\"prefix\":\"" PODS "\",\"status\":200,"
        "\"body\":\"{\\\"kind\\\":\\\"PodList\\\",\\\"metadata\\\":{\\\"resourceVersion\\\":\\\"1\\\"},"
        "\\\"items\\\":[{\\\"metadata\\\":{}}]}\"}");
    ctl("{\"op\":\"script\",\"prefix\":\"" PODS "\",\"cut\":true}");
    informer_start(NULL, 20, 100);
    until_fresh(1);
    /* The cut one may not count: curl sends a request again by itself when
     * a kept-alive connection dies before any answer. */
    assert_true(F->inf.list_errors == 3 || F->inf.list_errors == 4);
    assert_int_equal(F->inf.n, 1);
    /* A line that is not an event ends the watch; the informer lists again. */
    ctl("{\"op\":\"inject\",\"line\":\"{\\\"type\\\":\\\"ADDED\\\"}\"}");
    until_fresh(2);
    assert_non_null(strstr(last_error, "a watch event has no \"object\""));
    ctl("{\"op\":\"inject\",\"line\":\"garbage\"}");
    until_fresh(3);
    assert_non_null(strstr(last_error, "a watch event is not a JSON object"));
    assert_int_equal(F->inf.n, 1);
    assert_int_equal(F->deletes, 0);
}

static void the_informer_may_be_closed_from_its_callbacks(void **state)
{
    ctl("{\"op\":\"add_pod\",\"name\":\"p1\",\"labels\":{}}");
    ctl("{\"op\":\"add_pod\",\"name\":\"p2\",\"labels\":{}}");
    F->close_in_add = 1; /* from the list's first add */
    informer_start(NULL, 20, 100);
    tsrv_run_until(&F->loop, &F->closed, 1, 5000);
    assert_int_equal(F->closed, 1);
    assert_int_equal(F->inf.watches, 0);
    F->inf_open = false;
    F->closed = 0;
    /* From a watch event's handler, with more events in the same read. */
    F->close_in_add = 0;
    F->adds = 0;
    informer_start(NULL, 20, 100);
    until_fresh(1);
    F->close_in_add = 4;
    ctl("{\"op\":\"add_pod\",\"name\":\"p3\",\"labels\":{}}");
    ctl("{\"op\":\"add_pod\",\"name\":\"p4\",\"labels\":{}}");
    ctl("{\"op\":\"add_pod\",\"name\":\"p5\",\"labels\":{}}");
    tsrv_run_until(&F->loop, &F->closed, 1, 5000);
    assert_int_equal(F->closed, 1);
    tsrv_run_for(&F->loop, 100);
    assert_int_equal(F->adds, 4);
    F->inf_open = false;
    F->closed = 0;
}

static char scale_err[1024];
static struct k8s_scale got_scale;

static void on_scale(void *ud, const char *err, const struct k8s_scale *s)
{
    F->done++;
    snprintf(scale_err, sizeof(scale_err), "%s", err ? err : "");
    if (s)
        got_scale = *s;
}

#define DEPLOY "/apis/apps/v1/namespaces/default/deployments/"

static void scale_get_and_patch_send_what_the_api_wants(void **state)
{
    ctl("{\"op\":\"add_deployment\",\"name\":\"web\",\"replicas\":1}");
    F->done = 0;
    assert_int_equal(k8s_scale_get(&F->c, DEPLOY "web", on_scale, NULL), 0);
    until_count(&F->done, 1);
    assert_string_equal(scale_err, "");
    assert_int_equal(got_scale.spec_replicas, 1);
    assert_int_equal(k8s_scale_patch(&F->c, DEPLOY "web", 3, on_scale, NULL), 0);
    until_count(&F->done, 2);
    assert_string_equal(scale_err, "");
    assert_int_equal(got_scale.spec_replicas, 3);
    assert_int_equal(got_scale.status_replicas, 3);
    assert_int_equal(k8s_scale_patch(&F->c, DEPLOY "missing", 0, on_scale, NULL), 0);
    until_count(&F->done, 3);
    assert_string_equal(scale_err, "PATCH " DEPLOY "missing/scale: HTTP 404: NotFound: "
                                   "deployments.apps \"missing\" not found");
    assert_int_equal(k8s_scale_patch(&F->c, DEPLOY "web", -1, on_scale, NULL), -EINVAL);
    ctl("{\"op\":\"records\"}");
    assert_non_null(strstr(F->body, "{\"method\": \"PATCH\", \"path\": \"" DEPLOY "web/scale\", "
                                    "\"content_type\": \"application/merge-patch+json\", "
                                    "\"body\": \"{\\\"spec\\\":{\\\"replicas\\\":3}}\"}"));
}

#define SO "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects/so/status"

static int mutations;

static int set_ready(void *ud, cJSON *obj)
{
    mutations++;
    cJSON *status = cJSON_GetObjectItem(obj, "status");
    cJSON_DeleteItemFromObject(status, "originalReplicaCount");
    cJSON_AddNumberToObject(status, "originalReplicaCount", 2);
    return 0;
}

static char upd_err[1024];
static char upd_rv[64];

static void on_updated(void *ud, const char *err, const cJSON *obj)
{
    F->done++;
    snprintf(upd_err, sizeof(upd_err), "%s", err ? err : "");
    snprintf(upd_rv, sizeof(upd_rv), "%s", obj ? k8s_obj_rv(obj) : "");
}

static void a_conflict_is_read_again_and_retried(void **state)
{
    ctl("{\"op\":\"put_object\",\"path\":\"" SO "\",\"obj\":{\"apiVersion\":\"keda.sh/v1alpha1\","
        "\"kind\":\"ScaledObject\",\"metadata\":{\"name\":\"so\",\"namespace\":\"default\"},"
        "\"status\":{}}}");
    ctl("{\"op\":\"bump\",\"path\":\"" SO "\",\"times\":2}");
    F->done = 0;
    mutations = 0;
    assert_int_equal(k8s_update(&F->c, SO, 5, set_ready, on_updated, NULL), 0);
    until_count(&F->done, 1);
    assert_string_equal(upd_err, "");
    assert_int_equal(mutations, 3); /* two 409s, then the write */
    assert_true(upd_rv[0]);
    ctl("{\"op\":\"records\"}");
    assert_non_null(strstr(F->body, "\\\"originalReplicaCount\\\":2"));

    /* Bounded: with more writers than attempts, the update gives up. */
    ctl("{\"op\":\"bump\",\"path\":\"" SO "\",\"times\":9}");
    F->done = 0;
    mutations = 0;
    assert_int_equal(k8s_update(&F->c, SO, 3, set_ready, on_updated, NULL), 0);
    until_count(&F->done, 1);
    assert_int_equal(mutations, 3);
    assert_non_null(strstr(upd_err, "PUT " SO ": HTTP 409: Conflict: Operation cannot be "
                                    "fulfilled on scaledobjects.keda.sh \"so\""));
    assert_non_null(strstr(upd_err, "(after 3 attempts)"));
}

static void tls_is_verified_by_default(void **state)
{
    /* The same server with no CA configured: the system's CAs refuse it. */
    free(F->cfg.ca_pem);
    F->cfg.ca_pem = NULL;
    assert_int_equal(k8s_request(&F->c, "GET", PODS, NULL, NULL, on_answer, NULL, NULL), 0);
    until_count(&F->done, 1);
    assert_non_null(strstr(F->err, "GET " PODS ": "));
    assert_int_equal(F->status, 0);
    F->cfg.insecure = true; /* insecure-skip-tls-verify: true */
    assert_int_equal(k8s_request(&F->c, "GET", PODS, NULL, NULL, on_answer, NULL, NULL), 0);
    until_count(&F->done, 2);
    assert_string_equal(F->err, "");
    assert_int_equal(F->status, 200);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(list_and_watch_reach_the_informer),
        T(gone_410_relists_and_reports_a_pod_deleted_in_the_gap),
        T(a_cut_watch_relists_after_a_backoff),
        T(a_bad_token_is_a_clear_401_retried_with_backoff),
        T(a_rotated_token_file_is_read_again_after_a_401),
        T(an_unreachable_server_is_retried_with_backoff),
        T(malformed_answers_are_errors_then_recovered),
        T(the_informer_may_be_closed_from_its_callbacks),
        T(scale_get_and_patch_send_what_the_api_wants),
        T(a_conflict_is_read_again_and_retried),
        T(tls_is_verified_by_default),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
