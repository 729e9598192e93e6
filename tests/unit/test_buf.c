/* buf: bounded growth, JSON escaping, consume. */
#include "unit.h"

#include <errno.h>

#include "base/buf.h"

static void buf_append_grows_and_terminates(void **state)
{
    struct buf b = BUF_INIT(1024);
    assert_int_equal(buf_append_str(&b, "hello"), 0);
    assert_int_equal(buf_appendf(&b, " %d", 42), 0);
    assert_string_equal(b.data, "hello 42");
    assert_int_equal(b.len, 8);
    buf_release(&b);
    assert_null(b.data);
}

static void buf_refuses_past_limit(void **state)
{
    struct buf b = BUF_INIT(8);
    assert_int_equal(buf_append_str(&b, "12345678"), 0);
    assert_int_equal(buf_append_str(&b, "9"), -ENOBUFS);
    assert_int_equal(b.len, 8); /* nothing was lost or half-written */
    assert_string_equal(b.data, "12345678");
    assert_int_equal(buf_appendf(&b, "%s", "x"), -ENOBUFS);
    buf_release(&b);
}

static void buf_append_uint_is_decimal(void **state)
{
    static const struct {
        const char *name;
        unsigned long long v;
        const char *out;
    } cases[] = {
        {"zero is one digit", 0, "0"},
        {"no leading zeros", 426, "426"},
        {"the largest value", 18446744073709551615ull, "18446744073709551615"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct buf b = BUF_INIT(256);
        assert_int_equal(buf_append_str(&b, "n="), 0);
        assert_int_equal(buf_append_uint(&b, cases[i].v), 0);
        if (strcmp(b.data + 2, cases[i].out) != 0)
            fail_msg("%s: got %s", cases[i].name, b.data + 2);
        buf_release(&b);
    }
    struct buf small = BUF_INIT(2);
    assert_int_equal(buf_append_uint(&small, 123), -ENOBUFS); /* all or nothing */
    assert_int_equal(small.len, 0);
    buf_release(&small);
}

static void buf_appendf_long_output(void **state)
{
    struct buf b = BUF_INIT(4096);
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(buf_appendf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    buf_release(&b);
}

static void buf_json_escapes(void **state)
{
    static const struct {
        const char *name, *in, *out;
    } cases[] = {
        {"plain text is quoted", "abc", "\"abc\""},
        {"quote and backslash are escaped", "a\"b\\c", "\"a\\\"b\\\\c\""},
        {"newline and tab use short escapes", "a\nb\tc", "\"a\\nb\\tc\""},
        {"other control bytes use \\u00XX", "\x01\x1f", "\"\\u0001\\u001f\""},
        {"utf-8 passes through", "caf\xc3\xa9", "\"caf\xc3\xa9\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct buf b = BUF_INIT(256);
        assert_int_equal(buf_append_json_str(&b, cases[i].in, strlen(cases[i].in)), 0);
        if (strcmp(b.data, cases[i].out) != 0)
            fail_msg("%s: got %s", cases[i].name, b.data);
        buf_release(&b);
    }
}

static void buf_consume_moves_rest(void **state)
{
    struct buf b = BUF_INIT(64);
    buf_append_str(&b, "GET / HTTP/1.1\r\n");
    buf_consume(&b, 4);
    assert_string_equal(b.data, "/ HTTP/1.1\r\n");
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_append_grows_and_terminates),
        cmocka_unit_test(buf_refuses_past_limit),
        cmocka_unit_test(buf_append_uint_is_decimal),
        cmocka_unit_test(buf_appendf_long_output),
        cmocka_unit_test(buf_json_escapes),
        cmocka_unit_test(buf_consume_moves_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
