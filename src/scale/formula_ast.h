/* formula_ast: what the formula lexer, parser and evaluator share (internal
 * to src/scale: formula.h is the interface). */
#ifndef EBB_SCALE_FORMULA_AST_H
#define EBB_SCALE_FORMULA_AST_H

#include <stddef.h>
#include <stdint.h>

#include "scale/formula.h"

enum fnode_kind {
    FN_INT,
    FN_FLOAT,
    FN_BOOL,
    FN_NIL,
    FN_VAR,
    FN_ELEM,
    FN_UNARY,
    FN_BINARY,
    FN_COND,
    FN_CALL,
    FN_ARRAY
};

enum ftype { TY_UNKNOWN, TY_INT, TY_FLOAT, TY_BOOL, TY_NIL, TY_ARRAY };

enum fop {
    OP_NONE,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_POW,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_AND,
    OP_OR,
    OP_NOT,
    OP_NEG,
    OP_PLUS,
    OP_COALESCE
};

enum ffunc {
    FUNC_FLOAT,
    FUNC_INT,
    FUNC_ABS,
    FUNC_CEIL,
    FUNC_FLOOR,
    FUNC_ROUND,
    FUNC_MIN,
    FUNC_MAX,
    FUNC_SUM,
    FUNC_MEAN,
    FUNC_MEDIAN,
    FUNC_COUNT,
    FUNC_ALL,
    FUNC_ANY,
    FUNC_NONE,
    FUNC_ONE
};

enum tok_kind {
    T_END,
    T_INT,
    T_FLOAT,
    T_IDENT,
    T_OP,
    T_LPAREN,
    T_RPAREN,
    T_LBRACK,
    T_RBRACK,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_QUESTION,
    T_COLON,
    T_HASH,
    T_TRUE,
    T_FALSE,
    T_NIL,
    T_IF,
    T_ELSE
};

/* A token: where it is, and its value for numbers. */
struct ftok {
    enum tok_kind kind;
    enum fop op;
    size_t pos, len; /* 0-based offset and length in the source */
    int64_t i;
    double f;
};

#define PARSE_DEPTH_MAX 64

/* The compiler's state: the lexer's position, the tree being built. */
struct fparser {
    const char *src;
    size_t len, at; /* the lexer's position */
    struct ftok cur;
    struct formula *f;
    const char *const *names;
    size_t n_names;
    char *err;
    size_t errlen;
    int failed;
    int depth;
    int preds;                          /* predicates we are inside of */
    uint8_t elem_type[PARSE_DEPTH_MAX]; /* type of '#' per predicate level */
};

/* Records the first error, "formula: <what> at column N", in p->err. */
void formula_fail(struct fparser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads the next token into p->cur (T_END at the end or after an error). */
void formula_next(struct fparser *p);
/* An operator's text ("+", "&&", ...), for messages. */
const char *formula_op_name(int op);

#endif
