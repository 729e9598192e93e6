/* json: Prometheus's /api/v1 answer shapes, byte for byte as 2.42 writes
 * them (web/api/v1 with jsoniter): timestamps as unix seconds with the
 * milliseconds always three digits ("1.500"), values as strings from Go's
 * strconv.FormatFloat, strings escaped as encoding/json does (HTML
 * characters too). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/pq.h"

/* The shortest %e digits that read back as v (> 0): Go's precision -1.
 * Writes the digits into d and returns the decimal exponent of d[0]. */
static int shortest_digits(double v, char *d, size_t *nd)
{
    /* Start at 15 significant digits: when they read back as v, the
     * shortest digits are them without trailing zeros (a shorter exact
     * string would be their rounding); else 16, else 17 always do. */
    char tmp[40];
    /* Subnormals carry fewer digits: search them all. */
    for (int prec = v < 2.2250738585072014e-308 ? 0 : 14; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    size_t n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            d[n++] = *p;
    while (n > 1 && d[n - 1] == '0')
        n--;
    d[n] = 0;
    *nd = n;
    return (int)strtol(p + 1, NULL, 10);
}

/* Go's strconv.FormatFloat(v, 'f' or 'e', -1, 64); mode PQ_FMT_POINT
 * switches to 'e' below 1e-6 and from 1e21 (Prometheus's points),
 * PQ_FMT_F never does (scalars), PQ_FMT_JSON is encoding/json's float:
 * like POINT with a one-digit exponent kept short ("1e-7"). */
enum { PQ_FMT_POINT, PQ_FMT_F, PQ_FMT_JSON };

static void format_float(double v, int mode, char *out, size_t size);

void promql_format_value(double v, char *out, size_t size)
{
    format_float(v, PQ_FMT_POINT, out, size);
}

void pq_format_f(double v, char *out, size_t size)
{
    format_float(v, PQ_FMT_F, out, size);
}

static void format_float(double v, int mode, char *out, size_t size)
{
    if (isnan(v)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char d[24], s[400];
    if (size > sizeof(s))
        size = sizeof(s);
    size_t o = 0, n;
    double a = fabs(v);
    if (signbit(v))
        s[o++] = '-';
    if (a == 0) {
        s[o++] = '0';
        s[o] = 0;
        snprintf(out, size, "%s", s);
        return;
    }
    if (a < 1e15 && a == floor(a)) {
        /* Integers, most samples: their digits without a float round trip. */
        char tmp[24];
        size_t k = 0;
        for (uint64_t u = (uint64_t)a; u; u /= 10)
            tmp[k++] = (char)('0' + u % 10);
        while (k)
            s[o++] = tmp[--k];
        s[o] = 0;
        snprintf(out, size, "%s", s);
        return;
    }
    int e = shortest_digits(a, d, &n);
    if (mode != PQ_FMT_F && (a < 1e-6 || a >= 1e21)) {
        s[o++] = d[0];
        if (n > 1) {
            s[o++] = '.';
            memcpy(s + o, d + 1, n - 1);
            o += n - 1;
        }
        snprintf(s + o, sizeof(s) - o, mode == PQ_FMT_JSON ? "e%c%d" : "e%c%02d", e < 0 ? '-' : '+',
                 e < 0 ? -e : e);
    } else if (e >= 0) {
        for (int i = 0; i <= e; i++)
            s[o++] = (size_t)i < n ? d[i] : '0';
        if (n > (size_t)e + 1) {
            s[o++] = '.';
            memcpy(s + o, d + e + 1, n - (size_t)e - 1);
            o += n - (size_t)e - 1;
        }
        s[o] = 0;
    } else {
        s[o++] = '0';
        s[o++] = '.';
        for (int i = 0; i < -e - 1; i++)
            s[o++] = '0';
        memcpy(s + o, d, n);
        o += n;
        s[o] = 0;
    }
    snprintf(out, size, "%s", s);
}


/* A JSON string as Go's encoding/json writes it: <, > and & escaped, as
 * are U+2028 and U+2029; invalid UTF-8 becomes U+FFFD. */
static int json_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int err = buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (!err && *p) {
        /* A run of bytes that need no escape goes out in one append. */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\' && *p != '<' && *p != '>' &&
               *p != '&')
            p++;
        if (p > run && (err = buf_append(b, run, (size_t)(p - run))) != 0)
            break;
        unsigned char c = *p;
        if (!c)
            break;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            err = buf_append(b, e, 2);
            p++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            err = buf_append(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t", 2);
            p++;
        } else if (c < 0x80) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            err = buf_append(b, e, 6);
            p++;
        } else {
            size_t len = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
            uint32_t cp = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;
            bool ok = len > 0 && c < 0xF5;
            for (size_t i = 1; ok && i < len; i++) {
                ok = (p[i] & 0xC0) == 0x80;
                cp = (cp << 6) | (p[i] & 0x3F);
            }
            if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
                       (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
                ok = false;
            if (!ok) {
                err = buf_append_str(b, "\\ufffd");
                p++;
            } else if (cp == 0x2028 || cp == 0x2029) {
                err = buf_append_str(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
                p += len;
            } else {
                err = buf_append(b, p, len);
                p += len;
            }
        }
    }
    return err ? err : buf_append(b, "\"", 1);
}

/* Writes a point's time as marshalPointJSON does into out (32 bytes). */
static size_t format_time(int64_t t, char *out)
{
    uint64_t a = t < 0 ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
    char tmp[24];
    size_t n = 0, o = 0;
    uint64_t secs = a / 1000, ms = a % 1000;
    do {
        tmp[n++] = (char)('0' + secs % 10);
        secs /= 10;
    } while (secs);
    if (t < 0)
        out[o++] = '-';
    while (n)
        out[o++] = tmp[--n];
    if (ms) {
        out[o++] = '.';
        out[o++] = (char)('0' + ms / 100);
        out[o++] = (char)('0' + ms / 10 % 10);
        out[o++] = (char)('0' + ms % 10);
    }
    out[o] = 0;
    return o;
}

int promql_append_time(struct buf *out, int64_t t)
{
    char s[32];
    return buf_append(out, s, format_time(t, s));
}

static int json_point(struct buf *b, int64_t t, double v)
{
    char s[480];
    size_t o = 0;
    s[o++] = '[';
    o += format_time(t, s + o);
    s[o++] = ',';
    s[o++] = '"';
    promql_format_value(v, s + o, sizeof(s) - o - 3);
    o += strlen(s + o);
    s[o++] = '"';
    s[o++] = ']';
    return buf_append(b, s, o);
}

static int json_metric(struct buf *b, const struct promql_series *s)
{
    int err = buf_append_str(b, "{\"metric\":{");
    for (size_t i = 0; !err && i < s->nlabels; i++) {
        if (i)
            err = buf_append(b, ",", 1);
        if (!err)
            err = json_str(b, s->labels[i].name);
        if (!err)
            err = buf_append(b, ":", 1);
        if (!err)
            err = json_str(b, s->labels[i].value);
    }
    return err ? err : buf_append(b, "}", 1);
}

int promql_result_json(const struct promql_result *r, struct buf *b)
{
    static const char *names[] = {"", "scalar", "vector", "matrix", "string"};
    int err = buf_appendf(b, "{\"status\":\"success\",\"data\":{\"resultType\":\"%s\",\"result\":",
                          names[r->type]);
    if (err)
        return err;
    if (r->type == PROMQL_SCALAR || r->type == PROMQL_STRING) {
        /* Scalar and String marshal themselves through encoding/json: the
         * time a plain float of seconds ("1.5"), a scalar always in 'f'. */
        char t[420], val[420];
        format_float((double)r->t_ms / 1000, PQ_FMT_JSON, t, sizeof(t));
        err = buf_appendf(b, "[%s,", t);
        if (!err && r->type == PROMQL_SCALAR) {
            format_float(r->scalar, PQ_FMT_F, val, sizeof(val));
            err = buf_appendf(b, "\"%s\"", val);
        } else if (!err) {
            err = json_str(b, r->string);
        }
        if (!err)
            err = buf_append(b, "]", 1);
    } else {
        err = buf_append(b, "[", 1);
        for (size_t i = 0; !err && i < r->nseries; i++) {
            const struct promql_series *s = &r->series[i];
            if (i)
                err = buf_append(b, ",", 1);
            if (!err)
                err = json_metric(b, s);
            if (err)
                break;
            if (r->type == PROMQL_VECTOR) {
                err = buf_append_str(b, ",\"value\":");
                if (!err)
                    err = json_point(b, s->points[0].t, s->points[0].v);
            } else {
                err = buf_append_str(b, ",\"values\":[");
                for (size_t j = 0; !err && j < s->npoints; j++) {
                    if (j)
                        err = buf_append(b, ",", 1);
                    if (!err)
                        err = json_point(b, s->points[j].t, s->points[j].v);
                }
                if (!err)
                    err = buf_append(b, "]", 1);
            }
            if (!err)
                err = buf_append(b, "}", 1);
        }
        if (!err)
            err = buf_append(b, "]", 1);
    }
    return err ? err : buf_append_str(b, "}}");
}

const char *promql_error_type(int err)
{
    return err == PROMQL_ERR_BAD_DATA ? "bad_data" : err == PROMQL_ERR_EXEC ? "execution" : "internal";
}

int promql_error_json(int code, const char *msg, struct buf *b)
{
    int err = buf_appendf(b, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":",
                          promql_error_type(code));
    if (!err)
        err = json_str(b, msg);
    return err ? err : buf_append(b, "}", 1);
}

/* Exposed for the API's label lists. */
int pq_json_str(struct buf *b, const char *s);
int pq_json_str(struct buf *b, const char *s)
{
    return json_str(b, s);
}
