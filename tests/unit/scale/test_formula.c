/* formula: KEDA's scalingModifiers formula language (expr-lang subset), one
 * row per rule; the KEDA documentation's examples verbatim. */
#include "scale_test.h"

#include <stdlib.h>

/* Variables: a b c trig_one trig_two trig_three (indexes 0..5). */
static const char *const names[] = {"a", "b", "c", "trig_one", "trig_two", "trig_three"};
#define NILS(...) .nils = {__VA_ARGS__}

struct frow {
    const char *name;
    const char *src;
    double v[6];
    bool nils[6];
    double want;
    bool want_nil;
    const char *compile_err; /* a substring of the compile error */
    const char *run_err;     /* a substring of the runtime error */
};

/* clang-format off: a table reads best one rule per row */
static const struct frow rows[] = {
    /* values and operators */
    {"formula: a trigger name is a variable", "a", {2}, .want = 2},
    {"formula: * and / bind tighter than + and -", "a + b * c - 4 / 2", {1, 2, 3}, .want = 5},
    {"formula: parentheses group", "(a + b) * c", {1, 2, 3}, .want = 9},
    {"formula: / always gives float64", "7 / 2", .want = 3.5},
    {"formula: % works on integers", "7 % 3", .want = 1},
    {"formula: % of a trigger (float64) is a compile error", "a % 2",
     .compile_err = "mismatched types float64 and int"},
    {"formula: ** is power and right-associative", "2 ** 3 ** 2", .want = 512},
    {"formula: ^ is power too", "2 ^ 10", .want = 1024},
    {"formula: unary minus binds looser than **", "-2 ** 2", .want = -4},
    {"formula: numbers take exponents and underscores", "1_000 + 1e3 + 2.5e-1", .want = 2000.25},
    {"formula: comments and newlines are blanks", "a /* queue */ +\n 1 // one", {2}, .want = 3},
    /* conditions */
    {"formula: comparisons drive the ternary", "a > 2 ? 1 : 0", {3}, .want = 1},
    {"formula: == compares int and float by value", "1 == 1.0 ? 1 : 0", .want = 1},
    {"formula: ! binds tighter than ==", "!true == false ? 1 : 0", .want = 1},
    {"formula: and, or, not are && || !",
     "not (a > 1) and b > 1 or false ? 1 : 0",
     {1, 2},
     .want = 1},
    {"formula: && short-circuits", "a > 0 && 1 % 0 == 0 ? 1 : 2", {0}, .want = 2},
    {"formula: || short-circuits", "a > 0 || 1 % 0 == 0 ? 1 : 2", {1}, .want = 1},
    {"formula: if-else", "if a > 1 { a } else { b }", {0, 7}, .want = 7},
    {"formula: else if chains", "if a > 2 { 1 } else if a > 1 { 2 } else { 3 }", {1.5}, .want = 2},
    {"formula: the ternary condition must be bool", "a ? 1 : 2",
     .compile_err = "non-bool expression (type float64)"},
    {"formula: a type error in an untaken branch is still refused", "a > 0 ? 1 : true + 1",
     .compile_err = "mismatched types bool and int"},
    {"formula: a boolean result is refused", "a > 1", .compile_err = "must give a number"},
    /* KEDA's documented examples, verbatim */
    {"formula: docs example, composed average",
     "(trig_one + trig_two)/2",
     {0, 0, 0, 3, 4},
     .want = 3.5},
    {"formula: docs example, ternary, condition true",
     "trig_one > 2 ? trig_one + trig_two : 1",
     {0, 0, 0, 3, 4},
     .want = 7},
    {"formula: docs example, ternary, condition false",
     "trig_one > 2 ? trig_one + trig_two : 1",
     {0, 0, 0, 2, 4},
     .want = 1},
    {"formula: docs example, count of two metrics above 1",
     "count([trig_one,trig_two,trig_three],{#>1}) > 1 ? 5 : 0",
     {0, 0, 0, 2, 3, 0},
     .want = 5},
    {"formula: docs example, count of one metric above 1",
     "count([trig_one,trig_two,trig_three],{#>1}) > 1 ? 5 : 0",
     {0, 0, 0, 2, 1, 0},
     .want = 0},
    {"formula: docs example, nested conditions, both true",
     "trig_one < 2 ? trig_one+trig_two >= 2 ? 5 : 10 : 0",
     {0, 0, 0, 1, 1},
     .want = 5},
    {"formula: docs example, nested conditions, only the first true",
     "trig_one < 2 ? trig_one+trig_two >= 2 ? 5 : 10 : 0",
     {0, 0, 0, 1, 0},
     .want = 10},
    {"formula: docs example, nested conditions, first false",
     "trig_one < 2 ? trig_one+trig_two >= 2 ? 5 : 10 : 0",
     {0, 0, 0, 2, 0},
     .want = 0},
    {"formula: KEDA's e2e example, if with a parenthesized condition and arrays",
     "if (max([a, b, c]) > 0) {\n  max([a, b, c])\n} else {\n  trig_one\n}\n",
     {0, 0, 0, 7},
     .want = 7},
    {"formula: a formula already wrapped in float() is taken as it is",
     "float(a) + 1",
     {2},
     .want = 3},
    /* nil and ?? (fallback.behavior scalingModifiers) */
    {"formula: ?? takes the right side when the left is nil",
     "a ?? b",
     {0, 4},
     NILS(true),
     .want = 4},
    {"formula: ?? keeps a left side that is not nil", "a ?? b", {3, 4}, .want = 3},
    {"formula: docs example, a ?? chain ending in a literal",
     "trig_one ?? trig_two ?? trig_three ?? 8", NILS(false, false, false, true, true, true),
     .want = 8},
    {"formula: ?? binds tighter than +", "a ?? b + 1", {2, 5}, .want = 3},
    {"formula: a nil result is reported as nil", "a ?? b", NILS(true, true), .want_nil = true},
    {"formula: nil in arithmetic is a runtime error", "a + 1", NILS(true), .run_err = "<nil>"},
    /* functions */
    {"formula: min and max take numbers", "max(a, b, 3) + min(a, b)", {1, 2}, .want = 4},
    {"formula: min and max take arrays", "max([a, b], c)", {1, 5, 2}, .want = 5},
    {"formula: max of one nil is nil", "max(a)", NILS(true), .want_nil = true},
    {"formula: abs, ceil, floor, round", "abs(-2.5) + ceil(1.2) + floor(1.8) + round(2.5)",
     .want = 8.5},
    {"formula: round halves away from zero", "round(-2.5)", .want = -3},
    {"formula: int truncates toward zero", "int(a)", {-2.7}, .want = -2},
    {"formula: float converts an int", "float(3) / 2", .want = 1.5},
    {"formula: sum, mean, median",
     "sum([1, 2, 3]) + mean([a, b]) + median([3, 1, 2, 10])",
     {1, 2},
     .want = 6 + 1.5 + 2.5},
    {"formula: all, any, none, one",
     "all([a, b], # > 0) && any([a, b], # > 1) && "
     "none([a, b], # > 5) && one([a, b], # > 1) ? 1 : 0",
     {1, 2},
     .want = 1},
    {"formula: a predicate may omit its braces", "count([a, b, c], # > 1)", {1, 2, 3}, .want = 2},
    {"formula: unknown functions are refused", "sqrt(a)", .compile_err = "unknown function sqrt"},
    {"formula: a function checks its argument count", "abs(a, b)",
     .compile_err = "abs takes one argument"},
    {"formula: count needs an array and a predicate", "count(a, # > 1)",
     .compile_err = "takes an array and a predicate"},
    /* errors instead of wrong answers */
    {"formula: an unknown name is refused", "d + 1", .compile_err = "unknown name d"},
    {"formula: strings are refused", "'x'", .compile_err = "strings are not supported"},
    {"formula: member access is refused", "a.b", .compile_err = "member access"},
    {"formula: pipes are refused", "a | b", .compile_err = "pipes"},
    {"formula: hexadecimal numbers are refused", "0x10", .compile_err = "hexadecimal"},
    {"formula: # outside a predicate is refused", "# + 1", .compile_err = "predicate"},
    {"formula: arrays outside a call are refused", "[a, b]", .compile_err = "function arguments"},
    {"formula: a syntax error names its column", "a +", .compile_err = "column 4"},
    {"formula: an unclosed parenthesis is refused", "(a + 1", .compile_err = "expected ')'"},
    {"formula: trailing tokens are refused", "a b", .compile_err = "after the end"},
    {"formula: an empty formula is refused", "", .compile_err = "ends where a value"},
    {"formula: integer overflow is an error", "9223372036854775807 + 1",
     .run_err = "integer overflow"},
    {"formula: integer division by zero is an error", "1 % 0", .run_err = "divide by zero"},
    {"formula: a result that is not finite is an error", "a / 0", {1}, .run_err = "finite"},
};
/* clang-format on */

static void check_row(const struct frow *r)
{
    struct formula *f = malloc(sizeof(*f));
    char err[FORMULA_ERR_MAX];
    assert_non_null(f);
    int rc = formula_compile(f, r->src, names, ARRAY_LEN(names), err, sizeof(err));
    if (r->compile_err) {
        assert_int_equal(rc, -EINVAL);
        if (!strstr(err, r->compile_err))
            fail_msg("compile error \"%s\" lacks \"%s\"", err, r->compile_err);
        free(f);
        return;
    }
    if (rc < 0)
        fail_msg("%s", err);
    double out;
    bool nil;
    rc = formula_eval(f, r->v, r->nils, &out, &nil, err, sizeof(err));
    free(f);
    if (r->run_err) {
        assert_int_equal(rc, -EDOM);
        if (!strstr(err, r->run_err))
            fail_msg("runtime error \"%s\" lacks \"%s\"", err, r->run_err);
        return;
    }
    if (rc < 0)
        fail_msg("%s", err);
    assert_int_equal(nil, r->want_nil);
    if (!r->want_nil)
        assert_near(out, r->want, 1e-12);
}

/* Limits are errors, never truncation. */
static void limits_are_errors(void **state)
{
    struct formula *f = malloc(sizeof(*f));
    char err[FORMULA_ERR_MAX], *src = malloc(4096);
    assert_non_null(f);
    assert_non_null(src);
    memset(src, ' ', 2000);
    memcpy(src, "a", 1);
    src[2000] = '\0';
    assert_int_equal(formula_compile(f, src, names, 6, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "longer than"));
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(src + n, 4096 - n, "%s1", i ? "+" : "");
    assert_int_equal(formula_compile(f, src, names, 6, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "parts"));
    n = 0;
    for (int i = 0; i < 100; i++)
        src[n++] = '(';
    src[n++] = '1';
    for (int i = 0; i < 100; i++)
        src[n++] = ')';
    src[n] = '\0';
    assert_int_equal(formula_compile(f, src, names, 6, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "nested too deeply"));
    free(src);
    free(f);
}

int main(void)
{
    int rc = RUN_ROWS("formula", rows, check_row);
    const struct CMUnitTest more[] = {
        {"formula: limits (length, parts, nesting) are errors, never truncation", limits_are_errors,
         NULL, NULL, NULL},
    };
    return rc | cmocka_run_group_tests_name("formula limits", more, NULL, NULL);
}
