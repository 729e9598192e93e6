/* openai: the base URL, the script's request, and reading events and error
 * bodies as OpenAI, vLLM and production-stack write them. */
#include "../unit/unit.h"

#include <cjson/cJSON.h>
#include <errno.h>

#include "engine/tokenizer.h"
#include "load/openai.h"

static void url_rules(void **state)
{
    static const struct {
        const char *rule, *url;
        int rc;
        const char *host;
        int port;
        const char *path;
    } cases[] = {
        {"the script's default", "http://localhost:30080/v1/", 0, "localhost", 30080, "/v1"},
        {"no trailing slash", "http://127.0.0.1:8000/v1", 0, "127.0.0.1", 8000, "/v1"},
        {"no port is 80", "http://router/v1", 0, "router", 80, "/v1"},
        {"no path", "http://h:1", 0, "h", 1, ""},
        {"https is not supported", "https://h/v1", -EINVAL, "", 0, ""},
        {"no scheme", "localhost:8000/v1", -EINVAL, "", 0, ""},
        {"port out of range", "http://h:70000/v1", -EINVAL, "", 0, ""},
        {"port not a number", "http://h:x/v1", -EINVAL, "", 0, ""},
        {"no host", "http:///v1", -EINVAL, "", 0, ""},
        {"no CR or LF in the path", "http://h/v1\r\nX: y", -EINVAL, "", 0, ""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char host[64] = "", path[64] = "";
        int port = 0;
        int rc = openai_parse_url(cases[i].url, host, sizeof(host), &port, path, sizeof(path));
        if (rc != cases[i].rc ||
            (rc == 0 &&
             (strcmp(host, cases[i].host) || port != cases[i].port || strcmp(path, cases[i].path))))
            fail_msg("%s: rc %d host %s port %d path %s", cases[i].rule, rc, host, port, path);
    }
}

static void request_is_the_scripts(void **state)
{
    struct buf head = BUF_INIT(4096), body = BUF_INIT(1 << 20);
    struct openai_request rq = {.path = "/v1",
                                .hostport = "127.0.0.1:8000",
                                .api_key = "EMPTY",
                                .model = "m\"x",
                                .index = 3,
                                .prompt_len = 2,
                                .max_tokens = 80};
    assert_int_equal(openai_format_request(&head, &body, &rq), 0);
    assert_non_null(strstr(head.data, "POST /v1/completions HTTP/1.1\r\n"));
    assert_non_null(strstr(head.data, "Authorization: Bearer EMPTY\r\n"));
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", body.len);
    assert_non_null(strstr(head.data, cl));
    cJSON *j = cJSON_Parse(body.data);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "m\"x");
    assert_string_equal(cJSON_GetObjectItem(j, "prompt")->valuestring,
                        "Prompt 3 with dummy text Hi Hi how are you?");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "echo")));
    assert_int_equal(cJSON_GetObjectItem(j, "temperature")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(j, "max_tokens")->valueint, 80);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
    assert_true(cJSON_IsTrue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stream_options"), "include_usage")));
    assert_null(cJSON_GetObjectItem(j, "ignore_eos"));
    cJSON_Delete(j);

    rq.chat = true;
    rq.ignore_eos = true;
    assert_int_equal(openai_format_request(&head, &body, &rq), 0);
    assert_non_null(strstr(head.data, "POST /v1/chat/completions HTTP/1.1\r\n"));
    j = cJSON_Parse(body.data);
    assert_non_null(j);
    const cJSON *msg = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 0);
    assert_string_equal(cJSON_GetObjectItem(msg, "role")->valuestring, "user");
    assert_string_equal(cJSON_GetObjectItem(msg, "content")->valuestring,
                        "Prompt 3 with dummy text Hi Hi how are you?");
    assert_null(cJSON_GetObjectItem(j, "echo"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ignore_eos")));
    cJSON_Delete(j);
    buf_release(&head);
    buf_release(&body);
}

static void prompt_tokens_are_met(void **state)
{
    static const long targets[] = {12, 13, 100, 3011, 20000};
    static const long indexes[] = {0, 7, 12345};
    for (size_t i = 0; i < ARRAY_LEN(targets); i++) {
        for (size_t k = 0; k < ARRAY_LEN(indexes); k++) {
            struct buf b = BUF_INIT(1 << 20);
            assert_int_equal(openai_append_prompt(&b, indexes[k], targets[i], 0), 0);
            long got = (long)tok_count(b.data, b.len) + 1; /* + BOS, as vLLM counts */
            if (got != targets[i])
                fail_msg("index %ld, %ld tokens asked: the prompt has %ld", indexes[k], targets[i],
                         got);
            buf_release(&b);
        }
    }
}

static void error_bodies(void **state)
{
    static const struct {
        const char *rule, *json, *want;
    } cases[] = {
        {"OpenAI and vLLM >= 0.10.1", "{\"error\":{\"message\":\"too long\",\"code\":400}}",
         "too long"},
        {"older vLLM", "{\"object\":\"error\",\"message\":\"bad\",\"code\":400}", "bad"},
        {"production-stack's router", "{\"error\":\"Model 'x' not found.\"}",
         "Model 'x' not found."},
        {"a token chunk is not an error", "{\"choices\":[{\"text\":\"a\"}]}", NULL},
        {"a message alone is not an error", "{\"message\":\"hello\"}", NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        cJSON *j = cJSON_Parse(cases[i].json);
        const char *got = openai_error_message(j);
        if ((got == NULL) != (cases[i].want == NULL) || (got && strcmp(got, cases[i].want)))
            fail_msg("%s: got %s", cases[i].rule, got ? got : "NULL");
        cJSON_Delete(j);
    }
}

static void events(void **state)
{
    cJSON *j = cJSON_Parse("{\"choices\":[{\"index\":0,\"text\":\" hi\"}],\"usage\":null}");
    long p = -1, c = -1;
    assert_string_equal(openai_event_text(j, false), " hi");
    assert_null(openai_event_text(j, true));
    assert_false(openai_event_usage(j, &p, &c));
    cJSON_Delete(j);
    j = cJSON_Parse("{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}");
    assert_string_equal(openai_event_text(j, true), ""); /* role chunk: no token */
    cJSON_Delete(j);
    j = cJSON_Parse("{\"choices\":[],\"usage\":{\"prompt_tokens\":3011,\"completion_tokens\":80}}");
    assert_null(openai_event_text(j, false));
    assert_true(openai_event_usage(j, &p, &c));
    assert_int_equal(p, 3011);
    assert_int_equal(c, 80);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_rules),
        cmocka_unit_test(request_is_the_scripts),
        cmocka_unit_test(prompt_tokens_are_met),
        cmocka_unit_test(error_bodies),
        cmocka_unit_test(events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
