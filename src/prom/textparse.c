/* textparse: the Prometheus text exposition format. See textparse.h.
 *
 * The scanner follows the states of Prometheus's promlex.l (an entry starts
 * a comment, a "# HELP"/"# TYPE" line, or a sample: name, optional labels,
 * value, optional timestamp), and like PromParser it reads the body as if a
 * newline were appended, so a last line without one is complete. Blanks
 * (space, tab) may separate any two tokens. */
#include "prom/textparse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Prometheus's value.NormalNaN: every NaN read from a body becomes this one,
 * so that no scraped value can be taken for the staleness marker. */
#define NORMAL_NAN_BITS UINT64_C(0x7ff8000000000001)

/* The byte at i: the body, then the newline PromParser appends, then -1. */
static int at(const struct textparse *p, size_t i)
{
    if (i < p->len)
        return (unsigned char)p->buf[i];
    return i == p->len ? '\n' : -1;
}

static bool is_blank(int c)
{
    return c == ' ' || c == '\t';
}
static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static bool is_label_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_label_char(int c)
{
    return is_label_start(c) || is_digit(c);
}
static bool is_metric_start(int c)
{
    return is_label_start(c) || c == ':';
}
static bool is_metric_char(int c)
{
    return is_label_char(c) || c == ':';
}

bool textparse_label_name_ok(const char *s)
{
    if (!is_label_start((unsigned char)*s))
        return false;
    for (s++; *s; s++)
        if (!is_label_char((unsigned char)*s))
            return false;
    return true;
}

bool textparse_metric_name_ok(const char *s)
{
    if (!is_metric_start((unsigned char)*s))
        return false;
    for (s++; *s; s++)
        if (!is_metric_char((unsigned char)*s))
            return false;
    return true;
}

bool textparse_utf8_ok(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* past U+10FFFF */
        } else {
            return false;
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k < n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += n;
    }
    return true;
}

/* ---- errors ---- */

/* Quotes s[0..len) for a message as Go's %q would, cut at 40 bytes. */
static void quote_bytes(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t k = 0; k < len && o + 8 < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (k == 40) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", (unsigned)c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* What the parser found at i instead of what it expected: the rest of the
 * line, quoted, or "end of line". */
static void quote_from(const struct textparse *p, size_t i, char *out, size_t n)
{
    if (at(p, i) == '\n' || at(p, i) < 0) {
        snprintf(out, n, "end of line");
        return;
    }
    size_t e = i;
    while (e < p->len && p->buf[e] != '\n' && e - i <= 40)
        e++;
    quote_bytes(p->buf + i, e - i, out, n);
}

__attribute__((format(printf, 4, 5))) static int fail(struct textparse *p, int err, unsigned line,
                                                      const char *fmt, ...)
{
    int o = snprintf(p->errmsg, sizeof(p->errmsg), "line %u: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg + o, sizeof(p->errmsg) - (size_t)o, fmt, ap);
    va_end(ap);
    p->err = err;
    return err;
}

/* "expected X, got Y" with Y quoted from the body at i. */
static int expected(struct textparse *p, unsigned line, const char *what, size_t i)
{
    char got[64];
    quote_from(p, i, got, sizeof(got));
    return fail(p, -EINVAL, line, "expected %s, got %s", what, got);
}

/* ---- one entry ---- */

/* The state of the entry being read: where it started, for the line limit
 * and the line number of its errors. */
struct entry {
    size_t start;
    unsigned line;
};

static int check_line(struct textparse *p, const struct entry *e, size_t pos)
{
    if (pos - e->start > p->lim.max_line)
        return fail(p, -E2BIG, e->line, "line is longer than %zu bytes", p->lim.max_line);
    return 0;
}

static int name_too_long(struct textparse *p, const struct entry *e, const char *what, size_t start,
                         size_t end)
{
    char q[64];
    quote_bytes(p->buf + start, end - start, q, sizeof(q));
    return fail(p, -E2BIG, e->line, "%s name %s is longer than %zu bytes", what, q,
                p->lim.max_name_len);
}

static size_t skip_blanks(const struct textparse *p, size_t pos)
{
    while (is_blank(at(p, pos)))
        pos++;
    return pos;
}

/* Copies n bytes to the scratch space, NUL-terminated. */
static char *scratch_copy(struct textparse *p, const char *s, size_t n)
{
    if (p->scratch_len + n + 1 > p->scratch_cap)
        return NULL;
    char *d = p->scratch + p->scratch_len;
    memcpy(d, s, n);
    d[n] = '\0';
    p->scratch_len += n + 1;
    return d;
}

/* A comment runs to the end of its line. A NUL byte ends the whole body
 * where Prometheus's lexer sees it as its end: at the first byte of the
 * comment, or anywhere in one that starts "#" without a blank. */
static int read_comment(struct textparse *p, const struct entry *e, size_t pos, bool bare,
                        size_t *end)
{
    if (at(p, pos) == 0) {
        *end = p->len + 1;
        return 0;
    }
    for (;;) {
        int c = at(p, pos);
        if (c == '\n')
            break;
        if (c == 0 && bare) {
            *end = p->len + 1;
            return 0;
        }
        pos++;
        if ((pos & 1023) == 0 && check_line(p, e, pos))
            return p->err;
    }
    *end = pos;
    return check_line(p, e, pos);
}

static const struct {
    const char *name;
    enum textparse_type type;
} types[] = {
    {"counter", TEXTPARSE_COUNTER},     {"gauge", TEXTPARSE_GAUGE},
    {"histogram", TEXTPARSE_HISTOGRAM}, {"summary", TEXTPARSE_SUMMARY},
    {"untyped", TEXTPARSE_UNTYPED},
};

/* "# HELP name text" or "# TYPE name type", pos just past the keyword and
 * its blanks. As PromParser does, the text is everything after the name but
 * its first byte (normally the one blank), and nothing when only blanks
 * follow the name; so "# TYPE x  counter" (two blanks) is an unknown type,
 * as in Prometheus. */
static int read_meta(struct textparse *p, const struct entry *e, size_t pos, bool is_type,
                     size_t *end)
{
    const char *kw = is_type ? "TYPE" : "HELP";
    if (!is_metric_start(at(p, pos)))
        return expected(p, e->line,
                        is_type ? "a metric name after TYPE" : "a metric name after HELP", pos);
    size_t name = pos;
    while (is_metric_char(at(p, pos)))
        pos++;
    size_t name_len = pos - name;
    if (name_len > p->lim.max_name_len)
        return fail(p, -E2BIG, e->line, "metric name in %s is longer than %zu bytes", kw,
                    p->lim.max_name_len);
    if (at(p, pos) == 0)
        return expected(p, e->line, "a linebreak after metadata", pos);
    size_t text = pos;
    bool only_blanks = true;
    while (at(p, pos) != '\n') {
        int c = at(p, pos);
        if (!is_blank(c) && c != 0)
            only_blanks = false;
        pos++;
        if ((pos & 1023) == 0 && check_line(p, e, pos))
            return p->err;
    }
    if (check_line(p, e, pos))
        return p->err;
    size_t text_len = only_blanks ? 0 : pos - text - 1;
    const char *t = p->buf + text + (only_blanks ? 0 : 1);
    if (is_type) {
        size_t i;
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strlen(types[i].name) == text_len && !memcmp(types[i].name, t, text_len))
                break;
        if (i == sizeof(types) / sizeof(types[0])) {
            char q[128];
            quote_bytes(t, text_len, q, sizeof(q));
            return fail(p, -EINVAL, e->line, "invalid metric type %s", q);
        }
        if (name_len < sizeof(p->family)) {
            memcpy(p->family, p->buf + name, name_len);
            p->family[name_len] = '\0';
        } else {
            p->family[0] = '\0';
        }
        p->family_type = types[i].type;
    } else if (!textparse_utf8_ok(t, text_len)) {
        return fail(p, -EINVAL, e->line, "help text is not a valid utf8 string");
    }
    *end = pos;
    return 0;
}

/* After '#': a comment, or metadata when "HELP" or "TYPE" and a blank
 * follow "#" and blanks. */
static int read_hash(struct textparse *p, const struct entry *e, size_t pos, size_t *end)
{
    pos++;
    if (!is_blank(at(p, pos)))
        return read_comment(p, e, pos, true, end);
    pos = skip_blanks(p, pos);
    for (int k = 0; k < 2; k++) {
        const char *kw = k ? "TYPE" : "HELP";
        size_t i = 0;
        while (i < 4 && at(p, pos + i) == kw[i])
            i++;
        if (i == 4 && is_blank(at(p, pos + 4)))
            return read_meta(p, e, skip_blanks(p, pos + 4), k == 1, end);
    }
    return read_comment(p, e, pos, false, end);
}

/* A label value from its opening quote: the escapes \" \\ \n are replaced
 * (as Prometheus's lvalReplacer does), any other backslash pair is kept as
 * written, a raw newline is part of the value. */
static int read_label_value(struct textparse *p, const struct entry *e, size_t *ppos,
                            const char *lname, const char **out)
{
    size_t pos = *ppos + 1, start = pos;
    for (;;) {
        int c = at(p, pos);
        if (c == '"')
            break;
        if (c < 0 || (c == '\\' && (at(p, pos + 1) == '\n' || at(p, pos + 1) < 0)))
            return expected(p, e->line, "a label value", *ppos);
        if (c == 0)
            return fail(p, -EINVAL, e->line, "label \"%s\" value has a NUL byte", lname);
        if (c == '\\' && at(p, pos + 1) == 0)
            return fail(p, -EINVAL, e->line, "label \"%s\" value has a NUL byte", lname);
        if (c == '\n')
            p->line++;
        pos += c == '\\' ? 2 : 1;
        if ((pos & 1023) == 0 && check_line(p, e, pos))
            return p->err;
    }
    if (check_line(p, e, pos))
        return p->err;
    const char *raw = p->buf + start;
    size_t len = pos - start;
    if (!textparse_utf8_ok(raw, len))
        return fail(p, -EINVAL, e->line, "invalid UTF-8 label value for \"%s\"", lname);
    if (p->scratch_len + len + 1 > p->scratch_cap)
        return fail(p, -E2BIG, e->line, "line is longer than %zu bytes", p->lim.max_line);
    char *d = p->scratch + p->scratch_len, *o = d;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '\\' && (raw[i + 1] == '"' || raw[i + 1] == '\\' || raw[i + 1] == 'n')) {
            *o++ = raw[i + 1] == 'n' ? '\n' : raw[i + 1];
            i++;
        } else {
            *o++ = raw[i];
        }
    }
    *o = '\0';
    if ((size_t)(o - d) > p->lim.max_value_len)
        return fail(p, -E2BIG, e->line, "label \"%s\" value is longer than %zu bytes", lname,
                    p->lim.max_value_len);
    p->scratch_len += (size_t)(o - d) + 1;
    *out = d;
    *ppos = pos + 1;
    return 0;
}

static int add_label(struct textparse *p, const struct entry *e, size_t *n, const char *name,
                     const char *value)
{
    if (*n >= p->lim.max_labels)
        return fail(p, -E2BIG, e->line, "series has more than %zu labels", p->lim.max_labels);
    p->labels[*n].name = name;
    p->labels[*n].value = value;
    (*n)++;
    return 0;
}

/* The pairs between '{' and '}', pos just past '{'. As in PromParser a
 * comma may end the list and may be left out between pairs. */
static int read_labels(struct textparse *p, const struct entry *e, size_t *ppos, size_t *n)
{
    size_t pos = skip_blanks(p, *ppos);
    while (at(p, pos) != '}') {
        if (!is_label_start(at(p, pos)))
            return expected(p, e->line, "a label name", pos);
        size_t name = pos;
        while (is_label_char(at(p, pos)))
            pos++;
        if (pos - name > p->lim.max_name_len)
            return name_too_long(p, e, "label", name, pos);
        const char *lname = scratch_copy(p, p->buf + name, pos - name);
        if (!lname || check_line(p, e, pos))
            return fail(p, -E2BIG, e->line, "line is longer than %zu bytes", p->lim.max_line);
        pos = skip_blanks(p, pos);
        if (at(p, pos) != '=')
            return expected(p, e->line, "\"=\" after a label name", pos);
        pos = skip_blanks(p, pos + 1);
        if (at(p, pos) != '"')
            return expected(p, e->line, "a label value", pos);
        const char *value = "";
        int err = read_label_value(p, e, &pos, lname, &value);
        /* An empty value is no label: Prometheus drops it when storing,
         * before it looks for repeated names. */
        if (!err && *value)
            err = add_label(p, e, n, lname, value);
        if (err)
            return err;
        pos = skip_blanks(p, pos);
        if (at(p, pos) == ',')
            pos = skip_blanks(p, pos + 1);
    }
    *ppos = pos + 1;
    return 0;
}

/* Go's strconv.ParseFloat, less what Prometheus turns away (hex floats,
 * '_'): decimal with optional exponent, or inf/infinity (any case, signed)
 * or nan (any case). An overflow is an error; an underflow is not. */
static int parse_value(struct textparse *p, const struct entry *e, size_t start, size_t len,
                       double *out)
{
    const char *s = p->buf + start;
    char q[128];
    quote_bytes(s, len, q, sizeof(q));
    for (size_t i = 0; i < len; i++)
        if (s[i] == 'p' || s[i] == 'P' || s[i] == '_')
            return fail(p, -EINVAL, e->line, "unsupported character in float %s", q);
    size_t i = 0;
    int sign = 1;
    if (s[0] == '+' || s[0] == '-') {
        sign = s[0] == '-' ? -1 : 1;
        i = 1;
    }
    size_t rest = len - i;
    if ((rest == 3 && !strncasecmp(s + i, "inf", 3)) ||
        (rest == 8 && !strncasecmp(s + i, "infinity", 8))) {
        *out = sign < 0 ? -HUGE_VAL : HUGE_VAL;
        return 0;
    }
    if (len == 3 && !strncasecmp(s, "nan", 3)) {
        uint64_t bits = NORMAL_NAN_BITS;
        memcpy(out, &bits, sizeof(*out));
        return 0;
    }
    size_t digits = 0;
    while (i < len && is_digit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit((unsigned char)s[i])) {
            i++;
            digits++;
        }
    }
    bool ok = digits > 0;
    if (ok && i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < len && is_digit((unsigned char)s[i])) {
            i++;
            exp_digits++;
        }
        ok = exp_digits > 0;
    }
    if (!ok || i != len)
        return fail(p, -EINVAL, e->line, "strconv.ParseFloat: parsing %s: invalid syntax", q);
    /* strtod needs a terminated string: the value goes through the
     * scratch space, which has room for the whole line. */
    size_t mark = p->scratch_len;
    char *tmp = scratch_copy(p, s, len);
    if (!tmp)
        return fail(p, -E2BIG, e->line, "line is longer than %zu bytes", p->lim.max_line);
    double v = strtod(tmp, NULL);
    p->scratch_len = mark;
    if (isinf(v))
        return fail(p, -ERANGE, e->line, "strconv.ParseFloat: parsing %s: value out of range", q);
    *out = v;
    return 0;
}

static int parse_timestamp(struct textparse *p, const struct entry *e, size_t start, size_t len,
                           int64_t *out)
{
    const char *s = p->buf + start;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return fail(p, -ERANGE, e->line,
                        "strconv.ParseInt: parsing \"%.*s\": value out of range",
                        (int)(len > 40 ? 40 : len), s); /* digits only */
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static enum textparse_type sample_type(const struct textparse *p, const char *name)
{
    size_t fl = strlen(p->family);
    if (!fl || strncmp(name, p->family, fl) != 0)
        return TEXTPARSE_UNTYPED;
    const char *suffix = name + fl;
    if (!*suffix)
        return p->family_type;
    bool sum_count = !strcmp(suffix, "_sum") || !strcmp(suffix, "_count");
    if (p->family_type == TEXTPARSE_SUMMARY && sum_count)
        return p->family_type;
    if (p->family_type == TEXTPARSE_HISTOGRAM && (sum_count || !strcmp(suffix, "_bucket")))
        return p->family_type;
    return TEXTPARSE_UNTYPED;
}

/* name{labels} value [timestamp], pos at the name's first byte. */
static int read_sample(struct textparse *p, const struct entry *e, size_t pos, size_t *end,
                       struct textparse_sample *out)
{
    p->scratch_len = 0;
    size_t name = pos;
    while (is_metric_char(at(p, pos)))
        pos++;
    if (pos - name > p->lim.max_name_len)
        return name_too_long(p, e, "metric", name, pos);
    const char *mname = scratch_copy(p, p->buf + name, pos - name);
    if (!mname)
        return fail(p, -E2BIG, e->line, "line is longer than %zu bytes", p->lim.max_line);
    size_t n = 0;
    int err = add_label(p, e, &n, "__name__", mname);
    if (err)
        return err;
    pos = skip_blanks(p, pos);
    if (at(p, pos) == '{') {
        pos++;
        err = read_labels(p, e, &pos, &n);
        if (err)
            return err;
        pos = skip_blanks(p, pos);
    }
    size_t value = pos;
    for (int c = at(p, pos); c > 0 && c != '{' && c != '\n' && !is_blank(c); c = at(p, pos))
        pos++;
    if (pos == value)
        return expected(p, e->line, "a value after the metric", pos);
    if (check_line(p, e, pos))
        return p->err;
    err = parse_value(p, e, value, pos - value, &out->v);
    if (err)
        return err;
    pos = skip_blanks(p, pos);
    out->has_t = false;
    if (is_digit(at(p, pos))) {
        size_t ts = pos;
        while (is_digit(at(p, pos)))
            pos++;
        if (check_line(p, e, pos))
            return p->err;
        err = parse_timestamp(p, e, ts, pos - ts, &out->t_ms);
        if (err)
            return err;
        out->has_t = true;
        pos = skip_blanks(p, pos);
        if (at(p, pos) != '\n')
            return expected(p, e->line, "the end of the line after the timestamp", pos);
    } else if (at(p, pos) != '\n') {
        return expected(p, e->line, "a timestamp or the end of the line", pos);
    }
    if (check_line(p, e, pos))
        return p->err;
    prom_labels_sort(p->labels, n);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(p->labels[i - 1].name, p->labels[i].name))
            return fail(p, -EINVAL, e->line, "label name \"%s\" is not unique", p->labels[i].name);
    if (p->lim.max_samples && p->samples >= p->lim.max_samples)
        return fail(p, -E2BIG, e->line, "sample limit exceeded: more than %zu samples",
                    p->lim.max_samples);
    p->samples++;
    out->labels = p->labels;
    out->n = n;
    out->type = sample_type(p, mname);
    out->line = e->line;
    *end = pos;
    return 0;
}

int textparse_next(struct textparse *p, struct textparse_sample *out)
{
    for (;;) {
        if (p->err)
            return p->err;
        struct entry e = {p->pos, p->line};
        size_t pos = skip_blanks(p, p->pos), end;
        int c = at(p, pos);
        int err = 0;
        bool sample = false;
        if (c < 0 || c == 0) {
            /* The end, or a NUL byte where a line starts, which
             * Prometheus's lexer takes for the end too. */
            p->pos = p->len + 1;
            return 0;
        } else if (c == '\n') {
            end = pos;
        } else if (c == '#') {
            err = read_hash(p, &e, pos, &end);
        } else if (is_metric_start(c) && pos > e.start) {
            /* PromParser takes the blanks for part of the name, which
             * Prometheus then refuses as invalid. */
            err =
                fail(p, -EINVAL, e.line, "invalid metric name: a sample line starts with a blank");
        } else if (is_metric_start(c)) {
            err = read_sample(p, &e, pos, &end, out);
            sample = true;
        } else {
            err = expected(p, e.line, "a metric name or \"#\" at the start of a line", pos);
        }
        if (err)
            return err;
        if (end > p->len) {
            p->pos = p->len + 1;
            return 0;
        }
        p->pos = end + 1; /* past the newline */
        p->line++;
        if (sample)
            return 1;
    }
}

const char *textparse_error(const struct textparse *p)
{
    return p->err ? p->errmsg : "";
}

int textparse_init(struct textparse *p, const char *buf, size_t len,
                   const struct textparse_limits *lim)
{
    memset(p, 0, sizeof(*p));
    p->buf = buf;
    p->len = len;
    p->line = 1;
    if (lim)
        p->lim = *lim;
    if (!p->lim.max_line)
        p->lim.max_line = TEXTPARSE_MAX_LINE;
    if (!p->lim.max_labels)
        p->lim.max_labels = TEXTPARSE_MAX_LABELS;
    if (!p->lim.max_name_len)
        p->lim.max_name_len = TEXTPARSE_MAX_NAME_LEN;
    if (!p->lim.max_value_len)
        p->lim.max_value_len = TEXTPARSE_MAX_VALUE_LEN;
    /* Every name and value is a piece of one line, each NUL-terminated. */
    p->scratch_cap = p->lim.max_line + 2 * p->lim.max_labels + 16;
    p->labels = calloc(p->lim.max_labels, sizeof(*p->labels));
    p->scratch = malloc(p->scratch_cap);
    if (!p->labels || !p->scratch) {
        textparse_release(p);
        return -ENOMEM;
    }
    return 0;
}

void textparse_release(struct textparse *p)
{
    free(p->labels);
    free(p->scratch);
    p->labels = NULL;
    p->scratch = NULL;
}
