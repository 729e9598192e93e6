/* parse: PromQL text to a type-checked syntax tree, by recursive descent
 * with Prometheus's operator precedence (generated_parser.y: or < and,
 * unless < comparisons < + - < * / % atan2 < ^, unary minus binding like *).
 * Whatever PromQL has and ebb does not is refused here with a message that
 * names it, so an unsupported query never evaluates to a wrong answer. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promql/lex.h"
#include "promql/pq.h"

struct parser {
    struct pq_lexer lx;
    struct pq_token tok;
    struct pq_expr *e;
    const struct promql_limits *lim;
    size_t depth;
    int parens; /* "(" opened and not closed yet, for Prometheus's message */
    char *err;
    size_t errlen;
    int failed;
};

__attribute__((format(printf, 3, 4))) static int perr(struct parser *p, unsigned pos,
                                                      const char *fmt, ...)
{
    if (p->failed)
        return -EINVAL;
    p->failed = 1;
    /* "line:column: parse error: ...", columns from 1, as Prometheus has it. */
    unsigned line = 1, col = 1;
    for (unsigned i = 0; i < pos && i < p->lx.len; i++) {
        if (p->lx.q[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int n = snprintf(p->err, p->errlen, "%u:%u: parse error: ", line, col);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static void next(struct parser *p)
{
    pq_lex_next(&p->lx, &p->tok);
}

static bool tok_is(const struct parser *p, const char *word)
{
    return p->tok.k == T_IDENT && p->tok.len == strlen(word) && !memcmp(p->tok.s, word, p->tok.len);
}

static int agg_find(const struct pq_token *t);

static int unexpected(struct parser *p, const char *where)
{
    if (p->tok.k == T_ERR)
        return perr(p, p->tok.pos, "%s", p->tok.msg);
    if (p->tok.k == T_EOF && p->parens > 0)
        return perr(p, p->tok.pos, "unclosed left parenthesis");
    /* Tokens named as Prometheus's lexer items print: <by>, <op:and>,
     * <aggr:sum>, <op:+>, identifier "x". */
    static const char *const keywords[] = {"by", "without", "on", "ignoring", "group_left",
                                           "group_right", "bool", "offset"};
    static const char *const word_ops[] = {"and", "or", "unless", "atan2"};
    int len = (int)(p->tok.len > 40 ? 40 : p->tok.len);
    const char *w = where ? " " : "", *ws = where ? where : "";
    for (size_t i = 0; p->tok.k == T_IDENT && i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (tok_is(p, keywords[i]))
            return perr(p, p->tok.pos, "unexpected <%s>%s%s", keywords[i], w, ws);
    for (size_t i = 0; p->tok.k == T_IDENT && i < sizeof(word_ops) / sizeof(word_ops[0]); i++)
        if (tok_is(p, word_ops[i]))
            return perr(p, p->tok.pos, "unexpected <op:%s>%s%s", word_ops[i], w, ws);
    if (p->tok.k == T_IDENT && agg_find(&p->tok) >= 0)
        return perr(p, p->tok.pos, "unexpected <aggr:%.*s>%s%s", len, p->tok.s, w, ws);
    if (p->tok.k >= T_ASSIGN && p->tok.k <= T_POW)
        return perr(p, p->tok.pos, "unexpected <op:%.*s>%s%s", len, p->tok.s, w, ws);
    bool text = p->tok.k == T_IDENT || p->tok.k == T_NUM || p->tok.k == T_DUR || p->tok.k == T_STR;
    return perr(p, p->tok.pos, "unexpected %s%s%.*s%s%s%s", pq_tok_name(p->tok.k),
                text ? " \"" : "", text ? len : 0, p->tok.s, text ? "\"" : "", w, ws);
}

static int expect(struct parser *p, enum pq_tok k, const char *where)
{
    if (p->tok.k != k)
        return unexpected(p, where);
    next(p);
    return 0;
}

static struct pq_node *node(struct parser *p, enum pq_kind kind, unsigned pos)
{
    if (++p->e->nodes > p->lim->max_nodes) {
        perr(p, pos, "query has more than %zu nodes", p->lim->max_nodes);
        return NULL;
    }
    struct pq_node *n = arena_alloc(&p->e->arena, sizeof(*n));
    if (!n) {
        perr(p, pos, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->pos = pos;
    return n;
}

static char *copy_tok(struct parser *p)
{
    char *s = arena_strndup(&p->e->arena, p->tok.s, p->tok.len);
    if (!s)
        perr(p, p->tok.pos, "out of memory");
    return s;
}

static char *string_tok(struct parser *p)
{
    char *s = arena_alloc(&p->e->arena, p->tok.len + 1);
    size_t n;
    if (!s) {
        perr(p, p->tok.pos, "out of memory");
        return NULL;
    }
    if (pq_unquote(p->tok.s, p->tok.len, s, &n) != 0) {
        perr(p, p->tok.pos, "invalid escape sequence in string %.*s", (int)p->tok.len, p->tok.s);
        return NULL;
    }
    if (memchr(s, 0, n)) {
        perr(p, p->tok.pos, "strings with NUL bytes are not supported");
        return NULL;
    }
    return s;
}

static bool label_name_ok(const struct pq_token *t)
{
    if (t->k != T_IDENT)
        return false;
    for (size_t i = 0; i < t->len; i++)
        if (t->s[i] == ':')
            return false;
    return true;
}

static struct pq_node *parse_expr(struct parser *p, int minprec);

/* Compiles a matcher's regex (see regex.c) and keeps it for release. */
static int compile_regex(struct parser *p, unsigned pos, struct pq_matcher *m)
{
    size_t cap = strlen(m->value) * 12 + 16;
    char *re = arena_alloc(&p->e->arena, cap);
    const char *why;
    if (!re)
        return perr(p, pos, "out of memory");
    if (pq_regex_translate(m->value, re, cap, &why) != 0)
        return perr(p, pos, "error parsing regexp: %s: `%s`", why, m->value);
    struct pq_re *r = arena_alloc(&p->e->arena, sizeof(*r));
    if (!r)
        return perr(p, pos, "out of memory");
    if (regcomp(&r->re, re, REG_EXTENDED | REG_NOSUB) != 0)
        return perr(p, pos, "error parsing regexp: invalid or unsupported: `%s`", m->value);
    r->next = p->e->res;
    p->e->res = r;
    m->re = &r->re;
    return 0;
}

/* {name op "value", ...} after the opening brace. */
static int parse_matchers(struct parser *p, struct pq_node *n, const char *metric)
{
    size_t cap = metric ? 1 : 0, count = 0;
    struct pq_matcher *m = NULL;
    if (metric) {
        cap = 4;
        m = arena_alloc(&p->e->arena, cap * sizeof(*m));
        if (!m)
            return perr(p, n->pos, "out of memory");
        m[count++] = (struct pq_matcher){"__name__", metric, PQ_M_EQ, NULL};
    }
    while (p->tok.k != T_RBRACE) {
        if (!label_name_ok(&p->tok))
            return unexpected(p, "in label matching, expected label");
        unsigned pos = p->tok.pos;
        const char *name = copy_tok(p);
        if (!name)
            return -EINVAL;
        next(p);
        enum pq_mtype type;
        switch (p->tok.k) {
        case T_ASSIGN: type = PQ_M_EQ; break;
        case T_NEQ: type = PQ_M_NE; break;
        case T_RE: type = PQ_M_RE; break;
        case T_NRE: type = PQ_M_NRE; break;
        default: return unexpected(p, "in label matching, expected label matching operator");
        }
        next(p);
        if (p->tok.k != T_STR)
            return unexpected(p, "in label matching, expected string");
        const char *value = string_tok(p);
        if (!value)
            return -EINVAL;
        next(p);
        if (metric && !strcmp(name, "__name__"))
            return perr(p, pos, "metric name must not be set twice: \"%s\" or \"%s\"", metric, value);
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct pq_matcher *nm = arena_alloc(&p->e->arena, ncap * sizeof(*nm));
            if (!nm)
                return perr(p, pos, "out of memory");
            if (count)
                memcpy(nm, m, count * sizeof(*m));
            m = nm;
            cap = ncap;
        }
        m[count] = (struct pq_matcher){name, value, type, NULL};
        if ((type == PQ_M_RE || type == PQ_M_NRE) && compile_regex(p, pos, &m[count]) != 0)
            return -EINVAL;
        count++;
        if (p->tok.k == T_COMMA)
            next(p);
        else if (p->tok.k != T_RBRACE)
            return unexpected(p, "in label matching, expected \",\" or \"}\"");
    }
    next(p);
    n->m = m;
    n->nm = count;
    bool nonempty = false;
    for (size_t i = 0; i < count; i++)
        nonempty |= !pq_matcher_matches(&m[i], "");
    if (!nonempty)
        return perr(p, n->pos, "vector selector must contain at least one non-empty matcher");
    return 0;
}

static struct pq_node *parse_selector(struct parser *p)
{
    struct pq_node *n = node(p, PQ_SEL, p->tok.pos);
    if (!n)
        return NULL;
    n->type = PROMQL_VECTOR;
    if (p->tok.k == T_IDENT) {
        if (!(n->str = copy_tok(p)))
            return NULL;
        next(p);
    }
    if (p->tok.k == T_LBRACE) {
        next(p);
        if (parse_matchers(p, n, n->str) != 0)
            return NULL;
    } else {
        n->m = arena_alloc(&p->e->arena, sizeof(*n->m));
        if (!n->m) {
            perr(p, n->pos, "out of memory");
            return NULL;
        }
        n->m[0] = (struct pq_matcher){"__name__", n->str, PQ_M_EQ, NULL};
        n->nm = 1;
    }
    return n;
}

/* "(a, b, ...)" of label names; keywords are fine as names. */
static int parse_label_list(struct parser *p, const char ***out, size_t *nout)
{
    if (p->tok.k != T_LPAREN)
        return unexpected(p, "in grouping opts, expected \"(\"");
    next(p);
    const char **names = NULL;
    size_t n = 0, cap = 0;
    while (p->tok.k != T_RPAREN) {
        if (!label_name_ok(&p->tok))
            return unexpected(p, "in grouping opts, expected label");
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            const char **nn = arena_alloc(&p->e->arena, ncap * sizeof(*nn));
            if (!nn)
                return perr(p, p->tok.pos, "out of memory");
            if (n)
                memcpy(nn, names, n * sizeof(*names));
            names = nn;
            cap = ncap;
        }
        if (!(names[n++] = copy_tok(p)))
            return -EINVAL;
        next(p);
        if (p->tok.k == T_COMMA)
            next(p);
        else if (p->tok.k != T_RPAREN)
            return unexpected(p, "in grouping opts, expected \",\" or \")\"");
    }
    next(p);
    *out = names;
    *nout = n;
    return 0;
}

static const char *const agg_names[] = {"sum",  "avg",     "count",    "min",   "max",
                                        "stddev", "stdvar", "topk",  "bottomk", "quantile",
                                        "group", "count_values"};

static int agg_find(const struct pq_token *t)
{
    for (size_t i = 0; i < sizeof(agg_names) / sizeof(agg_names[0]); i++)
        if (t->len == strlen(agg_names[i]) && !memcmp(t->s, agg_names[i], t->len))
            return (int)i;
    return -1;
}

static int parse_grouping(struct parser *p, struct pq_node *n)
{
    n->without = tok_is(p, "without");
    next(p);
    return parse_label_list(p, &n->labels, &n->nlabels);
}

/* Parses "(args)" into n->args. */
static int parse_args(struct parser *p, struct pq_node *n)
{
    if (expect(p, T_LPAREN, "in call, expected \"(\"") != 0)
        return -EINVAL;
    p->parens++;
    size_t cap = 0;
    while (p->tok.k != T_RPAREN) {
        struct pq_node *a = parse_expr(p, 0);
        if (!a)
            return -EINVAL;
        if (n->nargs == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct pq_node **na = arena_alloc(&p->e->arena, ncap * sizeof(*na));
            if (!na)
                return perr(p, a->pos, "out of memory");
            if (n->nargs)
                memcpy(na, n->args, n->nargs * sizeof(*na));
            n->args = na;
            cap = ncap;
        }
        n->args[n->nargs++] = a;
        if (p->tok.k == T_COMMA)
            next(p);
        else if (p->tok.k != T_RPAREN)
            return unexpected(p, "in call, expected \",\" or \")\"");
    }
    next(p);
    p->parens--;
    return 0;
}

static struct pq_node *parse_agg(struct parser *p, int op)
{
    struct pq_node *n = node(p, PQ_AGG, p->tok.pos);
    if (!n)
        return NULL;
    n->op = op;
    n->type = PROMQL_VECTOR;
    const char *name = agg_names[op];
    next(p);
    if ((tok_is(p, "by") || tok_is(p, "without")) && parse_grouping(p, n) != 0)
        return NULL;
    unsigned pos = p->tok.pos;
    if (parse_args(p, n) != 0)
        return NULL;
    bool param = op == PQ_TOPK || op == PQ_BOTTOMK || op == PQ_QUANTILE || op == PQ_COUNT_VALUES;
    if (n->nargs != (param ? 2u : 1u)) {
        perr(p, pos, "wrong number of arguments for aggregate expression provided, expected %d, got %zu",
             param ? 2 : 1, n->nargs);
        return NULL;
    }
    n->a = n->args[n->nargs - 1];
    n->b = param ? n->args[0] : NULL;
    if (!n->labels && (tok_is(p, "by") || tok_is(p, "without")) && parse_grouping(p, n) != 0)
        return NULL;
    if (n->a->type != PROMQL_VECTOR) {
        perr(p, n->a->pos, "expected type instant vector in aggregation expression, got %s",
             pq_type_name(n->a->type));
        return NULL;
    }
    enum promql_type want = op == PQ_COUNT_VALUES ? PROMQL_STRING : PROMQL_SCALAR;
    if (n->b && n->b->type != want) {
        perr(p, n->b->pos, "expected type %s in aggregation parameter, got %s", pq_type_name(want),
             pq_type_name(n->b->type));
        return NULL;
    }
    (void)name;
    return n;
}

static struct pq_node *parse_call(struct parser *p)
{
    unsigned pos = p->tok.pos;
    const struct pq_func *f = pq_func_find(p->tok.s, p->tok.len);
    if (!f) {
        if (pq_func_known(p->tok.s, p->tok.len))
            perr(p, pos, "function \"%.*s\" is not supported by ebb's PromQL", (int)p->tok.len,
                 p->tok.s);
        else
            perr(p, pos, "unknown function with name \"%.*s\"", (int)p->tok.len, p->tok.s);
        return NULL;
    }
    struct pq_node *n = node(p, PQ_CALL, pos);
    if (!n)
        return NULL;
    n->fn = f;
    n->type = f->ret;
    next(p);
    if (parse_args(p, n) != 0)
        return NULL;
    if ((int)n->nargs < f->min_args || (int)n->nargs > f->max_args) {
        if (f->min_args == f->max_args)
            perr(p, pos, "expected %d argument(s) in call to \"%s\", got %zu", f->min_args, f->name,
                 n->nargs);
        else
            perr(p, pos, "expected at most %d argument(s) in call to \"%s\", got %zu", f->max_args,
                 f->name, n->nargs);
        return NULL;
    }
    for (size_t i = 0; i < n->nargs; i++) {
        enum promql_type want = f->args[i < 3 ? i : 2];
        if (n->args[i]->type != want) {
            perr(p, n->args[i]->pos, "expected type %s in call to function \"%s\", got %s",
                 pq_type_name(want), f->name, pq_type_name(n->args[i]->type));
            return NULL;
        }
    }
    return n;
}

static struct pq_node *parse_primary(struct parser *p)
{
    struct pq_token t = p->tok;
    switch (t.k) {
    case T_NUM: {
        struct pq_node *n = node(p, PQ_NUM, t.pos);
        if (n) {
            n->num = t.num;
            n->type = PROMQL_SCALAR;
        }
        next(p);
        return n;
    }
    case T_STR: {
        struct pq_node *n = node(p, PQ_STR, t.pos);
        if (!n || !(n->str = string_tok(p)))
            return NULL;
        n->type = PROMQL_STRING;
        next(p);
        return n;
    }
    case T_LPAREN: {
        struct pq_node *n = node(p, PQ_PAREN, t.pos);
        if (!n)
            return NULL;
        next(p);
        p->parens++;
        if (!(n->a = parse_expr(p, 0)) || expect(p, T_RPAREN, "in paren expression") != 0)
            return NULL;
        p->parens--;
        n->type = n->a->type;
        return n;
    }
    case T_LBRACE:
        return parse_selector(p);
    case T_IDENT:
        break;
    default:
        unexpected(p, NULL);
        return NULL;
    }
    if ((t.len == 3 && !strncasecmp(t.s, "inf", 3)) || (t.len == 3 && !strncasecmp(t.s, "nan", 3))) {
        struct pq_node *n = node(p, PQ_NUM, t.pos);
        if (n) {
            n->num = tolower((unsigned char)t.s[0]) == 'i' ? (double)INFINITY : (double)NAN;
            n->type = PROMQL_SCALAR;
        }
        next(p);
        return n;
    }
    /* Look one token further: "name(" is a call, "sum by" an aggregation. */
    struct pq_lexer save = p->lx;
    struct pq_token after;
    pq_lex_next(&p->lx, &after);
    p->lx = save;
    int agg = agg_find(&t);
    bool grouping = after.k == T_IDENT && ((after.len == 2 && !memcmp(after.s, "by", 2)) ||
                                           (after.len == 7 && !memcmp(after.s, "without", 7)));
    if (agg >= 0 && (after.k == T_LPAREN || grouping))
        return parse_agg(p, agg);
    if (after.k == T_LPAREN)
        return parse_call(p);
    /* Keywords that cannot name a metric (generated_parser.y's
     * metric_identifier lists the ones that can). */
    static const char *const reserved[] = {"on", "ignoring", "group_left", "group_right", "bool",
                                           "atan2"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (tok_is(p, reserved[i])) {
            unexpected(p, NULL);
            return NULL;
        }
    return parse_selector(p);
}

static int parse_offset(struct parser *p, struct pq_node *n)
{
    unsigned pos = p->tok.pos;
    next(p);
    bool neg = false;
    if (p->tok.k == T_SUB) {
        neg = true;
        next(p);
    }
    if (p->tok.k != T_DUR)
        return unexpected(p, "in offset, expected duration");
    struct pq_node *sel = n->kind == PQ_MSEL ? n->a : n;
    if (n->kind != PQ_SEL && n->kind != PQ_MSEL)
        return perr(p, pos, "offset modifier must be preceded by an instant vector selector or "
                            "range vector selector or a subquery");
    if (sel->has_offset)
        return perr(p, pos, "offset may not be set multiple times");
    sel->has_offset = true;
    sel->offset = neg ? -p->tok.dur : p->tok.dur;
    next(p);
    return 0;
}

static struct pq_node *parse_postfix(struct parser *p, struct pq_node *n)
{
    for (;;) {
        if (p->tok.k == T_LBRACK) {
            unsigned pos = p->tok.pos;
            next(p);
            if (p->tok.k != T_DUR) {
                unexpected(p, "in range, expected duration");
                return NULL;
            }
            int64_t range = p->tok.dur;
            next(p);
            if (p->tok.k == T_COLON) {
                perr(p, pos, "subqueries are not supported by ebb's PromQL");
                return NULL;
            }
            if (expect(p, T_RBRACK, "in range, expected \"]\"") != 0)
                return NULL;
            if (n->kind != PQ_SEL) {
                perr(p, pos, "ranges only allowed for vector selectors");
                return NULL;
            }
            if (n->has_offset) {
                perr(p, pos, "no offset modifiers allowed before range");
                return NULL;
            }
            if (range <= 0) {
                perr(p, pos, "range duration must be greater than 0");
                return NULL;
            }
            struct pq_node *m = node(p, PQ_MSEL, n->pos);
            if (!m)
                return NULL;
            m->a = n;
            m->range = range;
            m->type = PROMQL_MATRIX;
            n = m;
        } else if (tok_is(p, "offset")) {
            if (parse_offset(p, n) != 0)
                return NULL;
        } else if (p->tok.k == T_AT) {
            perr(p, p->tok.pos, "the @ modifier is not supported by ebb's PromQL");
            return NULL;
        } else {
            return n;
        }
    }
}

static struct pq_node *parse_unary(struct parser *p)
{
    if (p->tok.k == T_SUB || p->tok.k == T_ADD) {
        bool neg = p->tok.k == T_SUB;
        unsigned pos = p->tok.pos;
        next(p);
        /* Unary minus binds like "*": only "^" reaches into its operand. */
        struct pq_node *a = parse_expr(p, 6);
        if (!a)
            return NULL;
        if (a->type != PROMQL_SCALAR && a->type != PROMQL_VECTOR) {
            perr(p, pos, "unary expression only allowed on expressions of type scalar or instant vector, got %s",
                 pq_type_name(a->type));
            return NULL;
        }
        if (!neg)
            return a;
        if (a->kind == PQ_NUM) {
            a->num = -a->num;
            return a;
        }
        struct pq_node *n = node(p, PQ_NEG, pos);
        if (n) {
            n->a = a;
            n->type = a->type;
        }
        return n;
    }
    struct pq_node *n = parse_primary(p);
    return n ? parse_postfix(p, n) : NULL;
}

static int binop(const struct parser *p, int *prec)
{
    static const struct {
        enum pq_tok k;
        int op, prec;
    } sym[] = {{T_ADD, PQ_ADD, 4}, {T_SUB, PQ_SUB, 4}, {T_MUL, PQ_MUL, 5}, {T_DIV, PQ_DIV, 5},
               {T_MOD, PQ_MOD, 5}, {T_POW, PQ_POW, 6}, {T_EQLC, PQ_EQ, 3}, {T_NEQ, PQ_NE, 3},
               {T_GT, PQ_GT, 3},   {T_LT, PQ_LT, 3},   {T_GE, PQ_GE, 3},   {T_LE, PQ_LE, 3}};
    for (size_t i = 0; i < sizeof(sym) / sizeof(sym[0]); i++)
        if (p->tok.k == sym[i].k) {
            *prec = sym[i].prec;
            return sym[i].op;
        }
    if (tok_is(p, "and") || tok_is(p, "unless")) {
        *prec = 2;
        return tok_is(p, "and") ? PQ_AND : PQ_UNLESS;
    }
    if (tok_is(p, "or")) {
        *prec = 1;
        return PQ_OR;
    }
    if (tok_is(p, "atan2")) {
        *prec = 5;
        return PQ_ATAN2;
    }
    return -1;
}

static bool is_comparison(int op)
{
    return op >= PQ_EQ && op <= PQ_LE;
}

static bool is_set(int op)
{
    return op >= PQ_AND;
}

/* bool, on/ignoring(...), group_left/group_right(...) after an operator. */
static int parse_modifiers(struct parser *p, struct pq_node *n, bool *matching)
{
    if (tok_is(p, "bool")) {
        n->ret_bool = true;
        next(p);
    }
    if (tok_is(p, "on") || tok_is(p, "ignoring")) {
        n->on = tok_is(p, "on");
        *matching = true;
        next(p);
        if (parse_label_list(p, &n->labels, &n->nlabels) != 0)
            return -EINVAL;
        if (tok_is(p, "group_left") || tok_is(p, "group_right")) {
            n->card = tok_is(p, "group_left") ? PQ_MANY_ONE : PQ_ONE_MANY;
            next(p);
            if (p->tok.k == T_LPAREN &&
                parse_label_list(p, &n->include, &n->ninclude) != 0)
                return -EINVAL;
        }
    }
    return 0;
}

static int check_binary(struct parser *p, struct pq_node *n, bool matching)
{
    enum promql_type lt = n->a->type, rt = n->b->type;
    if ((lt != PROMQL_SCALAR && lt != PROMQL_VECTOR) || (rt != PROMQL_SCALAR && rt != PROMQL_VECTOR))
        return perr(p, n->pos, "binary expression must contain only scalar and instant vector types");
    if (n->ret_bool && !is_comparison(n->op))
        return perr(p, n->pos, "bool modifier can only be used on comparison operators");
    if (is_comparison(n->op) && !n->ret_bool && lt == PROMQL_SCALAR && rt == PROMQL_SCALAR)
        return perr(p, n->pos, "comparisons between scalars must use BOOL modifier");
    if (is_set(n->op) && (lt == PROMQL_SCALAR || rt == PROMQL_SCALAR))
        return perr(p, n->pos, "set operator not allowed in binary scalar expression");
    if (matching && (lt != PROMQL_VECTOR || rt != PROMQL_VECTOR))
        return perr(p, n->pos, "vector matching only allowed between instant vectors");
    if (is_set(n->op)) {
        if (n->card == PQ_MANY_ONE || n->card == PQ_ONE_MANY)
            return perr(p, n->pos, "no grouping allowed for set operations");
        n->card = PQ_MANY_MANY;
    }
    for (size_t i = 0; n->on && i < n->ninclude; i++)
        if (pq_names_has(n->labels, n->nlabels, n->include[i]))
            return perr(p, n->pos, "label \"%s\" must not occur in ON and GROUP clause at once",
                        n->include[i]);
    n->type = lt == PROMQL_VECTOR || rt == PROMQL_VECTOR ? PROMQL_VECTOR : PROMQL_SCALAR;
    return 0;
}

static struct pq_node *parse_expr(struct parser *p, int minprec)
{
    if (++p->depth > p->lim->max_depth) {
        perr(p, p->tok.pos, "query nests deeper than %zu levels", p->lim->max_depth);
        return NULL;
    }
    struct pq_node *lhs = parse_unary(p);
    int prec, op;
    while (lhs && (op = binop(p, &prec)) >= 0 && prec >= minprec) {
        struct pq_node *n = node(p, PQ_BIN, p->tok.pos);
        if (!n)
            return NULL;
        next(p);
        n->op = op;
        n->a = lhs;
        bool matching = false;
        if (parse_modifiers(p, n, &matching) != 0)
            return NULL;
        /* "^" is right-associative, the others left. */
        if (!(n->b = parse_expr(p, op == PQ_POW ? prec : prec + 1)))
            return NULL;
        if (check_binary(p, n, matching) != 0)
            return NULL;
        lhs = n;
    }
    p->depth--;
    return lhs;
}

int pq_parse(const char *q, const struct promql_limits *lim, struct pq_expr *e, char *err,
             size_t errlen)
{
    memset(e, 0, sizeof(*e));
    arena_init(&e->arena, lim->max_memory);
    struct parser p = {.lx = {q, strlen(q), 0}, .e = e, .lim = lim, .err = err, .errlen = errlen};
    if (p.lx.len > lim->max_query_bytes)
        return perr(&p, 0, "query is longer than %zu bytes", lim->max_query_bytes);
    next(&p);
    if (p.tok.k == T_EOF)
        return perr(&p, 0, "no expression found in input");
    e->root = parse_expr(&p, 0);
    if (e->root && p.tok.k != T_EOF)
        unexpected(&p, NULL);
    return p.failed ? -EINVAL : 0;
}

void pq_expr_release(struct pq_expr *e)
{
    for (struct pq_re *r = e->res; r; r = r->next)
        regfree(&r->re);
    e->res = NULL;
    arena_release(&e->arena);
    e->root = NULL;
}

const char *pq_type_name(enum promql_type t)
{
    switch (t) {
    case PROMQL_SCALAR: return "scalar";
    case PROMQL_VECTOR: return "instant vector";
    case PROMQL_MATRIX: return "range vector";
    case PROMQL_STRING: return "string";
    default: return "none";
    }
}

bool pq_matcher_matches(const struct pq_matcher *m, const char *v)
{
    switch (m->type) {
    case PQ_M_EQ: return !strcmp(m->value, v);
    case PQ_M_NE: return strcmp(m->value, v) != 0;
    case PQ_M_RE: return regexec(m->re, v, 0, NULL, 0) == 0;
    case PQ_M_NRE: return regexec(m->re, v, 0, NULL, 0) != 0;
    }
    return false;
}
