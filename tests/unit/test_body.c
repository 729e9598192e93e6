/* body: the router's reading of request bodies, one row per rule. */
#include "unit.h"

#include "router/body.h"

static void statuses(void **state)
{
    static const struct {
        const char *name, *body;
        enum route_body_status want;
        const char *model;
    } cases[] = {
        {"invalid JSON", "{nope", BODY_NOT_JSON, ""},
        {"empty body", "", BODY_NOT_JSON, ""},
        {"an array is not an object", "[1,2]", BODY_NOT_OBJECT, ""},
        {"a string is not an object", "\"x\"", BODY_NOT_OBJECT, ""},
        {"missing model", "{\"prompt\":\"x\"}", BODY_NO_MODEL, ""},
        {"model not a string", "{\"model\":3}", BODY_NO_MODEL, ""},
        {"empty model", "{\"model\":\"\"}", BODY_NO_MODEL, ""},
        {"valid", "{\"model\":\"m\",\"prompt\":\"x\"}", BODY_OK, "m"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct buf fwd = BUF_INIT(1024);
        struct route_body rb;
        enum route_body_status st =
            route_body_parse(cases[i].body, strlen(cases[i].body), NULL, 0, NULL, &fwd, NULL, &rb);
        if (st != cases[i].want || strcmp(rb.model, cases[i].model) != 0)
            fail_msg("%s: status %d model \"%s\"", cases[i].name, st, rb.model);
        if (st == BODY_OK && strcmp(fwd.data, cases[i].body) != 0)
            fail_msg("%s: the body was not forwarded byte for byte", cases[i].name);
        buf_release(&fwd);
    }
}

static void production_stack_messages(void **state)
{
    assert_string_equal(route_body_error(BODY_NOT_JSON),
                        "Invalid request: request body must be valid JSON.");
    assert_string_equal(route_body_error(BODY_NOT_OBJECT),
                        "Invalid request: request body must be a JSON object.");
    assert_string_equal(route_body_error(BODY_NO_MODEL),
                        "Invalid request: missing 'model' in request body.");
}

static void alias_rewrites_model(void **state)
{
    struct alias aliases[] = {{"llama", "meta-llama/Llama-3.1-8B-Instruct"}};
    const char *body = "{\"model\": \"llama\", \"prompt\": \"x\"}";
    struct buf fwd = BUF_INIT(1024);
    struct route_body rb;
    assert_int_equal(route_body_parse(body, strlen(body), aliases, 1, NULL, &fwd, NULL, &rb), BODY_OK);
    assert_string_equal(rb.model, "meta-llama/Llama-3.1-8B-Instruct");
    assert_non_null(strstr(fwd.data, "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\""));
    buf_release(&fwd);
}

static void session_field_and_prompt(void **state)
{
    const char *body = "{\"model\":\"m\",\"user\":\"u-1\",\"messages\":[{\"role\":\"system\","
                       "\"content\":\"sys\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                       "\"text\":\"hi\"}]}]}";
    struct buf fwd = BUF_INIT(1024), prompt = BUF_INIT(5);
    struct route_body rb;
    assert_int_equal(route_body_parse(body, strlen(body), NULL, 0, "user", &fwd, &prompt, &rb),
                     BODY_OK);
    assert_string_equal(rb.session, "u-1");
    assert_int_equal(rb.session_len, 3);
    assert_string_equal(prompt.data, "sys\nh"); /* joined by '\n', cut at the limit */
    buf_release(&fwd);
    buf_release(&prompt);
}

static void forward_limit_is_too_large(void **state)
{
    const char *body = "{\"model\":\"m\",\"prompt\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}";
    struct buf fwd = BUF_INIT(10);
    struct route_body rb;
    assert_int_equal(route_body_parse(body, strlen(body), NULL, 0, NULL, &fwd, NULL, &rb),
                     BODY_TOO_LARGE);
    buf_release(&fwd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses),
        cmocka_unit_test(production_stack_messages),
        cmocka_unit_test(alias_rewrites_model),
        cmocka_unit_test(session_field_and_prompt),
        cmocka_unit_test(forward_limit_is_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
