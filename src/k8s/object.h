/* k8s/object: reading what the Kubernetes API sends — one watch event (a
 * line of a watch stream), a list, a Status — into cJSON trees checked for
 * the fields ebb relies on. Pure: data in, data out; fuzzed
 * (tests/fuzz/fuzz_k8s_object.c). */
#ifndef EBB_K8S_OBJECT_H
#define EBB_K8S_OBJECT_H

#include <stddef.h>

#include <cJSON.h>

#define K8S_NAME_MAX 253 /* a DNS subdomain: the longest object name */
#define K8S_RV_MAX 64    /* bytes of a resourceVersion we keep */

enum k8s_event_type { K8S_ADDED, K8S_MODIFIED, K8S_DELETED, K8S_BOOKMARK, K8S_ERROR };

/* One watch event: {"type":"ADDED","object":{...}}. */
struct k8s_event {
    enum k8s_event_type type;
    cJSON *root;          /* owned; freed by k8s_event_release */
    cJSON *object;        /* inside root */
    const char *name;     /* metadata.name; "" for BOOKMARK and ERROR */
    const char *rv;       /* metadata.resourceVersion; "" for ERROR */
    long code;            /* ERROR: the Status's code (410: expired); else 0 */
    const char *message;  /* ERROR: the Status's message, or "" */
};

/* Reads one event from line[0..len) (no newline needed). 0, or -EINVAL
 * with err filled in (nothing to release), -ENOMEM. */
int k8s_event_parse(const char *line, size_t len, struct k8s_event *ev, char *err, size_t errlen);
void k8s_event_release(struct k8s_event *ev);
const char *k8s_event_type_name(enum k8s_event_type t);

/* A list: {"kind":"PodList","metadata":{"resourceVersion":"5"},"items":[...]},
 * every item with metadata.name and metadata.resourceVersion. */
struct k8s_list {
    cJSON *root; /* owned; freed by k8s_list_release */
    cJSON *items;
    const char *rv;
};

int k8s_list_parse(const char *body, size_t len, struct k8s_list *l, char *err, size_t errlen);
void k8s_list_release(struct k8s_list *l);

/* A string of an object's metadata ("namespace", "uid", ...), or NULL. */
const char *k8s_obj_meta(const cJSON *obj, const char *key);
/* metadata.name and metadata.resourceVersion of an object, or NULL. */
const char *k8s_obj_name(const cJSON *obj);
const char *k8s_obj_rv(const cJSON *obj);

/* For an error answer: "Expired: too old resource version: 5 (12)" from a
 * Status body, or the first 200 bytes of any other body. Writes out. */
void k8s_status_text(const char *body, size_t len, char *out, size_t cap);

#endif
