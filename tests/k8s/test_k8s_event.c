/* k8s/event against fake_apiserver.py (k8s_fixture.h): the Event's shape as
 * the API stores it; a repeat counted by a merge PATCH, a new reason a new
 * Event; the per-object rate limit; API errors dropped, not retried; close
 * bounded when the server never answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/event.h"
#include "k8s_fixture.h"

#define EVENTS "/api/v1/namespaces/default/events"

static struct k8s_events ev;
static bool ev_open;
static int ev_closed;

static void on_events_closed(void *ud)
{
    ev_closed++;
}

static int setup(void **state)
{
    kfx_open();
    ev_open = false;
    ev_closed = 0;
    return 0;
}

static int teardown(void **state)
{
    if (ev_open && !ev_closed) {
        k8s_events_close(&ev, on_events_closed, NULL);
        tsrv_run_until(&K->loop, &ev_closed, 1, 5000);
        assert_int_equal(ev_closed, 1);
    }
    kfx_close();
    return 0;
}

/* ---------- events ---------- */

static const struct k8s_involved so = {.api_version = "keda.sh/v1alpha1",
                                       .kind = "ScaledObject",
                                       .name = "so",
                                       .namespace = "default",
                                       .uid = "1f2e-uid",
                                       .resource_version = "42"};

static void events_open(void)
{
    assert_int_equal(k8s_events_init(&ev, &K->loop, &K->a, NULL), 0);
    ev_open = true;
}

/* Runs the loop until no event request is in flight. */
static void events_settle(void)
{
    for (int i = 0; i < 300; i++) {
        bool busy = false;
        for (size_t j = 0; j < K8S_EVENTS_INFLIGHT; j++)
            busy |= ev.calls[j].req != NULL;
        if (!busy)
            return;
        tsrv_run_for(&K->loop, 10);
    }
    fail_msg("event requests still in flight");
}

/* The Events stored, as an array (the caller frees it). */
static cJSON *events_stored(void)
{
    cJSON *r = kfx_ctl("{\"op\":\"list_objects\",\"prefix\":\"" EVENTS "/\"}");
    cJSON *out = cJSON_CreateArray();
    cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(r, "objects"))
        cJSON_AddItemToArray(out, cJSON_Duplicate(x, true));
    cJSON_Delete(r);
    return out;
}

static void an_event_is_posted_as_the_api_has_it(void **state)
{
    events_open();
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "KEDAScaleTargetActivated",
                                    "Scaled %s %s/%s from %d to %d", "apps/v1.Deployment",
                                    "default", "vllm", 0, 1),
                     0);
    events_settle();
    cJSON *w = kfx_records(EVENTS);
    assert_int_equal(cJSON_GetArraySize(w), 1);
    cJSON *rec = cJSON_GetArrayItem(w, 0);
    assert_string_equal(kfx_str(rec, "method", NULL), "POST");
    assert_string_equal(kfx_str(rec, "path", NULL), EVENTS);
    cJSON_Delete(w);
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 1);
    cJSON *e = cJSON_GetArrayItem(all, 0);
    assert_string_equal(kfx_str(e, "kind", NULL), "Event");
    assert_true(strncmp(kfx_str(e, "metadata", "name"), "so.", 3) == 0);
    assert_string_equal(kfx_str(e, "metadata", "namespace"), "default");
    cJSON *io = cJSON_GetObjectItem(e, "involvedObject");
    assert_string_equal(kfx_str(io, "apiVersion", NULL), "keda.sh/v1alpha1");
    assert_string_equal(kfx_str(io, "kind", NULL), "ScaledObject");
    assert_string_equal(kfx_str(io, "name", NULL), "so");
    assert_string_equal(kfx_str(io, "namespace", NULL), "default");
    assert_string_equal(kfx_str(io, "uid", NULL), "1f2e-uid");
    assert_string_equal(kfx_str(io, "resourceVersion", NULL), "42");
    assert_string_equal(kfx_str(e, "reason", NULL), "KEDAScaleTargetActivated");
    assert_string_equal(kfx_str(e, "message", NULL),
                        "Scaled apps/v1.Deployment default/vllm from 0 to 1");
    assert_string_equal(kfx_str(e, "type", NULL), "Normal");
    assert_string_equal(kfx_str(e, "source", "component"), "ebb-autoscaler");
    assert_int_equal(kfx_num(e, "count", NULL), 1);
    const char *first = kfx_str(e, "firstTimestamp", NULL);
    assert_int_equal(strlen(first), 20); /* "2026-11-28T03:30:00Z" */
    assert_int_equal(first[19], 'Z');
    assert_string_equal(kfx_str(e, "lastTimestamp", NULL), first);
    cJSON_Delete(all);

    /* A long message is cut at K8S_EVENT_MESSAGE_MAX bytes, not inside a
     * UTF-8 sequence. */
    char long_msg[K8S_EVENT_MESSAGE_MAX + 8];
    memset(long_msg, 'a', K8S_EVENT_MESSAGE_MAX - 1);
    snprintf(long_msg + K8S_EVENT_MESSAGE_MAX - 1, 8, "\xc3\xa9tc");
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "Long", "%s", long_msg), 0);
    events_settle();
    all = events_stored();
    cJSON *x;
    bool found = false;
    cJSON_ArrayForEach(x, all)
    {
        if (strcmp(kfx_str(x, "reason", NULL), "Long") == 0) {
            found = true;
            assert_int_equal(strlen(kfx_str(x, "message", NULL)), K8S_EVENT_MESSAGE_MAX - 1);
        }
    }
    assert_true(found);
    cJSON_Delete(all);
    /* What is refused before anything is sent. */
    assert_int_equal(k8s_event_emit(&ev, &so, "Info", "X", "m"), -EINVAL);
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "", "m"), -EINVAL);
    struct k8s_involved nameless = so;
    nameless.name = NULL;
    assert_int_equal(k8s_event_emit(&ev, &nameless, "Normal", "X", "m"), -EINVAL);
}

static void a_repeat_is_counted_a_new_reason_is_a_new_event(void **state)
{
    events_open();
    assert_int_equal(k8s_event_emit(&ev, &so, "Warning", "KEDAScalerFailed", "boom"), 0);
    events_settle();
    assert_int_equal(k8s_event_emit(&ev, &so, "Warning", "KEDAScalerFailed", "boom"), 0);
    events_settle();
    cJSON *w = kfx_records(EVENTS);
    assert_int_equal(cJSON_GetArraySize(w), 2);
    cJSON *patch = cJSON_GetArrayItem(w, 1);
    assert_string_equal(kfx_str(patch, "method", NULL), "PATCH");
    assert_string_equal(kfx_str(patch, "content_type", NULL), "application/merge-patch+json");
    cJSON *body = cJSON_Parse(kfx_str(patch, "body", NULL));
    assert_int_equal(kfx_num(body, "count", NULL), 2);
    assert_int_equal(strlen(kfx_str(body, "lastTimestamp", NULL)), 20);
    cJSON_Delete(body);
    cJSON_Delete(w);
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 1);
    assert_int_equal(kfx_num(cJSON_GetArrayItem(all, 0), "count", NULL), 2);
    cJSON_Delete(all);
    /* Another reason, another message, another type: new Events. */
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "KEDAScaleTargetDeactivated", "boom"), 0);
    assert_int_equal(k8s_event_emit(&ev, &so, "Warning", "KEDAScalerFailed", "bang"), 0);
    events_settle();
    all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 3);
    cJSON_Delete(all);
    /* Repeats while the POST is in flight: one PATCH carries them all. */
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "ScaledObjectReady", "ready"), 0);
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "ScaledObjectReady", "ready"), 0);
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "ScaledObjectReady", "ready"), 0);
    events_settle();
    assert_int_equal(ev.created, 4);
    assert_int_equal(ev.patched, 2);
    all = events_stored();
    cJSON *x;
    bool found = false;
    cJSON_ArrayForEach(x, all)
    {
        if (strcmp(kfx_str(x, "reason", NULL), "ScaledObjectReady") == 0) {
            found = true;
            assert_int_equal(kfx_num(x, "count", NULL), 3);
        }
    }
    assert_true(found);
    cJSON_Delete(all);
}

static void a_flapping_object_is_rate_limited(void **state)
{
    events_open();
    int sent = 0, limited = 0;
    for (int i = 0; i < 100; i++) {
        int rc = k8s_event_emit(&ev, &so, "Normal", "KEDAScaleTargetActivated", "flap %d", i % 3);
        if (rc == 0)
            sent++;
        else if (rc == -EBUSY)
            limited++;
        events_settle(); /* one request per emit: none is folded into another */
    }
    assert_int_equal(sent, 25);
    assert_int_equal(limited, 75);
    assert_int_equal(ev.limited, 75);
    cJSON *w = kfx_records(EVENTS);
    assert_int_equal(cJSON_GetArraySize(w), 25); /* 3 POSTs, 22 PATCHes */
    cJSON_Delete(w);
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 3);
    int counted = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, all) counted += (int)kfx_num(x, "count", NULL);
    assert_int_equal(counted, 25);
    cJSON_Delete(all);
    /* Another object has its own bucket. */
    struct k8s_involved other = so;
    other.name = "so2";
    other.uid = "other-uid";
    assert_int_equal(k8s_event_emit(&ev, &other, "Normal", "KEDAScaleTargetActivated", "x"), 0);
    /* The bucket refills: one token per refill period. */
    ev.refill_ms = 200;
    tsrv_run_for(&K->loop, 450);
    int ok = 0;
    while (ok < 10 && k8s_event_emit(&ev, &so, "Normal", "R", "%d", ok) == 0)
        ok++;
    assert_true(ok >= 2 && ok <= 3); /* 2.25 tokens, 3 if the loop ran late */
    events_settle();
}

static void api_errors_are_dropped_not_retried(void **state)
{
    events_open();
    CTL("{\"op\":\"script\",\"prefix\":\"" EVENTS "\",\"status\":500,\"body\":\"{}\"}");
    assert_int_equal(k8s_event_emit(&ev, &so, "Warning", "KEDAScalerFailed", "one"), 0);
    events_settle();
    assert_int_equal(ev.failed, 1);
    /* Forgotten: the same again is a new POST, not a PATCH of nothing. */
    assert_int_equal(k8s_event_emit(&ev, &so, "Warning", "KEDAScalerFailed", "one"), 0);
    events_settle();
    cJSON *all = events_stored();
    assert_int_equal(cJSON_GetArraySize(all), 1);
    assert_int_equal(kfx_num(cJSON_GetArrayItem(all, 0), "count", NULL), 1);
    cJSON_Delete(all);
    /* An Event deleted by the API's TTL: the PATCH gets 404, dropped. */
    cJSON *stored = events_stored();
    char path[512];
    snprintf(path, sizeof(path), EVENTS "/%s",
             kfx_str(cJSON_GetArrayItem(stored, 0), "metadata", "name"));
    cJSON_Delete(stored);
    CTL("{\"op\":\"delete_object\",\"path\":\"%s\"}", path);
    assert_int_equal(k8s_event_emit(&ev, &so, "Warning", "KEDAScalerFailed", "one"), 0);
    events_settle();
    assert_int_equal(ev.failed, 2);
    /* A wrong token: 401s, counted, nothing retried, nothing crashes. */
    CTL("{\"op\":\"set_token\",\"token\":\"other\"}");
    for (int i = 0; i < 5; i++)
        k8s_event_emit(&ev, &so, "Normal", "Unauthorized", "try %d", i);
    events_settle();
    assert_int_equal(ev.failed, 7);
    cJSON *r = kfx_ctl("{\"op\":\"stats\"}");
    assert_int_equal(kfx_num(r, "unauthorized", NULL), 5);
    cJSON_Delete(r);
    /* Closing with requests in flight: they end or are cancelled. */
    CTL("{\"op\":\"set_token\",\"token\":\"" KFX_TOKEN "\"}");
    k8s_event_emit(&ev, &so, "Normal", "Closing", "bye");
    k8s_events_close(&ev, on_events_closed, NULL);
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "Closing", "late"), -ESHUTDOWN);
    tsrv_run_until(&K->loop, &ev_closed, 1, 5000);
    assert_int_equal(ev_closed, 1);
}

static void closing_waits_a_bounded_time_for_requests_in_flight(void **state)
{
    /* An API server that never answers: close gives up after its grace. */
    tsrv_start(&K->router, &K->loop);
    K->router_open = true;
    tsrv_script(&K->router, 0, NULL);
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", K->router.port);
    k8s_config_release(&K->cfg_b);
    kfx_config_for(&K->cfg_b, server);
    assert_int_equal(k8s_events_init(&ev, &K->loop, &K->b, "ebb-test"), 0);
    ev_open = true;
    assert_int_equal(k8s_event_emit(&ev, &so, "Normal", "Hanging", "x"), 0);
    tsrv_run_for(&K->loop, 100);
    uint64_t t0 = uv_now(&K->loop);
    k8s_events_close(&ev, on_events_closed, NULL);
    tsrv_run_until(&K->loop, &ev_closed, 1, 5000);
    assert_int_equal(ev_closed, 1);
    uint64_t waited = uv_now(&K->loop) - t0;
    assert_true(waited >= K8S_EVENTS_CLOSE_MS - 50 && waited < K8S_EVENTS_CLOSE_MS + 1000);
    assert_int_equal(K->router.requests, 1);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(an_event_is_posted_as_the_api_has_it),
        T(a_repeat_is_counted_a_new_reason_is_a_new_event),
        T(a_flapping_object_is_rate_limited),
        T(api_errors_are_dropped_not_retried),
        T(closing_waits_a_bounded_time_for_requests_in_flight),
    };
    return cmocka_run_group_tests(tests, kfx_group_setup, kfx_group_teardown);
}
