/* labels: a series' identity as Prometheus has it — label pairs sorted by
 * name, the metric name among them as "__name__" — shared by the scraper
 * (src/prom/), the store and PromQL (src/promql/). */
#ifndef EBB_PROM_LABELS_H
#define EBB_PROM_LABELS_H

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

#endif
