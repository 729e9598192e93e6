/* k8s/config: see config.h. The kubeconfig is read with ebb's own YAML
 * reader (config/yaml.h), so its limits hold here too. */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/yaml.h"
#include "k8s/config.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Reads a whole file of at most K8S_FILE_MAX bytes, NUL-terminated. 0, or a
 * negative errno (-EFBIG past the limit). */
static int slurp(const char *path, char **out, size_t *outlen)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return -errno;
    char *data = malloc(K8S_FILE_MAX + 2);
    if (!data) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(data, 1, K8S_FILE_MAX + 1, f);
    int rc = ferror(f) ? -EIO : n > K8S_FILE_MAX ? -EFBIG : 0;
    fclose(f);
    if (rc) {
        free(data);
        return rc;
    }
    data[n] = '\0';
    *out = data;
    if (outlen)
        *outlen = n;
    return 0;
}

static const char *why(int rc)
{
    return rc == -EFBIG ? "the file is over 1 MiB" : strerror(-rc);
}

/* A token file's text without the trailing newline and spaces. */
static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int read_token(struct k8s_config *c, uint64_t now_ms, char *err, size_t errlen)
{
    char *t = NULL;
    int rc = slurp(c->token_file, &t, NULL);
    if (rc < 0)
        return fail(err, errlen, rc, "%s: cannot read the token: %s", c->token_file, why(rc));
    trim(t);
    if (!t[0] || strpbrk(t, "\r\n")) {
        bool empty = !t[0];
        free(t);
        return fail(err, errlen, -EINVAL, "%s: the token is %s", c->token_file,
                    empty ? "empty" : "not one line");
    }
    free(c->token);
    c->token = t;
    c->token_read_ms = now_ms;
    return 0;
}

const char *k8s_config_token(struct k8s_config *c, uint64_t now_ms, bool force)
{
    char err[256];
    if (c->token_file && (force || now_ms - c->token_read_ms >= K8S_TOKEN_REREAD_MS))
        read_token(c, now_ms, err, sizeof(err)); /* on failure the last token stays */
    return c->token;
}

void k8s_config_release(struct k8s_config *c)
{
    free(c->server);
    free(c->ca_pem);
    free(c->cert_pem);
    free(c->key_pem);
    free(c->token);
    free(c->token_file);
    free(c->namespace);
    memset(c, 0, sizeof(*c));
}

/* ---------- base64 ---------- */

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

int k8s_base64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
    char *o = malloc(len / 4 * 3 + 4);
    if (!o)
        return -ENOMEM;
    size_t n = 0, pad = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '\n' || ch == '\r' || ch == ' ')
            continue;
        if (ch == '=') {
            pad++;
            continue;
        }
        int v = b64_value(ch);
        if (v < 0 || pad) {
            free(o);
            return -EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (pad > 2 || bits >= 6) {
        free(o);
        return -EINVAL;
    }
    o[n] = '\0';
    *out = o;
    if (outlen)
        *outlen = n;
    return 0;
}

/* ---------- in-cluster ---------- */

int k8s_config_in_cluster(struct k8s_config *c, const struct k8s_incluster_paths *p,
                          uint64_t now_ms, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->source, sizeof(c->source), "in-cluster");
    struct k8s_incluster_paths d = {K8S_SA_DIR "/token", K8S_SA_DIR "/ca.crt",
                                    K8S_SA_DIR "/namespace"};
    if (p) {
        d.token = p->token ? p->token : d.token;
        d.ca = p->ca ? p->ca : d.ca;
        d.namespace = p->namespace ? p->namespace : d.namespace;
    }
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return fail(err, errlen, -ENOENT,
                    "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
                    "(not running in a pod?)");
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return fail(err, errlen, -EINVAL, "in-cluster: KUBERNETES_SERVICE_PORT \"%.32s\" is not a "
                    "port number", port);
    size_t n = strlen(host) + strlen(port) + 16;
    c->server = malloc(n);
    if (!c->server)
        return -ENOMEM;
    bool v6 = strchr(host, ':') != NULL; /* an IPv6 address goes in brackets */
    snprintf(c->server, n, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
    c->token_file = strdup(d.token);
    if (!c->token_file)
        return -ENOMEM;
    int rc = read_token(c, now_ms, err, errlen);
    if (rc < 0)
        return rc;
    rc = slurp(d.ca, &c->ca_pem, NULL);
    if (rc < 0)
        return fail(err, errlen, rc, "%s: cannot read the cluster's CA: %s", d.ca, why(rc));
    rc = slurp(d.namespace, &c->namespace, NULL);
    if (rc < 0)
        return fail(err, errlen, rc, "%s: cannot read the namespace: %s", d.namespace, why(rc));
    trim(c->namespace);
    if (!c->namespace[0])
        return fail(err, errlen, -EINVAL, "%s: the namespace is empty", d.namespace);
    return 0;
}

/* ---------- kubeconfig ---------- */

struct kc {
    struct k8s_config *c;
    const char *name, *dir;
    char *err;
    size_t errlen;
};

/* A string scalar's text, or NULL for a missing or null node. */
static const char *ystr(const struct ynode *n)
{
    return n && n->kind == YN_SCALAR && !ynode_is_null(n) ? n->text : NULL;
}

static int kc_fail(struct kc *k, const struct ynode *at, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int kc_fail(struct kc *k, const struct ynode *at, const char *field, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (at)
        snprintf(k->err, k->errlen, "%s:%d:%d: %s: %s", k->name, at->line, at->col, field, msg);
    else
        snprintf(k->err, k->errlen, "%s: %s: %s", k->name, field, msg);
    return -EINVAL;
}

/* The mapping under key of the entry of list `list` whose name is `name`
 * (contexts[i].context, clusters[i].cluster, users[i].user); its path in
 * field (for messages). NULL after an error. */
static const struct ynode *kc_named(struct kc *k, const struct ynode *root, const char *list,
                                    const char *key, const char *name, char *field, size_t cap,
                                    int *rc)
{
    const struct ynode *l = ymap_get(root, list);
    *rc = -EINVAL;
    if (!l || l->kind != YN_SEQ) {
        kc_fail(k, l, list, "a list is needed to find \"%s\"", name);
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct ynode *e = l->items[i];
        const char *ename = e->kind == YN_MAP ? ystr(ymap_get(e, "name")) : NULL;
        if (!ename || strcmp(ename, name) != 0)
            continue;
        snprintf(field, cap, "%s[%zu].%s", list, i, key);
        const struct ynode *v = ymap_get(e, key);
        if (!v || v->kind != YN_MAP) {
            kc_fail(k, v ? v : e, field, "must be a mapping");
            return NULL;
        }
        *rc = 0;
        return v;
    }
    kc_fail(k, l, list, "no entry named \"%s\"", name);
    return NULL;
}

/* A path as the kubeconfig means it: relative to the file's directory. */
static char *kc_path(struct kc *k, const char *p)
{
    if (p[0] == '/' || !k->dir || !k->dir[0])
        return strdup(p);
    size_t n = strlen(k->dir) + strlen(p) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", k->dir, p);
    return s;
}

/* Fills *out from field `base`-data (base64) or `base` (a file name) of
 * map m, whichever is set (-data wins, as in client-go). 0 when neither. */
static int kc_pem(struct kc *k, const struct ynode *m, const char *at, const char *base,
                  char **out)
{
    char key[64], field[256];
    snprintf(key, sizeof(key), "%s-data", base);
    const struct ynode *data = ymap_get(m, key);
    const struct ynode *file = ymap_get(m, base);
    if (ystr(data)) {
        snprintf(field, sizeof(field), "%s.%s", at, key);
        int rc = k8s_base64_decode(data->text, data->len, out, NULL);
        if (rc == -EINVAL)
            return kc_fail(k, data, field, "is not base64");
        return rc;
    }
    if (ystr(file)) {
        snprintf(field, sizeof(field), "%s.%s", at, base);
        char *p = kc_path(k, file->text);
        if (!p)
            return -ENOMEM;
        int rc = slurp(p, out, NULL);
        if (rc < 0 && rc != -ENOMEM)
            rc = kc_fail(k, file, field, "cannot read \"%s\": %s", p, why(rc));
        free(p);
        return rc;
    }
    return 0;
}

static int kc_cluster(struct kc *k, const struct ynode *cl, const char *at)
{
    char field[256];
    snprintf(field, sizeof(field), "%s.server", at);
    const struct ynode *srv = ymap_get(cl, "server");
    const char *s = ystr(srv);
    if (!s)
        return kc_fail(k, srv ? srv : cl, field, "the API server's URL is missing");
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return kc_fail(k, srv, field, "\"%.200s\" is not an http or https URL", s);
    k->c->server = strdup(s);
    if (!k->c->server)
        return -ENOMEM;
    size_t n = strlen(k->c->server);
    while (n && k->c->server[n - 1] == '/')
        k->c->server[--n] = '\0';
    const struct ynode *ins = ymap_get(cl, "insecure-skip-tls-verify");
    if (ins && !ynode_is_null(ins)) {
        struct yscalar v;
        yaml_resolve(ins, &v);
        snprintf(field, sizeof(field), "%s.insecure-skip-tls-verify", at);
        if (ins->kind != YN_SCALAR || v.type != YV_BOOL)
            return kc_fail(k, ins, field, "must be true or false");
        k->c->insecure = v.b;
    }
    return kc_pem(k, cl, at, "certificate-authority", &k->c->ca_pem);
}

static int kc_user(struct kc *k, const struct ynode *u, const char *at, uint64_t now_ms)
{
    char field[256];
    static const char *const plugins[] = {"exec", "auth-provider"};
    for (size_t i = 0; i < 2; i++) {
        const struct ynode *pl = ymap_get(u, plugins[i]);
        if (pl && !ynode_is_null(pl)) {
            snprintf(field, sizeof(field), "%s.%s", at, plugins[i]);
            return kc_fail(k, pl, field, "%s plugins are not supported; use a token, a token "
                           "file or a client certificate", plugins[i]);
        }
    }
    const char *tok = ystr(ymap_get(u, "token"));
    const struct ynode *tf = ymap_get(u, "tokenFile");
    if (tok) {
        k->c->token = strdup(tok);
        if (!k->c->token)
            return -ENOMEM;
    } else if (ystr(tf)) {
        k->c->token_file = kc_path(k, tf->text);
        if (!k->c->token_file)
            return -ENOMEM;
        char why_[256];
        if (read_token(k->c, now_ms, why_, sizeof(why_)) < 0) {
            snprintf(field, sizeof(field), "%s.tokenFile", at);
            return kc_fail(k, tf, field, "%s", why_);
        }
    }
    int rc = kc_pem(k, u, at, "client-certificate", &k->c->cert_pem);
    rc = rc ? rc : kc_pem(k, u, at, "client-key", &k->c->key_pem);
    if (rc)
        return rc;
    if (!k->c->cert_pem != !k->c->key_pem) {
        snprintf(field, sizeof(field), "%s.%s", at,
                 k->c->cert_pem ? "client-key" : "client-certificate");
        return kc_fail(k, u, field, "is missing: a client certificate needs its key");
    }
    return 0;
}

static int kc_read(struct kc *k, const struct ynode *root, uint64_t now_ms)
{
    if (root->kind != YN_MAP)
        return kc_fail(k, root, "(top)", "a kubeconfig is a mapping");
    const struct ynode *cur = ymap_get(root, "current-context");
    const char *ctx_name = ystr(cur);
    if (!ctx_name || !ctx_name[0])
        return kc_fail(k, cur, "current-context", "is not set");
    char at[128];
    int rc;
    const struct ynode *ctx = kc_named(k, root, "contexts", "context", ctx_name, at, sizeof(at), &rc);
    if (!ctx)
        return rc;
    char field[256];
    snprintf(field, sizeof(field), "%s.cluster", at);
    const struct ynode *cn = ymap_get(ctx, "cluster");
    if (!ystr(cn))
        return kc_fail(k, cn ? cn : ctx, field, "is not set");
    snprintf(field, sizeof(field), "%s.user", at);
    const struct ynode *un = ymap_get(ctx, "user");
    if (!ystr(un))
        return kc_fail(k, un ? un : ctx, field, "is not set");
    const char *ns = ystr(ymap_get(ctx, "namespace"));
    k->c->namespace = strdup(ns && ns[0] ? ns : "default");
    if (!k->c->namespace)
        return -ENOMEM;
    const struct ynode *cl = kc_named(k, root, "clusters", "cluster", cn->text, at, sizeof(at), &rc);
    if (!cl)
        return rc;
    rc = kc_cluster(k, cl, at);
    if (rc)
        return rc;
    const struct ynode *u = kc_named(k, root, "users", "user", un->text, at, sizeof(at), &rc);
    return u ? kc_user(k, u, at, now_ms) : rc;
}

int k8s_config_kubeconfig_text(struct k8s_config *c, const char *name, const char *dir,
                               const char *text, size_t len, uint64_t now_ms, char *err,
                               size_t errlen)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->source, sizeof(c->source), "%s", name);
    struct kc k = {c, name, dir, err, errlen};
    struct yaml_reader r;
    if (yaml_reader_init(&r, text, len) < 0)
        return -ENOMEM;
    struct ynode *root = NULL;
    struct yaml_error ye = {0};
    int rc = yaml_next_document(&r, &root, &ye);
    if (rc == -EINVAL)
        rc = fail(err, errlen, -EINVAL, "%s:%d:%d: %s", name, ye.line, ye.col, ye.msg);
    else if (rc == 0)
        rc = fail(err, errlen, -EINVAL, "%s: the file is empty", name);
    else if (rc == 1)
        rc = kc_read(&k, root, now_ms);
    yaml_reader_release(&r);
    return rc;
}

int k8s_config_kubeconfig(struct k8s_config *c, const char *path, uint64_t now_ms, char *err,
                          size_t errlen)
{
    char def[512];
    memset(c, 0, sizeof(*c));
    if (!path) {
        const char *env = getenv("KUBECONFIG");
        const char *home = getenv("HOME");
        if (env && env[0])
            snprintf(def, sizeof(def), "%.*s", (int)strcspn(env, ":"), env);
        else if (home && home[0])
            snprintf(def, sizeof(def), "%s/.kube/config", home);
        else
            return fail(err, errlen, -ENOENT, "no kubeconfig: neither KUBECONFIG nor HOME is set");
        path = def;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = slurp(path, &text, &len);
    if (rc < 0)
        return fail(err, errlen, rc, "%s: cannot read the kubeconfig: %s", path, why(rc));
    char dir[512];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
    rc = k8s_config_kubeconfig_text(c, path, slash ? (slash == path ? "/" : dir) : ".", text, len,
                                    now_ms, err, errlen);
    free(text);
    return rc;
}
