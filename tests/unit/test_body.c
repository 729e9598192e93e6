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
        if (st == BODY_OK && (rb.rewritten || fwd.len != 0))
            fail_msg("%s: a body without an alias must go upstream as it came", cases[i].name);
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
    assert_true(rb.rewritten);
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
    /* Only a rewritten body is forwarded from the buffer; it must fit. */
    struct alias aliases[] = {{"m", "a-model-name-longer-than-the-limit"}};
    const char *body = "{\"model\":\"m\",\"prompt\":\"x\"}";
    struct buf fwd = BUF_INIT(10);
    struct route_body rb;
    assert_int_equal(route_body_parse(body, strlen(body), aliases, 1, NULL, &fwd, NULL, &rb),
                     BODY_TOO_LARGE);
    buf_release(&fwd);
}

static void last_duplicate_key_wins(void **state)
{
    /* Python's json keeps the last of repeated keys: production-stack routes
     * on it and the engine behind us serves it. */
    struct alias aliases[] = {{"b", "bee"}};
    static const struct {
        const char *name, *body, *session_field, *model, *session;
        size_t naliases;
    } cases[] = {
        {"the last model counts", "{\"model\":\"a\",\"model\":\"b\"}", NULL, "b", "", 0},
        {"a last model that is not a string is no model", "{\"model\":\"a\",\"model\":1}", NULL,
         "", "", 0},
        {"the last model is the one rewritten", "{\"model\":\"a\",\"model\":\"b\"}", NULL, "bee",
         "", 1},
        {"the last session field counts", "{\"model\":\"m\",\"user\":\"u1\",\"user\":\"u2\"}",
         "user", "m", "u2", 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct buf fwd = BUF_INIT(1024);
        struct route_body rb;
        route_body_parse(cases[i].body, strlen(cases[i].body), aliases, cases[i].naliases,
                         cases[i].session_field, &fwd, NULL, &rb);
        if (strcmp(rb.model, cases[i].model) != 0 || strcmp(rb.session, cases[i].session) != 0)
            fail_msg("%s: model \"%s\" session \"%s\"", cases[i].name, rb.model, rb.session);
        if (cases[i].naliases && !strstr(fwd.data, "\"model\":\"bee\"}"))
            fail_msg("%s: forwarded %s", cases[i].name, fwd.data);
        buf_release(&fwd);
    }
}

/* Bodies for the fast path's rows: whether its scan answers, and what. */
static const struct {
    const char *name, *body;
    bool fast;
    const char *model;
} scan_cases[] = {
    {"fast: the common body", "{\"model\":\"m\",\"prompt\":\"Once upon a time,\",\"max_tokens\":1}",
     true, "m"},
    {"fast: whitespace, nesting, every kind of value",
     " {\r\n\t\"messages\": [{\"role\": \"user\", \"content\": \"a\\nb \\\"q\\\" \\/ \\\\\"}],\n"
     "  \"model\" : \"org/Model-1:8b\", \"n\": -1.5e+3, \"z\": 0, \"t\": true, \"f\": false,"
     " \"x\": null, \"o\": {}, \"a\": [] } \n",
     true, "org/Model-1:8b"},
    {"fast: utf-8 passes through as cJSON copies it", "{\"model\":\"caf\xc3\xa9\"}", true,
     "caf\xc3\xa9"},
    {"fast: an escaped key is never model", "{\"mod\\nel\":\"x\",\"model\":\"m\"}", true, "m"},
    {"fast: model only at the top level counts", "{\"o\":{\"model\":\"x\"},\"model\":\"m\"}", true,
     "m"},
    {"slow: model repeated (the last counts)", "{\"model\":\"a\",\"model\":\"b\"}", false, "b"},
    {"slow: model with an escape", "{\"model\":\"a\\/b\"}", false, "a/b"},
    {"slow: a \\u escape anywhere", "{\"model\":\"m\",\"p\":\"\\u00e9\"}", false, "m"},
    {"slow: a lone surrogate cJSON refuses", "{\"model\":\"m\",\"p\":\"\\ud800\"}", false, ""},
    {"slow: a raw control byte in a string", "{\"model\":\"m\",\"p\":\"a\tb\"}", false, "m"},
    {"slow: model not a string", "{\"model\":[\"m\"]}", false, ""},
    {"slow: empty model", "{\"model\":\"\"}", false, ""},
    {"slow: no model", "{\"prompt\":\"x\"}", false, ""},
    {"slow: model of 256 bytes is cut as snprintf cuts it", NULL, false, NULL},
    {"slow: bytes after the object (cJSON ignores them)", "{\"model\":\"m\"} x", false, "m"},
    {"slow: a form feed is not JSON whitespace", "{\"model\":\"m\"}\f", false, "m"},
    {"slow: a leading zero cJSON reads", "{\"model\":\"m\",\"n\":01}", false, "m"},
    {"slow: a number past 32 characters",
     "{\"model\":\"m\",\"n\":1234567890123456789012345678901234567890}", false, "m"},
    {"slow: a trailing comma", "{\"model\":\"m\",}", false, ""},
    {"slow: truncated", "{\"model\":\"m\"", false, ""},
    {"slow: an array", "[{\"model\":\"m\"}]", false, ""},
    {"slow: nesting past 32",
     "{\"model\":\"m\",\"d\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1"
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     false, "m"},
    {"slow: a byte order mark", "\xef\xbb\xbf{\"model\":\"m\"}", false, "m"},
};

/* Row i's body; a NULL body is the one with a 256-byte model. */
static const char *scan_body(size_t i)
{
    static char long_body[400];
    snprintf(long_body, sizeof(long_body), "{\"model\":\"%0256d\"}", 0);
    return scan_cases[i].body ? scan_cases[i].body : long_body;
}

static void fast_path_rows(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(scan_cases); i++) {
        const char *body = scan_body(i);
        const char *m;
        size_t n;
        bool fast = route_body_scan_model(body, strlen(body), &m, &n);
        if (fast != scan_cases[i].fast)
            fail_msg("%s: the scan %s", scan_cases[i].name, fast ? "answered" : "did not answer");
        struct buf fwd = BUF_INIT(1024);
        struct route_body rb;
        route_body_parse(body, strlen(body), NULL, 0, NULL, &fwd, NULL, &rb);
        if (scan_cases[i].model && strcmp(rb.model, scan_cases[i].model) != 0)
            fail_msg("%s: model \"%s\"", scan_cases[i].name, rb.model);
        if (!scan_cases[i].model && strlen(rb.model) != 255)
            fail_msg("%s: model of %zu bytes", scan_cases[i].name, strlen(rb.model));
        buf_release(&fwd);
    }
}

static void fast_path_agrees_with_cjson(void **state)
{
    /* Every row, with and without an alias for its model: both readings
     * give the same status, model, session and forwarded bytes. */
    struct alias aliases[] = {{"m", "rewritten"}};
    for (size_t i = 0; i < ARRAY_LEN(scan_cases); i++) {
        const char *body = scan_body(i);
        for (size_t na = 0; na <= 1; na++) {
            struct buf f1 = BUF_INIT(1024), f2 = BUF_INIT(1024);
            struct route_body r1, r2;
            enum route_body_status s1 =
                route_body_parse(body, strlen(body), aliases, na, NULL, &f1, NULL, &r1);
            enum route_body_status s2 =
                route_body_parse_full(body, strlen(body), aliases, na, NULL, &f2, NULL, &r2);
            if (s1 != s2 || memcmp(&r1, &r2, sizeof(r1)) != 0 || f1.len != f2.len ||
                (f1.len && memcmp(f1.data, f2.data, f1.len) != 0))
                fail_msg("%s (%zu aliases): the fast path disagrees with cJSON", scan_cases[i].name,
                         na);
            buf_release(&f1);
            buf_release(&f2);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses),
        cmocka_unit_test(production_stack_messages),
        cmocka_unit_test(alias_rewrites_model),
        cmocka_unit_test(session_field_and_prompt),
        cmocka_unit_test(forward_limit_is_too_large),
        cmocka_unit_test(last_duplicate_key_wins),
        cmocka_unit_test(fast_path_rows),
        cmocka_unit_test(fast_path_agrees_with_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
