/* deployment: the LocalDeployment document (ebb/v1alpha1, design.md §4):
 * what a replica is on one machine. Field names and defaults follow a
 * Kubernetes Deployment's pod spec where there is one (replicas 1,
 * terminationGracePeriodSeconds 30, the probe's 10 s period, 1 s timeout,
 * 3 failures); basePort, logDir and the ${PORT}/${INDEX}/${MODEL}
 * substitutions are what a local process pool needs besides. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/decode.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define LD_REPLICAS_DEFAULT 1
#define LD_BASE_PORT_DEFAULT 8000
#define LD_GRACE_DEFAULT_S 30
#define LD_LOG_DIR_PREFIX "ebb-logs/"

static const char *const vars[] = {"PORT", "INDEX", "MODEL"};

/* The variable "${NAME}" starting at s, or -1. *len gets its length. */
static int var_at(const char *s, size_t *len)
{
    for (size_t i = 0; i < N(vars); i++) {
        size_t n = strlen(vars[i]);
        if (strncmp(s, "${", 2) == 0 && strncmp(s + 2, vars[i], n) == 0 && s[2 + n] == '}') {
            *len = n + 3;
            return (int)i;
        }
    }
    return -1;
}

int cfg_expand(const char *tmpl, const struct cfg_replica_vars *v, struct buf *out)
{
    const char *p = tmpl;
    while (*p) {
        size_t len;
        int var = *p == '$' ? var_at(p, &len) : -1;
        int rc;
        if (strncmp(p, "$$", 2) == 0) {
            rc = buf_append(out, "$", 1);
            p += 2;
        } else if (var == 0 || var == 1) {
            rc = buf_appendf(out, "%d", var == 0 ? v->port : v->index);
            p += len;
        } else if (var == 2) {
            rc = buf_append_str(out, v->model ? v->model : "");
            p += len;
        } else {
            size_t run = strcspn(p + 1, "$") + 1;
            rc = buf_append(out, p, run);
            p += run;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Refuses any "${" that is not a known variable; *uses_port is set when
 * ${PORT} appears. */
static void check_template(struct dec *d, struct cfg_pos pos, const char *s, bool *uses_port)
{
    for (const char *p = s; *p; p++) {
        if (strncmp(p, "$$", 2) == 0) {
            p++;
            continue;
        }
        if (strncmp(p, "${", 2) != 0)
            continue;
        size_t len;
        int var = var_at(p, &len);
        if (var < 0) {
            size_t shown = strcspn(p, "}");
            dec_error(d, pos,
                      "unknown variable \"%.*s%s\": use ${PORT}, ${INDEX} or ${MODEL} (and $$ "
                      "for a literal $)",
                      shown > 48 ? 48 : (int)shown, p, p[shown] == '}' ? "}" : "");
            return;
        }
        *uses_port = *uses_port || var == 0;
        p += len - 1;
    }
}

static int check_range(struct dec *d, const struct ynode *map, const char *key, int32_t v,
                       int32_t min, int32_t max)
{
    if (v >= min && v <= max)
        return 0;
    if (max == INT32_MAX)
        dec_error_key(d, dec_pos(d, dec_get(map, key)), key, "must be at least %d, got %d", min, v);
    else
        dec_error_key(d, dec_pos(d, dec_get(map, key)), key, "must be between %d and %d, got %d",
                      min, max, v);
    return -1;
}

/* An optional int32 field with a default and a range. */
static void get_int(struct dec *d, const struct ynode *map, const char *key, int32_t def,
                    int32_t min, int32_t max, int32_t *out)
{
    *out = def;
    if (dec_int32(d, map, key, out) > 0 && check_range(d, map, key, *out, min, max) < 0)
        *out = def; /* so that rules built on it do not report it again */
}

static void decode_http_get(struct dec *d, const struct ynode *probe, struct cfg_probe *p)
{
    static const char *const known[] = {"path", "port"};
    const struct ynode *get;
    p->path = "/";
    if (dec_map_req(d, probe, "httpGet", "the HTTP check, e.g. {path: /health}", &get) <= 0)
        return;
    size_t s = dec_push(d, "httpGet");
    dec_known(d, get, known, N(known));
    if (dec_str(d, get, "path", &p->path) > 0 && p->path[0] != '/')
        dec_error_key(d, dec_pos(d, dec_get(get, "path")), "path",
                      "must start with '/', got \"%.64s\"", p->path);
    const struct ynode *port = dec_get(get, "port");
    if (port && port->kind == YN_SCALAR && !port->plain)
        dec_error_key(d, dec_pos(d, port), "port",
                      "must be a port number; named ports do not exist here (leave it out to "
                      "probe each replica's ${PORT})");
    else
        get_int(d, get, "port", 0, 1, 65535, &p->port);
    dec_pop(d, s);
}

static void decode_probe(struct dec *d, const struct ynode *spec, struct cfg_probe *p)
{
    static const char *const known[] = {"httpGet",        "initialDelaySeconds", "periodSeconds",
                                        "timeoutSeconds", "failureThreshold",    "successThreshold",
                                        "exec",           "tcpSocket",           "grpc"};
    const struct ynode *probe;
    if (dec_map(d, spec, "readinessProbe", &probe) <= 0)
        return;
    size_t s = dec_push(d, "readinessProbe");
    dec_known(d, probe, known, N(known));
    p->set = true;
    for (size_t i = 6; i < N(known); i++) {
        if (ymap_get(probe, known[i]))
            dec_error_key(d, dec_pos(d, ymap_get_key(probe, known[i])), known[i],
                          "is not supported: a LocalDeployment probes with httpGet");
    }
    decode_http_get(d, probe, p);
    get_int(d, probe, "initialDelaySeconds", 0, 0, INT32_MAX, &p->initial_delay_s);
    get_int(d, probe, "periodSeconds", 10, 1, INT32_MAX, &p->period_s);
    get_int(d, probe, "timeoutSeconds", 1, 1, INT32_MAX, &p->timeout_s);
    get_int(d, probe, "failureThreshold", 3, 1, INT32_MAX, &p->failure_threshold);
    get_int(d, probe, "successThreshold", 1, 1, INT32_MAX, &p->success_threshold);
    dec_pop(d, s);
}

static void decode_process(struct dec *d, const struct ynode *spec, struct cfg_deployment *dp)
{
    bool uses_port = false;
    int rc = dec_str_list(d, spec, "command", &dp->command, &dp->n_command);
    if (rc == 0 && !dec_get(spec, "command"))
        dec_required(d, spec, "command",
                     "the replica's argv, e.g. [\"vllm\", \"serve\", \"--port\", \"${PORT}\"]");
    const struct ynode *cmd = dec_get(spec, "command");
    if (rc > 0 && (dp->n_command == 0 || dp->command[0][0] == '\0'))
        dec_error_key(d, dec_pos(d, cmd), "command", "must name a program to run");
    size_t s = dec_push(d, "command");
    for (size_t i = 0; rc > 0 && i < dp->n_command; i++) {
        size_t si = dec_push_index(d, i);
        check_template(d, dec_pos(d, cmd->items[i]), dp->command[i], &uses_port);
        dec_pop(d, si);
    }
    dec_pop(d, s);
    rc = dec_str_map(d, spec, "env", &dp->env, &dp->n_env);
    s = dec_push(d, "env");
    for (size_t i = 0; rc > 0 && i < dp->n_env; i++) {
        if (!env_var_name(dp->env[i].key))
            dec_error_key(d, dp->env[i].pos, dp->env[i].key,
                          "is not a valid environment variable name");
        size_t sk = dec_push(d, dp->env[i].key);
        check_template(d, dp->env[i].pos, dp->env[i].value, &uses_port);
        dec_pop(d, sk);
    }
    dec_pop(d, s);
    if (dp->n_command && !uses_port)
        dec_warn_key(d, dec_pos(d, cmd), "command",
                     "${PORT} appears in neither command nor env: every replica is started "
                     "with the same arguments and cannot listen on its own port");
    dp->working_dir = "";
    dec_str(d, spec, "workingDir", &dp->working_dir);
    if (dec_str(d, spec, "logDir", &dp->log_dir) <= 0 && dp->name) {
        size_t len = strlen(LD_LOG_DIR_PREFIX) + strlen(dp->name) + 1;
        char *dir = arena_alloc(&d->c->arena, len);
        if (dir)
            snprintf(dir, len, "%s%s", LD_LOG_DIR_PREFIX, dp->name);
        dp->log_dir = dir;
    }
}

static void decode_spec(struct dec *d, const struct ynode *spec, struct cfg_deployment *dp)
{
    static const char *const known[] = {
        "replicas", "model",          "command",
        "env",      "workingDir",     "logDir",
        "basePort", "readinessProbe", "terminationGracePeriodSeconds"};
    size_t s = dec_push(d, "spec");
    dec_known(d, spec, known, N(known));
    get_int(d, spec, "replicas", LD_REPLICAS_DEFAULT, 0, 65535, &dp->replicas);
    if (dec_str_req(d, spec, "model", "the model name the replicas serve, as clients ask for it",
                    &dp->model) > 0 &&
        !dp->model[0])
        dec_error_key(d, dec_pos(d, dec_get(spec, "model")), "model", "must not be empty");
    decode_process(d, spec, dp);
    get_int(d, spec, "basePort", LD_BASE_PORT_DEFAULT, 1, 65535, &dp->base_port);
    dp->base_port_pos = dec_pos(d, dec_get(spec, "basePort") ? dec_get(spec, "basePort") : spec);
    if (dp->replicas > 0 && dp->base_port + dp->replicas - 1 > 65535)
        dec_error_key(d, dec_pos(d, dec_get(spec, "basePort")), "basePort",
                      "%d replicas from port %d pass port 65535", dp->replicas, dp->base_port);
    decode_probe(d, spec, &dp->readiness);
    get_int(d, spec, "terminationGracePeriodSeconds", LD_GRACE_DEFAULT_S, 0, INT32_MAX,
            &dp->termination_grace_s);
    dec_pop(d, s);
}

void deployment_decode(struct dec *d, const struct ynode *root)
{
    static const char *const known[] = {"apiVersion", "kind", "metadata", "spec", "status"};
    struct cfg_deployment *dp = arena_alloc(&d->c->arena, sizeof(*dp));
    if (!dp) {
        dec_error(d, dec_pos(d, root), "out of memory");
        return;
    }
    dec_known(d, root, known, N(known));
    struct cfg_meta m;
    dec_meta(d, root, true, &m);
    dp->name = m.name;
    dp->namespace_ = m.namespace_;
    dp->pos = m.pos;
    dp->name_pos = m.name_pos;
    dec_check_name(d, &m);
    const struct ynode *spec;
    if (dec_map_req(d, root, "spec", "model and command", &spec) > 0)
        decode_spec(d, spec, dp);
    dp->errors = d->errors;
    dec_added(d, config_add_deployment(d->c, dp), dp->pos);
}
