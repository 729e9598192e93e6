/* textparse: the Prometheus text format as Prometheus 2.42's PromParser
 * reads it, one row per rule: what it accepts (rendered sample by sample),
 * what it rejects (the message and the line), and each limit. */
#include "../unit/unit.h"

#include <errno.h>
#include <stdlib.h>

#include "base/buf.h"
#include "prom/textparse.h"

#define S(lit) lit, sizeof(lit) - 1

/* Renders every sample as 'name=value,...' (sorted as given), the value
 * (%.17g, or NaN/+Inf/-Inf) and "@t" for an own timestamp, samples joined
 * by "; ". Returns textparse_next's last result. */
static int render(const char *in, size_t len, const struct textparse_limits *lim, struct buf *out,
                  struct textparse *p)
{
    struct textparse_sample s;
    int rc;
    assert_int_equal(textparse_init(p, in, len, lim), 0);
    while ((rc = textparse_next(p, &s)) == 1) {
        if (out->len)
            buf_append_str(out, "; ");
        for (size_t i = 0; i < s.n; i++) {
            buf_appendf(out, "%s%s=", i ? "," : "", s.labels[i].name);
            for (const char *c = s.labels[i].value; *c; c++)
                buf_append_str(out, *c == '\n' ? "<NL>" : (char[2]){*c, 0});
        }
        if (isnan(s.v))
            buf_append_str(out, " NaN");
        else if (isinf(s.v))
            buf_append_str(out, s.v > 0 ? " +Inf" : " -Inf");
        else
            buf_appendf(out, " %.17g", s.v);
        if (s.has_t)
            buf_appendf(out, " @%lld", (long long)s.t_ms);
    }
    return rc;
}

static const struct {
    const char *rule;
    const char *in;
    size_t len;
    const char *want;
} valid[] = {
    {"a sample is a name and a value", S("foo 1\n"), "__name__=foo 1"},
    {"the last line needs no newline", S("foo 1"), "__name__=foo 1"},
    {"an empty body has no samples", S(""), ""},
    {"metric names may have colons", S("vllm:num_requests_waiting{model_name=\"m\"} 3\n"),
     "__name__=vllm:num_requests_waiting,model_name=m 3"},
    {"names may start with '_' or ':'", S("_x 1\n:y 2\n"), "__name__=_x 1; __name__=:y 2"},
    {"labels come out sorted by name, __name__ among them", S("x{b=\"1\",a=\"2\",Z=\"3\"} 1"),
     "Z=3,__name__=x,a=2,b=1 1"},
    {"label values unescape \\\" \\\\ \\n, other pairs stay", S("x{a=\"q\\\"b\\\\c\\nd\\te\"} 1"),
     "__name__=x,a=q\"b\\c<NL>d\\te 1"},
    {"a raw newline may sit in a label value", S("x{a=\"l1\nl2\"} 1\ny 2\n"),
     "__name__=x,a=l1<NL>l2 1; __name__=y 2"},
    {"a label value may hold UTF-8", S("x{a=\"h\xc3\xa9 \xe2\x82\xac\"} 1"),
     "__name__=x,a=h\xc3\xa9 \xe2\x82\xac 1"},
    {"an empty label value is no label (Prometheus stores none)", S("x{a=\"\",b=\"1\"} 1"),
     "__name__=x,b=1 1"},
    {"so a name may repeat with an empty value", S("x{a=\"\",a=\"1\"} 1"), "__name__=x,a=1 1"},
    {"a trailing comma is allowed", S("x{a=\"1\",} 1"), "__name__=x,a=1 1"},
    {"commas between pairs may be left out", S("x{a=\"1\" b=\"2\"} 1"), "__name__=x,a=1,b=2 1"},
    {"even without a blank", S("x{a=\"1\"b=\"2\"}3"), "__name__=x,a=1,b=2 3"},
    {"blanks may separate every token", S("x { a = \"1\" ,\tb= \"2\" , } 1 \t\n"),
     "__name__=x,a=1,b=2 1"},
    {"empty braces are no labels", S("x{} 1"), "__name__=x 1"},
    {"a value may follow a name or brace directly", S("x{}1\nfoo1.5\n"),
     "__name__=x 1; __name__=foo1 0.5"},
    {"values: Go float syntax", S("a 1e3\nb 1E-3\nc .5\nd 5.\ne -0\nf +3\ng 007\n"),
     "__name__=a 1000; __name__=b 0.001; __name__=c 0.5; __name__=d 5; __name__=e -0; "
     "__name__=f 3; __name__=g 7"},
    {"values: infinities in any case", S("a +Inf\nb -Inf\nc inf\nd -infinity\ne INF\n"),
     "__name__=a +Inf; __name__=b -Inf; __name__=c +Inf; __name__=d -Inf; __name__=e +Inf"},
    {"values: NaN in any case", S("a NaN\nb nan\n"), "__name__=a NaN; __name__=b NaN"},
    {"values: an underflow is zero, not an error", S("a 1e-400\n"), "__name__=a 0"},
    {"values: long digit strings", S("a 123456789012345678901234567890\n"),
     "__name__=a 1.2345678901234568e+29"},
    {"timestamps are integer milliseconds", S("a 1 1700000000000\nb 2 \t 0 \n"),
     "__name__=a 1 @1700000000000; __name__=b 2 @0"},
    {"blank lines and indented comments are allowed", S("\n\nx 1\n\t\n \t# c\ny 2"),
     "__name__=x 1; __name__=y 2"},
    {"comments are ignored", S("# hello\n#\n#no blank\n# HELPER x\n# TYPE\n#  TYPEx y\nx 1"),
     "__name__=x 1"},
    {"HELP and TYPE lines", S("# HELP x Some help.\n# TYPE x gauge\n# HELP y\n# HELP z \nx 1"),
     "__name__=x 1"},
    {"TYPE after blanks and tabs", S("#\t TYPE x\tcounter\nx 1"), "__name__=x 1"},
    {"a histogram is plain series",
     S("# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"),
     "__name__=h_bucket,le=0.5 1; __name__=h_bucket,le=+Inf 2; __name__=h_sum 3; "
     "__name__=h_count 2"},
    {"a NUL byte where a line starts ends the body", S("x 1\n\0garbage{{{\n"), "__name__=x 1"},
    {"a NUL byte in a comment is allowed", S("# a\0b\nx 1\n"), "__name__=x 1"},
    {"labels beginning __ are data to the parser", S("x{__meta=\"1\"} 1"), "__meta=1,__name__=x 1"},
};

static void accepts(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(valid); i++) {
        struct buf out = BUF_INIT(1 << 16);
        struct textparse p;
        buf_append_str(&out, "");
        int rc = render(valid[i].in, valid[i].len, NULL, &out, &p);
        if (rc != 0)
            fail_msg("%s: error %d: %s", valid[i].rule, rc, textparse_error(&p));
        if (strcmp(out.data, valid[i].want))
            fail_msg("%s:\n got  %s\n want %s", valid[i].rule, out.data, valid[i].want);
        /* The end is sticky. */
        struct textparse_sample s;
        assert_int_equal(textparse_next(&p, &s), 0);
        textparse_release(&p);
        buf_release(&out);
    }
}

static const struct {
    const char *rule;
    const char *in;
    size_t len;
    int err;
    const char *msg; /* the whole message, "line N: ..." */
} invalid[] = {
    {"\\r\\n line ends are rejected (the value reads \"1\\r\")", S("x 1\r\n"), -EINVAL,
     "line 1: strconv.ParseFloat: parsing \"1\\r\": invalid syntax"},
    {"\\r\\n after a timestamp is rejected", S("x 1 5\r\n"), -EINVAL,
     "line 1: expected the end of the line after the timestamp, got \"\\r\""},
    {"a line may not start with \\r", S("x 1\n\r\n"), -EINVAL,
     "line 2: expected a metric name or \"#\" at the start of a line, got \"\\r\""},
    {"a sample line may not be indented (Prometheus: invalid metric name \"  y\")",
     S("x 1\n  y 1\n"), -EINVAL, "line 2: invalid metric name: a sample line starts with a blank"},
    {"a metric name may not start with a digit", S("1x 1\n"), -EINVAL,
     "line 1: expected a metric name or \"#\" at the start of a line, got \"1x 1\""},
    {"a line may not start with '{'", S("{a=\"b\"} 1\n"), -EINVAL,
     "line 1: expected a metric name or \"#\" at the start of a line, got \"{a=\\\"b\\\"} 1\""},
    {"a label name may not start with a digit", S("x{1a=\"b\"} 1"), -EINVAL,
     "line 1: expected a label name, got \"1a=\\\"b\\\"} 1\""},
    {"a label name may not have a colon", S("x{a:b=\"c\"} 1"), -EINVAL,
     "line 1: expected \"=\" after a label name, got \":b=\\\"c\\\"} 1\""},
    {"a label name may not be quoted", S("x{\"a\"=\"b\"} 1"), -EINVAL,
     "line 1: expected a label name, got \"\\\"a\\\"=\\\"b\\\"} 1\""},
    {"a label value must be quoted", S("x{a=b} 1"), -EINVAL,
     "line 1: expected a label value, got \"b} 1\""},
    {"single quotes are not quotes", S("x{a='b'} 1"), -EINVAL,
     "line 1: expected a label value, got \"'b'} 1\""},
    {"an unterminated label value", S("x{a=\"b} 1"), -EINVAL,
     "line 1: expected a label value, got \"\\\"b} 1\""},
    {"a backslash before a newline ends nothing", S("x{a=\"b\\\n\"} 1"), -EINVAL,
     "line 1: expected a label value, got \"\\\"b\\\\\""},
    {"a label value must be UTF-8", S("x{a=\"\xff\"} 1"), -EINVAL,
     "line 1: invalid UTF-8 label value for \"a\""},
    {"an overlong UTF-8 form is not UTF-8", S("x{a=\"\xc0\xaf\"} 1"), -EINVAL,
     "line 1: invalid UTF-8 label value for \"a\""},
    {"a NUL byte in a label value (ebb: a C string cannot hold it)", S("x{a=\"\0\"} 1"), -EINVAL,
     "line 1: label \"a\" value has a NUL byte"},
    {"a leading comma", S("x{,a=\"1\"} 1"), -EINVAL,
     "line 1: expected a label name, got \",a=\\\"1\\\"} 1\""},
    {"two commas", S("x{a=\"1\",,b=\"2\"} 1"), -EINVAL,
     "line 1: expected a label name, got \",b=\\\"2\\\"} 1\""},
    {"a label name twice", S("x{a=\"1\",a=\"2\"} 1"), -EINVAL,
     "line 1: label name \"a\" is not unique"},
    {"__name__ in braces repeats the name", S("x{__name__=\"y\"} 1"), -EINVAL,
     "line 1: label name \"__name__\" is not unique"},
    {"a sample needs a value", S("x\n"), -EINVAL,
     "line 1: expected a value after the metric, got end of line"},
    {"labels need a value after them", S("x{a=\"b\"}\n"), -EINVAL,
     "line 1: expected a value after the metric, got end of line"},
    {"two label sets", S("x {a=\"1\"} {b=\"2\"} 1"), -EINVAL,
     "line 1: expected a value after the metric, got \"{b=\\\"2\\\"} 1\""},
    {"values: words are not numbers", S("x true"), -EINVAL,
     "line 1: strconv.ParseFloat: parsing \"true\": invalid syntax"},
    {"values: '_' is not allowed", S("x 1_0"), -EINVAL,
     "line 1: unsupported character in float \"1_0\""},
    {"values: hex floats are not allowed", S("x 0x1p3"), -EINVAL,
     "line 1: unsupported character in float \"0x1p3\""},
    {"values: hex without exponent is invalid", S("x 0x10"), -EINVAL,
     "line 1: strconv.ParseFloat: parsing \"0x10\": invalid syntax"},
    {"values: NaN takes no sign", S("x +NaN"), -EINVAL,
     "line 1: strconv.ParseFloat: parsing \"+NaN\": invalid syntax"},
    {"values: \"infin\" is not infinity", S("x infin"), -EINVAL,
     "line 1: strconv.ParseFloat: parsing \"infin\": invalid syntax"},
    {"values: an exponent needs digits", S("x 1e"), -EINVAL,
     "line 1: strconv.ParseFloat: parsing \"1e\": invalid syntax"},
    {"values: an overflow is an error", S("x 1e400"), -ERANGE,
     "line 1: strconv.ParseFloat: parsing \"1e400\": value out of range"},
    {"timestamps: negative is invalid", S("x 1 -5"), -EINVAL,
     "line 1: expected a timestamp or the end of the line, got \"-5\""},
    {"timestamps: a fraction is invalid", S("x 1 1.5"), -EINVAL,
     "line 1: expected the end of the line after the timestamp, got \".5\""},
    {"timestamps: past int64 is out of range", S("x 1 9223372036854775808"), -ERANGE,
     "line 1: strconv.ParseInt: parsing \"9223372036854775808\": value out of range"},
    {"timestamps: one only", S("x 1 2 3"), -EINVAL,
     "line 1: expected the end of the line after the timestamp, got \"3\""},
    {"TYPE: unknown types are errors", S("# TYPE x foo\n"), -EINVAL,
     "line 1: invalid metric type \"foo\""},
    {"TYPE: two blanks before the type (Prometheus keeps one)", S("# TYPE x  counter\n"), -EINVAL,
     "line 1: invalid metric type \" counter\""},
    {"TYPE: a trailing blank", S("# TYPE x counter \n"), -EINVAL,
     "line 1: invalid metric type \"counter \""},
    {"TYPE: no type", S("# TYPE x\n"), -EINVAL, "line 1: invalid metric type \"\""},
    {"TYPE: needs a valid name", S("# TYPE 1x counter\n"), -EINVAL,
     "line 1: expected a metric name after TYPE, got \"1x counter\""},
    {"TYPE: \\r\\n", S("# TYPE x counter\r\n"), -EINVAL,
     "line 1: invalid metric type \"counter\\r\""},
    {"HELP: text must be UTF-8", S("# HELP x bad \xff\n"), -EINVAL,
     "line 1: help text is not a valid utf8 string"},
    {"the first bad line is reported with its number", S("a 1\n\n# c\nb{ 2\nc 3 x\n"), -EINVAL,
     "line 4: expected a label name, got \"2\""},
    {"lines inside a label value are counted", S("a{x=\"1\n2\n3\"} 1\nb 1 x\n"), -EINVAL,
     "line 4: expected a timestamp or the end of the line, got \"x\""},
};

static void rejects(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(invalid); i++) {
        struct buf out = BUF_INIT(1 << 16);
        struct textparse p;
        int rc = render(invalid[i].in, invalid[i].len, NULL, &out, &p);
        if (rc != invalid[i].err)
            fail_msg("%s: rc %d, want %d (%s)", invalid[i].rule, rc, invalid[i].err,
                     textparse_error(&p));
        if (strcmp(textparse_error(&p), invalid[i].msg))
            fail_msg("%s:\n got  %s\n want %s", invalid[i].rule, textparse_error(&p),
                     invalid[i].msg);
        /* The error is sticky: the scrape fails as a whole. */
        struct textparse_sample s;
        assert_int_equal(textparse_next(&p, &s), invalid[i].err);
        textparse_release(&p);
        buf_release(&out);
    }
}

static const struct {
    const char *rule;
    struct textparse_limits lim;
    const char *in;
    size_t len;
    int samples; /* read before the error */
    const char *msg;
} limits[] = {
    {"max_line: a longer line is an error",
     {.max_line = 10},
     S("a 1\nabcdefghi 1\n"),
     1,
     "line 2: line is longer than 10 bytes"},
    {"max_line: a line of exactly the limit is fine",
     {.max_line = 10},
     S("abcdefg 1\nb 2 3 x"),
     1,
     "line 2: expected the end of the line after the timestamp, got \"x\""},
    {"max_line: comments count too",
     {.max_line = 10},
     S("# a long comment\n"),
     0,
     "line 1: line is longer than 10 bytes"},
    {"max_labels: __name__ counts",
     {.max_labels = 2},
     S("a{x=\"1\"} 1\na{x=\"1\",y=\"2\"} 1\n"),
     1,
     "line 2: series has more than 2 labels"},
    {"max_name_len: metric names",
     {.max_name_len = 4},
     S("abcd 1\nabcde 1\n"),
     1,
     "line 2: metric name \"abcde\" is longer than 4 bytes"},
    {"max_name_len: label names",
     {.max_name_len = 4},
     S("a{abcde=\"1\"} 1\n"),
     0,
     "line 1: label name \"abcde\" is longer than 4 bytes"},
    {"max_value_len: unescaped length",
     {.max_value_len = 3},
     S("a{x=\"\\n\\n\\n\"} 1\na{x=\"abcd\"} 1\n"),
     1,
     "line 2: label \"x\" value is longer than 3 bytes"},
    {"max_samples: the sample limit",
     {.max_samples = 2},
     S("a 1\nb 2\nc 3\n"),
     2,
     "line 3: sample limit exceeded: more than 2 samples"},
};

static void enforces_limits(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(limits); i++) {
        struct textparse p;
        struct textparse_sample s;
        int n = 0, rc;
        assert_int_equal(textparse_init(&p, limits[i].in, limits[i].len, &limits[i].lim), 0);
        while ((rc = textparse_next(&p, &s)) == 1)
            n++;
        if (rc >= 0 || n != limits[i].samples || strcmp(textparse_error(&p), limits[i].msg))
            fail_msg("%s: rc %d after %d samples:\n got  %s\n want %s", limits[i].rule, rc, n,
                     textparse_error(&p), limits[i].msg);
        textparse_release(&p);
    }
}

static void records_types(void **state)
{
    static const char in[] = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"
                             "h_total 1\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\n"
                             "s_bucket 1\n# TYPE c_total counter\nc_total 1\nother 1\n"
                             "# TYPE g gauge\ng 1\n";
    static const enum textparse_type want[] = {
        TEXTPARSE_HISTOGRAM, TEXTPARSE_HISTOGRAM, TEXTPARSE_HISTOGRAM, TEXTPARSE_UNTYPED,
        TEXTPARSE_SUMMARY,   TEXTPARSE_SUMMARY,   TEXTPARSE_UNTYPED,   TEXTPARSE_COUNTER,
        TEXTPARSE_UNTYPED,   TEXTPARSE_GAUGE,
    };
    struct textparse p;
    struct textparse_sample s;
    size_t i = 0;
    assert_int_equal(textparse_init(&p, in, sizeof(in) - 1, NULL), 0);
    while (textparse_next(&p, &s) == 1) {
        assert_true(i < ARRAY_LEN(want));
        if (s.type != want[i])
            fail_msg("sample %zu (line %u): type %d, want %d", i, s.line, s.type, want[i]);
        i++;
    }
    assert_int_equal(i, ARRAY_LEN(want));
    assert_string_equal(textparse_error(&p), "");
    textparse_release(&p);
}

static void nan_is_never_stale(void **state)
{
    static const char in[] = "a NaN\n";
    struct textparse p;
    struct textparse_sample s;
    assert_int_equal(textparse_init(&p, in, sizeof(in) - 1, NULL), 0);
    assert_int_equal(textparse_next(&p, &s), 1);
    assert_true(isnan(s.v));
    assert_false(prom_is_stale_nan(s.v));
    uint64_t bits;
    memcpy(&bits, &s.v, sizeof(bits));
    assert_true(bits == UINT64_C(0x7ff8000000000001)); /* Prometheus's value.NormalNaN */
    textparse_release(&p);
}

static void line_numbers(void **state)
{
    static const char in[] = "# HELP a x\na 1\n\n\nb{x=\"1\n\"} 2\nc 3";
    static const unsigned want[] = {2, 5, 7};
    struct textparse p;
    struct textparse_sample s;
    size_t i = 0;
    assert_int_equal(textparse_init(&p, in, sizeof(in) - 1, NULL), 0);
    while (textparse_next(&p, &s) == 1)
        assert_int_equal(s.line, want[i++]);
    assert_int_equal(i, 3);
    textparse_release(&p);
}

static void names(void **state)
{
    assert_true(textparse_metric_name_ok("vllm:num_requests_running"));
    assert_true(textparse_metric_name_ok("_a1"));
    assert_false(textparse_metric_name_ok("1a"));
    assert_false(textparse_metric_name_ok(""));
    assert_false(textparse_metric_name_ok("a-b"));
    assert_true(textparse_label_name_ok("model_name"));
    assert_false(textparse_label_name_ok("a:b"));
    assert_false(textparse_label_name_ok(""));
    assert_true(textparse_utf8_ok("\xf0\x9f\x98\x80", 4));
    assert_false(textparse_utf8_ok("\xed\xa0\x80", 3));     /* a surrogate */
    assert_false(textparse_utf8_ok("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(textparse_utf8_ok("\xe2\x82", 2));         /* cut short */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts),
        cmocka_unit_test(rejects),
        cmocka_unit_test(enforces_limits),
        cmocka_unit_test(records_types),
        cmocka_unit_test(nan_is_never_stale),
        cmocka_unit_test(line_numbers),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
