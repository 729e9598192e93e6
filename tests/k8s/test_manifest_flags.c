/* deploy/kubernetes/: the ebb containers' args are flags that `ebb <command>
 * --help` lists (with the values it lists), bind 0.0.0.0, and agree with the
 * other objects: the namespace, the engines' labels and port, the router's
 * Service (manifests.h reads them).
 *
 * argv[1] is the ebb binary. Flags other people are adding while this was
 * written are listed in `pending` below: each is accepted only while its
 * feature is visibly absent from --help, then checked like any other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifests.h"

#define HELP_MAX 65536
#define FLAGS_MAX 128

static const char *ebb_path;

/* A flag as `ebb <command> --help` lists it: "  --port PORT   ..." takes a
 * value, "  --check   ..." does not, and a lower-case metavar lists the
 * choices ("--routing-logic least-loaded|roundrobin|..."). */
struct help_flag {
    char name[64];
    bool value;
    char choices[256]; /* "" when any value goes */
};

struct help {
    char command[32];
    char text[HELP_MAX];
    struct help_flag flags[FLAGS_MAX];
    size_t n;
};

static void help_parse_line(struct help *h, const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] == ' ')
        i++;
    if (i + 1 < len && line[i] == '-' && line[i + 1] != '-') { /* "-f, --file" */
        const char *comma = memmem(line + i, len - i, ", --", 4);
        if (!comma)
            return;
        i = (size_t)(comma - line) + 2;
    }
    if (i + 2 >= len || strncmp(line + i, "--", 2) != 0)
        return;
    assert_true(h->n < FLAGS_MAX);
    struct help_flag *f = &h->flags[h->n++];
    memset(f, 0, sizeof(*f));
    size_t s = i;
    while (i < len && line[i] != ' ')
        i++;
    snprintf(f->name, sizeof(f->name), "%.*s", (int)(i - s), line + s);
    if (i + 1 < len && line[i] == ' ' && line[i + 1] != ' ') {
        f->value = true;
        s = ++i;
        while (i < len && line[i] != ' ')
            i++;
        bool lower = false;
        for (size_t k = s; k < i; k++)
            lower |= line[k] >= 'a' && line[k] <= 'z';
        if (lower)
            snprintf(f->choices, sizeof(f->choices), "%.*s", (int)(i - s), line + s);
    }
}

/* Runs `ebb <command> --help` and reads its "flags:" section. */
static void help_load(struct help *h, const char *command)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->command, sizeof(h->command), "%s", command);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' %s --help", ebb_path, command);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(h->text, 1, sizeof(h->text) - 1, p);
    assert_int_equal(pclose(p), 0);
    h->text[len] = '\0';
    const char *flags = strstr(h->text, "\nflags:\n");
    assert_non_null(flags);
    for (const char *l = flags + 8; *l && *l != '\n';) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        help_parse_line(h, l, n);
        l += n + (e != NULL);
    }
    assert_true(h->n >= 3);
}

static const struct help_flag *help_flag(const struct help *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (streq(h->flags[i].name, name))
            return &h->flags[i];
    return NULL;
}

static bool has_choice(const char *choices, const char *v)
{
    size_t len = strlen(v);
    for (const char *c = choices; *c;) {
        size_t n = strcspn(c, "|");
        if (n == len && strncmp(c, v, n) == 0)
            return true;
        c += n + (c[n] == '|');
    }
    return false;
}

/* Flags (and values) the manifests use that other people are adding to ebb
 * while this is written (issue 7). Each is accepted only while its feature is
 * visibly missing from --help (landed() below): the router's
 * --service-discovery without the choice k8s, the autoscaler without
 * --kubernetes. Once the feature is in, every flag here is checked like any
 * other, and a name that changed on the way fails the test. */
static const struct {
    const char *command, *flag, *value; /* value NULL: the flag itself */
} pending[] = {
    {"router", "--service-discovery", "k8s"}, {"router", "--k8s-namespace", NULL},
    {"router", "--k8s-label-selector", NULL}, {"router", "--k8s-port", NULL},
    {"autoscaler", "--kubernetes", NULL},     {"autoscaler", "--namespace", NULL},
    {"autoscaler", "--router", NULL},
};

static bool landed(const struct help *h)
{
    if (streq(h->command, "router")) {
        const struct help_flag *f = help_flag(h, "--service-discovery");
        return f && has_choice(f->choices, "k8s");
    }
    return help_flag(h, "--kubernetes") != NULL;
}

static bool is_pending(const struct help *h, const char *flag, const char *value)
{
    if (landed(h))
        return false;
    for (size_t i = 0; i < sizeof(pending) / sizeof(pending[0]); i++)
        if (streq(pending[i].command, h->command) && streq(pending[i].flag, flag) &&
            (pending[i].value ? streq(pending[i].value, value) : !value)) {
            print_message("pending: `ebb %s --help` has no %s%s%s yet (issue 7, being added)\n",
                          h->command, flag, value ? " value " : "", value ? value : "");
            return true;
        }
    return false;
}

/* The args of one ebb container, as name (without "--") and value. */
struct args {
    char name[32][64];
    const char *value[32];
    size_t n;
};

static const char *arg(const struct args *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (streq(a->name[i], name))
            return a->value[i] ? a->value[i] : "";
    return NULL;
}

/* Checks args[1..] against h: every one a listed flag ("--name=value" or
 * "--name value"), a value where one is taken and none where not, one of the
 * choices where there are choices. Fills a. */
static void check_args(const struct doc *d, const struct ynode *args, const struct help *h,
                       struct args *a)
{
    memset(a, 0, sizeof(*a));
    for (size_t i = 1; i < seq_len(args); i++) {
        const struct ynode *n = args->items[i];
        const char *s = str(n);
        if (!s || strncmp(s, "--", 2) != 0) {
            FAIL(d, n, "\"%s\": ebb takes flags only, no positional arguments", s ? s : "");
            continue;
        }
        const char *eq = strchr(s, '=');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - s) : strlen(s)), s);
        const struct help_flag *f = help_flag(h, name);
        const char *value = eq ? eq + 1 : NULL;
        if (!value && f && f->value && i + 1 < seq_len(args))
            value = str(args->items[++i]);
        assert_true(a->n < 32);
        snprintf(a->name[a->n], sizeof(a->name[0]), "%s", name + 2);
        a->value[a->n++] = value;
        if (!f) {
            if (!is_pending(h, name, NULL))
                FAIL(d, n, "`ebb %s --help` lists no %s", h->command, name);
        } else if (f->value && !value) {
            FAIL(d, n, "%s takes a value", name);
        } else if (!f->value && value) {
            FAIL(d, n, "%s takes no value", name);
        } else if (f->choices[0] && !has_choice(f->choices, value) && !is_pending(h, name, value)) {
            FAIL(d, n, "%s: \"%s\" is not one of %s", name, value, f->choices);
        }
    }
}

/* The one Deployment (other than self) whose pods a "k=v,k2=v2" selector
 * selects, or NULL. */
static const struct doc *selected_by(const struct doc *self, const char *sel)
{
    const struct doc *found = NULL;
    for (size_t i = 0; i < deploy.n; i++) {
        const struct doc *d = deploy.docs[i];
        if (d == self || !streq(d->kind, "Deployment"))
            continue;
        const struct ynode *labels = at(d->root, "spec.template.metadata.labels");
        bool all = sel[0] != '\0';
        for (const char *p = sel; *p && all;) {
            size_t n = strcspn(p, ","), k = strcspn(p, "=");
            char key[64];
            if (k >= n || k >= sizeof(key))
                return NULL;
            snprintf(key, sizeof(key), "%.*s", (int)k, p);
            const char *v = str(ymap_get(labels, key));
            all = v && strlen(v) == n - k - 1 && strncmp(v, p + k + 1, n - k - 1) == 0;
            p += n + (p[n] == ',');
        }
        if (all) {
            if (found)
                return NULL;
            found = d;
        }
    }
    return found;
}

/* Both commands: reachable from other pods, listening where the container
 * says, probed on paths the command serves. */
static void check_listening(const struct doc *d, const struct ynode *c, const struct help *h,
                            const struct args *a)
{
    if (!streq(arg(a, "host"), "0.0.0.0"))
        FAIL(
            d, c,
            "--host=0.0.0.0 is needed: ebb binds 127.0.0.1 otherwise, unreachable from other pods");
    const char *port = arg(a, "port");
    struct ynode pn = {.kind = YN_SCALAR, .text = port, .len = port ? strlen(port) : 0};
    if (!port || container_port(c, &pn) < 0)
        FAIL(d, c, "--port must be one of the container's ports");
    static const char *const probes[] = {"readinessProbe", "livenessProbe"};
    for (size_t p = 0; p < 2; p++) {
        const char *path = str(at(ymap_get(c, probes[p]), "httpGet.path"));
        if (!path)
            FAIL(d, c, "an ebb container needs a %s", probes[p]);
        else if (!strstr(h->text, path))
            FAIL(d, c, "%s: `ebb %s --help` does not list %s", probes[p], h->command, path);
    }
}

static void check_router(const struct doc *d, const struct ynode *c, const struct args *a,
                         const char *ns)
{
    if (!streq(arg(a, "service-discovery"), "k8s"))
        FAIL(d, c, "the router needs --service-discovery=k8s");
    if (!streq(arg(a, "k8s-namespace"), ns))
        FAIL(d, c, "--k8s-namespace must be %s, where the engines are", ns);
    const char *sel = arg(a, "k8s-label-selector");
    const struct doc *engines = sel ? selected_by(d, sel) : NULL;
    if (!engines) {
        FAIL(d, c, "--k8s-label-selector must select the pods of exactly one Deployment here");
        return;
    }
    const char *port = arg(a, "k8s-port");
    struct ynode pn = {.kind = YN_SCALAR, .text = port, .len = port ? strlen(port) : 0};
    if (!port || pod_port(engines, &pn) < 0)
        FAIL(d, c, "--k8s-port must be a port of %s's pods", engines->name);
}

/* --router=http://<service>.<ns>.svc:<port>: the router's Service, one of its ports. */
static void check_autoscaler(const struct doc *d, const struct ynode *c, const struct args *a,
                             const char *ns)
{
    if (!arg(a, "kubernetes"))
        FAIL(d, c, "the autoscaler needs --kubernetes");
    if (!streq(arg(a, "namespace"), ns))
        FAIL(d, c, "--namespace must be %s, where the ScaledObjects are", ns);
    const struct doc *router = ebb_deployment(&deploy, "router");
    const struct doc *svc = router ? service_of(router) : NULL;
    const char *url = arg(a, "router");
    char want[256];
    snprintf(want, sizeof(want), "http://%s.%s.svc:", svc ? svc->name : "?", ns);
    if (!svc || !url || strncmp(url, want, strlen(want)) != 0) {
        FAIL(d, c, "--router must be %s<port>, the router's Service", want);
        return;
    }
    const char *port = url + strlen(want);
    const struct ynode *ports = at(svc->root, "spec.ports");
    bool found = false;
    for (size_t i = 0; i < seq_len(ports); i++)
        found |= streq(str(ymap_get(ports->items[i], "port")), port);
    if (!found)
        FAIL(d, c, "--router: %s is not a port of Service %s", port, svc->name);
}

static void ebb_args_are_flags_of_the_binary(void **state)
{
    static const char *const commands[] = {"router", "autoscaler"};
    static struct help h;
    const char *ns = the_ns();
    for (size_t k = 0; k < 2; k++) {
        const struct doc *d = ebb_deployment(&deploy, commands[k]);
        if (!d) {
            FAIL(NULL, NULL, "no Deployment runs `ebb %s`", commands[k]);
            continue;
        }
        help_load(&h, commands[k]);
        const struct ynode *c = ebb_container(d, commands[k]);
        struct args a;
        check_args(d, ymap_get(c, "args"), &h, &a);
        check_listening(d, c, &h, &a);
        if (k == 0)
            check_router(d, c, &a, ns);
        else
            check_autoscaler(d, c, &a, ns);
    }
    assert_int_equal(fails, 0);
}

static void check_args_of(const struct doc *d, const void *help)
{
    struct args a;
    check_args(d, d->root, help, &a);
}

/* The args check can fail too: each row is a router command line that
 * `ebb router` would refuse. */
static void the_args_check_refuses_what_ebb_would(void **state)
{
    static const struct {
        const char *rule, *yaml;
    } rows[] = {
        {"a flag --help does not list", "[router, --no-such-flag=1]"},
        {"a value that is not one of the choices", "[router, --routing-logic=fastest]"},
        {"a flag that takes a value, without one", "[router, --port]"},
        {"a flag that takes no value, with one", "[router, --help=yes]"},
        {"a positional argument", "[router, engines]"},
    };
    static struct help h;
    help_load(&h, "router");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        expect_refused(rows[i].rule, rows[i].yaml, check_args_of, &h);
    assert_int_equal(fails, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-EBB\n", argv[0]);
        return 2;
    }
    ebb_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(ebb_args_are_flags_of_the_binary, manifests_reset),
        cmocka_unit_test_setup(the_args_check_refuses_what_ebb_would, manifests_reset),
    };
    return cmocka_run_group_tests(tests, manifests_setup, manifests_teardown);
}
