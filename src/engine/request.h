/* request: validating an OpenAI completions or chat request body into the
 * parameters of one simulated generation. Pure: bytes in, a struct or an
 * error (status, type, message, param) out, as vLLM reports them. */
#ifndef EBB_ENGINE_REQUEST_H
#define EBB_ENGINE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_kind { API_COMPLETION, API_CHAT };

struct api_error {
    int status;         /* 400, 404, ... */
    const char *type;   /* "BadRequestError", "NotFoundError" */
    const char *param;  /* the offending field, or NULL */
    char message[512];
};

struct api_limits {
    int max_model_len;
    const char *const *served_names; /* the first is the default model */
    size_t nserved;
    int default_max_tokens;          /* completions: 16, as vLLM */
    int natural_min, natural_max;    /* simulated EOS position range, tokens */
};

struct gen_request {
    enum api_kind kind;
    const char *model;  /* one of served_names */
    int prompt_tokens;
    int max_tokens;     /* resolved: given, default, or what the context leaves */
    int min_tokens;
    int stop_after;     /* simulated EOS; INT_MAX with ignore_eos */
    uint64_t seed;      /* fixes the output text */
    bool stream;
    bool include_usage;
    bool continuous_usage;
    char *echo_prompt;  /* completions with echo: the prompt text, owned; else NULL */
};

/* Parses and validates body. 0, or -EINVAL with *err filled in. On success
 * release the request with gen_request_release. */
int api_parse_request(enum api_kind kind, const char *body, size_t len,
                      const struct api_limits *lim, struct gen_request *out,
                      struct api_error *err);
void gen_request_release(struct gen_request *r);

#endif
