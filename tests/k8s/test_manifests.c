/* deploy/kubernetes/: every manifest checked for what would make `kubectl
 * apply` fail, or the system not work once applied (manifests.h reads them):
 *
 *   - every document is an object with apiVersion, kind and metadata.name, of
 *     a kind this test knows, in one namespace (cluster-scoped kinds in none);
 *   - Deployments select their own pods, name an image, probe declared ports;
 *   - Services send to one Deployment's pods and are scraped; ServiceMonitors
 *     scrape named ports;
 *   - RBAC grants exactly the table below: a wider grant fails;
 *   - the CRD is keda.sh/v1alpha1 with a status subresource and a structural
 *     schema that every ScaledObject here and in examples/tutorial/ fits.
 *
 * The ebb containers' flags are test_manifest_flags.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifests.h"

/* ---------- every object ---------- */

static const struct {
    const char *kind, *api_version;
    bool namespaced;
} kinds[] = {
    {"ServiceAccount", "v1", true},
    {"Service", "v1", true},
    {"Deployment", "apps/v1", true},
    {"Role", "rbac.authorization.k8s.io/v1", true},
    {"RoleBinding", "rbac.authorization.k8s.io/v1", true},
    {"ClusterRole", "rbac.authorization.k8s.io/v1", false},
    {"ClusterRoleBinding", "rbac.authorization.k8s.io/v1", false},
    {"CustomResourceDefinition", "apiextensions.k8s.io/v1", false},
    {"ServiceMonitor", "monitoring.coreos.com/v1", true},
    {"ScaledObject", "keda.sh/v1alpha1", true},
};

static void documents_are_known_objects_in_one_namespace(void **state)
{
    const char *ns = the_ns();
    assert_non_null(ns);
    assert_true(deploy.n >= 10);
    for (size_t i = 0; i < deploy.n; i++) {
        const struct doc *d = deploy.docs[i];
        if (d->root->kind != YN_MAP || !d->kind || !d->name) {
            FAIL(d, d->root, "not an object with apiVersion, kind and metadata.name");
            continue;
        }
        const char *api = str(ymap_get(d->root, "apiVersion"));
        size_t k = 0;
        while (k < sizeof(kinds) / sizeof(kinds[0]) && !streq(kinds[k].kind, d->kind))
            k++;
        if (k == sizeof(kinds) / sizeof(kinds[0])) {
            FAIL(d, d->root, "a kind this test does not know: add it to kinds[] with its checks");
            continue;
        }
        if (!streq(api, kinds[k].api_version))
            FAIL(d, ymap_get(d->root, "apiVersion"), "apiVersion must be %s", kinds[k].api_version);
        if (kinds[k].namespaced && !streq(d->ns, ns))
            FAIL(d, at(d->root, "metadata"), "namespace must be %s, as everywhere else here", ns);
        if (!kinds[k].namespaced && d->ns)
            FAIL(d, at(d->root, "metadata.namespace"), "a cluster-scoped kind has no namespace");
        for (size_t j = 0; j < i; j++)
            if (streq(deploy.docs[j]->kind, d->kind) && streq(deploy.docs[j]->name, d->name))
                FAIL(d, d->root, "defined twice (also in %s)", deploy.docs[j]->file);
    }
    assert_int_equal(fails, 0);
}

/* ---------- Deployments ---------- */

static void check_probes(const struct doc *d, const struct ynode *c)
{
    static const char *const probes[] = {"readinessProbe", "livenessProbe", "startupProbe"};
    for (size_t p = 0; p < 3; p++) {
        const struct ynode *get = at(ymap_get(c, probes[p]), "httpGet");
        if (!get)
            continue;
        if (container_port(c, ymap_get(get, "port")) < 0)
            FAIL(d, get, "%s: port is not one of the container's ports", probes[p]);
        const char *path = str(ymap_get(get, "path"));
        if (!path || path[0] != '/')
            FAIL(d, get, "%s: path must be an absolute path", probes[p]);
    }
}

static void deployments_select_their_pods_and_name_images(void **state)
{
    const struct doc *all[DOCS_MAX];
    size_t n = of_kind(&deploy, "Deployment", all);
    for (size_t i = 0; i < n; i++) {
        const struct doc *d = all[i];
        const struct ynode *labels = at(d->root, "spec.template.metadata.labels");
        if (!selects(at(d->root, "spec.selector.matchLabels"), labels))
            FAIL(d, at(d->root, "spec.selector"),
                 "selector.matchLabels must match the pod template's labels");
        const struct ynode *cs = at(d->root, "spec.template.spec.containers");
        if (seq_len(cs) == 0)
            FAIL(d, at(d->root, "spec.template.spec"), "no containers");
        for (size_t k = 0; k < seq_len(cs); k++) {
            const struct ynode *c = cs->items[k];
            const char *image = str(ymap_get(c, "image"));
            if (!str(ymap_get(c, "name")) || !image || !image[0])
                FAIL(d, c, "container %zu: name and image are required", k);
            check_probes(d, c);
        }
        const char *sa = str(at(d->root, "spec.template.spec.serviceAccountName"));
        if (sa && !find(&deploy, "ServiceAccount", sa))
            FAIL(d, at(d->root, "spec.template.spec"),
                 "serviceAccountName %s: no such ServiceAccount here", sa);
        if (ebb_container(d, NULL) && !sa)
            FAIL(d, at(d->root, "spec.template.spec"),
                 "an ebb pod needs its own serviceAccountName (rbac.yaml)");
    }
    assert_int_equal(n, 3); /* vLLM, the router, the autoscaler */
    const struct doc *as = ebb_deployment(&deploy, "autoscaler");
    if (!as) {
        fail_msg("no Deployment runs `ebb autoscaler`");
        return;
    }
    const char *replicas = str(at(as->root, "spec.replicas"));
    if (!replicas || strtol(replicas, NULL, 10) < 2)
        FAIL(as, at(as->root, "spec"), "the autoscaler runs 2 replicas (leader election)");
    assert_int_equal(fails, 0);
}

/* ---------- Services and ServiceMonitors ---------- */

static bool scraped(const struct doc *svc)
{
    for (size_t i = 0; i < deploy.n; i++)
        if (streq(deploy.docs[i]->kind, "ServiceMonitor") &&
            selects(at(deploy.docs[i]->root, "spec.selector.matchLabels"),
                    at(svc->root, "metadata.labels")))
            return true;
    return false;
}

/* Each Service sends to the pods of exactly one Deployment, on ports those
 * pods have, and Prometheus scrapes it (servicemonitor.yaml). */
static void services_select_pods_and_are_scraped(void **state)
{
    const struct doc *all[DOCS_MAX];
    size_t n = of_kind(&deploy, "Service", all);
    for (size_t i = 0; i < n; i++) {
        const struct doc *s = all[i];
        const struct doc *target = NULL;
        size_t matches = 0;
        for (size_t j = 0; j < deploy.n; j++)
            if (streq(deploy.docs[j]->kind, "Deployment") &&
                selects(at(s->root, "spec.selector"),
                        at(deploy.docs[j]->root, "spec.template.metadata.labels")))
                target = deploy.docs[j], matches++;
        if (matches != 1) {
            FAIL(s, at(s->root, "spec.selector"), "selects the pods of %zu Deployments, not 1",
                 matches);
            continue;
        }
        const struct ynode *ports = at(s->root, "spec.ports");
        if (seq_len(ports) == 0)
            FAIL(s, at(s->root, "spec"), "no ports");
        for (size_t k = 0; k < seq_len(ports); k++) {
            const struct ynode *p = ports->items[k];
            const struct ynode *tp = ymap_get(p, "targetPort");
            if (pod_port(target, tp ? tp : ymap_get(p, "port")) < 0)
                FAIL(s, p, "targetPort is not a port of %s's pods", target->name);
            if (!str(ymap_get(p, "name")))
                FAIL(s, p, "a port needs a name for the ServiceMonitor to refer to");
        }
        if (!scraped(s))
            FAIL(s, s->root, "no ServiceMonitor here scrapes it");
    }
    assert_int_equal(n, 3);
    const struct doc *router = ebb_deployment(&deploy, "router");
    assert_non_null(router);
    if (!service_of(router))
        FAIL(router, router->root, "no Service sends to the router's pods");
    assert_int_equal(fails, 0);
}

static void servicemonitors_scrape_named_ports(void **state)
{
    const struct doc *all[DOCS_MAX];
    size_t n = of_kind(&deploy, "ServiceMonitor", all);
    for (size_t i = 0; i < n; i++) {
        const struct doc *m = all[i];
        const struct ynode *sel = at(m->root, "spec.selector.matchLabels");
        const struct ynode *eps = at(m->root, "spec.endpoints");
        size_t services = 0;
        for (size_t j = 0; j < deploy.n; j++) {
            const struct doc *s = deploy.docs[j];
            if (!streq(s->kind, "Service") || !selects(sel, at(s->root, "metadata.labels")))
                continue;
            services++;
            for (size_t e = 0; e < seq_len(eps); e++) {
                const char *port = str(ymap_get(eps->items[e], "port"));
                const struct ynode *ports = at(s->root, "spec.ports");
                bool found = false;
                for (size_t k = 0; k < seq_len(ports); k++)
                    found |= streq(str(ymap_get(ports->items[k], "name")), port);
                if (!found)
                    FAIL(m, eps->items[e], "port %s is not a named port of Service %s",
                         port ? port : "(none)", s->name);
                if (!streq(str(ymap_get(eps->items[e], "path")), "/metrics"))
                    FAIL(m, eps->items[e], "path must be /metrics");
            }
        }
        if (services == 0 || seq_len(eps) == 0)
            FAIL(m, m->root, "selects no Service here, or has no endpoints");
    }
    assert_int_equal(n, 3); /* engines, router, autoscaler */
    assert_int_equal(fails, 0);
}

/* ---------- RBAC ---------- */

/* Everything ebb's service accounts may do: one row per (Role, apiGroup,
 * resource, verb). only: the grant must be limited to that resource name. A
 * grant not in this table fails the test, and so does a row not granted. */
static const struct rbac_row {
    const char *role, *group, *resource, *verb, *only;
} rbac[] = {
    {"ebb-router", "", "pods", "get", NULL},
    {"ebb-router", "", "pods", "list", NULL},
    {"ebb-router", "", "pods", "watch", NULL},
    {"ebb-autoscaler", "keda.sh", "scaledobjects", "get", NULL},
    {"ebb-autoscaler", "keda.sh", "scaledobjects", "list", NULL},
    {"ebb-autoscaler", "keda.sh", "scaledobjects", "watch", NULL},
    {"ebb-autoscaler", "keda.sh", "scaledobjects/status", "update", NULL},
    {"ebb-autoscaler", "keda.sh", "scaledobjects/status", "patch", NULL},
    {"ebb-autoscaler", "apps", "deployments/scale", "get", NULL},
    {"ebb-autoscaler", "apps", "deployments/scale", "patch", NULL},
    {"ebb-autoscaler", "apps", "deployments/scale", "update", NULL},
    {"ebb-autoscaler", "apps", "statefulsets/scale", "get", NULL},
    {"ebb-autoscaler", "apps", "statefulsets/scale", "patch", NULL},
    {"ebb-autoscaler", "apps", "statefulsets/scale", "update", NULL},
    {"ebb-autoscaler", "", "pods", "list", NULL},
    {"ebb-autoscaler", "", "pods", "patch", NULL},
    {"ebb-autoscaler", "", "events", "create", NULL},
    {"ebb-autoscaler", "", "events", "patch", NULL},
    {"ebb-autoscaler-leader-election", "coordination.k8s.io", "leases", "create", NULL},
    {"ebb-autoscaler-leader-election", "coordination.k8s.io", "leases", "get", "ebb-autoscaler"},
    {"ebb-autoscaler-leader-election", "coordination.k8s.io", "leases", "update", "ebb-autoscaler"},
};
#define RBAC_ROWS (sizeof(rbac) / sizeof(rbac[0]))

/* Which service account holds each Role, and which ebb command runs as it. */
static const struct {
    const char *role, *service_account, *command;
} holders[] = {
    {"ebb-router", "ebb-router", "router"},
    {"ebb-autoscaler", "ebb-autoscaler", "autoscaler"},
    {"ebb-autoscaler-leader-election", "ebb-autoscaler", "autoscaler"},
};

/* Each (group, resource, verb) of one rule against the table. */
static void check_rule(const struct doc *d, const struct ynode *rule, bool granted[RBAC_ROWS])
{
    const struct ynode *groups = ymap_get(rule, "apiGroups"), *res = ymap_get(rule, "resources");
    const struct ynode *verbs = ymap_get(rule, "verbs"), *names = ymap_get(rule, "resourceNames");
    if (ymap_get(rule, "nonResourceURLs") || seq_len(groups) * seq_len(res) * seq_len(verbs) == 0)
        FAIL(d, rule, "a rule needs apiGroups, resources and verbs, and no nonResourceURLs");
    for (size_t g = 0; g < seq_len(groups); g++)
        for (size_t r = 0; r < seq_len(res); r++)
            for (size_t v = 0; v < seq_len(verbs); v++) {
                const char *gs = str(groups->items[g]), *rs = str(res->items[r]);
                const char *vs = str(verbs->items[v]);
                size_t k = 0;
                while (k < RBAC_ROWS &&
                       !(streq(rbac[k].role, d->name) && streq(rbac[k].group, gs ? gs : "") &&
                         streq(rbac[k].resource, rs) && streq(rbac[k].verb, vs)))
                    k++;
                if (k == RBAC_ROWS) {
                    FAIL(d, verbs->items[v], "grants %s on %s%s%s, which the table does not allow",
                         vs, gs && gs[0] ? gs : "", gs && gs[0] ? "/" : "", rs ? rs : "?");
                    continue;
                }
                if (rbac[k].only && !(seq_len(names) == 1 && seq_has(names, rbac[k].only)))
                    FAIL(d, rule, "%s on %s must be limited to resourceNames [%s]", vs, rs,
                         rbac[k].only);
                granted[k] = true;
            }
}

static void check_binding(const struct doc *b, const char *ns)
{
    const char *role = str(at(b->root, "roleRef.name"));
    if (!streq(str(at(b->root, "roleRef.kind")), "Role") || !find(&deploy, "Role", role))
        FAIL(b, at(b->root, "roleRef"), "roleRef must name a Role defined here");
    const struct ynode *subjects = ymap_get(b->root, "subjects");
    for (size_t s = 0; s < seq_len(subjects); s++) {
        const struct ynode *sub = subjects->items[s];
        const char *sa = str(ymap_get(sub, "name"));
        if (!streq(str(ymap_get(sub, "kind")), "ServiceAccount") ||
            !find(&deploy, "ServiceAccount", sa) || !streq(str(ymap_get(sub, "namespace")), ns))
            FAIL(b, sub, "subjects must be ServiceAccounts defined here, in namespace %s", ns);
        bool held = false;
        for (size_t h = 0; h < sizeof(holders) / sizeof(holders[0]); h++)
            held |= streq(holders[h].role, role) && streq(holders[h].service_account, sa);
        if (!held)
            FAIL(b, sub, "%s is not meant to hold Role %s", sa ? sa : "?", role ? role : "?");
    }
}

static void rbac_grants_exactly_the_table(void **state)
{
    bool granted[RBAC_ROWS] = {false};
    const char *ns = the_ns();
    for (size_t i = 0; i < deploy.n; i++) {
        const struct doc *d = deploy.docs[i];
        if (streq(d->kind, "ClusterRole") || streq(d->kind, "ClusterRoleBinding"))
            FAIL(d, d->root, "cluster-wide grants: ebb needs namespaced Roles only");
        if (streq(d->kind, "RoleBinding"))
            check_binding(d, ns);
        if (!streq(d->kind, "Role"))
            continue;
        const struct ynode *rules = ymap_get(d->root, "rules");
        for (size_t r = 0; r < seq_len(rules); r++)
            check_rule(d, rules->items[r], granted);
    }
    for (size_t k = 0; k < RBAC_ROWS; k++)
        if (!granted[k])
            FAIL(NULL, NULL, "Role %s does not grant %s on %s%s%s, which ebb needs", rbac[k].role,
                 rbac[k].verb, rbac[k].group, rbac[k].group[0] ? "/" : "", rbac[k].resource);
    /* Each Role is bound to the account of the pods that need it. */
    for (size_t h = 0; h < sizeof(holders) / sizeof(holders[0]); h++) {
        bool bound = false;
        for (size_t i = 0; i < deploy.n; i++) {
            const struct doc *b = deploy.docs[i];
            if (streq(b->kind, "RoleBinding") &&
                streq(str(at(b->root, "roleRef.name")), holders[h].role))
                for (size_t s = 0; s < seq_len(ymap_get(b->root, "subjects")); s++)
                    bound |= streq(str(ymap_get(ymap_get(b->root, "subjects")->items[s], "name")),
                                   holders[h].service_account);
        }
        const struct doc *dep = ebb_deployment(&deploy, holders[h].command);
        if (!bound || !dep ||
            !streq(str(at(dep->root, "spec.template.spec.serviceAccountName")),
                   holders[h].service_account))
            FAIL(dep, NULL, "`ebb %s` must run as %s, bound to Role %s", holders[h].command,
                 holders[h].service_account, holders[h].role);
    }
    assert_int_equal(fails, 0);
}

/* ---------- the CRD ---------- */

/* Structural, as the API server requires of apiextensions.k8s.io/v1: every
 * node has a type (or is int-or-string), no properties beside
 * additionalProperties. */
static void check_structural(const struct doc *d, const struct ynode *s, const char *path)
{
    bool ios = is_true(ymap_get(s, "x-kubernetes-int-or-string"));
    if (!str(ymap_get(s, "type")) && !ios)
        FAIL(d, s, "%s: a structural schema gives every node a type", path);
    const struct ynode *props = ymap_get(s, "properties"),
                       *addl = ymap_get(s, "additionalProperties");
    if (props && addl)
        FAIL(d, s, "%s: properties and additionalProperties together are not structural", path);
    char sub[512];
    for (size_t i = 0; props && i < props->n; i++) {
        snprintf(sub, sizeof(sub), "%s.%s", path, ymap_key(props, i)->text);
        check_structural(d, ymap_value(props, i), sub);
    }
    if (ymap_get(s, "items")) {
        snprintf(sub, sizeof(sub), "%s[]", path);
        check_structural(d, ymap_get(s, "items"), sub);
    }
    if (addl && addl->kind == YN_MAP) {
        snprintf(sub, sizeof(sub), "%s.*", path);
        check_structural(d, addl, sub);
    }
}

static const struct doc *the_crd(void)
{
    return find(&deploy, "CustomResourceDefinition", "scaledobjects.keda.sh");
}

static const struct ynode *crd_version(const struct doc *crd, const char *name)
{
    const struct ynode *vs = at(crd->root, "spec.versions");
    for (size_t i = 0; i < seq_len(vs); i++)
        if (streq(str(ymap_get(vs->items[i], "name")), name))
            return vs->items[i];
    return NULL;
}

static void crd_is_keda_scaledobjects_v1alpha1(void **state)
{
    const struct doc *crd = the_crd();
    if (!crd) {
        fail_msg("no CustomResourceDefinition scaledobjects.keda.sh here");
        return;
    }
    static const char *const fields[][2] = {
        {"spec.group", "keda.sh"},
        {"spec.scope", "Namespaced"},
        {"spec.names.kind", "ScaledObject"},
        {"spec.names.plural", "scaledobjects"},
        {"spec.names.singular", "scaledobject"},
        {"spec.names.listKind", "ScaledObjectList"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (!streq(str(at(crd->root, fields[i][0])), fields[i][1]))
            FAIL(crd, at(crd->root, "spec"), "%s must be %s", fields[i][0], fields[i][1]);
    if (!seq_has(at(crd->root, "spec.names.shortNames"), "so"))
        FAIL(crd, at(crd->root, "spec.names"), "shortNames must have so (kubectl get so)");
    const struct ynode *v = crd_version(crd, "v1alpha1");
    if (!v || !is_true(ymap_get(v, "served")) || !is_true(ymap_get(v, "storage")))
        FAIL(crd, at(crd->root, "spec.versions"),
             "v1alpha1 must be served and the storage version");
    if (!v)
        return;
    const struct ynode *status = at(v, "subresources.status");
    if (!status || status->kind != YN_MAP)
        FAIL(crd, v,
             "the status subresource is needed (the autoscaler writes scaledobjects/status)");
    static const char *const columns[] = {
        "ScaleTargetKind", "ScaleTargetName", "Min",    "Max", "Ready",
        "Active",          "Fallback",        "Paused", "Age"};
    const struct ynode *cols = ymap_get(v, "additionalPrinterColumns");
    for (size_t c = 0; c < sizeof(columns) / sizeof(columns[0]); c++) {
        bool found = false;
        for (size_t i = 0; i < seq_len(cols); i++)
            found |= streq(str(ymap_get(cols->items[i], "name")), columns[c]) &&
                     str(ymap_get(cols->items[i], "jsonPath")) != NULL;
        if (!found)
            FAIL(crd, cols, "printer column %s (as KEDA's) is missing", columns[c]);
    }
    const struct ynode *schema = at(v, "schema.openAPIV3Schema");
    if (!schema)
        FAIL(crd, v, "no schema.openAPIV3Schema");
    else
        check_structural(crd, schema, "openAPIV3Schema");
    if (!is_true(at(schema, "properties.status.x-kubernetes-preserve-unknown-fields")))
        FAIL(crd, schema, "status must keep unknown fields (KEDA's status, written whole)");
    assert_int_equal(fails, 0);
}

/* ---------- ScaledObjects against the CRD's schema ---------- */

static bool in_enum(const struct ynode *e, const char *v)
{
    return !e || seq_has(e, v);
}

static bool scalar_fits(const struct ynode *s, const struct ynode *v, const char *type)
{
    struct yscalar sc;
    if (v->kind != YN_SCALAR)
        return false;
    yaml_resolve(v, &sc);
    if (is_true(ymap_get(s, "x-kubernetes-int-or-string")))
        return sc.type == YV_INT || sc.type == YV_STR;
    const char *min = str(ymap_get(s, "minimum")), *max = str(ymap_get(s, "maximum"));
    if (streq(type, "integer"))
        return sc.type == YV_INT && (!min || sc.i >= strtoll(min, NULL, 10)) &&
               (!max || sc.i <= strtoll(max, NULL, 10));
    if (streq(type, "boolean"))
        return sc.type == YV_BOOL;
    if (streq(type, "number"))
        return sc.type == YV_INT || sc.type == YV_FLOAT;
    const char *minlen = str(ymap_get(s, "minLength")), *maxlen = str(ymap_get(s, "maxLength"));
    return streq(type, "string") && sc.type == YV_STR && in_enum(ymap_get(s, "enum"), v->text) &&
           (!minlen || v->len >= strtoull(minlen, NULL, 10)) &&
           (!maxlen || v->len <= strtoull(maxlen, NULL, 10));
}

static void fit_object(const struct doc *d, const struct ynode *s, const struct ynode *v,
                       const char *path);

/* What the API server checks of v against schema node s (types, enums,
 * bounds, required and unknown fields; not the CEL rule). */
static void fit(const struct doc *d, const struct ynode *s, const struct ynode *v, const char *path)
{
    if (!v || ynode_is_null(v))
        return;
    const char *type = str(ymap_get(s, "type"));
    if (streq(type, "object")) {
        fit_object(d, s, v, path);
    } else if (streq(type, "array")) {
        const char *min = str(ymap_get(s, "minItems"));
        if (v->kind != YN_SEQ || (min && v->n < strtoull(min, NULL, 10))) {
            FAIL(d, v, "%s: must be a list of at least %s", path, min ? min : "0");
            return;
        }
        for (size_t i = 0; i < v->n; i++) {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            fit(d, ymap_get(s, "items"), v->items[i], sub);
        }
    } else if (!scalar_fits(s, v, type)) {
        char got[128];
        ynode_describe(v, got, sizeof(got));
        FAIL(d, v, "%s: the CRD wants %s%s, got %s", path, type ? type : "int-or-string",
             ymap_get(s, "enum") || ymap_get(s, "minimum") ? " (within its enum or bounds)" : "",
             got);
    }
}

static void fit_object(const struct doc *d, const struct ynode *s, const struct ynode *v,
                       const char *path)
{
    if (v->kind != YN_MAP) {
        FAIL(d, v, "%s: must be an object", path);
        return;
    }
    const struct ynode *props = ymap_get(s, "properties"),
                       *addl = ymap_get(s, "additionalProperties");
    bool keep = is_true(ymap_get(s, "x-kubernetes-preserve-unknown-fields"));
    for (size_t i = 0; i < v->n; i++) {
        const char *key = ymap_key(v, i)->text;
        char sub[512];
        snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
        if (path[0] == '\0' && streq(key, "metadata"))
            continue; /* ObjectMeta: the API server's own schema, not the CRD's */
        const struct ynode *ks = ymap_get(props, key);
        if (!ks && addl && addl->kind == YN_MAP)
            ks = addl;
        if (ks)
            fit(d, ks, ymap_value(v, i), sub);
        else if (!keep)
            FAIL(d, ymap_key(v, i), "%s: unknown field (the API server refuses it)", sub);
    }
    const struct ynode *req = ymap_get(s, "required");
    for (size_t i = 0; i < seq_len(req); i++) {
        const struct ynode *f = ymap_get(v, str(req->items[i]));
        if (!f || ynode_is_null(f))
            FAIL(d, v, "%s: %s is required", path[0] ? path : "(document)", str(req->items[i]));
    }
}

static const struct ynode *so_schema(void)
{
    const struct doc *crd = the_crd();
    const struct ynode *s = crd ? at(crd_version(crd, "v1alpha1"), "schema.openAPIV3Schema") : NULL;
    if (!s)
        fail_msg("no CRD scaledobjects.keda.sh with a v1alpha1 schema here");
    return s;
}

/* The ScaledObjects here and the tutorial's, unchanged, fit the CRD, and
 * scale a Deployment defined here. */
static void scaledobjects_fit_the_crd_and_name_the_deployment(void **state)
{
    const struct ynode *schema = so_schema();
    const struct docset *sets[] = {&deploy, &tutorial};
    size_t n = 0;
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < sets[k]->n; i++) {
            const struct doc *d = sets[k]->docs[i];
            if (!streq(d->kind, "ScaledObject"))
                continue;
            n++;
            fit(d, schema, d->root, "");
            const char *kind = str(at(d->root, "spec.scaleTargetRef.kind"));
            const struct doc *t =
                find(&deploy, "Deployment", str(at(d->root, "spec.scaleTargetRef.name")));
            if ((kind && !streq(kind, "Deployment")) || !t ||
                !streq(t->ns, d->ns ? d->ns : "default"))
                FAIL(d, at(d->root, "spec.scaleTargetRef"),
                     "scaleTargetRef must name a Deployment here, in its namespace");
        }
    assert_int_equal(n, 3); /* scaledobject.yaml and the tutorial's two */
    assert_int_equal(fails, 0);
}

static void fit_document(const struct doc *d, const void *schema)
{
    fit(d, schema, d->root, "");
}

/* The checks can fail: each row is a ScaledObject the API server would
 * refuse under this CRD, and fit() must say so. */
static void the_schema_check_refuses_what_the_api_server_would(void **state)
{
    static const struct {
        const char *rule, *yaml;
    } rows[] = {
        {"a metadata value must be a string (threshold: 5 unquoted)",
         "spec:\n  scaleTargetRef: {name: d}\n  triggers:\n  - type: prometheus\n"
         "    metadata: {query: up, threshold: 5}\n"},
        {"an unknown spec field is refused (strict validation)",
         "spec:\n  scaleTargetRef: {name: d}\n  pollingIntervall: 15\n"
         "  triggers: [{type: prometheus, metadata: {query: up}}]\n"},
        {"triggers is required", "spec:\n  scaleTargetRef: {name: d}\n"},
        {"triggers may not be empty", "spec:\n  scaleTargetRef: {name: d}\n  triggers: []\n"},
        {"pollingInterval is an integer >= 1",
         "spec:\n  scaleTargetRef: {name: d}\n  pollingInterval: 0\n"
         "  triggers: [{type: prometheus, metadata: {query: up}}]\n"},
        {"minReplicaCount is an integer, not a string",
         "spec:\n  scaleTargetRef: {name: d}\n  minReplicaCount: '1'\n"
         "  triggers: [{type: prometheus, metadata: {query: up}}]\n"},
        {"metricType is an enum",
         "spec:\n  scaleTargetRef: {name: d}\n"
         "  triggers: [{type: prometheus, metricType: Average, metadata: {query: up}}]\n"},
        {"fallback needs replicas",
         "spec:\n  scaleTargetRef: {name: d}\n  fallback: {failureThreshold: 3}\n"
         "  triggers: [{type: prometheus, metadata: {query: up}}]\n"},
        {"a behavior policy type is Pods or Percent",
         "spec:\n  scaleTargetRef: {name: d}\n  advanced:\n    horizontalPodAutoscalerConfig:\n"
         "      behavior:\n        scaleDown:\n          policies: [{type: Replicas, value: 1, "
         "periodSeconds: 60}]\n"
         "  triggers: [{type: prometheus, metadata: {query: up}}]\n"},
    };
    const struct ynode *schema = so_schema();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        expect_refused(rows[i].rule, rows[i].yaml, fit_document, schema);
    assert_int_equal(fails, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(documents_are_known_objects_in_one_namespace, manifests_reset),
        cmocka_unit_test_setup(deployments_select_their_pods_and_name_images, manifests_reset),
        cmocka_unit_test_setup(services_select_pods_and_are_scraped, manifests_reset),
        cmocka_unit_test_setup(servicemonitors_scrape_named_ports, manifests_reset),
        cmocka_unit_test_setup(rbac_grants_exactly_the_table, manifests_reset),
        cmocka_unit_test_setup(crd_is_keda_scaledobjects_v1alpha1, manifests_reset),
        cmocka_unit_test_setup(scaledobjects_fit_the_crd_and_name_the_deployment, manifests_reset),
        cmocka_unit_test_setup(the_schema_check_refuses_what_the_api_server_would, manifests_reset),
    };
    return cmocka_run_group_tests(tests, manifests_setup, manifests_teardown);
}
