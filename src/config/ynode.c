/* ynode: reading the trees yaml.c builds — mapping lookups, what a scalar
 * means (YAML 1.1 as Kubernetes' go-yaml v2 resolves it), and how values are
 * named in messages. See yaml.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml.h"

/* ---------- reading a tree ---------- */

const struct ynode *ymap_key(const struct ynode *map, size_t i)
{
    return map->items[2 * i];
}

const struct ynode *ymap_value(const struct ynode *map, size_t i)
{
    return map->items[2 * i + 1];
}

/* The index of key's pair in map, or -1. */
static long ymap_find(const struct ynode *map, const char *key)
{
    if (!map || map->kind != YN_MAP)
        return -1;
    size_t len = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *k = ymap_key(map, i);
        if (k->len == len && memcmp(k->text, key, len) == 0)
            return (long)i;
    }
    return -1;
}

const struct ynode *ymap_get_key(const struct ynode *map, const char *key)
{
    long i = ymap_find(map, key);
    return i < 0 ? NULL : ymap_key(map, (size_t)i);
}

const struct ynode *ymap_get(const struct ynode *map, const char *key)
{
    long i = ymap_find(map, key);
    return i < 0 ? NULL : ymap_value(map, (size_t)i);
}

void yaml_quote(char *out, size_t cap, const char *s, size_t len, size_t max)
{
    size_t o = 0;
    if (cap < 8) {
        if (cap)
            out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        int n;
        if (c == '"' || c == '\\')
            n = snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c == '\n')
            n = snprintf(esc, sizeof(esc), "\\n");
        else if (c == '\t')
            n = snprintf(esc, sizeof(esc), "\\t");
        else if (c < 0x20 || c == 0x7f)
            n = snprintf(esc, sizeof(esc), "\\x%02x", c);
        else
            n = snprintf(esc, sizeof(esc), "%c", c);
        /* Room for this, then "...", the closing quote and the NUL. */
        if (i >= max || o + (size_t)n + 5 > cap) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, esc, (size_t)n);
        o += (size_t)n;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* ---------- what a scalar means (go-yaml v2's resolve, as Kubernetes reads YAML) ---------- */

static bool text_in(const char *s, size_t len, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(set[i]) == len && memcmp(set[i], s, len) == 0)
            return true;
    }
    return false;
}

static bool is_null_text(const char *s, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    return text_in(s, len, nulls, sizeof(nulls) / sizeof(nulls[0]));
}

/* YAML 1.1 booleans: 1 true, 0 false, -1 neither. */
static int bool_text(const char *s, size_t len)
{
    static const char *const yes[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                      "True", "TRUE", "on",  "On",  "ON"};
    static const char *const no[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                     "False", "FALSE", "off", "Off", "OFF"};
    if (text_in(s, len, yes, sizeof(yes) / sizeof(yes[0])))
        return 1;
    if (text_in(s, len, no, sizeof(no) / sizeof(no[0])))
        return 0;
    return -1;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Go's strconv.ParseInt(s, 0, 64) on s without underscores: a sign, then
 * 0x/0o/0b prefixes or a leading 0 for octal. */
static bool parse_go_int(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        base = 8, s += 2;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        base = 2, s += 2;
    else if (s[0] == '0' && s[1] != '\0')
        base = 8, s += 1;
    if (*s == '\0')
        return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        int d = digit_value(*s);
        if (d >= base || v > (limit - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* go-yaml's float pattern: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_yaml_float(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (*s == '.') {
        s++;
        int frac = 0;
        while (*s >= '0' && *s <= '9')
            s++, frac++;
        if (digits == 0 && frac == 0)
            return false;
    } else if (digits == 0) {
        return false;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static bool special_float(const char *s, size_t len, double *out)
{
    static const char *const nan[] = {".nan", ".NaN", ".NAN"};
    static const char *const inf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
    static const char *const ninf[] = {"-.inf", "-.Inf", "-.INF"};
    if (text_in(s, len, nan, 3))
        *out = __builtin_nan("");
    else if (text_in(s, len, inf, 6))
        *out = __builtin_inf();
    else if (text_in(s, len, ninf, 3))
        *out = -__builtin_inf();
    else
        return false;
    return true;
}

/* A number as go-yaml v2 reads a plain scalar: YV_INT, YV_FLOAT or YV_STR. */
static enum yval resolve_number(const char *s, size_t len, struct yscalar *out)
{
    if (special_float(s, len, &out->f))
        return YV_FLOAT;
    char c = len ? s[0] : 0;
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') || len > 128)
        return YV_STR;
    char clean[130];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '_')
            clean[n++] = s[i];
    }
    clean[n] = '\0';
    if (n && parse_go_int(clean, &out->i)) {
        out->f = (double)out->i;
        return YV_INT;
    }
    char *end;
    errno = 0;
    if (is_yaml_float(clean)) {
        out->f = strtod(clean, &end);
        if (errno != ERANGE)
            return YV_FLOAT;
    }
    return YV_STR;
}

bool ynode_is_null(const struct ynode *n)
{
    if (!n || n->kind != YN_SCALAR)
        return false;
    return n->tag == YTAG_NULL || (n->plain && is_null_text(n->text, n->len));
}

void yaml_resolve(const struct ynode *n, struct yscalar *out)
{
    memset(out, 0, sizeof(*out));
    out->type = YV_STR;
    if (n->kind != YN_SCALAR) {
        out->type = YV_BAD;
        return;
    }
    int b;
    switch (n->tag) {
    case YTAG_STR: return;
    case YTAG_NULL: out->type = is_null_text(n->text, n->len) ? YV_NULL : YV_BAD; return;
    case YTAG_BOOL:
        b = bool_text(n->text, n->len);
        out->type = b < 0 ? YV_BAD : YV_BOOL;
        out->b = b == 1;
        return;
    case YTAG_INT:
        out->type = resolve_number(n->text, n->len, out) == YV_INT ? YV_INT : YV_BAD;
        return;
    case YTAG_FLOAT:
        out->type = resolve_number(n->text, n->len, out) == YV_STR ? YV_BAD : YV_FLOAT;
        return;
    default: break;
    }
    if (!n->plain)
        return;
    if (is_null_text(n->text, n->len)) {
        out->type = YV_NULL;
        return;
    }
    b = bool_text(n->text, n->len);
    if (b >= 0) {
        out->type = YV_BOOL;
        out->b = b == 1;
        return;
    }
    out->type = resolve_number(n->text, n->len, out);
}

void ynode_describe(const struct ynode *n, char *out, size_t cap)
{
    if (n->kind != YN_SCALAR) {
        snprintf(out, cap, "%s", n->kind == YN_MAP ? "a mapping" : "a list");
        return;
    }
    struct yscalar v;
    yaml_resolve(n, &v);
    char q[96];
    yaml_quote(q, sizeof(q), n->text, n->len, 48);
    switch (v.type) {
    case YV_NULL: snprintf(out, cap, "null"); break;
    /* Plain booleans and numbers have no characters that need escaping. */
    case YV_BOOL: snprintf(out, cap, "the boolean %.*s", (int)n->len, n->text); break;
    case YV_INT:
    case YV_FLOAT:
        snprintf(out, cap, "the number %.*s", n->len > 48 ? 48 : (int)n->len, n->text);
        break;
    default: snprintf(out, cap, "%s", q); break;
    }
}
