/* k8s_fixture: what the tests of k8s/lease, k8s/event and k8s/deletion_cost
 * share: fake_apiserver.py started once per test group (posix_spawn), reset
 * before each test; a loop with a fetcher and two clients of it (a and b,
 * each with its own config, so that their tokens or servers can differ);
 * testsrv for the router's /metrics or a server that never answers; the
 * control requests (put_object, records, ...). Test code: failures abort. */
#ifndef EBB_TESTS_K8S_FIXTURE_H
#define EBB_TESTS_K8S_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "k8s/client.h"
#include "testsrv.h"

#define KFX_TOKEN "s3cret-token"

struct kfx {
    uv_loop_t loop;
    struct fetcher f;
    struct k8s_config cfg_a, cfg_b;
    struct k8s_client a, b;
    struct tsrv router; /* started by a test that needs it */
    bool router_open;
    int closed; /* the fetcher's on_closed */
    int done;   /* control requests answered */
    char body[65536];
    char err[1024];
};

extern struct kfx *K;

/* cmocka's group setup and teardown: the server process. */
int kfx_group_setup(void **state);
int kfx_group_teardown(void **state);
/* Per test: the loop, the fetcher and the clients; the server reset. */
void kfx_open(void);
/* Closes the router server (if open) and the fetcher, runs the loop dry
 * and checks it closes clean; releases the configs. */
void kfx_close(void);

/* A kubeconfig for server (NULL: the fake API server) with its CA and the token. */
void kfx_config_for(struct k8s_config *cfg, const char *server);
/* A control command, answered; returns it parsed (the caller frees it). */
cJSON *kfx_ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define CTL(...) cJSON_Delete(kfx_ctl(__VA_ARGS__))
/* The stored object at path (the caller frees it), or NULL. */
cJSON *kfx_object_at(const char *path);
/* The writes the server received (method, path, content_type, body) whose
 * path starts with prefix, as an array the caller frees. */
cJSON *kfx_records(const char *prefix);
/* o[a][b] (b may be NULL) as a string ("(missing)" when it is not one) or
 * a number (-1 when it is not one). */
const char *kfx_str(const cJSON *o, const char *a, const char *b);
double kfx_num(const cJSON *o, const char *a, const char *b);

#endif
