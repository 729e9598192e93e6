/* The manifests of deploy/kubernetes/ and examples/tutorial/ read with ebb's
 * own YAML reader, and the small helpers the manifest tests share
 * (manifests.h). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifests.h"

#define FILE_MAX (1u << 20)

struct docset deploy, tutorial;
int fails;
bool quiet;

void fail_at(const struct doc *d, const struct ynode *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fails++;
    if (quiet)
        return;
    print_message("FAIL %s:%d:%d: %s %s: %s\n", d ? d->file : "?", n ? n->line : 0, n ? n->col : 0,
                  d && d->kind ? d->kind : "", d && d->name ? d->name : "", msg);
}

const char *str(const struct ynode *n)
{
    return n && n->kind == YN_SCALAR && !ynode_is_null(n) ? n->text : NULL;
}

bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The node at a dotted path of mapping keys ("spec.template.spec"), or NULL. */
const struct ynode *at(const struct ynode *n, const char *dotted)
{
    char key[128];
    while (n && *dotted) {
        size_t len = strcspn(dotted, ".");
        assert_true(len < sizeof(key));
        memcpy(key, dotted, len);
        key[len] = '\0';
        n = ymap_get(n, key);
        dotted += len + (dotted[len] == '.');
    }
    return n;
}

size_t seq_len(const struct ynode *n)
{
    return n && n->kind == YN_SEQ ? n->n : 0;
}

bool seq_has(const struct ynode *seq, const char *s)
{
    for (size_t i = 0; i < seq_len(seq); i++)
        if (streq(str(seq->items[i]), s))
            return true;
    return false;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = malloc(FILE_MAX);
    assert_non_null(text);
    *len = fread(text, 1, FILE_MAX - 1, f);
    assert_true(feof(f));
    fclose(f);
    text[*len] = '\0';
    return text;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every non-empty document of text (owned by set from now on), each with a
 * reader of its own: reader k reads k documents and keeps the last. */
void load_text(struct docset *set, const char *file, char *text, size_t len)
{
    assert_true(set->ntexts < DOCS_MAX);
    set->texts[set->ntexts++] = text;
    size_t objects = 0;
    for (int k = 1;; k++) {
        struct doc *d = calloc(1, sizeof(*d));
        assert_non_null(d);
        snprintf(d->file, sizeof(d->file), "%s", file);
        assert_int_equal(yaml_reader_init(&d->r, text, len), 0);
        struct yaml_error err = {0};
        int rc = 1;
        for (int i = 0; i < k && rc == 1; i++)
            rc = yaml_next_document(&d->r, &d->root, &err);
        if (rc < 0)
            fail_at(d, NULL, "line %d:%d: not YAML: %s", err.line, err.col, err.msg);
        if (rc != 1 || ynode_is_null(d->root)) {
            yaml_reader_release(&d->r);
            free(d);
            if (rc == 1)
                continue; /* an empty document: kubectl skips it too */
            break;
        }
        d->kind = str(ymap_get(d->root, "kind"));
        d->name = str(at(d->root, "metadata.name"));
        d->ns = str(at(d->root, "metadata.namespace"));
        assert_true(set->n < DOCS_MAX);
        set->docs[set->n++] = d;
        objects++;
    }
    if (objects == 0)
        fail_at(NULL, NULL, "%s: no object in the file", file);
}

/* Every *.yaml in dir, in file-name order. */
void load_dir(struct docset *set, const char *dir)
{
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    char *names[64];
    size_t nn = 0;
    for (struct dirent *e = readdir(dh); e; e = readdir(dh)) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0) {
            assert_true(nn < 64);
            names[nn++] = strdup(e->d_name);
        }
    }
    closedir(dh);
    qsort(names, nn, sizeof(*names), name_cmp);
    for (size_t f = 0; f < nn; f++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[f]);
        size_t len;
        char *text = read_file(path, &len);
        load_text(set, names[f], text, len);
        free(names[f]);
    }
}

void free_set(struct docset *set)
{
    for (size_t i = 0; i < set->n; i++) {
        yaml_reader_release(&set->docs[i]->r);
        free(set->docs[i]);
    }
    for (size_t i = 0; i < set->ntexts; i++)
        free(set->texts[i]);
    memset(set, 0, sizeof(*set));
}

struct doc *find(const struct docset *set, const char *kind, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->docs[i] && streq(set->docs[i]->kind, kind) && streq(set->docs[i]->name, name))
            return set->docs[i];
    return NULL;
}

size_t of_kind(const struct docset *set, const char *kind, const struct doc **out)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        if (streq(set->docs[i]->kind, kind))
            out[n++] = set->docs[i];
    return n;
}

/* True when every pair of the selector map is among labels. */
bool selects(const struct ynode *selector, const struct ynode *labels)
{
    if (!selector || selector->kind != YN_MAP || selector->n == 0)
        return false;
    for (size_t i = 0; i < selector->n; i++) {
        const char *want = str(ymap_value(selector, i));
        if (!streq(str(ymap_get(labels, ymap_key(selector, i)->text)), want))
            return false;
    }
    return true;
}

/* The namespace of the directory's first namespaced object. */
const char *the_ns(void)
{
    for (size_t i = 0; i < deploy.n; i++)
        if (deploy.docs[i]->ns)
            return deploy.docs[i]->ns;
    return NULL;
}

/* The container of a Deployment that runs `ebb <command>`: command [ebb] and
 * args[0] the subcommand (NULL when there is none). */
const struct ynode *ebb_container(const struct doc *d, const char *command)
{
    const struct ynode *cs = at(d->root, "spec.template.spec.containers");
    for (size_t i = 0; i < seq_len(cs); i++) {
        const struct ynode *c = cs->items[i];
        const struct ynode *args = ymap_get(c, "args");
        if (seq_has(ymap_get(c, "command"), "ebb") && seq_len(args) > 0 &&
            (!command || streq(str(args->items[0]), command)))
            return c;
    }
    return NULL;
}

struct doc *ebb_deployment(const struct docset *set, const char *command)
{
    for (size_t i = 0; i < set->n; i++)
        if (streq(set->docs[i]->kind, "Deployment") && ebb_container(set->docs[i], command))
            return set->docs[i];
    return NULL;
}

/* The containerPort that port (a name or a number) names in container c, or -1. */
long container_port(const struct ynode *c, const struct ynode *port)
{
    const struct ynode *ports = ymap_get(c, "ports");
    for (size_t i = 0; port && i < seq_len(ports); i++) {
        const char *num = str(ymap_get(ports->items[i], "containerPort"));
        if (num &&
            (streq(str(ymap_get(ports->items[i], "name")), str(port)) || streq(num, str(port))))
            return strtol(num, NULL, 10);
    }
    return -1;
}

/* The same, in any container of a Deployment's pods. */
long pod_port(const struct doc *d, const struct ynode *port)
{
    const struct ynode *cs = at(d->root, "spec.template.spec.containers");
    for (size_t i = 0; i < seq_len(cs); i++) {
        long p = container_port(cs->items[i], port);
        if (p > 0)
            return p;
    }
    return -1;
}

/* The Service of the directory that sends to d's pods, or NULL. */
const struct doc *service_of(const struct doc *d)
{
    for (size_t i = 0; i < deploy.n; i++)
        if (streq(deploy.docs[i]->kind, "Service") &&
            selects(at(deploy.docs[i]->root, "spec.selector"),
                    at(d->root, "spec.template.metadata.labels")))
            return deploy.docs[i];
    return NULL;
}

bool is_true(const struct ynode *n)
{
    struct yscalar sc;
    if (!n || n->kind != YN_SCALAR)
        return false;
    yaml_resolve(n, &sc);
    return sc.type == YV_BOOL && sc.b;
}

/* Runs check on the one document of yaml, which must make it fail at least
 * once; the failures it finds are expected, so they are neither printed nor
 * counted. A document it accepts is one failure. */
void expect_refused(const char *rule, const char *yaml,
                    void (*check)(const struct doc *, const void *), const void *ctx)
{
    struct docset set = {0};
    char *text = strdup(yaml);
    assert_non_null(text);
    load_text(&set, rule, text, strlen(text));
    assert_int_equal(set.n, 1);
    int before = fails;
    quiet = true;
    check(set.docs[0], ctx);
    quiet = false;
    bool refused = fails > before;
    fails = before;
    if (!refused)
        fail_at(set.docs[0], set.docs[0]->root, "self-test: accepted, but should not be: %s", rule);
    free_set(&set);
}

int manifests_reset(void **state)
{
    fails = 0;
    return 0;
}

int manifests_setup(void **state)
{
    load_dir(&deploy, DEPLOY_DIR);
    load_dir(&tutorial, TUTORIAL_DIR);
    return fails ? -1 : 0;
}

int manifests_teardown(void **state)
{
    free_set(&deploy);
    free_set(&tutorial);
    return 0;
}
