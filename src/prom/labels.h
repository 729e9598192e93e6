/* labels: a series' identity as Prometheus has it — label pairs sorted by
 * name, the metric name among them as "__name__" — shared by the scraper
 * (src/prom/), the store and PromQL (src/promql/). */
#ifndef EBB_PROM_LABELS_H
#define EBB_PROM_LABELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct prom_label {
    const char *name;
    const char *value;
};

/* Prometheus's staleness marker: a NaN with this exact bit pattern
 * (model/value.StaleNaN). A sample with it ends a series at its time. */
#define PROM_STALE_NAN_BITS UINT64_C(0x7ff0000000000002)

static inline double prom_stale_nan(void)
{
    uint64_t bits = PROM_STALE_NAN_BITS;
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static inline int prom_is_stale_nan(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits == PROM_STALE_NAN_BITS;
}

/* Sorts l[0..n) by name, stably (insertion sort: label sets are small and
 * usually sorted already). */
static inline void prom_labels_sort(struct prom_label *l, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct prom_label x = l[i];
        size_t j = i;
        while (j > 0 && strcmp(l[j - 1].name, x.name) > 0) {
            l[j] = l[j - 1];
            j--;
        }
        l[j] = x;
    }
}

#endif
