/* manifests: deploy/kubernetes/ (and examples/tutorial/) as trees, for the
 * manifest tests (test_manifests.c, test_manifest_flags.c).
 *
 * Every *.yaml of the directories is read at run time (so a new file is
 * covered) with ebb's own YAML reader; each document keeps a reader of its
 * own, so every tree stays valid until manifests_teardown. A check that
 * finds a problem calls FAIL, which prints it with file:line:col and counts
 * it in `fails`; each test ends with assert_int_equal(fails, 0). */
#ifndef EBB_TESTS_K8S_MANIFESTS_H
#define EBB_TESTS_K8S_MANIFESTS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/yaml.h"

#define DEPLOY_DIR SRCDIR "/../../deploy/kubernetes"
#define TUTORIAL_DIR SRCDIR "/../../examples/tutorial"
#define DOCS_MAX 256

/* One document, with a reader of its own so that every tree stays valid at
 * once (a reader's tree lasts until its next document). */
struct doc {
    char file[256];
    struct yaml_reader r;
    struct ynode *root;
    const char *kind, *name, *ns;
};

struct docset {
    struct doc *docs[DOCS_MAX];
    size_t n;
    char *texts[DOCS_MAX]; /* file contents, kept for the readers */
    size_t ntexts;
};

extern struct docset deploy, tutorial;
extern int fails;  /* problems found by the running test */
extern bool quiet; /* the self-tests' expected failures are counted, not printed */

#define FAIL(d, node, ...) fail_at((d), (node), __VA_ARGS__)
void fail_at(const struct doc *d, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cmocka fixtures: the group's setup loads both directories, its teardown
 * frees them; manifests_reset zeroes `fails` before each test. */
int manifests_setup(void **state);
int manifests_teardown(void **state);
int manifests_reset(void **state);

/* Reading. */
const char *str(const struct ynode *n);   /* a scalar's text; NULL for null or not a scalar */
bool streq(const char *a, const char *b); /* false when either is NULL */
const struct ynode *at(const struct ynode *n, const char *dotted); /* "spec.template.spec" */
size_t seq_len(const struct ynode *n);
bool seq_has(const struct ynode *seq, const char *s);
bool is_true(const struct ynode *n);
void load_text(struct docset *set, const char *file, char *text, size_t len);
void load_dir(struct docset *set, const char *dir);
void free_set(struct docset *set);

/* Finding things in deploy/kubernetes/. */
struct doc *find(const struct docset *set, const char *kind, const char *name);
/* The documents of one kind, in file order, into out (DOCS_MAX slots); how many. */
size_t of_kind(const struct docset *set, const char *kind, const struct doc **out);
bool selects(const struct ynode *selector, const struct ynode *labels);
const char *the_ns(void);
const struct ynode *ebb_container(const struct doc *d, const char *command);
struct doc *ebb_deployment(const struct docset *set, const char *command);
long container_port(const struct ynode *c, const struct ynode *port);
long pod_port(const struct doc *d, const struct ynode *port);
const struct doc *service_of(const struct doc *d);

/* The checks can fail: check must find a problem in the one document of yaml. */
void expect_refused(const char *rule, const char *yaml,
                    void (*check)(const struct doc *, const void *), const void *ctx);

#endif
