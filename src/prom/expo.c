/* expo: Prometheus text exposition. See expo.h. */
#include "prom/expo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_format_value(double v, char *out, size_t n)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        snprintf(out, n, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* The shortest digit string that reads back as v, as repr does. */
    char tmp[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
    int exp10 = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
    if (exp10 < -4 || exp10 >= 16) {
        snprintf(out, n, "%s", tmp); /* C's "1.5e-05" matches repr's form */
        return;
    }
    int decimals = prec - exp10;
    if (decimals < 0)
        decimals = 0;
    snprintf(out, n, "%.*f", decimals, v);
    if (!strchr(out, '.')) {
        size_t len = strlen(out);
        if (len + 2 < n)
            memcpy(out + len, ".0", 3);
    }
}

int prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int prom_sample(struct buf *b, const char *name, const char *labels, double value)
{
    char v[40];
    prom_format_value(value, v, sizeof(v));
    if (labels && *labels)
        return buf_appendf(b, "%s{%s} %s\n", name, labels, v);
    return buf_appendf(b, "%s %s\n", name, v);
}

int prom_escape_label(struct buf *b, const char *v)
{
    int err = 0;
    for (const char *p = v; *p && !err; p++) {
        if (*p == '\\')
            err = buf_append(b, "\\\\", 2);
        else if (*p == '"')
            err = buf_append(b, "\\\"", 2);
        else if (*p == '\n')
            err = buf_append(b, "\\n", 2);
        else
            err = buf_append(b, p, 1);
    }
    return err;
}

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds,
                         uint64_t *counts)
{
    h->bounds = bounds;
    h->nbounds = nbounds;
    h->counts = counts;
    h->count = 0;
    h->sum = 0;
}

void prom_histogram_observe(struct prom_histogram *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

int prom_histogram_write(struct buf *b, const char *name, const char *labels_before_le,
                         const char *labels_after_le, const struct prom_histogram *h)
{
    const char *pre = labels_before_le ? labels_before_le : "";
    const char *post = labels_after_le ? labels_after_le : "";
    const char *sep_pre = *pre ? "," : "";
    const char *sep_post = *post ? "," : "";
    uint64_t cum = 0;
    int err = 0;
    char le[40], v[40];
    for (size_t i = 0; i <= h->nbounds && !err; i++) {
        cum += h->counts[i];
        if (i < h->nbounds)
            prom_format_value(h->bounds[i], le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        prom_format_value((double)cum, v, sizeof(v));
        err = buf_appendf(b, "%s_bucket{%s%sle=\"%s\"%s%s} %s\n", name, pre, sep_pre, le,
                          sep_post, post, v);
    }
    /* _count and _sum carry the same labels without "le". */
    struct buf labels = BUF_INIT(4096);
    if (!err)
        err = buf_appendf(&labels, "%s%s%s", pre, (*pre && *post) ? "," : "", post);
    char suffixed[256];
    if (!err) {
        snprintf(suffixed, sizeof(suffixed), "%s_count", name);
        err = prom_sample(b, suffixed, labels.data, (double)h->count);
    }
    if (!err) {
        snprintf(suffixed, sizeof(suffixed), "%s_sum", name);
        err = prom_sample(b, suffixed, labels.data, h->sum);
    }
    buf_release(&labels);
    return err;
}
