/* config: every error (and warning) a ScaledObject file can get, one row per
 * rule, each with the exact line people see: file:line:col: path: message.
 * Line and column numbers are counted in the YAML of the row. */
#include "config_test.h"

/* Lines 1-7 of most ScaledObjects below. */
#define HEAD                                                                                       \
    "apiVersion: keda.sh/v1alpha1\n" /* 1 */                                                       \
    "kind: ScaledObject\n"           /* 2 */                                                       \
    "metadata:\n"                    /* 3 */                                                       \
    "  name: so\n"                   /* 4 */                                                       \
    "spec:\n"                        /* 5 */                                                       \
    "  scaleTargetRef:\n"            /* 6 */                                                       \
    "    name: app\n"                /* 7 */

/* A valid trigger list (6 lines). */
#define TRIGGERS                                                                                   \
    "  triggers:\n"                                                                                \
    "    - type: prometheus\n"                                                                     \
    "      metadata:\n"                                                                            \
    "        serverAddress: http://localhost:9090\n"                                               \
    "        query: up\n"                                                                          \
    "        threshold: '5'\n"

/* Lines 1-10 of a prometheus trigger whose metadata entries start at line
 * 11, column 9 (a value at column 9 + len(key) + 2). */
#define PROM                                                                                       \
    HEAD "  triggers:\n"            /* 8 */                                                        \
         "    - type: prometheus\n" /* 9 */                                                        \
         "      metadata:\n"        /* 10 */
#define SERVER "        serverAddress: http://localhost:9090\n"
#define QUERY "        query: up\n"
#define THRESHOLD "        threshold: '5'\n"

/* clang-format off */
#define SO(text) {{"so.yaml", text}}
/* clang-format on */

static const struct irow yaml_rows[] = {
    {"yaml: a tab in the indentation is an error",
     SO(HEAD "  minReplicaCount: 1\n\tmaxReplicaCount: 2\n" TRIGGERS), 0,
     "so.yaml:9:1: a tab is used for indentation: YAML indents with spaces only", 1},
    {"yaml: an unclosed flow list is a syntax error", SO(HEAD "  triggers: [\n"), 0,
     "so.yaml:9:1: invalid YAML: flow sequence without a closing bracket", 1},
    {"yaml: a key repeated in a mapping is an error",
     SO(HEAD "  minReplicaCount: 1\n  minReplicaCount: 2\n" TRIGGERS), 0,
     "so.yaml:9:3: spec.minReplicaCount: duplicate field \"minReplicaCount\" (first at line 8)", 1},
    {"yaml: an alias needs an anchor defined before it",
     SO(HEAD "  minReplicaCount: *n\n" TRIGGERS), 0,
     "so.yaml:8:20: alias \"*n\" names no complete anchor before it (an anchor cannot be used "
     "inside its own node)",
     1},
    {"yaml: tags other than the core ones are refused",
     SO(HEAD "  minReplicaCount: !custom 1\n" TRIGGERS), 0,
     "so.yaml:8:20: unsupported tag \"!custom\": only the core tags (!!str, !!int, !!float, "
     "!!bool, !!null, !!map, !!seq) are understood",
     1},
    {"yaml: a core tag makes a number a string", SO(HEAD "  minReplicaCount: !!str 1\n" TRIGGERS),
     0, "so.yaml:8:20: spec.minReplicaCount: must be a whole number, got \"1\"", 1},
    {"yaml: merge keys are refused",
     SO("base: &b {minReplicaCount: 1}\n" HEAD "  <<: *b\n" TRIGGERS), 0,
     "so.yaml:9:3: spec[<<]: merge keys (<<) are not supported: write the fields out", -1},
    {"file: an empty file holds no object", SO(""), 0,
     "so.yaml: the file holds no object (it is empty or only comments)", 1},
    {"file: a file of empty documents holds no object", SO("---\n# nothing\n---\n"), 0,
     "so.yaml: the file holds no object (it is empty or only comments)", 1},
    {"file: empty documents between --- are skipped", SO("---\n---\n" HEAD TRIGGERS "---\n"), 0,
     NULL, 0},
    {"file: a document must be a mapping", SO("- a\n- b\n"), 0,
     "so.yaml:1:1: a document must be a mapping with apiVersion and kind, got a list", 1},
    {"kind: a kind ebb does not read is an error",
     SO("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), 0,
     "so.yaml:2:7: kind: \"ConfigMap\" is not a kind ebb reads: ScaledObject, "
     "TriggerAuthentication, ClusterTriggerAuthentication (keda.sh/v1alpha1) or LocalDeployment "
     "(ebb/v1alpha1)",
     1},
    {"kind: apiVersion must be the kind's",
     SO("apiVersion: keda.sh/v1\nkind: ScaledObject\nmetadata:\n  name: so\nspec:\n"
        "  scaleTargetRef:\n    name: app\n" TRIGGERS),
     0, "so.yaml:1:13: apiVersion: must be keda.sh/v1alpha1 for a ScaledObject, got \"keda.sh/v1\"",
     1},
    {"kind: kind is required", SO("apiVersion: keda.sh/v1alpha1\nmetadata: {name: so}\n"), 0,
     "so.yaml:1:1: kind: is required (ScaledObject, TriggerAuthentication or LocalDeployment)", 1},
};

static const struct irow so_rows[] = {
    {"so: an unknown field is an error, with the field meant",
     SO(HEAD "  pollingIntervall: 5\n" TRIGGERS), 0,
     "so.yaml:8:3: spec.pollingIntervall: unknown field \"pollingIntervall\"; did you mean "
     "\"pollingInterval\"?",
     1},
    {"so: an unknown top-level field is an error", SO(HEAD TRIGGERS "sepc: {}\n"), 0,
     "so.yaml:14:1: sepc: unknown field \"sepc\"; did you mean \"spec\"?", 1},
    {"so: metadata.name is required",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  namespace: default\n"
        "spec:\n  scaleTargetRef:\n    name: app\n" TRIGGERS),
     0, "so.yaml:4:3: metadata.name: is required", 1},
    {"so: metadata.name has at most 63 characters",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n"
        "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "spec:\n  scaleTargetRef:\n    name: app\n" TRIGGERS),
     0, "so.yaml:4:9: metadata.name: is 64 characters long; KEDA allows at most 63", 1},
    {"so: a label repeated is an error",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\n"
        "  labels:\n    app: a\n    team: t\n    app: b\n"
        "spec:\n  scaleTargetRef:\n    name: app\n" TRIGGERS),
     0, "so.yaml:8:5: metadata.labels.app: duplicate field \"app\" (first at line 6)", 1},
    {"so: metadata.namespace must be a DNS label",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\n"
        "  namespace: Default\nspec:\n  scaleTargetRef:\n    name: app\n" TRIGGERS),
     0,
     "so.yaml:5:14: metadata.namespace: \"Default\" is not a valid namespace: use at most 63 lower "
     "case letters, digits and '-', starting and ending with a letter or digit",
     1},
    {"so: spec is required",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n"
        "  name: so\n"),
     0, "so.yaml:1:1: spec: is required (scaleTargetRef and triggers)", 1},
    {"so: spec.scaleTargetRef is required",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\nspec:\n"
        "  minReplicaCount: 1\n" TRIGGERS),
     0, "so.yaml:6:3: spec.scaleTargetRef: is required (the workload to scale, by name)", 1},
    {"so: spec.scaleTargetRef.name is required",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\nspec:\n"
        "  scaleTargetRef:\n    kind: Deployment\n" TRIGGERS),
     0, "so.yaml:7:5: spec.scaleTargetRef.name: is required", 1},
    {"so: a count must be a whole number, not a string",
     SO(HEAD "  minReplicaCount: \"1\"\n" TRIGGERS), 0,
     "so.yaml:8:20: spec.minReplicaCount: must be a whole number, got \"1\" (write it without "
     "quotes)",
     1},
    {"so: a count must be a whole number, not 1.5", SO(HEAD "  minReplicaCount: 1.5\n" TRIGGERS), 0,
     "so.yaml:8:20: spec.minReplicaCount: must be a whole number, got the number 1.5", 1},
    {"so: a count 2.0 is the whole number 2", SO(HEAD "  minReplicaCount: 2.0\n" TRIGGERS), 0, NULL,
     0},
    {"so: a count must fit an int32", SO(HEAD "  maxReplicaCount: 3000000000\n" TRIGGERS), 0,
     "so.yaml:8:20: spec.maxReplicaCount: must be between -2147483648 and 2147483647, got "
     "3000000000",
     1},
    {"so: minReplicaCount must not exceed maxReplicaCount",
     SO(HEAD "  minReplicaCount: 3\n  maxReplicaCount: 2\n" TRIGGERS), 0,
     "so.yaml:8:20: spec.minReplicaCount: \"minReplicaCount\" (3) must be less than or equal to "
     "\"maxReplicaCount\" (2)",
     1},
    {"so: idleReplicaCount must be below minReplicaCount",
     SO(HEAD "  minReplicaCount: 1\n  idleReplicaCount: 1\n" TRIGGERS), 0,
     "so.yaml:9:21: spec.idleReplicaCount: \"idleReplicaCount\" (1) must be less than "
     "\"minReplicaCount\" (1)",
     1},
    {"so: pollingInterval must be at least 1", SO(HEAD "  pollingInterval: 0\n" TRIGGERS), 0,
     "so.yaml:8:20: spec.pollingInterval: \"pollingInterval\" must be at least 1, got 0", 1},
    {"so: pollingInterval with minReplicaCount above 0 warns, as KEDA does",
     SO(HEAD "  minReplicaCount: 1\n  pollingInterval: 5\n" TRIGGERS), 0,
     "so.yaml:9:20: warning: spec.pollingInterval: \"pollingInterval\" has little effect with "
     "\"minReplicaCount\" 1: the HPA, not this interval, scales between 1 and the maximum (every "
     "15 s)",
     0},
    {"so: triggers are required", SO(HEAD), 0,
     "so.yaml:6:3: spec.triggers: is required (at least one trigger)", 1},
    {"so: triggers must be a list", SO(HEAD "  triggers: {}\n"), 0,
     "so.yaml:8:13: spec.triggers: must be a list, got a mapping", 1},
    {"so: trigger names must be unique",
     SO(HEAD "  triggers:\n"
             "    - type: prometheus\n"
             "      name: q\n"
             "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"
             "    - type: prometheus\n"
             "      name: q\n"
             "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"),
     0,
     "so.yaml:13:13: spec.triggers[1].name: trigger name \"q\" is already used by triggers[0]; "
     "names must be unique",
     1},
    {"so: a trigger type other than prometheus is not supported",
     SO(HEAD "  triggers:\n    - type: kafka\n      metadata: {topic: t}\n"), 0,
     "so.yaml:9:13: spec.triggers[0].type: trigger type \"kafka\" is not supported by ebb: it "
     "reads prometheus triggers (cpu and memory are accepted and ignored)",
     1},
    {"so: a trigger's type is required", SO(HEAD "  triggers:\n    - metadata: {query: up}\n"), 0,
     "so.yaml:9:7: spec.triggers[0].type: is required (prometheus)", 1},
    {"so: a cpu trigger is accepted with a warning",
     SO(HEAD "  minReplicaCount: 1\n  triggers:\n    - type: cpu\n      metricType: Utilization\n"
             "      metadata: {value: '50'}\n"),
     0,
     "so.yaml:10:13: warning: spec.triggers[0]: a cpu trigger never scales in ebb: there is no "
     "pod CPU or memory to read (it still counts for metric names and validation)",
     0},
    {"so: metricType Utilization is refused for a prometheus trigger",
     SO(HEAD "  triggers:\n    - type: prometheus\n      metricType: Utilization\n"
             "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"),
     0,
     "so.yaml:10:19: spec.triggers[0].metricType: 'Utilization' metric type is unsupported for "
     "external metrics, allowed values are 'Value' or 'AverageValue'",
     1},
    {"so: metricType is one of KEDA's names",
     SO(HEAD "  triggers:\n    - type: prometheus\n      metricType: Avg\n"
             "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"),
     0,
     "so.yaml:10:19: spec.triggers[0].metricType: must be one of AverageValue, Value, "
     "Utilization, got \"Avg\"",
     1},
    {"so: useCachedMetrics is a boolean",
     SO(HEAD "  triggers:\n    - type: prometheus\n      useCachedMetrics: yes please\n"
             "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"),
     0,
     "so.yaml:10:25: spec.triggers[0].useCachedMetrics: must be true or false, got \"yes please\"",
     1},
};

static const struct irow so_advanced_rows[] = {
    {"so: fallback.failureThreshold is required",
     SO(HEAD "  fallback:\n    replicas: 2\n" TRIGGERS), 0,
     "so.yaml:9:5: spec.fallback.failureThreshold: is required (failures before the fallback "
     "applies)",
     1},
    {"so: fallback.behavior is one of KEDA's",
     SO(HEAD "  fallback:\n    failureThreshold: 3\n    replicas: 2\n    behavior: "
             "sometimes\n" TRIGGERS),
     0,
     "so.yaml:11:15: spec.fallback.behavior: must be one of static, currentReplicas, "
     "currentReplicasIfHigher, currentReplicasIfLower, scalingModifiers, got \"sometimes\"",
     1},
    {"so: fallback behavior scalingModifiers needs a formula",
     SO(HEAD "  fallback:\n    failureThreshold: 3\n    replicas: 2\n"
             "    behavior: scalingModifiers\n" TRIGGERS),
     0,
     "so.yaml:11:15: spec.fallback.behavior: behavior \"scalingModifiers\" needs "
     "advanced.scalingModifiers.formula",
     1},
    {"so: a scalingModifiers formula needs a target",
     SO(HEAD "  advanced:\n    scalingModifiers:\n      formula: q\n"
             "  triggers:\n    - type: prometheus\n      name: q\n"
             "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"),
     0,
     "so.yaml:10:7: spec.advanced.scalingModifiers.target: \"target\" is required when a formula "
     "is given",
     1},
    {"so: a scalingModifiers target is a string",
     SO(HEAD "  advanced:\n    scalingModifiers:\n      formula: q\n      target: 2\n"
             "  triggers:\n    - type: prometheus\n      name: q\n"
             "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"),
     0,
     "so.yaml:11:15: spec.advanced.scalingModifiers.target: must be a string, got the number 2 "
     "(quote it: \"2\")",
     1},
    {"so: a behavior policy's value must be above 0",
     SO(HEAD "  advanced:\n    horizontalPodAutoscalerConfig:\n      behavior:\n        scaleUp:\n"
             "          policies:\n            - type: Pods\n              value: 0\n"
             "              periodSeconds: 15\n" TRIGGERS),
     0,
     "so.yaml:14:22: spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0]."
     "value: \"value\" must be greater than 0, got 0",
     1},
    {"so: a behavior policy's type is Pods or Percent",
     SO(HEAD "  advanced:\n    horizontalPodAutoscalerConfig:\n      behavior:\n        scaleUp:\n"
             "          policies:\n            - type: Replicas\n              value: 1\n"
             "              periodSeconds: 15\n" TRIGGERS),
     0,
     "so.yaml:13:21: spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0]."
     "type: must be one of Pods, Percent, got \"Replicas\"",
     1},
    {"so: selectPolicy is Max, Min or Disabled",
     SO(HEAD
        "  advanced:\n    horizontalPodAutoscalerConfig:\n      behavior:\n        scaleDown:\n"
        "          selectPolicy: Maximum\n" TRIGGERS),
     0,
     "so.yaml:12:25: spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.selectPolicy: "
     "must be one of Max, Min, Disabled, got \"Maximum\"",
     1},
    {"so: stabilizationWindowSeconds is at most 3600",
     SO(HEAD
        "  advanced:\n    horizontalPodAutoscalerConfig:\n      behavior:\n        scaleDown:\n"
        "          stabilizationWindowSeconds: 4000\n" TRIGGERS),
     0,
     "so.yaml:12:39: spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown."
     "stabilizationWindowSeconds: \"stabilizationWindowSeconds\" must be between 0 and 3600, got "
     "4000",
     1},
    {"so: tolerance is a quantity",
     SO(HEAD "  advanced:\n    horizontalPodAutoscalerConfig:\n      behavior:\n        scaleUp:\n"
             "          tolerance: lots\n" TRIGGERS),
     0,
     "so.yaml:12:22: spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance: must "
     "be a quantity such as 0.05 or \"50m\", got \"lots\"",
     1},
    {"so: paused-replicas must be a whole number",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\n"
        "  annotations:\n    autoscaling.keda.sh/paused-replicas: \"two\"\n"
        "spec:\n  scaleTargetRef:\n    name: app\n" TRIGGERS),
     0,
     "so.yaml:6:42: metadata.annotations[autoscaling.keda.sh/paused-replicas]: annotation "
     "\"autoscaling.keda.sh/paused-replicas\" must be a whole number of replicas, got \"two\"",
     1},
    {"so: annotation values are strings",
     SO("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\n"
        "  annotations:\n    autoscaling.keda.sh/paused: true\n"
        "spec:\n  scaleTargetRef:\n    name: app\n" TRIGGERS),
     0,
     "so.yaml:6:33: metadata.annotations[autoscaling.keda.sh/paused]: must be a string, got the "
     "boolean true (quote it: \"true\")",
     1},
};

static const struct irow prom_rows[] = {
    {"prometheus: threshold must be a number", SO(PROM SERVER QUERY "        threshold: five\n"), 0,
     "so.yaml:13:20: spec.triggers[0].metadata.threshold: must be a number, got \"five\"", 1},
    {"prometheus: threshold is required", SO(PROM SERVER QUERY), 0,
     "so.yaml:11:9: spec.triggers[0].metadata.threshold: is required (the target value per "
     "replica, as a string: '5')",
     1},
    {"prometheus: metadata values are strings, so 5 must be quoted",
     SO(PROM SERVER QUERY "        threshold: 5\n"), 0,
     "so.yaml:13:20: spec.triggers[0].metadata.threshold: must be a string, got the number 5 "
     "(quote it: \"5\")",
     1},
    {"prometheus: threshold is a JSON number, so .5 is not one",
     SO(PROM SERVER QUERY "        threshold: '.5'\n"), 0,
     "so.yaml:13:20: spec.triggers[0].metadata.threshold: must be a number, got \".5\"", 1},
    {"prometheus: threshold 0 is refused (the HPA needs a positive target)",
     SO(PROM SERVER QUERY "        threshold: '0'\n"), 0,
     "so.yaml:13:20: spec.triggers[0].metadata.threshold: \"threshold\" must be positive after "
     "rounding to thousandths, got 0 (the HPA API rejects a target of 0)",
     1},
    {"prometheus: serverAddress is required", SO(PROM QUERY THRESHOLD), 0,
     "so.yaml:11:9: spec.triggers[0].metadata.serverAddress: is required (the Prometheus URL, "
     "e.g. http://localhost:9090)",
     1},
    {"prometheus: serverAddress is an http URL",
     SO(PROM "        serverAddress: prometheus:9090\n" QUERY THRESHOLD), 0,
     "so.yaml:11:24: spec.triggers[0].metadata.serverAddress: must be an http:// or https:// URL "
     "with a host, got \"prometheus:9090\"",
     1},
    {"prometheus: query is required", SO(PROM SERVER THRESHOLD), 0,
     "so.yaml:11:9: spec.triggers[0].metadata.query: is required (the PromQL query whose value "
     "scales the target)",
     1},
    {"prometheus: an empty value counts as missing, as in KEDA",
     SO(PROM SERVER "        query: '  '\n" THRESHOLD), 0,
     "so.yaml:11:9: spec.triggers[0].metadata.query: is required (the PromQL query whose value "
     "scales the target)",
     1},
    {"prometheus: activationThreshold must be a number",
     SO(PROM SERVER QUERY THRESHOLD "        activationThreshold: 'x'\n"), 0,
     "so.yaml:14:30: spec.triggers[0].metadata.activationThreshold: must be a number, got \"x\"",
     1},
    {"prometheus: booleans are Go's ParseBool, so yes is not one",
     SO(PROM SERVER QUERY THRESHOLD "        ignoreNullValues: 'yes'\n"), 0,
     "so.yaml:14:27: spec.triggers[0].metadata.ignoreNullValues: must be true or false, got "
     "\"yes\"",
     1},
    {"prometheus: timeout must not be negative",
     SO(PROM SERVER QUERY THRESHOLD "        timeout: '-5'\n"), 0,
     "so.yaml:14:18: spec.triggers[0].metadata.timeout: must not be negative, got \"-5\"", 1},
    {"prometheus: timeout is milliseconds or a Go duration",
     SO(PROM SERVER QUERY THRESHOLD "        timeout: 3 seconds\n"), 0,
     "so.yaml:14:18: spec.triggers[0].metadata.timeout: must be milliseconds (\"3000\") or a "
     "duration (\"3s\", \"500ms\"), got \"3 seconds\"",
     1},
    {"prometheus: customHeaders are key=value pairs",
     SO(PROM SERVER QUERY THRESHOLD "        customHeaders: 'a=b,c'\n"), 0,
     "so.yaml:14:24: spec.triggers[0].metadata.customHeaders: must be key=value pairs separated "
     "by commas, got \"c\"",
     1},
    {"prometheus: customHeaders names are HTTP header names",
     SO(PROM SERVER QUERY THRESHOLD "        customHeaders: 'X Org=a'\n"), 0,
     "so.yaml:14:24: spec.triggers[0].metadata.customHeaders: \"X Org\" is not a valid HTTP "
     "header name",
     1},
    {"prometheus: queryParameters have exactly one = per pair",
     SO(PROM SERVER QUERY THRESHOLD "        queryParameters: 'a=b=c'\n"), 0,
     "so.yaml:14:26: spec.triggers[0].metadata.queryParameters: must be key=value pairs "
     "separated by commas, got \"a=b=c\"",
     1},
    {"prometheus: authModes are KEDA's names",
     SO(PROM SERVER QUERY THRESHOLD "        authModes: digest\n"), 0,
     "so.yaml:14:20: spec.triggers[0].metadata.authModes: unknown auth mode \"digest\": use "
     "bearer, basic or custom (KEDA also knows tls, apiKey and oauth)",
     1},
    {"prometheus: bearer and basic cannot be combined",
     SO(PROM SERVER QUERY THRESHOLD "        authModes: 'bearer,basic'\n"), 0,
     "so.yaml:14:20: spec.triggers[0].metadata.authModes: at most one of bearer, basic and oauth "
     "may be used",
     1},
    {"prometheus: tls auth is not supported by ebb",
     SO(PROM SERVER QUERY THRESHOLD "        authModes: tls\n"), 0,
     "so.yaml:14:20: spec.triggers[0].metadata.authModes: auth mode \"tls\" (client certificates) "
     "is not supported by ebb: use bearer, basic or custom",
     1},
    {"prometheus: bearer auth needs an authenticationRef",
     SO(PROM SERVER QUERY THRESHOLD "        authModes: bearer\n"), 0,
     "so.yaml:14:20: spec.triggers[0].metadata.authModes: authModes bearer needs a "
     "\"bearerToken\" parameter from an authenticationRef",
     1},
    {"prometheus: apiKey and oauth have no effect (a warning)",
     SO(PROM SERVER QUERY THRESHOLD "        authModes: apiKey\n"), 0,
     "so.yaml:14:20: warning: spec.triggers[0].metadata.authModes: apiKey and oauth have no "
     "effect on a prometheus trigger (KEDA does not apply them either)",
     0},
    {"prometheus: metricName is ignored since KEDA v2.12 (a warning)",
     SO(PROM SERVER "        metricName: vllm:num_requests_waiting\n" QUERY THRESHOLD), 0,
     "so.yaml:12:21: warning: spec.triggers[0].metadata.metricName: is ignored: KEDA removed it "
     "in v2.12; the metric is named s0-prometheus",
     0},
    {"prometheus: an unknown parameter is a warning, with the one meant",
     SO(PROM SERVER QUERY THRESHOLD "        activationTreshold: '1'\n"), 0,
     "so.yaml:14:29: warning: spec.triggers[0].metadata.activationTreshold: unknown parameter of "
     "the prometheus trigger, ignored; did you mean \"activationThreshold\"?",
     0},
    {"prometheus: a secret in metadata is ignored, as in KEDA (a warning)",
     SO(PROM SERVER QUERY THRESHOLD "        bearerToken: hunter2\n"), 0,
     "so.yaml:14:22: warning: spec.triggers[0].metadata.bearerToken: is ignored here: KEDA reads "
     "it only from a TriggerAuthentication (authenticationRef), never from metadata",
     0},
};

int main(void)
{
    int rc = 0;
    rc |= RUN_ROWS("config errors: yaml and files", yaml_rows, check_irow);
    rc |= RUN_ROWS("config errors: ScaledObject", so_rows, check_irow);
    rc |= RUN_ROWS("config errors: ScaledObject advanced", so_advanced_rows, check_irow);
    rc |= RUN_ROWS("config errors: prometheus trigger", prom_rows, check_irow);
    return rc;
}
