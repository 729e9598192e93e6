/* config: the manifests ebb reads — KEDA ScaledObjects and
 * TriggerAuthentications unchanged, and ebb's LocalDeployment — loaded from
 * multi-document YAML files into plain structs (docs/config.md).
 *
 * Use:
 *     struct config c;
 *     config_init(&c);
 *     config_load_file(&c, "so.yaml");        // every file, whatever the last one said
 *     config_load_file(&c, "deploy.yaml");
 *     if (config_check(&c, CONFIG_LOCAL) > 0)  // cross-file rules, once, after the last load
 *         ... print c.issues, exit non-zero, touch nothing
 *     ... use c.sos, c.auths, c.deployments ...
 *     config_release(&c);
 *
 * Every problem becomes a struct cfg_issue with file:line:col, the field's
 * path and a message for people; loading never stops at the first one. The
 * objects of an invalid configuration are kept (so that the cross-file checks
 * see them) but must not be used: a caller acts only when config_errors() is 0.
 *
 * Everything a config holds — objects, strings, resolved secrets — lives in
 * its arena and stays valid until config_release. */
#ifndef EBB_CONFIG_CONFIG_H
#define EBB_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "config/arena.h"
#include "scale/spec.h"

#define CONFIG_FILE_MAX (4u << 20)    /* bytes in one file */
#define CONFIG_DOCS_MAX 4096          /* documents in one file */
#define CONFIG_OBJECTS_MAX 4096       /* objects of all kinds, across files */
#define CONFIG_ISSUES_MAX 1000        /* issues kept; more are counted in issues_dropped */
#define CONFIG_ARENA_MAX (256u << 20) /* bytes of objects and strings */
#define CONFIG_SECRET_MAX 65536       /* bytes in one secret file */
#define CONFIG_LIST_MAX 256           /* command arguments, env entries, metadata pairs... */
#define CONFIG_PATH_MAX 256           /* an issue's field path */
#define CONFIG_MSG_MAX 512            /* an issue's message */

#define KEDA_API_VERSION "keda.sh/v1alpha1"
#define EBB_API_VERSION "ebb/v1alpha1"

/* Where something is written: file name (owned by the config) and 1-based
 * line and column. line 0: nowhere in particular (the file as a whole). */
struct cfg_pos {
    const char *file;
    int line, col;
};

/* One problem. Errors make the configuration invalid; warnings do not. */
struct cfg_issue {
    bool warning;
    struct cfg_pos pos;
    const char *path; /* "spec.triggers[0].metadata.threshold", "" for the document */
    const char *msg;  /* lower case, the problem first */
};

/* A string pair in file order (metadata, labels, env, key=value lists). */
struct cfg_kv {
    const char *key;
    const char *value;
    struct cfg_pos pos; /* of the value */
};

/* authModes of the prometheus trigger (KEDA's authentication.AuthType). */
enum cfg_auth_mode {
    CFG_AUTH_BEARER = 1u << 0,
    CFG_AUTH_BASIC = 1u << 1,
    CFG_AUTH_CUSTOM = 1u << 2,
    CFG_AUTH_TLS = 1u << 3,
    CFG_AUTH_API_KEY = 1u << 4,
    CFG_AUTH_OAUTH = 1u << 5,
};

/* A prometheus trigger's metadata, typed (keda-hpa-spec.md §3.1), and the
 * auth it will send, resolved by config_check from its TriggerAuthentication. */
struct cfg_prometheus {
    const char *server_address; /* URL prefix, used verbatim */
    const char *query;
    double threshold;            /* the HPA target */
    double activation_threshold; /* default 0 */
    const char *namespace_;      /* "" when unset: &namespace= is not sent */
    struct cfg_kv *query_params; /* queryParameters, in file order */
    size_t n_query_params;
    struct cfg_kv *custom_headers; /* customHeaders */
    size_t n_custom_headers;
    bool ignore_null_values;       /* default true */
    bool unsafe_ssl;               /* default false */
    int64_t timeout_ms;            /* 0: the global default, 3000 ms */
    unsigned auth_modes;           /* enum cfg_auth_mode bits, from metadata or authParams */
    struct cfg_pos auth_modes_pos; /* of metadata.authModes; line 0 when not there */
    const char *metric_name;       /* ignored since KEDA v2.12; NULL when absent */
    const char *aws_region;        /* ignored by ebb; NULL when absent */
    /* Secrets from the TriggerAuthentication, NULL when not used. */
    const char *bearer_token;
    const char *username, *password;
    const char *custom_auth_header, *custom_auth_value;
};

struct cfg_auth;
struct cfg_deployment;

struct cfg_trigger {
    const char *type;        /* as written: "prometheus", "cpu", ... */
    struct cfg_kv *metadata; /* every pair of triggers[].metadata, in file order */
    size_t n_metadata;
    const char *auth_ref_name; /* authenticationRef.name, NULL when absent */
    bool auth_ref_cluster;     /* authenticationRef.kind ClusterTriggerAuthentication */
    struct cfg_pos auth_ref_pos;
    const struct cfg_auth *auth; /* the TriggerAuthentication, set by config_check */
    bool is_prometheus;          /* prom is filled in */
    struct cfg_prometheus prom;
    struct cfg_pos pos;
};

/* A ScaledObject: so_spec holds what the policy reads (defaults applied),
 * the rest is what the live loop needs beside it. */
struct cfg_scaled_object {
    struct so_spec spec;
    const char *namespace_; /* default "default" */
    struct cfg_kv *labels;
    size_t n_labels;
    struct cfg_kv *annotations;
    size_t n_annotations;
    const char *env_source_container;    /* scaleTargetRef.envSourceContainerName, or NULL */
    bool restore_to_original;            /* advanced.restoreToOriginalReplicaCount */
    struct cfg_trigger *triggers;        /* spec.n_triggers of them */
    const struct cfg_deployment *target; /* set by config_check(CONFIG_LOCAL) */
    struct cfg_pos pos, name_pos, target_pos;
    struct cfg_pos target_kind_pos; /* of scaleTargetRef.kind; target_pos when not written */
    int errors;                     /* errors found in this object's document */
};

/* One parameter of a TriggerAuthentication (KEDA's authParams). */
struct cfg_auth_param {
    const char *parameter; /* "bearerToken", "username", ... */
    char *value;           /* the secret: never print it; NULL when not read. Owned
                            * by the config, wiped by config_release */
    const char *source;    /* "env PROM_TOKEN", "file /run/secrets/token" */
    const char *path;      /* where it is set: "spec.env[0].name" */
    struct cfg_pos pos;
};

/* A TriggerAuthentication or ClusterTriggerAuthentication. */
struct cfg_auth {
    const char *name;
    const char *namespace_; /* "default"; "" for a ClusterTriggerAuthentication */
    bool cluster;
    struct cfg_auth_param *params;
    size_t n_params;
    struct cfg_pos pos, name_pos;
    int errors;
};

/* readinessProbe of a LocalDeployment (a Kubernetes probe, httpGet only). */
struct cfg_probe {
    bool set;                  /* false: a replica is ready once it has started */
    const char *path;          /* httpGet.path, default "/" */
    int32_t port;              /* httpGet.port; 0: the replica's ${PORT} */
    int32_t initial_delay_s;   /* default 0 */
    int32_t period_s;          /* default 10 */
    int32_t timeout_s;         /* default 1 */
    int32_t failure_threshold; /* default 3 */
    int32_t success_threshold; /* default 1 */
};

/* A LocalDeployment: what a replica is on one machine (design.md §4). */
struct cfg_deployment {
    const char *name;
    const char *namespace_; /* default "default" */
    int32_t replicas;       /* default 1 */
    const char *model;      /* the model the replicas serve */
    const char **command;   /* argv; ${PORT}, ${INDEX}, ${MODEL} substituted per replica */
    size_t n_command;
    struct cfg_kv *env; /* added to ebb's environment, same substitution */
    size_t n_env;
    const char *working_dir; /* "" : ebb's working directory */
    const char *log_dir;     /* default "ebb-logs/<name>" */
    int32_t base_port;       /* replica i listens on base_port + i; default 8000 */
    struct cfg_pos base_port_pos;
    struct cfg_probe readiness;
    int32_t termination_grace_s; /* default 30 */
    struct cfg_pos pos, name_pos;
    int errors;
};

struct config {
    struct cfg_scaled_object **sos;
    size_t n_sos;
    struct cfg_auth **auths;
    size_t n_auths;
    struct cfg_deployment **deployments;
    size_t n_deployments;
    struct cfg_issue *issues; /* in the order found */
    size_t n_issues, cap_issues;
    size_t issues_dropped; /* past CONFIG_ISSUES_MAX */
    int errors, warnings;
    size_t n_files;
    /* Read secret files and environment variables while loading (default
     * true). The fuzz target turns it off. */
    bool read_secrets;
    bool checked; /* config_check has run */
    struct arena arena;
};

/* Cross-file checks (config_check flags). */
#define CONFIG_LOCAL 1u /* every scaleTargetRef must name a loaded LocalDeployment */

/* Empties c, ready to load. Allocates nothing. */
void config_init(struct config *c);
/* Frees everything c holds; secret values are wiped first. */
void config_release(struct config *c);

/* Loads every document of the file at path (at most CONFIG_FILE_MAX bytes).
 * 0 when the file added no error, -EINVAL when it did (see c->issues),
 * -ENOMEM. The file name in issues is path as given. */
int config_load_file(struct config *c, const char *path);
/* The same for a file already in memory: data[0..len), named name in issues. */
int config_load_buffer(struct config *c, const char *name, const char *data, size_t len);

/* The rules that span objects: one ScaledObject per scale target and per
 * name (so_specs_validate_set, within a namespace), every authenticationRef
 * names a loaded TriggerAuthentication that has what the trigger's authModes
 * need, unique names per kind, and with CONFIG_LOCAL every scaleTargetRef
 * names a loaded LocalDeployment (a Deployment of that name runs as one)
 * whose ports stay in range. Sets the cfg_trigger.auth and target pointers.
 * Call once, after the last load. Returns config_errors(c). */
int config_check(struct config *c, unsigned flags);

/* Errors found so far (loading and checking); the configuration may be used
 * only when this is 0. */
int config_errors(const struct config *c);

/* Looks up objects by namespace and name (namespace NULL: any). */
const struct cfg_deployment *config_find_deployment(const struct config *c, const char *ns,
                                                    const char *name);
const struct cfg_auth *config_find_auth(const struct config *c, const char *ns, const char *name,
                                        bool cluster);
/* A TriggerAuthentication parameter's value, or NULL. */
const char *cfg_auth_get(const struct cfg_auth *a, const char *parameter);

/* Appends "file:line:col: [warning: ]path: message\n" for every issue, and a
 * last line when some were dropped. 0 or -ENOBUFS. */
int config_format_issues(const struct config *c, struct buf *out);
/* Appends what was understood: every object with its effective values
 * (defaults marked), triggers with their queries, auth with secrets
 * redacted. Stable: the same files give the same text. 0 or -ENOBUFS. */
int config_format(const struct config *c, struct buf *out);

/* Values substituted into a LocalDeployment's command and env. */
struct cfg_replica_vars {
    int32_t port;
    int32_t index;
    const char *model;
};

/* Writes tmpl with ${PORT}, ${INDEX} and ${MODEL} replaced and "$$" as "$"
 * (the loader has refused every other "${"). 0 or -ENOBUFS. */
int cfg_expand(const char *tmpl, const struct cfg_replica_vars *v, struct buf *out);

/* `ebb autoscaler --check`: -f FILE (repeatable) and --local; prints the
 * issues on stderr and, when valid, what was understood on stdout.
 * Returns 0 when valid, 1 when not, 2 on a usage error. */
int config_check_main(int argc, char **argv);

/* What `ebb autoscaler` and `ebb up` do before they start anything: load
 * every file into c (initialized), check it with CONFIG_LOCAL, print the
 * issues on stderr, and refuse a configuration with errors or without a
 * ScaledObject ("prog: ...; nothing was started"). 0 or a negative errno. */
int config_load_run(struct config *c, const char *const *files, size_t n, const char *prog);

#endif
