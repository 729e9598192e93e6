/* kubectl: `kubectl get hpa` rows and layout. See kubectl.h; the rules come
 * from kubernetes/kubernetes pkg/printers/internalversion/printers.go
 * (formatHPAMetrics, printHorizontalPodAutoscaler), apimachinery's
 * duration.HumanDuration and text/tabwriter as kubectl configures it. */
#include "scale/kubectl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scale/quantity.h"

/* Appends printf output at *len, keeping out NUL-terminated. */
static int put(char *out, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return -ENOSPC;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return -ENOSPC;
    *len += (size_t)n;
    return 0;
}

int kubectl_human_duration(double seconds, char *out, size_t cap)
{
    size_t len = 0;
    if (cap)
        out[0] = '\0';
    /* int(d.Seconds()) truncates toward zero: -1.9 s is still "0s". */
    if (!(seconds > -2.0))
        return put(out, cap, &len, "<invalid>") < 0 ? -ENOSPC : (int)len;
    int64_t s = seconds > 9.2e18 ? INT64_MAX : (int64_t)seconds;
    int rc;
    if (s < 0)
        rc = put(out, cap, &len, "0s");
    else if (s < 120)
        rc = put(out, cap, &len, "%llds", (long long)s);
    else if (s / 60 < 10)
        rc = s % 60 ? put(out, cap, &len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60))
                    : put(out, cap, &len, "%lldm", (long long)(s / 60));
    else if (s / 60 < 180)
        rc = put(out, cap, &len, "%lldm", (long long)(s / 60));
    else if (s / 3600 < 8)
        rc = (s / 60) % 60 ? put(out, cap, &len, "%lldh%lldm", (long long)(s / 3600),
                                 (long long)((s / 60) % 60))
                           : put(out, cap, &len, "%lldh", (long long)(s / 3600));
    else if (s / 3600 < 48)
        rc = put(out, cap, &len, "%lldh", (long long)(s / 3600));
    else if (s / 3600 < 24 * 8)
        rc = (s / 3600) % 24 ? put(out, cap, &len, "%lldd%lldh", (long long)(s / 86400),
                                   (long long)((s / 3600) % 24))
                             : put(out, cap, &len, "%lldd", (long long)(s / 86400));
    else if (s / 3600 < 24 * 365 * 2)
        rc = put(out, cap, &len, "%lldd", (long long)(s / 86400));
    else if (s / 3600 < 24 * 365 * 8)
        rc = (s / 86400) % 365 ? put(out, cap, &len, "%lldy%lldd", (long long)(s / 86400 / 365),
                                     (long long)((s / 86400) % 365))
                               : put(out, cap, &len, "%lldy", (long long)(s / 86400 / 365));
    else
        rc = put(out, cap, &len, "%lldy", (long long)(s / 86400 / 365));
    return rc < 0 ? -ENOSPC : (int)len;
}

static int put_metric(const struct hpa_metric_spec *m, const struct hpa_metric_status *ms,
                      char *out, size_t cap, size_t *len)
{
    char current[32], target[32];
    if (ms && ms->known) {
        if (quantity_format(ms->current_milli, current, sizeof(current)) < 0)
            return -ENOSPC;
    } else {
        memcpy(current, "<unknown>", sizeof("<unknown>"));
    }
    if (quantity_format(m->target_milli, target, sizeof(target)) < 0)
        return -ENOSPC;
    return put(out, cap, len, "%s/%s%s", current, target,
               m->type == SO_AVERAGE_VALUE ? " (avg)" : "");
}

int kubectl_hpa_targets(const struct hpa_spec *h, const struct hpa_status *st, char *out,
                        size_t cap)
{
    size_t len = 0, shown = h->n_metrics > 2 ? 2 : h->n_metrics;
    if (cap)
        out[0] = '\0';
    if (h->n_metrics == 0)
        return put(out, cap, &len, "<none>") < 0 ? -ENOSPC : (int)len;
    for (size_t i = 0; i < shown; i++) {
        const struct hpa_metric_status *ms = st && st->has_metrics ? &st->metrics[i] : NULL;
        if ((i > 0 && put(out, cap, &len, ", ") < 0) ||
            put_metric(&h->metrics[i], ms, out, cap, &len) < 0)
            return -ENOSPC;
    }
    if (h->n_metrics > shown && put(out, cap, &len, " + %zu more...", h->n_metrics - shown) < 0)
        return -ENOSPC;
    return (int)len;
}

/* Formats one whole cell. */
static int cell(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int cell(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

int kubectl_hpa_row(const struct hpa_spec *h, const struct hpa_status *st, double created,
                    double now, struct kubectl_hpa_row *row)
{
    memset(row, 0, sizeof(*row));
    /* MINPODS is never <unset> here: KEDA always sets minReplicas. */
    if (cell(row->name, sizeof(row->name), "%s", h->name) < 0 ||
        cell(row->reference, sizeof(row->reference), "%s/%s", h->ref_kind, h->ref_name) < 0 ||
        cell(row->minpods, sizeof(row->minpods), "%d", h->min_replicas) < 0 ||
        cell(row->maxpods, sizeof(row->maxpods), "%d", h->max_replicas) < 0 ||
        cell(row->replicas, sizeof(row->replicas), "%d", st ? st->current_replicas : 0) < 0 ||
        kubectl_hpa_targets(h, st, row->targets, sizeof(row->targets)) < 0)
        return -ENOSPC;
    if (created <= 0)
        return cell(row->age, sizeof(row->age), "<unknown>");
    return kubectl_human_duration(now - created, row->age, sizeof(row->age)) < 0 ? -ENOSPC : 0;
}

#define COLUMNS 7
#define TAB_MINWIDTH 10
#define TAB_PADDING 3

static const char *cell_of(const struct kubectl_hpa_row *r, int col)
{
    const char *cells[COLUMNS] = {r->name,    r->reference, r->targets, r->minpods,
                                  r->maxpods, r->replicas,  r->age};
    return cells[col];
}

int kubectl_hpa_table(const struct kubectl_hpa_row *rows, size_t n, bool header, char *out,
                      size_t cap)
{
    static const struct kubectl_hpa_row head = {"NAME",    "REFERENCE", "TARGETS", "MINPODS",
                                                "MAXPODS", "REPLICAS",  "AGE"};
    size_t width[COLUMNS], len = 0;
    if (cap)
        out[0] = '\0';
    /* tabwriter: a column is as wide as its widest cell plus the padding,
     * and at least minwidth; the last cell of a line is not padded. */
    for (int c = 0; c < COLUMNS; c++) {
        width[c] = header ? strlen(cell_of(&head, c)) + TAB_PADDING : 0;
        for (size_t i = 0; i < n; i++) {
            size_t w = strlen(cell_of(&rows[i], c)) + TAB_PADDING;
            width[c] = w > width[c] ? w : width[c];
        }
        width[c] = width[c] < TAB_MINWIDTH ? TAB_MINWIDTH : width[c];
    }
    for (size_t i = header ? 0 : 1; i <= n; i++) {
        const struct kubectl_hpa_row *r = i == 0 ? &head : &rows[i - 1];
        for (int c = 0; c < COLUMNS - 1; c++) {
            if (put(out, cap, &len, "%-*s", (int)width[c], cell_of(r, c)) < 0)
                return -ENOSPC;
        }
        if (put(out, cap, &len, "%s\n", cell_of(r, COLUMNS - 1)) < 0)
            return -ENOSPC;
    }
    return (int)len;
}
