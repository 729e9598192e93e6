/* request: every way a body can be wrong maps to vLLM's status and a message
 * that names the field; valid bodies resolve their parameters. */
#include "unit.h"

#include <limits.h>

#include "engine/request.h"

static const char *const names[] = {"meta-llama/Llama-3.1-8B-Instruct", "llama"};

static struct api_limits limits(void)
{
    return (struct api_limits){
        .max_model_len = 4096,
        .served_names = names,
        .nserved = 2,
        .default_max_tokens = 16,
        .natural_min = 100,
        .natural_max = 200,
    };
}

static void bad_bodies_get_the_right_status(void **state)
{
    static const struct {
        const char *name;
        enum api_kind kind;
        const char *body;
        int status;
        const char *message_has;
    } cases[] = {
        {"malformed JSON", API_COMPLETION, "{\"prompt\": ", 400, "not valid JSON"},
        {"empty body", API_COMPLETION, "", 400, "not valid JSON"},
        {"JSON that is not an object", API_COMPLETION, "[1,2]", 400, "must be a JSON object"},
        {"unknown model", API_COMPLETION, "{\"model\":\"gpt-4\",\"prompt\":\"x\"}", 404,
         "The model `gpt-4` does not exist."},
        {"model of the wrong type", API_COMPLETION, "{\"model\":5,\"prompt\":\"x\"}", 400,
         "'model' must be a string"},
        {"missing prompt", API_COMPLETION, "{\"model\":\"llama\"}", 400, "'prompt' is a required"},
        {"prompt of the wrong type", API_COMPLETION, "{\"prompt\":{}}", 400, "'prompt' must be"},
        {"empty prompt", API_COMPLETION, "{\"prompt\":\"\"}", 400, "Prompt cannot be empty"},
        {"batched prompts", API_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}", 400, "batched prompts"},
        {"bad token ids", API_COMPLETION, "{\"prompt\":[1,-2]}", 400, "token ids"},
        {"token id past the vocabulary", API_COMPLETION, "{\"prompt\":[1e30]}", 400,
         "out of vocabulary"},
        {"empty token-id list", API_COMPLETION, "{\"prompt\":[[]]}", 400, "Prompt cannot be empty"},
        {"seed not an integer", API_COMPLETION, "{\"prompt\":\"x\",\"seed\":1.5}", 400,
         "'seed' must be a 64-bit integer"},
        {"negative max_tokens", API_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":-1}", 400,
         "max_tokens must be at least 1, got -1."},
        {"zero max_tokens", API_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":0}", 400,
         "max_tokens must be at least 1"},
        {"fractional max_tokens", API_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":1.5}", 400,
         "'max_tokens' must be an integer"},
        {"string max_tokens", API_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":\"10\"}", 400,
         "'max_tokens' must be an integer"},
        {"huge max_tokens", API_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":1e300}", 400,
         "max_tokens must be at most"},
        {"prompt + max_tokens over the context", API_COMPLETION,
         "{\"prompt\":\"x\",\"max_tokens\":4095}", 400, "maximum context length is 4096 tokens"},
        {"n above 1", API_COMPLETION, "{\"prompt\":\"x\",\"n\":2}", 400, "n must be 1"},
        {"stream not a boolean", API_COMPLETION, "{\"prompt\":\"x\",\"stream\":\"yes\"}", 400,
         "'stream' must be a boolean"},
        {"stream_options without stream", API_COMPLETION,
         "{\"prompt\":\"x\",\"stream_options\":{\"include_usage\":true}}", 400,
         "Stream options can only be defined when `stream=True`."},
        {"negative temperature", API_COMPLETION, "{\"prompt\":\"x\",\"temperature\":-1}", 400,
         "temperature must be in"},
        {"logprobs asked for", API_COMPLETION, "{\"prompt\":\"x\",\"logprobs\":2}", 400,
         "logprobs are not simulated"},
        {"chat without messages", API_CHAT, "{\"model\":\"llama\"}", 400,
         "'messages' is a required"},
        {"chat with empty messages", API_CHAT, "{\"messages\":[]}", 400, "non-empty list"},
        {"chat message without role", API_CHAT, "{\"messages\":[{\"content\":\"hi\"}]}", 400,
         "messages[0] must be an object with a string 'role'"},
        {"chat content of the wrong type", API_CHAT,
         "{\"messages\":[{\"role\":\"user\",\"content\":3}]}", 400, "'content' must be"},
        {"chat image part", API_CHAT,
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400,
         "image_url"},
    };
    struct api_limits lim = limits();
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct gen_request r;
        struct api_error err;
        int rc = api_parse_request(cases[i].kind, cases[i].body, strlen(cases[i].body), &lim, &r,
                                   &err);
        if (rc == 0)
            fail_msg("%s: accepted", cases[i].name);
        if (err.status != cases[i].status || !strstr(err.message, cases[i].message_has))
            fail_msg("%s: got %d \"%s\"", cases[i].name, err.status, err.message);
    }
}

static void completion_defaults(void **state)
{
    struct api_limits lim = limits();
    const char *body = "{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\","
                       "\"prompt\":\"Once upon a time,\"}";
    struct gen_request r;
    struct api_error err;
    assert_int_equal(api_parse_request(API_COMPLETION, body, strlen(body), &lim, &r, &err), 0);
    assert_int_equal(r.prompt_tokens, 6); /* 5 + <|begin_of_text|> */
    assert_int_equal(r.max_tokens, 16);   /* vLLM's completion default */
    assert_false(r.stream);
    assert_string_equal(r.model, names[0]);
    assert_in_range(r.stop_after, 100, 200);
    gen_request_release(&r);
}

static void chat_max_tokens_defaults_to_remaining_context(void **state)
{
    struct api_limits lim = limits();
    const char *body = "{\"model\":\"llama\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                       "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
    struct gen_request r;
    struct api_error err;
    assert_int_equal(api_parse_request(API_CHAT, body, strlen(body), &lim, &r, &err), 0);
    assert_int_equal(r.max_tokens, 4096 - r.prompt_tokens);
    assert_true(r.stream);
    assert_true(r.include_usage);
    assert_string_equal(r.model, "llama");
    gen_request_release(&r);
}

static void same_prompt_same_seed_and_ignore_eos(void **state)
{
    struct api_limits lim = limits();
    const char *body = "{\"prompt\":\"abc\",\"max_tokens\":80,\"ignore_eos\":true}";
    struct gen_request a, b;
    struct api_error err;
    assert_int_equal(api_parse_request(API_COMPLETION, body, strlen(body), &lim, &a, &err), 0);
    assert_int_equal(api_parse_request(API_COMPLETION, body, strlen(body), &lim, &b, &err), 0);
    assert_true(a.seed == b.seed);
    assert_int_equal(a.stop_after, INT_MAX);
    gen_request_release(&a);
    gen_request_release(&b);
}

static void token_id_prompts_count_ids(void **state)
{
    struct api_limits lim = limits();
    const char *body = "{\"prompt\":[[1,2,3,4]],\"max_tokens\":1}";
    struct gen_request r;
    struct api_error err;
    assert_int_equal(api_parse_request(API_COMPLETION, body, strlen(body), &lim, &r, &err), 0);
    assert_int_equal(r.prompt_tokens, 4);
    gen_request_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_bodies_get_the_right_status),
        cmocka_unit_test(completion_defaults),
        cmocka_unit_test(chat_max_tokens_defaults_to_remaining_context),
        cmocka_unit_test(same_prompt_same_seed_and_ignore_eos),
        cmocka_unit_test(token_id_prompts_count_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
