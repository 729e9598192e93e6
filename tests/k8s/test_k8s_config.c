/* k8s config (kubeconfig, in-cluster, the token's re-reading) and the
 * readers of watch events and lists: tables, one row per rule, each error
 * naming its file and field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s/config.h"
#include "k8s/object.h"

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int group_setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/ebb-k8s-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file("ca.crt", "CA PEM\n");
    write_file("token", "tok-1\n");
    write_file("namespace", "serving\n");
    write_file("empty", "");
    return 0;
}

static int group_teardown(void **state)
{
    const char *names[] = {"ca.crt", "token", "namespace", "empty"};
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

#define HEAD "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
#define CLUSTER "clusters:\n- name: k\n  cluster: {server: 'https://10.0.0.1:6443'}\n"
#define USER "users:\n- name: u\n  user: {token: abc}\n"

struct kc_row {
    const char *rule;
    const char *yaml;
    const char *err; /* NULL: loads */
    const char *server, *token, *ns, *ca;
    bool insecure;
};

/* "Q0EgUEVN" is base64 for "CA PEM"; "Q0VSVA==" "CERT"; "S0VZ" "KEY". */
static const struct kc_row kc_rows[] = {
    {"kubeconfig: the current context's cluster, user and namespace",
     "current-context: c\ncontexts:\n- name: other\n  context: {cluster: x, user: x}\n"
     "- name: c\n  context: {cluster: k, user: u, namespace: serving}\n"
     "clusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443/\n"
     "    certificate-authority-data: Q0EgUEVN\n" USER,
     NULL, "https://10.0.0.1:6443", "abc", "serving", "CA PEM", false},
    {"kubeconfig: no namespace in the context is \"default\"", HEAD CLUSTER USER, NULL,
     "https://10.0.0.1:6443", "abc", "default", NULL, false},
    {"kubeconfig: insecure-skip-tls-verify is read",
     HEAD "clusters:\n- name: k\n  cluster: {server: 'https://h', insecure-skip-tls-verify: true}\n"
          USER,
     NULL, "https://h", "abc", "default", NULL, true},
    {"kubeconfig: a relative certificate-authority is relative to the file's directory",
     HEAD "clusters:\n- name: k\n  cluster: {server: 'https://h', certificate-authority: ca.crt}\n"
          USER,
     NULL, "https://h", "abc", "default", "CA PEM\n", false},
    {"kubeconfig: a tokenFile is read", HEAD CLUSTER "users:\n- name: u\n  user: {tokenFile: token}\n",
     NULL, "https://10.0.0.1:6443", "tok-1", "default", NULL, false},
    {"kubeconfig: client certificate and key data",
     HEAD CLUSTER "users:\n- name: u\n  user: {client-certificate-data: Q0VSVA==, "
                  "client-key-data: S0VZ}\n",
     NULL, "https://10.0.0.1:6443", NULL, "default", NULL, false},
    {"kubeconfig: current-context must be set", "contexts: []\n",
     "kc: current-context: is not set"},
    {"kubeconfig: the current context must exist", "current-context: nope\ncontexts: []\n",
     "kc:2:11: contexts: no entry named \"nope\""},
    {"kubeconfig: the context names its cluster",
     "current-context: c\ncontexts:\n- name: c\n  context: {user: u}\n",
     "kc:4:12: contexts[0].context.cluster: is not set"},
    {"kubeconfig: the cluster must exist", HEAD USER,
     "kc: clusters: a list is needed to find \"k\""},
    {"kubeconfig: the server is needed",
     HEAD "clusters:\n- name: k\n  cluster: {certificate-authority-data: Q0EgUEVN}\n" USER,
     "kc:7:12: clusters[0].cluster.server: the API server's URL is missing"},
    {"kubeconfig: the server is an http(s) URL",
     HEAD "clusters:\n- name: k\n  cluster: {server: 10.0.0.1}\n" USER,
     "kc:7:21: clusters[0].cluster.server: \"10.0.0.1\" is not an http or https URL"},
    {"kubeconfig: insecure-skip-tls-verify is a bool",
     HEAD "clusters:\n- name: k\n  cluster: {server: 'https://h', insecure-skip-tls-verify: "
          "maybe}\n" USER,
     "kc:7:60: clusters[0].cluster.insecure-skip-tls-verify: must be true or false"},
    {"kubeconfig: certificate-authority-data is base64",
     HEAD "clusters:\n- name: k\n  cluster: {server: 'https://h', certificate-authority-data: "
          "'no!'}\n" USER,
     "kc:7:62: clusters[0].cluster.certificate-authority-data: is not base64"},
    {"kubeconfig: a missing certificate-authority file is named",
     HEAD "clusters:\n- name: k\n  cluster: {server: 'https://h', certificate-authority: "
          "/nonexistent/ca.crt}\n" USER,
     "kc:7:57: clusters[0].cluster.certificate-authority: cannot read \"/nonexistent/ca.crt\": "
     "No such file or directory"},
    {"kubeconfig: exec plugins are refused",
     HEAD CLUSTER "users:\n- name: u\n  user:\n    exec: {command: aws}\n",
     "kc:11:11: users[0].user.exec: exec plugins are not supported; use a token, a token file or "
     "a client certificate"},
    {"kubeconfig: auth-provider plugins are refused",
     HEAD CLUSTER "users:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n",
     "kc:11:20: users[0].user.auth-provider: auth-provider plugins are not supported; use a "
     "token, a token file or a client certificate"},
    {"kubeconfig: a client certificate needs its key",
     HEAD CLUSTER "users:\n- name: u\n  user: {client-certificate-data: Q0VSVA==}\n",
     "kc:10:9: users[0].user.client-key: is missing: a client certificate needs its key"},
    {"kubeconfig: a missing tokenFile is named",
     HEAD CLUSTER "users:\n- name: u\n  user: {tokenFile: nope}\n",
     "kc:10:21: users[0].user.tokenFile: DIR/nope: cannot read the token: No such file or "
     "directory"},
    {"kubeconfig: bad YAML says where", "current-context: [\n", "kc:2:1: "},
};

/* Replaces the temp dir's name by DIR in s. */
static void mask_dir(char *s)
{
    char *p = strstr(s, dir);
    if (p) {
        size_t n = strlen(dir);
        memcpy(p, "DIR", 3);
        memmove(p + 3, p + n, strlen(p + n) + 1);
    }
}

static void kubeconfig_table(void **state)
{
    for (size_t i = 0; i < sizeof(kc_rows) / sizeof(kc_rows[0]); i++) {
        const struct kc_row *r = &kc_rows[i];
        struct k8s_config c;
        char err[512] = "";
        int rc = k8s_config_kubeconfig_text(&c, "kc", dir, r->yaml, strlen(r->yaml), 0, err,
                                            sizeof(err));
        mask_dir(err);
        if (r->err ? rc != -EINVAL || strncmp(err, r->err, strlen(r->err)) != 0 : rc != 0)
            fail_msg("%s: rc %d, err \"%s\"", r->rule, rc, err);
        if (!r->err) {
            assert_string_equal(c.server, r->server);
            if (r->token)
                assert_string_equal(c.token, r->token);
            assert_string_equal(c.namespace, r->ns);
            if (r->ca)
                assert_string_equal(c.ca_pem, r->ca);
            else
                assert_null(c.ca_pem);
            assert_int_equal(c.insecure, r->insecure);
            if (strstr(r->rule, "client certificate")) {
                assert_string_equal(c.cert_pem, "CERT");
                assert_string_equal(c.key_pem, "KEY");
            }
        }
        k8s_config_release(&c);
    }
}

static void kubeconfig_file_from_the_environment(void **state)
{
    write_file("config", HEAD CLUSTER USER);
    char path[600], err[512];
    snprintf(path, sizeof(path), "%s/config:/somewhere/else", dir);
    setenv("KUBECONFIG", path, 1);
    struct k8s_config c;
    assert_int_equal(k8s_config_kubeconfig(&c, NULL, 0, err, sizeof(err)), 0);
    assert_string_equal(c.token, "abc");
    snprintf(path, sizeof(path), "%s/config", dir);
    assert_string_equal(c.source, path);
    k8s_config_release(&c);
    unlink(path);
    assert_int_equal(k8s_config_kubeconfig(&c, NULL, 0, err, sizeof(err)), -ENOENT);
    mask_dir(err);
    assert_string_equal(err, "DIR/config: cannot read the kubeconfig: No such file or directory");
    k8s_config_release(&c);
    unsetenv("KUBECONFIG");
}

static struct k8s_incluster_paths paths(const char *token, const char *ns)
{
    static char t[512], a[512], n[512];
    snprintf(t, sizeof(t), "%s/%s", dir, token);
    snprintf(a, sizeof(a), "%s/ca.crt", dir);
    snprintf(n, sizeof(n), "%s/%s", dir, ns);
    return (struct k8s_incluster_paths){t, a, n};
}

static void in_cluster_table(void **state)
{
    struct k8s_config c;
    char err[512];
    struct k8s_incluster_paths p = paths("token", "namespace");

    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(k8s_config_in_cluster(&c, &p, 0, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                             "must be set (not running in a pod?)");
    k8s_config_release(&c);

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "https", 1);
    assert_int_equal(k8s_config_in_cluster(&c, &p, 0, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "in-cluster: KUBERNETES_SERVICE_PORT \"https\" is not a port number");
    k8s_config_release(&c);

    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(k8s_config_in_cluster(&c, &p, 0, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://10.96.0.1:443");
    assert_string_equal(c.token, "tok-1");
    assert_string_equal(c.ca_pem, "CA PEM\n");
    assert_string_equal(c.namespace, "serving");
    assert_false(c.insecure);
    k8s_config_release(&c);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(k8s_config_in_cluster(&c, &p, 0, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://[fd00::1]:443");
    k8s_config_release(&c);

    p = paths("missing", "namespace");
    assert_int_equal(k8s_config_in_cluster(&c, &p, 0, err, sizeof(err)), -ENOENT);
    mask_dir(err);
    assert_string_equal(err, "DIR/missing: cannot read the token: No such file or directory");
    k8s_config_release(&c);

    p = paths("empty", "namespace");
    assert_int_equal(k8s_config_in_cluster(&c, &p, 0, err, sizeof(err)), -EINVAL);
    mask_dir(err);
    assert_string_equal(err, "DIR/empty: the token is empty");
    k8s_config_release(&c);

    p = paths("token", "empty");
    assert_int_equal(k8s_config_in_cluster(&c, &p, 0, err, sizeof(err)), -EINVAL);
    mask_dir(err);
    assert_string_equal(err, "DIR/empty: the namespace is empty");
    k8s_config_release(&c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void the_token_file_is_read_again_every_minute(void **state)
{
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    struct k8s_config c;
    char err[512];
    struct k8s_incluster_paths p = paths("token", "namespace");
    assert_int_equal(k8s_config_in_cluster(&c, &p, 1000, err, sizeof(err)), 0);
    write_file("token", "tok-2\n");
    assert_string_equal(k8s_config_token(&c, 1000 + 59999, false), "tok-1"); /* not yet */
    assert_string_equal(k8s_config_token(&c, 1000 + 60000, false), "tok-2"); /* a minute on */
    write_file("token", "tok-3\n");
    assert_string_equal(k8s_config_token(&c, 1000 + 60001, true), "tok-3"); /* after a 401 */
    write_file("token", "");
    assert_string_equal(k8s_config_token(&c, 1000 + 200000, false), "tok-3"); /* kept */
    write_file("token", "tok-1\n");
    k8s_config_release(&c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

struct ev_row {
    const char *rule;
    const char *line;
    int rc;
    const char *want; /* type name, or the error */
};

static const struct ev_row ev_rows[] = {
    {"event: ADDED with name and resourceVersion",
     "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"p\",\"resourceVersion\":\"7\"}}}", 0,
     "ADDED"},
    {"event: BOOKMARK needs only a resourceVersion",
     "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}", 0,
     "BOOKMARK"},
    {"event: ERROR carries the Status code",
     "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"message\":\"gone\"}}", 0,
     "ERROR"},
    {"event: not JSON", "{\"type\":", -EINVAL, "a watch event is not a JSON object"},
    {"event: no type", "{\"object\":{}}", -EINVAL, "a watch event has no \"type\""},
    {"event: unknown type", "{\"type\":\"RENAMED\",\"object\":{}}", -EINVAL,
     "a watch event has an unknown \"type\""},
    {"event: no object", "{\"type\":\"ADDED\",\"object\":5}", -EINVAL,
     "a watch event has no \"object\""},
    {"event: no resourceVersion",
     "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"p\"}}}", -EINVAL,
     "a DELETED watch event has no valid metadata.resourceVersion"},
    {"event: no name", "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}",
     -EINVAL, "a MODIFIED watch event has no valid metadata.name"},
};

static void watch_event_table(void **state)
{
    for (size_t i = 0; i < sizeof(ev_rows) / sizeof(ev_rows[0]); i++) {
        const struct ev_row *r = &ev_rows[i];
        struct k8s_event ev;
        char err[256] = "";
        int rc = k8s_event_parse(r->line, strlen(r->line), &ev, err, sizeof(err));
        const char *got = rc == 0 ? k8s_event_type_name(ev.type) : err;
        if (rc != r->rc || strcmp(got, r->want) != 0)
            fail_msg("%s: rc %d, got \"%s\"", r->rule, rc, got);
        if (rc == 0 && ev.type == K8S_ERROR) {
            assert_int_equal(ev.code, 410);
            assert_string_equal(ev.message, "gone");
        }
        if (rc == 0)
            k8s_event_release(&ev);
    }
}

static void list_table(void **state)
{
    static const struct ev_row rows[] = {
        {"list: items with names and versions",
         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[{\"metadata\":"
         "{\"name\":\"a\",\"resourceVersion\":\"4\"}}]}",
         0, "5"},
        {"list: null items is empty", "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":null}", 0,
         "5"},
        {"list: a resourceVersion is needed", "{\"kind\":\"PodList\",\"items\":[]}", -EINVAL,
         "a list has no valid metadata.resourceVersion"},
        {"list: items is a list", "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":{}}",
         -EINVAL, "a list has \"items\" that is not a list"},
        {"list: every item has a name",
         "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[{\"metadata\":{\"name\":\"a\","
         "\"resourceVersion\":\"4\"}},{}]}",
         -EINVAL, "a list has items[1] without a valid metadata.name and resourceVersion"},
        {"list: not JSON", "<html>", -EINVAL, "a list is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct k8s_list l;
        char err[256] = "";
        int rc = k8s_list_parse(rows[i].line, strlen(rows[i].line), &l, err, sizeof(err));
        const char *got = rc == 0 ? l.rv : err;
        if (rc != rows[i].rc || strcmp(got, rows[i].want) != 0)
            fail_msg("%s: rc %d, got \"%s\"", rows[i].rule, rc, got);
        k8s_list_release(&l);
    }
    char out[256];
    const char *st = "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old\"}";
    k8s_status_text(st, strlen(st), out, sizeof(out));
    assert_string_equal(out, "Expired: too old");
    k8s_status_text("bad\ngateway", 11, out, sizeof(out));
    assert_string_equal(out, "bad gateway");
}

static void base64_decodes_what_kubeconfigs_hold(void **state)
{
    char *out;
    size_t n;
    assert_int_equal(k8s_base64_decode("aGVsbG8=", 8, &out, &n), 0);
    assert_string_equal(out, "hello");
    free(out);
    assert_int_equal(k8s_base64_decode("aGVs\nbG8", 8, &out, &n), 0);
    assert_string_equal(out, "hello");
    free(out);
    assert_int_equal(k8s_base64_decode("a=b", 3, &out, &n), -EINVAL);
    assert_int_equal(k8s_base64_decode("a", 1, &out, &n), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kubeconfig_table),
        cmocka_unit_test(kubeconfig_file_from_the_environment),
        cmocka_unit_test(in_cluster_table),
        cmocka_unit_test(the_token_file_is_read_again_every_minute),
        cmocka_unit_test(watch_event_table),
        cmocka_unit_test(list_table),
        cmocka_unit_test(base64_decodes_what_kubeconfigs_hold),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
