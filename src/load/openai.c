/* openai: URL, requests and stream events. See openai.h. */
#include "load/openai.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "engine/tokenizer.h"

int openai_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
                     size_t pathlen)
{
    if (strncmp(url, "http://", 7) != 0)
        return -EINVAL;
    const char *h = url + 7;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    const char *p = h + hl;
    *port = 80;
    if (*p == ':') {
        char num[8];
        size_t nl = strcspn(p + 1, "/");
        int64_t v;
        if (nl == 0 || nl >= sizeof(num))
            return -EINVAL;
        memcpy(num, p + 1, nl);
        num[nl] = '\0';
        if (parse_int64(num, &v) || v < 1 || v > 65535)
            return -EINVAL;
        *port = (int)v;
        p += 1 + nl;
    }
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    if (pl >= pathlen || strpbrk(p, " \t\r\n?#"))
        return -EINVAL;
    memcpy(path, p, pl);
    path[pl] = '\0';
    return 0;
}

int openai_append_prompt(struct buf *b, long index, long prompt_tokens, int prompt_len)
{
    char lead[64];
    int ll = snprintf(lead, sizeof(lead), "Prompt %ld with dummy text ", index);
    long n = prompt_len;
    if (prompt_tokens > 0) {
        /* Counted whole: the lead's last space joins the next word. */
        char fixed_text[96];
        int fl = snprintf(fixed_text, sizeof(fixed_text), "%show are you?", lead);
        n = prompt_tokens - (long)tok_count(fixed_text, (size_t)fl) - 1;
        if (n < 0)
            n = 0;
    }
    int err = buf_reserve(b, (size_t)ll + 3 * (size_t)n + 16);
    if (err)
        return err;
    buf_append(b, lead, (size_t)ll);
    for (long i = 0; i < n; i++)
        buf_append(b, "Hi ", 3);
    return buf_append_str(b, "how are you?");
}

int openai_format_request(struct buf *head, struct buf *body, const struct openai_request *rq)
{
    buf_reset(body);
    buf_reset(head);
    buf_append_str(body, "{\"model\":");
    buf_append_json_str(body, rq->model, strlen(rq->model));
    buf_append_str(body, rq->chat ? ",\"messages\":[{\"role\":\"user\",\"content\":\""
                                  : ",\"prompt\":\"");
    int err = openai_append_prompt(body, rq->index, rq->prompt_tokens, rq->prompt_len);
    if (!err)
        err = buf_appendf(body,
                          "\"%s%s,\"temperature\":0,\"max_tokens\":%d,\"stream\":true,"
                          "\"stream_options\":{\"include_usage\":true}%s}",
                          rq->chat ? "}]" : "", rq->chat ? "" : ",\"echo\":false", rq->max_tokens,
                          rq->ignore_eos ? ",\"ignore_eos\":true" : "");
    if (err)
        return err;
    return buf_appendf(head,
                       "POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                       "Accept: text/event-stream\r\nAuthorization: Bearer %s\r\n"
                       "User-Agent: ebb-load/" EBB_VERSION "\r\nContent-Length: %zu\r\n\r\n",
                       rq->path, rq->chat ? "/chat/completions" : "/completions", rq->hostport,
                       rq->api_key, body->len);
}

const char *openai_error_message(const cJSON *root)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsString(e))
        return e->valuestring;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_IsObject(e) ? e : root, "message");
    if (cJSON_IsString(m) && (e || cJSON_GetObjectItemCaseSensitive(root, "object")))
        return m->valuestring;
    return NULL;
}

const char *openai_event_text(const cJSON *root, bool chat)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_IsArray(ch) ? cJSON_GetArrayItem(ch, 0) : NULL;
    if (!c0)
        return NULL;
    const cJSON *t = chat ? cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetObjectItemCaseSensitive(c0, "delta"), "content")
                          : cJSON_GetObjectItemCaseSensitive(c0, "text");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

bool openai_event_usage(const cJSON *root, long *prompt_tokens, long *completion_tokens)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    if (!cJSON_IsNumber(p) || !cJSON_IsNumber(c) || p->valuedouble < 0 || c->valuedouble < 0)
        return false;
    *prompt_tokens = (long)p->valuedouble;
    *completion_tokens = (long)c->valuedouble;
    return true;
}
