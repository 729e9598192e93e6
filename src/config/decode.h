/* decode: typed reading of YAML trees into config structs, with issues that
 * name file:line:col and the field's path. Internal to src/config.
 *
 * A struct dec walks one document. It keeps the path of the field being
 * decoded ("spec.triggers[0].metadata"); dec_push/dec_pop extend and restore
 * it. Getters read one field of a mapping: they return 1 when the field is set
 * and valid, 0 when it is absent (or null, which Kubernetes treats as unset),
 * and -1 after recording an error. Values are checked the way the Kubernetes
 * API server checks a CRD's structural schema with strict field validation
 * (what `kubectl apply` asks for): a string field takes only a string (5 must
 * be written "5"), an integer only a whole number, unknown and duplicate
 * fields are errors. */
#ifndef EBB_CONFIG_DECODE_H
#define EBB_CONFIG_DECODE_H

#include <stdarg.h>

#include "config/config.h"
#include "config/yaml.h"

#define DEC_ERROR_PATHS 64

struct dec {
    struct config *c;
    const char *file; /* owned by c */
    char path[CONFIG_PATH_MAX];
    size_t path_len;
    int errors; /* in this document */
    /* Paths of this document's errors, so that a rule checked again later
     * (so_spec_validate) does not report the same field twice. */
    const char *error_paths[DEC_ERROR_PATHS];
    size_t n_error_paths;
};

void dec_begin(struct dec *d, struct config *c, const char *file);

/* Extends the path with .key (or [key] when key is not an identifier) or
 * [i]; returns what dec_pop needs to restore it. */
size_t dec_push(struct dec *d, const char *key);
size_t dec_push_index(struct dec *d, size_t i);
void dec_pop(struct dec *d, size_t saved);

struct cfg_pos dec_pos(const struct dec *d, const struct ynode *n);

/* Records an issue at pos for the current path (or path.key). */
void dec_error(struct dec *d, struct cfg_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dec_warn(struct dec *d, struct cfg_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dec_error_key(struct dec *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void dec_warn_key(struct dec *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An issue with an explicit path (for rules checked after decoding). */
void dec_issue_path(struct dec *d, bool warning, struct cfg_pos pos, const char *path,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Records that path is wrong without an issue of its own (an unsupported
 * trigger type makes its metadata meaningless), so later rules skip it. */
void dec_mark_failed(struct dec *d, const char *path);
/* True when an error was already recorded at path or above it. */
bool dec_path_failed(const struct dec *d, const char *path);

/* Checks that every key of map is one of names (n of them) and that no key
 * repeats: unknown fields are errors, with the closest known name offered. */
void dec_known(struct dec *d, const struct ynode *map, const char *const *names, size_t n);
/* The known name closest to key (a typo's likely meaning), or NULL. */
const char *dec_closest(const char *key, const char *const *names, size_t n);

/* map[key] unless absent or null. */
const struct ynode *dec_get(const struct ynode *map, const char *key);
/* An error "is required (what)" at map for path.key, unless path.key
 * already has an error (it is written, but wrong). */
void dec_required(struct dec *d, const struct ynode *map, const char *key, const char *what);

/* Field getters: 1 set, 0 absent, -1 error recorded. */
int dec_map(struct dec *d, const struct ynode *map, const char *key, const struct ynode **out);
int dec_seq(struct dec *d, const struct ynode *map, const char *key, const struct ynode **out);
int dec_str(struct dec *d, const struct ynode *map, const char *key, const char **out);
/* A string copied into a fixed array; longer than cap-1 bytes is an error. */
int dec_str_fixed(struct dec *d, const struct ynode *map, const char *key, char *dst, size_t cap);
int dec_int32(struct dec *d, const struct ynode *map, const char *key, int32_t *out);
int dec_bool(struct dec *d, const struct ynode *map, const char *key, bool *out);
/* One of names (n of them, case-sensitive as Kubernetes enums are); *out is
 * its index. */
int dec_enum(struct dec *d, const struct ynode *map, const char *key, const char *const *names,
             size_t n, int *out);
/* map[string]string, at most CONFIG_LIST_MAX pairs, keys unique. A pair
 * whose value is not a string is left out of *out (with an error, and -1). */
int dec_str_map(struct dec *d, const struct ynode *map, const char *key, struct cfg_kv **out,
                size_t *n);
/* []string, at most CONFIG_LIST_MAX items. */
int dec_str_list(struct dec *d, const struct ynode *map, const char *key, const char ***out,
                 size_t *n);

/* The getters for a required field: absent is "is required (what)". */
int dec_map_req(struct dec *d, const struct ynode *map, const char *key, const char *what,
                const struct ynode **out);
int dec_seq_req(struct dec *d, const struct ynode *map, const char *key, const char *what,
                const struct ynode **out);
int dec_str_req(struct dec *d, const struct ynode *map, const char *key, const char *what,
                const char **out);
/* True when n is a mapping; otherwise an error "must be a mapping with
 * fields, got ...". */
bool dec_is_map(struct dec *d, const struct ynode *n, const char *fields);

/* The value of node as a string (for list items and map values): 1 or -1. */
int dec_node_str(struct dec *d, const struct ynode *n, const char **out);

/* Decodes metadata (name, namespace, labels, annotations; server-set fields
 * ignored) of any kind. name_cap > 0 limits the name's length. */
struct cfg_meta {
    const char *name; /* NULL when missing */
    const char *namespace_;
    struct cfg_kv *labels;
    size_t n_labels;
    struct cfg_kv *annotations;
    size_t n_annotations;
    struct cfg_pos pos, name_pos;
    const struct ynode *annotations_node;
};
void dec_meta(struct dec *d, const struct ynode *root, bool namespaced, struct cfg_meta *m);
/* metadata.name must be a DNS subdomain (TriggerAuthentication, LocalDeployment). */
void dec_check_name(struct dec *d, const struct cfg_meta *m);
/* After config_add_*: rc < 0 means the configuration holds too many objects. */
void dec_added(struct dec *d, int rc, struct cfg_pos pos);

/* RFC 1123 names, as Kubernetes requires them. */
bool dns_subdomain(const char *s);
bool dns_label(const char *s);
/* A C identifier, as POSIX shells take environment variable names. */
bool env_var_name(const char *s);

/* The decoders of each kind (scaledobject.c, auth.c, deployment.c): they add
 * the object to d->c, even when it has errors, so cross-file checks see it. */
void so_decode(struct dec *d, const struct ynode *root);
void auth_decode(struct dec *d, const struct ynode *root, bool cluster);
void deployment_decode(struct dec *d, const struct ynode *root);
/* The prometheus trigger's metadata (prometheus.c), at path ...metadata;
 * index is the trigger's position in spec.triggers. */
void prom_decode(struct dec *d, struct cfg_trigger *t, const struct ynode *meta,
                 struct so_trigger *st, size_t index);

/* config.c: adds an issue (copies path and msg) and an object. */
void config_add_issue(struct config *c, bool warning, struct cfg_pos pos, const char *path,
                      const char *msg);
int config_add_so(struct config *c, struct cfg_scaled_object *o);
int config_add_auth(struct config *c, struct cfg_auth *a);
int config_add_deployment(struct config *c, struct cfg_deployment *dp);

#endif
