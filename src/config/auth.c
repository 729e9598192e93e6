/* auth: TriggerAuthentication and ClusterTriggerAuthentication documents.
 *
 * KEDA fills a trigger's authParams from Kubernetes Secrets
 * (secretTargetRef), the target container's environment (env), and external
 * stores. On one machine ebb reads the two local equivalents, when the file
 * is loaded: `env` (KEDA's field, read from ebb's own environment) and
 * `file` (ebb's, a file holding the value, as a mounted Secret would). The
 * other sources are KEDA fields ebb cannot serve: errors that say so.
 * Secret values never appear in a message. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/decode.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The fields of a TriggerAuthentication's spec: ebb's two sources, then
 * KEDA's others, which ebb cannot serve. */
static const char *const spec_fields[] = {
    "env",
    "file",
    "secretTargetRef",
    "configMapTargetRef",
    "podIdentity",
    "hashiCorpVault",
    "azureKeyVault",
    "awsSecretManager",
    "gcpSecretManager",
    "boundServiceAccountToken",
};
#define FIRST_UNSUPPORTED 2

/* Checks a secret's text and keeps a copy. A line break would split an HTTP
 * header, so a secret is one line; one trailing newline (as `echo` writes)
 * was dropped before. */
static int keep_secret(struct dec *d, struct cfg_pos pos, const char *key, const char *v,
                       size_t len, char **out)
{
    if (len == 0) {
        dec_error_key(d, pos, key, "the secret is empty");
        return -1;
    }
    if (memchr(v, '\n', len) || memchr(v, '\r', len) || memchr(v, '\0', len)) {
        dec_error_key(d, pos, key,
                      "the secret holds a line break or a NUL byte: it must be one line of text");
        return -1;
    }
    *out = arena_strndup(&d->c->arena, v, len);
    return *out ? 0 : -1;
}

static int read_secret_file(struct dec *d, struct cfg_pos pos, const char *path, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : EINVAL;
        if (fd >= 0)
            close(fd);
        dec_error_key(d, pos, "path", "cannot read the secret file \"%.128s\": %s", path,
                      err == EINVAL ? "not a regular file" : strerror(err));
        return -1;
    }
    char *buf = malloc(CONFIG_SECRET_MAX + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n <= CONFIG_SECRET_MAX) {
        r = read(fd, buf + n, CONFIG_SECRET_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    int err = r < 0 ? errno : 0;
    close(fd);
    int rc = -1;
    if (!buf)
        dec_error_key(d, pos, "path", "out of memory");
    else if (err)
        dec_error_key(d, pos, "path", "cannot read the secret file \"%.128s\": %s", path,
                      strerror(err));
    else if (n > CONFIG_SECRET_MAX)
        dec_error_key(d, pos, "path", "the secret file \"%.128s\" is longer than %d bytes", path,
                      CONFIG_SECRET_MAX);
    else {
        if (n && buf[n - 1] == '\n')
            n--;
        if (n && buf[n - 1] == '\r')
            n--;
        rc = keep_secret(d, pos, "path", buf, n, out);
    }
    if (buf) {
        explicit_bzero(buf, CONFIG_SECRET_MAX + 1);
        free(buf);
    }
    return rc;
}

/* One entry of spec.env or spec.file. */
static void decode_source(struct dec *d, const struct ynode *e, bool is_env,
                          struct cfg_auth_param *p, struct cfg_pos *param_pos)
{
    static const char *const env_known[] = {"parameter", "name", "containerName"};
    static const char *const file_known[] = {"parameter", "path"};
    if (!dec_is_map(d, e, is_env ? "parameter and name" : "parameter and path"))
        return;
    dec_known(d, e, is_env ? env_known : file_known, is_env ? N(env_known) : N(file_known));
    p->pos = dec_pos(d, e);
    *param_pos = dec_pos(d, dec_get(e, "parameter") ? dec_get(e, "parameter") : e);
    dec_str_req(d, e, "parameter", "the authParams name, e.g. bearerToken", &p->parameter);
    const char *key = is_env ? "name" : "path";
    const char *src = NULL;
    dec_str_req(d, e, key, is_env ? "the environment variable to read" : "the file to read", &src);
    if (!src)
        return;
    p->pos = dec_pos(d, dec_get(e, key));
    size_t sk = dec_push(d, key);
    p->path = arena_strdup(&d->c->arena, d->path);
    dec_pop(d, sk);
    char *desc = arena_alloc(&d->c->arena, strlen(src) + 8);
    if (desc)
        snprintf(desc, strlen(src) + 8, "%s %s", is_env ? "env" : "file", src);
    p->source = desc;
    if (is_env && dec_get(e, "containerName"))
        dec_warn_key(d, dec_pos(d, dec_get(e, "containerName")), "containerName",
                     "is ignored: ebb reads its own environment");
    if (is_env && !env_var_name(src)) {
        dec_error_key(d, p->pos, key, "\"%.64s\" is not a valid environment variable name", src);
        return;
    }
    if (!d->c->read_secrets)
        return;
    if (!is_env) {
        read_secret_file(d, p->pos, src, &p->value);
        return;
    }
    const char *v = getenv(src);
    if (!v)
        dec_error_key(d, p->pos, key, "the environment variable \"%.64s\" is not set", src);
    else
        keep_secret(d, p->pos, key, v, strlen(v), &p->value);
}

static void decode_sources(struct dec *d, const struct ynode *spec, bool is_env, struct cfg_auth *a,
                           size_t cap)
{
    const char *key = is_env ? "env" : "file";
    const struct ynode *list;
    if (dec_seq(d, spec, key, &list) <= 0)
        return;
    size_t s = dec_push(d, key);
    for (size_t i = 0; i < list->n; i++) {
        if (a->n_params >= cap) {
            dec_error(d, dec_pos(d, list->items[i]), "more than %d parameters", CONFIG_LIST_MAX);
            break;
        }
        size_t si = dec_push_index(d, i);
        struct cfg_auth_param *p = &a->params[a->n_params];
        struct cfg_pos param_pos;
        memset(p, 0, sizeof(*p));
        decode_source(d, list->items[i], is_env, p, &param_pos);
        bool dup = false;
        for (size_t j = 0; p->parameter && j < a->n_params && !dup; j++)
            dup = a->params[j].parameter && strcmp(a->params[j].parameter, p->parameter) == 0;
        if (dup)
            dec_error_key(d, param_pos, "parameter", "parameter \"%.64s\" is set twice",
                          p->parameter);
        else if (p->parameter)
            a->n_params++;
        dec_pop(d, si);
    }
    dec_pop(d, s);
}

void auth_decode(struct dec *d, const struct ynode *root, bool cluster)
{
    static const char *const known[] = {"apiVersion", "kind", "metadata", "spec", "status"};
    struct cfg_auth *a = arena_alloc(&d->c->arena, sizeof(*a));
    if (!a) {
        dec_error(d, dec_pos(d, root), "out of memory");
        return;
    }
    a->cluster = cluster;
    dec_known(d, root, known, N(known));
    struct cfg_meta m;
    dec_meta(d, root, !cluster, &m);
    a->name = m.name;
    a->namespace_ = m.namespace_;
    a->pos = m.pos;
    a->name_pos = m.name_pos;
    dec_check_name(d, &m);
    const struct ynode *spec;
    int rc = dec_map_req(d, root, "spec", "env or file", &spec);
    if (rc > 0) {
        size_t s = dec_push(d, "spec");
        dec_known(d, spec, spec_fields, N(spec_fields));
        for (size_t i = FIRST_UNSUPPORTED; i < N(spec_fields); i++) {
            const struct ynode *k = ymap_get_key(spec, spec_fields[i]);
            if (k)
                dec_error_key(d, dec_pos(d, k), spec_fields[i],
                              "is not available on one machine: ebb reads authParams from "
                              "\"env\" (its own environment) or \"file\" (a file per value)");
        }
        const struct ynode *env = dec_get(spec, "env"), *file = dec_get(spec, "file");
        size_t cap = (env && env->kind == YN_SEQ ? env->n : 0) +
                     (file && file->kind == YN_SEQ ? file->n : 0);
        cap = cap > CONFIG_LIST_MAX ? CONFIG_LIST_MAX : cap;
        a->params = arena_alloc(&d->c->arena, (cap ? cap : 1) * sizeof(*a->params));
        if (a->params) {
            decode_sources(d, spec, true, a, cap);
            decode_sources(d, spec, false, a, cap);
        }
        dec_pop(d, s);
    }
    a->errors = d->errors;
    dec_added(d, config_add_auth(d->c, a), a->pos);
}
