/* config: what a YAML scalar means (YAML 1.1, as Kubernetes reads it), the
 * syntaxes of a prometheus trigger's metadata (as KEDA parses them), and
 * hostile YAML, which must fail cleanly and fast within the limits. */
#include "config_test.h"

#include <errno.h>
#include <stdlib.h>

#include "config/prometheus.h"
#include "config/yaml.h"

/* ---------- scalars ---------- */

struct srow {
    const char *name;
    const char *yaml; /* "v: <scalar>" */
    enum yval type;
    double value; /* for numbers and booleans (1/0) */
};

static const struct srow scalar_rows[] = {
    {"scalar: a plain word is a string", "v: prometheus", YV_STR, 0},
    {"scalar: a quoted number is a string", "v: '5'", YV_STR, 0},
    {"scalar: a double-quoted number is a string", "v: \"5\"", YV_STR, 0},
    {"scalar: a block scalar is a string", "v: |\n  5\n", YV_STR, 0},
    {"scalar: a plain integer is a number", "v: 5", YV_INT, 5},
    {"scalar: a negative integer", "v: -12", YV_INT, -12},
    {"scalar: YAML 1.1 octal 010 is 8", "v: 010", YV_INT, 8},
    {"scalar: hexadecimal 0x1F is 31", "v: 0x1F", YV_INT, 31},
    {"scalar: binary 0b101 is 5", "v: 0b101", YV_INT, 5},
    {"scalar: underscores group digits", "v: 1_000", YV_INT, 1000},
    {"scalar: a plain float", "v: 2.5", YV_FLOAT, 2.5},
    {"scalar: an exponent makes a float", "v: 1e3", YV_FLOAT, 1000},
    {"scalar: .5 is a float", "v: .5", YV_FLOAT, 0.5},
    {"scalar: .inf is infinity", "v: .inf", YV_FLOAT, INFINITY},
    {"scalar: past int64 is a float", "v: 99999999999999999999", YV_FLOAT, 1e20},
    {"scalar: true is a boolean", "v: true", YV_BOOL, 1},
    {"scalar: YAML 1.1 yes is a boolean", "v: yes", YV_BOOL, 1},
    {"scalar: YAML 1.1 off is a boolean", "v: off", YV_BOOL, 0},
    {"scalar: YAML 1.1 y is a boolean", "v: y", YV_BOOL, 1},
    {"scalar: ~ is null", "v: ~", YV_NULL, 0},
    {"scalar: nothing is null", "v:", YV_NULL, 0},
    {"scalar: Null is null", "v: Null", YV_NULL, 0},
    {"scalar: !!str makes a number a string", "v: !!str 5", YV_STR, 0},
    {"scalar: !!int makes a quoted number a number", "v: !!int '7'", YV_INT, 7},
    {"scalar: !!int on a word is bad", "v: !!int seven", YV_BAD, 0},
    {"scalar: 1.2.3 is a string", "v: 1.2.3", YV_STR, 0},
    {"scalar: 0x is a string", "v: 0x", YV_STR, 0},
    {"scalar: a PromQL query is a string", "v: sum(rate(x[1m]))", YV_STR, 0},
};

static void check_scalar(const struct srow *r)
{
    struct yaml_reader rd;
    assert_int_equal(yaml_reader_init(&rd, r->yaml, strlen(r->yaml)), 0);
    struct ynode *root;
    struct yaml_error err;
    assert_int_equal(yaml_next_document(&rd, &root, &err), 1);
    const struct ynode *v = ymap_get(root, "v");
    assert_non_null(v);
    struct yscalar s;
    yaml_resolve(v, &s);
    assert_int_equal(s.type, r->type);
    if (r->type == YV_INT || r->type == YV_FLOAT)
        assert_true(s.f == r->value);
    if (r->type == YV_BOOL)
        assert_int_equal(s.b, r->value != 0);
    assert_int_equal(ynode_is_null(v), r->type == YV_NULL);
    yaml_reader_release(&rd);
}

/* ---------- prometheus metadata syntaxes ---------- */

struct prow {
    const char *name;
    const char *text;
    int rc;       /* 0 or the negative errno expected */
    double value; /* number, or milliseconds */
};

static const struct prow number_rows[] = {
    {"number: 5 is a JSON number", "5", 0, 5},
    {"number: 2.5", "2.5", 0, 2.5},
    {"number: 1e3", "1e3", 0, 1000},
    {"number: -1 (negative thresholds are KEDA's to refuse or not)", "-1", 0, -1},
    {"number: .5 is not a JSON number", ".5", -EINVAL, 0},
    {"number: +5 is not a JSON number", "+5", -EINVAL, 0},
    {"number: 05 is not a JSON number", "05", -EINVAL, 0},
    {"number: NaN is not a JSON number", "NaN", -EINVAL, 0},
    {"number: 1e999 is out of range", "1e999", -ERANGE, 0},
    {"number: 5. is not a JSON number", "5.", -EINVAL, 0},
};

static void check_number(const struct prow *r)
{
    double v = -42;
    assert_int_equal(prom_json_number(r->text, &v), r->rc);
    if (r->rc == 0)
        assert_true(v == r->value);
}

static const struct prow timeout_rows[] = {
    {"timeout: a bare integer is milliseconds (KEDA v2.18)", "2500", 0, 2500},
    {"timeout: a Go duration", "2s", 0, 2000},
    {"timeout: milliseconds as a duration", "500ms", 0, 500},
    {"timeout: a compound Go duration", "1m30s", 0, 90000},
    {"timeout: a fractional duration", "1.5s", 0, 1500},
    {"timeout: under a millisecond rounds up to 1", "10us", 0, 1},
    {"timeout: 0 means the global default", "0", 0, 0},
    {"timeout: negative is refused", "-1s", -ERANGE, 0},
    {"timeout: negative milliseconds are refused", "-5", -ERANGE, 0},
    {"timeout: a number without a unit and a fraction is refused", "1.5", -EINVAL, 0},
    {"timeout: an unknown unit is refused", "3d", -EINVAL, 0},
    {"timeout: more than a day is refused", "25h", -E2BIG, 0},
};

static void check_timeout(const struct prow *r)
{
    int64_t ms = -42;
    assert_int_equal(prom_timeout_ms(r->text, &ms), r->rc);
    if (r->rc == 0)
        assert_int_equal(ms, (int64_t)r->value);
}

static const struct prow bool_rows[] = {
    {"bool: true", "true", 1, 0},
    {"bool: True", "True", 1, 0},
    {"bool: 1", "1", 1, 0},
    {"bool: f", "f", 0, 0},
    {"bool: FALSE", "FALSE", 0, 0},
    {"bool: yes is not Go's", "yes", -1, 0},
    {"bool: tRue is not Go's", "tRue", -1, 0},
};

static void check_bool(const struct prow *r)
{
    assert_int_equal(prom_go_bool(r->text), r->rc);
}

static const struct prow mode_rows[] = {
    {"authModes: bearer", "bearer", 0, CFG_AUTH_BEARER},
    {"authModes: basic and custom together", "basic, custom", 0, CFG_AUTH_BASIC | CFG_AUTH_CUSTOM},
    {"authModes: empty items are skipped", "bearer,", 0, CFG_AUTH_BEARER},
    {"authModes: names are case-sensitive", "Bearer", -EINVAL, 0},
    {"authModes: bearer with oauth is refused", "bearer,oauth", -EINVAL, 0},
    {"authModes: tls is refused", "tls", -EINVAL, 0},
};

static void check_mode(const struct prow *r)
{
    unsigned m = 0;
    char err[256];
    assert_int_equal(prom_auth_modes(r->text, &m, err, sizeof(err)), r->rc);
    if (r->rc == 0)
        assert_int_equal(m, (unsigned)r->value);
}

/* ---------- hostile YAML ---------- */

struct hrow {
    const char *name;
    char *(*make)(size_t *len); /* the input, malloc'd */
    const char *want;           /* an issue line */
};

static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    *len = hl + ul * n + tl;
    return s;
}

/* Nine aliases of nine aliases... 9^12 "lol"s if they were copied. */
static char *billion_laughs(size_t *len)
{
    struct buf b = BUF_INIT(1 << 16);
    buf_append_str(&b, "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n"
                       "  name: so\n  annotations: &a0 {a: lol}\nspec:\n"
                       "  scaleTargetRef: {name: app}\n  advanced:\n");
    for (int i = 1; i <= 12; i++) {
        buf_appendf(&b, "    x%d: &a%d [", i, i);
        for (int j = 0; j < 9; j++)
            buf_appendf(&b, "%s*a%d", j ? ", " : "", i - 1);
        buf_append_str(&b, "]\n");
    }
    buf_append_str(&b, "  triggers: *a12\n");
    *len = b.len;
    return b.data;
}

static char *deep_block(size_t *len)
{
    struct buf b = BUF_INIT(1 << 16);
    for (int i = 0; i < 40; i++)
        buf_appendf(&b, "%*sk%d:\n", 2 * i, "", i);
    buf_appendf(&b, "%*sv: 1\n", 80, "");
    *len = b.len;
    return b.data;
}

static char *deep_flow(size_t *len)
{
    return repeat("a: ", "[", 3u << 20, "\n", len);
}

static char *huge_scalar(size_t *len)
{
    return repeat("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: \"", "x",
                  70000, "\"\n", len);
}

static char *too_big(size_t *len)
{
    return repeat("a: \"", "x", CONFIG_FILE_MAX, "\"\n", len);
}

static char *many_documents(size_t *len)
{
    return repeat("", "---\n~\n", CONFIG_DOCS_MAX + 1, "", len);
}

static char *wide_list(size_t *len)
{
    return repeat("a: [", "1, ", YAML_ENTRIES_MAX + 1, "1]\n", len);
}

static char *many_nodes(size_t *len)
{
    struct buf b = BUF_INIT(1 << 20);
    for (int i = 0; i < 20; i++) {
        buf_appendf(&b, "k%d: [", i);
        for (int j = 0; j < 4000; j++)
            buf_append_str(&b, "1,");
        buf_append_str(&b, "1]\n");
    }
    *len = b.len;
    return b.data;
}

static char *many_anchors(size_t *len)
{
    struct buf b = BUF_INIT(1 << 20);
    for (int i = 0; i <= YAML_ANCHORS_MAX; i++)
        buf_appendf(&b, "k%d: &a%d 1\n", i, i);
    *len = b.len;
    return b.data;
}

static char *nul_byte(size_t *len)
{
    char *s = malloc(16);
    assert_non_null(s);
    memcpy(s, "a: 1\nb: \0x\n", 12);
    *len = 11;
    return s;
}

static char *bad_utf8(size_t *len)
{
    char *s = strdup("a: \xff\xfe\n");
    assert_non_null(s);
    *len = strlen(s);
    return s;
}

static const struct hrow hostile_rows[] = {
    {"hostile: a billion laughs costs nothing (aliases are shared, not copied)", billion_laughs,
     "h.yaml:19:10: spec.triggers[8]: must be a mapping with type and metadata, got a list"},
    {"hostile: block nesting past 32 levels stops the parse", deep_block,
     "h.yaml:33:65: mappings and lists are nested more than 32 deep"},
    {"hostile: 3 MiB of [ fail before libfyaml buffers them", deep_flow,
     "h.yaml:1:68: lists and mappings in [] or {} are nested more than 64 deep"},
    {"hostile: a scalar past 64 KiB is refused", huge_scalar,
     "h.yaml:4:9: a value is 70000 bytes long; at most 65536 are allowed"},
    {"hostile: a file past 4 MiB is refused unread", too_big,
     "h.yaml: the file is 4194310 bytes long; at most 4194304 are read"},
    {"hostile: more than 4096 documents are refused", many_documents,
     "h.yaml:8194:1: the file has more than 4096 documents"},
    {"hostile: a list of more than 4096 items is refused", wide_list,
     "h.yaml:1:4: a list has more than 4096 entries"},
    {"hostile: a document of more than 65536 nodes is refused", many_nodes,
     "h.yaml:17:2977: the document has more than 65536 nodes"},
    {"hostile: more than 256 anchors are refused", many_anchors,
     "h.yaml:257:7: the document has more than 256 anchors"},
    {"hostile: a NUL byte is refused", nul_byte,
     "h.yaml:2:4: the file holds a NUL byte: YAML is text"},
    {"hostile: invalid UTF-8 is refused", bad_utf8,
     "h.yaml:1:4: the file is not valid UTF-8 (byte 0xff)"},
};

static void check_hostile(const struct hrow *r)
{
    size_t len;
    char *text = r->make(&len);
    struct config c;
    config_init(&c);
    assert_int_equal(config_load_buffer(&c, "h.yaml", text, len), -EINVAL);
    assert_true(config_errors(&c) > 0);
    if (r->want)
        assert_issue(&c, r->want);
    config_release(&c);
    free(text);
}

int main(void)
{
    int rc = 0;
    rc |= RUN_ROWS("config syntax: YAML scalars", scalar_rows, check_scalar);
    rc |= RUN_ROWS("config syntax: JSON numbers", number_rows, check_number);
    rc |= RUN_ROWS("config syntax: timeouts", timeout_rows, check_timeout);
    rc |= RUN_ROWS("config syntax: Go booleans", bool_rows, check_bool);
    rc |= RUN_ROWS("config syntax: authModes", mode_rows, check_mode);
    rc |= RUN_ROWS("config syntax: hostile YAML", hostile_rows, check_hostile);
    return rc;
}
