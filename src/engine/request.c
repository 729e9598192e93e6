/* request: OpenAI request validation. See request.h. */
#include "engine/request.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/textgen.h"
#include "engine/tokenizer.h"

__attribute__((format(printf, 4, 5))) static int fail(struct api_error *err, int status,
                                                      const char *param, const char *fmt, ...)
{
    err->status = status;
    err->type = status == 404 ? "NotFoundError" : "BadRequestError";
    err->param = param;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

/* Reads an optional integer field. Absent or null leaves *out alone. */
static int get_int(const cJSON *obj, const char *name, long long min, long long max, int *out,
                   bool *present, struct api_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (present)
        *present = false;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !isfinite(v->valuedouble))
        return fail(err, 400, name, "'%s' must be an integer, got %s", name, json_type_name(v));
    double d = v->valuedouble;
    if (d < (double)min)
        return fail(err, 400, name, "%s must be at least %lld, got %.0f.", name, min, d);
    if (d > (double)max)
        return fail(err, 400, name, "%s must be at most %lld, got %.0f.", name, max, d);
    *out = (int)d;
    if (present)
        *present = true;
    return 0;
}

static int get_bool(const cJSON *obj, const char *name, bool *out, struct api_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return fail(err, 400, name, "'%s' must be a boolean, got %s", name, json_type_name(v));
    *out = cJSON_IsTrue(v);
    return 0;
}

static int check_number(const cJSON *obj, const char *name, double min, double max,
                        struct api_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v))
        return fail(err, 400, name, "'%s' must be a number, got %s", name, json_type_name(v));
    if (v->valuedouble < min || v->valuedouble > max)
        return fail(err, 400, name, "%s must be in [%g, %g], got %g.", name, min, max,
                    v->valuedouble);
    return 0;
}

static int resolve_model(const cJSON *root, const struct api_limits *lim, struct gen_request *out,
                         struct api_error *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!m || cJSON_IsNull(m)) {
        out->model = lim->served_names[0]; /* vLLM serves the default model */
        return 0;
    }
    if (!cJSON_IsString(m))
        return fail(err, 400, "model", "'model' must be a string, got %s", json_type_name(m));
    for (size_t i = 0; i < lim->nserved; i++) {
        if (strcmp(m->valuestring, lim->served_names[i]) == 0) {
            out->model = lim->served_names[i];
            return 0;
        }
    }
    return fail(err, 404, "model", "The model `%.200s` does not exist.", m->valuestring);
}

/* Llama-3's vocabulary: token ids 0 to 128255. */
#define VOCAB_SIZE 128256

/* Token ids: a non-empty array of integers in the vocabulary. vLLM answers an
 * empty list ([[]]) and an id past the vocabulary with 400; the range check
 * also comes before the id is converted to an integer, which for a number
 * such as 1e30 would be undefined. */
static int count_token_ids(const cJSON *arr, int *count, uint64_t *seed, struct api_error *err)
{
    int n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, arr) {
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble != floor(t->valuedouble))
            return fail(err, 400, "prompt", "'prompt' token ids must be non-negative integers");
        if (t->valuedouble >= VOCAB_SIZE)
            return fail(err, 400, "prompt", "Token id %.0f is out of vocabulary", t->valuedouble);
        uint64_t id = (uint64_t)t->valuedouble;
        *seed = hash64(&id, sizeof(id), *seed);
        n++;
    }
    if (n == 0)
        return fail(err, 400, "prompt", "Prompt cannot be empty");
    *count = n;
    return 0;
}

static int parse_prompt(const cJSON *root, struct gen_request *out, bool echo,
                        struct api_error *err)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (!p || cJSON_IsNull(p))
        return fail(err, 400, "prompt", "'prompt' is a required field");
    if (cJSON_IsArray(p)) {
        int n = cJSON_GetArraySize(p);
        if (n == 0)
            return fail(err, 400, "prompt", "Prompt cannot be empty");
        const cJSON *first = cJSON_GetArrayItem(p, 0);
        if (cJSON_IsNumber(first))
            return count_token_ids(p, &out->prompt_tokens, &out->seed, err);
        if (n > 1)
            return fail(err, 400, "prompt",
                        "batched prompts (%d in 'prompt') are not supported by ebb engine: "
                        "send one prompt per request", n);
        if (cJSON_IsArray(first))
            return count_token_ids(first, &out->prompt_tokens, &out->seed, err);
        p = first;
    }
    if (!cJSON_IsString(p))
        return fail(err, 400, "prompt",
                    "'prompt' must be a string, a list of strings or a list of token ids, got %s",
                    json_type_name(p));
    size_t len = strlen(p->valuestring);
    if (len == 0)
        return fail(err, 400, "prompt", "Prompt cannot be empty");
    out->prompt_tokens = (int)tok_count(p->valuestring, len) + 1; /* + <|begin_of_text|> */
    out->seed = hash64(p->valuestring, len, out->seed);
    if (echo) {
        out->echo_prompt = strdup(p->valuestring);
        if (!out->echo_prompt)
            return fail(err, 500, NULL, "out of memory");
    }
    return 0;
}

/* Text of a message's content: a string, or an array of parts whose "text"
 * parts count. Returns the token count or -1 after filling err. */
static long content_tokens(const cJSON *content, uint64_t *seed, struct api_error *err)
{
    if (!content || cJSON_IsNull(content))
        return 0;
    if (cJSON_IsString(content)) {
        size_t len = strlen(content->valuestring);
        *seed = hash64(content->valuestring, len, *seed);
        return (long)tok_count(content->valuestring, len);
    }
    if (!cJSON_IsArray(content)) {
        fail(err, 400, "messages", "message 'content' must be a string or a list of parts, got %s",
             json_type_name(content));
        return -1;
    }
    long total = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsObject(part) || !cJSON_IsString(type)) {
            fail(err, 400, "messages", "each content part must be an object with a 'type'");
            return -1;
        }
        if (strcmp(type->valuestring, "text") != 0) {
            fail(err, 400, "messages", "content parts of type '%.64s' are not supported by ebb "
                 "engine (text only)", type->valuestring);
            return -1;
        }
        if (!cJSON_IsString(text)) {
            fail(err, 400, "messages", "a text part needs a string 'text'");
            return -1;
        }
        size_t len = strlen(text->valuestring);
        *seed = hash64(text->valuestring, len, *seed);
        total += (long)tok_count(text->valuestring, len);
    }
    return total;
}

static int parse_messages(const cJSON *root, struct gen_request *out, struct api_error *err)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!msgs || cJSON_IsNull(msgs))
        return fail(err, 400, "messages", "'messages' is a required field");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return fail(err, 400, "messages", "'messages' must be a non-empty list");
    long tokens = 0;
    int n = 0, has_system = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role))
            return fail(err, 400, "messages", "messages[%d] must be an object with a string 'role'",
                        n);
        if (n == 0 && strcmp(role->valuestring, "system") == 0)
            has_system = 1;
        long t = content_tokens(cJSON_GetObjectItemCaseSensitive(m, "content"), &out->seed, err);
        if (t < 0)
            return -EINVAL;
        tokens += t;
        if (tokens > INT_MAX / 2)
            return fail(err, 400, "messages", "'messages' are too long");
        n++;
    }
    out->prompt_tokens = (int)(tokens + (long)tok_chat_overhead((size_t)n, has_system));
    return 0;
}

/* seed: any 64-bit integer, as vLLM accepts; it fixes the output text. */
static int read_seed(const cJSON *root, struct gen_request *out, struct api_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (!v || cJSON_IsNull(v))
        return 0;
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < -9223372036854775808.0 ||
        d >= 9223372036854775808.0)
        return fail(err, 400, "seed", "'seed' must be a 64-bit integer, got %s", json_type_name(v));
    out->seed = mix64((uint64_t)(int64_t)d);
    return 0;
}

static int parse_stream(const cJSON *root, struct gen_request *out, struct api_error *err)
{
    int e = get_bool(root, "stream", &out->stream, err);
    if (e)
        return e;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (!so || cJSON_IsNull(so))
        return 0;
    if (!cJSON_IsObject(so))
        return fail(err, 400, "stream_options", "'stream_options' must be an object, got %s",
                    json_type_name(so));
    if (!out->stream)
        return fail(err, 400, "stream_options",
                    "Stream options can only be defined when `stream=True`.");
    e = get_bool(so, "include_usage", &out->include_usage, err);
    if (!e)
        e = get_bool(so, "continuous_usage_stats", &out->continuous_usage, err);
    return e;
}

static int check_unsupported(const cJSON *root, enum api_kind kind, struct api_error *err)
{
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(root, "logprobs");
    bool wants_logprobs = lp && !cJSON_IsNull(lp) && !cJSON_IsFalse(lp);
    if (wants_logprobs)
        return fail(err, 400, "logprobs", "logprobs are not simulated by ebb engine");
    int n = 1;
    int e = get_int(root, "n", 1, 128, &n, NULL, err);
    if (e)
        return e;
    if (n != 1)
        return fail(err, 400, "n", "n must be 1: ebb engine simulates one sequence per request, "
                    "got %d", n);
    (void)kind;
    return 0;
}

static int parse_lengths(const cJSON *root, const struct api_limits *lim, struct gen_request *out,
                         struct api_error *err)
{
    bool given = false;
    int max_tokens = 0;
    int e = get_int(root, "max_tokens", 1, INT_MAX, &max_tokens, &given, err);
    if (!e && out->kind == API_CHAT && !given)
        e = get_int(root, "max_completion_tokens", 1, INT_MAX, &max_tokens, &given, err);
    if (e)
        return e;
    const char *what = out->kind == API_CHAT ? "messages" : "prompt";
    if (out->prompt_tokens >= lim->max_model_len)
        return fail(err, 400, NULL,
                    "This model's maximum context length is %d tokens. However, your request has "
                    "%d input tokens. Please reduce the length of the input %s.",
                    lim->max_model_len, out->prompt_tokens, what);
    if (!given)
        max_tokens = out->kind == API_CHAT ? lim->max_model_len - out->prompt_tokens
                                           : lim->default_max_tokens;
    if ((long long)out->prompt_tokens + max_tokens > lim->max_model_len)
        return fail(err, 400, NULL,
                    "This model's maximum context length is %d tokens. However, you requested "
                    "%lld tokens (%d in the %s, %d in the completion). Please reduce the length "
                    "of the %s or completion.",
                    lim->max_model_len, (long long)out->prompt_tokens + max_tokens,
                    out->prompt_tokens, what, max_tokens, what);
    out->max_tokens = max_tokens;
    e = get_int(root, "min_tokens", 0, max_tokens, &out->min_tokens, NULL, err);
    if (e)
        return e;
    bool ignore_eos = false;
    e = get_bool(root, "ignore_eos", &ignore_eos, err);
    if (e)
        return e;
    out->stop_after = ignore_eos ? INT_MAX
                                 : textgen_natural_length(out->seed, lim->natural_min,
                                                          lim->natural_max);
    if (out->stop_after < out->min_tokens)
        out->stop_after = out->min_tokens;
    return 0;
}

int api_parse_request(enum api_kind kind, const char *body, size_t len,
                      const struct api_limits *lim, struct gen_request *out,
                      struct api_error *err)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        return fail(err, 400, NULL, "request body is not valid JSON (error near byte %zu)", at);
    }
    int e = 0;
    if (!cJSON_IsObject(root)) {
        e = fail(err, 400, NULL, "request body must be a JSON object, got %s",
                 json_type_name(root));
        goto done;
    }
    bool echo = false;
    e = resolve_model(root, lim, out, err);
    if (!e)
        e = check_unsupported(root, kind, err);
    if (!e) /* vLLM only requires temperature >= 0 (OpenAI's 2 is not enforced) */
        e = check_number(root, "temperature", 0, 1e9, err);
    if (!e)
        e = check_number(root, "top_p", 1e-9, 1, err);
    if (!e)
        e = parse_stream(root, out, err);
    if (!e && kind == API_COMPLETION)
        e = get_bool(root, "echo", &echo, err);
    if (!e)
        e = read_seed(root, out, err);
    if (!e)
        e = kind == API_CHAT ? parse_messages(root, out, err) : parse_prompt(root, out, echo, err);
    if (!e)
        e = parse_lengths(root, lim, out, err);
done:
    cJSON_Delete(root);
    if (e)
        gen_request_release(out);
    return e;
}

void gen_request_release(struct gen_request *r)
{
    free(r->echo_prompt);
    r->echo_prompt = NULL;
}
