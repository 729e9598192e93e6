/* config: what loads — the examples (the tutorial's ScaledObjects
 * unchanged), KEDA's and ebb's defaults, multi-document files, secrets from
 * files and the environment, what `--check` prints, and the loader's
 * contract: every file read and every error reported, nothing usable when
 * anything is wrong. */
#include "config_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define EXAMPLES EBB_SOURCE_ROOT "/examples/"
#define TUTORIAL_1 "tutorial/values-20-keda.yaml"
#define TUTORIAL_0 "tutorial/values-20-keda-scale-to-zero.yaml"
#define LOCAL_ENGINE "local/vllm-llama3-deployment-vllm.yaml"
#define LOCAL_VLLM "local/vllm-serve-multi-gpu.yaml"

/* Loads examples/<name> from memory under its short name, so that issues and
 * the printed form do not depend on where the tree is. */
static void load_example(struct config *c, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s", EXAMPLES, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text), f);
    fclose(f);
    config_load_buffer(c, name, text, n);
}

static void load_examples(struct config *c, const char *a, const char *b, unsigned flags)
{
    config_init(c);
    load_example(c, a);
    if (b)
        load_example(c, b);
    config_check(c, flags);
}

static const char *formatted(const struct config *c, struct buf *b)
{
    buf_init(b, 1u << 20);
    assert_int_equal(config_format(c, b), 0);
    return b->data ? b->data : "";
}

/* ---------- examples ---------- */

static void example_files_load(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {TUTORIAL_1, LOCAL_ENGINE},
        {TUTORIAL_0, LOCAL_ENGINE},
        {TUTORIAL_1, LOCAL_VLLM},
        {TUTORIAL_0, LOCAL_VLLM},
    };
    for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
        struct config c;
        load_examples(&c, pairs[i][0], pairs[i][1], CONFIG_LOCAL);
        if (config_errors(&c)) {
            char *t = issues_text(&c);
            print_error("%s + %s:\n%s", pairs[i][0], pairs[i][1], t);
            free(t);
        }
        assert_int_equal(config_errors(&c), 0);
        assert_int_equal(c.n_sos, 1);
        assert_int_equal(c.n_deployments, 1);
        assert_ptr_equal(c.sos[0]->target, c.deployments[0]);
        config_release(&c);
    }
}

static void tutorial_scaled_object(void **state)
{
    (void)state;
    struct config c;
    load_examples(&c, TUTORIAL_1, NULL, 0);
    assert_int_equal(config_errors(&c), 0);
    /* metricName (removed in KEDA v2.12), and KEDA's two webhook warnings
     * about pollingInterval and cooldownPeriod with minReplicaCount 1. */
    assert_int_equal(c.warnings, 3);
    const struct cfg_scaled_object *o = c.sos[0];
    const struct so_spec *so = &o->spec;
    assert_string_equal(so->name, "vllm-scaledobject");
    assert_string_equal(o->namespace_, "default");
    assert_string_equal(so->target_name, "vllm-llama3-deployment-vllm");
    assert_string_equal(so->target_kind, "Deployment");
    assert_string_equal(so->target_api_version, "apps/v1");
    assert_int_equal(so->min_replicas, 1);
    assert_int_equal(so->max_replicas, 2);
    assert_int_equal(so->polling_interval, 15);
    assert_int_equal(so->cooldown_period, 360);
    assert_int_equal(so->n_triggers, 1);
    const struct cfg_prometheus *p = &o->triggers[0].prom;
    assert_true(o->triggers[0].is_prometheus);
    assert_string_equal(p->server_address, "http://prometheus-operated.monitoring.svc:9090");
    assert_string_equal(p->query, "vllm:num_requests_waiting");
    assert_string_equal(p->metric_name, "vllm:num_requests_waiting");
    assert_true(p->threshold == 5 && so->triggers[0].threshold == 5);
    config_release(&c);
}

static void tutorial_scale_to_zero(void **state)
{
    (void)state;
    struct config c;
    load_examples(&c, TUTORIAL_0, NULL, 0);
    assert_int_equal(config_errors(&c), 0);
    assert_int_equal(c.warnings, 2); /* two metricNames */
    const struct cfg_scaled_object *o = c.sos[0];
    assert_true(o->spec.has_min_replicas);
    assert_int_equal(o->spec.min_replicas, 0);
    assert_int_equal(o->spec.n_triggers, 2);
    assert_string_equal(o->triggers[1].prom.query,
                        "sum(rate(vllm:num_incoming_requests_total[1m]) > bool 0)");
    assert_true(o->triggers[1].prom.threshold == 1);
    config_release(&c);
}

static void local_examples(void **state)
{
    (void)state;
    struct config c;
    load_examples(&c, LOCAL_VLLM, NULL, 0);
    assert_clean(&c);
    const struct cfg_deployment *d = c.deployments[0];
    assert_string_equal(d->name, "vllm-llama3-deployment-vllm");
    assert_string_equal(d->command[0], "vllm");
    assert_string_equal(d->env[0].key, "CUDA_VISIBLE_DEVICES");
    assert_string_equal(d->env[0].value, "${INDEX}");
    assert_int_equal(d->readiness.initial_delay_s, 20);
    assert_int_equal(d->termination_grace_s, 120);
    config_release(&c);
    load_examples(&c, LOCAL_ENGINE, NULL, 0);
    assert_clean(&c);
    assert_string_equal(c.deployments[0]->command[0], "ebb");
    assert_int_equal(c.deployments[0]->readiness.period_s, 1);
    config_release(&c);
}

/* What `ebb autoscaler --check -f values-20-keda.yaml -f ...deployment...
 * --local` prints: every effective value, defaults marked. */
static const char tutorial_check[] =
    "LocalDeployment default/vllm-llama3-deployment-vllm "
    "(local/vllm-llama3-deployment-vllm.yaml:10:1)\n"
    "  replicas: 1\n"
    "  model: \"meta-llama/Llama-3.1-8B-Instruct\"\n"
    "  command: [\"ebb\", \"engine\", \"--port\", \"${PORT}\", \"--model\", \"${MODEL}\"]\n"
    "  env: none\n"
    "  workingDir: ebb's working directory (default)\n"
    "  logDir: \"ebb-logs/vllm-llama3-deployment-vllm\"\n"
    "  basePort: 8000 (replica i listens on 8000 + i)\n"
    "  readinessProbe: httpGet \"/health\" on each replica's ${PORT}, initialDelaySeconds 0, "
    "periodSeconds 1, timeoutSeconds 1, failureThreshold 3, successThreshold 1\n"
    "  terminationGracePeriodSeconds: 30\n"
    "ScaledObject default/vllm-scaledobject (tutorial/values-20-keda.yaml:1:1)\n"
    "  scaleTargetRef: apps/v1 Deployment vllm-llama3-deployment-vllm -> LocalDeployment "
    "default/vllm-llama3-deployment-vllm\n"
    "  pollingInterval: 15s\n"
    "  cooldownPeriod: 360s\n"
    "  initialCooldownPeriod: 0s (default)\n"
    "  minReplicaCount: 1\n"
    "  maxReplicaCount: 2\n"
    "  idleReplicaCount: unset\n"
    "  fallback: none\n"
    "  restoreToOriginalReplicaCount: false\n"
    "  hpa: keda-hpa-vllm-scaledobject, minReplicas 1, maxReplicas 2\n"
    "  behavior: none (the HPA's legacy path)\n"
    "  triggers[0]: prometheus, metric s0-prometheus, metricType AverageValue, useCachedMetrics "
    "false\n"
    "    serverAddress: \"http://prometheus-operated.monitoring.svc:9090\"\n"
    "    query: \"vllm:num_requests_waiting\"\n"
    "    threshold: 5\n"
    "    activationThreshold: 0 (default)\n"
    "    namespace: none\n"
    "    queryParameters: none\n"
    "    customHeaders: none\n"
    "    ignoreNullValues: true (default)\n"
    "    unsafeSsl: false (default)\n"
    "    timeout: 3000ms (default: KEDA_HTTP_DEFAULT_TIMEOUT)\n"
    "    authModes: none\n"
    "    metricName: \"vllm:num_requests_waiting\" (ignored, as by KEDA since v2.12)\n";

static void check_prints_the_tutorial(void **state)
{
    (void)state;
    struct config c;
    load_examples(&c, TUTORIAL_1, LOCAL_ENGINE, CONFIG_LOCAL);
    struct buf a, b;
    assert_string_equal(formatted(&c, &a), tutorial_check);
    /* Stable: the same configuration prints the same text. */
    assert_string_equal(formatted(&c, &b), a.data);
    buf_release(&a);
    buf_release(&b);
    config_release(&c);
}

/* ---------- defaults ---------- */

static void scaled_object_defaults(void **state)
{
    (void)state;
    struct config c;
    load_text(&c,
              "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: so}\nspec:\n"
              "  scaleTargetRef: {name: app}\n  triggers:\n    - type: prometheus\n"
              "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n",
              0);
    assert_clean(&c);
    const struct cfg_scaled_object *o = c.sos[0];
    const struct so_spec *so = &o->spec;
    assert_string_equal(o->namespace_, "default");
    assert_string_equal(so->target_api_version, "apps/v1");
    assert_string_equal(so->target_kind, "Deployment");
    assert_int_equal(so->polling_interval, SO_POLLING_DEFAULT_S);
    assert_int_equal(so->cooldown_period, SO_COOLDOWN_DEFAULT_S);
    assert_int_equal(so->initial_cooldown_period, 0);
    assert_int_equal(so->min_replicas, 0);
    assert_int_equal(so->max_replicas, SO_MAX_DEFAULT);
    assert_false(so->has_min_replicas || so->has_idle_replicas || so->has_fallback);
    assert_false(so->has_behavior || so->has_modifiers);
    assert_int_equal(so->triggers[0].metric_type, SO_AVERAGE_VALUE);
    assert_false(o->restore_to_original);
    const struct cfg_prometheus *p = &o->triggers[0].prom;
    assert_true(p->ignore_null_values);
    assert_false(p->unsafe_ssl);
    assert_int_equal(p->timeout_ms, 0);
    assert_true(p->activation_threshold == 0);
    assert_int_equal(p->auth_modes, 0);
    assert_null(p->namespace_);
    assert_int_equal(p->n_custom_headers + p->n_query_params, 0);
    assert_null(o->triggers[0].auth_ref_name);
    config_release(&c);
}

static void deployment_defaults(void **state)
{
    (void)state;
    struct config c;
    load_text(&c,
              "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata: {name: app}\n"
              "spec: {model: m, command: [x, '${PORT}']}\n---\n"
              "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata: {name: probed}\n"
              "spec:\n  model: m\n  basePort: 9000\n  command: [x, '${PORT}']\n"
              "  readinessProbe: {httpGet: {}}\n",
              CONFIG_LOCAL);
    assert_clean(&c);
    const struct cfg_deployment *d = c.deployments[0];
    assert_string_equal(d->namespace_, "default");
    assert_int_equal(d->replicas, 1);
    assert_int_equal(d->base_port, 8000);
    assert_int_equal(d->termination_grace_s, 30);
    assert_string_equal(d->log_dir, "ebb-logs/app");
    assert_string_equal(d->working_dir, "");
    assert_int_equal(d->n_env, 0);
    assert_false(d->readiness.set);
    const struct cfg_probe *p = &c.deployments[1]->readiness;
    assert_true(p->set);
    assert_string_equal(p->path, "/");
    assert_int_equal(p->port, 0);
    assert_int_equal(p->initial_delay_s, 0);
    assert_int_equal(p->period_s, 10);
    assert_int_equal(p->timeout_s, 1);
    assert_int_equal(p->failure_threshold, 3);
    assert_int_equal(p->success_threshold, 1);
    config_release(&c);
}

static void advanced_fields(void **state)
{
    (void)state;
    struct config c;
    load_text(&c,
              "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\n"
              "  annotations: {autoscaling.keda.sh/paused-replicas: '3', team: a}\n"
              "spec:\n  scaleTargetRef: {name: app, envSourceContainerName: c}\n"
              "  idleReplicaCount: 0\n  minReplicaCount: 1\n  initialCooldownPeriod: 60\n"
              "  fallback: {failureThreshold: 3, replicas: 2, behavior: currentReplicasIfHigher}\n"
              "  advanced:\n    restoreToOriginalReplicaCount: true\n"
              "    horizontalPodAutoscalerConfig:\n      name: my-hpa\n      behavior:\n"
              "        scaleDown:\n          stabilizationWindowSeconds: 60\n"
              "          selectPolicy: Min\n          tolerance: 50m\n"
              "          policies: [{type: Percent, value: 50, periodSeconds: 30}]\n"
              "    scalingModifiers: {formula: 'q * 2', target: '4', metricType: Value}\n"
              "  triggers:\n    - type: prometheus\n      name: q\n      useCachedMetrics: true\n"
              "      metadata:\n        serverAddress: https://p:9090\n        query: up\n"
              "        threshold: '2.5'\n        activationThreshold: '0.5'\n"
              "        namespace: ns\n        queryParameters: 'a=1, b = 2'\n"
              "        ignoreNullValues: 'false'\n        unsafeSsl: 'true'\n"
              "        timeout: 1500ms\n",
              0);
    assert_clean(&c);
    const struct cfg_scaled_object *o = c.sos[0];
    const struct so_spec *so = &o->spec;
    assert_true(so->pause.has_paused_replicas);
    assert_int_equal(so->pause.paused_replicas, 3);
    assert_int_equal(o->n_annotations, 2);
    assert_string_equal(o->env_source_container, "c");
    assert_true(so->has_idle_replicas && so->idle_replicas == 0);
    assert_int_equal(so->initial_cooldown_period, 60);
    assert_int_equal(so->fallback.behavior, SO_FALLBACK_CURRENT_IF_HIGHER);
    assert_true(o->restore_to_original);
    assert_string_equal(so->hpa_name, "my-hpa");
    assert_true(so->has_behavior && so->behavior.down.has_window);
    assert_int_equal(so->behavior.down.window_seconds, 60);
    assert_int_equal(so->behavior.down.select, HPA_SELECT_MIN);
    assert_near(so->behavior.down.tolerance, 0.05, 1e-12);
    assert_int_equal(so->behavior.down.n_policies, 1);
    assert_int_equal(so->behavior.down.policies[0].type, HPA_POLICY_PERCENT);
    assert_false(so->behavior.up.has_window);
    assert_string_equal(so->modifiers.formula, "q * 2");
    assert_int_equal(so->modifiers.metric_type, SO_VALUE);
    assert_true(so->triggers[0].use_cached_metrics);
    const struct cfg_prometheus *p = &o->triggers[0].prom;
    assert_true(p->threshold == 2.5 && p->activation_threshold == 0.5);
    assert_true(so->triggers[0].activation_threshold == 0.5);
    assert_string_equal(p->namespace_, "ns");
    assert_int_equal(p->n_query_params, 2);
    assert_string_equal(p->query_params[1].key, "b");
    assert_string_equal(p->query_params[1].value, "2");
    assert_false(p->ignore_null_values);
    assert_true(p->unsafe_ssl);
    assert_int_equal(p->timeout_ms, 1500);
    config_release(&c);
}

/* ---------- multi-document files, all errors, nothing half-applied ---------- */

static const char all_kinds[] =
    "# one file, every kind, empty documents between\n"
    "---\n"
    "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata: {name: app}\n"
    "spec: {model: m, command: [x, '${PORT}']}\n"
    "---\n"
    "---\n"
    "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: ta}\n"
    "spec:\n  env: [{parameter: bearerToken, name: EBB_TEST_TOKEN}]\n"
    "---\n"
    "apiVersion: keda.sh/v1alpha1\nkind: ClusterTriggerAuthentication\nmetadata: {name: cta}\n"
    "spec:\n  env: [{parameter: username, name: EBB_TEST_TOKEN}]\n"
    "---\n"
    "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: so}\nspec:\n"
    "  scaleTargetRef: {name: app}\n  triggers:\n"
    "    - type: prometheus\n"
    "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5', "
    "authModes: bearer}\n"
    "      authenticationRef: {name: ta}\n"
    "    - type: prometheus\n"
    "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5', "
    "authModes: basic}\n"
    "      authenticationRef: {name: cta, kind: ClusterTriggerAuthentication}\n"
    "...\n";

static void multi_document_file(void **state)
{
    (void)state;
    struct config c;
    load_text(&c, all_kinds, CONFIG_LOCAL);
    assert_clean(&c);
    assert_int_equal(c.n_deployments, 1);
    assert_int_equal(c.n_auths, 2);
    assert_int_equal(c.n_sos, 1);
    assert_true(c.auths[1]->cluster);
    const struct cfg_scaled_object *o = c.sos[0];
    assert_ptr_equal(o->target, c.deployments[0]);
    assert_ptr_equal(o->triggers[0].auth, c.auths[0]);
    assert_ptr_equal(o->triggers[1].auth, c.auths[1]);
    assert_ptr_equal(config_find_deployment(&c, "default", "app"), c.deployments[0]);
    assert_null(config_find_deployment(&c, "other", "app"));
    config_release(&c);
}

static void secrets_reach_the_trigger_and_are_never_printed(void **state)
{
    (void)state;
    struct config c;
    tdir_enter();
    tfile_write("password", "pa55word\r\n");
    config_init(&c);
    const char *text =
        "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: ta}\n"
        "spec:\n  env: [{parameter: username, name: EBB_TEST_USER}]\n"
        "  file: [{parameter: password, path: password}]\n---\n"
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: so}\nspec:\n"
        "  scaleTargetRef: {name: app}\n  triggers:\n    - type: prometheus\n"
        "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5', "
        "authModes: basic}\n      authenticationRef: {name: ta}\n";
    assert_int_equal(config_load_buffer(&c, "t.yaml", text, strlen(text)), 0);
    assert_int_equal(config_check(&c, 0), 0);
    tdir_leave();
    const struct cfg_prometheus *p = &c.sos[0]->triggers[0].prom;
    assert_string_equal(p->username, "bob");
    assert_string_equal(p->password, "pa55word"); /* the file's \r\n dropped */
    assert_string_equal(cfg_auth_get(c.auths[0], "password"), "pa55word");
    struct buf b;
    const char *out = formatted(&c, &b);
    assert_null(strstr(out, "pa55word"));
    assert_null(strstr(out, "bob"));
    assert_non_null(strstr(out, "  username: <redacted> from env EBB_TEST_USER\n"));
    assert_non_null(strstr(out, "  password: <redacted> from file password\n"));
    buf_release(&b);
    config_release(&c);
}

static void secrets_can_be_left_unread(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    c.read_secrets = false;
    const char *text =
        "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {name: ta}\n"
        "spec:\n  env: [{parameter: bearerToken, name: EBB_TEST_UNSET}]\n"
        "  file: [{parameter: password, path: /nonexistent}]\n";
    assert_int_equal(config_load_buffer(&c, "t.yaml", text, strlen(text)), 0);
    assert_int_equal(c.auths[0]->n_params, 2);
    assert_null(c.auths[0]->params[0].value);
    config_release(&c);
}

static void every_file_is_read_and_every_error_reported(void **state)
{
    (void)state;
    static const struct tfile files[] = {
        {"a.yaml", "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata: {name: a}\n"
                   "spec: {model: m, command: [x, '${PORT}'], replicas: many}\n"},
        {"b.yaml", "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata: {name: b}\n"
                   "spec: {model: m, command: [x, '${PORT}'], basePort: 9000}\n"},
        {"c.yaml", "kind: [\n"},
        {NULL, NULL},
    };
    struct config c;
    load_row(&c, files, 0);
    assert_int_equal(config_errors(&c), 2);
    assert_issue(&c, "a.yaml:4:53: spec.replicas: must be a whole number, got \"many\"");
    assert_issue(&c, "c.yaml:2:1: invalid YAML: flow sequence without a closing bracket");
    /* The good file's object is loaded, but the configuration as a whole is
     * not usable: a caller acts only on config_errors() == 0. */
    assert_int_equal(c.n_deployments, 2);
    config_release(&c);
}

static void unreadable_files(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/so.yaml"), -EINVAL);
    assert_int_equal(config_load_file(&c, EBB_SOURCE_ROOT), -EINVAL);
    assert_issue(&c, "/nonexistent/so.yaml: cannot read the file: No such file or directory");
    assert_issue(&c, EBB_SOURCE_ROOT ": cannot read the file: Is a directory");
    config_release(&c);
}

static void check_runs_once(void **state)
{
    (void)state;
    struct config c;
    load_text(&c,
              "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata: {name: a}\n"
              "spec: {model: m, command: [x, '${PORT}']}\n---\n"
              "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata: {name: a}\n"
              "spec: {model: m, command: [x, '${PORT}'], basePort: 9000}\n",
              0);
    assert_int_equal(config_errors(&c), 1);
    assert_int_equal(config_check(&c, 0), 1);
    assert_int_equal(c.n_issues, 1);
    config_release(&c);
}

static void limits_across_files(void **state)
{
    (void)state;
    static const char doc[] = "---\napiVersion: ebb/v1alpha1\nkind: LocalDeployment\n"
                              "metadata: {name: a}\nspec: {model: m, command: [x, '${PORT}']}\n";
    struct buf b = BUF_INIT(1u << 22);
    for (int i = 0; i < CONFIG_OBJECTS_MAX / 2; i++)
        assert_int_equal(buf_append_str(&b, doc), 0);
    struct config c;
    config_init(&c);
    assert_int_equal(config_load_buffer(&c, "a.yaml", b.data, b.len), 0);
    assert_int_equal(config_load_buffer(&c, "b.yaml", b.data, b.len), 0);
    assert_int_equal(config_load_buffer(&c, "c.yaml", doc, strlen(doc)), -EINVAL);
    assert_issue(&c, "c.yaml:2:1: too many objects: at most 4096 are loaded");
    config_release(&c);
    /* Issues past CONFIG_ISSUES_MAX are counted, not kept. */
    buf_reset(&b);
    for (int i = 0; i < CONFIG_ISSUES_MAX + 10; i++)
        assert_int_equal(buf_append_str(&b, "---\n- x\n"), 0);
    config_init(&c);
    config_load_buffer(&c, "d.yaml", b.data, b.len);
    assert_int_equal(config_errors(&c), CONFIG_ISSUES_MAX + 10);
    assert_int_equal(c.n_issues, CONFIG_ISSUES_MAX);
    char *text = issues_text(&c);
    assert_non_null(strstr(text, "\n... and 10 more\n"));
    free(text);
    config_release(&c);
    buf_release(&b);
}

/* ---------- substitution ---------- */

struct xrow {
    const char *name;
    const char *tmpl;
    const char *want; /* NULL: -ENOBUFS */
};

static const struct xrow expand_rows[] = {
    {"expand: ${PORT} is the replica's port", "--port=${PORT}", "--port=8001"},
    {"expand: ${INDEX} is the replica's index", "${INDEX}", "1"},
    {"expand: ${MODEL} is spec.model", "${MODEL}", "meta-llama/Llama-3.1-8B-Instruct"},
    {"expand: $$ is a literal $", "$${PORT}", "${PORT}"},
    {"expand: a $ without a brace stays", "$HOME/x$", "$HOME/x$"},
    {"expand: several in one argument", "${INDEX}:${PORT}", "1:8001"},
    {"expand: a result past the buffer's limit is an error", "${MODEL}${MODEL}${MODEL}", NULL},
};

static void check_expand(const struct xrow *r)
{
    struct cfg_replica_vars v = {8001, 1, "meta-llama/Llama-3.1-8B-Instruct"};
    struct buf b = BUF_INIT(64);
    int rc = cfg_expand(r->tmpl, &v, &b);
    if (r->want) {
        assert_int_equal(rc, 0);
        assert_string_equal(b.data, r->want);
    } else {
        assert_int_equal(rc, -ENOBUFS);
    }
    buf_release(&b);
}

/* ---------- `ebb autoscaler --check` ---------- */

/* Runs config_check_main with stdout and stderr sent to /dev/null. */
static int run_check(int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
    assert_true(out >= 0 && err >= 0 && null >= 0);
    dup2(null, 1);
    dup2(null, 2);
    int rc = config_check_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    close(null);
    return rc;
}

static void check_exit_codes(void **state)
{
    (void)state;
    char *valid[] = {"check",   "-f", EXAMPLES TUTORIAL_0, "--file", EXAMPLES LOCAL_ENGINE,
                     "--local", NULL};
    assert_int_equal(run_check(6, valid), 0);
    char *unresolved[] = {"check", "--file=" EXAMPLES TUTORIAL_1, "--local", NULL};
    assert_int_equal(run_check(3, unresolved), 1);
    char *missing[] = {"check", "-f", "/nonexistent.yaml", NULL};
    assert_int_equal(run_check(3, missing), 1);
    char *none[] = {"check", "--local", NULL};
    assert_int_equal(run_check(2, none), 2);
    char *unknown[] = {"check", "--bogus", NULL};
    assert_int_equal(run_check(2, unknown), 2);
    char *help[] = {"check", "--help", NULL};
    assert_int_equal(run_check(2, help), 0);
}

int main(void)
{
    setenv("EBB_TEST_TOKEN", "s3cret", 1);
    setenv("EBB_TEST_USER", "bob", 1);
    unsetenv("EBB_TEST_UNSET");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_files_load),
        cmocka_unit_test(tutorial_scaled_object),
        cmocka_unit_test(tutorial_scale_to_zero),
        cmocka_unit_test(local_examples),
        cmocka_unit_test(check_prints_the_tutorial),
        cmocka_unit_test(scaled_object_defaults),
        cmocka_unit_test(deployment_defaults),
        cmocka_unit_test(advanced_fields),
        cmocka_unit_test(multi_document_file),
        cmocka_unit_test(secrets_reach_the_trigger_and_are_never_printed),
        cmocka_unit_test(secrets_can_be_left_unread),
        cmocka_unit_test(every_file_is_read_and_every_error_reported),
        cmocka_unit_test(unreadable_files),
        cmocka_unit_test(check_runs_once),
        cmocka_unit_test(limits_across_files),
        cmocka_unit_test(check_exit_codes),
    };
    int rc = cmocka_run_group_tests_name("config load", tests, NULL, NULL);
    rc |= RUN_ROWS("config load: ${} substitution", expand_rows, check_expand);
    return rc;
}
