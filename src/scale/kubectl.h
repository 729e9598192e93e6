/* kubectl: `kubectl get hpa` as kubectl prints the HPA KEDA creates
 * (reference/keda-hpa-spec.md §6): NAME REFERENCE TARGETS MINPODS MAXPODS
 * REPLICAS AGE, TARGETS in canonical Quantity form ("2500m/5 (avg)",
 * "<unknown>/5 (avg)"), AGE as apimachinery's HumanDuration, columns laid out
 * as kubectl's tabwriter does (cells padded by 3, at least 10 wide). Pure
 * string functions writing into the caller's buffers; each returns the
 * length written, or -ENOSPC when the buffer is too small. */
#ifndef EBB_SCALE_KUBECTL_H
#define EBB_SCALE_KUBECTL_H

#include <stdbool.h>
#include <stddef.h>

#include "scale/hpa.h"

#define KUBECTL_TARGETS_MAX 192

struct kubectl_hpa_row {
    char name[SO_NAME_MAX + 16];
    char reference[SO_KIND_MAX + SO_REF_MAX + 2];
    char targets[KUBECTL_TARGETS_MAX];
    char minpods[16];
    char maxpods[16];
    char replicas[16];
    char age[24];
};

/* apimachinery's duration.HumanDuration of a duration in seconds: "45s",
 * "2m48s", "15m", "3h20m", "5d", "2y30d"; "0s" just below zero and
 * "<invalid>" from two seconds below. */
int kubectl_human_duration(double seconds, char *out, size_t cap);

/* The TARGETS column: each metric "<current>/<target> (avg)" (AverageValue)
 * or "<current>/<target>" (Value), current "<unknown>" when the status has
 * none, joined by ", "; past two metrics " + N more..."; "<none>" without
 * metrics. */
int kubectl_hpa_targets(const struct hpa_spec *h, const struct hpa_status *st, char *out,
                        size_t cap);

/* Fills one row. created and now are seconds on the same clock; created <= 0
 * means no creation time ("<unknown>" AGE). 0 or -ENOSPC. */
int kubectl_hpa_row(const struct hpa_spec *h, const struct hpa_status *st, double created,
                    double now, struct kubectl_hpa_row *row);

/* Lays rows out as `kubectl get hpa` does, with the header line first when
 * header is true; every line ends in '\n'. */
int kubectl_hpa_table(const struct kubectl_hpa_row *rows, size_t n, bool header, char *out,
                      size_t cap);

#endif
