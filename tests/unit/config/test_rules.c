/* config: TriggerAuthentication, LocalDeployment, the rules across objects
 * and files, and hostile YAML; one row per rule, each with the exact issue
 * line people see. */
#include "config_test.h"

#include <stdlib.h>

/* A valid ScaledObject (13 lines) scaling "app", its trigger reading auth
 * from TriggerAuthentication "ta" with the given authModes. */
#define SO_AUTH(modes)                                                                             \
    "apiVersion: keda.sh/v1alpha1\n"                                                               \
    "kind: ScaledObject\n"                                                                         \
    "metadata:\n"                                                                                  \
    "  name: so\n"                                                                                 \
    "spec:\n"                                                                                      \
    "  scaleTargetRef:\n"                                                                          \
    "    name: app\n"                                                                              \
    "  triggers:\n"                                                                                \
    "    - type: prometheus\n"                                                                     \
    "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5', "                 \
    "authModes: " modes "}\n"                                                                      \
    "      authenticationRef:\n"                                                                   \
    "        name: ta\n"

/* A ScaledObject named name scaling target, in namespace ns. */
#define SO_NAMED(name, ns, target)                                                                 \
    "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: " name "\n"              \
    "  namespace: " ns "\nspec:\n  scaleTargetRef:\n    name: " target "\n  triggers:\n"           \
    "    - type: prometheus\n"                                                                     \
    "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"

/* Lines 1-5 of a TriggerAuthentication named "ta". */
#define TA_HEAD                                                                                    \
    "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata:\n  name: ta\nspec:\n"

/* Lines 1-6 of a LocalDeployment named "app" (spec on line 5). */
#define LD_HEAD                                                                                    \
    "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata:\n  name: app\nspec:\n"             \
    "  model: m\n"
#define LD_CMD "  command: [ebb, engine, --port, '${PORT}']\n"
#define LD(name, port)                                                                             \
    "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata:\n  name: " name "\nspec:\n"        \
    "  model: m\n  basePort: " port "\n" LD_CMD

/* clang-format off */
#define FILE1(name, text) {{name, text}}
/* clang-format on */

static const struct irow auth_rows[] = {
    {"auth: a parameter from an environment variable",
     {{"ta.yaml", TA_HEAD "  env:\n    - {parameter: bearerToken, name: EBB_TEST_TOKEN}\n"},
      {"so.yaml", SO_AUTH("bearer")}},
     0,
     NULL,
     0},
    {"auth: an environment variable that is not set is an error",
     FILE1("ta.yaml", TA_HEAD "  env:\n    - parameter: bearerToken\n      name: EBB_TEST_UNSET\n"),
     0, "ta.yaml:8:13: spec.env[0].name: the environment variable \"EBB_TEST_UNSET\" is not set",
     1},
    {"auth: an empty environment variable is an error",
     FILE1("ta.yaml", TA_HEAD "  env:\n    - parameter: bearerToken\n      name: EBB_TEST_EMPTY\n"),
     0, "ta.yaml:8:13: spec.env[0].name: the secret is empty", 1},
    {"auth: a secret with a line break is an error (it would split a header)",
     FILE1("ta.yaml", TA_HEAD "  env:\n    - parameter: bearerToken\n      name: EBB_TEST_NL\n"), 0,
     "ta.yaml:8:13: spec.env[0].name: the secret holds a line break or a NUL byte: it must be one "
     "line of text",
     1},
    {"auth: an environment variable name must be valid",
     FILE1("ta.yaml", TA_HEAD "  env:\n    - parameter: bearerToken\n      name: PROM-TOKEN\n"), 0,
     "ta.yaml:8:13: spec.env[0].name: \"PROM-TOKEN\" is not a valid environment variable name", 1},
    {"auth: a parameter from a file, its trailing newline dropped",
     {{"token", "s3cret\n"},
      {"ta.yaml", TA_HEAD "  file:\n    - {parameter: bearerToken, path: token}\n"},
      {"so.yaml", SO_AUTH("bearer")}},
     0,
     NULL,
     0},
    {"auth: a secret file that does not exist is an error",
     FILE1("ta.yaml", TA_HEAD "  file:\n    - parameter: password\n      path: missing\n"), 0,
     "ta.yaml:8:13: spec.file[0].path: cannot read the secret file \"missing\": No such file or "
     "directory",
     1},
    {"auth: an empty secret file is an error",
     {{"token", "\n"},
      {"ta.yaml", TA_HEAD "  file:\n    - parameter: password\n      path: token\n"}},
     0,
     "ta.yaml:8:13: spec.file[0].path: the secret is empty",
     1},
    {"auth: a secret file of two lines is an error",
     {{"token", "a\nb\n"},
      {"ta.yaml", TA_HEAD "  file:\n    - parameter: password\n      path: token\n"}},
     0,
     "ta.yaml:8:13: spec.file[0].path: the secret holds a line break or a NUL byte: it must be "
     "one line of text",
     1},
    {"auth: secretTargetRef (a Kubernetes Secret) is not available on one machine",
     FILE1("ta.yaml",
           TA_HEAD "  secretTargetRef:\n    - {parameter: bearerToken, name: s, key: token}\n"),
     0,
     "ta.yaml:6:3: spec.secretTargetRef: is not available on one machine: ebb reads authParams "
     "from \"env\" (its own environment) or \"file\" (a file per value)",
     1},
    {"auth: a parameter is set once",
     {{"user", "bob\n"},
      {"ta.yaml", TA_HEAD "  env:\n    - {parameter: username, name: EBB_TEST_TOKEN}\n"
                          "  file:\n    - {parameter: username, path: user}\n"}},
     0,
     "ta.yaml:9:19: spec.file[0].parameter: parameter \"username\" is set twice",
     1},
    {"auth: an entry needs its parameter",
     FILE1("ta.yaml", TA_HEAD "  env:\n    - name: EBB_TEST_TOKEN\n"), 0,
     "ta.yaml:7:7: spec.env[0].parameter: is required (the authParams name, e.g. bearerToken)", 1},
    {"auth: an unknown field of an entry is an error",
     FILE1("ta.yaml", TA_HEAD "  env:\n    - {parameter: a, name: EBB_TEST_TOKEN, key: b}\n"), 0,
     "ta.yaml:7:44: spec.env[0].key: unknown field \"key\"", 1},
};

static const struct irow xref_rows[] = {
    {"xref: authenticationRef names a loaded TriggerAuthentication",
     FILE1("so.yaml", SO_AUTH("bearer")), 0,
     "so.yaml:12:15: spec.triggers[0].authenticationRef.name: no TriggerAuthentication \"ta\" is "
     "loaded in namespace \"default\"",
     1},
    {"xref: a TriggerAuthentication in another namespace is not found",
     {{"ta.yaml", "apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata:\n"
                  "  name: ta\n  namespace: other\nspec:\n"
                  "  env: [{parameter: bearerToken, name: EBB_TEST_TOKEN}]\n"},
      {"so.yaml", SO_AUTH("bearer")}},
     0,
     "so.yaml:12:15: spec.triggers[0].authenticationRef.name: no TriggerAuthentication \"ta\" is "
     "loaded in namespace \"default\"",
     1},
    {"xref: bearer needs bearerToken from the TriggerAuthentication",
     {{"ta.yaml", TA_HEAD "  env: [{parameter: username, name: EBB_TEST_TOKEN}]\n"},
      {"so.yaml", SO_AUTH("bearer")}},
     0,
     "so.yaml:10:88: spec.triggers[0].metadata.authModes: authModes bearer needs a \"bearerToken\" "
     "parameter from its TriggerAuthentication",
     1},
    {"xref: basic needs a username",
     {{"ta.yaml", TA_HEAD "  env: [{parameter: password, name: EBB_TEST_TOKEN}]\n"},
      {"so.yaml", SO_AUTH("basic")}},
     0,
     "so.yaml:10:88: spec.triggers[0].metadata.authModes: authModes basic needs a \"username\" "
     "parameter from its TriggerAuthentication",
     1},
    {"xref: custom needs a header and a value",
     {{"ta.yaml", TA_HEAD "  env: [{parameter: customAuthHeader, name: EBB_TEST_HEADER}]\n"},
      {"so.yaml", SO_AUTH("custom")}},
     0,
     "so.yaml:10:88: spec.triggers[0].metadata.authModes: authModes custom needs "
     "\"customAuthHeader\" and \"customAuthValue\" parameters from its TriggerAuthentication",
     1},
    {"xref: authModes may come from the TriggerAuthentication",
     {{"ta.yaml", TA_HEAD "  env:\n    - {parameter: authModes, name: EBB_TEST_MODES}\n"
                          "    - {parameter: bearerToken, name: EBB_TEST_TOKEN}\n"},
      {"so.yaml", SO_AUTH("''")}},
     0,
     NULL,
     0},
    {"xref: parameters without authModes are not sent (a warning)",
     {{"ta.yaml", TA_HEAD "  env: [{parameter: bearerToken, name: EBB_TEST_TOKEN}]\n"},
      {"so.yaml", SO_AUTH("''")}},
     0,
     "so.yaml:12:15: warning: spec.triggers[0].metadata.authModes: no authModes: the "
     "TriggerAuthentication's parameters are not sent (KEDA applies no auth without authModes)",
     0},
    {"xref: two ScaledObjects cannot scale one target",
     {{"a.yaml", SO_NAMED("a", "default", "app")}, {"b.yaml", SO_NAMED("b", "default", "app")}},
     0,
     "b.yaml:8:11: spec.scaleTargetRef.name: the workload \"app\" of type Deployment is already "
     "managed by the ScaledObject \"a\"",
     1},
    {"xref: a ScaledObject name is used once per namespace",
     {{"a.yaml", SO_NAMED("a", "default", "app")}, {"b.yaml", SO_NAMED("a", "default", "other")}},
     0,
     "b.yaml:4:9: metadata.name: ScaledObject \"a\" is defined twice",
     1},
    {"xref: the same names in two namespaces are two objects",
     {{"a.yaml", SO_NAMED("a", "default", "app")}, {"b.yaml", SO_NAMED("a", "prod", "app")}},
     0,
     NULL,
     0},
    {"xref: with --local, scaleTargetRef names a loaded LocalDeployment",
     FILE1("a.yaml", SO_NAMED("a", "default", "app")), CONFIG_LOCAL,
     "a.yaml:8:11: spec.scaleTargetRef.name: no LocalDeployment \"app\" is loaded in namespace "
     "\"default\" (a Deployment is run as the LocalDeployment of the same name)",
     1},
    {"xref: with --local, a Deployment runs as the LocalDeployment of its name",
     {{"a.yaml", SO_NAMED("a", "default", "app")}, {"app.yaml", LD("app", "8000")}},
     CONFIG_LOCAL,
     NULL,
     0},
    {"xref: with --local, a StatefulSet cannot be a target",
     FILE1("a.yaml",
           "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: a}\nspec:\n"
           "  scaleTargetRef: {name: app, kind: StatefulSet}\n  triggers:\n"
           "    - type: prometheus\n"
           "      metadata: {serverAddress: 'http://p:9090', query: up, threshold: '5'}\n"),
     CONFIG_LOCAL,
     "a.yaml:5:37: spec.scaleTargetRef.kind: apps/v1 StatefulSet cannot run on one machine: the "
     "target "
     "must be a Deployment (apps/v1, run as the LocalDeployment of the same name) or a "
     "LocalDeployment (ebb/v1alpha1)",
     1},
    {"xref: without --local, the target need not be loaded",
     FILE1("a.yaml", SO_NAMED("a", "default", "app")), 0, NULL, 0},
    {"xref: a LocalDeployment name is used once per namespace",
     {{"a.yaml", LD("app", "8000")}, {"b.yaml", LD("app", "9000")}},
     0,
     "b.yaml:4:9: metadata.name: LocalDeployment \"app\" is defined twice (first at a.yaml:4)",
     1},
    {"xref: the ports of two LocalDeployments do not overlap",
     {{"a.yaml", LD("a", "8000")}, {"b.yaml", LD("b", "8000")}},
     CONFIG_LOCAL,
     "b.yaml:7:13: spec.basePort: ports 8000-8000 overlap ports 8000-8000 of LocalDeployment "
     "\"a\"",
     1},
    {"xref: maxReplicaCount replicas from basePort stay below port 65536",
     {{"a.yaml", SO_NAMED("a", "default", "app")}, {"app.yaml", LD("app", "65500")}},
     CONFIG_LOCAL,
     "app.yaml:7:13: spec.basePort: up to 100 replicas from port 65500 pass port 65535",
     1},
};

static const struct irow ld_rows[] = {
    {"ld: model is required",
     FILE1("ld.yaml", "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata:\n  name: app\n"
                      "spec:\n" LD_CMD),
     0,
     "ld.yaml:6:3: spec.model: is required (the model name the replicas serve, as clients ask for "
     "it)",
     1},
    {"ld: command is required", FILE1("ld.yaml", LD_HEAD), 0,
     "ld.yaml:6:3: spec.command: is required (the replica's argv, e.g. [\"vllm\", \"serve\", "
     "\"--port\", \"${PORT}\"])",
     1},
    {"ld: command is a list of strings", FILE1("ld.yaml", LD_HEAD "  command: [ebb, 8000]\n"), 0,
     "ld.yaml:7:18: spec.command[1]: must be a string, got the number 8000 (quote it: \"8000\")",
     1},
    {"ld: only ${PORT}, ${INDEX} and ${MODEL} are substituted",
     FILE1("ld.yaml", LD_HEAD "  command: [ebb, engine, --port, '${PORT}', '${GPU}']\n"), 0,
     "ld.yaml:7:45: spec.command[4]: unknown variable \"${GPU}\": use ${PORT}, ${INDEX} or "
     "${MODEL} (and $$ for a literal $)",
     1},
    {"ld: env values are strings",
     FILE1("ld.yaml", LD_HEAD LD_CMD "  env:\n    CUDA_VISIBLE_DEVICES: 0\n"), 0,
     "ld.yaml:9:27: spec.env.CUDA_VISIBLE_DEVICES: must be a string, got the number 0 (quote it: "
     "\"0\")",
     1},
    {"ld: env names are environment variable names",
     FILE1("ld.yaml", LD_HEAD LD_CMD "  env:\n    CUDA-DEVICES: '0'\n"), 0,
     "ld.yaml:9:19: spec.env.CUDA-DEVICES: is not a valid environment variable name", 1},
    {"ld: replicas is not negative", FILE1("ld.yaml", LD_HEAD LD_CMD "  replicas: -1\n"), 0,
     "ld.yaml:8:13: spec.replicas: must be between 0 and 65535, got -1", 1},
    {"ld: basePort is a port", FILE1("ld.yaml", LD_HEAD LD_CMD "  basePort: 70000\n"), 0,
     "ld.yaml:8:13: spec.basePort: must be between 1 and 65535, got 70000", 1},
    {"ld: the probe's path starts with /",
     FILE1("ld.yaml", LD_HEAD LD_CMD "  readinessProbe:\n    httpGet: {path: health}\n"), 0,
     "ld.yaml:9:21: spec.readinessProbe.httpGet.path: must start with '/', got \"health\"", 1},
    {"ld: the probe is an httpGet",
     FILE1("ld.yaml", LD_HEAD LD_CMD "  readinessProbe:\n    exec: {command: [true]}\n"), 0,
     "ld.yaml:9:5: spec.readinessProbe.exec: is not supported: a LocalDeployment probes with "
     "httpGet",
     -1},
    {"ld: the probe's periodSeconds is at least 1",
     FILE1("ld.yaml", LD_HEAD LD_CMD "  readinessProbe:\n    httpGet: {path: /health}\n"
                                     "    periodSeconds: 0\n"),
     0, "ld.yaml:10:20: spec.readinessProbe.periodSeconds: must be at least 1, got 0", 1},
    {"ld: the probe's port is a number, not a name",
     FILE1("ld.yaml",
           LD_HEAD LD_CMD "  readinessProbe:\n    httpGet: {path: /health, port: http}\n"),
     0, "ld.yaml:9:36: spec.readinessProbe.httpGet.port: must be a whole number, got \"http\"", 1},
    {"ld: a command without ${PORT} warns", FILE1("ld.yaml", LD_HEAD "  command: [sleep, '100']\n"),
     0,
     "ld.yaml:7:12: warning: spec.command: ${PORT} appears in neither command nor env: every "
     "replica is started with the same arguments and cannot listen on its own port",
     0},
    {"ld: terminationGracePeriodSeconds is not negative",
     FILE1("ld.yaml", LD_HEAD LD_CMD "  terminationGracePeriodSeconds: -1\n"), 0,
     "ld.yaml:8:34: spec.terminationGracePeriodSeconds: must be at least 0, got -1", 1},
    {"ld: the name is a DNS subdomain",
     FILE1("ld.yaml", "apiVersion: ebb/v1alpha1\nkind: LocalDeployment\nmetadata:\n  name: My_App\n"
                      "spec:\n  model: m\n" LD_CMD),
     0,
     "ld.yaml:4:9: metadata.name: \"My_App\" is not a valid name: use lower case letters, digits, "
     "'-' and '.', starting and ending with a letter or digit",
     1},
};

int main(void)
{
    setenv("EBB_TEST_TOKEN", "s3cret", 1);
    setenv("EBB_TEST_EMPTY", "", 1);
    setenv("EBB_TEST_NL", "a\nb", 1);
    setenv("EBB_TEST_HEADER", "X-Token", 1);
    setenv("EBB_TEST_MODES", "bearer", 1);
    unsetenv("EBB_TEST_UNSET");
    int rc = 0;
    rc |= RUN_ROWS("config rules: TriggerAuthentication", auth_rows, check_irow);
    rc |= RUN_ROWS("config rules: across objects", xref_rows, check_irow);
    rc |= RUN_ROWS("config rules: LocalDeployment", ld_rows, check_irow);
    return rc;
}
