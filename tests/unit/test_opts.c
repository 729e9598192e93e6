/* opts: flag forms, ranges, choices and the errors people see. */
#include "unit.h"

#include <stdbool.h>

#include "base/opts.h"

struct vals {
    int port;
    double scale;
    const char *name;
    const char *mode;
    bool flag;
    const char *files[2];
    struct opt_list list;
};

static int parse(struct vals *v, int argc, char **argv)
{
    const struct opt opts[] = {
        {"port", OPT_INT, &v->port, "PORT", "port", 1, 65535, NULL},
        {"time-scale", OPT_DOUBLE, &v->scale, "X", "scale", 0, 100, NULL},
        {"openai-api-base", OPT_STRING, &v->name, "URL", "url", 0, 0, NULL},
        {"mode", OPT_CHOICE, &v->mode, NULL, "mode", 0, 0, "a|bb"},
        {"flag", OPT_FLAG, &v->flag, NULL, "flag", 0, 0, NULL},
        {"f,file", OPT_LIST, &v->list, "FILE", "file", 0, 0, NULL},
    };
    v->list = (struct opt_list){v->files, 0, 2};
    const struct opts_spec spec = {"t", "t [flags]", "test", opts, ARRAY_LEN(opts), NULL};
    return opts_parse(&spec, argc, argv);
}

static void accepted_forms(void **state)
{
    struct vals v = {0};
    char *argv[] = {"t", "--port", "80", "--time-scale=2.5", "--openai_api_base", "http://x",
                    "--mode", "bb", "--flag", NULL};
    assert_int_equal(parse(&v, 9, argv), 0);
    assert_int_equal(v.port, 80);
    assert_near(v.scale, 2.5, 0);
    assert_string_equal(v.name, "http://x");
    assert_string_equal(v.mode, "bb");
    assert_true(v.flag);
}

static void rejected_inputs(void **state)
{
    static const struct {
        const char *name;
        const char *args[3];
    } cases[] = {
        {"port out of range", {"--port", "70000", NULL}},
        {"port not a number", {"--port", "80x", NULL}},
        {"double not finite", {"--time-scale", "inf", NULL}},
        {"double above max", {"--time-scale", "101", NULL}},
        {"choice not listed", {"--mode", "c", NULL}},
        {"unknown flag", {"--nope", NULL, NULL}},
        {"missing value", {"--port", NULL, NULL}},
        {"value for a flag", {"--flag=1", NULL, NULL}},
        {"positional argument", {"extra", NULL, NULL}},
        {"unknown short flag", {"-x", "1", NULL}},
        {"short flag without value", {"-f", NULL, NULL}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct vals v = {0};
        char *argv[4] = {"t"};
        int argc = 1;
        for (int j = 0; j < 3 && cases[i].args[j]; j++)
            argv[argc++] = (char *)cases[i].args[j];
        if (parse(&v, argc, argv) >= 0)
            fail_msg("%s: accepted", cases[i].name);
    }
}

static void repeatable_flag_collects_values_up_to_its_cap(void **state)
{
    struct vals v = {0};
    char *argv[] = {"t", "-f", "a.yaml", "--file=b.yaml", NULL};
    assert_int_equal(parse(&v, 4, argv), 0);
    assert_int_equal(v.list.n, 2);
    assert_string_equal(v.files[0], "a.yaml");
    assert_string_equal(v.files[1], "b.yaml");
    char *three[] = {"t", "-f", "a", "-f", "b", "--file", "c", NULL};
    assert_true(parse(&v, 7, three) < 0);
}

static void help_returns_one(void **state)
{
    struct vals v = {0};
    char *argv[] = {"t", "--help", NULL};
    assert_int_equal(parse(&v, 2, argv), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted_forms),
        cmocka_unit_test(rejected_inputs),
        cmocka_unit_test(repeatable_flag_collects_values_up_to_its_cap),
        cmocka_unit_test(help_returns_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
