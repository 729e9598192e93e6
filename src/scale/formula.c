/* formula: compiler and evaluator for KEDA's scalingModifiers formulas. See
 * formula.h for the language. The parser follows expr-lang's: precedence
 * climbing with expr's operator table, the conditional parsed only at
 * precedence 0, unary operators binding what follows at their own level (so
 * -2 ** 2 is -4 and !a == b is (!a) == b). */
#include "scale/formula.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fnode_kind { FN_INT, FN_FLOAT, FN_BOOL, FN_NIL, FN_VAR, FN_ELEM, FN_UNARY, FN_BINARY,
                  FN_COND, FN_CALL, FN_ARRAY };

enum ftype { TY_UNKNOWN, TY_INT, TY_FLOAT, TY_BOOL, TY_NIL, TY_ARRAY };

enum fop { OP_NONE, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW, OP_EQ, OP_NE, OP_LT, OP_LE,
           OP_GT, OP_GE, OP_AND, OP_OR, OP_NOT, OP_NEG, OP_PLUS, OP_COALESCE };

enum ffunc { FUNC_FLOAT, FUNC_INT, FUNC_ABS, FUNC_CEIL, FUNC_FLOOR, FUNC_ROUND, FUNC_MIN, FUNC_MAX,
             FUNC_SUM, FUNC_MEAN, FUNC_MEDIAN, FUNC_COUNT, FUNC_ALL, FUNC_ANY, FUNC_NONE,
             FUNC_ONE };

enum fargs { ARGS_ONE_VALUE, ARGS_VALUES, ARGS_ONE_ARRAY, ARGS_ARRAY_PREDICATE };

static const struct {
    const char *name;
    enum ffunc id;
    enum fargs args;
} funcs[] = {
    {"float", FUNC_FLOAT, ARGS_ONE_VALUE},  {"int", FUNC_INT, ARGS_ONE_VALUE},
    {"abs", FUNC_ABS, ARGS_ONE_VALUE},      {"ceil", FUNC_CEIL, ARGS_ONE_VALUE},
    {"floor", FUNC_FLOOR, ARGS_ONE_VALUE},  {"round", FUNC_ROUND, ARGS_ONE_VALUE},
    {"min", FUNC_MIN, ARGS_VALUES},         {"max", FUNC_MAX, ARGS_VALUES},
    {"sum", FUNC_SUM, ARGS_ONE_ARRAY},      {"mean", FUNC_MEAN, ARGS_ONE_ARRAY},
    {"median", FUNC_MEDIAN, ARGS_ONE_ARRAY}, {"count", FUNC_COUNT, ARGS_ARRAY_PREDICATE},
    {"all", FUNC_ALL, ARGS_ARRAY_PREDICATE}, {"any", FUNC_ANY, ARGS_ARRAY_PREDICATE},
    {"none", FUNC_NONE, ARGS_ARRAY_PREDICATE}, {"one", FUNC_ONE, ARGS_ARRAY_PREDICATE},
};

/* ---------- lexer ---------- */

enum tok_kind { T_END, T_INT, T_FLOAT, T_IDENT, T_OP, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK,
                T_LBRACE, T_RBRACE, T_COMMA, T_QUESTION, T_COLON, T_HASH, T_TRUE, T_FALSE,
                T_NIL, T_IF, T_ELSE };

struct tok {
    enum tok_kind kind;
    enum fop op;
    size_t pos, len; /* 0-based offset and length in the source */
    int64_t i;
    double f;
};

#define PARSE_DEPTH_MAX 64

struct parser {
    const char *src;
    size_t len, at; /* the lexer's position */
    struct tok cur;
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

static void fail(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return; /* the first error is the one worth reading */
    p->failed = 1;
    if (!p->err || p->errlen == 0)
        return;
    char what[FORMULA_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (n < 0)
        what[0] = '\0';
    n = snprintf(p->err, p->errlen, "formula: %s at column %zu", what, pos + 1);
    if (n < 0)
        p->err[0] = '\0';
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Skips blanks and comments. 0, or -1 on an unterminated block comment. */
static int skip_space(struct parser *p)
{
    for (;;) {
        char c = p->at < p->len ? p->src[p->at] : '\0';
        char d = p->at + 1 < p->len ? p->src[p->at + 1] : '\0';
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            p->at++;
        } else if (c == '/' && d == '/') {
            while (p->at < p->len && p->src[p->at] != '\n')
                p->at++;
        } else if (c == '/' && d == '*') {
            const char *end = strstr(p->src + p->at + 2, "*/");
            if (!end) {
                fail(p, p->at, "the comment is not closed");
                return -1;
            }
            p->at = (size_t)(end - p->src) + 2;
        } else {
            return 0;
        }
    }
}

/* Appends the digits at the lexer's position to text, skipping '_' between
 * two digits (1_000). Returns how many digits were taken. */
static size_t scan_digits(struct parser *p, char *text, size_t *n, size_t cap)
{
    size_t taken = 0;
    while (p->at < p->len) {
        char c = p->src[p->at];
        char d = p->at + 1 < p->len ? p->src[p->at + 1] : '\0';
        if (c == '_' && taken > 0 && is_digit(d)) {
            p->at++;
            continue;
        }
        if (!is_digit(c))
            break;
        if (*n + 1 < cap)
            text[(*n)++] = c;
        taken++;
        p->at++;
    }
    return taken;
}

/* Decimal numbers as expr reads them: digits with '_' between them, an
 * optional fraction and exponent (either makes a float64). Leaves the token
 * in p->cur. */
static void lex_number(struct parser *p)
{
    char text[80];
    size_t n = 0, start = p->at;
    int is_float = 0;
    if (p->src[p->at] == '0' && p->at + 1 < p->len && strchr("xXoObB", p->src[p->at + 1])) {
        fail(p, start, "hexadecimal, octal and binary numbers are not supported");
        return;
    }
    scan_digits(p, text, &n, sizeof(text));
    if (p->at + 1 < p->len && p->src[p->at] == '.' && is_digit(p->src[p->at + 1])) {
        text[n++] = '.';
        p->at++;
        scan_digits(p, text, &n, sizeof(text));
        is_float = 1;
    }
    if (p->at + 1 < p->len && (p->src[p->at] == 'e' || p->src[p->at] == 'E')) {
        size_t sign = p->src[p->at + 1] == '+' || p->src[p->at + 1] == '-';
        if (p->at + 1 + sign < p->len && is_digit(p->src[p->at + 1 + sign])) {
            text[n++] = 'e';
            if (sign)
                text[n++] = p->src[p->at + 1];
            p->at += 1 + sign;
            scan_digits(p, text, &n, sizeof(text));
            is_float = 1;
        }
    }
    text[n] = '\0';
    p->cur.len = p->at - start;
    if (n + 1 >= sizeof(text)) {
        fail(p, start, "the number is too long");
        return;
    }
    errno = 0;
    char *end;
    if (is_float) {
        p->cur.kind = T_FLOAT;
        p->cur.f = strtod(text, &end);
    } else {
        p->cur.kind = T_INT;
        p->cur.i = strtoll(text, &end, 10);
    }
    if (errno == ERANGE || *end != '\0' || (is_float && !isfinite(p->cur.f)))
        fail(p, start, "the number %s is out of range", text);
}

static const struct {
    const char *text;
    enum fop op;
} op_words[] = {
    {"??", OP_COALESCE}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE},
    {">=", OP_GE},       {"&&", OP_AND}, {"||", OP_OR}, {"<", OP_LT},  {">", OP_GT},
    {"!", OP_NOT},       {"+", OP_ADD},  {"-", OP_SUB}, {"*", OP_MUL}, {"/", OP_DIV},
    {"%", OP_MOD},       {"^", OP_POW},
};

static void lex_word(struct parser *p)
{
    size_t start = p->at;
    while (p->at < p->len && (is_ident_start(p->src[p->at]) || is_digit(p->src[p->at])))
        p->at++;
    size_t n = p->at - start;
    const char *w = p->src + start;
    p->cur.len = n;
    p->cur.kind = T_IDENT;
#define WORD(s) (n == sizeof(s) - 1 && memcmp(w, s, n) == 0)
    if (WORD("true"))
        p->cur.kind = T_TRUE;
    else if (WORD("false"))
        p->cur.kind = T_FALSE;
    else if (WORD("nil"))
        p->cur.kind = T_NIL;
    else if (WORD("if"))
        p->cur.kind = T_IF;
    else if (WORD("else"))
        p->cur.kind = T_ELSE;
    else if (WORD("and") || WORD("or") || WORD("not")) {
        p->cur.kind = T_OP;
        p->cur.op = WORD("and") ? OP_AND : WORD("or") ? OP_OR : OP_NOT;
    }
#undef WORD
}

static int lex_punct(struct parser *p, char c, char d)
{
    static const char single[] = "()[]{},:#";
    static const enum tok_kind kinds[] = {T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_LBRACE,
                                          T_RBRACE, T_COMMA,  T_COLON,  T_HASH};
    const char *s = strchr(single, c);
    if (c != '\0' && s) {
        p->cur.kind = kinds[s - single];
        p->cur.len = 1;
        return 1;
    }
    if (c == '?' && d != '?' && d != '.' && d != ':') {
        p->cur.kind = T_QUESTION;
        p->cur.len = 1;
        return 1;
    }
    for (size_t i = 0; i < sizeof(op_words) / sizeof(op_words[0]); i++) {
        size_t n = strlen(op_words[i].text);
        if (p->at + n <= p->len && memcmp(p->src + p->at, op_words[i].text, n) == 0) {
            p->cur.kind = T_OP;
            p->cur.op = op_words[i].op;
            p->cur.len = n;
            return 1;
        }
    }
    return 0;
}

static const char *unsupported_char(char c, char d)
{
    if (c == '"' || c == '\'' || c == '`')
        return "strings are not supported";
    if (c == '.' && d == '.')
        return "ranges (..) are not supported";
    if (c == '.' || (c == '?' && d == '.'))
        return "member access (.) is not supported";
    if (c == '?' && d == ':')
        return "the ?: operator is not supported";
    if (c == '|')
        return "pipes (|) are not supported";
    if (c == '=' || c == ';')
        return "variables (let, =, ;) are not supported";
    return NULL;
}

static void next(struct parser *p)
{
    if (p->failed || skip_space(p) < 0) {
        p->cur.kind = T_END;
        return;
    }
    memset(&p->cur, 0, sizeof(p->cur));
    p->cur.pos = p->at;
    if (p->at >= p->len) {
        p->cur.kind = T_END;
        return;
    }
    char c = p->src[p->at];
    char d = p->at + 1 < p->len ? p->src[p->at + 1] : '\0';
    if (is_digit(c)) {
        lex_number(p);
        return;
    }
    if (is_ident_start(c)) {
        lex_word(p);
        return;
    }
    if (lex_punct(p, c, d)) {
        p->at += p->cur.len;
        return;
    }
    const char *why = unsupported_char(c, d);
    if (why)
        fail(p, p->at, "%s", why);
    else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        fail(p, p->at, "unexpected byte 0x%02x", (unsigned char)c);
    else
        fail(p, p->at, "unexpected character '%c'", c);
    p->cur.kind = T_END;
}

/* ---------- syntax tree ---------- */

static const char *type_name(int t)
{
    switch (t) {
    case TY_INT: return "int";
    case TY_FLOAT: return "float64";
    case TY_BOOL: return "bool";
    case TY_NIL: return "nil";
    case TY_ARRAY: return "array";
    default: return "interface {}";
    }
}

static const char *op_name(int op)
{
    for (size_t i = 0; i < sizeof(op_words) / sizeof(op_words[0]); i++) {
        if ((int)op_words[i].op == op)
            return op_words[i].text;
    }
    return "?";
}

static int node_new(struct parser *p, enum fnode_kind kind, size_t pos)
{
    if (p->failed)
        return -1;
    if (p->f->n >= FORMULA_NODES_MAX) {
        fail(p, pos, "the formula has more than %d parts", FORMULA_NODES_MAX);
        return -1;
    }
    int idx = p->f->n++;
    struct fnode *n = &p->f->nodes[idx];
    memset(n, 0, sizeof(*n));
    n->kind = (uint8_t)kind;
    n->pos = (uint16_t)(pos + 1);
    n->a = n->b = n->c = n->next = -1;
    n->type = TY_UNKNOWN;
    return idx;
}

static struct fnode *node(struct parser *p, int idx)
{
    return &p->f->nodes[idx];
}

static int is_num_type(int t)
{
    return t == TY_INT || t == TY_FLOAT || t == TY_UNKNOWN;
}

/* The static type rules of expr's checker for binary operators. */
static int binary_type(struct parser *p, enum fop op, int l, int r, size_t pos)
{
    switch (op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
        if (is_num_type(l) && is_num_type(r))
            return (l == TY_INT && r == TY_INT) ? TY_INT
                   : (l == TY_UNKNOWN || r == TY_UNKNOWN) ? TY_UNKNOWN
                                                          : TY_FLOAT;
        break;
    case OP_DIV:
    case OP_POW:
        if (is_num_type(l) && is_num_type(r))
            return TY_FLOAT;
        break;
    case OP_MOD:
        if ((l == TY_INT || l == TY_UNKNOWN) && (r == TY_INT || r == TY_UNKNOWN))
            return TY_INT;
        break;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        if (is_num_type(l) && is_num_type(r))
            return TY_BOOL;
        break;
    case OP_EQ:
    case OP_NE:
        if (l == r || l == TY_UNKNOWN || r == TY_UNKNOWN || l == TY_NIL || r == TY_NIL ||
            (is_num_type(l) && is_num_type(r)))
            return TY_BOOL;
        break;
    case OP_AND:
    case OP_OR:
        if ((l == TY_BOOL || l == TY_UNKNOWN) && (r == TY_BOOL || r == TY_UNKNOWN))
            return TY_BOOL;
        break;
    case OP_COALESCE:
        return l == r ? l : l == TY_NIL ? r : TY_UNKNOWN;
    default:
        break;
    }
    fail(p, pos, "invalid operation: %s (mismatched types %s and %s)", op_name(op), type_name(l),
         type_name(r));
    return TY_UNKNOWN;
}

static int parse_expr(struct parser *p, int prec);

static int expect(struct parser *p, enum tok_kind kind, const char *what)
{
    if (p->failed)
        return -1;
    if (p->cur.kind != kind) {
        if (p->cur.kind == T_END)
            fail(p, p->cur.pos, "expected %s, but the formula ends", what);
        else
            fail(p, p->cur.pos, "expected %s, got \"%.*s\"", what, (int)p->cur.len,
                 p->src + p->cur.pos);
        return -1;
    }
    next(p);
    return 0;
}

static int binary_prec(enum fop op, int *right_assoc)
{
    *right_assoc = 0;
    switch (op) {
    case OP_OR: return 10;
    case OP_AND: return 15;
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: return 20;
    case OP_ADD:
    case OP_SUB: return 30;
    case OP_MUL:
    case OP_DIV:
    case OP_MOD: return 60;
    case OP_POW: *right_assoc = 1; return 100;
    case OP_COALESCE: return 500;
    default: return -1;
    }
}

static int make_cond(struct parser *p, int cond, int yes, int no, size_t pos)
{
    int t = cond >= 0 ? node(p, cond)->type : TY_UNKNOWN;
    if (!p->failed && t != TY_BOOL && t != TY_UNKNOWN)
        fail(p, pos, "non-bool expression (type %s) used as condition", type_name(t));
    int idx = node_new(p, FN_COND, pos);
    if (idx < 0 || yes < 0 || no < 0)
        return -1;
    struct fnode *n = node(p, idx);
    n->a = (int16_t)cond;
    n->b = (int16_t)yes;
    n->c = (int16_t)no;
    int ty = node(p, yes)->type, tn = node(p, no)->type;
    n->type = (uint8_t)(ty == tn ? ty : TY_UNKNOWN);
    return idx;
}

/* if c { a } else { b }, with "else if" chains (expr >= 1.17). */
static int parse_if(struct parser *p)
{
    size_t pos = p->cur.pos;
    next(p);
    int cond = parse_expr(p, 0);
    if (expect(p, T_LBRACE, "'{' after the if condition") < 0)
        return -1;
    int yes = parse_expr(p, 0);
    if (expect(p, T_RBRACE, "'}'") < 0 || expect(p, T_ELSE, "else") < 0)
        return -1;
    int no;
    if (p->cur.kind == T_IF) {
        no = parse_if(p);
    } else {
        if (expect(p, T_LBRACE, "'{' after else") < 0)
            return -1;
        no = parse_expr(p, 0);
        if (expect(p, T_RBRACE, "'}'") < 0)
            return -1;
    }
    return make_cond(p, cond, yes, no, pos);
}

static int parse_primary(struct parser *p);

static int parse_expr(struct parser *p, int prec)
{
    if (p->failed)
        return -1;
    if (++p->depth > PARSE_DEPTH_MAX) {
        fail(p, p->cur.pos, "the formula is nested too deeply");
        return -1;
    }
    int left = (prec == 0 && p->cur.kind == T_IF) ? parse_if(p) : parse_primary(p);
    while (!p->failed && p->cur.kind == T_OP) {
        int right_assoc;
        enum fop op = p->cur.op;
        int op_prec = binary_prec(op, &right_assoc);
        if (op_prec < prec)
            break;
        size_t pos = p->cur.pos;
        next(p);
        int right = parse_expr(p, right_assoc ? op_prec : op_prec + 1);
        int idx = node_new(p, FN_BINARY, pos);
        if (idx < 0 || left < 0 || right < 0)
            break;
        struct fnode *n = node(p, idx);
        n->op = (uint8_t)op;
        n->a = (int16_t)left;
        n->b = (int16_t)right;
        n->type = (uint8_t)binary_type(p, op, node(p, left)->type, node(p, right)->type, pos);
        left = idx;
    }
    while (prec == 0 && !p->failed && p->cur.kind == T_QUESTION) {
        size_t pos = p->cur.pos;
        next(p);
        int yes = parse_expr(p, 0);
        if (expect(p, T_COLON, "':' in the conditional") < 0)
            break;
        int no = parse_expr(p, 0);
        left = make_cond(p, left, yes, no, pos);
    }
    p->depth--;
    return p->failed ? -1 : left;
}

static int parse_unary(struct parser *p)
{
    size_t pos = p->cur.pos;
    enum fop op = p->cur.op, written = p->cur.op;
    int prec;
    if (op == OP_NOT) {
        prec = 50;
    } else if (op == OP_SUB || op == OP_ADD) {
        prec = 90;
        op = op == OP_SUB ? OP_NEG : OP_PLUS;
    } else {
        fail(p, pos, "unexpected operator \"%s\"", op_name(op));
        return -1;
    }
    next(p);
    int operand = parse_expr(p, prec);
    int idx = node_new(p, FN_UNARY, pos);
    if (idx < 0 || operand < 0)
        return -1;
    struct fnode *n = node(p, idx);
    n->op = (uint8_t)op;
    n->a = (int16_t)operand;
    int t = node(p, operand)->type;
    if (op == OP_NOT ? (t != TY_BOOL && t != TY_UNKNOWN) : !is_num_type(t))
        fail(p, pos, "invalid operation: %s (mismatched type %s)", op_name(written),
             type_name(t));
    n->type = (uint8_t)(op == OP_NOT ? TY_BOOL : t);
    return idx;
}

/* Appends child to the argument list of parent (a call or an array). */
static void add_arg(struct parser *p, int parent, int *last, int child)
{
    struct fnode *n = node(p, parent);
    if (*last < 0)
        n->a = (int16_t)child;
    else
        node(p, *last)->next = (int16_t)child;
    n->b++;
    *last = child;
}

static int parse_array(struct parser *p)
{
    int idx = node_new(p, FN_ARRAY, p->cur.pos);
    next(p);
    int last = -1, elem_type = -1;
    if (idx < 0)
        return -1;
    node(p, idx)->b = 0;
    while (!p->failed && p->cur.kind != T_RBRACK) {
        int e = parse_expr(p, 0);
        if (e < 0)
            return -1;
        add_arg(p, idx, &last, e);
        int t = node(p, e)->type;
        elem_type = elem_type < 0 || elem_type == t ? t : TY_UNKNOWN;
        if (p->cur.kind != T_COMMA)
            break;
        next(p);
    }
    if (expect(p, T_RBRACK, "']' closing the array") < 0)
        return -1;
    node(p, idx)->type = TY_ARRAY;
    node(p, idx)->c = (int16_t)(elem_type < 0 ? TY_UNKNOWN : elem_type);
    return idx;
}

/* A predicate: { body } or a bare body, where '#' is the current element. */
static int parse_predicate(struct parser *p, int elem_type)
{
    size_t pos = p->cur.pos;
    if (p->preds >= PARSE_DEPTH_MAX) {
        fail(p, pos, "the formula is nested too deeply");
        return -1;
    }
    p->elem_type[p->preds++] = (uint8_t)elem_type;
    int braces = p->cur.kind == T_LBRACE;
    if (braces)
        next(p);
    int body = parse_expr(p, 0);
    if (braces && expect(p, T_RBRACE, "'}' closing the predicate") < 0)
        body = -1;
    p->preds--;
    if (body >= 0 && node(p, body)->type != TY_BOOL && node(p, body)->type != TY_UNKNOWN)
        fail(p, pos, "the predicate must be a condition, not %s", type_name(node(p, body)->type));
    return p->failed ? -1 : body;
}

static int call_type(const struct parser *p, enum ffunc fn, int first)
{
    switch (fn) {
    case FUNC_FLOAT:
    case FUNC_CEIL:
    case FUNC_FLOOR:
    case FUNC_ROUND:
    case FUNC_MEAN:
    case FUNC_MEDIAN: return TY_FLOAT;
    case FUNC_INT:
    case FUNC_COUNT: return TY_INT;
    case FUNC_ALL:
    case FUNC_ANY:
    case FUNC_NONE:
    case FUNC_ONE: return TY_BOOL;
    case FUNC_ABS: return p->f->nodes[first].type;
    default: return TY_UNKNOWN; /* min, max, sum: int or float64 */
    }
}

/* Checks a call's arguments against what the function takes. */
static void check_call(struct parser *p, int idx, const char *name, enum fargs kind, size_t pos)
{
    struct fnode *call = node(p, idx);
    int nargs = call->b;
    int first = call->a;
    int second = first >= 0 ? node(p, first)->next : -1;
    switch (kind) {
    case ARGS_ONE_VALUE: {
        int t = nargs == 1 ? node(p, first)->type : TY_UNKNOWN;
        if (nargs != 1)
            fail(p, pos, "%s takes one argument, got %d", name, nargs);
        else if (!is_num_type(t))
            fail(p, pos, "invalid argument for %s (type %s)", name, type_name(t));
        break;
    }
    case ARGS_VALUES:
        if (nargs < 1)
            fail(p, pos, "%s needs at least one argument", name);
        for (int a = first; a >= 0; a = node(p, a)->next) {
            int t = node(p, a)->type;
            if (t == TY_BOOL || (t == TY_NIL && nargs > 1))
                fail(p, pos, "invalid argument for %s (type %s)", name, type_name(t));
        }
        break;
    case ARGS_ONE_ARRAY:
        if (nargs != 1 || node(p, first)->kind != FN_ARRAY)
            fail(p, pos, "%s takes one array, like %s([a, b])", name, name);
        break;
    case ARGS_ARRAY_PREDICATE:
        if (nargs != 2 || node(p, first)->kind != FN_ARRAY || second < 0)
            fail(p, pos, "%s takes an array and a predicate, like %s([a, b], # > 1)", name,
                 name);
        break;
    }
}

static int parse_call(struct parser *p, size_t name_pos, size_t name_len)
{
    const char *name = p->src + name_pos;
    size_t fi = 0, nf = sizeof(funcs) / sizeof(funcs[0]);
    while (fi < nf && !(strlen(funcs[fi].name) == name_len &&
                        memcmp(funcs[fi].name, name, name_len) == 0))
        fi++;
    if (fi == nf) {
        fail(p, name_pos, "unknown function %.*s", (int)name_len, name);
        return -1;
    }
    int idx = node_new(p, FN_CALL, name_pos);
    if (idx < 0)
        return -1;
    node(p, idx)->op = (uint8_t)funcs[fi].id;
    node(p, idx)->b = 0;
    next(p); /* '(' */
    int last = -1;
    while (!p->failed && p->cur.kind != T_RPAREN) {
        int arg;
        if (funcs[fi].args == ARGS_ARRAY_PREDICATE && last >= 0 &&
            node(p, last)->kind != FN_ARRAY) {
            fail(p, name_pos, "%s takes an array and a predicate, like %s([a, b], # > 1)",
                 funcs[fi].name, funcs[fi].name);
            return -1;
        }
        if (funcs[fi].args == ARGS_ARRAY_PREDICATE && last >= 0)
            arg = parse_predicate(p, node(p, last)->c);
        else if (p->cur.kind == T_LBRACK)
            arg = parse_array(p);
        else
            arg = parse_expr(p, 0);
        if (arg < 0)
            return -1;
        add_arg(p, idx, &last, arg);
        if (p->cur.kind != T_COMMA)
            break;
        next(p);
    }
    if (expect(p, T_RPAREN, "')' closing the call") < 0)
        return -1;
    check_call(p, idx, funcs[fi].name, funcs[fi].args, name_pos);
    if (p->failed)
        return -1;
    node(p, idx)->type = (uint8_t)call_type(p, funcs[fi].id, node(p, idx)->a);
    return idx;
}

static int parse_name(struct parser *p)
{
    size_t pos = p->cur.pos, len = p->cur.len;
    next(p);
    if (p->cur.kind == T_LPAREN)
        return parse_call(p, pos, len);
    for (size_t i = 0; i < p->n_names; i++) {
        if (strlen(p->names[i]) == len && memcmp(p->names[i], p->src + pos, len) == 0) {
            int idx = node_new(p, FN_VAR, pos);
            if (idx >= 0) {
                node(p, idx)->v.var = (int)i;
                node(p, idx)->type = TY_FLOAT; /* KEDA's environment: map[string]float64 */
            }
            return idx;
        }
    }
    fail(p, pos, "unknown name %.*s (not the name of a trigger)", (int)len, p->src + pos);
    return -1;
}

static int parse_literal(struct parser *p)
{
    static const enum fnode_kind kinds[] = {[T_INT] = FN_INT, [T_FLOAT] = FN_FLOAT,
                                            [T_TRUE] = FN_BOOL, [T_FALSE] = FN_BOOL,
                                            [T_NIL] = FN_NIL};
    static const uint8_t types[] = {[T_INT] = TY_INT, [T_FLOAT] = TY_FLOAT, [T_TRUE] = TY_BOOL,
                                    [T_FALSE] = TY_BOOL, [T_NIL] = TY_NIL};
    int idx = node_new(p, kinds[p->cur.kind], p->cur.pos);
    if (idx >= 0) {
        struct fnode *n = node(p, idx);
        n->type = types[p->cur.kind];
        if (p->cur.kind == T_INT)
            n->v.i = p->cur.i;
        else if (p->cur.kind == T_FLOAT)
            n->v.f = p->cur.f;
        else
            n->v.i = p->cur.kind == T_TRUE;
    }
    next(p);
    return idx;
}

static int parse_primary(struct parser *p)
{
    size_t pos = p->cur.pos;
    int idx = -1;
    switch (p->cur.kind) {
    case T_INT:
    case T_FLOAT:
    case T_TRUE:
    case T_FALSE:
    case T_NIL: idx = parse_literal(p); break;
    case T_IDENT: idx = parse_name(p); break;
    case T_OP: return parse_unary(p);
    case T_LPAREN:
        next(p);
        idx = parse_expr(p, 0);
        if (expect(p, T_RPAREN, "')'") < 0)
            return -1;
        break;
    case T_HASH:
        if (p->preds == 0) {
            fail(p, pos, "# is only allowed inside a predicate");
            return -1;
        }
        idx = node_new(p, FN_ELEM, pos);
        if (idx >= 0)
            node(p, idx)->type = p->elem_type[p->preds - 1];
        next(p);
        break;
    case T_LBRACK: fail(p, pos, "arrays are only supported as function arguments"); return -1;
    case T_END: fail(p, pos, "the formula ends where a value was expected"); return -1;
    default:
        fail(p, pos, "unexpected \"%.*s\"", (int)p->cur.len, p->src + pos);
        return -1;
    }
    if (!p->failed && (p->cur.kind == T_LBRACK || p->cur.kind == T_LPAREN))
        fail(p, p->cur.pos, "indexing and calling a value are not supported");
    return p->failed ? -1 : idx;
}

int formula_compile(struct formula *f, const char *src, const char *const *names, size_t n_names,
                    char *err, size_t errlen)
{
    struct parser p = {.src = src, .f = f, .names = names, .n_names = n_names, .err = err,
                       .errlen = errlen};
    memset(f, 0, sizeof(*f));
    f->root = -1;
    if (err && errlen)
        err[0] = '\0';
    p.len = src ? strlen(src) : 0;
    if (p.len > FORMULA_SRC_MAX) {
        fail(&p, 0, "the formula is longer than %d bytes", FORMULA_SRC_MAX);
        return -EINVAL;
    }
    if (n_names > FORMULA_VARS_MAX) {
        fail(&p, 0, "more than %d named triggers", FORMULA_VARS_MAX);
        return -EINVAL;
    }
    next(&p);
    int root = parse_expr(&p, 0);
    if (!p.failed && p.cur.kind != T_END)
        fail(&p, p.cur.pos, "unexpected \"%.*s\" after the end of the expression",
             (int)p.cur.len, src + p.cur.pos);
    /* KEDA runs float(<formula>) compiled with expr.AsFloat64(). */
    if (!p.failed && root >= 0) {
        int t = f->nodes[root].type;
        if (t != TY_INT && t != TY_FLOAT && t != TY_UNKNOWN)
            fail(&p, 0, "the formula must give a number, not %s", type_name(t));
    }
    if (p.failed || root < 0) {
        f->n = 0;
        return -EINVAL;
    }
    f->root = (int16_t)root;
    f->n_vars = n_names;
    return 0;
}

/* ---------- evaluation ---------- */

enum vtype { V_INT, V_FLOAT, V_BOOL, V_NIL };

struct fval {
    enum vtype t;
    union {
        int64_t i;
        double f;
        int b;
    };
};

struct evalctx {
    const struct formula *f;
    const double *vals;
    const bool *nils;
    const struct fval *elem; /* '#' of the innermost predicate */
    char *err;
    size_t errlen;
};

static int eval(struct evalctx *c, int idx, struct fval *out);

static int rt_fail(struct evalctx *c, const struct fnode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rt_fail(struct evalctx *c, const struct fnode *n, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        char what[FORMULA_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (k < 0)
            what[0] = '\0';
        k = snprintf(c->err, c->errlen, "formula: %s at column %u", what, (unsigned)n->pos);
        if (k < 0)
            c->err[0] = '\0';
    }
    return -EDOM;
}

static const char *vname(const struct fval *v)
{
    static const char *names[] = {"int", "float64", "bool", "<nil>"};
    return names[v->t];
}

static int is_num(const struct fval *v)
{
    return v->t == V_INT || v->t == V_FLOAT;
}

static double as_double(const struct fval *v)
{
    return v->t == V_INT ? (double)v->i : v->f;
}

static struct fval fv_float(double f)
{
    struct fval v = {.t = V_FLOAT, .f = f};
    return v;
}

static struct fval fv_int(int64_t i)
{
    struct fval v = {.t = V_INT, .i = i};
    return v;
}

static struct fval fv_bool(int b)
{
    struct fval v = {.t = V_BOOL, .b = b != 0};
    return v;
}

static int eval_int_arith(struct evalctx *c, const struct fnode *n, int64_t l, int64_t r,
                          struct fval *out)
{
    int64_t res = 0;
    int overflow = 0;
    switch (n->op) {
    case OP_ADD: overflow = __builtin_add_overflow(l, r, &res); break;
    case OP_SUB: overflow = __builtin_sub_overflow(l, r, &res); break;
    case OP_MUL: overflow = __builtin_mul_overflow(l, r, &res); break;
    case OP_MOD:
        if (r == 0)
            return rt_fail(c, n, "integer divide by zero");
        res = r == -1 ? 0 : l % r;
        break;
    default: break;
    }
    if (overflow)
        return rt_fail(c, n, "integer overflow in %s", op_name(n->op));
    *out = fv_int(res);
    return 0;
}

static int eval_arith(struct evalctx *c, const struct fnode *n, const struct fval *l,
                      const struct fval *r, struct fval *out)
{
    if (!is_num(l) || !is_num(r))
        return rt_fail(c, n, "invalid operation: %s %s %s", vname(l), op_name(n->op), vname(r));
    int both_int = l->t == V_INT && r->t == V_INT;
    if (n->op == OP_MOD && !both_int)
        return rt_fail(c, n, "invalid operation: %s %% %s", vname(l), vname(r));
    if (both_int && n->op != OP_DIV && n->op != OP_POW)
        return eval_int_arith(c, n, l->i, r->i, out);
    double a = as_double(l), b = as_double(r);
    switch (n->op) {
    case OP_ADD: *out = fv_float(a + b); break;
    case OP_SUB: *out = fv_float(a - b); break;
    case OP_MUL: *out = fv_float(a * b); break;
    case OP_DIV: *out = fv_float(a / b); break;
    default: *out = fv_float(pow(a, b)); break;
    }
    return 0;
}

static int values_equal(const struct fval *l, const struct fval *r)
{
    if (is_num(l) && is_num(r)) {
        if (l->t == V_INT && r->t == V_INT)
            return l->i == r->i;
        return as_double(l) == as_double(r);
    }
    if (l->t != r->t)
        return 0;
    return l->t == V_NIL || l->b == r->b;
}

static int eval_compare(struct evalctx *c, const struct fnode *n, const struct fval *l,
                        const struct fval *r, struct fval *out)
{
    if (n->op == OP_EQ || n->op == OP_NE) {
        int eq = values_equal(l, r);
        *out = fv_bool(n->op == OP_EQ ? eq : !eq);
        return 0;
    }
    if (!is_num(l) || !is_num(r))
        return rt_fail(c, n, "invalid operation: %s %s %s", vname(l), op_name(n->op), vname(r));
    int lt, eq;
    if (l->t == V_INT && r->t == V_INT) {
        lt = l->i < r->i;
        eq = l->i == r->i;
    } else {
        lt = as_double(l) < as_double(r);
        eq = as_double(l) == as_double(r);
    }
    int gt = !lt && !eq && !isnan(as_double(l)) && !isnan(as_double(r));
    switch (n->op) {
    case OP_LT: *out = fv_bool(lt); break;
    case OP_LE: *out = fv_bool(lt || eq); break;
    case OP_GT: *out = fv_bool(gt); break;
    default: *out = fv_bool(gt || eq); break;
    }
    return 0;
}

static int eval_logic(struct evalctx *c, const struct fnode *n, struct fval *out)
{
    struct fval l, r;
    int rc = eval(c, n->a, &l);
    if (rc < 0)
        return rc;
    if (l.t != V_BOOL)
        return rt_fail(c, n, "invalid operation: %s %s", vname(&l), op_name(n->op));
    if ((n->op == OP_AND && !l.b) || (n->op == OP_OR && l.b)) {
        *out = l; /* short circuit, as expr does */
        return 0;
    }
    rc = eval(c, n->b, &r);
    if (rc < 0)
        return rc;
    if (r.t != V_BOOL)
        return rt_fail(c, n, "invalid operation: bool %s %s", op_name(n->op), vname(&r));
    *out = r;
    return 0;
}

static int eval_binary(struct evalctx *c, const struct fnode *n, struct fval *out)
{
    if (n->op == OP_AND || n->op == OP_OR)
        return eval_logic(c, n, out);
    struct fval l, r;
    int rc = eval(c, n->a, &l);
    if (rc < 0)
        return rc;
    if (n->op == OP_COALESCE) {
        if (l.t != V_NIL) {
            *out = l;
            return 0;
        }
        return eval(c, n->b, out);
    }
    rc = eval(c, n->b, &r);
    if (rc < 0)
        return rc;
    switch (n->op) {
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: return eval_compare(c, n, &l, &r, out);
    default: return eval_arith(c, n, &l, &r, out);
    }
}

static int eval_unary(struct evalctx *c, const struct fnode *n, struct fval *out)
{
    struct fval v;
    int rc = eval(c, n->a, &v);
    if (rc < 0)
        return rc;
    if (n->op == OP_NOT) {
        if (v.t != V_BOOL)
            return rt_fail(c, n, "invalid operation: !%s", vname(&v));
        *out = fv_bool(!v.b);
        return 0;
    }
    if (!is_num(&v))
        return rt_fail(c, n, "invalid operation: -%s", vname(&v));
    if (n->op == OP_PLUS)
        *out = v;
    else if (v.t == V_FLOAT)
        *out = fv_float(-v.f);
    else if (v.i == INT64_MIN)
        return rt_fail(c, n, "integer overflow in -");
    else
        *out = fv_int(-v.i);
    return 0;
}

/* Calls fn(c, value, acc) for every number min/max/sum/mean/median see:
 * each argument, and each element of an array argument. */
struct numbers {
    size_t n;
    struct fval v[FORMULA_NODES_MAX];
};

static int collect(struct evalctx *c, const struct fnode *call, struct numbers *nums, int *only_nil)
{
    nums->n = 0;
    *only_nil = 0;
    for (int a = call->a; a >= 0; a = c->f->nodes[a].next) {
        const struct fnode *arg = &c->f->nodes[a];
        int first = arg->kind == FN_ARRAY ? arg->a : a;
        int count = arg->kind == FN_ARRAY ? arg->b : 1;
        int e = first;
        for (int k = 0; k < count; k++, e = c->f->nodes[e].next) {
            struct fval v;
            int rc = eval(c, e, &v);
            if (rc < 0)
                return rc;
            if (v.t == V_NIL && call->b == 1 && arg->kind != FN_ARRAY) {
                *only_nil = 1; /* expr: min(nil) is nil */
                return 0;
            }
            if (!is_num(&v))
                return rt_fail(c, call, "invalid argument (type %s)", vname(&v));
            nums->v[nums->n++] = v;
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int eval_numbers(struct evalctx *c, const struct fnode *n, struct fval *out)
{
    struct numbers nums;
    int only_nil, rc = collect(c, n, &nums, &only_nil);
    if (rc < 0)
        return rc;
    if (only_nil) {
        out->t = V_NIL;
        return 0;
    }
    if (n->op == FUNC_MIN || n->op == FUNC_MAX) {
        if (nums.n == 0)
            return rt_fail(c, n, "%s of nothing", n->op == FUNC_MIN ? "min" : "max");
        size_t best = 0;
        for (size_t i = 1; i < nums.n; i++) {
            double a = as_double(&nums.v[best]), b = as_double(&nums.v[i]);
            if (n->op == FUNC_MAX ? a < b : a > b)
                best = i; /* strictly better only: the first of equals stays */
        }
        *out = nums.v[best];
        return 0;
    }
    double total = 0;
    int64_t itotal = 0;
    int all_int = 1;
    double sorted[FORMULA_NODES_MAX];
    for (size_t i = 0; i < nums.n; i++) {
        int64_t next_total;
        if (all_int && nums.v[i].t == V_INT &&
            !__builtin_add_overflow(itotal, nums.v[i].i, &next_total)) {
            itotal = next_total;
            total = (double)itotal;
        } else {
            all_int = 0;
            total += as_double(&nums.v[i]);
        }
        sorted[i] = as_double(&nums.v[i]);
    }
    if (n->op == FUNC_SUM) {
        *out = all_int ? fv_int(itotal) : fv_float(total);
    } else if (nums.n == 0) {
        *out = fv_float(0);
    } else if (n->op == FUNC_MEAN) {
        *out = fv_float(total / (double)nums.n);
    } else {
        qsort(sorted, nums.n, sizeof(sorted[0]), cmp_double);
        size_t mid = nums.n / 2;
        *out = fv_float(nums.n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2);
    }
    return 0;
}

static int eval_predicate(struct evalctx *c, const struct fnode *n, struct fval *out)
{
    const struct fnode *arr = &c->f->nodes[n->a];
    int pred = arr->next;
    int64_t hits = 0;
    const struct fval *saved = c->elem;
    int e = arr->a, rc = 0;
    for (int k = 0; k < arr->b && rc == 0; k++, e = c->f->nodes[e].next) {
        struct fval v, r;
        rc = eval(c, e, &v);
        if (rc < 0)
            break;
        c->elem = &v;
        rc = eval(c, pred, &r);
        c->elem = saved;
        if (rc == 0 && r.t != V_BOOL)
            rc = rt_fail(c, n, "the predicate gave %s, not bool", vname(&r));
        hits += rc == 0 && r.b;
    }
    if (rc < 0)
        return rc;
    switch (n->op) {
    case FUNC_COUNT: *out = fv_int(hits); break;
    case FUNC_ALL: *out = fv_bool(hits == arr->b); break;
    case FUNC_ANY: *out = fv_bool(hits > 0); break;
    case FUNC_NONE: *out = fv_bool(hits == 0); break;
    default: *out = fv_bool(hits == 1); break;
    }
    return 0;
}

static int eval_call(struct evalctx *c, const struct fnode *n, struct fval *out)
{
    if (n->op >= FUNC_MIN && n->op <= FUNC_MEDIAN)
        return eval_numbers(c, n, out);
    if (n->op >= FUNC_COUNT)
        return eval_predicate(c, n, out);
    struct fval v;
    int rc = eval(c, n->a, &v);
    if (rc < 0)
        return rc;
    if (!is_num(&v))
        return rt_fail(c, n, "invalid argument (type %s)", vname(&v));
    double d = as_double(&v);
    switch (n->op) {
    case FUNC_FLOAT: *out = fv_float(d); break;
    case FUNC_INT:
        if (v.t == V_INT) {
            *out = v;
        } else if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0)) {
            return rt_fail(c, n, "int(%g) is out of range", d);
        } else {
            *out = fv_int((int64_t)d);
        }
        break;
    case FUNC_ABS:
        if (v.t == V_INT && v.i == INT64_MIN)
            return rt_fail(c, n, "integer overflow in abs");
        *out = v.t == V_INT ? fv_int(v.i < 0 ? -v.i : v.i) : fv_float(fabs(d));
        break;
    case FUNC_CEIL: *out = fv_float(ceil(d)); break;
    case FUNC_FLOOR: *out = fv_float(floor(d)); break;
    default: *out = fv_float(round(d)); break; /* Go's math.Round: half away from zero */
    }
    return 0;
}

static int eval(struct evalctx *c, int idx, struct fval *out)
{
    const struct fnode *n = &c->f->nodes[idx];
    memset(out, 0, sizeof(*out));
    switch (n->kind) {
    case FN_INT: *out = fv_int(n->v.i); return 0;
    case FN_FLOAT: *out = fv_float(n->v.f); return 0;
    case FN_BOOL: *out = fv_bool((int)n->v.i); return 0;
    case FN_NIL: out->t = V_NIL; return 0;
    case FN_VAR:
        if (c->nils && c->nils[n->v.var])
            out->t = V_NIL;
        else
            *out = fv_float(c->vals[n->v.var]);
        return 0;
    case FN_ELEM: *out = *c->elem; return 0;
    case FN_UNARY: return eval_unary(c, n, out);
    case FN_BINARY: return eval_binary(c, n, out);
    case FN_COND: {
        struct fval cond;
        int rc = eval(c, n->a, &cond);
        if (rc < 0)
            return rc;
        if (cond.t != V_BOOL)
            return rt_fail(c, n, "non-bool value (%s) used as condition", vname(&cond));
        return eval(c, cond.b ? n->b : n->c, out);
    }
    case FN_CALL: return eval_call(c, n, out);
    default: return rt_fail(c, n, "an array is not a value");
    }
}

int formula_eval(const struct formula *f, const double *vals, const bool *nils, double *out,
                 bool *out_nil, char *err, size_t errlen)
{
    struct evalctx c = {.f = f, .vals = vals, .nils = nils, .err = err, .errlen = errlen};
    struct fval v;
    *out = 0;
    *out_nil = false;
    if (err && errlen)
        err[0] = '\0';
    if (f->root < 0)
        return -EINVAL;
    int rc = eval(&c, f->root, &v);
    if (rc < 0)
        return rc;
    const struct fnode *root = &f->nodes[f->root];
    switch (v.t) {
    case V_NIL: *out_nil = true; return 0;
    case V_BOOL: return rt_fail(&c, root, "the formula gave bool, not a number");
    default: break;
    }
    /* KEDA would store int64(out * 1000) of an infinite or NaN result, which
     * is no number at all; ebb reports it instead of scaling on it. */
    *out = as_double(&v);
    if (!isfinite(*out))
        return rt_fail(&c, root, "the formula gave %g, not a finite number", *out);
    return 0;
}
