/* body: the router's reading of a request body. See body.h. */
#include "router/body.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *route_body_error(enum route_body_status s)
{
    switch (s) {
    case BODY_OK: return "";
    case BODY_NOT_JSON: return "Invalid request: request body must be valid JSON.";
    case BODY_NOT_OBJECT: return "Invalid request: request body must be a JSON object.";
    case BODY_NO_MODEL: return "Invalid request: missing 'model' in request body.";
    case BODY_TOO_LARGE: return "Internal error: request too large to forward.";
    }
    return "Invalid request.";
}

/* The value of key in object o, the last one if the key repeats: what
 * Python's json gives production-stack and the engine (cJSON's own lookup
 * gives the first). */
static cJSON *item_last(const cJSON *o, const char *key)
{
    cJSON *found = NULL, *it;
    cJSON_ArrayForEach(it, o) {
        if (it->string && strcmp(it->string, key) == 0)
            found = it;
    }
    return found;
}

static void append_text(struct buf *b, const char *s, bool *first)
{
    if (!*first)
        buf_append(b, "\n", 1);
    /* Past the limit the rest is dropped: only a prefix is indexed. */
    size_t room = b->limit > b->len ? b->limit - b->len : 0;
    buf_append(b, s, strnlen(s, room));
    *first = false;
}

/* The text prefixaware routes on, as production-stack takes it: the
 * completion prompt, or the chat messages' text contents joined by '\n'. */
static void read_prompt(const cJSON *root, struct buf *prompt)
{
    bool first = true;
    const cJSON *p = item_last(root, "prompt");
    if (cJSON_IsArray(p))
        p = cJSON_GetArrayItem(p, 0);
    if (cJSON_IsString(p)) {
        append_text(prompt, p->valuestring, &first);
        return;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, item_last(root, "messages")) {
        const cJSON *c = item_last(m, "content");
        if (cJSON_IsString(c)) {
            append_text(prompt, c->valuestring, &first);
            continue;
        }
        if (!cJSON_IsArray(c))
            continue;
        const cJSON *part;
        cJSON_ArrayForEach(part, c) {
            const cJSON *t = item_last(part, "text");
            if (cJSON_IsString(t))
                append_text(prompt, t->valuestring, &first);
        }
    }
}

static void read_session(const cJSON *root, const char *field, struct route_body *out)
{
    const cJSON *v = field && *field ? item_last(root, field) : NULL;
    int n = 0;
    if (cJSON_IsString(v))
        n = snprintf(out->session, sizeof(out->session), "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        n = snprintf(out->session, sizeof(out->session), "%.17g", v->valuedouble);
    if (n < 0)
        n = 0;
    out->session_len = (size_t)n < sizeof(out->session) ? (size_t)n : sizeof(out->session) - 1;
}

/* Copies s (len bytes, or up to a NUL) into out, cut to fit, as "%s" would. */
static void copy_model(char out[256], const char *s, size_t len)
{
    size_t n = strnlen(s, len < 255 ? len : 255);
    memcpy(out, s, n);
    out[n] = '\0';
}

static const struct alias *alias_of(const struct alias *aliases, size_t naliases, const char *model)
{
    for (size_t i = 0; i < naliases; i++) {
        if (strcmp(model, aliases[i].alias) == 0)
            return &aliases[i];
    }
    return NULL;
}

enum route_body_status route_body_parse_full(const char *data, size_t len,
                                             const struct alias *aliases, size_t naliases,
                                             const char *session_field, struct buf *forward,
                                             struct buf *prompt, struct route_body *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = cJSON_ParseWithLength(data ? data : "", len);
    if (!root)
        return BODY_NOT_JSON;
    enum route_body_status st = BODY_OK;
    cJSON *model = cJSON_IsObject(root) ? item_last(root, "model") : NULL;
    if (!cJSON_IsObject(root)) {
        st = BODY_NOT_OBJECT;
    } else if (!cJSON_IsString(model) || !*model->valuestring) {
        st = BODY_NO_MODEL;
    } else {
        copy_model(out->model, model->valuestring, strlen(model->valuestring));
        const struct alias *a = alias_of(aliases, naliases, out->model);
        if (a) {
            /* production-stack re-serializes the body after a rewrite too. */
            copy_model(out->model, a->model, strlen(a->model));
            char *text =
                cJSON_SetValuestring(model, a->model) ? cJSON_PrintUnformatted(root) : NULL;
            if (!text || buf_append_str(forward, text))
                st = BODY_TOO_LARGE;
            out->rewritten = true;
            free(text);
        }
        if (prompt)
            read_prompt(root, prompt);
        read_session(root, session_field, out);
    }
    cJSON_Delete(root);
    return st;
}

enum route_body_status route_body_parse(const char *data, size_t len, const struct alias *aliases,
                                        size_t naliases, const char *session_field,
                                        struct buf *forward, struct buf *prompt,
                                        struct route_body *out)
{
    const char *model;
    size_t model_len;
    if (!prompt && !(session_field && *session_field) &&
        route_body_scan_model(data, len, &model, &model_len)) {
        memset(out, 0, sizeof(*out));
        copy_model(out->model, model, model_len);
        if (!alias_of(aliases, naliases, out->model))
            return BODY_OK;
    }
    return route_body_parse_full(data, len, aliases, naliases, session_field, forward, prompt, out);
}

/* --- the fast path's scan ------------------------------------------------- */

/* A strict JSON reader that builds nothing. Each function returns false for
 * anything outside the subset route_body_scan_model promises (body.h). */
struct scan {
    const char *p, *end;
};

#define SCAN_MAX_DEPTH 32
#define SCAN_MAX_NUMBER 32

static void scan_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* A string at s->p (its opening quote). *plain: it has no escape. */
static bool scan_string(struct scan *s, const char **str, size_t *len, bool *plain)
{
    const char *start = ++s->p;
    *plain = true;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *str = start;
            *len = (size_t)(s->p - start);
            s->p++;
            return true;
        }
        if (c < 0x20)
            return false; /* cJSON takes raw control bytes; JSON does not: not sure */
        if (c == '\\') {
            /* \u needs cJSON's surrogate checks: left to it. */
            if (s->p + 1 >= s->end || !strchr("\"\\/bfnrt", s->p[1]) || !s->p[1])
                return false;
            *plain = false;
            s->p++;
        }
        s->p++;
    }
    return false;
}

static bool scan_digits(struct scan *s)
{
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, short enough for cJSON's
 * 63-byte number buffer. */
static bool scan_number(struct scan *s)
{
    const char *start = s->p;
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!scan_digits(s))
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!scan_digits(s))
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!scan_digits(s))
            return false;
    }
    return s->p - start <= SCAN_MAX_NUMBER;
}

static bool scan_literal(struct scan *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool scan_value(struct scan *s, int depth);

/* An object or array at s->p. At depth 0 (the top-level object) it looks
 * for "model"; model is NULL below. */
static bool scan_container(struct scan *s, int depth, const char **model, size_t *model_len)
{
    bool object = *s->p == '{';
    char close = object ? '}' : ']';
    if (depth >= SCAN_MAX_DEPTH)
        return false;
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (object) {
            const char *key;
            size_t klen;
            bool plain;
            if (s->p >= s->end || *s->p != '"' || !scan_string(s, &key, &klen, &plain))
                return false;
            scan_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return false;
            s->p++;
            scan_ws(s);
            /* An escaped key never reads "model": escapes give none of its letters. */
            if (model && plain && klen == 5 && memcmp(key, "model", 5) == 0) {
                const char *v;
                size_t vlen;
                if (*model || s->p >= s->end || *s->p != '"' ||
                    !scan_string(s, &v, &vlen, &plain) || !plain || vlen == 0 || vlen > 255)
                    return false; /* a repeated "model", or one cJSON must read */
                *model = v;
                *model_len = vlen;
            } else if (!scan_value(s, depth + 1)) {
                return false;
            }
        } else if (!scan_value(s, depth + 1)) {
            return false;
        }
        scan_ws(s);
        if (s->p >= s->end)
            return false;
        if (*s->p == close) {
            s->p++;
            return true;
        }
        if (*s->p != ',')
            return false;
        s->p++;
        scan_ws(s);
    }
}

static bool scan_value(struct scan *s, int depth)
{
    if (s->p >= s->end)
        return false;
    const char *str;
    size_t len;
    bool plain;
    switch (*s->p) {
    case '{':
    case '[': return scan_container(s, depth, NULL, NULL);
    case '"': return scan_string(s, &str, &len, &plain);
    case 't': return scan_literal(s, "true", 4);
    case 'f': return scan_literal(s, "false", 5);
    case 'n': return scan_literal(s, "null", 4);
    default: return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && scan_number(s);
    }
}

bool route_body_scan_model(const char *data, size_t len, const char **model, size_t *model_len)
{
    struct scan s = {data, data ? data + len : data};
    *model = NULL;
    *model_len = 0;
    scan_ws(&s);
    if (s.p >= s.end || *s.p != '{' || !scan_container(&s, 0, model, model_len))
        return false;
    scan_ws(&s);
    return s.p == s.end && *model != NULL;
}
