/* trace: JSONL parsing, good traces and bad lines with clear errors. */
#include "../unit/unit.h"

#include <errno.h>

#include "load/trace.h"

static void trace_parses_both_namings(void **state)
{
    static const char text[] =
        "{\"arrival\": 0, \"prompt_tokens\": 100, \"output_tokens\": 10}\n"
        "\n"
        "{\"arrival\": 0.5, \"prompt_tokens\": 200, \"output_tokens\": 20, \"extra\": true}\r\n"
        "{\"timestamp\": 1500, \"input_length\": 300, \"output_length\": 30, \"hash_ids\": [1]}";
    struct trace t = {0};
    char err[256] = "";
    assert_int_equal(trace_parse(text, strlen(text), "t.jsonl", &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 3);
    assert_near(t.e[1].arrival, 0.5, 1e-12);
    assert_int_equal(t.e[1].prompt_tokens, 200);
    assert_near(t.e[2].arrival, 1.5, 1e-12); /* Mooncake's milliseconds */
    assert_int_equal(t.e[2].output_tokens, 30);
    trace_release(&t);
}

static void trace_bad_lines_say_where_and_why(void **state)
{
    static const struct {
        const char *rule, *text, *want;
    } cases[] = {
        {"not JSON", "{\"arrival\":0,\"prompt_tokens\":1,\"output_tokens\":1}\nnope\n",
         "t.jsonl:2: not valid JSON"},
        {"not an object", "[1, 2]\n", "t.jsonl:1: not a JSON object"},
        {"arrival missing", "{\"prompt_tokens\":1,\"output_tokens\":1}",
         "t.jsonl:1: \"arrival\" is missing"},
        {"arrival negative", "{\"arrival\":-1,\"prompt_tokens\":1,\"output_tokens\":1}",
         "t.jsonl:1: \"arrival\" must be a number of seconds >= 0, got -1"},
        {"arrival a string", "{\"arrival\":\"soon\",\"prompt_tokens\":1,\"output_tokens\":1}",
         "t.jsonl:1: \"arrival\" must be a number of seconds >= 0, got \"soon\""},
        {"going back in time",
         "{\"arrival\":2,\"prompt_tokens\":1,\"output_tokens\":1}\n"
         "{\"arrival\":1,\"prompt_tokens\":1,\"output_tokens\":1}",
         "t.jsonl:2: arrivals must not go back in time (1 s after 2 s)"},
        {"prompt_tokens missing", "{\"arrival\":0,\"output_tokens\":1}",
         "t.jsonl:1: \"prompt_tokens\" is missing"},
        {"tokens not an integer", "{\"arrival\":0,\"prompt_tokens\":1.5,\"output_tokens\":1}",
         "t.jsonl:1: \"prompt_tokens\" must be an integer in [1, 10000000], got 1.5"},
        {"tokens zero", "{\"arrival\":0,\"prompt_tokens\":3,\"output_length\":0}",
         "t.jsonl:1: \"output_length\" must be an integer in [1, 10000000], got 0"},
        {"empty trace", "\n\n", "t.jsonl: the trace has no requests"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct trace t = {0};
        char err[256] = "";
        int rc = trace_parse(cases[i].text, strlen(cases[i].text), "t.jsonl", &t, err, sizeof(err));
        if (rc != -EINVAL || strcmp(err, cases[i].want) != 0)
            fail_msg("%s: rc %d, got \"%s\", want \"%s\"", cases[i].rule, rc, err, cases[i].want);
        assert_null(t.e);
        assert_int_equal(t.n, 0);
    }
}

static void trace_load_reports_a_missing_file(void **state)
{
    struct trace t = {0};
    char err[256] = "";
    assert_int_equal(trace_load("/nonexistent/t.jsonl", &t, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "cannot open \"/nonexistent/t.jsonl\": No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trace_parses_both_namings),
        cmocka_unit_test(trace_bad_lines_say_where_and_why),
        cmocka_unit_test(trace_load_reports_a_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
