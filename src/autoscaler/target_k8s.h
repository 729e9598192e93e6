/* target_k8s: a Kubernetes workload's scale subresource as the target of a
 * ScaledObject — what KEDA's scale client and the HPA read and write
 * (keda-hpa-spec.md §4.3, §5.2):
 *   - before each decision, GET <object>/scale (spec.replicas,
 *     status.replicas, status.selector) and GET <object> (status.readyReplicas),
 *     in parallel; a failed read means no decision that round;
 *   - a write is PATCH <object>/scale with application/merge-patch+json
 *     {"spec":{"replicas":N}}, as KEDA does; a failed write is reported to
 *     the autoscaler (logged, counted, decided again next round).
 * <object> comes from scaleTargetRef: apps/v1 Deployment ->
 * /apis/apps/v1/namespaces/NS/deployments/NAME, StatefulSet likewise, any
 * other kind by its apiVersion and lower-case plural kind. */
#ifndef EBB_AUTOSCALER_TARGET_K8S_H
#define EBB_AUTOSCALER_TARGET_K8S_H

#include <stdbool.h>
#include <stdint.h>

#include "autoscaler/autoscaler.h"
#include "k8s/client.h"

#define TARGET_K8S_PATH_MAX 1024

struct target_k8s_options {
    /* Runs before a scale-down PATCH (from > to), e.g. to set
     * controller.kubernetes.io/pod-deletion-cost on the pods that should
     * go first. It must call go(arg) exactly once, later, from the loop (the
     * PATCH is sent then; if the target was released meanwhile, go only
     * frees arg). A negative return means it did not start: the PATCH is
     * sent at once. NULL: every write is sent at once. ns: the workload's
     * namespace; selector: its pods' label selector (scale.status.selector,
     * "" when not known yet). */
    int (*before_scale_down)(void *ud, const char *ns, const char *selector, int32_t from,
                             int32_t to, void (*go)(void *arg), void *arg);
    void *ud;
};

struct tk_gate;

struct target_k8s {
    struct k8s_client *c; /* not owned */
    struct target_k8s_options o;
    char ns[K8S_NAME_MAX + 1];
    char path[TARGET_K8S_PATH_MAX]; /* the object: /apis/apps/v1/namespaces/NS/deployments/NAME */
    bool known;                     /* a read succeeded */
    int32_t first_spec;             /* spec.replicas at the first read that succeeded */
    int32_t spec, status, ready;    /* as last read (or written) */
    char selector[1024];
    /* Reads and the write in flight, and whom to tell. */
    struct k8s_req *scale_req, *obj_req, *patch_req;
    int reads_left;
    char read_err[512];
    as_target_done_cb read_done, write_done;
    void *read_ud, *write_ud;
    struct tk_gate *gate; /* a before_scale_down in progress */
    uint64_t reads, read_errors, writes, write_errors;
};

/* The object's API path for scaleTargetRef (apiVersion, kind, name) in ns:
 * "/apis/<apiVersion>/namespaces/<ns>/<plural>/<name>" ("/api/v1/..." for
 * the core group). Pure. 0, or -EINVAL (a part empty or with '/' or '?'),
 * -ENAMETOOLONG. */
int target_k8s_path(char *out, size_t cap, const char *ns, const char *api_version,
                    const char *kind, const char *name);

/* The lower-case plural resource of a kind: Deployment -> deployments,
 * Policy -> policies, Ingress -> ingresses. Pure. */
void target_k8s_resource(const char *kind, char *out, size_t cap);

/* Sets t up for spec's scaleTargetRef in namespace ns. c and opts' ud
 * outlive t. 0, or -EINVAL with a message in err. */
int target_k8s_init(struct target_k8s *t, struct k8s_client *c, const char *ns,
                    const struct so_spec *spec, const struct target_k8s_options *opts, char *err,
                    size_t errlen);

/* The autoscaler's view of t (borrowed). */
struct as_target target_k8s(struct target_k8s *t);

/* Cancels what is in flight (no callback runs after); t may then be freed. */
void target_k8s_release(struct target_k8s *t);

#endif
