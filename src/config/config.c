/* config: loading files of manifests, issues, lookups. See config.h. */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/decode.h"
#include "config/yaml.h"

void config_init(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->read_secrets = true;
    arena_init(&c->arena, CONFIG_ARENA_MAX);
}

void config_release(struct config *c)
{
    for (size_t i = 0; i < c->n_auths; i++) {
        for (size_t j = 0; j < c->auths[i]->n_params; j++) {
            char *v = c->auths[i]->params[j].value;
            if (v)
                explicit_bzero(v, strlen(v));
        }
    }
    free(c->sos);
    free(c->auths);
    free(c->deployments);
    free(c->issues);
    arena_release(&c->arena);
    bool read_secrets = c->read_secrets;
    config_init(c);
    c->read_secrets = read_secrets;
}

int config_errors(const struct config *c)
{
    return c->errors;
}

void config_add_issue(struct config *c, bool warning, struct cfg_pos pos, const char *path,
                      const char *msg)
{
    if (warning)
        c->warnings++;
    else
        c->errors++;
    if (c->n_issues >= CONFIG_ISSUES_MAX) {
        c->issues_dropped++;
        return;
    }
    if (c->n_issues == c->cap_issues) {
        size_t cap = c->cap_issues ? 2 * c->cap_issues : 16;
        struct cfg_issue *p = realloc(c->issues, cap * sizeof(*p));
        if (!p) {
            c->issues_dropped++;
            return;
        }
        c->issues = p;
        c->cap_issues = cap;
    }
    struct cfg_issue *is = &c->issues[c->n_issues++];
    is->warning = warning;
    is->pos = pos;
    is->path = arena_strdup(&c->arena, path ? path : "");
    is->msg = arena_strdup(&c->arena, msg);
    if (!is->path)
        is->path = "";
    if (!is->msg)
        is->msg = "out of memory";
}

static size_t objects(const struct config *c)
{
    return c->n_sos + c->n_auths + c->n_deployments;
}

/* Room for one more pointer in an array of n that doubles at powers of two. */
static void *grow(void *arr, size_t n, const struct config *c)
{
    if (objects(c) >= CONFIG_OBJECTS_MAX)
        return NULL;
    if (n & (n - 1))
        return arr; /* not a power of two: there is room */
    return realloc(arr, (n ? 2 * n : 1) * sizeof(void *));
}

int config_add_so(struct config *c, struct cfg_scaled_object *o)
{
    struct cfg_scaled_object **a = grow(c->sos, c->n_sos, c);
    if (!a)
        return -ENOSPC;
    c->sos = a;
    a[c->n_sos++] = o;
    return 0;
}

int config_add_auth(struct config *c, struct cfg_auth *au)
{
    struct cfg_auth **a = grow(c->auths, c->n_auths, c);
    if (!a)
        return -ENOSPC;
    c->auths = a;
    a[c->n_auths++] = au;
    return 0;
}

int config_add_deployment(struct config *c, struct cfg_deployment *dp)
{
    struct cfg_deployment **a = grow(c->deployments, c->n_deployments, c);
    if (!a)
        return -ENOSPC;
    c->deployments = a;
    a[c->n_deployments++] = dp;
    return 0;
}

/* ---------- documents ---------- */

enum doc_kind { DOC_SO, DOC_TA, DOC_CTA, DOC_LD };

static const struct {
    const char *kind;
    const char *api_version;
    enum doc_kind doc;
} kinds[] = {
    {"ScaledObject", KEDA_API_VERSION, DOC_SO},
    {"TriggerAuthentication", KEDA_API_VERSION, DOC_TA},
    {"ClusterTriggerAuthentication", KEDA_API_VERSION, DOC_CTA},
    {"LocalDeployment", EBB_API_VERSION, DOC_LD},
};

static void decode_document(struct dec *d, const struct ynode *root)
{
    if (root->kind != YN_MAP) {
        char got[128];
        ynode_describe(root, got, sizeof(got));
        dec_error(d, dec_pos(d, root),
                  "a document must be a mapping with apiVersion and kind, got %s", got);
        return;
    }
    const char *kind = NULL, *api = NULL;
    int rk = dec_str_req(d, root, "kind", "ScaledObject, TriggerAuthentication or LocalDeployment",
                         &kind);
    dec_str_req(d, root, "apiVersion", NULL, &api);
    if (rk <= 0)
        return;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kind, kinds[i].kind) != 0)
            continue;
        if (api && strcmp(api, kinds[i].api_version) != 0)
            dec_error_key(d, dec_pos(d, dec_get(root, "apiVersion")), "apiVersion",
                          "must be %s for a %s, got \"%.64s\"", kinds[i].api_version, kind, api);
        switch (kinds[i].doc) {
        case DOC_SO: so_decode(d, root); break;
        case DOC_TA: auth_decode(d, root, false); break;
        case DOC_CTA: auth_decode(d, root, true); break;
        case DOC_LD: deployment_decode(d, root); break;
        }
        return;
    }
    dec_error_key(d, dec_pos(d, dec_get(root, "kind")), "kind",
                  "\"%.64s\" is not a kind ebb reads: ScaledObject, TriggerAuthentication, "
                  "ClusterTriggerAuthentication (" KEDA_API_VERSION ") or LocalDeployment "
                  "(" EBB_API_VERSION ")",
                  kind);
}

static void file_issue(struct config *c, const char *file, int line, int col, const char *msg)
{
    struct cfg_pos pos = {file, line, col};
    config_add_issue(c, false, pos, "", msg);
}

int config_load_buffer(struct config *c, const char *name, const char *data, size_t len)
{
    int before = c->errors;
    const char *file = arena_strdup(&c->arena, name);
    if (!file)
        return -ENOMEM;
    c->n_files++;
    char msg[CONFIG_MSG_MAX];
    if (len > CONFIG_FILE_MAX) {
        snprintf(msg, sizeof(msg), "the file is %zu bytes long; at most %u are read", len,
                 CONFIG_FILE_MAX);
        file_issue(c, file, 0, 0, msg);
        return -EINVAL;
    }
    struct yaml_reader r;
    if (yaml_reader_init(&r, data, len) < 0)
        return -ENOMEM;
    size_t docs = 0, objs = 0;
    int rc;
    struct ynode *root;
    struct yaml_error err;
    for (;;) {
        rc = yaml_next_document(&r, &root, &err);
        if (rc <= 0)
            break;
        if (++docs > CONFIG_DOCS_MAX) {
            snprintf(msg, sizeof(msg), "the file has more than %d documents", CONFIG_DOCS_MAX);
            file_issue(c, file, root ? root->line : 0, root ? root->col : 0, msg);
            break;
        }
        if (ynode_is_null(root))
            continue; /* an empty document, as between two "---": kubectl skips it too */
        objs++;
        struct dec d;
        dec_begin(&d, c, file);
        decode_document(&d, root);
    }
    if (rc < 0)
        file_issue(c, file, err.line, err.col, rc == -ENOMEM ? "out of memory" : err.msg);
    else if (objs == 0 && c->errors == before)
        file_issue(c, file, 0, 0, "the file holds no object (it is empty or only comments)");
    yaml_reader_release(&r);
    if (rc == -ENOMEM)
        return -ENOMEM;
    return c->errors > before ? -EINVAL : 0;
}

/* Reads at most CONFIG_FILE_MAX bytes (and one more, to notice a bigger file). */
static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int err = fstat(fd, &st) != 0    ? -errno
              : S_ISDIR(st.st_mode)  ? -EISDIR
              : !S_ISREG(st.st_mode) ? -EINVAL
                                     : 0;
    if (err) {
        close(fd);
        return err;
    }
    size_t cap = CONFIG_FILE_MAX + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = -errno;
            free(buf);
            close(fd);
            return err;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
}

int config_load_file(struct config *c, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    int err = read_file(path, &data, &len);
    if (err) {
        const char *file = arena_strdup(&c->arena, path);
        char msg[CONFIG_MSG_MAX];
        snprintf(msg, sizeof(msg), "cannot read the file: %s",
                 err == -EINVAL ? "not a regular file" : strerror(-err));
        c->n_files++;
        file_issue(c, file ? file : "?", 0, 0, msg);
        return err == -ENOMEM ? -ENOMEM : -EINVAL;
    }
    int rc = config_load_buffer(c, path, data, len);
    free(data);
    return rc;
}

/* ---------- lookups ---------- */

const struct cfg_deployment *config_find_deployment(const struct config *c, const char *ns,
                                                    const char *name)
{
    for (size_t i = 0; i < c->n_deployments; i++) {
        const struct cfg_deployment *dp = c->deployments[i];
        if (dp->name && strcmp(dp->name, name) == 0 && (!ns || strcmp(dp->namespace_, ns) == 0))
            return dp;
    }
    return NULL;
}

const struct cfg_auth *config_find_auth(const struct config *c, const char *ns, const char *name,
                                        bool cluster)
{
    for (size_t i = 0; i < c->n_auths; i++) {
        const struct cfg_auth *a = c->auths[i];
        if (a->cluster != cluster || !a->name || strcmp(a->name, name) != 0)
            continue;
        if (cluster || !ns || strcmp(a->namespace_, ns) == 0)
            return a;
    }
    return NULL;
}

const char *cfg_auth_get(const struct cfg_auth *a, const char *parameter)
{
    for (size_t i = 0; a && i < a->n_params; i++) {
        if (strcmp(a->params[i].parameter, parameter) == 0)
            return a->params[i].value;
    }
    return NULL;
}
