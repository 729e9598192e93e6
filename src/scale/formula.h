/* formula: KEDA's scalingModifiers.formula language, a subset of expr-lang
 * (github.com/expr-lang/expr) large enough for every formula in KEDA's docs
 * and tests. Pure, and allocation-free: a compiled formula is a fixed array
 * of nodes inside struct formula.
 *
 * Supported, with expr's precedence and types (int, float64, bool, nil):
 *   numbers (1, 2.5, 1e3, 1_000), true, false, nil, trigger names;
 *   unary - + ! not;  ** ^  * / %  + -  == != < <= > >=  && and  || or  ??;
 *   c ? a : b,  if c { a } else { b },  parentheses, // and block comments;
 *   float int abs ceil floor round, min max (numbers or arrays),
 *   sum mean median ([...]), count all any none one ([...], predicate on #).
 * Anything else is a compile error naming what is unsupported: a formula ebb
 * cannot evaluate exactly is refused, never evaluated differently.
 *
 * Types are checked when compiling, as expr does with KEDA's environment
 * (every trigger is a float64), so `trig % 2` or a boolean result is refused
 * up front. KEDA wraps the formula in float(...); compile does the same. */
#ifndef EBB_SCALE_FORMULA_H
#define EBB_SCALE_FORMULA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORMULA_SRC_MAX 1024  /* bytes of formula text */
#define FORMULA_NODES_MAX 256 /* syntax tree nodes */
#define FORMULA_VARS_MAX 32   /* variables (named triggers) */
#define FORMULA_ERR_MAX 192   /* a useful size for error buffers */

struct fnode {
    uint8_t kind; /* enum fnode_kind (formula.c) */
    uint8_t op;   /* operator or function */
    uint8_t type; /* static type */
    uint16_t pos; /* 1-based column in the source, for messages */
    int16_t a, b; /* children; for calls and arrays: first argument, count */
    int16_t c;    /* third child (else branch) */
    int16_t next; /* next sibling in an argument list, -1 at the end */
    union {
        int64_t i; /* integer literal */
        double f;  /* float literal */
        int var;   /* variable index */
    } v;
};

struct formula {
    int16_t root;  /* -1 until compiled */
    uint16_t n;    /* nodes in use */
    size_t n_vars; /* variables the formula may name */
    struct fnode nodes[FORMULA_NODES_MAX];
};

/* Compiles src. names[0..n_names) are the variables (KEDA: the names of the
 * triggers that have one; none may be NULL); a formula naming anything else
 * is an error. On error writes a message for people into err (errlen bytes)
 * and returns -EINVAL; f is left uncompiled. */
int formula_compile(struct formula *f, const char *src, const char *const *names, size_t n_names,
                    char *err, size_t errlen);

/* Evaluates a compiled formula. vals[i] is variable i's value; when nils is
 * not NULL and nils[i] is true, variable i is nil (a trigger KEDA hands to the
 * formula as nil, see fallback.behavior scalingModifiers). On success *out is
 * the float64 result and *out_nil is true when the formula produced nil.
 * A runtime error (nil in arithmetic, integer division by zero, overflow, a
 * result that is not a finite number) returns -EDOM with a message in err. */
int formula_eval(const struct formula *f, const double *vals, const bool *nils, double *out,
                 bool *out_nil, char *err, size_t errlen);

#endif
