/* fuzz target api_request: api_parse_request, the validation of an OpenAI
 * completions or chat body. Every input is parsed four times: as a
 * completions and as a chat body, against a small context (where the
 * overflow checks fire) and against the engine's default 131072 tokens.
 * Input: the body, in a block of exactly its size (not NUL-terminated). */
#include "api_check.h"
#include "fuzz.h"

static const char *const names[] = {"meta-llama/Llama-3.1-8B-Instruct", "llama"};

static const struct api_limits limits[] = {
    {.max_model_len = 64, .served_names = names, .nserved = 2, .default_max_tokens = 16,
     .natural_min = 1, .natural_max = 8},
    {.max_model_len = 131072, .served_names = names, .nserved = 2, .default_max_tokens = 16,
     .natural_min = 128, .natural_max = 512},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        api_check_parse(API_COMPLETION, body, size, &limits[i]);
        api_check_parse(API_CHAT, body, size, &limits[i]);
    }
    return 0;
}
