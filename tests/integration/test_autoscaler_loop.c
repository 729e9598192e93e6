/* The autoscaler's live loop, in-process: ScaledObjects loaded from YAML,
 * a fake Prometheus (ebb's HTTP server answering /api/v1/query with a value
 * the test sets, or 500) and an in-memory scale target, all on one libuv
 * loop with the real trigger (libcurl) in between. Checks what only the loop
 * can get wrong: polls reach the target, the HPA path scales 1 <-> N,
 * scale-to-zero and back, evaluate-now with held requests, a failing
 * Prometheus (no scale-down on errors; fallback), the status JSON and the
 * metrics, and a clean stop. The decisions themselves are tested rule by
 * rule in tests/unit/scale. */
#include "../unit/unit.h"

#include <cjson/cJSON.h>
#include <uv.h>

#include "autoscaler/autoscaler.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "http/server.h"

struct fake_prom {
    struct http_server http;
    int port;
    double value;
    bool fail;
    unsigned queries;
};

struct fake_target {
    int32_t replicas;
    unsigned writes;
};

struct fixture {
    uv_loop_t loop;
    struct fake_prom prom;
    struct config cfg;
    struct autoscaler as;
    struct fake_target target;
    bool stopped;
};

static void prom_handle(struct http_req *req, void *ud)
{
    struct fake_prom *p = ud;
    p->queries++;
    if (p->fail) {
        static const char err[] = "{\"status\":\"error\",\"error\":\"down\"}";
        http_respond(req, 500, "application/json", NULL, err, sizeof(err) - 1);
        return;
    }
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                     "[{\"metric\":{},\"value\":[1700000000,\"%g\"]}]}}",
                     p->value);
    http_respond(req, 200, "application/json", NULL, body, (size_t)n);
}

static int32_t t_spec(void *t)
{
    return ((struct fake_target *)t)->replicas;
}

static int t_scale(void *t, int32_t n, char *err, size_t errlen)
{
    struct fake_target *ft = t;
    ft->replicas = n;
    ft->writes++;
    return 0;
}

static const struct as_target_ops fake_ops = {
    .spec_replicas = t_spec, .status_replicas = t_spec, .ready_replicas = t_spec, .scale = t_scale};

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until pred holds or seconds pass; true if it held. */
static bool run_until(struct fixture *f, bool (*pred)(struct fixture *f), double seconds)
{
    bool expired = false;
    uv_timer_t deadline;
    uv_timer_init(&f->loop, &deadline);
    deadline.data = &expired;
    uv_timer_start(&deadline, on_deadline, (uint64_t)(seconds * 1000), 0);
    bool ok = pred(f);
    while (!ok && !expired) {
        uv_run(&f->loop, UV_RUN_ONCE);
        ok = pred(f);
    }
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return ok;
}

static void setup(struct fixture *f, const char *yaml_fmt, int32_t replicas, double hpa_period,
                  int32_t down_window)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    struct http_server_config hc;
    http_server_config_defaults(&hc);
    hc.host = "127.0.0.1";
    hc.port = 0;
    http_server_init(&f->prom.http, &f->loop, &hc, prom_handle, &f->prom);
    assert_int_equal(http_server_listen(&f->prom.http), 0);
    struct sockaddr_in addr;
    int len = sizeof(addr);
    uv_tcp_getsockname(&f->prom.http.listener, (struct sockaddr *)&addr, &len);
    f->prom.port = ntohs(addr.sin_port);

    /* The template names the fake Prometheus's port "PORT". */
    char yaml[4096];
    const char *at = strstr(yaml_fmt, "PORT");
    assert_non_null(at);
    snprintf(yaml, sizeof(yaml), "%.*s%d%s", (int)(at - yaml_fmt), yaml_fmt, f->prom.port, at + 4);
    config_init(&f->cfg);
    config_load_buffer(&f->cfg, "test.yaml", yaml, strlen(yaml));
    if (config_check(&f->cfg, 0) != 0) {
        struct buf out = BUF_INIT(1 << 20);
        config_format_issues(&f->cfg, &out);
        fail_msg("config: %s", out.data);
    }
    struct as_options o;
    as_options_defaults(&o);
    o.hpa_sync_period = hpa_period;
    o.down_stabilization = down_window;
    char err[256];
    assert_int_equal(autoscaler_init(&f->as, &f->loop, &f->cfg, &o, err, sizeof(err)), 0);
    f->target.replicas = replicas;
    autoscaler_bind(&f->as, 0, (struct as_target){&fake_ops, &f->target});
    assert_int_equal(autoscaler_start(&f->as), 0);
}

static void on_as_stopped(struct autoscaler *as)
{
    struct fixture *f = as->data;
    f->stopped = true;
}

static void on_prom_empty(struct http_server *s)
{
    http_server_release(s);
}

static void teardown(struct fixture *f)
{
    f->as.data = f;
    autoscaler_stop(&f->as, on_as_stopped);
    http_server_shutdown(&f->prom.http, on_prom_empty);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(f->stopped);
    autoscaler_release(&f->as);
    config_release(&f->cfg);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

#define SO_HEAD                                                                                    \
    "apiVersion: keda.sh/v1alpha1\n"                                                               \
    "kind: ScaledObject\n"                                                                         \
    "metadata: {name: so, namespace: default}\n"                                                   \
    "spec:\n"                                                                                      \
    "  scaleTargetRef: {name: pool}\n"
/* A prometheus trigger on the fake Prometheus, polled every s seconds. */
#define PROM_TRIGGER_EVERY(s)                                                                      \
    "  pollingInterval: " s "\n"                                                                   \
    "  triggers:\n"                                                                                \
    "    - type: prometheus\n"                                                                     \
    "      metadata:\n"                                                                            \
    "        serverAddress: http://127.0.0.1:PORT\n"                                              \
    "        query: vllm:num_requests_waiting\n"                                                   \
    "        threshold: '5'\n"
#define PROM_TRIGGER PROM_TRIGGER_EVERY("1")

static struct fixture fx;

static bool at_4(struct fixture *f)
{
    return f->target.replicas == 4;
}
static bool at_1(struct fixture *f)
{
    return f->target.replicas == 1;
}
static bool at_0(struct fixture *f)
{
    return f->target.replicas == 0;
}
static bool at_3(struct fixture *f)
{
    return f->target.replicas == 3;
}
static bool polled_twice(struct fixture *f)
{
    return f->prom.queries >= 2;
}

/* The tutorial's first shape: min 1, HPA 1 -> N on the metric, back to min
 * when it falls (legacy path: at most max(2*current, 4) per sync). */
static void hpa_scales_up_and_down(void **state)
{
    struct fixture *f = &fx;
    setup(f, SO_HEAD "  minReplicaCount: 1\n  maxReplicaCount: 8\n" PROM_TRIGGER, 1, 0.2, 0);
    f->prom.value = 20; /* 20 waiting / target 5 per replica -> 4 replicas */
    assert_true(run_until(f, at_4, 10));
    assert_string_equal(f->as.objs[0]->hpa_decision.reason, "s0-prometheus above target");
    f->prom.value = 0;
    assert_true(run_until(f, at_1, 10)); /* down to minReplicas, never 0 */
    teardown(f);
}

/* The scale-to-zero shape: inactive -> 0 (initialCooldownPeriod 0), active
 * -> 1 on the next poll. */
static void scales_to_zero_and_back(void **state)
{
    struct fixture *f = &fx;
    setup(f, SO_HEAD "  minReplicaCount: 0\n  maxReplicaCount: 2\n  cooldownPeriod: 1\n" PROM_TRIGGER,
          1, 0.5, 0);
    f->prom.value = 0;
    assert_true(run_until(f, at_0, 10));
    assert_string_equal(f->as.objs[0]->decision.reason, "ScaleToZero");
    f->prom.value = 1;
    assert_true(run_until(f, at_1, 10));
    assert_string_equal(f->as.objs[0]->decision.reason, "ScaleFromZero");
    teardown(f);
}

/* Held requests at zero scale up on the spot, without a metric. */
static void evaluate_now_with_held_requests_scales_from_zero(void **state)
{
    struct fixture *f = &fx;
    setup(f,
          SO_HEAD "  minReplicaCount: 0\n  maxReplicaCount: 2\n  cooldownPeriod: 300\n" PROM_TRIGGER_EVERY("30"),
          0, 30, 0);
    /* The first poll runs at once and keeps 0 (inactive, already at zero). */
    assert_true(run_until(f, polled_twice, 0.5) || f->prom.queries == 1);
    assert_int_equal(f->target.replicas, 0);
    autoscaler_evaluate_now(&f->as, 0, true);
    assert_true(run_until(f, at_1, 3));
    const struct as_object *o0 = f->as.objs[0];
    const struct as_event *e = &o0->events[(o0->n_events - 1) % AS_EVENTS_MAX];
    assert_string_equal(e->reason, "ScaleFromZero (requests held)");
    assert_string_equal(e->source, "keda");
    teardown(f);
}

/* Prometheus down: no scale to zero on errors (KEDA keeps the replicas),
 * and with fallback the HPA gets fallback.replicas. */
static void prometheus_down_keeps_replicas_then_fallback(void **state)
{
    struct fixture *f = &fx;
    setup(f,
          SO_HEAD "  minReplicaCount: 0\n  maxReplicaCount: 5\n  cooldownPeriod: 1\n"
                  "  fallback: {failureThreshold: 2, replicas: 3}\n" PROM_TRIGGER,
          2, 0.3, 0);
    f->prom.fail = true;
    assert_true(run_until(f, at_3, 10)); /* fallback: 3 replicas, not 0 */
    assert_string_equal(f->as.objs[0]->fallback.status, "True");
    assert_true(f->as.objs[0]->triggers[0].errors_total >= 3);
    assert_int_equal(f->as.objs[0]->triggers[0].last.attempts, 2); /* one immediate retry */
    f->prom.fail = false;
    f->prom.value = 0;
    assert_true(run_until(f, at_0, 10)); /* recovered: idle goes to zero */
    assert_string_equal(f->as.objs[0]->fallback.status, "False");
    teardown(f);
}

static void status_and_metrics_say_what_happened(void **state)
{
    struct fixture *f = &fx;
    setup(f, SO_HEAD "  minReplicaCount: 1\n  maxReplicaCount: 8\n" PROM_TRIGGER, 1, 0.2, 0);
    f->prom.value = 20;
    assert_true(run_until(f, at_4, 10));
    struct buf out = BUF_INIT(1 << 20);
    assert_int_equal(autoscaler_status_json(&f->as, wall_time(), &out), 0);
    cJSON *root = cJSON_Parse(out.data);
    assert_non_null(root);
    const cJSON *so = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "scaledObjects"), 0);
    assert_string_equal(cJSON_GetObjectItem(so, "name")->valuestring, "so");
    const cJSON *trig = cJSON_GetArrayItem(cJSON_GetObjectItem(so, "triggers"), 0);
    assert_near(cJSON_GetObjectItem(trig, "value")->valuedouble, 20, 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(trig, "error")));
    const cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItem(so, "events"), 0);
    assert_int_equal(cJSON_GetObjectItem(ev, "to")->valueint, 4);
    assert_string_equal(cJSON_GetObjectItem(ev, "source")->valuestring, "hpa");
    cJSON_Delete(root);

    buf_reset(&out);
    assert_int_equal(autoscaler_hpa_json(&f->as, wall_time(), &out), 0);
    assert_non_null(strstr(out.data, "/5 (avg)\""));
    assert_non_null(strstr(out.data, "\"reference\":\"Deployment/pool\""));

    buf_reset(&out);
    assert_int_equal(autoscaler_metrics(&f->as, &out), 0);
    assert_non_null(strstr(out.data, "keda_scaler_metrics_value{metric=\"s0-prometheus\","
                                     "namespace=\"default\",scaledObject=\"so\","
                                     "scaler=\"prometheusScaler\",triggerIndex=\"0\","
                                     "type=\"scaledobject\"} 20.0\n"));
    assert_non_null(strstr(out.data, "ebb_autoscaler_current_replicas{namespace=\"default\","
                                     "scaledObject=\"so\"} 4.0\n"));
    buf_release(&out);
    teardown(f);
}


/* Objects at run time (autoscaler_add/remove, as ebb autoscaler
 * --kubernetes does), the on_event hook, and suspend/start (a lost and a
 * regained leadership): the other objects keep their state throughout. */
static struct {
    int events;
    char ns[64], name[64];
} hooked;

static void on_event(void *ud, const char *ns, const char *name, const struct as_event *e)
{
    hooked.events++;
    snprintf(hooked.ns, sizeof(hooked.ns), "%s", ns);
    snprintf(hooked.name, sizeof(hooked.name), "%s", name);
}

static struct fake_target second;
static bool second_at_4(struct fixture *f)
{
    return second.replicas == 4 && f->target.replicas == 4;
}
static bool both_at_1(struct fixture *f)
{
    return second.replicas == 1 && f->target.replicas == 1;
}

static void objects_come_and_go_at_run_time(void **state)
{
    struct fixture *f = &fx;
    memset(&hooked, 0, sizeof(hooked));
    setup(f, SO_HEAD "  minReplicaCount: 1\n  maxReplicaCount: 8\n" PROM_TRIGGER, 1, 0.2, 0);
    f->as.opts.on_event = on_event;
    f->prom.value = 20;
    assert_true(run_until(f, at_4, 10));
    assert_int_equal(hooked.events, 1);
    assert_string_equal(hooked.ns, "default");
    assert_string_equal(hooked.name, "so");

    /* A second object arrives: the first keeps its state. */
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\n"
             "metadata: {name: so2, namespace: team-a}\n"
             "spec:\n  scaleTargetRef: {name: pool2}\n  minReplicaCount: 1\n"
             "  maxReplicaCount: 8\n  pollingInterval: 1\n  triggers:\n"
             "    - type: prometheus\n      metadata:\n"
             "        serverAddress: http://127.0.0.1:%d\n        query: q\n"
             "        threshold: '5'\n",
             f->prom.port);
    struct config cfg2;
    config_init(&cfg2);
    config_load_buffer(&cfg2, "so2.yaml", yaml, strlen(yaml));
    assert_int_equal(config_check(&cfg2, 0), 0);
    struct as_object *first = f->as.objs[0];
    unsigned first_events = first->n_events;
    second = (struct fake_target){.replicas = 1};
    char err[256];
    struct as_object *o2 = autoscaler_add(&f->as, cfg2.sos[0],
                                          (struct as_target){&fake_ops, &second}, NULL,
                                          wall_time(), 0, err, sizeof(err));
    assert_non_null(o2);
    assert_int_equal(f->as.n_objs, 2);
    assert_ptr_equal(f->as.objs[0], first);
    assert_true(run_until(f, second_at_4, 10));
    assert_int_equal(first->n_events, first_events); /* nothing new for the first */
    assert_string_equal(hooked.ns, "team-a");

    /* Leadership lost: nothing scales; regained: scaling resumes. */
    autoscaler_suspend(&f->as);
    f->prom.value = 0;
    assert_false(run_until(f, both_at_1, 1.5));
    assert_int_equal(f->target.replicas, 4);
    assert_int_equal(second.replicas, 4);
    assert_int_equal(autoscaler_start(&f->as), 0);
    assert_true(run_until(f, both_at_1, 10));

    /* The second goes away: its target is left as it is. */
    autoscaler_remove(&f->as, o2);
    assert_int_equal(f->as.n_objs, 1);
    f->prom.value = 20;
    assert_true(run_until(f, at_4, 10));
    assert_int_equal(second.replicas, 1);
    teardown(f);
    config_release(&cfg2);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hpa_scales_up_and_down),
        cmocka_unit_test(scales_to_zero_and_back),
        cmocka_unit_test(evaluate_now_with_held_requests_scales_from_zero),
        cmocka_unit_test(prometheus_down_keeps_replicas_then_fallback),
        cmocka_unit_test(status_and_metrics_say_what_happened),
        cmocka_unit_test(objects_come_and_go_at_run_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
