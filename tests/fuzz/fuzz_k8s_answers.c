/* fuzz target k8s_answers: the pure readers of what the Kubernetes side of
 * ebb is answered — a pod object (k8s_pod_routable), a pod's /v1/models
 * (k8s_models_parse), the router's /metrics (k8s_router_load_parse), the
 * deletion costs of a PodList given those loads (k8s_deletion_cost_plan), a
 * Lease's spec (k8s_lease_record_read), and a ScaledObject from the API
 * through the configuration decoder as the cluster runs it.
 *
 * Input: byte 0 picks the reader (its value modulo 6, so the seeds start
 * with '0'..'5'); the rest is the answer. For the deletion costs, the bytes
 * before the first NUL are the router's /metrics and the bytes after it the
 * PodList (no NUL: no loads). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "config/decode.h"
#include "fuzz.h"
#include "k8s/deletion_cost.h"
#include "k8s/lease.h"
#include "router/discovery_k8s.h"

enum { PICK_POD, PICK_MODELS, PICK_METRICS, PICK_PLAN, PICK_LEASE, PICK_SCALEDOBJECT, PICKS };

/* A C string that ends within its cap bytes, without control characters. */
static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    FUZZ_CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

/* An error comes with a message for people, within its buffer. */
static void check_err(const char *err, size_t cap)
{
    FUZZ_CHECK(err[0] != '\0');
    check_text(err, cap);
}

/* ---------- a pod ---------- */

/* An accepted pod IP is a plain IPv4 or IPv6 address: it becomes the host
 * of a backend URL, so nothing else may ride along (a zone, a path). */
static void check_ip(const char *ip, size_t cap)
{
    size_t n = strnlen(ip, cap);
    FUZZ_CHECK(n > 0 && n < cap);
    FUZZ_CHECK(strspn(ip, "0123456789abcdefABCDEF.:") == n);
    unsigned char bin[16];
    FUZZ_CHECK(inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1);
}

static void one_pod(const cJSON *pod)
{
    char ip[64], small[8];
    memset(ip, 'Z', sizeof(ip));
    memset(small, 'Z', sizeof(small));
    const char *why = NULL;
    bool ok = k8s_pod_routable(pod, ip, sizeof(ip), &why);
    FUZZ_CHECK(why != NULL && why[0] != '\0');
    if (!ok) {
        FUZZ_CHECK(ip[0] == '\0');
    } else {
        check_ip(ip, sizeof(ip));
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
        const cJSON *del = cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp");
        FUZZ_CHECK(!del || cJSON_IsNull(del));
    }
    /* A smaller buffer refuses what does not fit and changes nothing else. */
    bool small_ok = k8s_pod_routable(pod, small, sizeof(small), NULL);
    FUZZ_CHECK(small_ok == (ok && strlen(ip) < sizeof(small)));
    FUZZ_CHECK(small_ok ? strcmp(small, ip) == 0 : small[0] == '\0');
}

static void pods(const char *in, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(in, len);
    if (!root)
        return;
    one_pod(root);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "items"))
    {
        one_pod(it);
    }
    cJSON_Delete(root);
}

/* ---------- /v1/models ---------- */

static char ids[KDISC_MODELS_MAX][KDISC_MODEL_ID_MAX + 1];
static char few[2][KDISC_MODEL_ID_MAX + 1];

static void models(const char *in, size_t len)
{
    char err[256] = "";
    size_t skipped = 12345;
    memset(ids, 'Z', sizeof(ids));
    int n = k8s_models_parse(in, len, ids, KDISC_MODELS_MAX, &skipped, err, sizeof(err));
    FUZZ_CHECK(n == -EINVAL || (n > 0 && n <= KDISC_MODELS_MAX));
    if (n < 0) {
        check_err(err, sizeof(err));
    } else {
        for (int i = 0; i < n; i++) {
            check_text(ids[i], sizeof(ids[i]));
            FUZZ_CHECK(ids[i][0] != '\0');
            for (int j = 0; j < i; j++)
                FUZZ_CHECK(strcmp(ids[i], ids[j]) != 0);
        }
    }
    /* Room for two: the same first ones, the rest counted as skipped (a
     * repeat of an id past max counts each time: not remembered). */
    size_t skipped2 = 12345;
    char err2[256] = "";
    int n2 = k8s_models_parse(in, len, few, 2, &skipped2, err2, sizeof(err2));
    if (n < 0) {
        FUZZ_CHECK(n2 == -EINVAL);
        check_err(err2, sizeof(err2));
        return;
    }
    FUZZ_CHECK(n2 == (n < 2 ? n : 2));
    FUZZ_CHECK(skipped2 >= skipped + (size_t)(n - n2));
    for (int i = 0; i < n2; i++)
        FUZZ_CHECK(strcmp(few[i], ids[i]) == 0);
}

/* ---------- the router's /metrics ---------- */

static struct k8s_backend_load loads[K8S_ROUTER_LOAD_MAX], loads2[2];

/* Reads the loads of in[0..len) into out[0..cap), checked: *n rows, each a
 * terminated URL and a count in flight that is finite and not negative. */
static int loads_read(const char *in, size_t len, struct k8s_backend_load *out, size_t cap,
                      size_t *n)
{
    char err[256] = "";
    *n = 12345;
    int rc = k8s_router_load_parse(in, len, out, cap, n, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
    FUZZ_CHECK(*n <= cap && (rc != -E2BIG || *n == cap));
    if (rc < 0)
        check_err(err, sizeof(err));
    for (size_t i = 0; i < *n; i++) {
        FUZZ_CHECK(strnlen(out[i].url, sizeof(out[i].url)) < sizeof(out[i].url));
        FUZZ_CHECK(isfinite(out[i].inflight) && out[i].inflight >= 0);
    }
    return rc;
}

static void metrics(const char *in, size_t len)
{
    size_t n, n2;
    int rc = loads_read(in, len, loads, K8S_ROUTER_LOAD_MAX, &n);
    /* Room for two: the same first rows, and more than two is -E2BIG. */
    int rc2 = loads_read(in, len, loads2, 2, &n2);
    if (rc == 0)
        FUZZ_CHECK(n <= 2 ? rc2 == 0 && n2 == n : rc2 == -E2BIG);
    for (size_t i = 0; i < n2 && i < n; i++)
        FUZZ_CHECK(strcmp(loads2[i].url, loads[i].url) == 0 &&
                   loads2[i].inflight == loads[i].inflight);
}

/* ---------- deletion costs ---------- */

static struct k8s_pod_cost plan[K8S_DELETION_COST_MAX_PODS], plan2[2];

/* The pod of items the planner must give a row to, after prev (NULL: from
 * the start): named as a pod (it goes into a path), not being deleted. */
static cJSON *next_planned(cJSON *items, cJSON *prev)
{
    cJSON *p = prev ? prev->next : (items ? items->child : NULL);
    for (; p; p = p->next) {
        const char *name = k8s_obj_name(p);
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(p, "metadata");
        if (name && dns_subdomain(name) &&
            !cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp"))
            return p;
    }
    return NULL;
}

/* Writes a row's cost into its pod's annotation, as the PATCH would. */
static void annotate(cJSON *pod, long cost)
{
    cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    cJSON *an = cJSON_GetObjectItemCaseSensitive(md, "annotations");
    if (!cJSON_IsObject(an)) {
        while (cJSON_GetObjectItemCaseSensitive(md, "annotations")) /* JSON allows repeats */
            cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
        an = cJSON_AddObjectToObject(md, "annotations");
    }
    char want[24];
    snprintf(want, sizeof(want), "%ld", cost);
    while (cJSON_GetObjectItemCaseSensitive(an, K8S_DELETION_COST_ANNOTATION))
        cJSON_DeleteItemFromObjectCaseSensitive(an, K8S_DELETION_COST_ANNOTATION);
    FUZZ_CHECK(an && cJSON_AddStringToObject(an, K8S_DELETION_COST_ANNOTATION, want));
}

static void costs(const char *in, size_t len)
{
    const char *nul = memchr(in, '\0', len);
    size_t nl = 0;
    if (nul)
        loads_read(in, (size_t)(nul - in), loads, 64, &nl);
    const char *list = nul ? nul + 1 : in;
    cJSON *root = cJSON_ParseWithLength(list, len - (size_t)(list - in));
    cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    size_t n = 12345;
    int rc = k8s_deletion_cost_plan(items, loads, nl, plan, K8S_DELETION_COST_MAX_PODS, &n);
    FUZZ_CHECK(rc == 0 || rc == -E2BIG);
    FUZZ_CHECK(n <= K8S_DELETION_COST_MAX_PODS && (rc == 0 || n == K8S_DELETION_COST_MAX_PODS));
    /* One row per listed pod not being deleted, in order, named after it. */
    cJSON *pod = NULL;
    for (size_t i = 0; i < n; i++) {
        pod = next_planned(items, pod);
        FUZZ_CHECK(pod != NULL);
        check_text(plan[i].name, sizeof(plan[i].name));
        FUZZ_CHECK(dns_subdomain(plan[i].name));
        FUZZ_CHECK(strcmp(plan[i].name, k8s_obj_name(pod)) == 0);
        FUZZ_CHECK(plan[i].cost >= K8S_DELETION_COST_NOT_READY && plan[i].cost <= INT32_MAX);
        FUZZ_CHECK(plan[i].cost <= 0 || nl > 0);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
        const cJSON *ip = cJSON_GetObjectItemCaseSensitive(st, "podIP");
        FUZZ_CHECK(plan[i].cost < 0 || (cJSON_IsString(ip) && ip->valuestring[0]));
    }
    if (rc == 0)
        FUZZ_CHECK(next_planned(items, pod) == NULL);
    size_t n2 = 12345;
    int rc2 = k8s_deletion_cost_plan(items, loads, nl, plan2, 2, &n2);
    FUZZ_CHECK(rc2 == (n > 2 ? -E2BIG : 0) && n2 == (n > 2 ? 2 : n));
    /* Once the annotations say what the plan wants, nothing is to change. */
    if (rc == 0 && n > 0) {
        pod = NULL;
        for (size_t i = 0; i < n; i++) {
            pod = next_planned(items, pod);
            if (plan[i].change)
                annotate(pod, plan[i].cost);
        }
        size_t again = 0;
        FUZZ_CHECK(k8s_deletion_cost_plan(items, loads, nl, plan, n, &again) == 0 && again == n);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(!plan[i].change);
    }
    cJSON_Delete(root);
}

/* ---------- a Lease ---------- */

static void lease(const char *in, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(in, len);
    if (!root)
        return;
    struct k8s_lease_seen s;
    memset(&s, 'Z', sizeof(s));
    s.hash = 7;
    s.changed_ms = 9;
    k8s_lease_record_read(&s, cJSON_GetObjectItemCaseSensitive(root, "spec"));
    FUZZ_CHECK(s.hash == 7 && s.changed_ms == 9);
    FUZZ_CHECK(strnlen(s.holder, sizeof(s.holder)) < sizeof(s.holder));
    FUZZ_CHECK(strnlen(s.acquire_time, sizeof(s.acquire_time)) < sizeof(s.acquire_time));
    /* int32 and not negative, as the API's: durations * 1000 fit. */
    FUZZ_CHECK(s.duration_s >= 0 && s.duration_s <= INT32_MAX);
    FUZZ_CHECK(s.transitions >= 0 && s.transitions <= INT32_MAX);
    cJSON_Delete(root);
}

/* ---------- a ScaledObject ---------- */

static void check_issues(const struct config *c)
{
    int errors = 0;
    for (size_t i = 0; i < c->n_issues; i++) {
        const struct cfg_issue *is = &c->issues[i];
        FUZZ_CHECK(is->path && is->msg && is->msg[0]);
        FUZZ_CHECK(strlen(is->path) < CONFIG_PATH_MAX && strlen(is->msg) < CONFIG_MSG_MAX);
        errors += !is->warning;
    }
    FUZZ_CHECK(c->n_issues <= CONFIG_ISSUES_MAX);
    FUZZ_CHECK(c->issues_dropped || errors == config_errors(c));
}

/* As the cluster decodes an object (autoscaler/cluster.c): the JSON as
 * cJSON prints it is YAML, read as one document named namespace/name, and
 * checked without local targets. The cluster's own trimming of the object
 * (decoder_input, static) is not driven: its printed form is. */
static void scaled_object(const char *in, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(in, len);
    char *text = cJSON_IsObject(root) ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return;
    struct config c;
    config_init(&c);
    c.read_secrets = false;
    int rc = config_load_buffer(&c, "default/fuzz", text, strlen(text));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    int errors = config_check(&c, 0);
    FUZZ_CHECK(errors == config_errors(&c) && errors >= 0);
    check_issues(&c);
    FUZZ_CHECK(c.n_sos <= 1);
    if (errors == 0 && c.n_sos == 1) {
        const struct so_spec *so = &c.sos[0]->spec;
        struct so_issue issues[8];
        size_t n;
        FUZZ_CHECK(so_spec_validate(so, issues, 8, &n) == 0);
        FUZZ_CHECK(so->n_triggers > 0 && so->target_name[0] && so->target_kind[0]);
        struct buf out = BUF_INIT(1u << 24);
        FUZZ_CHECK(config_format(&c, &out) == 0);
        buf_release(&out);
    }
    config_release(&c);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % PICKS) {
    case PICK_POD: pods(in, len); break;
    case PICK_MODELS: models(in, len); break;
    case PICK_METRICS: metrics(in, len); break;
    case PICK_PLAN: costs(in, len); break;
    case PICK_LEASE: lease(in, len); break;
    default: scaled_object(in, len); break;
    }
    return 0;
}
