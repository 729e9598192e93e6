/* expo: the Prometheus text exposition format (version 0.0.4), written by hand.
 *
 * Values are formatted as Python's prometheus_client does (repr of a float:
 * "3.0", "0.25", "+Inf", "NaN"), and label pairs are written in the order the
 * caller gives, which must be sorted by name to match it byte for byte. */
#ifndef EBB_PROM_EXPO_H
#define EBB_PROM_EXPO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Formats v into out (at least 32 bytes) the way Python's repr does. */
void prom_format_value(double v, char *out, size_t n);

/* "# HELP name help\n# TYPE name type\n". */
int prom_family(struct buf *b, const char *name, const char *type, const char *help);
/* "name{labels} value\n"; labels is NULL or pre-formatted 'k="v",k2="v2"'. */
int prom_sample(struct buf *b, const char *name, const char *labels, double value);
/* Appends v with backslash, double quote and newline escaped, for a label value. */
int prom_escape_label(struct buf *b, const char *v);

/* A histogram with fixed upper bounds (ascending, +Inf implied). */
struct prom_histogram {
    const double *bounds;
    size_t nbounds;
    uint64_t *counts; /* nbounds + 1 cells, not cumulative; the last is +Inf */
    uint64_t count;
    double sum;
};

/* counts must hold nbounds + 1 zeroed cells; owned by the caller. */
void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds,
                         uint64_t *counts);
void prom_histogram_observe(struct prom_histogram *h, double v);
/* Writes name_bucket (cumulative, "le" between the labels before and after
 * it so the pairs stay sorted), name_count and name_sum. */
int prom_histogram_write(struct buf *b, const char *name, const char *labels_before_le,
                         const char *labels_after_le, const struct prom_histogram *h);

#endif
