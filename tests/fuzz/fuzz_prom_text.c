/* fuzz target prom_text: textparse, the Prometheus text-format parser the
 * scraper reads every target's /metrics body with. Input: byte 0 picks the
 * limits (bit 0: tiny ones, so that every limit is reached), the rest is
 * the body (exact size, not NUL-terminated).
 *
 * Checked for every sample: labels sorted by name and unique, __name__ once
 * with a valid metric name, valid label names, UTF-8 values within the
 * limits, no staleness marker among the values; and a round trip: the
 * sample written back in the exposition format (expo.h) parses to the same
 * labels, value and timestamp. An error is sticky and says its line. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/buf.h"
#include "fuzz.h"
#include "prom/expo.h"
#include "prom/textparse.h"

static bool same_value(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static void check_sample(const struct textparse_sample *s, const struct textparse_limits *lim)
{
    size_t names = 0;
    FUZZ_CHECK(s->n >= 1 && s->n <= lim->max_labels);
    FUZZ_CHECK(s->line >= 1);
    FUZZ_CHECK(!prom_is_stale_nan(s->v));
    FUZZ_CHECK(!s->has_t || s->t_ms >= 0);
    for (size_t i = 0; i < s->n; i++) {
        const struct prom_label *l = &s->labels[i];
        if (i > 0)
            FUZZ_CHECK(strcmp(s->labels[i - 1].name, l->name) < 0);
        FUZZ_CHECK(l->value[0] != '\0'); /* an empty value is no label */
        FUZZ_CHECK(strlen(l->value) <= lim->max_value_len);
        FUZZ_CHECK(textparse_utf8_ok(l->value, strlen(l->value)));
        if (!strcmp(l->name, "__name__")) {
            names++;
            FUZZ_CHECK(textparse_metric_name_ok(l->value));
            FUZZ_CHECK(strlen(l->value) <= lim->max_name_len);
        } else {
            FUZZ_CHECK(textparse_label_name_ok(l->name));
            FUZZ_CHECK(strlen(l->name) <= lim->max_name_len);
        }
    }
    FUZZ_CHECK(names == 1);
}

/* Writes s back as one exposition line and parses it again. */
static void round_trip(const struct textparse_sample *s)
{
    struct buf line = BUF_INIT(1 << 22);
    const char *name = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->labels[i].name, "__name__"))
            name = s->labels[i].value;
    int err = buf_appendf(&line, "%s{", name);
    for (size_t i = 0; i < s->n && !err; i++) {
        if (!strcmp(s->labels[i].name, "__name__"))
            continue;
        err = buf_appendf(&line, "%s=\"", s->labels[i].name);
        if (!err)
            err = prom_escape_label(&line, s->labels[i].value);
        if (!err)
            err = buf_append_str(&line, "\",");
    }
    char v[40];
    prom_format_value(s->v, v, sizeof(v));
    if (!err)
        err = buf_appendf(&line, "} %s", v);
    if (!err && s->has_t)
        err = buf_appendf(&line, " %lld", (long long)s->t_ms);
    FUZZ_CHECK(err == 0);

    /* Escaping can lengthen a line past the first parse's limit: the
     * second parse gets room for it. */
    struct textparse_limits big = {.max_line = line.len + 1,
                                   .max_labels = s->n,
                                   .max_name_len = line.len + 1,
                                   .max_value_len = line.len + 1};
    struct textparse p;
    struct textparse_sample t;
    FUZZ_CHECK(textparse_init(&p, line.data, line.len, &big) == 0);
    int rc = textparse_next(&p, &t);
    if (rc != 1)
        fprintf(stderr, "round trip of \"%s\": %s\n", line.data, textparse_error(&p));
    FUZZ_CHECK(rc == 1);
    FUZZ_CHECK(t.n == s->n);
    for (size_t i = 0; i < s->n; i++) {
        FUZZ_CHECK(!strcmp(t.labels[i].name, s->labels[i].name));
        FUZZ_CHECK(!strcmp(t.labels[i].value, s->labels[i].value));
    }
    FUZZ_CHECK(same_value(t.v, s->v));
    FUZZ_CHECK(t.has_t == s->has_t && (!t.has_t || t.t_ms == s->t_ms));
    FUZZ_CHECK(textparse_next(&p, &t) == 0);
    textparse_release(&p);
    buf_release(&line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct textparse_limits lim = {0};
    if (data[0] & 1)
        lim = (struct textparse_limits){.max_line = 64,
                                        .max_labels = 4,
                                        .max_name_len = 16,
                                        .max_value_len = 16,
                                        .max_samples = 8};
    struct textparse p;
    FUZZ_CHECK(textparse_init(&p, (const char *)data + 1, size - 1, &lim) == 0);
    struct textparse_sample s;
    size_t n = 0;
    unsigned last_line = 0;
    int rc;
    while ((rc = textparse_next(&p, &s)) == 1) {
        check_sample(&s, &p.lim);
        FUZZ_CHECK(s.line > last_line);
        last_line = s.line;
        round_trip(&s);
        n++;
    }
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ERANGE);
    FUZZ_CHECK(!lim.max_samples || n <= lim.max_samples);
    if (rc < 0) {
        FUZZ_CHECK(!strncmp(textparse_error(&p), "line ", 5));
        FUZZ_CHECK(textparse_next(&p, &s) == rc);
    } else {
        FUZZ_CHECK(textparse_error(&p)[0] == '\0');
        FUZZ_CHECK(textparse_next(&p, &s) == 0);
    }
    textparse_release(&p);
    return 0;
}
