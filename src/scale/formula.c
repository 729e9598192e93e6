/* formula: the compiler of KEDA's scalingModifiers formulas. See formula.h
 * for the language. The parser follows expr-lang's: precedence climbing with
 * expr's operator table, the conditional parsed only at precedence 0, unary
 * operators binding what follows at their own level (so -2 ** 2 is -4 and
 * !a == b is (!a) == b). Types are checked as expr's checker does. */
#include "scale/formula_ast.h"

#include <errno.h>
#include <string.h>

enum fargs { ARGS_ONE_VALUE, ARGS_VALUES, ARGS_ONE_ARRAY, ARGS_ARRAY_PREDICATE };

static const struct {
    const char *name;
    enum ffunc id;
    enum fargs args;
} funcs[] = {
    {"float", FUNC_FLOAT, ARGS_ONE_VALUE},
    {"int", FUNC_INT, ARGS_ONE_VALUE},
    {"abs", FUNC_ABS, ARGS_ONE_VALUE},
    {"ceil", FUNC_CEIL, ARGS_ONE_VALUE},
    {"floor", FUNC_FLOOR, ARGS_ONE_VALUE},
    {"round", FUNC_ROUND, ARGS_ONE_VALUE},
    {"min", FUNC_MIN, ARGS_VALUES},
    {"max", FUNC_MAX, ARGS_VALUES},
    {"sum", FUNC_SUM, ARGS_ONE_ARRAY},
    {"mean", FUNC_MEAN, ARGS_ONE_ARRAY},
    {"median", FUNC_MEDIAN, ARGS_ONE_ARRAY},
    {"count", FUNC_COUNT, ARGS_ARRAY_PREDICATE},
    {"all", FUNC_ALL, ARGS_ARRAY_PREDICATE},
    {"any", FUNC_ANY, ARGS_ARRAY_PREDICATE},
    {"none", FUNC_NONE, ARGS_ARRAY_PREDICATE},
    {"one", FUNC_ONE, ARGS_ARRAY_PREDICATE},
};

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

static int node_new(struct fparser *p, enum fnode_kind kind, size_t pos)
{
    if (p->failed)
        return -1;
    if (p->f->n >= FORMULA_NODES_MAX) {
        formula_fail(p, pos, "the formula has more than %d parts", FORMULA_NODES_MAX);
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

static struct fnode *node(struct fparser *p, int idx)
{
    return &p->f->nodes[idx];
}

static int is_num_type(int t)
{
    return t == TY_INT || t == TY_FLOAT || t == TY_UNKNOWN;
}

/* The static type rules of expr's checker for binary operators. */
static int binary_type(struct fparser *p, enum fop op, int l, int r, size_t pos)
{
    switch (op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
        if (is_num_type(l) && is_num_type(r))
            return (l == TY_INT && r == TY_INT)           ? TY_INT
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
    case OP_COALESCE: return l == r ? l : l == TY_NIL ? r : TY_UNKNOWN;
    default: break;
    }
    formula_fail(p, pos, "invalid operation: %s (mismatched types %s and %s)", formula_op_name(op),
                 type_name(l), type_name(r));
    return TY_UNKNOWN;
}

static int parse_expr(struct fparser *p, int prec);

static int expect(struct fparser *p, enum tok_kind kind, const char *what)
{
    if (p->failed)
        return -1;
    if (p->cur.kind != kind) {
        if (p->cur.kind == T_END)
            formula_fail(p, p->cur.pos, "expected %s, but the formula ends", what);
        else
            formula_fail(p, p->cur.pos, "expected %s, got \"%.*s\"", what, (int)p->cur.len,
                         p->src + p->cur.pos);
        return -1;
    }
    formula_next(p);
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

static int make_cond(struct fparser *p, int cond, int yes, int no, size_t pos)
{
    int t = cond >= 0 ? node(p, cond)->type : TY_UNKNOWN;
    if (!p->failed && t != TY_BOOL && t != TY_UNKNOWN)
        formula_fail(p, pos, "non-bool expression (type %s) used as condition", type_name(t));
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
static int parse_if(struct fparser *p)
{
    size_t pos = p->cur.pos;
    formula_next(p);
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

static int parse_primary(struct fparser *p);

static int parse_expr(struct fparser *p, int prec)
{
    if (p->failed)
        return -1;
    if (++p->depth > PARSE_DEPTH_MAX) {
        formula_fail(p, p->cur.pos, "the formula is nested too deeply");
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
        formula_next(p);
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
        formula_next(p);
        int yes = parse_expr(p, 0);
        if (expect(p, T_COLON, "':' in the conditional") < 0)
            break;
        int no = parse_expr(p, 0);
        left = make_cond(p, left, yes, no, pos);
    }
    p->depth--;
    return p->failed ? -1 : left;
}

static int parse_unary(struct fparser *p)
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
        formula_fail(p, pos, "unexpected operator \"%s\"", formula_op_name(op));
        return -1;
    }
    formula_next(p);
    int operand = parse_expr(p, prec);
    int idx = node_new(p, FN_UNARY, pos);
    if (idx < 0 || operand < 0)
        return -1;
    struct fnode *n = node(p, idx);
    n->op = (uint8_t)op;
    n->a = (int16_t)operand;
    int t = node(p, operand)->type;
    if (op == OP_NOT ? (t != TY_BOOL && t != TY_UNKNOWN) : !is_num_type(t))
        formula_fail(p, pos, "invalid operation: %s (mismatched type %s)", formula_op_name(written),
                     type_name(t));
    n->type = (uint8_t)(op == OP_NOT ? TY_BOOL : t);
    return idx;
}

/* Appends child to the argument list of parent (a call or an array). */
static void add_arg(struct fparser *p, int parent, int *last, int child)
{
    struct fnode *n = node(p, parent);
    if (*last < 0)
        n->a = (int16_t)child;
    else
        node(p, *last)->next = (int16_t)child;
    n->b++;
    *last = child;
}

static int parse_array(struct fparser *p)
{
    int idx = node_new(p, FN_ARRAY, p->cur.pos);
    formula_next(p);
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
        formula_next(p);
    }
    if (expect(p, T_RBRACK, "']' closing the array") < 0)
        return -1;
    node(p, idx)->type = TY_ARRAY;
    node(p, idx)->c = (int16_t)(elem_type < 0 ? TY_UNKNOWN : elem_type);
    return idx;
}

/* A predicate: { body } or a bare body, where '#' is the current element. */
static int parse_predicate(struct fparser *p, int elem_type)
{
    size_t pos = p->cur.pos;
    if (p->preds >= PARSE_DEPTH_MAX) {
        formula_fail(p, pos, "the formula is nested too deeply");
        return -1;
    }
    p->elem_type[p->preds++] = (uint8_t)elem_type;
    int braces = p->cur.kind == T_LBRACE;
    if (braces)
        formula_next(p);
    int body = parse_expr(p, 0);
    if (braces && expect(p, T_RBRACE, "'}' closing the predicate") < 0)
        body = -1;
    p->preds--;
    if (body >= 0 && node(p, body)->type != TY_BOOL && node(p, body)->type != TY_UNKNOWN)
        formula_fail(p, pos, "the predicate must be a condition, not %s",
                     type_name(node(p, body)->type));
    return p->failed ? -1 : body;
}

static int call_type(const struct fparser *p, enum ffunc fn, int first)
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
static void check_call(struct fparser *p, int idx, const char *name, enum fargs kind, size_t pos)
{
    struct fnode *call = node(p, idx);
    int nargs = call->b;
    int first = call->a;
    int second = first >= 0 ? node(p, first)->next : -1;
    switch (kind) {
    case ARGS_ONE_VALUE: {
        int t = nargs == 1 ? node(p, first)->type : TY_UNKNOWN;
        if (nargs != 1)
            formula_fail(p, pos, "%s takes one argument, got %d", name, nargs);
        else if (!is_num_type(t))
            formula_fail(p, pos, "invalid argument for %s (type %s)", name, type_name(t));
        break;
    }
    case ARGS_VALUES:
        if (nargs < 1)
            formula_fail(p, pos, "%s needs at least one argument", name);
        for (int a = first; a >= 0; a = node(p, a)->next) {
            int t = node(p, a)->type;
            if (t == TY_BOOL || (t == TY_NIL && nargs > 1))
                formula_fail(p, pos, "invalid argument for %s (type %s)", name, type_name(t));
        }
        break;
    case ARGS_ONE_ARRAY:
        if (nargs != 1 || node(p, first)->kind != FN_ARRAY)
            formula_fail(p, pos, "%s takes one array, like %s([a, b])", name, name);
        break;
    case ARGS_ARRAY_PREDICATE:
        if (nargs != 2 || node(p, first)->kind != FN_ARRAY || second < 0)
            formula_fail(p, pos, "%s takes an array and a predicate, like %s([a, b], # > 1)", name,
                         name);
        break;
    }
}

static int parse_call(struct fparser *p, size_t name_pos, size_t name_len)
{
    const char *name = p->src + name_pos;
    size_t fi = 0, nf = sizeof(funcs) / sizeof(funcs[0]);
    while (fi < nf &&
           !(strlen(funcs[fi].name) == name_len && memcmp(funcs[fi].name, name, name_len) == 0))
        fi++;
    if (fi == nf) {
        formula_fail(p, name_pos, "unknown function %.*s", (int)name_len, name);
        return -1;
    }
    int idx = node_new(p, FN_CALL, name_pos);
    if (idx < 0)
        return -1;
    node(p, idx)->op = (uint8_t)funcs[fi].id;
    node(p, idx)->b = 0;
    formula_next(p); /* '(' */
    int last = -1;
    while (!p->failed && p->cur.kind != T_RPAREN) {
        int arg;
        if (funcs[fi].args == ARGS_ARRAY_PREDICATE && last >= 0 &&
            node(p, last)->kind != FN_ARRAY) {
            formula_fail(p, name_pos, "%s takes an array and a predicate, like %s([a, b], # > 1)",
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
        formula_next(p);
    }
    if (expect(p, T_RPAREN, "')' closing the call") < 0)
        return -1;
    check_call(p, idx, funcs[fi].name, funcs[fi].args, name_pos);
    if (p->failed)
        return -1;
    node(p, idx)->type = (uint8_t)call_type(p, funcs[fi].id, node(p, idx)->a);
    return idx;
}

static int parse_name(struct fparser *p)
{
    size_t pos = p->cur.pos, len = p->cur.len;
    formula_next(p);
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
    formula_fail(p, pos, "unknown name %.*s (not the name of a trigger)", (int)len, p->src + pos);
    return -1;
}

static int parse_literal(struct fparser *p)
{
    static const enum fnode_kind kinds[] = {[T_INT] = FN_INT,
                                            [T_FLOAT] = FN_FLOAT,
                                            [T_TRUE] = FN_BOOL,
                                            [T_FALSE] = FN_BOOL,
                                            [T_NIL] = FN_NIL};
    static const uint8_t types[] = {[T_INT] = TY_INT,
                                    [T_FLOAT] = TY_FLOAT,
                                    [T_TRUE] = TY_BOOL,
                                    [T_FALSE] = TY_BOOL,
                                    [T_NIL] = TY_NIL};
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
    formula_next(p);
    return idx;
}

static int parse_primary(struct fparser *p)
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
        formula_next(p);
        idx = parse_expr(p, 0);
        if (expect(p, T_RPAREN, "')'") < 0)
            return -1;
        break;
    case T_HASH:
        if (p->preds == 0) {
            formula_fail(p, pos, "# is only allowed inside a predicate");
            return -1;
        }
        idx = node_new(p, FN_ELEM, pos);
        if (idx >= 0)
            node(p, idx)->type = p->elem_type[p->preds - 1];
        formula_next(p);
        break;
    case T_LBRACK:
        formula_fail(p, pos, "arrays are only supported as function arguments");
        return -1;
    case T_END: formula_fail(p, pos, "the formula ends where a value was expected"); return -1;
    default: formula_fail(p, pos, "unexpected \"%.*s\"", (int)p->cur.len, p->src + pos); return -1;
    }
    if (!p->failed && (p->cur.kind == T_LBRACK || p->cur.kind == T_LPAREN))
        formula_fail(p, p->cur.pos, "indexing and calling a value are not supported");
    return p->failed ? -1 : idx;
}

int formula_compile(struct formula *f, const char *src, const char *const *names, size_t n_names,
                    char *err, size_t errlen)
{
    struct fparser p = {
        .src = src, .f = f, .names = names, .n_names = n_names, .err = err, .errlen = errlen};
    memset(f, 0, sizeof(*f));
    f->root = -1;
    if (err && errlen)
        err[0] = '\0';
    p.len = src ? strlen(src) : 0;
    if (p.len > FORMULA_SRC_MAX) {
        formula_fail(&p, 0, "the formula is longer than %d bytes", FORMULA_SRC_MAX);
        return -EINVAL;
    }
    if (n_names > FORMULA_VARS_MAX) {
        formula_fail(&p, 0, "more than %d named triggers", FORMULA_VARS_MAX);
        return -EINVAL;
    }
    formula_next(&p);
    int root = parse_expr(&p, 0);
    if (!p.failed && p.cur.kind != T_END)
        formula_fail(&p, p.cur.pos, "unexpected \"%.*s\" after the end of the expression",
                     (int)p.cur.len, src + p.cur.pos);
    /* KEDA runs float(<formula>) compiled with expr.AsFloat64(). */
    if (!p.failed && root >= 0) {
        int t = f->nodes[root].type;
        if (t != TY_INT && t != TY_FLOAT && t != TY_UNKNOWN)
            formula_fail(&p, 0, "the formula must give a number, not %s", type_name(t));
    }
    if (p.failed || root < 0) {
        f->n = 0;
        return -EINVAL;
    }
    f->root = (int16_t)root;
    f->n_vars = n_names;
    return 0;
}
