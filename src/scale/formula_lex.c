/* formula_lex: the tokens of KEDA's formula language (expr-lang's lexer,
 * for the subset formula.h lists). Anything outside it is an error that
 * says what is unsupported. */
#include "scale/formula_ast.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void formula_fail(struct fparser *p, size_t pos, const char *fmt, ...)
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
static int skip_space(struct fparser *p)
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
                formula_fail(p, p->at, "the comment is not closed");
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
static size_t scan_digits(struct fparser *p, char *text, size_t *n, size_t cap)
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
static void lex_number(struct fparser *p)
{
    char text[80];
    size_t n = 0, start = p->at;
    int is_float = 0;
    if (p->src[p->at] == '0' && p->at + 1 < p->len && strchr("xXoObB", p->src[p->at + 1])) {
        formula_fail(p, start, "hexadecimal, octal and binary numbers are not supported");
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
        formula_fail(p, start, "the number is too long");
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
        formula_fail(p, start, "the number %s is out of range", text);
}

static const struct {
    const char *text;
    enum fop op;
} op_words[] = {
    {"??", OP_COALESCE}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
    {"&&", OP_AND},      {"||", OP_OR},  {"<", OP_LT},  {">", OP_GT},  {"!", OP_NOT}, {"+", OP_ADD},
    {"-", OP_SUB},       {"*", OP_MUL},  {"/", OP_DIV}, {"%", OP_MOD}, {"^", OP_POW},
};

static void lex_word(struct fparser *p)
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

static int lex_punct(struct fparser *p, char c, char d)
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

void formula_next(struct fparser *p)
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
        formula_fail(p, p->at, "%s", why);
    else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        formula_fail(p, p->at, "unexpected byte 0x%02x", (unsigned char)c);
    else
        formula_fail(p, p->at, "unexpected character '%c'", c);
    p->cur.kind = T_END;
}

const char *formula_op_name(int op)
{
    for (size_t i = 0; i < sizeof(op_words) / sizeof(op_words[0]); i++) {
        if ((int)op_words[i].op == op)
            return op_words[i].text;
    }
    return "?";
}
