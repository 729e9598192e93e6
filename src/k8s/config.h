/* k8s/config: where the Kubernetes API server is and how to prove who we
 * are, read as client-go reads it (docs/k8s.md).
 *
 * Two sources: in-cluster (the service account's token, CA and namespace
 * mounted in every pod, and KUBERNETES_SERVICE_HOST/PORT), and a kubeconfig
 * file ($KUBECONFIG or ~/.kube/config: its current context's cluster and
 * user). TLS is verified unless the kubeconfig says
 * insecure-skip-tls-verify. Exec and auth-provider plugins are refused with
 * a clear error: ebb runs no helper programs. Errors name the file and the
 * field: `/home/u/.kube/config: users[0].user.exec: exec plugins are not
 * supported; use a token or a client certificate`. */
#ifndef EBB_K8S_CONFIG_H
#define EBB_K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8S_FILE_MAX (1u << 20)       /* bytes of a kubeconfig, token, CA or key file */
#define K8S_TOKEN_REREAD_MS 60000     /* client-go re-reads a token file every minute */
#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct k8s_config {
    char *server;               /* "https://10.0.0.1:443", no trailing slash */
    char *ca_pem;               /* NULL: the system's CAs */
    char *cert_pem, *key_pem;   /* a client certificate and its key, or NULL */
    char *token;                /* a bearer token, or NULL */
    char *token_file;           /* re-read as it rotates (k8s_config_token), or NULL */
    uint64_t token_read_ms;     /* when token_file was last read, in the caller's clock */
    bool insecure;              /* insecure-skip-tls-verify */
    char *namespace;            /* the pod's, the context's, or "default" */
    char source[512];           /* "in-cluster" or the kubeconfig's path, for messages */
};

/* Where the in-cluster files are; NULL members take the defaults under
 * K8S_SA_DIR (tests point them elsewhere). */
struct k8s_incluster_paths {
    const char *token, *ca, *namespace;
};

/* In-cluster configuration: KUBERNETES_SERVICE_HOST and _PORT from the
 * environment, the token, CA and namespace files. now_ms stamps the token's
 * reading. 0, or -EINVAL/-ENOENT/-ENOMEM with err (errlen bytes) filled in.
 * c is released by the caller with k8s_config_release either way. */
int k8s_config_in_cluster(struct k8s_config *c, const struct k8s_incluster_paths *p,
                          uint64_t now_ms, char *err, size_t errlen);

/* A kubeconfig file: path, or NULL for $KUBECONFIG (its first entry) or
 * ~/.kube/config. Relative file names in it are relative to its directory.
 * Same returns as k8s_config_in_cluster. */
int k8s_config_kubeconfig(struct k8s_config *c, const char *path, uint64_t now_ms, char *err,
                          size_t errlen);

/* The same from text already in memory: name is used in messages, dir
 * resolves relative file names. */
int k8s_config_kubeconfig_text(struct k8s_config *c, const char *name, const char *dir,
                               const char *text, size_t len, uint64_t now_ms, char *err,
                               size_t errlen);

/* The bearer token to send at now_ms (NULL: none). With a token file it is
 * read again when K8S_TOKEN_REREAD_MS have passed or force is set (after a
 * 401); if that reading fails the last token is kept. The string is valid
 * until the next call or release. */
const char *k8s_config_token(struct k8s_config *c, uint64_t now_ms, bool force);

/* Frees the contents; c may be used again. */
void k8s_config_release(struct k8s_config *c);

/* Decodes standard base64 (with or without padding, no line breaks
 * expected but tolerated) into a NUL-terminated malloc'd string. 0, -EINVAL
 * or -ENOMEM. */
int k8s_base64_decode(const char *in, size_t len, char **out, size_t *outlen);

#endif
