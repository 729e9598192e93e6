/* The router's Kubernetes discovery, its pure readers: when a pod is
 * routable (production-stack's rule, PS#602, plus a valid IP), and the model
 * ids of a /v1/models answer (bounded, validated). One row per rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router/discovery_k8s.h"

struct pod_row {
    const char *rule;
    const char *json;
    bool routable;
    const char *ip; /* when routable */
};

#define CS_READY "\"containerStatuses\":[{\"name\":\"vllm\",\"ready\":true}]"
#define POD(md, st) "{\"metadata\":{\"name\":\"p\"" md "},\"status\":{" st "}}"

static const struct pod_row pod_rows[] = {
    {"all containers ready, an IP: routable", POD("", CS_READY ",\"podIP\":\"10.0.0.7\""), true,
     "10.0.0.7"},
    {"a deletionTimestamp: terminating, not routable",
     POD(",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"", CS_READY ",\"podIP\":\"10.0.0.7\""),
     false, NULL},
    {"a null deletionTimestamp is no deletion",
     POD(",\"deletionTimestamp\":null", CS_READY ",\"podIP\":\"10.0.0.7\""), true, "10.0.0.7"},
    {"no container statuses yet: not routable", POD("", "\"podIP\":\"10.0.0.7\""), false, NULL},
    {"an empty container status list: not routable",
     POD("", "\"containerStatuses\":[],\"podIP\":\"10.0.0.7\""), false, NULL},
    {"one of two containers not ready: not routable",
     POD("", "\"containerStatuses\":[{\"ready\":true},{\"ready\":false}],\"podIP\":\"10.0.0.7\""),
     false, NULL},
    {"a container without \"ready\": not routable",
     POD("", "\"containerStatuses\":[{\"name\":\"vllm\"}],\"podIP\":\"10.0.0.7\""), false, NULL},
    {"\"ready\" must be the boolean true",
     POD("", "\"containerStatuses\":[{\"ready\":\"true\"}],\"podIP\":\"10.0.0.7\""), false, NULL},
    {"no pod IP yet: not routable", POD("", CS_READY), false, NULL},
    {"an empty pod IP: not routable", POD("", CS_READY ",\"podIP\":\"\""), false, NULL},
    {"a pod IP that is not an address: not routable",
     POD("", CS_READY ",\"podIP\":\"10.0.0.7/evil\""), false, NULL},
    {"an IPv6 pod IP: routable", POD("", CS_READY ",\"podIP\":\"fd00::1:7\""), true, "fd00::1:7"},
    {"an IPv6 address with a zone: not routable (fuzz: corpus/k8s_answers/repro-pod-ip-zone)",
     POD("", CS_READY ",\"podIP\":\"fd00::5%]@evil.example:80/x#\""), false, NULL},
    {"no status at all: not routable", "{\"metadata\":{\"name\":\"p\"}}", false, NULL},
};

static void pod_routable_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pod_rows) / sizeof(pod_rows[0]); i++) {
        const struct pod_row *r = &pod_rows[i];
        cJSON *pod = cJSON_Parse(r->json);
        assert_non_null(pod);
        char ip[64];
        const char *why = NULL;
        bool got = k8s_pod_routable(pod, ip, sizeof(ip), &why);
        if (got != r->routable)
            fail_msg("%s: got %d (%s)", r->rule, got, why ? why : "");
        assert_non_null(why);
        if (r->routable)
            assert_string_equal(ip, r->ip);
        cJSON_Delete(pod);
    }
}

static void pod_ip_longer_than_the_buffer_is_refused(void **state)
{
    (void)state;
    cJSON *pod = cJSON_Parse(POD("", CS_READY ",\"podIP\":\"fd00:1234:5678:9abc:def0:1234:5678:9abc\""));
    char ip[16];
    assert_false(k8s_pod_routable(pod, ip, sizeof(ip), NULL));
    assert_string_equal(ip, "");
    cJSON_Delete(pod);
}

struct models_row {
    const char *rule;
    const char *body;
    int n;               /* the count, or -EINVAL */
    const char *ids[4];  /* the first ones, in order */
    size_t skipped;
};

static const struct models_row models_rows[] = {
    {"vLLM's answer: the served model",
     "{\"object\":\"list\",\"data\":[{\"id\":\"meta-llama/Llama-3.1-8B-Instruct\",\"object\":"
     "\"model\",\"owned_by\":\"vllm\",\"root\":null}]}",
     1, {"meta-llama/Llama-3.1-8B-Instruct"}, 0},
    {"the base model and a LoRA adapter, in order",
     "{\"data\":[{\"id\":\"base\"},{\"id\":\"sql-lora\",\"parent\":\"base\"}]}", 2,
     {"base", "sql-lora"}, 0},
    {"a repeated id counts once", "{\"data\":[{\"id\":\"a\"},{\"id\":\"a\"},{\"id\":\"b\"}]}", 2,
     {"a", "b"}, 0},
    {"an id with a control character is skipped",
     "{\"data\":[{\"id\":\"a\\u0001b\"},{\"id\":\"ok\"}]}", 1, {"ok"}, 1},
    {"an empty id is skipped", "{\"data\":[{\"id\":\"\"},{\"id\":\"ok\"}]}", 1, {"ok"}, 1},
    {"an id that is not a string is skipped", "{\"data\":[{\"id\":7},{\"id\":\"ok\"},{}]}", 1,
     {"ok"}, 2},
    {"not JSON: an error", "<html>bad gateway</html>", -EINVAL, {NULL}, 0},
    {"no data array: an error", "{\"object\":\"list\"}", -EINVAL, {NULL}, 0},
    {"an empty list: an error (production-stack ignores such a pod)", "{\"data\":[]}", -EINVAL,
     {NULL}, 0},
    {"only invalid ids: an error", "{\"data\":[{\"id\":\"\"}]}", -EINVAL, {NULL}, 1},
};

static void models_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(models_rows) / sizeof(models_rows[0]); i++) {
        const struct models_row *r = &models_rows[i];
        char ids[KDISC_MODELS_MAX][KDISC_MODEL_ID_MAX + 1];
        char err[256] = "";
        size_t skipped = 99;
        int n = k8s_models_parse(r->body, strlen(r->body), ids, KDISC_MODELS_MAX, &skipped, err,
                                 sizeof(err));
        if (n != r->n)
            fail_msg("%s: got %d (%s)", r->rule, n, err);
        if (n < 0) {
            assert_true(err[0] != '\0');
            continue;
        }
        if (skipped != r->skipped)
            fail_msg("%s: %zu skipped, want %zu", r->rule, skipped, r->skipped);
        for (int k = 0; k < n && k < 4; k++)
            assert_string_equal(ids[k], r->ids[k]);
    }
}

/* Ids of exactly the longest length are kept, one byte longer skipped; past
 * max the rest are skipped and counted. */
static void models_parse_bounds(void **state)
{
    (void)state;
    char longest[KDISC_MODEL_ID_MAX + 1], too_long[KDISC_MODEL_ID_MAX + 2];
    memset(longest, 'a', KDISC_MODEL_ID_MAX);
    longest[KDISC_MODEL_ID_MAX] = '\0';
    memset(too_long, 'b', KDISC_MODEL_ID_MAX + 1);
    too_long[KDISC_MODEL_ID_MAX + 1] = '\0';
    char body[8192];
    snprintf(body, sizeof(body), "{\"data\":[{\"id\":\"%s\"},{\"id\":\"%s\"}]}", longest, too_long);
    char ids[KDISC_MODELS_MAX][KDISC_MODEL_ID_MAX + 1];
    char err[256];
    size_t skipped;
    assert_int_equal(k8s_models_parse(body, strlen(body), ids, KDISC_MODELS_MAX, &skipped, err,
                                      sizeof(err)), 1);
    assert_string_equal(ids[0], longest);
    assert_int_equal(skipped, 1);

    size_t off = (size_t)snprintf(body, sizeof(body), "{\"data\":[");
    for (int i = 0; i < KDISC_MODELS_MAX + 5; i++)
        off += (size_t)snprintf(body + off, sizeof(body) - off, "%s{\"id\":\"m%d\"}", i ? "," : "", i);
    snprintf(body + off, sizeof(body) - off, "]}");
    assert_int_equal(k8s_models_parse(body, strlen(body), ids, KDISC_MODELS_MAX, &skipped, err,
                                      sizeof(err)), KDISC_MODELS_MAX);
    assert_string_equal(ids[KDISC_MODELS_MAX - 1], "m15");
    assert_int_equal(skipped, 5);
}

/* The flags' values are checked before anything is read. */
static void discovery_check_flags(void **state)
{
    (void)state;
    char err[512];
    struct k8s_discovery_config ok = {.label_selector = "app=vllm", .port = 8000};
    assert_int_equal(k8s_discovery_check(&ok, err, sizeof(err)), 0);
    struct k8s_discovery_config no_sel = {.port = 8000};
    assert_int_equal(k8s_discovery_check(&no_sel, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--k8s-label-selector"));
    struct k8s_discovery_config bad_ns = {.label_selector = "a=b", .namespace = "../x", .port = 1};
    assert_int_equal(k8s_discovery_check(&bad_ns, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--k8s-namespace"));
    struct k8s_discovery_config bad_sel = {.label_selector = "a=b\n", .port = 1};
    assert_int_equal(k8s_discovery_check(&bad_sel, err, sizeof(err)), -EINVAL);
    struct k8s_discovery_config bad_key = {.label_selector = "a=b", .api_key = "k\r\nX: y"};
    assert_int_equal(k8s_discovery_check(&bad_key, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "VLLM_API_KEY"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pod_routable_table),
        cmocka_unit_test(pod_ip_longer_than_the_buffer_is_refused),
        cmocka_unit_test(models_parse_table),
        cmocka_unit_test(models_parse_bounds),
        cmocka_unit_test(discovery_check_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
