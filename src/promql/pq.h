/* pq: the PromQL engine's insides, shared by its files (lexer, parser,
 * evaluator, functions, aggregations). Not for use outside src/promql. */
#ifndef EBB_PROMQL_PQ_H
#define EBB_PROMQL_PQ_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/arena.h"
#include "promql/promql.h"

/* ---- syntax tree ---- */

enum pq_kind { PQ_NUM, PQ_STR, PQ_SEL, PQ_MSEL, PQ_CALL, PQ_AGG, PQ_BIN, PQ_NEG, PQ_PAREN };

enum pq_mtype { PQ_M_EQ, PQ_M_NE, PQ_M_RE, PQ_M_NRE };

struct pq_matcher {
    const char *name, *value;
    enum pq_mtype type;
    regex_t *re; /* PQ_M_RE and PQ_M_NRE: anchored, compiled at parse time */
};

enum pq_op {
    PQ_ADD, PQ_SUB, PQ_MUL, PQ_DIV, PQ_MOD, PQ_POW, PQ_ATAN2,
    PQ_EQ, PQ_NE, PQ_GT, PQ_LT, PQ_GE, PQ_LE,
    PQ_AND, PQ_OR, PQ_UNLESS,
};

enum pq_agg { PQ_SUM, PQ_AVG, PQ_COUNT, PQ_MIN, PQ_MAX, PQ_STDDEV, PQ_STDVAR, PQ_TOPK,
              PQ_BOTTOMK, PQ_QUANTILE, PQ_GROUP, PQ_COUNT_VALUES };

enum pq_card { PQ_ONE_ONE, PQ_MANY_ONE, PQ_ONE_MANY, PQ_MANY_MANY };

struct pq_ctx;
struct pq_node;
struct pq_val;

typedef int (*pq_fn)(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                     struct pq_val *out);

struct pq_func {
    const char *name;
    enum promql_type args[3];
    int min_args, max_args;
    enum promql_type ret;
    pq_fn fn;
};

struct pq_node {
    enum pq_kind kind;
    enum promql_type type;
    unsigned pos;             /* byte offset in the query, for messages */
    double num;               /* PQ_NUM */
    const char *str;          /* PQ_STR; PQ_SEL: the metric name or NULL */
    /* PQ_SEL */
    struct pq_matcher *m;
    size_t nm;
    int64_t offset;           /* ms; PQ_MSEL keeps it on its selector */
    bool has_offset;
    /* PQ_MSEL */
    int64_t range;            /* ms */
    /* a: PQ_MSEL's selector, PQ_NEG/PQ_PAREN's operand, PQ_AGG's expression,
     * PQ_BIN's left side; b: PQ_AGG's parameter, PQ_BIN's right side. */
    struct pq_node *a, *b;
    /* PQ_CALL */
    const struct pq_func *fn;
    struct pq_node **args;
    size_t nargs;
    /* PQ_AGG (op is enum pq_agg) and PQ_BIN (op is enum pq_op) */
    int op;
    const char **labels;      /* PQ_AGG: by/without; PQ_BIN: on/ignoring */
    size_t nlabels;
    bool without;             /* PQ_AGG */
    bool on;                  /* PQ_BIN: on(...) rather than ignoring(...) */
    bool ret_bool;
    enum pq_card card;
    const char **include;     /* group_left/group_right labels */
    size_t ninclude;
};

struct pq_re {
    regex_t re;
    struct pq_re *next;
};

struct pq_expr {
    struct arena arena;       /* the tree and its strings */
    struct pq_node *root;
    struct pq_re *res;        /* compiled regexes, freed by pq_expr_release */
    size_t nodes;
};

/* Parses and type-checks q. 0 or -EINVAL with "1:5: parse error: ..." in
 * err. e is always set up and must be released. */
int pq_parse(const char *q, const struct promql_limits *lim, struct pq_expr *e, char *err,
             size_t errlen);
void pq_expr_release(struct pq_expr *e);
const struct pq_func *pq_func_find(const char *name, size_t len);
/* True if name is a PromQL 2.42 function ebb does not implement. */
bool pq_func_known(const char *name, size_t len);
const char *pq_type_name(enum promql_type t);
bool pq_matcher_matches(const struct pq_matcher *m, const char *v);
/* Translates an RE2 regex into an anchored POSIX extended one in out (cap
 * bytes: 12 per input byte and 16 suffice). 0, or -EINVAL with the reason
 * in *why. */
int pq_regex_translate(const char *re, char *out, size_t cap, const char **why);

/* ---- values ---- */

struct pq_sample {
    const struct prom_label *l; /* sorted; in the store or the arena */
    size_t n;
    double v;
};

struct pq_vec {
    struct pq_sample *s;
    size_t n;
};

struct pq_pts {
    const struct prom_label *l;
    size_t n;
    struct store_sample *p;     /* oldest first, no stale markers */
    size_t np;
};

struct pq_mat {
    struct pq_pts *s;
    size_t n;
};

struct pq_val {
    enum promql_type type;
    double num;
    const char *str;
    struct pq_vec vec;
    struct pq_mat mat;
};

struct pq_ctx {
    struct store *st;
    const struct promql_limits *lim;
    struct arena *a;   /* this step's memory */
    int64_t t;         /* evaluation time, ms */
    size_t *points;    /* samples loaded so far by the whole query */
    char *err;
    size_t errlen;
};

int pq_eval(struct pq_ctx *c, const struct pq_node *n, struct pq_val *out);
/* True if the series' labels satisfy every matcher of a selector. */
bool pq_series_matches(const struct store_series *se, const struct pq_node *sel);
int pq_fn_timestamp(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
                    struct pq_val *out);
int pq_eval_agg(struct pq_ctx *c, const struct pq_node *n, struct pq_val *out);
int pq_eval_binary(struct pq_ctx *c, const struct pq_node *n, struct pq_val *l, struct pq_val *r,
                   struct pq_val *out);
/* Sets err and returns code (PROMQL_ERR_EXEC or PROMQL_ERR_BAD_DATA). */
int pq_fail(struct pq_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An arena allocation, or NULL with "query needs too much memory" set. */
void *pq_alloc(struct pq_ctx *c, size_t size);
/* Counts n more points against max_points; 0 or the execution error. */
int pq_count_points(struct pq_ctx *c, size_t n);
/* A vector of room for n samples (n may be 0). */
int pq_vec_new(struct pq_ctx *c, size_t n, struct pq_vec *v);
/* Fails if two samples of v have the same labels, as Prometheus does after
 * functions and operators that drop the metric name. */
int pq_vec_check_unique(struct pq_ctx *c, const struct pq_vec *v);

/* Go's strconv.FormatFloat(v, 'f', -1, 64) into out (400 bytes hold any). */
void pq_format_f(double v, char *out, size_t n);

/* ---- label sets (in the arena) ---- */

/* Hash of the labels named in names (include) or of all but those and
 * __name__ (!include): vector matching and grouping. */
uint64_t pq_labels_sig(const struct prom_label *l, size_t n, const char **names, size_t nn,
                       bool include);
uint64_t pq_labels_hash(const struct prom_label *l, size_t n);
bool pq_labels_equal(const struct prom_label *a, size_t na, const struct prom_label *b, size_t nb);
int pq_labels_cmp(const struct prom_label *a, size_t na, const struct prom_label *b, size_t nb);
const char *pq_labels_get(const struct prom_label *l, size_t n, const char *name);
/* A copy keeping only names (include) or dropping them (!include); drop_name
 * also drops __name__. NULL on memory exhaustion (with n == 0 valid). */
int pq_labels_filter(struct pq_ctx *c, const struct prom_label *l, size_t n, const char **names,
                     size_t nn, bool include, bool drop_name, const struct prom_label **out,
                     size_t *nout);
/* A copy with name set to value ("" removes it). */
int pq_labels_set(struct pq_ctx *c, const struct prom_label *l, size_t n, const char *name,
                  const char *value, const struct prom_label **out, size_t *nout);
bool pq_names_has(const char **names, size_t nn, const char *name);

/* A hash map from uint64 keys to indexes, in the arena. */
struct pq_map {
    uint64_t *keys;
    size_t *vals; /* index + 1; 0 is empty */
    size_t cap;
};
int pq_map_init(struct pq_ctx *c, struct pq_map *m, size_t n);
/* The slot for key: *slot == 0 if absent (store index + 1 there). */
size_t *pq_map_slot(struct pq_map *m, uint64_t key);

#endif
