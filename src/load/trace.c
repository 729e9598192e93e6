/* trace: JSONL request traces. See trace.h. */
#include "load/trace.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* A short rendering of a JSON value for an error message. */
static void show_value(const cJSON *v, char *out, size_t outlen)
{
    char *s = cJSON_PrintUnformatted(v);
    snprintf(out, outlen, "%.40s%s", s ? s : "?", s && strlen(s) > 40 ? "..." : "");
    free(s);
}

/* The first of the names that the object has, or NULL. */
static const cJSON *field(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    return v ? v : cJSON_GetObjectItemCaseSensitive(o, b);
}

static int get_tokens(const cJSON *o, const char *name, const char *alias, int *out,
                      const char *where, char *err, size_t errlen)
{
    const cJSON *v = field(o, name, alias);
    if (!v) {
        snprintf(err, errlen, "%s: \"%s\" is missing", where, name);
        return -EINVAL;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
    if (!(d >= 1 && d <= TRACE_MAX_TOKENS) || d != floor(d)) {
        char got[64];
        show_value(v, got, sizeof(got));
        snprintf(err, errlen, "%s: \"%s\" must be an integer in [1, %d], got %s", where, v->string,
                 TRACE_MAX_TOKENS, got);
        return -EINVAL;
    }
    *out = (int)d;
    return 0;
}

/* Parses one line's object into e; prev is the previous arrival. */
static int parse_entry(const cJSON *o, double prev, struct trace_entry *e, const char *where,
                       char *err, size_t errlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "arrival");
    double scale = 1;
    if (!a) {
        a = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
        scale = 1e-3; /* Mooncake: milliseconds */
    }
    if (!a) {
        snprintf(err, errlen, "%s: \"arrival\" is missing", where);
        return -EINVAL;
    }
    double t = cJSON_IsNumber(a) ? a->valuedouble * scale : (double)NAN;
    if (!(t >= 0 && t < 1e9)) {
        char got[64];
        show_value(a, got, sizeof(got));
        snprintf(err, errlen, "%s: \"%s\" must be a number of %s >= 0, got %s", where, a->string,
                 scale == 1 ? "seconds" : "milliseconds", got);
        return -EINVAL;
    }
    if (t < prev) {
        snprintf(err, errlen, "%s: arrivals must not go back in time (%g s after %g s)", where, t,
                 prev);
        return -EINVAL;
    }
    e->arrival = t;
    int rc = get_tokens(o, "prompt_tokens", "input_length", &e->prompt_tokens, where, err, errlen);
    if (!rc)
        rc = get_tokens(o, "output_tokens", "output_length", &e->output_tokens, where, err, errlen);
    return rc;
}

static int append(struct trace *t, size_t *alloc, const struct trace_entry *e)
{
    if (t->n == *alloc) {
        size_t na = *alloc ? *alloc * 2 : 256;
        struct trace_entry *ne = realloc(t->e, na * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        t->e = ne;
        *alloc = na;
    }
    t->e[t->n++] = *e;
    return 0;
}

/* Parses one line (not NUL-terminated); blank lines are skipped. */
static int parse_line(const char *s, size_t n, const char *where, struct trace *t, size_t *alloc,
                      char *err, size_t errlen)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i == n)
        return 0;
    cJSON *o = cJSON_ParseWithLength(s, n);
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "%s: %s", where, o ? "not a JSON object" : "not valid JSON");
        cJSON_Delete(o);
        return -EINVAL;
    }
    struct trace_entry e;
    int rc = parse_entry(o, t->n ? t->e[t->n - 1].arrival : 0, &e, where, err, errlen);
    cJSON_Delete(o);
    if (!rc)
        rc = append(t, alloc, &e);
    return rc;
}

int trace_parse(const char *text, size_t len, const char *name, struct trace *t, char *err,
                size_t errlen)
{
    size_t alloc = 0, lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        char where[512];
        snprintf(where, sizeof(where), "%s:%zu", name, ++lineno);
        int rc = parse_line(p, (size_t)(le - p), where, t, &alloc, err, errlen);
        if (rc) {
            if (rc == -ENOMEM)
                snprintf(err, errlen, "%s: out of memory", where);
            trace_release(t);
            return rc;
        }
        p = nl ? nl + 1 : end;
    }
    if (t->n == 0) {
        snprintf(err, errlen, "%s: the trace has no requests", name);
        return -EINVAL;
    }
    return 0;
}

int trace_load(const char *path, struct trace *t, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(e));
        return -e;
    }
    struct buf text = BUF_INIT(TRACE_MAX_BYTES);
    int rc = 0;
    char chunk[64 * 1024];
    while (!rc) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n == 0)
            break;
        rc = buf_append(&text, chunk, n);
    }
    if (!rc && ferror(f))
        rc = -EIO;
    fclose(f);
    if (rc == -ENOBUFS)
        snprintf(err, errlen, "\"%s\" is larger than %u MiB", path, TRACE_MAX_BYTES >> 20);
    else if (rc)
        snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(-rc));
    else
        rc = trace_parse(text.data ? text.data : "", text.len, path, t, err, errlen);
    buf_release(&text);
    return rc;
}

void trace_release(struct trace *t)
{
    free(t->e);
    t->e = NULL;
    t->n = 0;
}
