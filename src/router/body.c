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
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (cJSON_IsArray(p))
        p = cJSON_GetArrayItem(p, 0);
    if (cJSON_IsString(p)) {
        append_text(prompt, p->valuestring, &first);
        return;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "messages")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(c)) {
            append_text(prompt, c->valuestring, &first);
            continue;
        }
        if (!cJSON_IsArray(c))
            continue;
        const cJSON *part;
        cJSON_ArrayForEach(part, c) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (cJSON_IsString(t))
                append_text(prompt, t->valuestring, &first);
        }
    }
}

static void read_session(const cJSON *root, const char *field, struct route_body *out)
{
    const cJSON *v = field && *field ? cJSON_GetObjectItemCaseSensitive(root, field) : NULL;
    int n = 0;
    if (cJSON_IsString(v))
        n = snprintf(out->session, sizeof(out->session), "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        n = snprintf(out->session, sizeof(out->session), "%.17g", v->valuedouble);
    if (n < 0)
        n = 0;
    out->session_len = (size_t)n < sizeof(out->session) ? (size_t)n : sizeof(out->session) - 1;
}

enum route_body_status route_body_parse(const char *data, size_t len, const struct alias *aliases,
                                        size_t naliases, const char *session_field,
                                        struct buf *forward, struct buf *prompt,
                                        struct route_body *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = cJSON_ParseWithLength(data ? data : "", len);
    if (!root)
        return BODY_NOT_JSON;
    enum route_body_status st = BODY_OK;
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(root)) {
        st = BODY_NOT_OBJECT;
    } else if (!cJSON_IsString(model) || !*model->valuestring) {
        st = BODY_NO_MODEL;
    } else {
        snprintf(out->model, sizeof(out->model), "%s", model->valuestring);
        const struct alias *a = NULL;
        for (size_t i = 0; i < naliases && !a; i++) {
            if (strcmp(out->model, aliases[i].alias) == 0)
                a = &aliases[i];
        }
        int err;
        if (a) {
            /* production-stack re-serializes the body after a rewrite too. */
            snprintf(out->model, sizeof(out->model), "%s", a->model);
            char *text = cJSON_SetValuestring(model, a->model) ? cJSON_PrintUnformatted(root) : NULL;
            err = text ? buf_append_str(forward, text) : -1;
            free(text);
        } else {
            err = buf_append(forward, data, len);
        }
        if (err)
            st = BODY_TOO_LARGE;
        if (prompt)
            read_prompt(root, prompt);
        read_session(root, session_field, out);
    }
    cJSON_Delete(root);
    return st;
}
