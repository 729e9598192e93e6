/* yaml: a YAML stream to small trees, one document at a time, within limits.
 *
 * libfyaml's event parser does the YAML; this file builds ebb's own tree
 * from the events so that every limit holds while reading, before memory is
 * spent: nesting depth, nodes per document, entries per mapping or list,
 * bytes per scalar, anchors per document. Aliases point at the node their
 * anchor names (shared, never copied), and an anchor is defined only once its
 * node is complete, so a tree is a DAG of at most CONFIG_NODES_MAX nodes
 * however the aliases multiply ("billion laughs" costs nothing).
 *
 * Scalars keep their text and style; what a plain scalar means (null, bool,
 * number, string) is decided by yaml_resolve, with YAML 1.1's rules as
 * Kubernetes' YAML reader applies them. */
#ifndef EBB_CONFIG_YAML_H
#define EBB_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/arena.h"

#define YAML_DEPTH_MAX 32              /* nested mappings and lists */
#define YAML_FLOW_DEPTH_MAX 64         /* [ and { nesting in the raw text, checked first */
#define YAML_NODES_MAX 65536           /* nodes in one document */
#define YAML_ENTRIES_MAX 4096          /* pairs in a mapping, items in a list */
#define YAML_SCALAR_MAX 65536          /* bytes in one scalar */
#define YAML_ANCHORS_MAX 256           /* anchors in one document */
#define YAML_DOC_ARENA_MAX (64u << 20) /* bytes of tree for one document */

enum ynode_kind { YN_SCALAR, YN_MAP, YN_SEQ };

/* An explicit core-schema tag (!!str, !!int, ...); other tags are refused. */
enum ytag { YTAG_NONE, YTAG_STR, YTAG_INT, YTAG_FLOAT, YTAG_BOOL, YTAG_NULL, YTAG_MAP, YTAG_SEQ };

struct ynode {
    enum ynode_kind kind;
    enum ytag tag;
    bool plain;  /* a plain scalar: its meaning depends on its text */
    bool quoted; /* a single- or double-quoted scalar */
    int line;    /* 1-based position of the node's first character */
    int col;
    const char *text; /* scalar: NUL-terminated (may hold NULs before len) */
    size_t len;
    size_t n;             /* list items, or mapping pairs */
    struct ynode **items; /* list: n items; mapping: 2n, key then value */
};

/* What a scalar means (yaml_resolve). */
enum yval { YV_NULL, YV_BOOL, YV_INT, YV_FLOAT, YV_STR, YV_BAD };

struct yscalar {
    enum yval type;
    bool b;
    int64_t i;
    double f; /* YV_INT also sets f */
};

struct fy_parser;

/* A stream being read. The input must outlive the reader. */
struct yaml_reader {
    struct fy_parser *fyp;
    struct fy_diag *diag;
    const char *input;
    size_t len;
    bool done;
    int docs;               /* documents read so far */
    struct arena doc_arena; /* the current document's tree */
};

/* A problem found while reading: position (1-based) and message. */
struct yaml_error {
    int line, col;
    char msg[256];
};

/* Prepares to read input[0..len). 0, or -ENOMEM. */
int yaml_reader_init(struct yaml_reader *r, const char *input, size_t len);
void yaml_reader_release(struct yaml_reader *r);

/* Reads the next document into *root (valid until the next call or release;
 * an empty document is a null scalar). 1 with a document, 0 at the end of the
 * stream, -EINVAL with err filled in (the stream cannot be read further),
 * -ENOMEM. */
int yaml_next_document(struct yaml_reader *r, struct ynode **root, struct yaml_error *err);

/* A mapping's value for key (the first, if a key repeats), or NULL. */
const struct ynode *ymap_get(const struct ynode *map, const char *key);
/* The key node of key in a mapping (for positions), or NULL. */
const struct ynode *ymap_get_key(const struct ynode *map, const char *key);
/* The key and value of pair i of a mapping. */
const struct ynode *ymap_key(const struct ynode *map, size_t i);
const struct ynode *ymap_value(const struct ynode *map, size_t i);

/* True for a null scalar (~, null, empty, !!null): "not set". */
bool ynode_is_null(const struct ynode *n);
/* What a scalar means: quoted and block scalars are strings; plain ones are
 * resolved as YAML 1.1 (y/yes/on/true..., 0x1F, 017, 1_000, .inf, ~...);
 * explicit tags win. YV_BAD when a tag's value does not parse. */
void yaml_resolve(const struct ynode *n, struct yscalar *out);
/* "a string", "the number 5", "true", "null", "a mapping", "a list":
 * how a value is named in messages. Writes into out (cap bytes). */
void ynode_describe(const struct ynode *n, char *out, size_t cap);
/* Writes s[0..len) in double quotes into out, with control characters, '"'
 * and '\\' escaped, cut after max bytes with "..." (for messages). */
void yaml_quote(char *out, size_t cap, const char *s, size_t len, size_t max);

#endif
