/* k8s_fixture: see k8s_fixture.h. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s_fixture.h"
#include "fake_server.h"

extern char **environ;

struct kfx *K;

static struct fake_server srv;

int kfx_group_setup(void **state)
{
    fake_server_start(&srv, KFX_TOKEN);
    return 0;
}

int kfx_group_teardown(void **state)
{
    return fake_server_stop(&srv);
}

/* A kubeconfig for server (NULL: the fake API server), with its CA and a token. */
void kfx_config_for(struct k8s_config *cfg, const char *server)
{
    char text[2048], err[512], url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", srv.port);
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
             "contexts:\n- name: test\n  context: {cluster: fake, user: u}\n"
             "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
             "    certificate-authority: %s/ca.crt\n"
             "users:\n- name: u\n  user:\n    token: " KFX_TOKEN "\n",
             server ? server : url, srv.dir);
    int rc = k8s_config_kubeconfig_text(cfg, "test-kubeconfig", srv.dir, text, strlen(text), 0, err,
                                        sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
}

static void on_answer(void *ud, struct k8s_response *r)
{
    K->done++;
    snprintf(K->err, sizeof(K->err), "%s", r->err ? r->err : "");
    snprintf(K->body, sizeof(K->body), "%.*s",
             (int)(r->len < sizeof(K->body) - 1 ? r->len : sizeof(K->body) - 1), r->body);
}

/* POSTs a control command and waits for its answer; returns it parsed (the
 * caller frees it). */
cJSON *kfx_ctl(const char *fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    int want = K->done + 1;
    assert_int_equal(k8s_request(&K->a, "POST", "/_control", body, NULL, on_answer, NULL, NULL), 0);
    tsrv_run_until(&K->loop, &K->done, want, 5000);
    assert_int_equal(K->done, want);
    assert_string_equal(K->err, "");
    cJSON *out = cJSON_Parse(K->body);
    assert_non_null(out);
    return out;
}

/* The stored object at path (the caller frees it), or NULL. */
cJSON *kfx_object_at(const char *path)
{
    cJSON *r = kfx_ctl("{\"op\":\"get_object\",\"path\":\"%s\"}", path);
    cJSON *o = cJSON_DetachItemFromObject(r, "obj");
    cJSON_Delete(r);
    if (cJSON_IsNull(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The writes the server received (method, path, content_type, body), whose
 * path starts with prefix; the caller frees the array. */
cJSON *kfx_records(const char *prefix)
{
    cJSON *r = kfx_ctl("{\"op\":\"records\"}");
    cJSON *all = cJSON_GetObjectItem(r, "records");
    cJSON *out = cJSON_CreateArray();
    cJSON *x;
    cJSON_ArrayForEach(x, all)
    {
        if (strncmp(cJSON_GetObjectItem(x, "path")->valuestring, prefix, strlen(prefix)) == 0)
            cJSON_AddItemToArray(out, cJSON_Duplicate(x, true));
    }
    cJSON_Delete(r);
    return out;
}

const char *kfx_str(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    x = b ? cJSON_GetObjectItem(x, b) : x;
    return cJSON_IsString(x) ? x->valuestring : "(missing)";
}

double kfx_num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    x = b ? cJSON_GetObjectItem(x, b) : x;
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static void on_fetcher_closed(struct fetcher *f)
{
    K->closed++;
}

void kfx_open(void)
{
    static struct kfx fx;
    memset(&fx, 0, sizeof(fx));
    K = &fx;
    uv_loop_init(&fx.loop);
    assert_int_equal(fetcher_init(&fx.f, &fx.loop), 0);
    kfx_config_for(&fx.cfg_a, NULL);
    kfx_config_for(&fx.cfg_b, NULL);
    k8s_client_init(&fx.a, &fx.loop, &fx.f, &fx.cfg_a);
    k8s_client_init(&fx.b, &fx.loop, &fx.f, &fx.cfg_b);
    CTL("{\"op\":\"reset\"}");
}

void kfx_close(void)
{
    if (K->router_open)
        tsrv_close(&K->router);
    fetcher_close(&K->f, on_fetcher_closed);
    uv_run(&K->loop, UV_RUN_DEFAULT);
    assert_int_equal(K->closed, 1);
    assert_int_equal(uv_loop_close(&K->loop), 0);
    k8s_config_release(&K->cfg_a);
    k8s_config_release(&K->cfg_b);
}
