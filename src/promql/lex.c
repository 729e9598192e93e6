/* lex: PromQL's lexer. See lex.h. */
#include "promql/lex.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == ':';
}

int pq_parse_duration(const char *s, size_t len, int64_t *ms)
{
    /* Units in the order Prometheus requires them, each at most once. */
    static const struct {
        const char *u;
        int64_t ms;
    } units[] = {{"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000LL},
                 {"h", 3600000LL},        {"m", 60000LL},        {"s", 1000LL},
                 {"ms", 1LL}};
    size_t i = 0, next_unit = 0;
    int64_t total = 0;
    if (!len)
        return -EINVAL;
    while (i < len) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        int64_t n = 0;
        while (i < len && isdigit((unsigned char)s[i])) {
            if (n > INT64_MAX / 10 - 10)
                return -EINVAL;
            n = n * 10 + (s[i++] - '0');
        }
        size_t ul = 0;
        while (i + ul < len && isalpha((unsigned char)s[i + ul]))
            ul++;
        size_t u = next_unit;
        while (u < sizeof(units) / sizeof(units[0]) &&
               (strlen(units[u].u) != ul || memcmp(units[u].u, s + i, ul) != 0))
            u++;
        if (u == sizeof(units) / sizeof(units[0]))
            return -EINVAL;
        if (n > (INT64_MAX - total) / units[u].ms)
            return -EINVAL;
        total += n * units[u].ms;
        next_unit = u + 1;
        i += ul;
    }
    *ms = total;
    return 0;
}

/* A number: decimal with fraction and exponent, or hexadecimal. */
static size_t scan_number(const char *s, size_t len, double *out)
{
    size_t i = 0;
    char tmp[128];
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        i = 2;
        while (i < len && isxdigit((unsigned char)s[i]))
            i++;
        if (i == 2 || i >= sizeof(tmp))
            return 0;
        memcpy(tmp, s, i);
        tmp[i] = 0;
        *out = (double)strtoull(tmp, NULL, 16);
        return i;
    }
    while (i < len && isdigit((unsigned char)s[i]))
        i++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && isdigit((unsigned char)s[i]))
            i++;
    }
    if (i == 0 || (i == 1 && s[0] == '.'))
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < len && isdigit((unsigned char)s[j])) {
            while (j < len && isdigit((unsigned char)s[j]))
                j++;
            i = j;
        }
    }
    if (i >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, i);
    tmp[i] = 0;
    *out = strtod(tmp, NULL);
    return i;
}

static void lex_number(struct pq_lexer *lx, struct pq_token *t)
{
    const char *s = lx->q + lx->off;
    size_t rest = lx->len - lx->off, n = 0;
    /* A duration is digits and units with nothing in between ("1h30m"). */
    while (n < rest && isalnum((unsigned char)s[n]))
        n++;
    if (n && isdigit((unsigned char)s[0]) && pq_parse_duration(s, n, &t->dur) == 0 &&
        isalpha((unsigned char)s[n - 1])) {
        t->k = T_DUR;
        t->len = n;
        lx->off += n;
        return;
    }
    n = scan_number(s, rest, &t->num);
    if (!n || (n < rest && (is_ident_char(s[n]) || s[n] == '.'))) {
        t->k = T_ERR;
        t->msg = "bad number or duration syntax";
        return;
    }
    t->k = T_NUM;
    t->len = n;
    lx->off += n;
}

static void lex_string(struct pq_lexer *lx, struct pq_token *t)
{
    char quote = lx->q[lx->off];
    size_t i = lx->off + 1;
    while (i < lx->len && lx->q[i] != quote) {
        if (quote != '`' && lx->q[i] == '\\')
            i++;
        else if (quote != '`' && lx->q[i] == '\n')
            break;
        i++;
    }
    if (i >= lx->len || lx->q[i] != quote) {
        t->k = T_ERR;
        t->msg = "unterminated quoted string";
        return;
    }
    t->k = T_STR;
    t->len = i + 1 - lx->off;
    lx->off = i + 1;
}

void pq_lex_next(struct pq_lexer *lx, struct pq_token *t)
{
    static const struct {
        const char *s;
        enum pq_tok k;
    } ops[] = {{"==", T_EQLC}, {"!=", T_NEQ}, {"=~", T_RE}, {"!~", T_NRE}, {">=", T_GE},
               {"<=", T_LE},   {"=", T_ASSIGN}, {">", T_GT}, {"<", T_LT},   {"+", T_ADD},
               {"-", T_SUB},   {"*", T_MUL},  {"/", T_DIV},  {"%", T_MOD},  {"^", T_POW},
               {"{", T_LBRACE}, {"}", T_RBRACE}, {"(", T_LPAREN}, {")", T_RPAREN},
               {"[", T_LBRACK}, {"]", T_RBRACK}, {",", T_COMMA}, {":", T_COLON}, {"@", T_AT}};
    memset(t, 0, sizeof(*t));
    for (;;) {
        while (lx->off < lx->len && isspace((unsigned char)lx->q[lx->off]))
            lx->off++;
        if (lx->off < lx->len && lx->q[lx->off] == '#') {
            while (lx->off < lx->len && lx->q[lx->off] != '\n')
                lx->off++;
            continue;
        }
        break;
    }
    t->pos = (unsigned)lx->off;
    t->s = lx->q + lx->off;
    if (lx->off >= lx->len) {
        t->k = T_EOF;
        return;
    }
    char c = lx->q[lx->off];
    if (isdigit((unsigned char)c) ||
        (c == '.' && lx->off + 1 < lx->len && isdigit((unsigned char)lx->q[lx->off + 1]))) {
        lex_number(lx, t);
        return;
    }
    if (c == '"' || c == '\'' || c == '`') {
        lex_string(lx, t);
        return;
    }
    if (is_ident_start(c)) {
        size_t n = 0;
        while (lx->off + n < lx->len && is_ident_char(lx->q[lx->off + n]))
            n++;
        t->k = T_IDENT;
        t->len = n;
        lx->off += n;
        return;
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].s);
        if (lx->len - lx->off >= n && memcmp(lx->q + lx->off, ops[i].s, n) == 0) {
            /* ":" belongs to identifiers; alone it only appears in subqueries. */
            t->k = ops[i].k;
            t->len = n;
            lx->off += n;
            return;
        }
    }
    t->k = T_ERR;
    t->msg = "unexpected character";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape after a backslash at s[*i]; Go's rules for quoted strings. */
static int unescape(const char *s, size_t end, size_t *i, char quote, char *out, size_t *o)
{
    char c = s[*i];
    static const char from[] = "abfnrtv\\", to[] = "\a\b\f\n\r\t\v\\";
    const char *p = c ? strchr(from, c) : NULL;
    if (p) {
        out[(*o)++] = to[p - from];
        (*i)++;
        return 0;
    }
    if (c == quote) {
        out[(*o)++] = c;
        (*i)++;
        return 0;
    }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : (c >= '0' && c <= '7') ? 3 : 0;
    if (!digits)
        return -EINVAL;
    int base = (c >= '0' && c <= '7') ? 8 : 16;
    size_t j = base == 8 ? *i : *i + 1;
    uint32_t cp = 0;
    for (int k = 0; k < digits; k++, j++) {
        int d = j < end ? hexval(s[j]) : -1;
        if (d < 0 || d >= base)
            return -EINVAL;
        cp = cp * (uint32_t)base + (uint32_t)d;
    }
    if (cp > 0x10FFFF || (base == 8 && cp > 255))
        return -EINVAL;
    if (c == 'x' || base == 8)
        out[(*o)++] = (char)cp;
    else
        *o += put_utf8(out + *o, cp);
    *i = j;
    return 0;
}

int pq_unquote(const char *s, size_t len, char *out, size_t *outlen)
{
    char quote = s[0];
    size_t o = 0, end = len - 1;
    for (size_t i = 1; i < end;) {
        if (quote != '`' && s[i] == '\\') {
            i++;
            if (unescape(s, end, &i, quote, out, &o) != 0)
                return -EINVAL;
            continue;
        }
        out[o++] = s[i++];
    }
    out[o] = 0;
    *outlen = o;
    return 0;
}

const char *pq_tok_name(enum pq_tok k)
{
    static const char *names[] = {"end of input", "error", "identifier", "number", "duration",
                                  "string", "\"{\"", "\"}\"", "\"(\"", "\")\"", "\"[\"", "\"]\"",
                                  "\",\"", "\":\"", "\"@\"", "\"=\"", "\"==\"", "\"!=\"", "\"=~\"",
                                  "\"!~\"", "\">\"", "\"<\"", "\">=\"", "\"<=\"", "\"+\"", "\"-\"",
                                  "\"*\"", "\"/\"", "\"%\"", "\"^\""};
    return names[k];
}
