/* formula_eval: runs a compiled formula with expr's run-time semantics
 * (int and float64 arithmetic, nil, short-circuit logic). See formula.h. */
#include "scale/formula_ast.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        return rt_fail(c, n, "integer overflow in %s", formula_op_name(n->op));
    *out = fv_int(res);
    return 0;
}

static int eval_arith(struct evalctx *c, const struct fnode *n, const struct fval *l,
                      const struct fval *r, struct fval *out)
{
    if (!is_num(l) || !is_num(r))
        return rt_fail(c, n, "invalid operation: %s %s %s", vname(l), formula_op_name(n->op),
                       vname(r));
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
        return rt_fail(c, n, "invalid operation: %s %s %s", vname(l), formula_op_name(n->op),
                       vname(r));
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
        return rt_fail(c, n, "invalid operation: %s %s", vname(&l), formula_op_name(n->op));
    if ((n->op == OP_AND && !l.b) || (n->op == OP_OR && l.b)) {
        *out = l; /* short circuit, as expr does */
        return 0;
    }
    rc = eval(c, n->b, &r);
    if (rc < 0)
        return rc;
    if (r.t != V_BOOL)
        return rt_fail(c, n, "invalid operation: bool %s %s", formula_op_name(n->op), vname(&r));
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
