/* decode: typed field getters with Kubernetes' strictness. See decode.h. */
#include "config/decode.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dec_begin(struct dec *d, struct config *c, const char *file)
{
    memset(d, 0, sizeof(*d));
    d->c = c;
    d->file = file;
}

/* ---------- paths and issues ---------- */

static bool is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        char ch = *s;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static void path_appendf(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void path_appendf(struct dec *d, const char *fmt, ...)
{
    size_t room = sizeof(d->path) - d->path_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->path + d->path_len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        d->path[d->path_len] = '\0';
    else
        d->path_len += (size_t)n < room ? (size_t)n : room - 1;
}

size_t dec_push(struct dec *d, const char *key)
{
    size_t saved = d->path_len;
    if (is_ident(key))
        path_appendf(d, "%s%s", d->path_len ? "." : "", key);
    else
        path_appendf(d, "[%.96s]", key);
    return saved;
}

size_t dec_push_index(struct dec *d, size_t i)
{
    size_t saved = d->path_len;
    path_appendf(d, "[%zu]", i);
    return saved;
}

void dec_pop(struct dec *d, size_t saved)
{
    d->path_len = saved;
    d->path[saved] = '\0';
}

struct cfg_pos dec_pos(const struct dec *d, const struct ynode *n)
{
    struct cfg_pos p = {d->file, n ? n->line : 0, n ? n->col : 0};
    return p;
}

static void vissue(struct dec *d, bool warning, struct cfg_pos pos, const char *path,
                   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void vissue(struct dec *d, bool warning, struct cfg_pos pos, const char *path,
                   const char *fmt, va_list ap)
{
    char msg[CONFIG_MSG_MAX];
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    config_add_issue(d->c, warning, pos, path, msg);
    if (warning)
        return;
    d->errors++;
    if (d->n_error_paths < DEC_ERROR_PATHS) {
        const char *p = arena_strdup(&d->c->arena, path);
        if (p)
            d->error_paths[d->n_error_paths++] = p;
    }
}

void dec_error(struct dec *d, struct cfg_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vissue(d, false, pos, d->path, fmt, ap);
    va_end(ap);
}

void dec_warn(struct dec *d, struct cfg_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vissue(d, true, pos, d->path, fmt, ap);
    va_end(ap);
}

void dec_error_key(struct dec *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
{
    size_t s = dec_push(d, key);
    va_list ap;
    va_start(ap, fmt);
    vissue(d, false, pos, d->path, fmt, ap);
    va_end(ap);
    dec_pop(d, s);
}

void dec_warn_key(struct dec *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
{
    size_t s = dec_push(d, key);
    va_list ap;
    va_start(ap, fmt);
    vissue(d, true, pos, d->path, fmt, ap);
    va_end(ap);
    dec_pop(d, s);
}

void dec_issue_path(struct dec *d, bool warning, struct cfg_pos pos, const char *path,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vissue(d, warning, pos, path, fmt, ap);
    va_end(ap);
}

void dec_mark_failed(struct dec *d, const char *path)
{
    const char *p = arena_strdup(&d->c->arena, path);
    if (p && d->n_error_paths < DEC_ERROR_PATHS)
        d->error_paths[d->n_error_paths++] = p;
}

bool dec_path_failed(const struct dec *d, const char *path)
{
    for (size_t i = 0; i < d->n_error_paths; i++) {
        const char *e = d->error_paths[i];
        size_t n = strlen(e);
        if (strncmp(path, e, n) == 0 && (path[n] == '\0' || path[n] == '.' || path[n] == '['))
            return true;
    }
    return false;
}

/* ---------- unknown and duplicate fields ---------- */

/* Levenshtein distance of two short strings (cut at 64 bytes). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 64), lb = strnlen(b, 64);
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *dec_closest(const char *key, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t len = strlen(key);
    for (size_t i = 0; i < n; i++) {
        /* The distance is at least the difference of the lengths: names
         * too far from key's length cannot be the one meant. */
        size_t nl = strlen(names[i]), diff = len > nl ? len - nl : nl - len;
        if (diff > 2 && diff > len / 3)
            continue;
        size_t dist = strcasecmp(key, names[i]) == 0 ? 0 : edit_distance(key, names[i]);
        if (dist < best_d) {
            best_d = dist;
            best = names[i];
        }
    }
    return best && (best_d <= 2 || best_d <= len / 3) ? best : NULL;
}

struct key_ref {
    const struct ynode *key;
    size_t index;
};

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    if (x->key->len != y->key->len)
        return x->key->len < y->key->len ? -1 : 1;
    int c = memcmp(x->key->text, y->key->text, x->key->len);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* An error for every repeated key of map (each later one), in file order.
 * Sorted, so that a mapping of thousands of keys costs n log n, not n². */
static void check_duplicates(struct dec *d, const struct ynode *map)
{
    if (map->n < 2)
        return;
    struct key_ref *refs = malloc(map->n * sizeof(*refs));
    size_t *first = malloc(map->n * sizeof(*first));
    if (!refs || !first) {
        free(refs);
        free(first);
        dec_error(d, dec_pos(d, map), "out of memory");
        return;
    }
    for (size_t i = 0; i < map->n; i++) {
        refs[i].key = ymap_key(map, i);
        refs[i].index = i;
        first[i] = i;
    }
    qsort(refs, map->n, sizeof(*refs), key_ref_cmp);
    /* Equal keys are now adjacent, in file order: each points at the first. */
    for (size_t i = 1; i < map->n; i++) {
        const struct ynode *a = refs[i - 1].key, *b = refs[i].key;
        if (a->len == b->len && memcmp(a->text, b->text, a->len) == 0)
            first[refs[i].index] = first[refs[i - 1].index];
    }
    for (size_t i = 0; i < map->n; i++) {
        if (first[i] == i)
            continue;
        const struct ynode *k = ymap_key(map, i);
        dec_error_key(d, dec_pos(d, k), k->text, "duplicate field \"%.96s\" (first at line %d)",
                      k->text, ymap_key(map, first[i])->line);
    }
    free(refs);
    free(first);
}

void dec_known(struct dec *d, const struct ynode *map, const char *const *names, size_t n)
{
    check_duplicates(d, map);
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *k = ymap_key(map, i);
        bool known = false;
        for (size_t j = 0; j < n && !known; j++)
            known = strlen(names[j]) == k->len && memcmp(names[j], k->text, k->len) == 0;
        if (known)
            continue;
        if (k->plain && strcmp(k->text, "<<") == 0) {
            dec_error_key(d, dec_pos(d, k), k->text,
                          "merge keys (<<) are not supported: write the fields out");
            continue;
        }
        const char *hint = dec_closest(k->text, names, n);
        char q[112];
        yaml_quote(q, sizeof(q), k->text, k->len, 96);
        if (hint)
            dec_error_key(d, dec_pos(d, k), k->text, "unknown field %s; did you mean \"%s\"?", q,
                          hint);
        else
            dec_error_key(d, dec_pos(d, k), k->text, "unknown field %s", q);
    }
}

/* ---------- getters ---------- */

const struct ynode *dec_get(const struct ynode *map, const char *key)
{
    const struct ynode *v = ymap_get(map, key);
    return v && !ynode_is_null(v) ? v : NULL;
}

void dec_required(struct dec *d, const struct ynode *map, const char *key, const char *what)
{
    size_t s = dec_push(d, key);
    bool failed = dec_path_failed(d, d->path);
    dec_pop(d, s);
    if (failed)
        return; /* the field is there, with an error of its own */
    if (what)
        dec_error_key(d, dec_pos(d, map), key, "is required (%s)", what);
    else
        dec_error_key(d, dec_pos(d, map), key, "is required");
}

static int wrong_type(struct dec *d, const struct ynode *v, const char *key, const char *want,
                      const char *hint)
{
    char got[128];
    ynode_describe(v, got, sizeof(got));
    size_t s = key ? dec_push(d, key) : d->path_len;
    dec_error(d, dec_pos(d, v), "must be %s, got %s%s", want, got, hint ? hint : "");
    dec_pop(d, s);
    return -1;
}

int dec_map(struct dec *d, const struct ynode *map, const char *key, const struct ynode **out)
{
    const struct ynode *v = dec_get(map, key);
    *out = NULL;
    if (!v)
        return 0;
    if (v->kind != YN_MAP)
        return wrong_type(d, v, key, "a mapping", NULL);
    *out = v;
    return 1;
}

int dec_map_req(struct dec *d, const struct ynode *map, const char *key, const char *what,
                const struct ynode **out)
{
    int rc = dec_map(d, map, key, out);
    if (rc == 0)
        dec_required(d, map, key, what);
    return rc;
}

int dec_seq_req(struct dec *d, const struct ynode *map, const char *key, const char *what,
                const struct ynode **out)
{
    int rc = dec_seq(d, map, key, out);
    if (rc == 0)
        dec_required(d, map, key, what);
    return rc;
}

int dec_str_req(struct dec *d, const struct ynode *map, const char *key, const char *what,
                const char **out)
{
    int rc = dec_str(d, map, key, out);
    if (rc == 0)
        dec_required(d, map, key, what);
    return rc;
}

bool dec_is_map(struct dec *d, const struct ynode *n, const char *fields)
{
    if (n->kind == YN_MAP)
        return true;
    char got[128];
    ynode_describe(n, got, sizeof(got));
    dec_error(d, dec_pos(d, n), "must be a mapping with %s, got %s", fields, got);
    return false;
}

int dec_seq(struct dec *d, const struct ynode *map, const char *key, const struct ynode **out)
{
    const struct ynode *v = dec_get(map, key);
    *out = NULL;
    if (!v)
        return 0;
    if (v->kind != YN_SEQ)
        return wrong_type(d, v, key, "a list", NULL);
    *out = v;
    return 1;
}

/* The string value of v, or -1 after an error for path (key under it, if any). */
static int node_str(struct dec *d, const struct ynode *v, const char *key, const char **out)
{
    struct yscalar s;
    yaml_resolve(v, &s);
    if (v->kind != YN_SCALAR || s.type != YV_STR) {
        char hint[96] = "";
        if (v->kind == YN_SCALAR && s.type != YV_NULL)
            snprintf(hint, sizeof(hint), " (quote it: \"%.*s\")", v->len > 48 ? 48 : (int)v->len,
                     v->text);
        return wrong_type(d, v, key, "a string", hint);
    }
    if (strlen(v->text) != v->len)
        return wrong_type(d, v, key, "a string without NUL characters", NULL);
    *out = arena_strndup(&d->c->arena, v->text, v->len);
    if (!*out) {
        dec_error(d, dec_pos(d, v), "out of memory");
        return -1;
    }
    return 1;
}

int dec_node_str(struct dec *d, const struct ynode *n, const char **out)
{
    return node_str(d, n, NULL, out);
}

int dec_str(struct dec *d, const struct ynode *map, const char *key, const char **out)
{
    const struct ynode *v = dec_get(map, key);
    return v ? node_str(d, v, key, out) : 0;
}

int dec_str_fixed(struct dec *d, const struct ynode *map, const char *key, char *dst, size_t cap)
{
    const char *s;
    int rc = dec_str(d, map, key, &s);
    if (rc <= 0)
        return rc;
    size_t len = strlen(s);
    if (len >= cap) {
        dec_error_key(d, dec_pos(d, dec_get(map, key)), key,
                      "is %zu characters long; at most %zu are allowed", len, cap - 1);
        return -1;
    }
    memcpy(dst, s, len + 1);
    return 1;
}

int dec_int32(struct dec *d, const struct ynode *map, const char *key, int32_t *out)
{
    const struct ynode *v = dec_get(map, key);
    if (!v)
        return 0;
    struct yscalar s;
    yaml_resolve(v, &s);
    /* YAML's 2.0 becomes JSON's 2 on the way to the API server, so a float
     * with no fraction is a whole number there. */
    bool whole = s.type == YV_INT || (s.type == YV_FLOAT && isfinite(s.f) && s.f == floor(s.f));
    if (v->kind != YN_SCALAR || !whole) {
        const char *hint = v->quoted && s.type == YV_STR ? " (write it without quotes)" : NULL;
        return wrong_type(d, v, key, "a whole number", hint);
    }
    if (s.f < (double)INT32_MIN || s.f > (double)INT32_MAX) {
        dec_error_key(d, dec_pos(d, v), key, "must be between %d and %d, got %.*s", INT32_MIN,
                      INT32_MAX, v->len > 48 ? 48 : (int)v->len, v->text);
        return -1;
    }
    *out = s.type == YV_INT ? (int32_t)s.i : (int32_t)s.f;
    return 1;
}

int dec_bool(struct dec *d, const struct ynode *map, const char *key, bool *out)
{
    const struct ynode *v = dec_get(map, key);
    if (!v)
        return 0;
    struct yscalar s;
    yaml_resolve(v, &s);
    if (v->kind != YN_SCALAR || s.type != YV_BOOL) {
        const char *hint = v->quoted && s.type == YV_STR ? " (write it without quotes)" : NULL;
        return wrong_type(d, v, key, "true or false", hint);
    }
    *out = s.b;
    return 1;
}

int dec_enum(struct dec *d, const struct ynode *map, const char *key, const char *const *names,
             size_t n, int *out)
{
    const char *s;
    int rc = dec_str(d, map, key, &s);
    if (rc <= 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 1;
        }
    }
    char list[256] = "", q[80];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof(list) - used)
            break;
        used += (size_t)w;
    }
    yaml_quote(q, sizeof(q), s, strlen(s), 48);
    dec_error_key(d, dec_pos(d, dec_get(map, key)), key, "must be one of %s, got %s", list, q);
    return -1;
}

int dec_str_map(struct dec *d, const struct ynode *map, const char *key, struct cfg_kv **out,
                size_t *n)
{
    const struct ynode *m;
    int rc = dec_map(d, map, key, &m);
    if (rc <= 0)
        return rc;
    size_t s = dec_push(d, key);
    check_duplicates(d, m);
    if (m->n > CONFIG_LIST_MAX) {
        dec_error(d, dec_pos(d, m), "has %zu entries; at most %d are allowed", m->n,
                  CONFIG_LIST_MAX);
        dec_pop(d, s);
        return -1;
    }
    struct cfg_kv *kv = arena_alloc(&d->c->arena, (m->n ? m->n : 1) * sizeof(*kv));
    size_t k = 0;
    int bad = 0;
    for (size_t i = 0; kv && i < m->n; i++) {
        const struct ynode *kn = ymap_key(m, i), *v = ymap_value(m, i);
        if (kn->plain && strcmp(kn->text, "<<") == 0) {
            dec_error_key(d, dec_pos(d, kn), kn->text,
                          "merge keys (<<) are not supported: write the pairs out");
            bad = -1;
            continue;
        }
        /* Keys are text whatever they look like: JSON's keys are strings, and
         * Kubernetes' YAML reader turns a key 5 into "5". */
        kv[k].pos = dec_pos(d, v);
        kv[k].key = arena_strndup(&d->c->arena, kn->text, kn->len);
        if (!kv[k].key || node_str(d, v, kn->text, &kv[k].value) < 0)
            bad = -1;
        else
            k++; /* a pair with a bad value is left out; the error is recorded */
    }
    dec_pop(d, s);
    if (!kv) {
        dec_error(d, dec_pos(d, m), "out of memory");
        return -1;
    }
    *out = kv;
    *n = k;
    return bad ? -1 : 1;
}

int dec_str_list(struct dec *d, const struct ynode *map, const char *key, const char ***out,
                 size_t *n)
{
    const struct ynode *l;
    int rc = dec_seq(d, map, key, &l);
    if (rc <= 0)
        return rc;
    size_t s = dec_push(d, key);
    if (l->n > CONFIG_LIST_MAX) {
        dec_error(d, dec_pos(d, l), "has %zu items; at most %d are allowed", l->n, CONFIG_LIST_MAX);
        dec_pop(d, s);
        return -1;
    }
    const char **items = arena_alloc(&d->c->arena, (l->n ? l->n : 1) * sizeof(*items));
    int bad = 0;
    for (size_t i = 0; items && i < l->n; i++) {
        size_t si = dec_push_index(d, i);
        if (node_str(d, l->items[i], NULL, &items[i]) < 0)
            bad = -1;
        dec_pop(d, si);
    }
    dec_pop(d, s);
    if (!items) {
        dec_error(d, dec_pos(d, l), "out of memory");
        return -1;
    }
    *out = items;
    *n = l->n;
    return bad ? -1 : 1;
}

/* ---------- names and metadata ---------- */

static bool dns_chars(const char *s, size_t max, bool dots)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && !(dots && c == '.'))
            return false;
        if ((i == 0 || i == n - 1) && !alnum)
            return false;
    }
    return true;
}

bool dns_subdomain(const char *s)
{
    return dns_chars(s, 253, true);
}

bool dns_label(const char *s)
{
    return dns_chars(s, 63, false);
}

bool env_var_name(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

void dec_meta(struct dec *d, const struct ynode *root, bool namespaced, struct cfg_meta *m)
{
    /* name, namespace, labels and annotations are read; the rest of
     * ObjectMeta is set by the API server (a `kubectl get -o yaml` copy has
     * it) and means nothing here. */
    static const char *const known[] = {
        "name",
        "namespace",
        "labels",
        "annotations",
        "generateName",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "finalizers",
        "ownerReferences",
        "managedFields",
        "selfLink",
    };
    memset(m, 0, sizeof(*m));
    m->namespace_ = namespaced ? "default" : "";
    const struct ynode *meta;
    m->pos = dec_pos(d, root);
    m->name_pos = m->pos;
    if (dec_map(d, root, "metadata", &meta) <= 0) {
        if (!ymap_get(root, "metadata"))
            dec_required(d, root, "metadata", "with at least a name");
        return;
    }
    size_t s = dec_push(d, "metadata");
    dec_known(d, meta, known, sizeof(known) / sizeof(known[0]));
    m->name_pos = dec_pos(d, meta);
    dec_str_req(d, meta, "name", NULL, &m->name);
    if (m->name)
        m->name_pos = dec_pos(d, dec_get(meta, "name"));
    const char *ns = NULL;
    if (dec_str(d, meta, "namespace", &ns) > 0) {
        if (!namespaced)
            dec_warn_key(d, dec_pos(d, dec_get(meta, "namespace")), "namespace",
                         "is ignored: this kind is cluster-scoped");
        else if (!dns_label(ns))
            dec_error_key(d, dec_pos(d, dec_get(meta, "namespace")), "namespace",
                          "\"%.64s\" is not a valid namespace: use at most 63 lower case letters, "
                          "digits and '-', starting and ending with a letter or digit",
                          ns);
        else
            m->namespace_ = ns;
    }
    dec_str_map(d, meta, "labels", &m->labels, &m->n_labels);
    dec_str_map(d, meta, "annotations", &m->annotations, &m->n_annotations);
    m->annotations_node = dec_get(meta, "annotations");
    dec_pop(d, s);
}

void dec_check_name(struct dec *d, const struct cfg_meta *m)
{
    if (m->name && !dns_subdomain(m->name))
        dec_issue_path(d, false, m->name_pos, "metadata.name",
                       "\"%.64s\" is not a valid name: use lower case letters, digits, '-' and "
                       "'.', starting and ending with a letter or digit",
                       m->name);
}

void dec_added(struct dec *d, int rc, struct cfg_pos pos)
{
    if (rc < 0)
        dec_error(d, pos, "too many objects: at most %d are loaded", CONFIG_OBJECTS_MAX);
}
