/* fuzz target request_path: bytes on the wire to a validated generation
 * request, as the engine serves them: the HTTP request parser (driven as
 * in http_request), then, for a POST to /v1/completions or
 * /v1/chat/completions, api_parse_request on the body the parser decoded
 * (NUL-terminated by struct buf, as the engine passes it). Input: see
 * http_drive.h; bit 2 of byte 0 picks a small context (64 tokens) instead
 * of the engine's default. */
#include <string.h>

#include "api_check.h"
#include "fuzz.h"
#include "http_drive.h"

static const char *const names[] = {"meta-llama/Llama-3.1-8B-Instruct"};

static struct api_limits limits[] = {
    {.max_model_len = 131072, .served_names = names, .nserved = 1, .default_max_tokens = 16,
     .natural_min = 128, .natural_max = 512},
    {.max_model_len = 64, .served_names = names, .nserved = 1, .default_max_tokens = 16,
     .natural_min = 1, .natural_max = 8},
};

static bool path_is(const char *path, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(path, lit, len) == 0;
}

/* The engine's routing for the two generation endpoints (api.c). */
static void on_message(struct http_parser *p, void *ud)
{
    const struct api_limits *lim = ud;
    const char *path, *query;
    size_t path_len, query_len;
    http_parser_path(p, &path, &path_len, &query, &query_len);
    if (p->method != HTTP_M_POST)
        return;
    const char *body = p->body.data ? p->body.data : "";
    if (path_is(path, path_len, "/v1/completions"))
        api_check_parse(API_COMPLETION, body, p->body.len, lim);
    else if (path_is(path, path_len, "/v1/chat/completions"))
        api_check_parse(API_CHAT, body, p->body.len, lim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct api_limits *lim = &limits[(data[0] >> 2) & 1];
    http_drive(data, size, false, on_message, lim);
    return 0;
}
