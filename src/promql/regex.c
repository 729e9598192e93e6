/* regex: Prometheus's regular expressions (Go's RE2 syntax, anchored at
 * both ends) run with the C library's POSIX extended regexes.
 *
 * The two share most of their syntax; this translates what differs and
 * refuses, with RE2's own words where it has them, what POSIX would read
 * otherwise or what RE2 does not accept: a repetition of a repetition
 * ("a++", which glibc compiles into an exponential automaton), counts past
 * 1,000, back references, flags. The translated expression's size (atoms,
 * counted repetitions multiplied out) is bounded, so compiling it is too. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "promql/pq.h"

#define RE_MAX_REPEAT 1000    /* RE2's */
#define RE_MAX_COST 20000     /* atoms after counted repetitions are expanded */
#define RE_MAX_NEST 64

struct re_out {
    char *s;
    size_t n, cap;
    const char *why;
};

static void put(struct re_out *o, const char *s, size_t n)
{
    if (o->n + n >= o->cap) {
        o->why = "regular expression too long";
        return;
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
}

/* An escape outside brackets; *i is at the character after '\\'. */
static void escape(const char *re, size_t *i, struct re_out *o)
{
    char c = re[(*i)++];
    static const char ctl_from[] = "ntrfv", ctl_to[] = "\n\t\r\f\v";
    const char *ctl = c ? strchr(ctl_from, c) : NULL;
    if (c == 'd' || c == 'D') {
        put(o, c == 'd' ? "[0-9]" : "[^0-9]", c == 'd' ? 5 : 6);
    } else if (ctl) {
        put(o, &ctl_to[ctl - ctl_from], 1);
    } else if (c && strchr("sSwWbB", c)) {
        char e[2] = {'\\', c};
        put(o, e, 2);
    } else if (c && ispunct((unsigned char)c)) {
        char e[2] = {'\\', c};
        put(o, e, 2);
    } else {
        o->why = "invalid or unsupported escape sequence";
    }
}

/* A bracket expression; *i is at '['. Inside, POSIX takes backslashes
 * literally, so RE2's escapes become the characters they stand for. */
static void bracket(const char *re, size_t *i, struct re_out *o)
{
    size_t k = *i + 1;
    put(o, "[", 1);
    if (re[k] == '^')
        put(o, &re[k++], 1);
    if (re[k] == ']')
        put(o, &re[k++], 1);
    while (re[k] && re[k] != ']' && !o->why) {
        if (re[k] == '[' && re[k + 1] == ':') {
            const char *end = strstr(re + k, ":]");
            if (!end) {
                o->why = "missing closing ]";
                return;
            }
            put(o, re + k, (size_t)(end + 2 - (re + k)));
            k = (size_t)(end + 2 - re);
            continue;
        }
        if (re[k] != '\\') {
            put(o, &re[k++], 1);
            continue;
        }
        char c = re[k + 1];
        k += 2;
        if (c == 'd')
            put(o, "0-9", 3);
        else if (c == 's')
            put(o, " \t\n\r\f\v", 6);
        else if (c == 'w')
            put(o, "A-Za-z0-9_", 10);
        else if (c == 'n' || c == 't' || c == 'r')
            put(o, c == 'n' ? "\n" : c == 't' ? "\t" : "\r", 1);
        else if (c && ispunct((unsigned char)c) && c != ']' && c != '-' && c != '^' && c != '[')
            put(o, &c, 1);
        else
            o->why = "unsupported escape sequence in a character class";
    }
    if (re[k] != ']') {
        o->why = o->why ? o->why : "missing closing ]";
        return;
    }
    put(o, "]", 1);
    *i = k + 1;
}

/* "{n}", "{n,}" or "{n,m}" at re + *i: the largest count, or -1 when it is
 * not a repetition (RE2 then reads "{" as itself). */
static long counted(const char *re, size_t i, size_t *end)
{
    char *p;
    if (!isdigit((unsigned char)re[i + 1]))
        return -1;
    long n = strtol(re + i + 1, &p, 10), m = n;
    if (*p == ',') {
        p++;
        m = isdigit((unsigned char)*p) ? strtol(p, &p, 10) : n + 1;
    }
    if (*p != '}')
        return -1;
    *end = (size_t)(p + 1 - re);
    return m > n ? m : n;
}

int pq_regex_translate(const char *re, char *out, size_t cap, const char **why)
{
    struct re_out o = {out, 0, cap, NULL};
    long cost[RE_MAX_NEST + 1] = {0}, atom = 0;
    int depth = 0;
    enum { NONE, ATOM, REPEAT, LAZY } last = NONE;
    put(&o, "^(", 2);
    for (size_t i = 0; re[i] && !o.why;) {
        char c = re[i];
        size_t end;
        long k = c == '{' ? counted(re, i, &end) : -1;
        if (c == '*' || c == '+' || c == '?' || k >= 0) {
            if (last == NONE)
                o.why = "missing argument to repetition operator";
            else if (last == LAZY || (last == REPEAT && c != '?'))
                o.why = "bad repetition operator";
            else if (k > RE_MAX_REPEAT)
                o.why = "invalid repeat count";
            if (o.why)
                break;
            if (k > 1)
                cost[depth] += atom * (k - 1);
            last = last == REPEAT ? LAZY : REPEAT;
            size_t n = k >= 0 ? end - i : 1;
            put(&o, re + i, n);
            i += n;
        } else if (c == '(') {
            if (re[i + 1] == '?' && re[i + 2] != ':') {
                o.why = "regex flags are not supported";
                break;
            }
            if (depth == RE_MAX_NEST) {
                o.why = "expression nests too deeply";
                break;
            }
            cost[++depth] = 0;
            put(&o, "(", 1);
            i += re[i + 1] == '?' ? 3 : 1;
            last = NONE;
        } else if (c == ')') {
            if (depth == 0) {
                o.why = "unexpected )";
                break;
            }
            atom = cost[depth--];
            cost[depth] += atom;
            put(&o, ")", 1);
            i++;
            last = ATOM;
        } else if (c == '|') {
            put(&o, "|", 1);
            i++;
            last = NONE;
        } else {
            if (c == '\\') {
                i++;
                escape(re, &i, &o);
            } else if (c == '[') {
                bracket(re, &i, &o);
            } else if (c == '{' || c == '}') {
                put(&o, c == '{' ? "\\{" : "\\}", 2);
                i++;
            } else {
                put(&o, &re[i++], 1);
            }
            atom = 1;
            cost[depth] += 1;
            last = c == '^' || c == '$' ? NONE : ATOM;
        }
        if (cost[depth] > RE_MAX_COST)
            o.why = "expression too large";
    }
    if (!o.why && depth)
        o.why = "missing closing )";
    put(&o, ")$", 3);
    *why = o.why;
    return o.why ? -EINVAL : 0;
}
